"""The statistics of an experiment report (README, "Experiments"): a conversion rate with
its 95 % Wilson interval, the relative lift of a variant over the control with its 95 %
interval, the two-sided p-value of the two-proportion z-test, and the Bayesian chance
that a variant beats the control. Pure: no Django, no IO, no sampling.

A group is (conversions, exposures). What cannot be computed (a rate of nothing, a lift
over a control that never converted) is None, never a number made up."""

from __future__ import annotations

import math
from statistics import NormalDist

Z95 = NormalDist().inv_cdf(0.975)  # 1.959963984540054


def rate(conversions: int, exposures: int) -> float | None:
    return conversions / exposures if exposures else None


def wilson(conversions: int, exposures: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion: sound at 0 % and 100 % and on small
    groups, where the normal approximation gives intervals outside 0..1."""
    if not exposures:
        return None
    p = conversions / exposures
    z2 = z * z
    centre = (p + z2 / (2 * exposures)) / (1 + z2 / exposures)
    half = (z / (1 + z2 / exposures)) * math.sqrt(
        p * (1 - p) / exposures + z2 / (4 * exposures * exposures)
    )
    return max(0.0, centre - half), min(1.0, centre + half)


def lift(variant: tuple[int, int], control: tuple[int, int]) -> float | None:
    """The variant's rate over the control's, less one (0.1: ten percent better)."""
    ours, theirs = rate(*variant), rate(*control)
    if ours is None or not theirs:
        return None
    return ours / theirs - 1


def lift_interval(
    variant: tuple[int, int], control: tuple[int, int], z: float = Z95
) -> tuple[float, float] | None:
    """The 95 % interval of the lift: the ratio of the rates' log-normal interval
    (Katz's), less one. None when either group has no conversion (its log is unbounded)."""
    (x1, n1), (x2, n2) = variant, control
    if not (x1 and n1 and x2 and n2):
        return None
    ratio = (x1 / n1) / (x2 / n2)
    spread = z * math.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
    return ratio * math.exp(-spread) - 1, ratio * math.exp(spread) - 1


def p_value(variant: tuple[int, int], control: tuple[int, int]) -> float | None:
    """The two-sided p-value of the two-proportion z-test with a pooled proportion.
    When both groups are all converted or all not, they do not differ: 1."""
    (x1, n1), (x2, n2) = variant, control
    if not (n1 and n2):
        return None
    pooled = (x1 + x2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 1.0
    z = (x1 / n1 - x2 / n2) / spread
    return 2 * NormalDist().cdf(-abs(z))


def chance_to_beat(variant: tuple[int, int], control: tuple[int, int]) -> float | None:
    """P(variant's rate > control's) with Beta(1, 1) priors, exactly: for integer Beta
    parameters the probability is a finite sum (Evan Miller, "Formulas for Bayesian A/B
    testing"), added here in log space. Its terms are as many as the variant's
    conversions plus one; the sum runs over the smaller side when that is cheaper."""
    (x1, n1), (x2, n2) = variant, control
    if not (n1 and n2):
        return None
    a_b, b_b = x1 + 1, n1 - x1 + 1  # the variant's posterior
    a_a, b_a = x2 + 1, n2 - x2 + 1  # the control's
    if a_b > b_a:
        # P(B > A) = P(1 - A > 1 - B): the same sum with the roles and the sides turned,
        # over the control's non-conversions instead.
        return _beats(b_b, a_b, b_a, a_a)
    return _beats(a_a, b_a, a_b, b_b)


def _beats(a_a: int, b_a: int, a_b: int, b_b: int) -> float:
    """P(X_B > X_A), X_A ~ Beta(a_a, b_a), X_B ~ Beta(a_b, b_b), integer parameters:
    the sum over i < a_b of B(a_a + i, b_a + b_b) / ((b_b + i) B(1 + i, b_b) B(a_a, b_a))."""
    log_beta_a = _log_beta(a_a, b_a)
    total = 0.0
    for i in range(a_b):
        log_term = (
            _log_beta(a_a + i, b_a + b_b) - math.log(b_b + i) - _log_beta(1 + i, b_b) - log_beta_a
        )
        total += math.exp(log_term)
    return min(1.0, max(0.0, total))


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
