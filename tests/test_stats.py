"""The experiment statistics (replay/analytics/stats.py) against SciPy's, to four decimal
places, on crafted groups: none converted, all converted, tiny and unequal groups."""

from __future__ import annotations

import math

import pytest
from scipy import integrate, stats

from replay.analytics.stats import chance_to_beat, lift, lift_interval, p_value, rate, wilson

GROUPS = [
    # (variant, control): (conversions, exposures)
    ((120, 1000), (100, 1000)),
    ((30, 200), (45, 1800)),  # unequal sizes
    ((0, 60), (5, 60)),  # no conversion in the variant
    ((5, 60), (0, 60)),  # none in the control
    ((60, 60), (58, 60)),  # all converted
    ((60, 60), (60, 60)),  # both all converted
    ((0, 50), (0, 70)),  # neither converted
    ((1, 3), (2, 5)),  # tiny
    ((480, 5000), (455, 5100)),
    ((2400, 30000), (2500, 30000)),
]


@pytest.mark.parametrize(("variant", "control"), GROUPS)
def test_wilson_intervals_equal_scipys(variant, control):
    for conversions, exposures in (variant, control):
        ours = wilson(conversions, exposures)
        theirs = stats.binomtest(conversions, exposures).proportion_ci(method="wilson")
        assert ours is not None
        assert ours == pytest.approx((theirs.low, theirs.high), abs=5e-5)


@pytest.mark.parametrize(("variant", "control"), GROUPS)
def test_lift_and_its_interval_equal_scipys_relative_risk(variant, control):
    (x1, n1), (x2, n2) = variant, control
    ours = lift(variant, control)
    interval = lift_interval(variant, control)
    if x2 == 0:
        assert ours is None  # over a control that never converted: no lift
    else:
        assert ours == pytest.approx((x1 / n1) / (x2 / n2) - 1, abs=5e-5)
    if x1 == 0 or x2 == 0:
        assert interval is None
        return
    risk = stats.contingency.relative_risk(x1, n1, x2, n2)
    low, high = risk.confidence_interval(confidence_level=0.95)
    assert interval == pytest.approx((low - 1, high - 1), abs=5e-5)


def z_test(variant: tuple[int, int], control: tuple[int, int]) -> float:
    """The pooled two-proportion z-test, from SciPy's normal distribution."""
    (x1, n1), (x2, n2) = variant, control
    pooled = (x1 + x2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 1.0
    return float(2 * stats.norm.sf(abs((x1 / n1 - x2 / n2) / spread)))


@pytest.mark.parametrize(("variant", "control"), GROUPS)
def test_p_values_equal_the_two_proportion_z_test(variant, control):
    assert p_value(variant, control) == pytest.approx(z_test(variant, control), abs=5e-5)


def test_the_z_test_agrees_with_the_chi_square_test_it_equals():
    # The pooled z-test is the chi-square test of the 2x2 table without correction.
    for variant, control in GROUPS[:4] + GROUPS[8:]:
        (x1, n1), (x2, n2) = variant, control
        table = [[x1, n1 - x1], [x2, n2 - x2]]
        chi = stats.chi2_contingency(table, correction=False)
        assert p_value(variant, control) == pytest.approx(chi.pvalue, abs=5e-5)


def integrated(variant: tuple[int, int], control: tuple[int, int]) -> float:
    """P(variant > control) under Beta(1, 1) priors, by numerical integration."""
    (x1, n1), (x2, n2) = variant, control
    b = stats.beta(x1 + 1, n1 - x1 + 1)
    a = stats.beta(x2 + 1, n2 - x2 + 1)
    value, _ = integrate.quad(lambda p: b.pdf(p) * a.cdf(p), 0, 1, limit=500, points=[b.mean()])
    return float(value)


@pytest.mark.parametrize(("variant", "control"), GROUPS)
def test_chance_to_beat_the_control_equals_the_integral(variant, control):
    ours = chance_to_beat(variant, control)
    assert ours == pytest.approx(integrated(variant, control), abs=5e-5)
    # And the other way round: the two chances add up to one.
    theirs = chance_to_beat(control, variant)
    assert ours is not None
    assert theirs is not None
    assert ours + theirs == pytest.approx(1, abs=1e-9)


def test_equal_groups_have_an_even_chance_and_nothing_is_made_up_of_nothing():
    assert chance_to_beat((50, 1000), (50, 1000)) == pytest.approx(0.5, abs=1e-9)
    assert rate(0, 0) is None
    assert wilson(0, 0) is None
    assert lift((1, 10), (0, 0)) is None
    assert p_value((1, 10), (0, 0)) is None
    assert chance_to_beat((0, 0), (1, 10)) is None
