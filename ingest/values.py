"""What events may hold: what JSON can carry, so that everything acknowledged reads back
and exports as valid JSON. Pure: no Django, no IO.

Every received batch (a msgpack array of events) passes `checked` before it is stored.
The bytes are walked once in C (`ingest._values`, no Python objects built), so the
check keeps pace with the scan. What it finds:

- refused, with a reason naming it (close code 4400): binary strings and extension types
  (a msgpack Timestamp, say), map keys that are not strings, nesting deeper than
  `MAX_DEPTH` levels inside one event, a reserved byte, truncated or trailing bytes;
- normalized, as the browser's own ``JSON.stringify`` would have sent them: NaN and
  infinite numbers become null, and strings that are not valid UTF-8 (a JavaScript
  string with a lone surrogate, as some msgpack encoders write it) have each invalid
  sequence replaced by U+FFFD. Only the events of such a batch are decoded again.
"""

from __future__ import annotations

import math
from typing import Any

import msgpack

from ingest import _values

# Levels of maps and arrays inside one event, the event's own map included. A page's
# snapshot nests two levels per level of its DOM (a node, its childNodes), so this takes
# documents about 150 elements deep; real pages rarely pass 40. Below it, every reader
# (msgpack, JSON, the cleaning and mirroring walks) has room to spare.
MAX_DEPTH = 300

_REFUSALS = {
    _values.REFUSE_TRUNCATED: "events are truncated",
    _values.REFUSE_EXTRA: "extra bytes after the events",
    _values.REFUSE_BINARY: "events hold a binary value (msgpack bin), which JSON cannot carry",
    _values.REFUSE_EXTENSION: "events hold a msgpack extension type, which JSON cannot carry",
    _values.REFUSE_KEY: "events hold a map key that is not a string",
    _values.REFUSE_DEPTH: f"an event nests deeper than {MAX_DEPTH} levels",
    _values.REFUSE_RESERVED: "events hold the reserved msgpack byte 0xc1",
}


class ValueProblem(ValueError):
    """The events hold something JSON cannot carry and that cannot be normalized."""


def checked(packed: bytes) -> bytes:
    """The events as they may be stored: `packed` itself when nothing needs changing,
    or normalized bytes; or ValueProblem naming what is refused and where."""
    status, offset = _values.check(packed, MAX_DEPTH + 1)  # +1: the batch's own array
    if status < 0:
        raise ValueProblem(f"{_REFUSALS[status]} (at byte {offset})")
    if status == 0:
        return packed
    events = msgpack.unpackb(packed, raw=False, unicode_errors="replace")
    normalized: bytes = msgpack.packb(_finite(events), use_bin_type=True)
    return normalized


def _finite(value: Any) -> Any:
    """`value` with every NaN or infinite float replaced by None, in place (without
    recursion: nesting is bounded, but the walk need not depend on it)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    stack = [value] if isinstance(value, dict | list) else []
    while stack:
        item = stack.pop()
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in list(pairs):
            if isinstance(child, float) and not math.isfinite(child):
                item[key] = None
            elif isinstance(child, dict | list):
                stack.append(child)
    return value
