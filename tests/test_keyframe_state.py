"""What a keyframe carries beside the DOM tree, for state rrweb's Replayer keeps outside
it: media playheads, loaded fonts and the selection. (The tree, scroll, form values and
sheets are checked against the Replayer itself in test_mirror_replay.)"""

from __future__ import annotations

from typing import Any

from replay.mirror import Mirror, keyframe
from tests.test_mirror_input import element, snapshot

Event = dict[str, Any]


def media(at: int, kind: int, **state: Any) -> Event:
    return {"type": 3, "timestamp": at, "data": {"source": 7, "type": kind, "id": 10, **state}}


def video(frame: list[Event]) -> dict[str, Any]:
    body = frame[1]["data"]["node"]["childNodes"][0]["childNodes"][0]
    attributes: dict[str, Any] = body["childNodes"][0]["attributes"]
    return attributes


def test_a_playing_video_is_where_its_playhead_would_be_at_the_keyframe():
    mirror = Mirror()
    playing = element(10, "video", src="/clip.mp4")
    playing["attributes"].update(rr_mediaState="played", rr_mediaCurrentTime=2)
    start = snapshot(playing)
    start["timestamp"] = 1_000
    mirror.apply(start)
    frame = keyframe(mirror, 4_000)
    assert frame is not None
    assert video(frame) == {
        "src": "/clip.mp4",
        "rr_mediaState": "played",
        "rr_mediaCurrentTime": 5,  # 2 s in at the snapshot, 3 s later
    }
    mirror.apply(media(5_000, 1, currentTime=6.0, volume=0.5, muted=False))  # paused
    frame = keyframe(mirror, 9_000)
    assert frame is not None
    assert video(frame) == {
        "src": "/clip.mp4",
        "rr_mediaState": "paused",
        "rr_mediaCurrentTime": 6.0,
        "rr_mediaVolume": 0.5,
        "rr_mediaMuted": False,
    }
    mirror.apply(media(10_000, 4, currentTime=6.0, playbackRate=2))  # faster, still paused
    mirror.apply(media(10_000, 0, currentTime=6.0))  # playing again
    frame = keyframe(mirror, 11_500)
    assert frame is not None
    assert video(frame)["rr_mediaState"] == "played"
    assert video(frame)["rr_mediaCurrentTime"] == 9.0  # 1.5 s at twice the speed
    assert video(frame)["rr_mediaPlaybackRate"] == 2


def test_fonts_and_the_selection_come_back_and_a_snapshot_clears_the_selection():
    mirror = Mirror()
    mirror.apply(snapshot(element(10)))
    font = {"source": 10, "family": "Brand", "fontSource": "url(/brand.woff2)", "buffer": False}
    mirror.apply({"type": 3, "timestamp": 2, "data": font})
    ranges = [{"start": 10, "startOffset": 0, "end": 10, "endOffset": 1}]
    mirror.apply({"type": 3, "timestamp": 3, "data": {"source": 14, "ranges": ranges}})
    frame = keyframe(mirror, 4)
    assert frame is not None
    extras = [e["data"] for e in frame if e["type"] == 3 and e["data"]["source"] in (10, 14)]
    assert extras == [font, {"source": 14, "ranges": ranges}]
    mirror.apply(snapshot(element(10)))
    frame = keyframe(mirror, 5)
    assert frame is not None
    assert [e["data"]["source"] for e in frame if e["type"] == 3] == [10]  # the font stays
