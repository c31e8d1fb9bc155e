"""Study designs for measuring an intervention's effect: A/B, pre/post, difference-in-differences
and interrupted time series. Each returns a small result object whose ``estimate`` is an
Estimate, with ``summary()`` for people and ``plot(ax=None)`` returning the Axes."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError, ParameterError
from ..results import Estimate, estimates_frame
from .power import with_power
from .twosample import mcnemar, paired_t, two_proportions, welch_t

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


# --------------------------------------------------------------------------- helpers
def _require(data: pd.DataFrame, *columns: str | None, where: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise ParameterError(f"{where}: pass a pandas DataFrame (got {type(data).__name__})")
    missing = [c for c in columns if c is not None and c not in data.columns]
    if missing:
        raise DataError([f"{where}: column(s) {', '.join(map(repr, missing))} not in the table; "
                         f"it has {', '.join(map(str, data.columns[:20]))}"])


def is_binary(values) -> bool:
    """Whether a column holds a 0/1 (or boolean) outcome: a rate rather than a mean."""
    s = pd.Series(values).dropna()
    if s.empty:
        return False
    if s.dtype == bool:
        return True
    try:
        return set(np.unique(s.astype(float))) <= {0.0, 1.0}
    except (TypeError, ValueError):
        return False


def _indicator(data: pd.DataFrame, column: str, where: str) -> np.ndarray:
    s = data[column]
    if not is_binary(s):
        raise DataError([f"{where}: column '{column}' must be 0/1 or True/False "
                         f"(found {list(pd.unique(s.dropna()))[:5]})"])
    return s.astype(float).to_numpy()


def _kind(values, kind: str) -> str:
    if kind == "auto":
        return "rate" if is_binary(values) else "mean"
    if kind not in ("rate", "mean"):
        raise ParameterError(f"kind '{kind}' must be auto, rate or mean")
    return kind


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4))
    return ax


class _Result:
    estimate: Estimate

    def to_frame(self) -> pd.DataFrame:
        return self.estimate.to_frame()

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.summary()


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
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(int(counts[0]), int(counts.sum()), alpha=1 - ci_level, method="wilson")
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


def _after(values: pd.Series, date: Any) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(values):
        return (values >= pd.Timestamp(date)).to_numpy()
    try:
        return (values >= date).to_numpy()
    except TypeError as exc:
        raise ParameterError(f"cannot compare the time column with {date!r}: {exc}") from None


# --------------------------------------------------------------------------- fixed effects
def _fmt_time(t) -> str:
    if isinstance(t, (np.datetime64, pd.Timestamp)):
        return pd.Timestamp(t).date().isoformat()
    return str(t)


def _codes(values: pd.Series) -> np.ndarray:
    return pd.factorize(values, sort=True)[0]


def _absorb(matrix: np.ndarray, factors: list[np.ndarray], tol: float = 1e-10, max_iter: int = 10_000) -> np.ndarray:
    """Remove fixed effects of one or more factors from each column (within transformation).

    One factor: subtract group means. Several: alternating projections (Gaure 2013), exact for
    balanced panels after one sweep and convergent for unbalanced ones.
    """
    out = np.array(matrix, dtype=float, copy=True)
    if not factors:
        return out
    counts = [np.bincount(f).astype(float) for f in factors]

    def sweep(x):
        for f, cnt in zip(factors, counts):
            for j in range(x.shape[1]):
                means = np.bincount(f, weights=x[:, j], minlength=cnt.size) / np.where(cnt > 0, cnt, 1)
                x[:, j] -= means[f]
        return x

    if len(factors) == 1:
        return sweep(out)
    scale = np.maximum(np.abs(out).max(axis=0), 1.0)
    for _ in range(max_iter):
        before = out.copy()
        out = sweep(out)
        if (np.abs(out - before).max(axis=0) / scale).max() < tol:
            break
    return out


def _design_matrix(d: pd.DataFrame, columns: dict[str, np.ndarray], controls: Sequence[str]) -> pd.DataFrame:
    X = pd.DataFrame(columns, index=d.index)
    for c in controls:
        col = d[c]
        if pd.api.types.is_numeric_dtype(col) or col.dtype == bool:
            X[c] = col.astype(float)
        else:
            dummies = pd.get_dummies(col.astype(str), prefix=c, drop_first=True, dtype=float)
            X = pd.concat([X, dummies], axis=1)
    return X


def _fit_ols(y, X: pd.DataFrame, factors: list[np.ndarray], absorbed_dof: int, cov_type: str,
             groups: np.ndarray | None, add_const: bool):
    import statsmodels.api as sm

    names = list(X.columns)
    mat = np.column_stack([np.asarray(y, dtype=float), X.to_numpy(dtype=float)])
    mat = _absorb(mat, factors)
    yy, XX = mat[:, 0], pd.DataFrame(mat[:, 1:], columns=names, index=X.index)
    if add_const:
        XX.insert(0, "const", 1.0)
    # drop regressors the fixed effects absorbed entirely (e.g. a treated dummy under unit FE)
    keep = [c for c in XX.columns if c == "const" or np.abs(XX[c].to_numpy()).max() > 1e-9]
    XX = XX[keep]
    model = sm.OLS(yy, XX)
    if absorbed_dof:
        model.df_resid = len(yy) - np.linalg.matrix_rank(XX.to_numpy()) - absorbed_dof
        model.df_model = float(np.linalg.matrix_rank(XX.to_numpy()) + absorbed_dof - 1)
    if cov_type == "cluster":
        res = model.fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    elif cov_type == "nonrobust":
        res = model.fit()
    else:
        res = model.fit(cov_type=cov_type, use_t=True)
    return res


# --------------------------------------------------------------------------- DiD
@dataclass
class DiDResult(_Result):
    """A difference-in-differences fit.

    estimate: the treated x post coefficient as an Estimate.
    model: the statsmodels results (on the fixed-effect-demeaned data when unit/time given).
    means: mean outcome by group and period (the 2x2 table behind the estimate).
    event_study: one row per period (coefficient of treated x period relative to the last
        pre-period, with its interval), or None without ``time``.
    pretrend: the joint test that every lead (pre-period coefficient) is zero:
        {"statistic": F, "p_value": p, "df_num": q, "df_denom": d}, or None with fewer than
        two pre-periods.
    """

    estimate: Estimate
    model: Any
    means: pd.DataFrame
    event_study: pd.DataFrame | None = None
    pretrend: dict | None = None
    notes: list = field(default_factory=list)

    def summary(self) -> str:
        lines = [self.estimate.summary()]
        if self.pretrend is not None:
            pt = self.pretrend
            verdict = ("no evidence against parallel pre-trends" if pt["p_value"] >= 0.05
                       else "the groups already diverged before the intervention: the estimate is suspect")
            lines.append(f"pre-trend test: F({pt['df_num']}, {pt['df_denom']:.0f}) = {pt['statistic']:.2f}, "
                         f"p = {pt['p_value']:.3g} ({verdict})")
        lines.extend(self.notes)
        return "\n".join(lines)

    def plot(self, ax=None):
        """Event-study plot: the treated-vs-control gap in each period relative to the last
        period before the intervention (fixed at 0), with 95% intervals; a dashed line marks
        the intervention. Without periods, the 2x2 means."""
        ax = _axes(ax)
        if self.event_study is None:
            for tr, g in self.means.groupby("treated"):
                ax.plot(g["post"].map({0: "before", 1: "after"}), g["mean"], "o-",
                        label="treated" if tr else "comparison")
            ax.legend()
            ax.set_ylabel(self.estimate.label)
            ax.set_title("Difference in differences")
            return ax
        es = self.event_study
        x = np.arange(len(es))
        ax.axhline(0, color="grey", lw=0.8)
        ax.errorbar(x, es["coef"], yerr=[es["coef"] - es["ci_low"], es["ci_high"] - es["coef"]],
                    fmt="o", capsize=4)
        first_post = int(np.argmax(es["rel"].to_numpy() >= 0))
        ax.axvline(first_post - 0.5, ls="--", color="grey")
        ax.set_xticks(x)
        ax.set_xticklabels([_fmt_time(t) for t in es["time"]], rotation=45, ha="right")
        ax.set_ylabel("treated - comparison, relative to last pre-period")
        title = "Event study"
        if self.pretrend is not None:
            title += f" (pre-trend p = {self.pretrend['p_value']:.2g})"
        ax.set_title(title)
        return ax


def did(
    data: pd.DataFrame,
    outcome: str,
    treated: str,
    post: str,
    unit: str | None = None,
    time: str | None = None,
    controls: Sequence[str] = (),
    cluster: str | None = None,
    *,
    cov_type: str = "auto",
    ci_level: float = 0.95,
    event_study: bool = True,
    label: str | None = None,
) -> DiDResult:
    """Difference-in-differences: how much more ``outcome`` changed after the intervention in
    the treated group than in the comparison group.

    data: one row per unit and period (a customer-month, a house sale, a store-week).
    treated, post: 0/1 (or boolean) columns: the unit is in the treated group; the row is
        after the intervention. The effect is the coefficient on treated x post in an OLS
        regression (``statsmodels``).
    unit, time: optional columns for two-way fixed effects. With ``unit`` each unit's own
        level is removed (the treated main effect is then absorbed); with ``time`` each
        period's common shock is removed (the post main effect is absorbed). Fixed effects are
        absorbed by demeaning, so many units are cheap; degrees of freedom count them.
    controls: further columns (numeric, or categorical turned into dummies).
    cluster: column whose groups may share errors (customer, region, store);
        standard errors are cluster-robust on it (with the usual G/(G-1) (N-1)/(N-K) small-
        sample factor and t with G-1 degrees of freedom).
    cov_type: "auto" (default) clusters on ``cluster``, else on ``unit`` when given, else uses
        heteroskedasticity-robust HC1; or name one: "cluster", "nonrobust" (the textbook OLS
        standard errors), "HC1", "HC3".

    With ``time`` given, an event study is fitted as well: treated x period for every period
    but the last one before the intervention, with the same fixed effects and standard
    errors, and a joint F (Wald) test that the leads (pre-period gaps) are all zero.
    """
    _require(data, outcome, treated, post, unit, time, cluster, *controls, where="did")
    used = list(dict.fromkeys(c for c in (outcome, treated, post, unit, time, cluster, *controls) if c))
    d = data[used].dropna()
    if d.empty:
        raise DataError(["did: no complete rows (every row misses one of " + ", ".join(used) + ")"])
    if not pd.api.types.is_numeric_dtype(d[outcome]) and d[outcome].dtype != bool:
        raise DataError([f"did: outcome '{outcome}' must be numeric (0/1 for a rate)"])
    tr = _indicator(d, treated, "did")
    po = _indicator(d, post, "did")
    cell = (2 * tr + po).astype(int)
    counts = np.bincount(cell, minlength=4)
    if (counts == 0).any():
        raise DataError(["did: need rows in all four cells treated/comparison x before/after; counts: "
                         f"comparison before {counts[0]}, comparison after {counts[1]}, "
                         f"treated before {counts[2]}, treated after {counts[3]}"])

    if cov_type == "auto":
        cov_type = "cluster" if (cluster or unit) else "HC1"
    groups = None
    if cov_type == "cluster":
        cl = cluster or unit
        if cl is None:
            raise ParameterError("did: cov_type='cluster' needs cluster= (or unit=)")
        groups = _codes(d[cl])
        if groups.max() + 1 < 2:
            raise DataError([f"did: only one cluster in '{cl}'"])
    factors, absorbed = [], 0
    for col in (unit, time):
        if col is not None:
            codes = _codes(d[col])
            factors.append(codes)
            absorbed += int(codes.max()) + 1
    if len(factors) == 2:
        absorbed -= 1  # one level is shared by the two sets of effects

    y = d[outcome].astype(float).to_numpy()
    cols = {"treated_x_post": tr * po}
    if unit is None:
        cols["treated"] = tr
    if time is None:
        cols["post"] = po
    X = _design_matrix(d, cols, controls)
    res = _fit_ols(y, X, factors, absorbed, cov_type, groups, add_const=not factors)
    if "treated_x_post" not in res.params.index:
        raise DataError(["did: treated x post is absorbed by the fixed effects (does treatment vary within units over time?)"])
    b = float(res.params["treated_x_post"])
    lo, hi = (float(v) for v in res.conf_int(alpha=1 - ci_level).loc["treated_x_post"])
    if cov_type == "cluster":
        se_desc = f"cluster-robust SE by {cluster or unit} ({int(groups.max()) + 1} clusters)"
    else:
        se_desc = {"nonrobust": "conventional SE", "HC1": "robust SE (HC1)",
                   "HC3": "robust SE (HC3)"}.get(cov_type, f"{cov_type} SE")
    fe = " + ".join(f"{c} fixed effects" for c in (unit, time) if c)
    method = "difference-in-differences, OLS" + (f" with {fe}" if fe else "") + f", {se_desc}"
    n_units = int(d[unit].nunique()) if unit else len(d)
    est = Estimate(label or f"{outcome}: difference in differences", b, lo, hi, float(res.pvalues["treated_x_post"]),
                   n_units, method, ci_level,
                   extra={"se": float(res.bse["treated_x_post"]), "n_obs": len(d), "cov_type": cov_type,
                          "df_resid": float(res.df_resid)})
    sums = np.bincount(cell, weights=y, minlength=4)
    means = pd.DataFrame({"treated": [0, 0, 1, 1], "post": [0, 1, 0, 1], "mean": sums / counts, "count": counts})

    result = DiDResult(est, res, means)
    if event_study and time is not None:
        _event_study(result, d, y, tr, po, unit, time, controls, factors, absorbed, cov_type, groups, ci_level)
    return result


def _event_study(result: DiDResult, d, y, tr, po, unit, time, controls, factors, absorbed, cov_type, groups,
                 ci_level) -> None:
    times = np.sort(d[time].unique())
    post_times = np.unique(d.loc[po == 1, time])
    pre_times = np.unique(d.loc[po == 0, time])
    if np.intersect1d(post_times, pre_times).size:
        result.notes.append("event study skipped: 'post' is not a function of the period (staggered timing?)")
        return
    if len(times) < 3:
        return
    ref = pre_times.max()
    first_post = post_times.min()
    cols = {}
    names = []
    for t in times:
        if t == ref:
            continue
        name = f"treated_x_{t}"
        cols[name] = tr * (d[time].to_numpy() == t)
        names.append((t, name))
    if unit is None:
        cols["treated"] = tr
    X = _design_matrix(d, cols, controls)
    res = _fit_ols(y, X, factors, absorbed, cov_type, groups, add_const=not factors)
    ci = res.conf_int(alpha=1 - ci_level)
    rows = []
    pos = {t: i for i, t in enumerate(times)}
    for t in times:
        rel = pos[t] - pos[first_post]
        if t == ref:
            rows.append({"time": t, "rel": rel, "coef": 0.0, "ci_low": 0.0, "ci_high": 0.0, "reference": True})
            continue
        name = f"treated_x_{t}"
        if name not in res.params.index:
            continue
        rows.append({"time": t, "rel": rel, "coef": float(res.params[name]), "ci_low": float(ci.loc[name, 0]),
                     "ci_high": float(ci.loc[name, 1]), "reference": False})
    result.event_study = pd.DataFrame(rows)
    leads = [name for t, name in names if t < ref and name in res.params.index]
    if leads:
        R = np.zeros((len(leads), len(res.params)))
        for i, name in enumerate(leads):
            R[i, list(res.params.index).index(name)] = 1.0
        w = res.wald_test(R, use_f=True, scalar=True)
        result.pretrend = {"statistic": float(np.squeeze(w.statistic)), "p_value": float(np.squeeze(w.pvalue)),
                           "df_num": int(w.df_num), "df_denom": float(w.df_denom)}


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
