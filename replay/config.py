"""Typed parsing of configuration values.

`replay/settings.py` is the only place that reads the environment; it hands the raw
strings to these helpers, which fail loudly (``ImproperlyConfigured``) on a value they
cannot understand instead of guessing.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def parse_int(name: str, value: str, *, minimum: int = 0) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}")
    return number


def parse_float(name: str, value: str, *, minimum: float = 0.0) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}")
    return number


def parse_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def resolve_path(path: str, base_dir: Path) -> Path:
    """A relative path is taken from the project folder, not the working directory."""
    candidate = Path(path)
    return candidate if candidate.is_absolute() else base_dir / candidate


def parse_database_url(url: str, base_dir: Path) -> dict[str, Any]:
    """Turn ``sqlite:///relative``, ``sqlite:////absolute`` or ``postgres://...`` into
    a Django ``DATABASES['default']`` entry."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///var/db.sqlite3 -> "var/db.sqlite3"; sqlite:////tmp/x -> "/tmp/x"
        raw = url[len("sqlite://") :]
        if not raw.startswith("/") or raw == "/":
            raise ImproperlyConfigured(f"REPLAY_DATABASE_URL: cannot read a path in {url!r}")
        path = resolve_path(raw[1:], base_dir)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(path),
            "OPTIONS": {
                # Writers from several threads queue for the lock instead of failing,
                # and WAL lets readers (the player) proceed while ingest writes. FULL
                # syncs the log at every commit: an acknowledgement survives power loss.
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
            },
        }
    if parts.scheme in {"postgres", "postgresql"}:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured(f"REPLAY_DATABASE_URL: no database name in {url!r}")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    raise ImproperlyConfigured(
        f"REPLAY_DATABASE_URL must start with sqlite:/// or postgres://, not {url!r}"
    )


def parse_redis_layer(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss"}:
        raise ImproperlyConfigured(f"REPLAY_REDIS_URL must be redis://host:port/db, not {url!r}")
    return {
        "BACKEND": "replay.layers.RedisLayer",
        "CONFIG": {"hosts": [url]},
    }


def read_or_create_secret(path: Path) -> str:
    """The secret key is generated once and kept beside the database, so logins survive
    restarts without anyone having to set it. Two processes starting at once agree on
    one key: the file is published with a hard link, which fails if it already exists."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        tmp.write_text(secrets.token_urlsafe(50))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()
