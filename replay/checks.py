"""System checks: a wrong storage URL fails at start-up, not at the first flush."""

from __future__ import annotations

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
def check_recorder_built(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """The recorder pages load is built by `make`, not committed: without it, every
    customer page's script tag answers 404 and nothing is recorded."""
    if (settings.BUILT_STATIC / "replay" / "recorder.js").is_file():
        return []
    return [
        Warning(
            "The recorder is not built: /static/replay/recorder.js answers 404.",
            hint="Run `make recorder` (`make run` and `make test` build it).",
            id="replay.W001",
        )
    ]
