"""Key-driver analysis: which experiences move NPS or CSAT, and which to fix first.

Two views of the same question:

- **Regression with robust standard errors**: the outcome (NPS 0–10 or CSAT 1–5) regressed on
  the driver ratings by ordinary least squares; coefficients with HC3 heteroskedasticity-robust
  standard errors (MacKinnon & White 1985), so the intervals hold even though scores on a
  bounded scale have unequal variance. A coefficient says: one point more on this rating, with
  the other ratings held fixed, goes with this many points more on the outcome.
- **Relative importance (LMG / Shapley)**: correlated drivers share credit in a regression, so
  each driver's importance is its average gain in R² over every order in which the drivers can
  enter the model (Lindeman, Merenda & Gold 1980; the Shapley value of R²). The importances add
  up to the model's R² exactly. For up to ``max_exact`` drivers every subset is evaluated;
  beyond that the average is over ``n_permutations`` random orders (each order's gains also add
  up to R², so the sum stays exact).

**Importance × performance**: importance is the driver's share of R²; performance is the mean
rating. Drivers above the average importance and below the average performance are where to act
first ("Fix first"); above both are strengths to keep ("Keep up"); below the average importance
and above the average performance may be over-served ("Maintain"); below both, "Monitor".

Ratings are only comparable on the responses that rated every driver, so the analysis uses
complete responses. When too few responses rated all drivers (transactional surveys often ask
only the drivers that apply to the touchpoint), drivers are left out one at a time — each time
the one whose removal keeps the most complete responses — until ``min_responses`` remain; the
drivers left out are listed in ``notes``.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import NotEnoughData, ParameterError
from ..results import Estimate, estimates_frame

__all__ = ["r2_from_corr", "lmg", "KeyDrivers", "key_drivers", "select_complete"]

QUADRANTS = {
    (True, False): "Fix first",
    (True, True): "Keep up",
    (False, True): "Maintain",
    (False, False): "Monitor",
}


def r2_from_corr(corr: np.ndarray, subset: tuple[int, ...]) -> float:
    """R² of the outcome (row/column 0 of ``corr``) on the predictors ``subset`` (indices ≥ 1):
    r' R⁻¹ r from the correlation matrix."""
    if not subset:
        return 0.0
    idx = list(subset)
    r = corr[0, idx]
    rxx = corr[np.ix_(idx, idx)]
    coef = np.linalg.lstsq(rxx, r, rcond=None)[0]
    return float(r @ coef)


def lmg(
    x: pd.DataFrame,
    y: pd.Series,
    max_exact: int = 12,
    n_permutations: int = 2000,
    seed: int = 0,
) -> pd.Series:
    """LMG / Shapley relative importance of each column of ``x`` for ``y``: the average gain in
    R² when the column joins the model, over all orders of entry. Sums to the full model's R²."""
    data = pd.concat([y.rename("__y__"), x], axis=1).dropna()
    if len(data) < x.shape[1] + 2:
        raise NotEnoughData(f"Relative importance needs more complete responses than drivers ({len(data)}).",
                            needs=f"more complete survey responses than drivers (there are {len(data)})")
    sd = data.std(ddof=0)
    if (sd == 0).any():
        constant = ", ".join(map(str, sd.index[sd == 0]))
        raise NotEnoughData(f"Relative importance: {constant} does not vary in the complete responses.",
                            needs=f"driver ratings that vary ({constant} does not)")
    corr = np.corrcoef(data.to_numpy(dtype="float64"), rowvar=False)
    p = x.shape[1]
    cache: dict[frozenset, float] = {}

    def r2(members) -> float:
        key = frozenset(members)
        if key not in cache:
            cache[key] = r2_from_corr(corr, tuple(sorted(i + 1 for i in key)))
        return cache[key]

    share = np.zeros(p)
    if p <= max_exact:
        fact = [math.factorial(k) for k in range(p + 1)]
        for j in range(p):
            others = [i for i in range(p) if i != j]
            for size in range(p):
                weight = fact[size] * fact[p - size - 1] / fact[p]
                for subset in itertools.combinations(others, size):
                    share[j] += weight * (r2(subset + (j,)) - r2(subset))
    else:
        rng = np.random.default_rng(seed)
        for _ in range(n_permutations):
            order = rng.permutation(p)
            before = 0.0
            for k in range(p):
                after = r2(order[: k + 1].tolist())
                share[order[k]] += after - before
                before = after
        share /= n_permutations
    return pd.Series(share, index=x.columns, name="lmg")


def select_complete(
    frame: pd.DataFrame, outcome: str, drivers: list[str], min_responses: int
) -> tuple[list[str], list[str]]:
    """Drivers to keep so that at least ``min_responses`` responses rated all of them (and the
    outcome): drop, one at a time, the driver whose removal keeps the most complete responses —
    only while a removal adds complete responses (when every response rated every driver, as in
    a small segment, no driver is dropped for being short of ``min_responses``).
    Returns (kept, dropped)."""
    kept = list(drivers)
    dropped: list[str] = []
    has_outcome = frame[outcome].notna()
    present = frame[kept].notna()

    def complete(cols) -> int:
        return int((has_outcome & present[cols].all(axis=1)).sum()) if cols else int(has_outcome.sum())

    while len(kept) > 1 and complete(kept) < min_responses:
        best = max(kept, key=lambda d: (complete([k for k in kept if k != d]), -kept.index(d)))
        if complete([k for k in kept if k != best]) <= complete(kept):
            break
        kept.remove(best)
        dropped.append(best)
    return kept, dropped


@dataclass
class KeyDrivers:
    """Result of ``key_drivers``.

    table: per driver — coefficient with HC3 interval and p-value, lmg (its share of R² in R²
    units), share_of_r2 (lmg / R²), performance (mean rating), quadrant.
    coefficients: the regression coefficients as Estimates. r2: the model's R²; n: responses.
    """

    outcome: str
    table: pd.DataFrame
    coefficients: list[Estimate]
    r2: float
    n: int
    notes: list[str] = field(default_factory=list)

    def top(self) -> str:
        return str(self.table.iloc[0]["driver"])

    def summary(self) -> str:
        lines = [f"Key drivers of {self.outcome} (n = {self.n:,}; R² = {self.r2:.3f}):"]
        for r in self.table.itertuples():
            lines.append(
                f"  {r.driver}: {r.share_of_r2:.0%} of R², coefficient {r.coefficient:.2f} "
                f"[{r.ci_low:.2f}, {r.ci_high:.2f}], performance {r.performance:.2f} — {r.quadrant}"
            )
        return "\n".join(lines + [f"  note: {n}" for n in self.notes])

    def plot(self, ax=None):
        """Importance (share of R²) against performance (mean rating), split at the averages."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 5))
        t = self.table
        colors = {"Fix first": "#c44e52", "Keep up": "#55a868", "Maintain": "#8172b2", "Monitor": "#999999"}
        ax.scatter(t["performance"], t["share_of_r2"] * 100, s=80,
                   c=[colors[q] for q in t["quadrant"]], zorder=3)
        for r in t.itertuples():
            ax.annotate(r.label, (r.performance, r.share_of_r2 * 100), textcoords="offset points",
                        xytext=(6, 4), fontsize=9)
        x_mid, y_mid = t["performance"].mean(), t["share_of_r2"].mean() * 100
        ax.axvline(x_mid, color="#555555", lw=0.8, ls="--")
        ax.axhline(y_mid, color="#555555", lw=0.8, ls="--")
        ax.set_xlabel("Performance (mean rating)")
        ax.set_ylabel(f"Importance (% of the R² of {self.outcome})")
        ax.margins(0.2)
        for (x, y, ha, va), name in zip(
            [(0.01, 0.99, "left", "top"), (0.99, 0.99, "right", "top"), (0.99, 0.01, "right", "bottom"),
             (0.01, 0.01, "left", "bottom")],
            ["Fix first", "Keep up", "Maintain", "Monitor"],
        ):
            ax.text(x, y, name, transform=ax.transAxes, ha=ha, va=va, color=colors[name], fontsize=9,
                    fontweight="bold")
        return ax


def _label(driver: str) -> str:
    name = driver[len("driver_"):] if driver.startswith("driver_") else driver
    return name.replace("_", " ")


def key_drivers(
    responses: pd.DataFrame,
    outcome: str = "csat",
    drivers: list[str] | None = None,
    min_responses: int = 200,
    max_exact: int = 12,
    ci_level: float = 0.95,
) -> KeyDrivers:
    """Key drivers of ``outcome`` (a score column of the survey responses) among the
    ``drivers`` columns (default: every ``driver_*`` column). See the module doc for the
    method, the complete-response rule and the quadrants."""
    import statsmodels.api as sm

    if outcome not in responses or responses[outcome].isna().all():
        raise NotEnoughData(f"key drivers: the surveys have no '{outcome}' scores (use nps or csat)",
                            needs=f"{outcome} scores in the surveys")
    if drivers is None:
        drivers = [c for c in responses.columns if str(c).startswith("driver_")]
    if not drivers:
        raise NotEnoughData("key drivers: the surveys have no driver rating columns (driver_*).",
                            needs="driver ratings in the surveys (driver_* columns)")
    missing = [d for d in drivers if d not in responses]
    if missing:
        raise ParameterError(f"key drivers: no column {', '.join(missing)} in the surveys")
    frame = responses[[outcome] + list(drivers)].apply(pd.to_numeric, errors="coerce")
    kept, dropped = select_complete(frame, outcome, list(drivers), min_responses)
    data = frame[[outcome] + kept].dropna()
    notes = []
    if dropped:
        notes.append(
            f"left out {', '.join(dropped)}: too few responses rated it together with the others"
        )
    least = max(len(kept) + 10, 30)
    if len(data) < least:
        raise NotEnoughData(
            f"key drivers: only {len(data)} responses rated {', '.join(kept)} and gave {outcome}; "
            f"at least {least} are needed.",
            needs=f"at least {least} survey responses that rate the drivers and give {outcome} (there are {len(data)})",
        )
    y, x = data[outcome], data[kept]
    fit = sm.OLS(y.to_numpy(float), sm.add_constant(x.to_numpy(float))).fit(cov_type="HC3")
    ci = fit.conf_int(alpha=1 - ci_level)
    coefs = []
    for i, d in enumerate(kept, start=1):
        coefs.append(Estimate(
            f"{_label(d)} → {outcome} (per rating point)", float(fit.params[i]), float(ci[i, 0]),
            float(ci[i, 1]), float(fit.pvalues[i]), int(fit.nobs), "OLS with HC3 robust SE", ci_level,
        ))
    importance = lmg(x, y, max_exact=max_exact)
    r2 = float(fit.rsquared)
    table = estimates_frame(coefs).drop(columns=["label", "method"]).rename(columns={"estimate": "coefficient"})
    table.insert(0, "driver", kept)
    table.insert(1, "label", [_label(d) for d in kept])
    table["lmg"] = importance.to_numpy()
    table["share_of_r2"] = table["lmg"] / r2 if r2 > 0 else np.nan
    table["performance"] = x.mean().to_numpy()
    hi_imp = table["share_of_r2"] >= table["share_of_r2"].mean()
    hi_perf = table["performance"] >= table["performance"].mean()
    table["quadrant"] = [QUADRANTS[(bool(a), bool(b))] for a, b in zip(hi_imp, hi_perf)]
    table = table.sort_values("lmg", ascending=False, kind="stable").reset_index(drop=True)
    return KeyDrivers(outcome, table, coefs, r2, int(fit.nobs), notes)
