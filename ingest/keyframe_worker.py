"""The keyframer's worker process, so that mirroring pages (pure Python, CPU-bound) never
holds the interpreter lock of the process that acknowledges batches.

Each server process starts one (`python -m ingest.keyframe_worker`, see
`ingest.keyframer.WorkerProcess`), with the server's environment. It reads one request
per line on stdin and answers each with one line on stdout, both JSON:

    {"session": "<id>", "interval_ms": 30000}
    {"written": 1, "inexact": null, "skipped": {"remove of an unknown node": 2},
     "storage_writes": {"key": 1}}

or `{"missing": true}` for a session that no longer exists, or `{"error": "storage" |
"<exception name>", "detail": "..."}`; every answer names the objects the request wrote
(`storage_writes`, by kind), for the server's metrics. It exits when stdin closes (its
server is gone).
Logs go to stderr."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any, TextIO

log = logging.getLogger(__name__)


def serve(requests: TextIO, replies: TextIO) -> None:
    from django.db import close_old_connections

    from ingest.keyframer import advance
    from replay.storage import WRITTEN, StorageError, get_storage

    storage = get_storage()
    for line in requests:
        reply: dict[str, Any]
        before = WRITTEN.copy()
        try:
            request = json.loads(line)
            result = advance(str(request["session"]), storage, int(request["interval_ms"]))
            if result is None:
                reply = {"missing": True}
            else:
                skipped = dict(result.skipped)
                reply = {"written": result.written, "inexact": result.inexact, "skipped": skipped}
        except StorageError as exc:
            reply = {"error": "storage", "detail": str(exc)}
        except Exception as exc:  # one session's trouble must not stop the others
            log.warning("keyframe worker: request failed", exc_info=True)
            reply = {"error": type(exc).__name__, "detail": str(exc)}
        finally:
            close_old_connections()
        reply["storage_writes"] = dict(WRITTEN - before)
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def main() -> None:
    # Replies get stdout to themselves: anything else printing goes to stderr.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "replay.settings")
    import django

    django.setup()
    serve(sys.stdin, replies)


if __name__ == "__main__":
    main()
