"""Credentials in recorded request bodies and logged objects (replay/credentials.py): a
project that records bodies keeps them, and the console what the page logs, but never
the values of password, token, secret, API key or one-time code fields, whatever its
scrubbing says; checked on every shape a body comes in, and over the real HTTP batch
endpoint."""

from __future__ import annotations

import json

import msgpack
import pytest

from replay import devtools
from replay.credentials import redact_body
from tests.support import load_recording
from tests.test_daphne import ORIGIN, exported, post_batch
from tests.test_devtools import console, network, request

PASSWORD = "hunter2-Pa55"
TOKEN = "opaque-refresh-0f9e"
T0 = 1_795_000_000_000


def test_credential_fields_are_redacted_in_every_shape_of_body():
    login = json.dumps({"username": "jane", "password": PASSWORD, "remember": True})
    assert json.loads(redact_body(login)) == {
        "username": "jane",
        "password": "[redacted]",
        "remember": True,
    }
    # Nested, escaped, numeric, and named as apps name them.
    nested = '{"user": {"name": "a", "newPassword": "p\\"q", "pin": 1234}, "shipping": 3}'
    assert json.loads(redact_body(nested)) == {
        "user": {"name": "a", "newPassword": "[redacted]", "pin": "[redacted]"},
        "shipping": 3,
    }
    # A body cut at its size limit is no longer JSON: what came before the cut still is.
    cut = '{"access_token": "' + TOKEN + '", "expires_in": 3600, "refresh_tok'
    assert redact_body(cut) == '{"access_token": "[redacted]", "expires_in": 3600, "refresh_tok'
    # A form, as a sign-in page posts it.
    assert redact_body(f"user=jane&password={PASSWORD}&next=%2Fhome") == (
        "user=jane&password=[redacted]&next=%2Fhome"
    )
    # Other rrweb clients may send a body as an object.
    sent = {"password": PASSWORD, "items": [{"apiKey": TOKEN, "sku": 7}]}
    assert redact_body(sent) == {
        "password": "[redacted]",
        "items": [{"apiKey": "[redacted]", "sku": 7}],
    }
    # An API that echoes what it was sent holds the body as JSON text in a string.
    echoed = json.dumps({"ok": True, "echo": json.dumps({"user": "jane", "pwd": PASSWORD})})
    assert json.loads(json.loads(redact_body(echoed))["echo"]) == {
        "user": "jane",
        "pwd": "[redacted]",
    }
    # What holds no credential is kept exactly as it was written.
    kept_texts = [
        '{"author":"Jane","passport":"X1","shipping":"ups"}',
        "plain text",
        "a=1&b=2",
        json.dumps({"echo": json.dumps({"note": "caf\u00e9", "n": 1})}),
    ]
    for kept in kept_texts:
        assert redact_body(kept) == kept


@pytest.mark.django_db(transaction=True)
def test_a_project_that_records_bodies_stores_no_credentials(daphne, alice, alices_shop):
    alices_shop.capture_network_bodies = True
    alices_shop.scrub = False  # what is redacted here is, scrubbing or not
    alices_shop.save()
    events = load_recording("checkout")[:40]
    end = events[-1]["timestamp"]
    signed_in = request(
        ORIGIN + "/api/login",
        end - 80,
        80,
        method="POST",
        requestBody=json.dumps({"username": "jane", "password": PASSWORD}),
        responseBody=json.dumps({"ok": True, "refresh_token": TOKEN}),
    )
    body = {"key": alices_shop.key, "session": "new-session-1", "tab": "tab-0001", "seq": 0}
    logged = console(end + 20, "log", "signed in", {"user": "jane", "refreshToken": TOKEN})
    added = [network(end + 10, signed_in), logged]
    body.update(events=[*events, *added], page={"url": ORIGIN + "/"})
    session = post_batch(daphne, body)["session"]
    stored = json.dumps(exported(daphne, alice, session))
    assert PASSWORD not in stored
    assert TOKEN not in stored
    assert '\\"username\\": \\"jane\\"' in stored  # the rest of the body is kept
    assert '\\"ok\\": true' in stored
    assert '\\"user\\": \\"jane\\"' in stored  # the logged object too


def test_console_events_are_decoded_only_when_they_may_log_a_credential():
    quiet = msgpack.packb([console(T0, "log", "cart", {"sku": 7, "spinner": "on"})])
    assert not devtools.needed(quiet)  # stored as it came
    loud = console(T0, "log", {"user": "jane", "password": PASSWORD})
    assert devtools.needed(msgpack.packb([loud]))
    cleaned = devtools.clean(loud, devtools.Policy())
    assert json.loads(cleaned["data"]["payload"]["payload"][0]) == {
        "user": "jane",
        "password": "[redacted]",
    }
