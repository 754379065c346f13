"""Node ids as differences, a reversible rewrite of a batch's events that compresses.

rrweb numbers the page's nodes in document order and names them in every mutation
(`id`, `parentId`, `nextId`...). A page that re-renders a list adds hundreds of nodes
whose ids count up one by one; written as they are, each is a fresh two- or three-byte
number zstd cannot predict. Written as the difference from the previous value under the
same name, they become runs of small, repeating numbers: compacted blocks of the
10-minute corpus recording shrink by a quarter.

The rewrite walks each event's maps and lists in order and touches only integers (not
booleans) under the names in `ID_NAMES`; `restore` walks the same way and adds back, so
`restore(rewrite(x)) == x` for any events. Each batch starts from zero, so a reader can
restore any batch alone. Pure: no Django, no IO.
"""

from __future__ import annotations

from typing import Any

ID_NAMES = frozenset({"id", "parentId", "nextId", "previousId", "rootId"})
_INT64 = (-(2**63), 2**63 - 1)


def rewrite(events: list[Any]) -> bool:
    """Rewrite the events' node ids, in place, as differences; False, leaving them as
    they are, when a difference would not fit in 64 bits as msgpack needs (only hostile
    ids do that: the first pass checks, the second rewrites)."""
    try:
        _walk(events, {}, 0)
    except OverflowError:
        return False
    _walk(events, {}, 1)
    return True


def restore(events: list[Any]) -> None:
    """Undo `rewrite`, in place."""
    _walk(events, {}, -1)


def _walk(value: Any, last: dict[str, int], mode: int) -> None:
    """mode 0: check that every difference fits; 1: rewrite; -1: restore."""
    if type(value) is dict:
        for name, item in value.items():
            if type(item) is int and name in ID_NAMES:
                before = last.get(name, 0)
                if mode >= 0:
                    difference = item - before
                    if mode == 0 and not _INT64[0] <= difference <= _INT64[1]:
                        raise OverflowError(name)
                    if mode == 1:
                        value[name] = difference
                    last[name] = item
                else:
                    value[name] = last[name] = item + before
            elif type(item) is dict or type(item) is list:
                _walk(item, last, mode)
    elif type(value) is list:
        for item in value:
            if type(item) is dict or type(item) is list:
                _walk(item, last, mode)
