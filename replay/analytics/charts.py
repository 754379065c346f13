"""The geometry of the charts the report pages draw as SVG on the server (experiments:
intervals as bars; adoption: lines over time and bars): scales with round ticks, and
every mark's place in the chart's own units (its `viewBox`), so a template only writes
the elements. Pure: no Django, no IO.

A value that is missing (None: a rate of no one, a lift over a control that never
converted) is not drawn, never drawn as zero; a line breaks there."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

WIDTH = 720
ROW = 34  # the height of a row of an interval chart
LABEL = 150  # the width of the labels left of an interval chart
PAD = 16


def percent(value: float | None, digits: int = 1) -> str:
    return "\N{EN DASH}" if value is None else f"{value * 100:.{digits}f} %"


def signed_percent(value: float | None, digits: int = 1) -> str:
    return "\N{EN DASH}" if value is None else f"{value * 100:+.{digits}f} %"


def nice_step(span: float, count: int) -> float:
    """A step of 1, 2 or 5 times a power of ten that cuts `span` in about `count`."""
    if span <= 0:
        return 1.0
    rough = span / max(1, count)
    power = 10 ** math.floor(math.log10(rough))
    for factor in (1, 2, 5, 10):
        if rough <= factor * power:
            return float(factor * power)
    return float(10 * power)  # (unreachable: rough <= 10 * power)


def ticks(lo: float, hi: float, count: int = 5, *, whole: bool = False) -> list[float]:
    """Round values from at or below `lo` to at or above `hi`, about `count` steps
    (of at least 1 if `whole`: counts of people)."""
    if hi <= lo:
        hi = lo + 1
    step = nice_step(hi - lo, count)
    if whole:
        step = max(1.0, step)
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [round(n * step, 12) for n in range(first, last + 1)]


def _scale(lo: float, hi: float, start: float, end: float) -> Callable[[float], float]:
    def at(value: float) -> float:
        return round(start + (value - lo) / (hi - lo) * (end - start), 1)

    return at


def intervals(
    rows: Sequence[tuple[str, float | None, tuple[float, float] | None, str]],
    *,
    around_zero: bool = False,
    label: Callable[[float | None], str] = percent,
) -> dict[str, Any]:
    """Horizontal interval bars, one row per `(name, value, (lo, hi), tone)`: the bar
    spans the interval, a tick marks the value. Rates start the axis at 0; lifts
    (`around_zero`) have a line at 0 and reach both ways as far as needed."""
    shown = [interval for _, _, interval, _ in rows if interval is not None]
    values = [v for _, v, _, _ in rows if v is not None]
    lo = min([lo for lo, _ in shown] + values + [0.0])
    hi = max([hi for _, hi in shown] + values + [0.0 if around_zero else 0.01])
    marks = ticks(lo, hi, 5)
    x = _scale(marks[0], marks[-1], LABEL, WIDTH - PAD * 3)
    top = PAD
    drawn = []
    for n, (name, value, interval, tone) in enumerate(rows):
        y = top + n * ROW
        drawn.append(
            {
                "name": name,
                "y": y,
                "middle": y + ROW / 2,
                "bar": None
                if interval is None
                else {
                    "x": x(interval[0]),
                    "width": round(max(1.0, x(interval[1]) - x(interval[0])), 1),
                },
                "tick": None if value is None else x(value),
                "tone": tone,
                "text": label(value),
                "range": ""
                if interval is None
                else f"{label(interval[0])} to {label(interval[1])}",
            }
        )
    bottom = top + len(rows) * ROW
    return {
        "width": WIDTH,
        "height": bottom + PAD * 2,
        "rows": drawn,
        "axis": {"y": bottom, "x0": LABEL, "x1": WIDTH - PAD * 3},
        "ticks": [{"x": x(m), "label": _round_label(m, label)} for m in marks],
        "zero": x(0.0) if around_zero else None,
        "bottom": bottom,
    }


def _round_label(value: float, label: Callable[[float | None], str]) -> str:
    """A tick's label: 20 %, +100 %, and 0 % without a sign."""
    return "0 %" if value == 0 else label(value).replace(".0 %", " %")


def lines(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None], str]],
    *,
    fraction: bool = False,
    height: int = 260,
) -> dict[str, Any]:
    """Lines over evenly spaced moments (`labels`), one per `(name, values, tone)`,
    from 0 up; `fraction` values are drawn as percentages."""
    left, bottom, top, right = 56, height - 40, PAD, WIDTH - 44
    values = [v for _, vs, _ in series for v in vs if v is not None]
    hi = max([*values, 0.01 if fraction else 1.0])
    marks = ticks(0.0, hi, 4, whole=not fraction)
    y = _scale(marks[0], marks[-1], bottom, top)
    count = len(labels)
    step = (right - left) / max(1, count - 1)

    def x(n: int) -> float:
        return round(left + (step * n if count > 1 else (right - left) / 2), 1)

    def text(value: float) -> str:
        return percent(value, 0) if fraction else f"{value:,.0f}"

    drawn = []
    for name, vs, tone in series:
        runs: list[list[str]] = [[]]
        dots = []
        for n, value in enumerate(vs):
            if value is None:
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append(f"{x(n)},{y(value)}")
            dots.append({"x": x(n), "y": y(value), "title": f"{labels[n]}: {name} {text(value)}"})
        drawn.append(
            {
                "name": name,
                "tone": tone,
                "paths": [" ".join(run) for run in runs if run],
                "dots": dots,
            }
        )
    every = max(1, math.ceil(count / 8))  # at most about 8 labels under the axis
    return {
        "width": WIDTH,
        "height": height,
        "series": drawn,
        "left": left,
        "right": right,
        "bottom": bottom,
        "ticks": [{"y": y(m), "label": text(m)} for m in marks],
        "labels": [{"x": x(n), "label": name} for n, name in enumerate(labels) if n % every == 0],
    }


def bars(labels: Sequence[str], values: Sequence[int], *, height: int = 220) -> dict[str, Any]:
    """Vertical bars, one per label, from 0 up."""
    left, bottom, top, right = 56, height - 40, PAD + 10, WIDTH - PAD
    marks = ticks(0.0, max([*values, 1]), 4, whole=True)
    y = _scale(marks[0], marks[-1], bottom, top)
    slot = (right - left) / max(1, len(values))
    total = sum(values)
    every = max(1, math.ceil(len(values) / 16))  # at most about 16 labels under the axis
    drawn = []
    for n, (name, value) in enumerate(zip(labels, values, strict=True)):
        drawn.append(
            {
                "label": name,
                "shown": n % every == 0,
                "value": value,
                "share": percent(value / total, 0) if total else "\N{EN DASH}",
                "x": round(left + slot * n + slot * 0.15, 1),
                "width": round(slot * 0.7, 1),
                "y": y(value),
                "height": round(bottom - y(value), 1),
                "middle": round(left + slot * n + slot / 2, 1),
            }
        )
    return {
        "width": WIDTH,
        "height": height,
        "bars": drawn,
        "left": left,
        "right": right,
        "bottom": bottom,
        "ticks": [{"y": y(m), "label": f"{m:,.0f}"} for m in marks],
    }


def spark(values: Sequence[int], *, width: int = 140, height: int = 28) -> dict[str, Any]:
    """A small bar per value (a day's count), for a row of a list: as tall as the
    value against the largest; zero is a thin line, so the days stay visible."""
    top = max([*values, 1])
    slot = width / max(1, len(values))
    drawn = []
    for n, value in enumerate(values):
        tall = round(max(1.0, value / top * (height - 2)), 1)
        drawn.append(
            {
                "x": round(n * slot, 1),
                "y": round(height - tall, 1),
                "width": round(max(1.0, slot - 1), 1),
                "height": tall,
                "value": value,
            }
        )
    return {"width": width, "height": height, "bars": drawn}
