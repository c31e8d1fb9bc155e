"""Power: the smallest effect the data at hand could have detected, and the sample a target
effect needs.

Proportions use Cohen's h with ``statsmodels.stats.power.NormalIndPower``; means use Cohen's d
with ``TTestIndPower``; any other estimate (DiD, ITS, NPS) uses its standard error:
MDE = (z_{1-alpha/2} + z_{power}) * SE (Bloom 1995), the same normal approximation.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import ParameterError
from ..results import Estimate
from .intervals import _normal_quantile, z_value

# statsmodels is imported where it is used: importing cxlab should not pay for it (issue 18); the
# normal quantiles come from the standard library (``_normal_quantile``), not scipy.

__all__ = [
    "mde_proportions",
    "sample_size_proportions",
    "mde_means",
    "sample_size_means",
    "mde_from_se",
    "with_power",
]


def _check(alpha: float, power: float) -> None:
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be between 0 and 1 (got {alpha})")
    if not 0 < power < 1:
        raise ParameterError(f"power must be between 0 and 1 (got {power}); 0.8 is usual")


def _h_to_rate(p_base: float, h: float) -> float:
    """The rate p1 with Cohen's h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p_base)) (clipped to [0, 1])."""
    angle = math.asin(math.sqrt(p_base)) + h / 2
    angle = min(max(angle, 0.0), math.pi / 2)
    return math.sin(angle) ** 2


def mde_proportions(
    p_base: float, n1: int, n2: int, *, alpha: float = 0.05, power: float = 0.8, direction: str = "increase"
) -> float:
    """Smallest change in a rate (in rate units, 0.02 = 2 points) that a two-sided test at
    ``alpha`` detects with probability ``power``, for groups of n1 and n2 units and a baseline
    rate ``p_base``. Solved in Cohen's h (NormalIndPower) and converted back around the baseline;
    ``direction`` "decrease" gives the size of the smallest detectable fall."""
    from statsmodels.stats.power import NormalIndPower

    _check(alpha, power)
    if not 0 <= p_base <= 1:
        raise ParameterError(f"p_base must be a rate between 0 and 1 (got {p_base})")
    if n1 < 2 or n2 < 2:
        return float("nan")
    h = NormalIndPower().solve_power(effect_size=None, nobs1=n1, ratio=n2 / n1, alpha=alpha, power=power)
    h = float(np.atleast_1d(h)[0])
    if direction == "decrease":
        return p_base - _h_to_rate(p_base, -h)
    return _h_to_rate(p_base, h) - p_base


def sample_size_proportions(
    p_base: float, effect: float, *, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0
) -> int:
    """Units needed in group 1 (group 2 has ``ratio`` times as many) to detect a change of
    ``effect`` (rate units) from ``p_base`` with a two-sided test at ``alpha`` and ``power``."""
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    _check(alpha, power)
    p1 = p_base + effect
    if not 0 < p1 < 1 or effect == 0:
        raise ParameterError(f"p_base + effect must be a rate strictly between 0 and 1, effect non-zero "
                             f"(got {p_base} + {effect})")
    h = abs(proportion_effectsize(p1, p_base))
    n = NormalIndPower().solve_power(effect_size=h, nobs1=None, ratio=ratio, alpha=alpha, power=power)
    return int(math.ceil(float(np.atleast_1d(n)[0])))


def mde_means(sd: float, n1: int, n2: int, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest difference in means (outcome units) a two-sided t-test at ``alpha`` detects
    with probability ``power``: Cohen's d from TTestIndPower times the standard deviation."""
    from statsmodels.stats.power import TTestIndPower

    _check(alpha, power)
    if n1 < 2 or n2 < 2 or not sd > 0:
        return float("nan")
    d = TTestIndPower().solve_power(effect_size=None, nobs1=n1, ratio=n2 / n1, alpha=alpha, power=power)
    return float(np.atleast_1d(d)[0]) * sd


def sample_size_means(sd: float, effect: float, *, alpha: float = 0.05, power: float = 0.8,
                      ratio: float = 1.0) -> int:
    """Units needed in group 1 to detect a difference in means of ``effect`` (outcome units)
    given the outcome's standard deviation ``sd`` (TTestIndPower)."""
    from statsmodels.stats.power import TTestIndPower

    _check(alpha, power)
    if not sd > 0 or effect == 0:
        raise ParameterError(f"need sd > 0 and a non-zero effect (got sd={sd}, effect={effect})")
    n = TTestIndPower().solve_power(effect_size=abs(effect) / sd, nobs1=None, ratio=ratio, alpha=alpha, power=power)
    return int(math.ceil(float(np.atleast_1d(n)[0])))


def mde_from_se(se: float, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Minimum detectable effect of an estimator with standard error ``se``:
    (z_{1-alpha/2} + z_{power}) * se (two-sided, normal approximation)."""
    _check(alpha, power)
    return float((_normal_quantile(1 - alpha / 2) + _normal_quantile(power)) * se)


def with_power(estimate: Estimate, *, alpha: float = 0.05, power: float = 0.8,
               min_effect: float | None = None) -> Estimate:
    """The estimate with ``extra["mde"]`` (the smallest effect these data could detect) and,
    when ``min_effect`` is given, ``extra["n_needed"]`` (total units, split as in these data,
    needed to detect it with that power).

    Two-proportion estimates use Cohen's h around the comparison group's rate; Welch
    estimates use Cohen's d with the pooled SD; anything else uses its standard error
    (``extra["se"]``, or the interval's half-width / z).
    """
    ex = dict(estimate.extra)
    n_needed = None
    if "p1" in ex and "p2" in ex:
        mde = mde_proportions(ex["p2"], ex["n1"], ex["n2"], alpha=alpha, power=power)
        if min_effect:
            try:
                n1_needed = sample_size_proportions(ex["p2"], min_effect, alpha=alpha, power=power,
                                                    ratio=ex["n2"] / ex["n1"])
                n_needed = int(math.ceil(n1_needed * (1 + ex["n2"] / ex["n1"])))
            except ParameterError:
                n_needed = None
        how = "Cohen's h, NormalIndPower"
    elif "sd1" in ex and "sd2" in ex:
        n1, n2 = ex["n1"], ex["n2"]
        sd = math.sqrt(((n1 - 1) * ex["sd1"] ** 2 + (n2 - 1) * ex["sd2"] ** 2) / (n1 + n2 - 2))
        mde = mde_means(sd, n1, n2, alpha=alpha, power=power)
        if min_effect and sd > 0:
            n1_needed = sample_size_means(sd, min_effect, alpha=alpha, power=power, ratio=n2 / n1)
            n_needed = int(math.ceil(n1_needed * (1 + n2 / n1)))
        how = "Cohen's d, TTestIndPower"
    else:
        se = ex.get("se")
        if se is None:
            z = np.float64(z_value(estimate.ci_level))  # numpy division, as before: no ZeroDivisionError
            se = (estimate.ci_high - estimate.ci_low) / (2 * z)
        mde = mde_from_se(se, alpha=alpha, power=power)
        if min_effect and 0 < se < math.inf:  # an infinite SE (no interval) says nothing about n
            # the SE shrinks like 1/sqrt(n): units needed for the MDE to reach min_effect
            n_needed = int(math.ceil(estimate.n * (mde / abs(min_effect)) ** 2))
        how = "from the standard error"
    ex.update({"mde": mde, "power": power, "power_alpha": alpha, "power_method": how})
    if n_needed is not None:
        ex["n_needed"] = n_needed
        ex["min_effect"] = min_effect
    return dataclasses.replace(estimate, extra=ex)
