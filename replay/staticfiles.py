"""Static files that browsers keep: every URL the pages give to a static file carries a
digest of its content (`/static/replay/player.js?v=3f2a9c1e0b7d`), and an answer to a URL
whose digest is the file's current one may be kept a year without asking again
(`immutable`). A new version of a file has a new digest, so a browser never runs an old
player with a new page. URLs without the digest (the recorder's script tag on customers'
sites, which must not change) keep WhiteNoise's short lifetime and are revalidated.

Files are found where `{% static %}` finds them (the app's folder and the npm packages
named in settings), so no collect step is needed."""

from __future__ import annotations

import hashlib
import os
import stat
from functools import lru_cache

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import StaticFilesStorage
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.deprecation import MiddlewareMixin

VERSION_PARAMETER = "v"
IMMUTABLE = "public, max-age=31536000, immutable"


def digest(name: str) -> str | None:
    """The digest of the static file `name` as it is now, or None if there is none."""
    path = finders.find(name)
    if not isinstance(path, str):
        return None
    try:
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):
            return None
        return _digest_of(path, status.st_mtime_ns, status.st_size)
    except OSError:
        return None


@lru_cache(maxsize=256)
def _digest_of(path: str, mtime_ns: int, size: int) -> str:
    with open(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()[:12]


class VersionedStaticFilesStorage(StaticFilesStorage):
    """`{% static %}` URLs with the file's digest."""

    def url(self, name: str | None) -> str:
        url = super().url(name)
        version = digest(name) if name else None
        return f"{url}?{VERSION_PARAMETER}={version}" if version else url


class StaticCacheMiddleware(MiddlewareMixin):
    """Marks the answer to a static URL carrying the file's current digest immutable.
    It must come before WhiteNoise's middleware, which answers static files itself."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        version = request.GET.get(VERSION_PARAMETER)
        if (
            version
            and response.status_code == 200
            and request.path.startswith(settings.STATIC_URL)
            and version == digest(request.path.removeprefix(settings.STATIC_URL))
        ):
            response["Cache-Control"] = IMMUTABLE
        return response
