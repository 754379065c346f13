"""Shared fixtures: real storage (a temporary folder, or moto's S3 server on loopback),
a file-backed test database that a Daphne subprocess can share, projects with stories,
and headless Chromium. In CI (``CI=true``) a missing browser or service fails the run
instead of skipping."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.support import CI, DaphneServer, free_port

# boto3 signs requests even for moto; these are never real credentials.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def pytest_configure(config: pytest.Config) -> None:
    """The recorder is built and the static files collected (Makefile) if a source
    changed since, so that the tests run what they say. With the scale-out
    configuration, PostgreSQL and Redis must answer: in CI their absence fails the run;
    elsewhere the run stops early and says why."""
    from django.conf import settings

    if not hasattr(config, "workerinput"):  # once, not again in each worker of `-n`
        subprocess.run(["make", "--quiet", "assets"], cwd=settings.BASE_DIR, check=True)
    redis_url = os.environ.get("REPLAY_REDIS_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ... under `-n`
    if redis_url and worker:
        # Each worker's servers get a Redis database of their own (the next numbers):
        # tests in two workers may name the same sessions, whose groups would mix.
        from replay.config import parse_redis_layer

        base, number = redis_url.rsplit("/", 1)
        redis_url = f"{base}/{int(number) + int(worker.removeprefix('gw'))}"
        os.environ["REPLAY_REDIS_URL"] = redis_url
        settings.CHANNEL_LAYERS = {"default": parse_redis_layer(redis_url)}

    needs = []
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        needs.append(("PostgreSQL", _postgres_answers))
    if os.environ.get("REPLAY_REDIS_URL"):
        needs.append(("Redis", _redis_answers))
    for name, answers in needs:
        problem = answers()
        if problem:
            message = f"{name} is not reachable for the scale-out tests: {problem}"
            pytest.exit(message, returncode=1 if CI else 0)


def _postgres_answers() -> str:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    try:
        psycopg.connect(
            host=db["HOST"],
            port=db["PORT"] or 5432,
            user=db["USER"],
            password=db["PASSWORD"],
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.Error as exc:
        return str(exc)
    return ""


def _redis_answers() -> str:
    import redis

    try:
        redis.Redis.from_url(os.environ["REPLAY_REDIS_URL"], socket_timeout=3).ping()
    except redis.RedisError as exc:
        return str(exc)
    return ""


def require(available: bool, what: str) -> None:
    if not available:
        if CI:
            pytest.fail(f"{what} is required when CI is set")
        pytest.skip(f"{what} is not available here")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A file database instead of SQLite's in-memory one, so worker threads and a
    Daphne subprocess see what the test wrote."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(autouse=True)
def keyframes_in_a_thread(settings: Any) -> None:
    """The application driven in this process computes keyframes in a thread: a worker
    process would not see this test's database and settings. (Daphne processes started
    by tests use the default, a worker process.)"""
    settings.REPLAY_KEYFRAME_WORKER = "thread"


@pytest.fixture(autouse=True)
def segment_folder(tmp_path: Path, settings: Any) -> Iterator[Path]:
    """Every test stores segments in its own folder."""
    from replay.storage import get_storage

    folder = tmp_path / "segments"
    settings.REPLAY_STORAGE_URL = f"file://{folder}"
    settings.REPLAY_S3_ENDPOINT_URL = None
    get_storage.cache_clear()
    yield folder
    get_storage.cache_clear()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a loopback port: real HTTP, real boto3."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        require(False, "moto[server]")
        raise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    import boto3

    name = f"replay-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["folder", "s3"])
def storage(request: Any) -> Any:
    """The server's storage, once as the test's folder and once as a bucket on moto's
    S3 server (tests that must hold on both backends take it)."""
    from replay.storage import get_storage

    if request.param == "s3":
        request.getfixturevalue("s3_storage_url")
    return get_storage()


@pytest.fixture
def s3_storage_url(s3_endpoint: str, s3_bucket: str, settings: Any) -> str:
    """Switch the server's storage to S3 for this test."""
    from replay.storage import get_storage

    settings.REPLAY_STORAGE_URL = f"s3://{s3_bucket}/segments"
    settings.REPLAY_S3_ENDPOINT_URL = s3_endpoint
    get_storage.cache_clear()
    return str(settings.REPLAY_STORAGE_URL)


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password="alice-password-1")


@pytest.fixture
def mallory(django_user_model: Any) -> Any:
    """A user who belongs to no project."""
    return django_user_model.objects.create_user("mallory", password="mallory-password-1")


@pytest.fixture
def alices_shop(alice: Any) -> Any:
    from replay.models import Project

    # Tests of storing exactly what was sent record the corpus, which holds personal
    # data; scrubbing (on by default) has its own tests (test_scrubbing.py).
    project = Project.objects.create(
        name="Alice's shop",
        allowed_origins=["https://shop.alice.example", "http://127.0.0.1"],
        scrub=False,
    )
    project.admins.add(alice)  # her shop: she may delete and read the audit log
    return project


@pytest.fixture
def bobs_blog() -> Any:
    from replay.models import Project

    return Project.objects.create(
        name="Bob's blog", allowed_origins=["https://bob.example"], scrub=False
    )


@pytest.fixture
def bob(django_user_model: Any, bobs_blog: Any) -> Any:
    """Bob runs his blog: he sees its sessions, and nothing of Alice's shop."""
    user = django_user_model.objects.create_user("bob", password="bob-password-1")
    bobs_blog.admins.add(user)
    return user


def test_database_url() -> str:
    """REPLAY_DATABASE_URL for the test database, for server subprocesses."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = quote(db["USER"] or "", safe="")
    password = quote(db["PASSWORD"] or "", safe="")
    return f"postgres://{user}:{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def start_daphne(
    transactional_db: None, settings: Any, tmp_path: Path
) -> Iterator[Callable[..., DaphneServer]]:
    """Starts real Daphne processes serving replay.asgi on free ports, sharing the test
    database and this test's storage (as the settings say when it is called); extra
    keyword arguments become environment variables. All are stopped after the test."""
    servers: list[DaphneServer] = []

    def start(**env: str) -> DaphneServer:
        server = DaphneServer(
            database_url=test_database_url(),
            storage_url=settings.REPLAY_STORAGE_URL,
            s3_endpoint=settings.REPLAY_S3_ENDPOINT_URL,
            log_path=tmp_path / f"daphne-{len(servers)}.log",
            extra_env=env,
        )
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def daphne(start_daphne: Callable[..., DaphneServer]) -> DaphneServer:
    """A real Daphne process on a free port (see `start_daphne`)."""
    return start_daphne()


@pytest.fixture
def shop(daphne: DaphneServer, alice: Any) -> Any:
    """The demo shop project, recording into the `daphne` server, with Alice a member."""
    from replay.models import Project

    project = Project.objects.create(name="Demo shop", allowed_origins=[daphne.url], scrub=False)
    project.members.add(alice)
    return project


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh tab (own sessionStorage) that keeps a copy of every event rrweb produces;
    the test fails if the page throws."""
    from tests.recording import CAPTURE_EVENTS

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(CAPTURE_EVENTS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert errors == []


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    require(path is not None, "Debian's chromium")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    """Headless Chromium through Playwright's sync API. That API keeps an event loop
    marked as running in this thread while it lives, so Django's async-safety guard is
    lifted for the module (Django documents this for Playwright), and the browser closes
    with the module so later async tests get a clean thread."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright")
        raise
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield from _launch(sync_playwright, chromium_path)
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def open_tab(browser: Any, shop: Any) -> Iterator[Any]:
    """Opens tabs on the capture site recorded into the shop project, its options set
    first (tests/capture.py: `open_tab(daphne, **options)` gives the tab and the site's
    origin); closes them afterwards."""
    from tests.capture import open_tabs  # it imports Django's models

    yield from open_tabs(browser, shop)


def _launch(sync_playwright: Any, chromium_path: str) -> Iterator[Any]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium_path,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield instance
        instance.close()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: nothing may be skipped for a missing part."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    skipped = reporter.stats.get("skipped", [])
    if CI and skipped:
        reporter.write_line(f"CI is set and {len(skipped)} tests were skipped: failing the run.")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
