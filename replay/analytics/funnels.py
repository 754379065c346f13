"""Funnels: how far each entity (a session, or a user across sessions) went through a
sequence of steps, each step an action's matchers or one matcher. Pure: the queries
that feed it are in `replay.analytics.funnel_query`.

An attempt starts at a step-1 record inside the funnel's time range. Then, by order:

- `sequential`: step k+1 is the first record after step k's (at the same time or
  later; records at equal times count in step order) that matches it;
- `strict`: step k+1 must be the entity's next record of kind pageview, click, input,
  custom or error after step k (other kinds, such as friction, do not interrupt);
- `any`: the steps may come in any order; an attempt starts at a record of any step,
  and its k-th step is the k-th distinct step it completes.

Every step must come within the window from the attempt's start (exactly at the window
counts; one millisecond past does not), or, with the session window, in the session of
its start. An entity counts once, at the furthest step any of its attempts reached (the
earliest such attempt gives its moments). An entity with an attempt in which an
exclusion's record comes between its steps I and J is left out entirely."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from replay.analytics.matchers import Matcher, any_matches

ORDERS = ("sequential", "strict", "any")
# What interrupts a strict funnel: the records of what the user did.
INTERRUPTING = frozenset(["pageview", "click", "input", "custom", "error"])


@dataclass
class Exclusion:
    matchers: list[Matcher]
    after: int  # step numbers, 1-based: the exclusion is between these two steps
    before: int


@dataclass
class Spec:
    steps: list[list[Matcher]]  # each step's matchers (any may match)
    order: str = "sequential"
    window_ms: int | None = 7 * 24 * 3600 * 1000  # None: the session of the start
    exclusions: list[Exclusion] = field(default_factory=list)

    @property
    def matchers(self) -> list[Matcher]:
        """Every matcher of the steps and of the exclusions."""
        found = [m for step in self.steps for m in step]
        return found + [m for exclusion in self.exclusions for m in exclusion.matchers]

    def mask(self, record: Any) -> int:
        """Which steps (bit k for step k) and exclusions (bit `len(steps) + e`) a record
        matches."""
        bits = 0
        for index, step in enumerate(self.steps):
            if any_matches(step, record):
                bits |= 1 << index
        for index, exclusion in enumerate(self.exclusions):
            if any_matches(exclusion.matchers, record):
                bits |= 1 << (len(self.steps) + index)
        return bits


@dataclass(slots=True)
class Candidate:
    """A record as a funnel reads it: when, in which session, and which steps and
    exclusions it matches (`Spec.mask`).

    A strict funnel is interrupted by any record of an interrupting kind, including
    those that match nothing and so are not among an entity's candidates:
    `other_before` is the latest time before `ts` at which the entity had such a record
    (None: none, or the funnel is not strict, or every record is a candidate)."""

    session_id: str
    ts: int
    kind: str
    mask: int
    other_before: int | None = None
    url: str = ""
    data: Any = None  # what a breakdown reads of step 1 (as the query fetched it)


@dataclass
class Outcome:
    """How far an entity went: the records of the steps it completed, in step order
    (for `any`, in the order it completed them), or excluded."""

    steps: list[Candidate]
    excluded: bool = False

    @property
    def reached(self) -> int:
        return len(self.steps)


def evaluate(records: Sequence[Candidate], spec: Spec, since_ms: int, until_ms: int) -> Outcome:
    """The furthest attempt of one entity, given its candidates in time order (ts, then
    id): every record that matches a step or an exclusion, and for a strict funnel the
    other records of interrupting kinds (or their times, in `other_before`)."""
    best: list[Candidate] = []
    excluded = False
    for start, row in enumerate(records):
        if not since_ms <= row.ts < until_ms:
            continue
        firsts = range(len(spec.steps)) if spec.order == "any" else [0]
        for first in firsts:
            if not row.mask >> first & 1:
                continue
            if spec.order == "any":
                taken = _any_order(records, spec, start, first)
            else:
                taken = _in_order(records, spec, start)
            chosen = [records[i] for i in taken]
            if _excluded(records, spec, taken):
                excluded = True
            if len(chosen) > len(best):
                best = chosen
        if len(best) == len(spec.steps) and not spec.exclusions:
            break  # no later attempt goes further (with exclusions, one may exclude)
    return Outcome(best, excluded)


def _within(spec: Spec, start: Candidate, row: Candidate) -> bool:
    if spec.window_ms is None:
        return row.session_id == start.session_id
    return row.ts - start.ts <= spec.window_ms


def _in_order(records: Sequence[Candidate], spec: Spec, start: int) -> list[int]:
    """Indexes of the records that complete steps 1, 2... in order, from `start`."""
    taken = [start]
    for step in range(1, len(spec.steps)):
        previous = taken[-1]
        found = None
        # Records at the same time as the previous step's count in step order: look
        # from the first record of that time on.
        at = previous
        while at > 0 and records[at - 1].ts == records[previous].ts:
            at -= 1
        if spec.order == "strict":
            found = _next_strict(records, step, at, taken)
        else:
            for index in range(at, len(records)):
                if index in taken:
                    continue
                if not _within(spec, records[start], records[index]):
                    if spec.window_ms is not None:
                        break
                    continue
                if records[index].mask >> step & 1:
                    found = index
                    break
        if found is None or not _within(spec, records[start], records[found]):
            break
        taken.append(found)
    return taken


def _next_strict(records: Sequence[Candidate], step: int, at: int, taken: list[int]) -> int | None:
    """The record of `step` if it is the entity's next record (among those at the next
    time, one that matches comes first), or None if another record interrupts."""
    index = at
    while index < len(records) and (
        index in taken
        or not (records[index].kind in INTERRUPTING or records[index].mask >> step & 1)
    ):
        index += 1
    if index == len(records):
        return None
    other = records[index].other_before
    if other is not None and other >= records[at].ts:
        return None  # the entity did something that matches nothing in between
    same = index
    while same < len(records) and records[same].ts == records[index].ts:
        if same not in taken and records[same].mask >> step & 1:
            return same
        same += 1
    return None  # the next thing the user did was something else


def _any_order(records: Sequence[Candidate], spec: Spec, start: int, first: int) -> list[int]:
    """Indexes of the records completing distinct steps, in the order they came."""
    taken = [start]
    done = {first}
    at = start
    while at > 0 and records[at - 1].ts == records[start].ts:
        at -= 1
    for index in range(at, len(records)):
        if index == start or index in taken:
            continue
        if not _within(spec, records[start], records[index]):
            if spec.window_ms is not None and records[index].ts > records[start].ts:
                break
            continue
        mask = records[index].mask
        new = [step for step in range(len(spec.steps)) if mask >> step & 1 and step not in done]
        if new:
            done.add(new[0])
            taken.append(index)
        if len(done) == len(spec.steps):
            break
    return taken


def _excluded(records: Sequence[Candidate], spec: Spec, taken: list[int]) -> bool:
    for number, exclusion in enumerate(spec.exclusions):
        if len(taken) < exclusion.before:
            continue
        bit = 1 << (len(spec.steps) + number)
        low = records[taken[exclusion.after - 1]].ts
        high = records[taken[exclusion.before - 1]].ts
        if any(low < row.ts < high and row.mask & bit for row in records):
            return True
    return False


# Breakdowns by the browser and the device of a session, from its user agent.
_BROWSERS = [
    ("Edge", re.compile(r"Edg(e|A|iOS)?/")),
    ("Opera", re.compile(r"OPR/|Opera")),
    ("Samsung Internet", re.compile(r"SamsungBrowser/")),
    ("Firefox", re.compile(r"Firefox/|FxiOS/")),
    ("Chrome", re.compile(r"Chrome/|CriOS/|Chromium/")),
    ("Safari", re.compile(r"Safari/")),
]


def browser(user_agent: str) -> str:
    for name, pattern in _BROWSERS:
        if pattern.search(user_agent):
            return name
    return "Other" if user_agent else "Unknown"


def device(user_agent: str) -> str:
    if not user_agent:
        return "Unknown"
    if re.search(r"iPad|Tablet|(Android(?!.*Mobile))", user_agent):
        return "Tablet"
    if re.search(r"Mobi|iPhone|Android", user_agent):
        return "Mobile"
    return "Desktop"


def percentile(values: Sequence[float], share: float) -> float | None:
    """The value below which `share` of them lie (nearest rank), or None."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]
