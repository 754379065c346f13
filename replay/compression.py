"""Static files (the recorder, the player, rrweb) go gzipped to browsers that take gzip:
rrweb's script alone is 282 KB as it is and about a quarter of that compressed. HTML pages
are not compressed: a page carrying a CSRF token beside text an attacker can choose would
leak the token through its compressed size (BREACH). API answers are compressed by
`replay.api`, which knows they carry no such secret."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.middleware.gzip import GZipMiddleware


class StaticGZipMiddleware(GZipMiddleware):
    """Django's gzip, for what is under STATIC_URL only. It must come before
    WhiteNoise's middleware, which answers static files itself."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if not request.path.startswith(settings.STATIC_URL):
            return response
        compressed: HttpResponseBase = super().process_response(request, response)
        return compressed
