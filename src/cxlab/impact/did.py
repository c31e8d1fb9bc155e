"""Difference-in-differences: OLS with absorbed unit/period fixed effects, cluster-robust
standard errors, an event study (leads and lags) and a joint test of pre-period trends.

This is the unit-level regression, right when treatment was assigned unit by unit or to many
clusters. A change launched in one or a few regions is assigned to regions: the report tests it
with ``cxlab.impact.assignment.did_by_assignment`` (randomization inference at that level)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError, ParameterError
from ..results import Estimate
from ._common import _Result, _axes, _indicator, _require

__all__ = ["did", "DiDResult", "period_order", "nested_in"]


# --------------------------------------------------------------------------- fixed effects
def _fmt_time(t) -> str:
    if isinstance(t, (np.datetime64, pd.Timestamp)):
        return pd.Timestamp(t).date().isoformat()
    return str(t)


def _codes(values: pd.Series) -> np.ndarray:
    return pd.factorize(values, sort=True)[0]


_QUARTER = [re.compile(p, re.IGNORECASE) for p in (
    r"^\s*Q([1-4])[\s\-/_]*((?:19|20)\d\d)\s*$",      # Q42010, Q4 2010, Q4-2010
    r"^\s*((?:19|20)\d\d)[\s\-/_]*Q([1-4])\s*$",      # 2010Q4, 2010-Q4
)]


def _parse_label(label: str):
    """A period label as a pandas Period or Timestamp, or None."""
    m = _QUARTER[0].match(label)
    if m:
        return pd.Period(f"{m.group(2)}Q{m.group(1)}", freq="Q")
    m = _QUARTER[1].match(label)
    if m:
        return pd.Period(f"{m.group(1)}Q{m.group(2)}", freq="Q")
    return None


def period_order(values: pd.Series, column: str = "time", where: str = "did") -> np.ndarray:
    """The position of each row's period in time (0 = the earliest period).

    Periods are ordered by time, never as text: datetimes, pandas Periods and numbers by their
    value, an ordered categorical by its categories, and text labels only when every label reads
    as a date or a quarter ("2025-07-01", "Jul 2025", "Q42010", "2010Q4", "2010-Q4"). Any other
    text (e.g. "spring", "wave B") is refused with a DataError: sorting it as text would put
    post-periods among the pre-periods."""
    s = pd.Series(values)
    if isinstance(s.dtype, pd.CategoricalDtype):
        if not s.cat.ordered:
            raise DataError([f"{where}: the period column '{column}' is an unordered categorical; make it ordered "
                             "(pd.Categorical(..., ordered=True)) or give dates"])
        return s.cat.codes.to_numpy().astype(int)
    if (pd.api.types.is_datetime64_any_dtype(s) or isinstance(s.dtype, pd.PeriodDtype)
            or pd.api.types.is_numeric_dtype(s)):
        return pd.factorize(s, sort=True)[0]
    labels = pd.unique(s.dropna())
    numbers = pd.to_numeric(pd.Series(labels, dtype=object).astype(str), errors="coerce")
    if len(labels) and numbers.notna().all():  # "1", "2", "10": numbers written as text
        rank = {label: i for i, label in enumerate(np.asarray(labels)[np.argsort(numbers.to_numpy(), kind="stable")])}
        return s.map(rank).to_numpy().astype(int)
    keys = {}
    bad = []
    for label in labels:
        if isinstance(label, (pd.Timestamp, pd.Period, np.datetime64)):
            keys[label] = pd.Timestamp(label.start_time if isinstance(label, pd.Period) else label)
            continue
        text = str(label)
        parsed = _parse_label(text)
        if parsed is None:
            try:
                parsed = pd.Timestamp(text)
            except (ValueError, TypeError):
                bad.append(text)
                continue
        keys[label] = parsed.start_time if isinstance(parsed, pd.Period) else parsed
    if bad:
        raise DataError([f"{where}: the period column '{column}' holds labels that are not dates or quarters "
                         f"({', '.join(map(repr, bad[:5]))}); periods must be ordered by time, not as text: give "
                         "datetimes, numbers, an ordered categorical, or labels such as '2025-07' or 'Q42010'"])
    rank = {label: i for i, label in enumerate(sorted(keys, key=lambda k: keys[k]))}
    if len({keys[k] for k in keys}) < len(keys):
        raise DataError([f"{where}: two labels of the period column '{column}' name the same period"])
    return s.map(rank).to_numpy().astype(int)


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


def nested_in(inner: np.ndarray, outer: np.ndarray) -> bool:
    """Whether every level of ``inner`` lies within one level of ``outer`` (a unit within one
    cluster, a county within one state)."""
    pairs = pd.DataFrame({"i": inner, "o": outer}).drop_duplicates()
    return not pairs["i"].duplicated().any()


def _set_cov(res, cov: np.ndarray, df_resid: float | None = None):
    """Give a statsmodels results object another covariance matrix (and t degrees of freedom);
    its standard errors, tests and intervals are recomputed from it."""
    inner = getattr(res, "_results", res)  # the wrapper forwards reads, not writes
    inner.cov_params_default = np.asarray(cov, dtype=float)
    inner.use_t = True
    if df_resid is not None:
        inner.df_resid_inference = df_resid
    inner._cache = {}  # bse, tvalues, pvalues are cached from the old covariance
    return res


def _fe_leverage(factors: list[np.ndarray]) -> np.ndarray:
    """Diagonal of the projection on the absorbed fixed effects: 1/n_g for one factor; for two
    factors on a balanced panel (every unit in every period once) 1/n_unit + 1/n_period - 1/N."""
    if len(factors) == 1:
        counts = np.bincount(factors[0])
        return 1.0 / counts[factors[0]]
    a, b = factors
    n = len(a)
    ca, cb = np.bincount(a), np.bincount(b)
    balanced = (ca.size * cb.size == n and (ca == cb.size).all() and (cb == ca.size).all()
                and not pd.DataFrame({"a": a, "b": b}).duplicated().any())
    if not balanced:
        raise ParameterError("did: cov_type HC2/HC3 with unit and time fixed effects needs a balanced panel "
                             "(every unit once in every period) to compute the leverages of the fixed-effect "
                             "model; use cov_type='HC1' or cluster-robust errors")
    return 1.0 / ca[a] + 1.0 / cb[b] - 1.0 / n


def _fit_ols(y, X: pd.DataFrame, factors: list[np.ndarray], absorbed_dof: int, cov_type: str,
             groups: np.ndarray | None, add_const: bool, nested_dof: int = 0):
    """OLS of y on X with the fixed effects in ``factors`` absorbed (demeaned).

    Degrees of freedom and small-sample factors are those of the regression with explicit
    dummies, except for clustered errors (below):
    - nonrobust: s^2 (X'X)^-1 with s^2 on N - K_full residual degrees of freedom;
    - HC1: N / (N - K_full); HC2/HC3: on the leverages of the full dummy model (the demeaned
      model's leverages plus those of the fixed effects), t on N - K_full;
    - cluster: G/(G-1) (N-1)/(N-K) with K the regressors plus the fixed effects that are *not*
      nested in the clusters (``nested_dof`` is the number of absorbed parameters that are), t
      on G - 1: the convention of reghdfe and fixest (``ssc(fixef.K = "nested")``).
    """
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
    n = len(yy)
    k = int(np.linalg.matrix_rank(XX.to_numpy()))
    if absorbed_dof:
        model.df_resid = n - k - absorbed_dof
        model.df_model = float(k + absorbed_dof - 1)
    if cov_type == "cluster":
        res = model.fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
        # statsmodels' factor is G/(G-1) (N-1)/(N-k) with k the columns of the demeaned design;
        # count the absorbed effects that are not nested in the clusters as well
        k_ss = k + absorbed_dof - nested_dof
        if k_ss != k:
            _set_cov(res, res.cov_params_default * (n - k) / (n - k_ss))
        return res
    if cov_type == "nonrobust":
        return model.fit()
    if cov_type in ("HC2", "HC3") and factors:
        res = model.fit()
        Xm = XX.to_numpy()
        bread = np.linalg.pinv(Xm.T @ Xm)
        h = np.einsum("ij,jk,ik->i", Xm, bread, Xm) + _fe_leverage(factors)
        u2 = np.asarray(res.resid) ** 2 / (1.0 - np.minimum(h, 1 - 1e-12)) ** (1 if cov_type == "HC2" else 2)
        meat = (Xm * u2[:, None]).T @ Xm
        res = _set_cov(res, bread @ meat @ bread)
        getattr(res, "_results", res).cov_type = cov_type
        return res
    return model.fit(cov_type=cov_type, use_t=True)


# --------------------------------------------------------------------------- DiD
@dataclass
class DiDResult(_Result):
    """A difference-in-differences fit.

    estimate: the treated x post coefficient as an Estimate.
    model: the statsmodels results (on the fixed-effect-demeaned data when unit/time given), or
        for ``did_by_assignment`` the AssignmentInference (cells, assignments, statistics).
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
        Periods are put in time order by ``period_order``: datetimes, numbers, ordered
        categoricals, or text labels that read as dates or quarters ("Q42010", "2025-07");
        other text is refused rather than sorted alphabetically.
    controls: further columns (numeric, or categorical turned into dummies).
    cluster: column whose groups may share errors (customer, region, store);
        standard errors are cluster-robust on it, with t on G-1 degrees of freedom and the
        small-sample factor G/(G-1) (N-1)/(N-K). K counts the regressors and the absorbed
        fixed effects that are *not* nested in the clusters: unit effects inside unit clusters
        are not counted, period effects are (the convention of Stata's reghdfe and R's fixest,
        ``ssc(fixef.K = "nested")``). Why: a cluster-robust variance already allows any
        correlation within a cluster, so an effect constant within a cluster uses up no
        information the variance relies on; counting it as statsmodels does with explicit
        dummies (K = every dummy) inflates the factor by (N-1)/(N-K_full), which with many
        small clusters (a customer panel) is large and spurious, while counting nothing
        understates it when there are many period effects.
    cov_type: "auto" (default) clusters on ``cluster``, else on ``unit`` when given, else uses
        heteroskedasticity-robust HC1; or name one: "cluster", "nonrobust" (the textbook OLS
        standard errors), "HC0", "HC1", "HC2", "HC3". With absorbed fixed effects HC1 uses the
        dummy model's N/(N-K) and HC2/HC3 the leverages of the full dummy model (the demeaned
        regressors' leverage plus the fixed effects': 1/n_unit, or 1/n_unit + 1/n_period -
        1/N on a balanced panel); HC2/HC3 with two sets of effects on an unbalanced panel are
        refused (ParameterError).

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
    if cov_type not in ("cluster", "nonrobust", "HC0", "HC1", "HC2", "HC3"):
        raise ParameterError(f"did: cov_type '{cov_type}' must be auto, cluster, nonrobust, HC0, HC1, HC2 or HC3")
    order = period_order(d[time], time) if time is not None else None
    factors, levels, nested = [], [], []
    for col in (unit, time):
        if col is not None:
            codes = order if col == time else _codes(d[col])
            factors.append(codes)
            levels.append(int(codes.max()) + 1)
            nested.append(groups is not None and nested_in(codes, groups))
    # absorbed parameters: the levels of each set of effects, less one per further set (one level
    # is shared); for the clustered small-sample factor, effects nested in the clusters do not count
    absorbed = sum(levels) - max(len(levels) - 1, 0)
    not_nested = [lv for lv, ns in zip(levels, nested) if not ns]
    nested_dof = absorbed - max(sum(not_nested) - max(len(levels) - 1, 0), 0) if any(nested) else 0

    y = d[outcome].astype(float).to_numpy()
    cols = {"treated_x_post": tr * po}
    if unit is None:
        cols["treated"] = tr
    if time is None:
        cols["post"] = po
    X = _design_matrix(d, cols, controls)
    res = _fit_ols(y, X, factors, absorbed, cov_type, groups, add_const=not factors, nested_dof=nested_dof)
    if "treated_x_post" not in res.params.index:
        raise DataError(["did: treated x post is absorbed by the fixed effects (does treatment vary within units over time?)"])
    b = float(res.params["treated_x_post"])
    lo, hi = (float(v) for v in res.conf_int(alpha=1 - ci_level).loc["treated_x_post"])
    if cov_type == "cluster":
        se_desc = f"cluster-robust SE by {cluster or unit} ({int(groups.max()) + 1} clusters)"
    else:
        se_desc = {"nonrobust": "conventional SE"}.get(cov_type, f"robust SE ({cov_type})")
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
        _event_study(result, d, y, tr, po, unit, time, order, controls, factors, absorbed, cov_type, groups,
                     ci_level, nested_dof)
    return result


def _event_study(result: DiDResult, d, y, tr, po, unit, time, order, controls, factors, absorbed, cov_type, groups,
                 ci_level, nested_dof=0) -> None:
    """Treated x period for every period but the last one before the intervention (the
    reference), periods in time order (``period_order``)."""
    post_pos = np.unique(order[po == 1])
    pre_pos = np.unique(order[po == 0])
    if np.intersect1d(post_pos, pre_pos).size:
        result.notes.append("event study skipped: 'post' is not a function of the period (staggered timing?)")
        return
    if pre_pos.size and post_pos.size and pre_pos.max() > post_pos.min():
        result.notes.append("event study skipped: some periods marked 'post' come before periods marked before "
                            "the intervention")
        return
    positions = np.unique(order)
    if len(positions) < 3:
        return
    label_of = pd.Series(d[time].to_numpy(), index=order).groupby(level=0).first()
    ref = pre_pos.max()
    first_post = post_pos.min()
    cols = {}
    names = []
    for t in positions:
        if t == ref:
            continue
        name = f"treated_x_{_fmt_time(label_of[t])}"
        cols[name] = tr * (order == t)
        names.append((t, name))
    if unit is None:
        cols["treated"] = tr
    X = _design_matrix(d, cols, controls)
    res = _fit_ols(y, X, factors, absorbed, cov_type, groups, add_const=not factors, nested_dof=nested_dof)
    ci = res.conf_int(alpha=1 - ci_level)
    rank = {t: i for i, t in enumerate(positions)}
    rows = []
    for t in positions:
        rel = rank[t] - rank[first_post]
        if t == ref:
            rows.append({"time": label_of[t], "rel": rel, "coef": 0.0, "ci_low": 0.0, "ci_high": 0.0,
                         "reference": True})
            continue
        name = dict(names)[t]
        if name not in res.params.index:
            continue
        rows.append({"time": label_of[t], "rel": rel, "coef": float(res.params[name]),
                     "ci_low": float(ci.loc[name, 0]), "ci_high": float(ci.loc[name, 1]), "reference": False})
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
