"""Sessions and the index of their stored segments, keyframes and gaps. The events
themselves live in storage (see `replay.segments`)."""

from __future__ import annotations

from django.db import models

from replay.models.projects import Project

MAX_URLS = 200


class Session(models.Model):
    """One browser tab's visit: it survives page loads in that tab.

    `acked_seq` is the highest batch sequence number below which every batch is in
    durable storage (or recorded as a gap); it only grows."""

    id = models.CharField(primary_key=True, max_length=64)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sessions")
    tab = models.CharField(max_length=64, blank=True)
    secret_digest = models.CharField(
        max_length=64,
        blank=True,
        help_text="SHA-256 of the secret its recording tab holds; only that tab may continue "
        "it (blank: started by a recorder older than the secret)",
    )
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
    keyframe_stuck_seq = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="the batch after which the keyframer's mirror can write no keyframe before "
        "the page's next real full snapshot (replay.mirror.stuck)",
    )
    keyframe_stuck = models.CharField(
        max_length=100, blank=True, help_text="why, when the recorder should snapshot"
    )
    tracked_seq = models.BigIntegerField(
        default=-1, help_text="the batches its event-tracking records were computed from"
    )
    tracked_at = models.DateTimeField(null=True, blank=True)
    derived_until = models.DateTimeField(
        null=True, blank=True, help_text="a process computes its keyframes and records until then"
    )
    derived_by = models.CharField(max_length=32, blank=True)
    friction_count = models.IntegerField(default=0)
    friction_score = models.FloatField(default=0.0, db_index=True)
    records_dropped = models.JSONField(
        default=dict,
        blank=True,
        help_text="event-tracking records not kept past the cap of a session, by kind",
    )

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
    offset = models.BigIntegerField(
        null=True, blank=True, help_text="where its bytes start in a shared object (a pack)"
    )
    compacted = models.BooleanField(
        default=False, help_text="a block written by compaction (see replay.compaction)"
    )
    dictionary = models.ForeignKey(
        "Dictionary",
        null=True,
        blank=True,
        on_delete=models.PROTECT,  # kept while a block uses it
        related_name="blocks",
    )
    pieces = models.JSONField(
        null=True,
        blank=True,
        help_text="a block's parts the player loads one by one: "
        "[[seq_start, seq_end, first_ts, last_ts, events, snapshot_ts, body_start, "
        "body_end], ...] (see replay.compaction.pieces)",
    )
    keyframe = models.BooleanField(default=False)
    snapshot_ts = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="when its first real full snapshot starts (the Meta before it); a replay "
        "of a later moment can start there",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "seq_start"]
        indexes = [models.Index(fields=["key"]), models.Index(fields=["compacted", "session"])]
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
    offset = models.BigIntegerField(
        null=True, blank=True, help_text="where its bytes start in a shared object (a pack)"
    )
    size = models.IntegerField()
    compacted = models.BooleanField(
        default=False, help_text="compressed again by compaction (replay.keyframes.recompress)"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "after_seq"]
        indexes = [models.Index(fields=["key"])]
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


class Pack(models.Model):
    """One storage object holding parts of many sessions: a commit round's segments, a
    keyframer pass's keyframes, or a compaction pass's blocks. Segment and keyframe rows
    point into it (`key`, `offset`, `size`). Deleting a session overwrites its parts
    with zeros at once; the object goes when no row points into it any more (see
    `replay.packs`). The row is made before the object is written, so that an object
    whose round failed is found and removed too."""

    class Kind(models.TextChoices):
        ROUND = "round", "a commit round's segments"
        KEYFRAMES = "keyframes", "a keyframer pass's keyframes"
        BLOCKS = "blocks", "a compaction pass's blocks"

    key = models.CharField(max_length=300, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return self.key


class ReplacedPart(models.Model):
    """A part of a pack that compaction replaced with a block: nothing reads it, but it
    holds the session's events until its pack is removed, so deleting the session
    overwrites it with zeros too (`replay.segments.delete_session`)."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=300, db_index=True)
    offset = models.BigIntegerField()
    size = models.IntegerField()

    def __str__(self) -> str:
        return f"{self.key}@{self.offset}+{self.size}"


class Dictionary(models.Model):
    """A zstd dictionary trained on a project's recent sessions (`replay.dictionaries`),
    stored at `key`; compacted blocks name it in their header."""

    project = models.ForeignKey(
        "replay.Project", on_delete=models.CASCADE, related_name="dictionaries"
    )
    version = models.IntegerField()
    key = models.CharField(max_length=300, unique=True)
    size = models.IntegerField()
    samples = models.IntegerField(help_text="batches it was trained on")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="dictionary_version")
        ]

    def __str__(self) -> str:
        return self.key
