"""What events may hold (ingest/values.py and its C walk, ingest/_values.c): checked
against msgpack's own reader on generated values and on arbitrary bytes."""

from __future__ import annotations

import math
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import _values
from ingest.values import MAX_DEPTH, ValueProblem, checked
from tests.msgpack_values import pack, values

REFUSALS = {
    _values.REFUSE_TRUNCATED,
    _values.REFUSE_EXTRA,
    _values.REFUSE_BINARY,
    _values.REFUSE_EXTENSION,
    _values.REFUSE_KEY,
    _values.REFUSE_DEPTH,
    _values.REFUSE_RESERVED,
}


def expected(data: bytes, max_depth: int) -> tuple[set[int], int]:
    """What the check must find, read with msgpack itself: the refusals the bytes earn
    (empty if none; the check names the first it meets) and, if none, the
    normalizations they need."""
    extra: set[int] = set()
    try:
        value = msgpack.unpackb(
            data, raw=False, strict_map_key=False, unicode_errors="surrogateescape"
        )
    except msgpack.ExtraData as exc:
        value, extra = exc.unpacked, {_values.REFUSE_EXTRA}
    except (ValueError, TypeError, msgpack.UnpackException):
        # Unreadable (truncated, a reserved byte, too deep, a list as a map key): the
        # check may meet something else to refuse first, but it must refuse.
        return REFUSALS, 0
    refusals = set(extra)
    flags = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                refusals.add(_values.REFUSE_DEPTH)
            children = list(item.values()) if isinstance(item, dict) else item
            stack += [(child, depth + 1) for child in children]
            if isinstance(item, dict):
                for key in item:
                    if isinstance(key, str):
                        if any(0xD800 <= ord(c) <= 0xDFFF for c in key):
                            flags |= _values.BAD_UTF8
                        continue
                    refusals.add(_values.REFUSE_KEY)
                    if isinstance(key, bytes):  # the check meets it as binary first
                        refusals.add(_values.REFUSE_BINARY)
                    if isinstance(key, msgpack.ExtType | msgpack.Timestamp):
                        refusals.add(_values.REFUSE_EXTENSION)
        elif isinstance(item, bytes):
            refusals.add(_values.REFUSE_BINARY)
        elif isinstance(item, msgpack.ExtType | msgpack.Timestamp):
            refusals.add(_values.REFUSE_EXTENSION)
        elif isinstance(item, float) and not math.isfinite(item):
            flags |= _values.NONFINITE
        elif isinstance(item, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in item):
            flags |= _values.BAD_UTF8
    return refusals, flags


def agrees(data: bytes, max_depth: int) -> None:
    status, offset = _values.check(data, max_depth)
    refusals, flags = expected(data, max_depth)
    if refusals:
        assert status in refusals, (data, status, refusals)
        assert 0 <= offset <= len(data)
    else:
        assert status == flags, (data, status, flags)


@settings(max_examples=600, deadline=None)
@given(values, st.integers(1, 6))
def test_the_check_finds_what_msgpack_reads(value, max_depth):
    agrees(pack(value), max_depth)


@settings(max_examples=600, deadline=None)
@given(st.binary(max_size=64), st.integers(0, 40))
def test_the_check_refuses_what_msgpack_cannot_read(data, max_depth):
    agrees(data, max_depth)


@settings(max_examples=300, deadline=None)
@given(values, st.data())
def test_truncated_or_extended_values_are_refused(value, data):
    packed = pack(value)
    cut = data.draw(st.integers(0, max(0, len(packed) - 1)))
    agrees(packed[:cut], 10)
    agrees(packed + data.draw(st.binary(min_size=1, max_size=4)), 10)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"\xa2\xed\xa0", _values.BAD_UTF8),  # a surrogate, as CESU-8 writes it
        (b"\xa2\xc0\xaf", _values.BAD_UTF8),  # an overlong "/"
        (b"\xa4\xf4\x90\x80\x80", _values.BAD_UTF8),  # above U+10FFFF
        (b"\xa3\xe2\x82\xac", 0),  # the euro sign
        (b"\xa4\xf0\x9f\x98\x80", 0),  # an emoji
        (b"\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", _values.NONFINITE),  # NaN
        (b"\xca\xff\x80\x00\x00", _values.NONFINITE),  # float32 -infinity
        (b"\xcb\x7f\xef\xff\xff\xff\xff\xff\xff", 0),  # the largest finite double
        (b"\xc1", _values.REFUSE_RESERVED),
        (b"\xdd\xff\xff\xff\xff", _values.REFUSE_TRUNCATED),  # 4 billion items promised
        (b"\x91" * 5 + b"\xc0", _values.REFUSE_DEPTH),
    ],
)
def test_edge_cases(raw, status):
    assert _values.check(raw, 4)[0] == status


def test_normalizing_keeps_everything_else_and_refusing_names_the_problem():
    events = [{"type": 3, "timestamp": 1, "data": {"x": math.nan, "s": "ok\udcff", "n": [1.5]}}]
    fixed = msgpack.unpackb(checked(pack(events)))
    assert fixed == [
        {"type": 3, "timestamp": 1, "data": {"x": None, "s": "ok" + "\ufffd" * 3, "n": [1.5]}}
    ]
    plain = pack([{"type": 3, "timestamp": 1, "data": {"s": "café"}}])
    assert checked(plain) is plain  # nothing to change: the same bytes, not a copy
    deep: Any = None
    for _ in range(MAX_DEPTH):
        deep = [deep]
    with pytest.raises(ValueProblem, match=f"deeper than {MAX_DEPTH} levels"):
        checked(pack([{"type": 3, "timestamp": 1, "data": deep}]))
    checked(pack([{"type": 3, "timestamp": 1, "data": deep[0]}]))  # one level less: fine
