"""System checks: a wrong storage URL fails at start-up, not at the first flush."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from replay.storage import storage_from_url


@register()
def check_storage_url(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    try:
        storage_from_url(
            settings.REPLAY_STORAGE_URL,
            base_dir=settings.BASE_DIR,
            endpoint_url=settings.REPLAY_S3_ENDPOINT_URL,
        )
    except ValueError as exc:
        return [Error(str(exc), hint="Set REPLAY_STORAGE_URL (see README.md).", id="replay.E001")]
    return []


@register()
def check_static_files(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """The recorder pages load is built, and the static files collected, by `make`, not
    committed: without them every customer page's script tag answers 404 and nothing is
    recorded, and (unless REPLAY_DEBUG) the pages cannot name their scripts."""
    hint = "Run `make assets` (`make run` and `make test` do)."
    if not (settings.BUILT_STATIC / "replay" / "recorder.js").is_file():
        message = "The recorder is not built: /static/replay/recorder.js answers 404."
        return [Warning(message, hint=hint, id="replay.W001")]
    if not settings.DEBUG and not (Path(settings.STATIC_ROOT) / "staticfiles.json").is_file():
        message = f"The static files are not collected into {settings.STATIC_ROOT}."
        return [Warning(message, hint=hint, id="replay.W002")]
    return []
