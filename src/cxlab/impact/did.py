"""Difference-in-differences: OLS with absorbed unit/period fixed effects, cluster-robust
standard errors, an event study (leads and lags) and a joint test of pre-period trends."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError, ParameterError
from ..results import Estimate
from ._common import _Result, _axes, _indicator, _require

__all__ = ["did", "DiDResult"]


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
        try:
            w = res.wald_test(R, use_f=True, scalar=True)
        except (ValueError, np.linalg.LinAlgError) as exc:  # too few rows for the test (a tiny study)
            result.notes.append(f"the joint test of the pre-period gaps could not be computed: {exc}")
            return
        result.pretrend = {"statistic": float(np.squeeze(w.statistic)), "p_value": float(np.squeeze(w.pvalue)),
                           "df_num": int(w.df_num), "df_denom": float(w.df_denom)}
