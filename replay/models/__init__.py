"""Projects, sessions and the index of their stored segments, and what is derived from
them. The events themselves live in storage (see `replay.segments`); the database holds
what is needed to find, list and authorize them."""

from replay.models.analytics import Action, ErrorGroup, SavedFunnel
from replay.models.projects import (
    ApiToken,
    AuditEntry,
    Project,
    new_project_key,
    normalize_origin,
    token_digest,
)
from replay.models.records import ShareLink, TrackedEvent, TrackingCheckpoint, new_share_token
from replay.models.sessions import (
    MAX_URLS,
    Dictionary,
    Gap,
    Keyframe,
    Pack,
    ReplacedPart,
    Segment,
    Session,
)

__all__ = [
    "MAX_URLS",
    "Action",
    "ApiToken",
    "AuditEntry",
    "Dictionary",
    "ErrorGroup",
    "Gap",
    "Keyframe",
    "Pack",
    "Project",
    "ReplacedPart",
    "SavedFunnel",
    "Segment",
    "Session",
    "ShareLink",
    "TrackedEvent",
    "TrackingCheckpoint",
    "new_project_key",
    "new_share_token",
    "normalize_origin",
    "token_digest",
]
