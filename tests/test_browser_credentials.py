"""Credentials redacted by the real recorder in Chromium before they leave the page: in
logged objects and text, and in recorded request and response bodies (JSON, forms, JSON
echoed inside a string, a body cut inside a password), with the rest kept as the page
wrote it (tests/capture.py has the site; the server's own redaction is
tests/test_credentials.py's)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.capture import (
    ANSWERED_TOKEN,
    Recorded,
    by_path,
    console_of,
    requests_of,
    stored,
    wait_for_requests,
)
from tests.support import DaphneServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


SIGN_IN = """async () => {
  console.log('signed in', {user: 'jane', password: 'SECRET-LOGGED-1'});
  console.log('{"refresh_token": "SECRET-LOGGED-2", "ok": true}');
  console.log({user: 'jane', nested: {apiKey: 'SECRET-LOGGED-3', pin: 1234}, spin: 'on'});
  const body = JSON.stringify({username: 'jane', password: 'SECRET-SENT-4'});
  const headers = {'Content-Type': 'application/json'};
  await fetch('/api/login', {method: 'POST', headers, body}).then((r) => r.json());
  // A long body whose cut at 10 KB falls inside a password's value.
  const long = JSON.stringify({note: 'n'.repeat(10_210), password: 'SECRET-CUT-7'});
  await fetch('/api/ok?long=1', {method: 'POST', headers, body: long}).then((r) => r.text());
  const echoed = JSON.stringify({user: 'jane', pin: 'SECRET-ECHOED-6'});
  await fetch('/api/ok?echo=1', {method: 'POST', headers, body: echoed}).then((r) => r.json());
  await new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/login?form=1');
    xhr.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
    xhr.onloadend = resolve;
    xhr.send('user=jane&pwd=SECRET-SENT-5&next=%2Fhome');
  });
}"""


def test_credentials_are_redacted_before_they_leave_the_page(
    daphne: DaphneServer, alice: Any, open_tab: Recorded
) -> None:
    tab, _ = open_tab(daphne, capture_network_bodies=True)
    tab.recording()
    tab.page.evaluate(SIGN_IN)
    wait_for_requests(tab, 4, last="form=1")
    # What the recorder produced, as it leaves the page: no credential in it.
    produced = json.dumps(tab.page.evaluate("window.__produced"))
    assert "SECRET-" not in produced
    assert ANSWERED_TOKEN not in produced  # (a response's, read from a clone)
    events = stored(daphne, alice, tab)
    assert "SECRET-" not in json.dumps(events)
    # The rest is kept as the page wrote it.
    messages = [m["payload"] for m in console_of(events)]
    assert messages[:3] == [
        ['"signed in"', '{"user":"jane","password":"[redacted]"}'],
        [json.dumps('{"refresh_token": "[redacted]", "ok": true}')],
        ['{"user":"jane","nested":{"apiKey":"[redacted]","pin":"[redacted]"},"spin":"on"}'],
    ]
    found = by_path(requests_of(events))
    fetched, posted = found["/api/login"], found["/api/login?form=1"]
    assert fetched["requestBody"] == '{"username":"jane","password":"[redacted]"}'
    answered = '{"ok": true, "refresh_token": "[redacted]"}'
    assert fetched["responseBody"] == posted["responseBody"] == answered
    assert posted["requestBody"] == "user=jane&pwd=[redacted]&next=%2Fhome"
    cut = found["/api/ok?long=1"]["requestBody"]
    assert len(cut) == 10_240
    assert cut.endswith('"password":"[redac…')
    echo = json.loads(found["/api/ok?echo=1"]["responseBody"])["echo"]
    assert json.loads(echo) == {"user": "jane", "pin": "[redacted]"}
