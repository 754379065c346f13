"""A project's privacy options reach its recorders without a redeploy of the site: in
`GET /ingest/config`, asked before anything is recorded, and in every `welcome`. What the
recorder does with them is tested in Chromium (test_browser_privacy.py)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.exceptions import ValidationError

from replay.asgi import application
from replay.credentials import CREDENTIAL_FIELDS
from replay.models import Project
from tests.support import hello, unpack

pytestmark = pytest.mark.django_db(transaction=True)

OPTIONS = {
    "mask_all_inputs": False,
    "mask_all_text": True,
    "block_selector": ".ads, #chat",
    "mask_selector": ".balance",
    "ignore_selector": "input[name=search]",
    "excluded_urls": ["/account/*", "https://shop.alice.example/admin*"],
    "require_consent": True,
    "sample_rate": 0.25,
    "respect_dnt": True,
    "capture_console": False,
    "capture_network": True,
    "capture_network_bodies": True,
    "network_headers": ["content-type", "x-request-id"],
}
# What recorders get: the options, and the credential fields they redact.
DELIVERED = {**OPTIONS, "credential_fields": CREDENTIAL_FIELDS}


@pytest.fixture
def strict_shop(alice: Any) -> Project:
    return Project.objects.create(
        name="Strict shop", allowed_origins=["https://shop.alice.example"], **OPTIONS
    )


def get_config(daphne: Any, key: str, headers: dict[str, str]) -> tuple[int, Any, Any]:
    request = urllib.request.Request(f"{daphne.url}/ingest/config?key={key}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers


async def test_the_welcome_carries_the_projects_options(strict_shop):
    comm = WebsocketCommunicator(
        application, "/ingest/ws", headers=[(b"origin", b"https://shop.alice.example")]
    )
    connected, _ = await comm.connect()
    assert connected
    await comm.send_to(bytes_data=hello(strict_shop.key, "session-options-1"))
    welcome = unpack(await comm.receive_from(timeout=5))
    assert welcome["type"] == "welcome"
    assert welcome["config"] == DELIVERED
    await comm.disconnect()


def test_the_options_are_served_to_allowed_pages_only(daphne, strict_shop):
    origin = {"Origin": "https://shop.alice.example"}
    status, body, headers = get_config(daphne, strict_shop.key, origin)
    assert (status, body) == (200, DELIVERED)
    assert headers["Access-Control-Allow-Origin"] == "https://shop.alice.example"
    # Page loads reuse the browser's copy for a minute; welcomes carry any change sooner.
    assert headers["Cache-Control"] == "private, max-age=60"

    # A same-origin GET carries no Origin: the Referer names the page.
    referer = {"Referer": "https://shop.alice.example/cart?x=1"}
    assert get_config(daphne, strict_shop.key, referer)[:2] == (200, DELIVERED)

    status, body, headers = get_config(daphne, strict_shop.key, {"Origin": "https://evil.example"})
    assert status == 403
    assert body["error"]["code"] == 4403
    assert body["error"]["retry"] is False
    assert headers["Cache-Control"] == "no-store"
    assert get_config(daphne, strict_shop.key, {})[0] == 403
    status, body, _ = get_config(daphne, "pk_unknown", origin)
    assert (status, body["error"]["code"]) == (401, 4401)
    assert get_config(daphne, "", origin)[0] == 401


def test_a_disabled_project_serves_no_options(daphne, strict_shop):
    strict_shop.enabled = False
    strict_shop.save()
    status, body, _ = get_config(daphne, strict_shop.key, {"Origin": "https://shop.alice.example"})
    assert (status, body["error"]["code"], body["error"]["retry"]) == (401, 4401, False)


def test_only_get_is_answered(daphne, strict_shop):
    request = urllib.request.Request(
        f"{daphne.url}/ingest/config?key={strict_shop.key}", data=b"{}", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("block_selector", "div { color: red }"),
        ("mask_selector", "</style><script>"),
        ("ignore_selector", "input,"),
        ("excluded_urls", "/account/*"),
        ("excluded_urls", ["/ok", ""]),
        ("excluded_urls", [3]),
        ("sample_rate", 1.5),
        ("sample_rate", -0.1),
        ("network_headers", "content-type"),
        ("network_headers", ["x-id: 1"]),
        ("network_headers", [7]),
    ],
)
def test_options_that_would_break_recorders_are_refused(strict_shop, field, value):
    setattr(strict_shop, field, value)
    with pytest.raises(ValidationError) as refused:
        strict_shop.full_clean()
    assert field in refused.value.message_dict


def test_good_options_pass(strict_shop):
    strict_shop.full_clean()


def test_credential_headers_never_reach_recorders(strict_shop):
    strict_shop.network_headers = ["Authorization", "X-Request-Id", "cookie", "Set-Cookie"]
    strict_shop.network_headers += ["Proxy-Authorization", "Content-Type"]
    strict_shop.full_clean()  # allowed in the list, and left out of what is sent
    assert strict_shop.recording_config()["network_headers"] == ["content-type", "x-request-id"]


async def test_a_changed_option_reaches_the_next_welcome(strict_shop, settings):
    from ingest import sessions

    await sync_to_async(Project.objects.filter(pk=strict_shop.pk).update)(mask_all_text=False)
    sessions._projects.clear()  # the 10-second project cache, as if it had expired
    comm = WebsocketCommunicator(
        application, "/ingest/ws", headers=[(b"origin", b"https://shop.alice.example")]
    )
    await comm.connect()
    await comm.send_to(bytes_data=hello(strict_shop.key, "session-options-2"))
    welcome = unpack(await comm.receive_from(timeout=5))
    assert welcome["config"] == {**DELIVERED, "mask_all_text": False}
    await comm.disconnect()
