"""The keyframer's worker process, so that mirroring pages (pure Python, CPU-bound) never
holds the interpreter lock of the process that acknowledges batches.

Each server process starts one (`python -m ingest.keyframe_worker`, see
`ingest.keyframer.WorkerProcess`), with the server's environment. It reads one request
per line on stdin and answers each with one line on stdout, both JSON:

    {"sessions": ["<id>", ...], "interval_ms": 30000}
    {"results": {"<id>": {"written": 1, "inexact": null,
                          "skipped": {"remove of an unknown node": 2}}, ...},
     "storage_writes": {"kfp": 1}}

where a session's result may also be `{"missing": true}` (it no longer exists, or another
process is on it) or `{"error": "storage" | "<exception name>", "detail": "..."}` (see
`ingest.keyframer.advance_many`); every answer names the objects the request wrote
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

    from ingest.keyframer import advance_many, outcome_reply
    from replay.storage import WRITTEN, StorageError, get_storage

    storage = get_storage()
    for line in requests:
        reply: dict[str, Any]
        before = WRITTEN.copy()
        try:
            request = json.loads(line)
            sessions = [str(session) for session in request["sessions"]]
            outcomes = advance_many(sessions, storage, int(request["interval_ms"]))
            reply = {"results": {sid: outcome_reply(o) for sid, o in outcomes.items()}}
        except StorageError as exc:
            reply = outcome_reply(exc)
        except Exception as exc:  # a bad request must not stop the worker
            log.warning("keyframe worker: request failed", exc_info=True)
            reply = outcome_reply(exc)
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
