"""Study designs for measuring an intervention's effect: A/B and pre/post here;
difference-in-differences (``did``) and interrupted time series (``its``) in their own modules,
re-exported. Each returns a small result object whose ``estimate`` is an Estimate, with
``summary()`` for people and ``plot(ax=None)`` returning the Axes."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError, ParameterError
from ..results import Estimate
from ._common import _Result, _after, _axes, _kind, _require, is_binary
from .did import DiDResult, did
from .its import ITSResult, its
from ..stats import wilson
from ..stats.power import with_power
from ..stats.twosample import mcnemar, paired_t, two_proportions, welch_t

__all__ = [
    "ab",
    "pre_post",
    "did",
    "its",
    "ABResult",
    "PrePostResult",
    "DiDResult",
    "ITSResult",
    "is_binary",
]


# --------------------------------------------------------------------------- A/B
@dataclass
class ABResult(_Result):
    """An A/B comparison: the effect, the sample-ratio-mismatch check beside it, group stats."""

    estimate: Estimate
    srm: Estimate
    groups: pd.DataFrame
    srm_threshold: float = 0.001

    @property
    def srm_flag(self) -> bool:
        """True when the split differs from the expected one beyond chance (p < threshold):
        the assignment is suspect and the effect should not be trusted until it is explained."""
        return self.srm.p_value is not None and self.srm.p_value < self.srm_threshold

    def summary(self) -> str:
        lines = [self.estimate.summary()]
        lines.append(self.srm.summary())
        if self.srm_flag:
            lines.append("WARNING: sample ratio mismatch — the groups are not split as designed; "
                         "check assignment and logging before reading the effect.")
        return "\n".join(lines)

    def plot(self, ax=None):
        """Each group's mean (rate) with its 95% interval."""
        ax = _axes(ax)
        g = self.groups
        ax.errorbar(g["group"].astype(str), g["mean"], yerr=[g["mean"] - g["ci_low"], g["ci_high"] - g["mean"]],
                    fmt="o", capsize=6)
        ax.set_ylabel(self.estimate.label)
        ax.set_title("A/B comparison")
        return ax


def _group_stats(values: pd.Series, name, ci_level: float) -> dict:
    v = values.dropna().astype(float)
    n = len(v)
    m = float(v.mean()) if n else float("nan")
    se = float(v.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    z = stats.norm.ppf(0.5 + ci_level / 2)
    return {"group": name, "n": n, "mean": m, "ci_low": m - z * se, "ci_high": m + z * se}


def _compare(v1: pd.Series, v2: pd.Series, kind: str, label: str, ci_level: float, method: str) -> Estimate:
    v1, v2 = v1.dropna().astype(float), v2.dropna().astype(float)
    if kind == "rate":
        return two_proportions(int(v1.sum()), len(v1), int(v2.sum()), len(v2), method=method,
                               ci_level=ci_level, label=label)
    return welch_t(v1, v2, ci_level=ci_level, label=label)


def ab(
    data: pd.DataFrame,
    outcome: str,
    group: str,
    *,
    treatment: Any,
    control: Any = None,
    expected_split: float | Sequence[float] = 0.5,
    kind: str = "auto",
    method: str = "auto",
    alpha: float = 0.05,
    power: float = 0.8,
    min_effect: float | None = None,
    ci_level: float = 0.95,
    label: str | None = None,
) -> ABResult:
    """A randomized A/B comparison of ``outcome`` between ``treatment`` and ``control`` arms.

    data: one row per unit (customer) with the arm in ``group`` and the outcome (0/1 for a
    rate, a number for a mean). ``control`` defaults to the other value when there are exactly
    two arms. The effect is treatment minus control: a two-proportion test for rates
    (``method`` as in ``two_proportions``) or Welch's t for means.

    Beside it, a sample-ratio-mismatch (SRM) check: a chi-square goodness-of-fit test of the
    arm sizes against ``expected_split`` (the treatment's designed share, or (treatment,
    control) weights). A very small p (< 0.001) means units were lost or mis-assigned.
    The minimum detectable effect for these group sizes is attached (``estimate.extra``).
    """
    _require(data, outcome, group, where="ab")
    arms = list(pd.unique(data[group].dropna()))
    if treatment not in arms:
        raise DataError([f"ab: no rows with {group} == {treatment!r} (values: {arms[:10]})"])
    if control is None:
        others = [a for a in arms if a != treatment]
        if len(others) != 1:
            raise ParameterError(f"ab: {group} has {len(arms)} arms {arms[:10]}; name the control=")
        control = others[0]
    t = data.loc[data[group] == treatment, outcome]
    c = data.loc[data[group] == control, outcome]
    if c.empty:
        raise DataError([f"ab: no rows with {group} == {control!r}"])
    kind = _kind(data[outcome], kind)
    label = label or f"{outcome}: {treatment} - {control}"
    est = _compare(t, c, kind, label, ci_level, method)
    est = with_power(est, alpha=alpha, power=power, min_effect=min_effect)

    if isinstance(expected_split, (int, float)):
        weights = np.array([expected_split, 1 - expected_split], dtype=float)
    else:
        weights = np.asarray(expected_split, dtype=float)
    if weights.shape != (2,) or (weights <= 0).any():
        raise ParameterError("expected_split must be the treatment's share (0.5) or two positive weights")
    weights = weights / weights.sum()
    counts = np.array([len(t), len(c)], dtype=float)
    chi2, p_srm = stats.chisquare(counts, f_exp=weights * counts.sum())
    lo, hi = wilson(int(counts[0]), int(counts.sum()), ci_level)
    srm = Estimate(
        f"share of units in {treatment} (expected {weights[0]:.2f})", float(counts[0] / counts.sum()),
        float(lo), float(hi), float(p_srm), int(counts.sum()),
        "sample ratio mismatch check (chi-square goodness of fit)", ci_level,
        extra={"chi2": float(chi2), "expected_share": float(weights[0])},
    )
    groups = pd.DataFrame([_group_stats(t, treatment, ci_level), _group_stats(c, control, ci_level)])
    return ABResult(est, srm, groups)


# --------------------------------------------------------------------------- pre/post
@dataclass
class PrePostResult(_Result):
    """A before/after comparison; ``paired`` when the same units were measured in both."""

    estimate: Estimate
    periods: pd.DataFrame
    paired: bool

    def summary(self) -> str:
        kind = "same units before and after" if self.paired else "independent samples before and after"
        return f"{self.estimate.summary()}\n({kind}; a pre/post change is not a causal effect unless nothing else changed)"

    def plot(self, ax=None):
        """The mean (rate) before and after, with 95% intervals."""
        ax = _axes(ax)
        g = self.periods
        ax.errorbar(g["group"].astype(str), g["mean"], yerr=[g["mean"] - g["ci_low"], g["ci_high"] - g["mean"]],
                    fmt="o-", capsize=6)
        ax.set_ylabel(self.estimate.label)
        ax.set_title("Before and after")
        return ax


def pre_post(
    data: pd.DataFrame,
    outcome: str,
    time: str,
    date: Any,
    *,
    unit: str | None = None,
    kind: str = "auto",
    method: str = "auto",
    alpha: float = 0.05,
    power: float = 0.8,
    min_effect: float | None = None,
    ci_level: float = 0.95,
    label: str | None = None,
) -> PrePostResult:
    """Change in ``outcome`` from before to after ``date`` (rows with ``time`` >= date are after).

    With ``unit`` given and units seen in both periods, the comparison is paired: each unit's
    mean before and after (a paired t-test for means; McNemar's test for 0/1 outcomes). Units
    seen in one period only are then dropped. Without ``unit`` the two periods are independent
    samples (two-proportion test or Welch's t). The estimate is after minus before.
    """
    _require(data, outcome, time, unit, where="pre_post")
    d = data[[c for c in (outcome, time, unit) if c]].dropna()
    after = _after(d[time], date)
    kind = _kind(d[outcome], kind)
    label = label or f"{outcome}: after - before"
    periods = pd.DataFrame([_group_stats(d.loc[~after, outcome], "before", ci_level),
                            _group_stats(d.loc[after, outcome], "after", ci_level)])
    if periods["n"].min() == 0:
        raise DataError([f"pre_post: no rows {'before' if periods['n'].iloc[0] == 0 else 'after'} {date}"])
    paired = False
    if unit is not None:
        per = d.assign(_after=after).groupby([unit, "_after"])[outcome].mean().unstack("_after")
        if True in per.columns and False in per.columns:
            per = per.dropna()
            if len(per) >= 2:
                paired = True
                b, a = per[False], per[True]
                if kind == "rate" and is_binary(pd.concat([a, b])):
                    est = mcnemar(b, a, ci_level=ci_level, label=label)
                else:
                    est = paired_t(b, a, ci_level=ci_level, label=label)
    if not paired:
        est = _compare(d.loc[after, outcome], d.loc[~after, outcome], kind, label, ci_level, method)
    est = with_power(est, alpha=alpha, power=power, min_effect=min_effect)
    return PrePostResult(est, periods, paired)
