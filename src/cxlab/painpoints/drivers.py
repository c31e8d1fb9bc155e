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

**How firm is the order?** With ``n_resamples`` > 0 each driver's share of R² gets a
customer-level bootstrap interval: the customers who gave complete responses are resampled with
replacement (all of a customer's responses together; each response is its own unit when the
responses have no customer_id), and the LMG shares are recomputed from the weighted correlation
matrix of each resample — the same numbers as refitting on the duplicated rows. Beside each
share: its percentile interval, the share of resamples in which the driver ranks 1st, its rank
interval, and whether the top two drivers can be told apart (``cxlab.painpoints.uncertainty``
defines these words once, for the pain points too).

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
from .uncertainty import TopTwo, check_resamples, rank_table, resample_counts, top_two

__all__ = ["r2_from_corr", "lmg", "lmg_from_corr", "KeyDrivers", "key_drivers", "select_complete",
           "share_draws"]

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


def _r2_stack(corr: np.ndarray, subset: tuple[int, ...]) -> np.ndarray:
    """``r2_from_corr`` for each matrix of a stack (resamples × (p+1) × (p+1)) at once."""
    if not subset:
        return np.zeros(len(corr))
    idx = list(subset)
    r = corr[:, 0, idx][..., None]
    rxx = corr[:, idx][:, :, idx]
    try:
        coef = np.linalg.solve(rxx, r)
    except np.linalg.LinAlgError:  # collinear drivers: the least-squares (minimum-norm) solution
        coef = np.linalg.pinv(rxx) @ r
    return (r * coef).sum(axis=(1, 2))


def lmg_from_corr(corr: np.ndarray, max_exact: int = 12, n_permutations: int = 2000, seed: int = 0) -> np.ndarray:
    """LMG / Shapley shares of R² from correlation matrices (outcome first): ``corr`` is one
    (p+1) × (p+1) matrix or a stack of them; returns p shares (or stack × p). Exact over all
    subsets for up to ``max_exact`` drivers, else the average over ``n_permutations`` random
    orders of entry drawn with ``seed`` (the same orders for every matrix of the stack)."""
    corr = np.asarray(corr, dtype="float64")
    single = corr.ndim == 2
    stack = corr[None] if single else corr
    p = stack.shape[1] - 1
    cache: dict[frozenset, np.ndarray] = {}

    def r2(members) -> np.ndarray:
        key = frozenset(members)
        if key not in cache:
            cache[key] = _r2_stack(stack, tuple(sorted(i + 1 for i in key)))
        return cache[key]

    share = np.zeros((len(stack), p))
    if p <= max_exact:
        fact = [math.factorial(k) for k in range(p + 1)]
        for j in range(p):
            others = [i for i in range(p) if i != j]
            for size in range(p):
                weight = fact[size] * fact[p - size - 1] / fact[p]
                for subset in itertools.combinations(others, size):
                    share[:, j] += weight * (r2(subset + (j,)) - r2(subset))
    else:
        rng = np.random.default_rng(seed)
        for _ in range(n_permutations):
            order = rng.permutation(p)
            before = np.zeros(len(stack))
            for k in range(p):
                after = r2(order[: k + 1].tolist())
                share[:, order[k]] += after - before
                before = after
        share /= n_permutations
    return share[0] if single else share


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
    share = lmg_from_corr(corr, max_exact=max_exact, n_permutations=n_permutations, seed=seed)
    return pd.Series(share, index=x.columns, name="lmg")


def share_draws(
    x: pd.DataFrame,
    y: pd.Series,
    units: pd.Series | None = None,
    n_resamples: int = 200,
    seed: int = 0,
    max_exact: int = 12,
    n_permutations: int = 2000,
) -> np.ndarray:
    """Each driver's share of R² (LMG / R²) in each of ``n_resamples`` resamples of the units
    (``units``: the customer of each row; None: each row is a unit), as resamples × drivers.
    Resample b draws the units ``default_rng(seed).integers(0, U, size=(n_resamples, U))[b]``
    (units in sorted order; ``cxlab.painpoints.uncertainty.resample_counts``) and weighs each row
    by how often its unit was drawn: the weighted correlation matrix equals the one of the
    duplicated rows. A resample where a rating does not vary gives NaN shares."""
    values = pd.concat([y, x], axis=1).to_numpy(dtype="float64")
    values = values - values.mean(axis=0)  # centred once: the weighted moments lose less precision
    if units is None:
        codes, n_units = np.arange(len(values)), len(values)
    else:
        uniques, codes = np.unique(units.astype(str).to_numpy(), return_inverse=True)
        n_units = len(uniques)
    out = np.empty((n_resamples, x.shape[1]))
    for first, counts in resample_counts(n_units, n_resamples, seed):
        w = counts[:, codes]                                  # block × rows
        total = w.sum(axis=1)
        mean = (w @ values) / total[:, None]
        second = np.stack([values.T @ (values * wb[:, None]) for wb in w]) / total[:, None, None]
        cov = second - mean[:, :, None] * mean[:, None, :]
        sd = np.sqrt(np.clip(np.einsum("bii->bi", cov), 0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = cov / (sd[:, :, None] * sd[:, None, :])
        corr[~np.isfinite(corr).all(axis=(1, 2))] = np.nan
        share = np.full((len(corr), x.shape[1]), np.nan)
        ok = np.isfinite(corr).all(axis=(1, 2))
        if ok.any():
            imp = lmg_from_corr(corr[ok], max_exact=max_exact, n_permutations=n_permutations, seed=seed)
            share[ok] = imp / imp.sum(axis=1, keepdims=True)
        out[first:first + len(counts)] = share
    return out


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
    units), share_of_r2 (lmg / R²), performance (mean rating), quadrant; with resamples, also
    share_ci_low/share_ci_high (bootstrap interval of share_of_r2), ranked_first (share of
    resamples where it is the strongest driver), rank_low/rank_high (rank interval).
    coefficients: the regression coefficients as Estimates. r2: the model's R²; n: responses.
    resamples: bootstrap resamples (0: none); ranking: the top two drivers compared (None with
    one driver or no resamples).
    """

    outcome: str
    table: pd.DataFrame
    coefficients: list[Estimate]
    r2: float
    n: int
    notes: list[str] = field(default_factory=list)
    resamples: int = 0
    ranking: TopTwo | None = None
    ci_level: float = 0.95

    def top(self) -> str:
        return str(self.table.iloc[0]["driver"])

    def top_sentence(self) -> str:
        """The strongest driver, its share of the explained variance with its interval, and how
        often it ranks 1st; and a warning when the top two cannot be told apart."""
        r = self.table.iloc[0]
        text = f"Strongest driver of {self.outcome.upper()}: {r.label} ({r.share_of_r2:.0%} of the explained variance"
        if self.resamples:
            text += (f", {self.ci_level:.0%} interval {r.share_ci_low:.0%}–{r.share_ci_high:.0%}; ranked 1st in "
                     f"{r.ranked_first:.0%} of {self.resamples:,} resamples")
        text += ")."
        if self.ranking is not None and not self.ranking.distinguishable:
            text += " " + self.ranking.sentence("share of the explained variance", "{:.1%}")
        return text

    def display_table(self) -> pd.DataFrame:
        """The columns a reader needs, with the share's interval and rank as text."""
        t = self.table
        out = t[["label", "share_of_r2"]].copy()
        if self.resamples:
            out["share interval"] = [f"{a:.0%}–{b:.0%}" for a, b in zip(t.share_ci_low, t.share_ci_high)]
            out["ranked 1st"] = t["ranked_first"]
            out["rank interval"] = [_rank_text(a, b) for a, b in zip(t.rank_low, t.rank_high)]
        for col in ("coefficient", "ci_low", "ci_high", "p_value", "performance", "quadrant"):
            out[col] = t[col]
        return out

    def summary(self) -> str:
        lines = [f"Key drivers of {self.outcome} (n = {self.n:,}; R² = {self.r2:.3f}):"]
        for r in self.table.itertuples():
            firm = (f" [{r.share_ci_low:.0%}, {r.share_ci_high:.0%}], 1st in {r.ranked_first:.0%}"
                    if self.resamples else "")
            lines.append(
                f"  {r.driver}: {r.share_of_r2:.0%} of R²{firm}, coefficient {r.coefficient:.2f} "
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


def _rank_text(low: float, high: float) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return ""
    return f"{int(low)}" if low == high else f"{int(low)}–{int(high)}"


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
    n_resamples: int = 200,
    seed: int = 0,
) -> KeyDrivers:
    """Key drivers of ``outcome`` (a score column of the survey responses) among the
    ``drivers`` columns (default: every ``driver_*`` column). See the module doc for the
    method, the complete-response rule and the quadrants. ``n_resamples``: customer-level
    bootstrap resamples for the shares' intervals and ranks (0: none), drawn with ``seed``."""
    import statsmodels.api as sm

    n_resamples = check_resamples(n_resamples)

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
    ranking = None
    if n_resamples:
        units = responses.loc[data.index, "customer_id"] if "customer_id" in responses else None
        draws = share_draws(x, y, units, n_resamples, seed, max_exact=max_exact)
        ranks = rank_table(draws, table["label"], ci_level)
        table["share_ci_low"], table["share_ci_high"] = ranks["ci_low"].to_numpy(), ranks["ci_high"].to_numpy()
        for col in ("ranked_first", "rank_low", "rank_high"):
            table[col] = ranks[col].to_numpy()
        ranking = top_two(draws, table["share_of_r2"], table["label"], ci_level)
    table = table.sort_values("lmg", ascending=False, kind="stable").reset_index(drop=True)
    return KeyDrivers(outcome, table, coefs, r2, int(fit.nobs), notes, n_resamples, ranking, ci_level)
