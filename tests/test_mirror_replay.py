"""The DOM mirror against rrweb itself: for each recording and several moments, what
rrweb's Replayer shows when it starts from our keyframe equals what it shows after
replaying the recording from the beginning."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from replay.mirror import Mirror, keyframe
from tests.replayer import open_oracle, picture
from tests.support import CORPUS, load_recording

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def oracle(browser: Any) -> Any:
    page = open_oracle(browser)
    yield page
    page.close()


def cuts(events: list[dict[str, Any]], count: int) -> list[int]:
    """Evenly spread cut points after the first full snapshot."""
    first = next(i for i, e in enumerate(events) if e["type"] == 2) + 1
    step = max(1, (len(events) - first) // count)
    return list(range(first + step // 2, len(events), step))[:count]


def difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two pictures first differ, for a readable failure."""
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                side = "the keyframe's" if key in a else "the whole replay's"
                return f"{path}.{key}: only in {side}: {a.get(key, b.get(key))!r:.300}"
            found = difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list):
        for index, (x, y) in enumerate(zip(a, b, strict=False)):
            found = difference(x, y, f"{path}[{index}]")
            if found:
                return found
        if len(a) != len(b):
            return (
                f"{path}: {len(a)} items != {len(b)}; extra: {(a[len(b) :] or b[len(a) :])!r:.300}"
            )
        return None
    return None if a == b else f"{path}: {a!r:.300} != {b!r:.300}"


def check(oracle: Any, events: list[dict[str, Any]], cut: int) -> None:
    mirror = Mirror()
    for event in copy.deepcopy(events[:cut]):  # the mirror keeps and changes what it gets
        mirror.apply(event)
    at = events[cut - 1]["timestamp"]
    frame = keyframe(mirror, at)
    assert frame is not None
    tail = events[cut:]
    start = events[0]["timestamp"]
    later = events[min(cut + 25, len(events) - 1)]["timestamp"]
    for moment in (at + 0.5, later + 0.5):
        whole = picture(oracle, events, moment - start)
        from_keyframe = picture(oracle, frame + tail, moment - at)
        problem = difference(from_keyframe, whole)
        assert problem is None, f"cut {cut}, {moment - start:.0f} ms in: {problem}"


@pytest.mark.parametrize("name", CORPUS)
def test_a_keyframe_replays_to_what_the_whole_recording_shows(oracle, name):
    events = load_recording(name)
    for cut in cuts(events, 6):
        check(oracle, events, cut)
