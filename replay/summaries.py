"""How sessions and their gaps are described to the API and the player."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from replay.models import Gap, Session


def iso_ms(ms: int | None) -> str | None:
    """The moment as ISO 8601, or None when there is none or no calendar can show it
    (ingest refuses such timestamps now; sessions stored before it did may hold them)."""
    if ms is None:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
    except (ValueError, OverflowError, OSError):
        return None


def gap_summary(gap: Gap, session: Session) -> dict[str, Any]:
    """A gap with its times as offsets (ms) from the session's first event, as the
    player's timeline counts them; `end_offset_ms` is null while the gap is open (a
    session cut by its limit stays open to the end)."""
    origin = session.first_event_ms

    def offset(ms: int | None) -> int | None:
        return None if ms is None or origin is None else ms - origin

    return {
        "seq_start": gap.seq_start,
        "seq_end": gap.seq_end,
        "reason": gap.reason,
        "label": gap.get_reason_display(),
        "detail": gap.detail,
        "start_offset_ms": offset(gap.start_ms),
        "end_offset_ms": offset(gap.end_ms),
    }


def session_summary(session: Session, request: HttpRequest) -> dict[str, Any]:
    return {
        "id": session.id,
        "project": session.project.name,
        "user_id": session.user_id,
        "created_at": session.created_at.isoformat(),
        "started_at": iso_ms(session.first_event_ms),
        "ended_at": iso_ms(session.last_event_ms),
        "duration_ms": session.duration_ms,
        "urls": session.urls,
        "page_count": len(session.urls),
        "event_count": session.event_count,
        "received_bytes": session.received_bytes,
        "stored_bytes": session.stored_bytes,
        "segment_count": session.segment_count,
        "acked_seq": session.acked_seq,
        "missing_batches": session.missing_batches,
        "completeness": round(session.completeness, 4),
        "friction_count": session.friction_count,
        "friction_score": session.friction_score,
        "records_dropped": session.records_dropped,
        "tracked_url": request.build_absolute_uri(
            reverse("api-session-tracked", args=[session.id])
        ),
        "cut_reason": session.cut_reason,
        "ended": session.ended,
        "user_agent": session.user_agent,
        "viewport": {"width": session.viewport_width, "height": session.viewport_height},
        "replay_url": request.build_absolute_uri(reverse("player", args=[session.id])),
    }
