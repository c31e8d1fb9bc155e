"""Interrupted time series: segmented regression (level and slope change) with Newey–West
(HAC) standard errors."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError
from ..results import Estimate, estimates_frame
from ._common import _Result, _after, _axes, _require

__all__ = ["its", "ITSResult"]


# --------------------------------------------------------------------------- ITS
@dataclass
class ITSResult(_Result):
    """Interrupted time series: the level change at the intervention (``estimate``), the change
    in slope per period (``slope``), the fitted model and the series with its counterfactual."""

    estimate: Estimate
    slope: Estimate
    model: Any
    series: pd.DataFrame

    def summary(self) -> str:
        return f"{self.estimate.summary()}\n{self.slope.summary()}"

    def to_frame(self) -> pd.DataFrame:
        return estimates_frame([self.estimate, self.slope])

    def plot(self, ax=None):
        """The observed series, the fitted segments, and the pre-period trend carried forward
        (what would have happened without the intervention)."""
        ax = _axes(ax)
        s = self.series
        ax.plot(s["time"], s["observed"], "o", ms=3, color="grey", label="observed")
        pre, post = s[s["post"] == 0], s[s["post"] == 1]
        ax.plot(pre["time"], pre["fitted"], color="C0", label="fitted")
        ax.plot(post["time"], post["fitted"], color="C0")
        ax.plot(post["time"], post["counterfactual"], "--", color="C1", label="without the intervention")
        ax.axvline(post["time"].iloc[0], ls=":", color="grey")
        ax.legend()
        ax.set_title("Interrupted time series")
        return ax


def its(
    data: pd.DataFrame,
    outcome: str,
    time: str,
    intervention: Any,
    *,
    controls: Sequence[str] = (),
    maxlags: int | None = None,
    ci_level: float = 0.95,
    label: str | None = None,
) -> ITSResult:
    """Interrupted time series by segmented regression:

        y_t = b0 + b1 t + b2 post_t + b3 (t - t0) post_t + e_t

    where t counts periods (0, 1, 2 ... in the order of ``time``; equal spacing is assumed),
    post_t is 1 from the first period at or after ``intervention`` (t0). b2 is the immediate
    level change and b3 the change in slope per period. Standard errors are Newey–West (HAC),
    robust to autocorrelation up to ``maxlags`` periods (default floor(4 (T/100)^(2/9))),
    with t-based intervals.

    data: one row per period; with several rows per period the outcome is averaged first.
    """
    import statsmodels.api as sm

    _require(data, outcome, time, *controls, where="its")
    d = data[[time, outcome, *controls]].dropna()
    if d[time].duplicated().any():
        d = d.groupby(time, as_index=False).mean(numeric_only=True)
    d = d.sort_values(time).reset_index(drop=True)
    post = _after(d[time], intervention).astype(float)
    T = len(d)
    if post.sum() < 2 or (1 - post).sum() < 3:
        raise DataError([f"its: need at least 3 periods before and 2 after {intervention!r} "
                         f"(have {int((1 - post).sum())} and {int(post.sum())})"])
    t = np.arange(T, dtype=float)
    t0 = float(np.argmax(post == 1))
    X = pd.DataFrame({"const": 1.0, "time": t, "level_change": post, "slope_change": (t - t0) * post})
    for c in controls:
        X[c] = d[c].astype(float).to_numpy()
    if maxlags is None:
        maxlags = int(math.floor(4 * (T / 100) ** (2 / 9)))
    y = d[outcome].astype(float).to_numpy()
    res = sm.OLS(y, X).fit(cov_type="HAC", cov_kwds={"maxlags": maxlags}, use_t=True)
    ci = res.conf_int(alpha=1 - ci_level)
    method = f"segmented regression, Newey–West SE ({maxlags} lags)"
    base = label or outcome

    def est(name, what):
        return Estimate(f"{base}: {what}", float(res.params[name]), float(ci.loc[name, 0]), float(ci.loc[name, 1]),
                        float(res.pvalues[name]), T, method, ci_level,
                        extra={"se": float(res.bse[name]), "maxlags": maxlags, "periods_after": int(post.sum())})

    fitted = res.fittedvalues
    cf = fitted - res.params["level_change"] * post - res.params["slope_change"] * (t - t0) * post
    series = pd.DataFrame({"time": d[time].to_numpy(), "observed": y, "fitted": np.asarray(fitted),
                           "counterfactual": np.asarray(cf), "post": post.astype(int)})
    return ITSResult(est("level_change", "level change"), est("slope_change", "slope change per period"), res, series)
