"""What a project tells its recorders about privacy: masking, blocking, pages where
nothing is recorded, consent, sampling, Do Not Track, and what of the console and the
network they capture. The options live on the
project (edited in the admin) and reach the browser in two ways: `GET /ingest/config`,
which the recorder asks before it records anything, and every `welcome` frame, so that
a change reaches pages that are already recording at their next connection, with no
redeploy of the site. Pure: no Django, no IO.

The wire form is a map of snake_case names (README, "Privacy options"). Selectors are
checked here only for what would break the recorder's page or our own HTML; the
recorder checks them again with the browser's parser and records nothing when one does
not parse (it fails closed: a mask that does not apply must not leak what it was for).
"""

from __future__ import annotations

import re
from typing import Any, TypedDict

MAX_SELECTOR_CHARS = 2000
MAX_URL_PATTERNS = 100
MAX_URL_PATTERN_CHARS = 500


class RecordingConfig(TypedDict):
    mask_all_inputs: bool
    mask_all_text: bool
    block_selector: str
    mask_selector: str
    ignore_selector: str
    excluded_urls: list[str]
    require_consent: bool
    sample_rate: float
    respect_dnt: bool
    capture_console: bool
    capture_network: bool
    capture_network_bodies: bool
    network_headers: list[str]
    credential_fields: dict[str, str]


def selector_problem(selector: str) -> str | None:
    """Why a CSS selector cannot be sent to recorders, or None."""
    if len(selector) > MAX_SELECTOR_CHARS:
        return f"longer than {MAX_SELECTOR_CHARS} characters"
    if any(char in selector for char in "{}<;"):
        return "a selector cannot contain {, }, < or ;"
    if selector.strip().endswith(","):
        return "ends with a comma"
    return None


def url_patterns_problem(patterns: Any) -> str | None:
    """Why a list of excluded-URL patterns cannot be used, or None."""
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        return 'a list of strings, e.g. ["/account/*", "*?private=*"]'
    if len(patterns) > MAX_URL_PATTERNS:
        return f"at most {MAX_URL_PATTERNS} patterns"
    for pattern in patterns:
        if not pattern.strip():
            return "an empty pattern would match nothing; remove it"
        if len(pattern) > MAX_URL_PATTERN_CHARS:
            return f"{pattern[:40]!r}…: longer than {MAX_URL_PATTERN_CHARS} characters"
    return None


# Headers that carry credentials: never recorded, whatever a project's list says (the
# recorder leaves them out, and the server drops them from any client's events).
SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})
MAX_HEADERS = 50
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}")


def headers_problem(names: Any) -> str | None:
    """Why a list of header names to record cannot be used, or None."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return 'a list of header names, e.g. ["content-type", "x-request-id"]'
    if len(names) > MAX_HEADERS:
        return f"at most {MAX_HEADERS} headers"
    for name in names:
        if not _HEADER_NAME.fullmatch(name):
            return f"{name[:40]!r}: not a header name"
    return None


def allowed_headers(names: Any) -> list[str]:
    """The header names recorders may record: lower case, credentials left out."""
    if headers_problem(names):
        return []
    return sorted({n.lower() for n in names} - SECRET_HEADERS)
