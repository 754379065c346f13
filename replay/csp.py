"""Content-Security-Policy for the pages we serve.

Every HTML page gets a strict policy: scripts only from this server, no plugins, no
`<base>`, framed only by this server. The player page also replays recorded pages, in
rrweb's sandboxed iframe (no scripts run there), which inherits the page's policy: its
images, styles, fonts and media may come from this server and from the origins the
session was recorded on (those its project allows), and from nowhere else, so a
recording cannot make its viewers' browsers call other hosts. The admin keeps Django's
own pages as they are; it shows no recorded content."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"

_BASE: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    # Recorded pages and rrweb's replayer style elements inline; styles cannot run code.
    "style-src": ("'self'", "'unsafe-inline'"),
    "img-src": ("'self'", "data:", "blob:"),
    "font-src": ("'self'", "data:"),
    "media-src": ("'self'", "blob:"),
    "connect-src": ("'self'",),
    "frame-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'none'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'self'",),
}
# Where a recorded page's own assets come from.
_ASSET_DIRECTIVES = ("img-src", "style-src", "font-src", "media-src")
# An origin as `normalize_origin` writes it: nothing that could end a directive.
_ORIGIN = re.compile(r"https?://(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?")


def policy(asset_origins: Iterable[str] = ()) -> str:
    """The policy, with recorded pages' assets allowed from `asset_origins`."""
    origins = sorted({o for o in asset_origins if _ORIGIN.fullmatch(o)})
    parts = []
    for directive, sources in _BASE.items():
        extra = origins if directive in _ASSET_DIRECTIVES else []
        parts.append(" ".join([directive, *sources, *extra]))
    return "; ".join(parts)


class ContentSecurityPolicyMiddleware:
    """Adds the strict policy to HTML responses that do not set their own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        html = response.get("Content-Type", "").startswith("text/html")
        if html and HEADER not in response and not request.path.startswith("/admin/"):
            response[HEADER] = policy()
        return response


def recorded_origins(session: Any) -> list[str]:
    """The origins a session was recorded on that its project allows: where the player
    may load the replayed page's assets from."""
    from replay.models import normalize_origin

    urls = [session.first_url, *session.urls]
    recorded = {normalize_origin(url) for url in urls if url}
    return [o for o in recorded if o is not None and session.project.allows_origin(o)]
