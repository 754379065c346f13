"""A server for benchmarks: a fresh SQLite database in a temporary folder, migrated, one
project created with `manage.py createproject`, and Daphne serving it on a free port."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import DaphneServer  # noqa: E402


@dataclass
class Embedded:
    server: DaphneServer
    key: str
    database: Path
    manage: Callable[..., str]  # runs manage.py with the server's settings; its last line


def start_embedded(
    name: str,
    origin: str,
    *,
    storage_url: str | None = None,
    s3_endpoint: str | None = None,
    env: dict[str, str] | None = None,
    access_log: bool = True,
) -> Embedded:
    """Start the server; `env` adds settings (REPLAY_FLUSH_SECONDS stays the server's
    default unless it is given here)."""
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)  # once the bench has read it
    database = folder / "db.sqlite3"
    settings = {
        "REPLAY_DATABASE_URL": f"sqlite:///{database}",
        "REPLAY_STORAGE_URL": storage_url or f"file://{folder / 'segments'}",
        "REPLAY_SECRET_KEY": "bench",
        **({"REPLAY_S3_ENDPOINT_URL": s3_endpoint} if s3_endpoint else {}),
        **(env or {}),
    }

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**os.environ, **settings},
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""

    manage("migrate", "--noinput")
    key = manage("createproject", name, "--origin", origin)
    server = DaphneServer(
        database_url=settings["REPLAY_DATABASE_URL"],
        storage_url=settings["REPLAY_STORAGE_URL"],
        s3_endpoint=s3_endpoint,
        log_path=folder / "daphne.log",
        extra_env=env,
        access_log=access_log,
    )
    if "REPLAY_FLUSH_SECONDS" not in (env or {}):
        server.env.pop("REPLAY_FLUSH_SECONDS")  # the server's default, as in production
    server.start()
    return Embedded(server, key, database, manage)


def storage_writes(url: str) -> Counter[str]:
    """replay_storage_writes_total by kind (one PUT each on S3), from the server's
    /metrics."""
    found: Counter[str] = Counter()
    with urllib.request.urlopen(f"{url}/metrics") as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith("replay_storage_writes_total{"):
                labels, value = line.rsplit(" ", 1)
                found[labels.split('kind="', 1)[1].split('"', 1)[0]] += round(float(value))
    return found
