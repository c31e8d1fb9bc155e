"""Intervals, one implementation each: Wilson for a proportion, Student t for a mean, the
multinomial normal interval for NPS, and noncentrality bounds for effect sizes.

Every stage computes its intervals here, so the same rate or mean gets the same interval on
every page. The array functions are vectorised (one call for a whole table); ``mean_ci`` and
``nps_ci`` return an ``Estimate`` for one sample. Bounds of a share are clipped to [0, 1] and of
an NPS to [−1, 1] where the interval is made: a bound computed in floating point can land a
hair outside (3.5e-18 below 0), which plotting code then rejects as a negative error bar.
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import Callable

import numpy as np
import pandas as pd

from ..results import Estimate

# scipy is imported where it is used: importing cxlab should not pay for it (issue 18). A normal
# quantile comes from the standard library's NormalDist, which agrees with scipy.stats.norm.ppf
# to about 1e-15 (tests/test_import_cost.py holds it to 1e-12).

__all__ = ["z_value", "wilson", "t_interval", "nps_interval", "mean_ci", "nps_ci", "noncentrality_bounds"]


def _normal_quantile(p: float) -> float:
    """The standard normal quantile of a probability ``p``, as ``scipy.stats.norm.ppf(p)`` gives
    it, edges included: -inf at 0, inf at 1, NaN outside [0, 1] or for NaN."""
    if 0 < p < 1:
        return NormalDist().inv_cdf(float(p))
    if p == 0:
        return -math.inf
    if p == 1:
        return math.inf
    return math.nan


def z_value(ci_level: float = 0.95) -> float:
    """The two-sided normal quantile of a confidence level (1.96 for 0.95)."""
    return _normal_quantile(0.5 + ci_level / 2)


def wilson(successes, n, ci_level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion k / n (vectorised); NaN where n = 0. At k = 0 the
    lower bound is exactly 0 and at k = n the upper bound exactly 1 (as in exact arithmetic;
    in floating point they come out as 3.5e-18 or 0.9999999999999999)."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    z = z_value(ci_level)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        lo = np.where((k == 0) & (n > 0), 0.0, np.clip(centre - half, 0, 1))
        hi = np.where((k == n) & (n > 0), 1.0, np.clip(centre + half, 0, 1))
    return lo[()], hi[()]


def t_interval(mean, sd, n, ci_level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Student-t interval for a mean from its sample sd and size (vectorised); NaN where n < 2."""
    from scipy import stats

    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(n > 1, n - 1, np.nan)
        half = stats.t.ppf(0.5 + ci_level / 2, df) * sd / np.sqrt(n)
    return mean - half, mean + half


def nps_interval(promoters, detractors, n, ci_level: float = 0.95):
    """NPS = share of promoters − share of detractors (on the −1…1 scale), with the normal
    interval from the multinomial variance var = (p_pro + p_det − (p_pro − p_det)²) / n.
    Returns (nps, ci_low, ci_high, se), vectorised."""
    pro = np.asarray(promoters, dtype=float)
    det = np.asarray(detractors, dtype=float)
    n = np.asarray(n, dtype=float)
    z = z_value(ci_level)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_pro, p_det = pro / n, det / n
        nps = p_pro - p_det
        se = np.sqrt(np.maximum(p_pro + p_det - nps**2, 0.0) / n)
    return nps, np.clip(nps - z * se, -1, 1), np.clip(nps + z * se, -1, 1), se


def mean_ci(values, label: str, ci_level: float = 0.95) -> Estimate:
    """The mean of ``values`` (missing dropped) with its t interval; NaN bounds when n < 2."""
    x = pd.Series(values, dtype="float64").dropna().to_numpy()
    n = len(x)
    method = "mean with t-interval"
    if n == 0:
        return Estimate(label, np.nan, np.nan, np.nan, None, 0, method, ci_level)
    m = float(x.mean())
    if n < 2:
        return Estimate(label, m, np.nan, np.nan, None, n, method, ci_level)
    lo, hi = t_interval(m, x.std(ddof=1), n, ci_level)
    return Estimate(label, m, float(lo), float(hi), None, n, method, ci_level)


def nps_ci(scores, label: str, ci_level: float = 0.95) -> Estimate:
    """Net Promoter Score of 0–10 ``scores`` (missing dropped) on the −100…100 scale, with the
    interval of ``nps_interval``."""
    x = pd.Series(scores, dtype="float64").dropna().to_numpy()
    n = len(x)
    method = "NPS with normal interval (multinomial variance)"
    if n == 0:
        return Estimate(label, np.nan, np.nan, np.nan, None, 0, method, ci_level)
    nps, lo, hi, _ = nps_interval((x >= 9).sum(), (x <= 6).sum(), n, ci_level)
    return Estimate(label, 100 * float(nps), 100 * float(lo), 100 * float(hi), None, n, method, ci_level)


def noncentrality_bounds(cdf: Callable[[float, float], float], observed: float, ci_level: float = 0.95
                         ) -> tuple[float, float]:
    """Bounds [lo, hi] of a noncentrality parameter by test inversion (Smithson 2003): the values
    with cdf(observed; nc) = 1 − a/2 and a/2, where a = 1 − level; 0 where even nc = 0 gives a
    smaller cdf. ``cdf(x, nc)`` is the statistic's distribution (chi-square, F) at
    noncentrality nc (the central one at 0)."""
    from scipy.optimize import brentq

    a = 1 - ci_level

    def solve(target: float) -> float:
        f = lambda nc: cdf(observed, nc) - target  # noqa: E731 - a one-line root function
        if f(0.0) <= 0:
            return 0.0
        hi = max(observed, 1.0)
        while f(hi) > 0:
            hi *= 2
        return brentq(f, 0.0, hi, xtol=1e-10)

    return solve(1 - a / 2), solve(a / 2)
