"""Hypothesis strategies for values of every msgpack type and shape: what JSON carries,
and what it cannot (binary, extension types, NaN, strings that pack as invalid UTF-8,
keys that are not strings)."""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import strategies as st

# Lone surrogates included: `pack` writes them as invalid UTF-8.
texts = st.text(alphabet=st.characters(exclude_categories=()), max_size=12)
keys = st.one_of(texts, st.integers(-3, 3), st.binary(max_size=3))
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
    st.binary(max_size=8),
    st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=4)),
    st.builds(msgpack.Timestamp, st.integers(0, 2**32 - 1)),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=16,
)


def pack(value: Any) -> bytes:
    """msgpack of any generated value, strings with lone surrogates as invalid UTF-8."""
    return bytes(msgpack.packb(value, use_bin_type=True, unicode_errors="surrogatepass"))
