"""The sensitive parameters of URLs, redacted wherever the URLs stand in a text: a string
that is one URL, or URLs within a message, a JSON string, a style rule. A parameter is
sensitive by its name (a token, a password, a signed URL's signature...), in the query
and in the fragment, where sign-in flows hand the page its tokens (`#access_token=...`)
and hash routers keep a query of their own (`#/reset?token=...`). Part of scrubbing
(`replay.scrub`). Pure."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Names whose values are secrets or personal, whatever they look like; among them the
# signatures of signed URLs (S3's X-Amz-Signature and -Credential, CloudFront's
# Signature, Azure's sig), which let whoever holds one fetch a private file.
SENSITIVE_NAMES = re.compile(
    r"(?i:token|secret|password|passwd|pwd|auth|session|key|code|email|mail|phone|ssn|card"
    r"|signature|credential|ticket|^sig$|^otp$)"
)
# A URL in a text is found by its "://": the scheme before it, and after it the rest up
# to a space, a quote, an angle bracket or a backslash (the escape of a quote in JSON
# text within a text: `"{\"u\": \"https://...\"}"`).
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_URL_REST = re.compile(r"[^\s\"'<>`\\]*")


def redact_urls(text: str) -> str:
    """The text with the sensitive parameters of each URL in it redacted."""
    pieces: list[str] = []
    done = 0  # the text up to here is in `pieces`
    at = text.find("://")
    while at >= 0:
        start = at
        while start > done and text[start - 1] in _SCHEME_CHARS:
            start -= 1
        match = _URL_REST.match(text, at + 3)
        end = match.end() if match else at + 3
        url = text[start:end]
        if "?" in url or "#" in url:
            redacted = redact_parameters(url)
            if redacted != url:
                pieces += [text[done:start], redacted]
                done = end
        at = text.find("://", end)
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def redact_parameters(url: str) -> str:
    """The URL with the values of its sensitive parameters as `[redacted]`: those of its
    query, and those of its fragment (`#access_token=...`, or after a hash route's own
    `?`: `#/reset?token=...`). A URL with none is returned as it was."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    query = _redacted_pairs(parts.query)
    route, mark, tail = parts.fragment.rpartition("?")
    fragment = route + mark + _redacted_pairs(tail) if "=" in tail else parts.fragment
    if query == parts.query and fragment == parts.fragment:
        return url
    return urlunsplit(parts._replace(query=query, fragment=fragment))


def _redacted_pairs(text: str) -> str:
    """`name=value&...` with the values of sensitive names redacted (the text as it was
    when none is)."""
    try:
        pairs = parse_qsl(text, keep_blank_values=True)
    except ValueError:
        return text
    if not any(SENSITIVE_NAMES.search(name) for name, _ in pairs):
        return text
    cleaned = [
        (name, "[redacted]" if SENSITIVE_NAMES.search(name) else value) for name, value in pairs
    ]
    return urlencode(cleaned, safe="[]")
