"""A server-side model of each page's DOM, kept from rrweb events (see `state`), and the
keyframes synthesized from it (see `keyframe`). Pure: no Django, no IO."""

from replay.mirror.keyframe import keyframe, stuck
from replay.mirror.state import Mirror

__all__ = ["Mirror", "keyframe", "stuck"]
