from __future__ import annotations

from urllib.parse import urlsplit

from django import template

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
def path_only(url: str) -> str:
    parts = urlsplit(url or "")
    shown = parts.path or "/"
    return shown + ("?" + parts.query if parts.query else "")


@register.filter
def friction_label(name: str) -> str:
    """rage_click -> Rage click."""
    return name.replace("_", " ").capitalize()
