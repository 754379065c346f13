from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from django import template

from replay.analytics import charts
from replay.quota import MAX_RECORDS

register = template.Library()


@register.filter
def duration(ms: int | None) -> str:
    """1:05:09, 4:07 or 0:12."""
    seconds = max(0, int((ms or 0) / 1000))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@register.filter
def percent(share: float) -> str:
    """0.987 -> 98.7%; never rounds a loss up to 100%."""
    value = int(share * 1000) / 10
    return f"{value:g}%"


@register.filter
def page_address(url: str) -> str:
    """A page's URL without its origin: path, query, and fragment (a hash router's
    route: `/app/#/settings`), as the lists of pages show it."""
    parts = urlsplit(url or "")
    shown = parts.path or "/"
    shown += "?" + parts.query if parts.query else ""
    return shown + ("#" + parts.fragment if parts.fragment else "")


@register.filter
def records_dropped(dropped: dict[str, int]) -> str:
    """{"click": 25000, "error": 12} -> "Records past 5,000 of a kind were not tracked:
    25,000 click, 12 error records."."""
    counts = ", ".join(f"{count:,} {kind}" for kind, count in sorted(dropped.items()))
    return f"Records past {MAX_RECORDS:,} of a kind were not tracked: {counts} records."


@register.filter
def friction_label(name: str) -> str:
    """rage_click -> Rage click."""
    return name.replace("_", " ").capitalize()


@register.filter
def rate(share: float | None) -> str:
    """0.1234 -> 12.3 %; None (a rate of no one) -> a dash."""
    return charts.percent(share)


@register.filter
def signed_rate(share: float | None) -> str:
    """0.1234 -> +12.3 %."""
    return charts.signed_percent(share)


@register.filter
def p_value(p: float) -> str:
    """0.04567 -> 0.046; what is below 0.001 is shown as such."""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


@register.filter
def sub(value: int, other: int) -> int:
    return value - other


@register.filter
def moment(ms: int) -> str:
    """Milliseconds since the epoch -> 2026-11-04 12:03 UTC."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
