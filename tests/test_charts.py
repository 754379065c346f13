"""The geometry of the report pages' SVG charts (replay/analytics/charts.py): round
ticks, interval bars where their values lie on the axis, lines that break where a value
is missing, bars as tall as their counts."""

from __future__ import annotations

import pytest

from replay.analytics import charts


@pytest.mark.parametrize(
    ("lo", "hi", "whole", "expected"),
    [
        (0.0, 0.318, False, [0.0, 0.1, 0.2, 0.3, 0.4]),
        (0.0, 0.51, False, [0.0, 0.2, 0.4, 0.6]),
        (-0.13, 2.55, False, [-1.0, 0.0, 1.0, 2.0, 3.0]),
        (0.0, 2.0, True, [0.0, 1.0, 2.0]),
        (0.0, 2.0, False, [0.0, 0.5, 1.0, 1.5, 2.0]),
        (0.0, 0.0, True, [0.0, 1.0]),
        (0.0, 930.0, True, [0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]),
    ],
)
def test_ticks_are_round_and_cover_the_values(lo, hi, whole, expected):
    assert charts.ticks(lo, hi, 5, whole=whole) == expected


def test_interval_bars_lie_where_their_values_are():
    chart = charts.intervals(
        [("a", 0.2, (0.118, 0.318), "control"), ("b", 0.4, (0.3, 0.51), "better")]
    )
    ticks = chart["ticks"]
    assert [t["label"] for t in ticks] == ["0 %", "20 %", "40 %", "60 %"]
    x0, x1 = ticks[0]["x"], ticks[-1]["x"]

    def at(value: float) -> float:
        return float(x0 + value / 0.6 * (x1 - x0))

    a, b = chart["rows"]
    assert a["bar"]["x"] == pytest.approx(at(0.118), abs=0.1)
    assert a["bar"]["x"] + a["bar"]["width"] == pytest.approx(at(0.318), abs=0.2)
    assert b["tick"] == pytest.approx(at(0.4), abs=0.1)
    assert b["middle"] > a["middle"]  # one row under the other
    assert chart["zero"] is None


def test_lifts_reach_both_ways_around_a_line_at_zero():
    chart = charts.intervals(
        [("b", -0.1, (-0.35, 0.2), "unsure"), ("c", None, None, "unsure")],
        around_zero=True,
        label=charts.signed_percent,
    )
    labels = [t["label"] for t in chart["ticks"]]
    assert labels[0].startswith("-")
    assert "0 %" in labels
    assert labels[-1].startswith("+")
    b, c = chart["rows"]
    assert b["bar"]["x"] < chart["zero"] < b["bar"]["x"] + b["bar"]["width"]
    assert b["tick"] < chart["zero"]
    # What cannot be computed is not drawn, and not drawn as zero.
    assert c["bar"] is None
    assert c["tick"] is None
    assert c["text"] == "\N{EN DASH}"


def test_lines_break_where_a_value_is_missing():
    chart = charts.lines(
        ["w1", "w2", "w3", "w4"],
        [("Retained", [None, 3, None, 5], "retained"), ("Active", [4, 6, 8, 10], "active")],
    )
    retained, active = chart["series"]
    assert len(retained["paths"]) == 2
    assert len(retained["dots"]) == 2
    assert len(active["paths"]) == 1
    assert len(active["dots"]) == 4
    ys = [d["y"] for d in active["dots"]]
    assert ys == sorted(ys, reverse=True)  # higher values higher up (smaller y)
    steps = {
        round(b["y"] - a["y"], 1) for a, b in zip(active["dots"], active["dots"][1:], strict=False)
    }
    assert len(steps) == 1  # equal rises, equal steps
    assert [t["label"] for t in chart["ticks"]] == ["0", "5", "10"]


def test_rates_are_drawn_as_percentages():
    chart = charts.lines(["d1", "d2"], [("Rate", [0.25, None], "rate")], fraction=True)
    assert chart["ticks"][-1]["label"] == "30 %"
    assert chart["series"][0]["dots"][0]["title"] == "d1: Rate 25 %"


def test_bars_are_as_tall_as_their_counts():
    chart = charts.bars(["1 day", "2 days", "3 days"], [4, 2, 0])
    heights = [b["height"] for b in chart["bars"]]
    assert heights[0] == pytest.approx(2 * heights[1], abs=0.2)
    assert heights[2] == 0
    assert [b["share"] for b in chart["bars"]] == ["67 %", "33 %", "0 %"]
