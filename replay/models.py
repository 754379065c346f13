"""Projects, sessions and the index of their stored segments.

The events themselves live in storage (see `replay.segments`); the database holds what
is needed to find, list and authorize them.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from replay.friction import thresholds_problem
from replay.privacy import (
    MAX_SELECTOR_CHARS,
    RecordingConfig,
    selector_problem,
    url_patterns_problem,
)

MAX_URLS = 200


def new_project_key() -> str:
    return "pk_" + secrets.token_urlsafe(18)


def normalize_origin(origin: str) -> str | None:
    """``scheme://host[:port]`` in lower case with default ports dropped, or None."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


class Project(models.Model):
    """A site that records into this server. Its public key goes into the embed
    snippet; only pages served from one of `allowed_origins` may use it."""

    name = models.CharField(max_length=100, unique=True)
    key = models.CharField(max_length=64, unique=True, default=new_project_key)
    enabled = models.BooleanField(default=True)
    allowed_origins = models.JSONField(
        default=list,
        blank=True,
        help_text='Origins such as "https://shop.example" or "https://*.example.com".',
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="replay_projects",
        help_text="Who sees its sessions (viewers).",
    )
    admins = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="replay_admin_projects",
        help_text="Who may also delete its sessions and read its audit log (they see it too).",
    )
    scrub = models.BooleanField(
        default=True,
        help_text="Replace emails, card numbers, phone numbers, national ids and tokens "
        "in recordings before they are stored.",
    )
    scrub_patterns = models.JSONField(
        default=list,
        blank=True,
        help_text='More regular expressions to replace, e.g. ["ORD-\\d{6}"].',
    )
    mask_all_inputs = models.BooleanField(
        default=True,
        help_text="Mask what people type in every field. Passwords, card-number and hidden "
        "fields are masked whatever this says.",
    )
    mask_all_text = models.BooleanField(
        default=False, help_text="Mask all text on recorded pages (each letter becomes *)."
    )
    block_selector = models.CharField(
        max_length=MAX_SELECTOR_CHARS,
        blank=True,
        help_text="CSS selector of elements recorded as an empty box of their size "
        "(besides [data-replay-block]).",
    )
    mask_selector = models.CharField(
        max_length=MAX_SELECTOR_CHARS,
        blank=True,
        help_text="CSS selector of elements whose text is masked (besides [data-replay-mask]).",
    )
    ignore_selector = models.CharField(
        max_length=MAX_SELECTOR_CHARS,
        blank=True,
        help_text="CSS selector of fields whose input is not recorded at all "
        "(besides [data-replay-ignore]).",
    )
    excluded_urls = models.JSONField(
        default=list,
        blank=True,
        help_text='Pages where nothing is recorded: "/account/*" matches the path and query, '
        '"https://shop.example/admin*" the whole URL; * matches anything.',
    )
    require_consent = models.BooleanField(
        default=False, help_text="Record nothing until the page calls replay.consent(true)."
    )
    sample_rate = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of new sessions recorded, from 0 to 1 (drawn once per session).",
    )
    respect_dnt = models.BooleanField(
        default=False,
        help_text="Record nothing for browsers that send Do Not Track or Global Privacy Control.",
    )
    friction_thresholds = models.JSONField(
        default=dict,
        blank=True,
        help_text="Overrides of the friction detectors' thresholds, by detector, e.g. "
        '{"rage_click": {"clicks": 4}} (README, "Friction").',
    )
    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Days a session is kept after it last recorded; empty: REPLAY_RETENTION_DAYS.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        for pattern in self.scrub_patterns or []:
            try:
                re.compile(pattern)
            except (re.error, TypeError) as exc:
                raise ValidationError({"scrub_patterns": f"{pattern!r}: {exc}"}) from exc
        for field in ("block_selector", "mask_selector", "ignore_selector"):
            problem = selector_problem(getattr(self, field))
            if problem:
                raise ValidationError({field: problem})
        problem = url_patterns_problem(self.excluded_urls)
        if problem:
            raise ValidationError({"excluded_urls": problem})
        problem = thresholds_problem(self.friction_thresholds)
        if problem:
            raise ValidationError({"friction_thresholds": problem})

    def recording_config(self) -> RecordingConfig:
        """The privacy options its recorders follow (`replay.privacy`)."""
        return {
            "mask_all_inputs": self.mask_all_inputs,
            "mask_all_text": self.mask_all_text,
            "block_selector": self.block_selector,
            "mask_selector": self.mask_selector,
            "ignore_selector": self.ignore_selector,
            "excluded_urls": list(self.excluded_urls or []),
            "require_consent": self.require_consent,
            "sample_rate": self.sample_rate,
            "respect_dnt": self.respect_dnt,
        }

    def allows_origin(self, origin: str | None) -> bool:
        """Exact origins, ``scheme://*.domain`` for any subdomain, or ``*`` for any."""
        if "*" in self.allowed_origins:
            return True
        wanted = normalize_origin(origin or "")
        if wanted is None:
            return False
        for allowed in self.allowed_origins:
            if "://*." in allowed:
                scheme, _, domain = allowed.partition("://*.")
                parts = urlsplit(wanted)
                host = parts.hostname or ""
                if parts.scheme == scheme and host.endswith("." + domain.lower()):
                    return True
            elif normalize_origin(allowed) == wanted:
                return True
        return False


class Session(models.Model):
    """One browser tab's visit: it survives page loads in that tab.

    `acked_seq` is the highest batch sequence number below which every batch is in
    durable storage (or recorded as a gap); it only grows."""

    id = models.CharField(primary_key=True, max_length=64)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sessions")
    tab = models.CharField(max_length=64, blank=True)
    user_id = models.CharField(max_length=200, blank=True, db_index=True)
    user_agent = models.TextField(blank=True)
    viewport_width = models.PositiveIntegerField(null=True, blank=True)
    viewport_height = models.PositiveIntegerField(null=True, blank=True)
    urls = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)  # retention, keyframer
    first_event_ms = models.BigIntegerField(null=True, blank=True)
    last_event_ms = models.BigIntegerField(null=True, blank=True)
    acked_seq = models.BigIntegerField(default=-1)
    event_count = models.BigIntegerField(default=0)
    received_bytes = models.BigIntegerField(default=0, help_text="msgpack bytes of the events")
    stored_bytes = models.BigIntegerField(default=0, help_text="bytes of the segment objects")
    segment_count = models.IntegerField(default=0)
    missing_batches = models.BigIntegerField(
        default=0, help_text="batches recorded as gaps (dropped, never sent, refused)"
    )
    gap_open = models.BooleanField(default=False, help_text="a gap waits for its end time")
    cut_reason = models.CharField(
        max_length=200, blank=True, help_text="why the server stopped storing this session"
    )
    ended = models.BooleanField(default=False, help_text="the recorder ended it on purpose")
    keyframe_ms = models.BigIntegerField(
        null=True, blank=True, help_text="time of the last keyframe (or of the first event)"
    )
    tracked_seq = models.BigIntegerField(
        default=-1, help_text="the batches its event-tracking records were computed from"
    )
    tracked_at = models.DateTimeField(null=True, blank=True)
    friction_count = models.IntegerField(default=0)
    friction_score = models.FloatField(default=0.0, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["project", "-created_at"])]

    def __str__(self) -> str:
        return self.id

    @property
    def duration_ms(self) -> int:
        if self.first_event_ms is None or self.last_event_ms is None:
            return 0
        return self.last_event_ms - self.first_event_ms

    @property
    def completeness(self) -> float:
        """The share of the session's batches that are stored, from 0 to 1."""
        total = self.acked_seq + 1
        return 1.0 if total <= 0 else max(0.0, (total - self.missing_batches) / total)

    @property
    def first_url(self) -> str:
        return self.urls[0] if self.urls else ""

    def add_url(self, url: str) -> None:
        if url and (not self.urls or self.urls[-1] != url) and len(self.urls) < MAX_URLS:
            self.urls = [*self.urls, url]


class TrackedEvent(models.Model):
    """An event-tracking record (`replay.tracking`) or a friction moment
    (`replay.friction`) of a session, computed from its stored events."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="tracked")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tracked")
    tab = models.CharField(max_length=64, blank=True)
    ts = models.BigIntegerField(help_text="epoch milliseconds")
    kind = models.CharField(max_length=16)
    name = models.CharField(
        max_length=200, blank=True, help_text="the friction type, custom event name or error"
    )
    url = models.TextField(blank=True)
    selector = models.CharField(max_length=1000, blank=True)
    text = models.CharField(max_length=200, blank=True)
    detector = models.CharField(max_length=64, blank=True, help_text="name@version")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["session", "ts", "id"]
        indexes = [
            models.Index(fields=["project", "kind", "ts"]),
            models.Index(fields=["project", "kind", "name"]),
            models.Index(fields=["session", "ts"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name or self.selector} at {self.ts}"


def new_share_token() -> str:
    return secrets.token_urlsafe(24)


class ShareLink(models.Model):
    """A link that opens a time window of a session without logging in, until it
    expires or is revoked (`replay.sharing`)."""

    token = models.CharField(max_length=64, unique=True, default=new_share_token)
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="shares")
    start_ms = models.BigIntegerField(help_text="the window's start, epoch milliseconds")
    end_ms = models.BigIntegerField(help_text="the window's end, epoch milliseconds")
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"share of {self.session_id}"


class Segment(models.Model):
    """One stored object holding the batches `seq_start`..`seq_end` of a session."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="segments")
    seq_start = models.BigIntegerField()
    seq_end = models.BigIntegerField()
    first_ts = models.BigIntegerField(null=True)
    last_ts = models.BigIntegerField(null=True)
    event_count = models.IntegerField()
    received_bytes = models.IntegerField()
    size = models.IntegerField(help_text="stored bytes")
    key = models.CharField(max_length=300)
    keyframe = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "seq_start"]
        constraints = [
            models.UniqueConstraint(fields=["session", "seq_start"], name="segment_seq_unique")
        ]

    def __str__(self) -> str:
        return self.key


class Keyframe(models.Model):
    """A synthesized full snapshot of the page after batch `after_seq`: opening the
    session at `timestamp` or later needs this object and the segments after it."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="keyframes")
    after_seq = models.BigIntegerField()
    timestamp = models.BigIntegerField()
    key = models.CharField(max_length=300)
    size = models.IntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "after_seq"]
        constraints = [
            models.UniqueConstraint(fields=["session", "after_seq"], name="keyframe_seq_unique")
        ]

    def __str__(self) -> str:
        return self.key


class Gap(models.Model):
    """Batches that will never arrive, and why."""

    class Reason(models.TextChoices):
        CLIENT_DROPPED = "client-dropped", "dropped by the recorder"
        SEQUENCE_HOLE = "sequence-hole", "missing from the stream"
        SESSION_LIMIT = "session-limit", "cut by the session size limit"

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="gaps")
    seq_start = models.BigIntegerField()
    seq_end = models.BigIntegerField()
    start_ms = models.BigIntegerField(null=True, help_text="last event before the gap")
    end_ms = models.BigIntegerField(null=True, help_text="first event after it; open if null")
    reason = models.CharField(max_length=32, choices=Reason.choices)
    detail = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "seq_start"]

    def __str__(self) -> str:
        return f"{self.session_id} {self.seq_start}-{self.seq_end} {self.reason}"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the JSON API. Only its SHA-256 is kept; the token itself is
    shown once, when it is created."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="replay_tokens"
    )
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @classmethod
    def issue(cls, user: Any) -> tuple[ApiToken, str]:
        token = "rt_" + secrets.token_urlsafe(32)
        return cls.objects.create(user=user, digest=token_digest(token), prefix=token[:8]), token


class AuditEntry(models.Model):
    """Who looked at, shared, exported, redacted or deleted a session, and when. Entries outlive
    the sessions they name (the session is kept by id, the user by name too)."""

    class Action(models.TextChoices):
        VIEW = "view", "viewed"
        SHARE = "share", "shared a link to"
        EXPORT = "export", "exported"
        DELETE = "delete", "deleted"
        REDACT = "redact", "redacted"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="audit")
    session_id = models.CharField(max_length=64, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.username} {self.get_action_display()} {self.session_id}"
