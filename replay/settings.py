"""Django settings, read from environment variables only.

Every variable read here goes through `env()`, which records its name and default in
`REPLAY_ENVIRONMENT`; a test checks that README.md documents exactly these names.
The defaults run on one machine with nothing else installed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from replay.config import (
    parse_bool,
    parse_database_url,
    parse_float,
    parse_int,
    parse_list,
    parse_redis_layer,
    read_or_create_secret,
)

django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

REPLAY_ENVIRONMENT: dict[str, str] = {}


def env(name: str, default: str) -> str:
    REPLAY_ENVIRONMENT[name] = default
    return os.environ.get(name, default)


DEBUG = parse_bool("REPLAY_DEBUG", env("REPLAY_DEBUG", "false"))
SECRET_KEY = env("REPLAY_SECRET_KEY", "") or read_or_create_secret(BASE_DIR / "var" / "secret_key")
ALLOWED_HOSTS = parse_list(env("REPLAY_ALLOWED_HOSTS", "127.0.0.1,localhost"))
CSRF_TRUSTED_ORIGINS = parse_list(env("REPLAY_CSRF_TRUSTED_ORIGINS", ""))

DATABASES = {
    "default": parse_database_url(env("REPLAY_DATABASE_URL", "sqlite:///var/db.sqlite3"), BASE_DIR)
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)

_redis_url = env("REPLAY_REDIS_URL", "")
CHANNEL_LAYERS: dict[str, Any] = {
    "default": parse_redis_layer(_redis_url)
    if _redis_url
    else {"BACKEND": "replay.layers.ProcessChannelLayer"}
}

# Where segments go: file://relative/or/absolute/folder or s3://bucket/prefix.
REPLAY_STORAGE_URL = env("REPLAY_STORAGE_URL", "file://var/segments")
REPLAY_S3_ENDPOINT_URL = env("REPLAY_S3_ENDPOINT_URL", "") or None

# Ingest: how long batches wait in memory before they are stored and acknowledged,
# and the size limits every client is told about in `welcome`.
REPLAY_FLUSH_SECONDS = parse_float("REPLAY_FLUSH_SECONDS", env("REPLAY_FLUSH_SECONDS", "1.0"))
REPLAY_FLUSH_BYTES = parse_int(
    "REPLAY_FLUSH_BYTES", env("REPLAY_FLUSH_BYTES", "1048576"), minimum=1
)
REPLAY_MAX_FRAME_BYTES = parse_int(
    "REPLAY_MAX_FRAME_BYTES", env("REPLAY_MAX_FRAME_BYTES", "4194304"), minimum=1024
)
REPLAY_MAX_BATCH_EVENTS = parse_int(
    "REPLAY_MAX_BATCH_EVENTS", env("REPLAY_MAX_BATCH_EVENTS", "10000"), minimum=1
)
REPLAY_HELLO_TIMEOUT = parse_float("REPLAY_HELLO_TIMEOUT", env("REPLAY_HELLO_TIMEOUT", "10"))
REPLAY_BODY_TIMEOUT = parse_float("REPLAY_BODY_TIMEOUT", env("REPLAY_BODY_TIMEOUT", "30"))
REPLAY_IDLE_TIMEOUT = parse_float("REPLAY_IDLE_TIMEOUT", env("REPLAY_IDLE_TIMEOUT", "300"))
REPLAY_CLOSE_TIMEOUT = parse_float("REPLAY_CLOSE_TIMEOUT", env("REPLAY_CLOSE_TIMEOUT", "10"))
REPLAY_MAX_SESSION_BYTES = parse_int(
    "REPLAY_MAX_SESSION_BYTES", env("REPLAY_MAX_SESSION_BYTES", "209715200"), minimum=1
)
REPLAY_FRAMES_PER_SECOND = parse_float(
    "REPLAY_FRAMES_PER_SECOND", env("REPLAY_FRAMES_PER_SECOND", "20")
)
REPLAY_FRAMES_BURST = parse_int("REPLAY_FRAMES_BURST", env("REPLAY_FRAMES_BURST", "300"), minimum=1)
REPLAY_NEW_SESSIONS_PER_MINUTE = parse_float(
    "REPLAY_NEW_SESSIONS_PER_MINUTE", env("REPLAY_NEW_SESSIONS_PER_MINUTE", "1200")
)
# Who may read /metrics: anyone who can reach it, or only scrapers sending this token.
REPLAY_METRICS_TOKEN = env("REPLAY_METRICS_TOKEN", "")

# How much recording passes between synthesized keyframes (seeking loads one of them).
REPLAY_KEYFRAME_SECONDS = parse_float(
    "REPLAY_KEYFRAME_SECONDS", env("REPLAY_KEYFRAME_SECONDS", "30")
)

# Compaction (replay.compaction): how often each server process compacts, how much
# recording a block holds, how long a session's tail waits for more, and the zstd level.
REPLAY_COMPACT_SECONDS = parse_float("REPLAY_COMPACT_SECONDS", env("REPLAY_COMPACT_SECONDS", "300"))
REPLAY_BLOCK_SECONDS = parse_float("REPLAY_BLOCK_SECONDS", env("REPLAY_BLOCK_SECONDS", "300"))
REPLAY_COMPACT_IDLE_SECONDS = parse_float(
    "REPLAY_COMPACT_IDLE_SECONDS", env("REPLAY_COMPACT_IDLE_SECONDS", "120")
)
REPLAY_COMPACT_AFTER_SECONDS = parse_float(
    "REPLAY_COMPACT_AFTER_SECONDS", env("REPLAY_COMPACT_AFTER_SECONDS", "1800")
)
REPLAY_BLOCK_LEVEL = parse_int("REPLAY_BLOCK_LEVEL", env("REPLAY_BLOCK_LEVEL", "19"), minimum=1)

# How long sessions are kept after they last recorded, unless their project says (0: for
# ever); `manage.py purge` deletes the rest.
REPLAY_RETENTION_DAYS = parse_int("REPLAY_RETENTION_DAYS", env("REPLAY_RETENTION_DAYS", "30"))

# Where keyframes are computed: a child process of each server process, or a thread.
REPLAY_KEYFRAME_WORKER = env("REPLAY_KEYFRAME_WORKER", "process")
if REPLAY_KEYFRAME_WORKER not in {"process", "thread"}:
    raise ImproperlyConfigured(
        f"REPLAY_KEYFRAME_WORKER must be process or thread, not {REPLAY_KEYFRAME_WORKER!r}"
    )

LOG_LEVEL = env("REPLAY_LOG_LEVEL", "INFO").upper()
LOG_FORMAT = env("REPLAY_LOG_FORMAT", "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"REPLAY_LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "replay",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "replay.csp.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "replay.urls"
ASGI_APPLICATION = "replay.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/sessions"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "/static/"
_npm = BASE_DIR / "node_modules"
# What `make` builds: the recorder as one file (replay/recorder.js, see Makefile).
BUILT_STATIC = BASE_DIR / "build" / "static"
STATICFILES_DIRS: list[Any] = [
    BUILT_STATIC,
    BASE_DIR / "static",
    # Browser packages come from npm (package.json + lock file), never from commits.
    ("replay/vendor/rrweb", _npm / "rrweb" / "umd"),
    ("replay/vendor/rrweb-style", _npm / "rrweb" / "dist"),
]
# Where `collectstatic` (run by `make`) puts them, under digest names (replay.staticfiles).
STATIC_ROOT = BASE_DIR / env("REPLAY_STATIC_ROOT", "build/collected")  # or absolute
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "replay.staticfiles.DigestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "replay.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "daphne": {"level": "WARNING"},
    },
}
