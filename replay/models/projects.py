"""Projects: a site that records into this server, with its people and privacy options;
API tokens; and the audit log of what was done with its sessions."""

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

from replay.credentials import CREDENTIAL_FIELDS
from replay.friction import thresholds_problem
from replay.privacy import (
    MAX_SELECTOR_CHARS,
    RecordingConfig,
    allowed_headers,
    headers_problem,
    selector_problem,
    url_patterns_problem,
)


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


# An Origin header as browsers send it: a scheme, a host, perhaps a port, and nothing
# more. Anything else (a user name, a backslash, a path) is refused rather than parsed:
# "https://evil.com\\@shop.example" names shop.example to a URL parser and evil.com to a
# browser.
_ORIGIN_HEADER = re.compile(
    r"(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?", re.IGNORECASE
)


def origin_header(value: str) -> str | None:
    """The normalized origin an ``Origin`` header names, or None if it is not exactly
    ``scheme://host[:port]``."""
    if not _ORIGIN_HEADER.fullmatch(value):
        return None
    return normalize_origin(value)


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
    capture_console = models.BooleanField(
        default=True,
        help_text="Record the page's console (log, info, warn, error, debug, assert and "
        "uncaught errors), at most 100 messages a minute per tab.",
    )
    capture_network = models.BooleanField(
        default=True,
        help_text="Record the page's requests (fetch, XHR and resources): method, URL with its "
        "query values scrubbed, status, duration, sizes, failure.",
    )
    capture_network_bodies = models.BooleanField(
        default=False,
        help_text="Also record request and response bodies of JSON and text types, "
        "at most 10 KB each (scrubbed on the server like everything else).",
    )
    network_headers = models.JSONField(
        default=list,
        blank=True,
        help_text='Request and response headers to record, e.g. ["content-type", "x-request-id"]. '
        "Authorization, Cookie, Set-Cookie and Proxy-Authorization never are.",
    )
    slow_request_ms = models.PositiveIntegerField(
        default=3000,
        help_text="A request that takes longer than this is recorded as slow (a network record).",
    )
    friction_thresholds = models.JSONField(
        default=dict,
        blank=True,
        help_text="Overrides of the friction detectors' thresholds, by detector, e.g. "
        '{"rage_click": {"clicks": 4}} (README, "Friction").',
    )
    viewers_share_publicly = models.BooleanField(
        default=False,
        help_text="Viewers may make public share links (anyone holding one watches without "
        "logging in); admins always may.",
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
        problem = headers_problem(self.network_headers)
        if problem:
            raise ValidationError({"network_headers": problem})
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
            "capture_console": self.capture_console,
            "capture_network": self.capture_network,
            "capture_network_bodies": self.capture_network_bodies,
            "network_headers": allowed_headers(self.network_headers),
            "credential_fields": dict(CREDENTIAL_FIELDS),
        }

    def allows_origin(self, origin: str | None) -> bool:
        """Exact origins, ``scheme://*.domain`` for any subdomain, or ``*`` for any."""
        if "*" in self.allowed_origins:
            return True
        wanted = origin_header(origin or "")
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
