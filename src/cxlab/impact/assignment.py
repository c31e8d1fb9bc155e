"""Difference-in-differences with inference at the level at which the change was assigned.

A change launched in one region (or a few stores) is assigned to *clusters*, not to customers.
Customers of one region in one month share shocks (a local campaign, the weather, a competitor),
so customer-level standard errors treat thousands of customers as independent evidence when the
evidence is a handful of region-months: with one treated region and common region x month shocks
of 2 points, the customer-level test rejects a true null 15-35% of the time. Cluster-robust errors
by region do not repair this with one (or few) treated clusters (MacKinnon & Webb 2017), nor does
the wild cluster bootstrap, which needs several treated clusters.

``did_by_assignment`` therefore works on the cluster x period cells:

1. Each cell's mean outcome and number of units; the estimate is the regression of cell means on
   cluster and period fixed effects and treated x post, weighted by the number of units (the same
   number as the unit-level two-way fixed-effects regression).
2. The p-value and the interval come from **randomization inference**: the same statistic (the
   estimate divided by its sampling standard error) is recomputed for every other way the change
   could have been assigned -- to every set of clusters of the same size and, when there are too
   few clusters for that alone (fewer than ``SPACE_ONLY_MIN`` assignments), also to every set of
   periods of the same size. p is the share of assignments whose statistic is at least as large
   as the observed one; the interval is every effect not rejected at 1 - ci_level (test
   inversion, exact under a constant additive effect). Assigning over clusters only is valid when
   the clusters are exchangeable; adding periods assumes that cluster-period shocks are also
   exchangeable across periods (no cluster-specific trends or persistent shocks), which the
   pre-trend check probes. With one treated region out of four, clusters alone give p-values in
   steps of 1/4: no result could ever be significant, so periods are needed.
3. The design check (pre-trends) is a cell-level event study with a random cluster x period
   shock beside the sampling noise (weights 1 / (tau^2 + s^2/n), tau^2 by Paule-Mandel), and the
   joint F test of the leads with the Knapp-Hartung scale factor, so that shocks common to a
   region-month are not read as diverging trends.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..errors import DataError
from ..results import Estimate
from ._common import _indicator, _require
from .did import DiDResult, period_order

__all__ = ["did_by_assignment", "AssignmentInference", "SPACE_ONLY_MIN", "MAX_ASSIGNMENTS", "PRETREND_ALPHA"]

#: With at least this many ways to choose the treated clusters, only clusters are reassigned
#: (robust to any correlation over time); with fewer, periods are reassigned as well.
SPACE_ONLY_MIN = 200
#: Beyond this many assignments a random sample of them (seeded) is used.
MAX_ASSIGNMENTS = 20_000
#: The level at which the pre-trend check counts as failed.
PRETREND_ALPHA = 0.05


@dataclass
class AssignmentInference:
    """What the randomization inference used: the cells, how the change was reassigned, the
    statistic of every assignment (the first is the observed one) and the smallest p-value
    this design can give at all."""

    cells: pd.DataFrame
    mode: str
    assignments: int
    clusters: int
    treated_clusters: int
    periods: int
    post_periods: int
    statistics: np.ndarray = field(repr=False)
    min_p: float = float("nan")
    enumerated: bool = True

    def describe(self, cluster: str) -> str:
        what = f"1 of {self.clusters}" if self.treated_clusters == 1 else \
            f"{self.treated_clusters} of {self.clusters}"
        ways = f"{self.assignments:,} {'random draws among the ' if not self.enumerated else ''}ways to assign the change"
        if self.mode == "space":
            return (f"randomization inference over {ways} to {what} {cluster} values (any {cluster} "
                    f"could have been the treated one; smallest possible p = {self.min_p:.2g})")
        return (f"randomization inference over {ways} to {what} {cluster} values and {self.post_periods} of "
                f"{self.periods} periods (smallest possible p = {self.min_p:.2g}); with so few {cluster} values "
                f"periods are reassigned too, which assumes {cluster} x period shocks are exchangeable over time")


# --------------------------------------------------------------------------- cells
def _cells(d: pd.DataFrame, outcome: str, cluster: str, order: np.ndarray, tr: np.ndarray, po: np.ndarray,
           time: str) -> pd.DataFrame:
    frame = pd.DataFrame({"c": pd.factorize(d[cluster], sort=True)[0], "t": order, "y": d[outcome].to_numpy(float),
                          "tr": tr, "po": po, "label_c": d[cluster].to_numpy(), "label_t": d[time].to_numpy()})
    g = frame.groupby(["c", "t"], sort=True)
    cells = g.agg(n=("y", "size"), mean=("y", "mean"), tr=("tr", "first"), po=("po", "first"),
                  cluster=("label_c", "first"), time=("label_t", "first")).reset_index()
    sq = frame.assign(y2=frame["y"] ** 2).groupby(["c", "t"], sort=True)["y2"].sum().to_numpy()
    cells["ss"] = np.maximum(sq - cells["n"].to_numpy() * cells["mean"].to_numpy() ** 2, 0.0)
    # the treatment is assigned to clusters and the change happens at a date
    bad_c = frame.groupby("c")["tr"].nunique()
    if (bad_c > 1).any():
        names = frame.loc[frame["c"].isin(bad_c[bad_c > 1].index), "label_c"].unique()[:5]
        raise DataError([f"did: the treated group must be made of whole '{cluster}' values; these hold both treated "
                         f"and untreated units: {', '.join(map(str, names))}"])
    bad_t = frame.groupby("t")["po"].nunique()
    if (bad_t > 1).any():
        names = frame.loc[frame["t"].isin(bad_t[bad_t > 1].index), "label_t"].unique()[:5]
        raise DataError([f"did: periods must lie wholly before or after the intervention; these hold both: "
                         f"{', '.join(map(str, names))}"])
    # renumber periods consecutively among those present
    cells["t"] = pd.factorize(cells["t"], sort=True)[0]
    return cells


def _fe_basis(cells: pd.DataFrame, sw: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the weighted cluster + period fixed-effect columns."""
    G, T = int(cells["c"].max()) + 1, int(cells["t"].max()) + 1
    F = np.zeros((len(cells), G + T))
    F[np.arange(len(cells)), cells["c"].to_numpy()] = 1.0
    F[np.arange(len(cells)), G + cells["t"].to_numpy()] = 1.0
    U, s, _ = np.linalg.svd(F * sw[:, None], full_matrices=False)
    return U[:, s > s.max() * 1e-10]


# --------------------------------------------------------------------------- assignments
def _assignments(G: int, G1: int, T: int, Tp: int, actual_c: np.ndarray, actual_t: np.ndarray,
                 max_assignments: int, seed: int):
    """Indicator matrices (clusters x N) and (periods x N) of the assignments, the observed one
    first; the mode ('space' or 'space_time'); whether all were enumerated."""
    n_space = math.comb(G, G1)
    mode = "space" if n_space >= SPACE_ONLY_MIN else "space_time"
    n_time = 1 if mode == "space" else math.comb(T, Tp)
    total = n_space * n_time
    S0 = actual_c.astype(bool)
    P0 = actual_t.astype(bool)
    if total <= max_assignments:
        def indicators(n, k):
            combos = np.array(list(itertools.combinations(range(n), k)), dtype=int).reshape(-1, k)
            out = np.zeros((n, len(combos)), bool)
            out[combos, np.arange(len(combos))[:, None]] = True
            return out

        spaces = indicators(G, G1)
        times = P0[:, None] if mode == "space" else indicators(T, Tp)
        S = np.repeat(spaces, times.shape[1], axis=1)
        P = np.tile(times, (1, spaces.shape[1]))
        first = np.flatnonzero((S == S0[:, None]).all(0) & (P == P0[:, None]).all(0))[0]
        order = np.r_[first, np.delete(np.arange(total), first)]
        return S[:, order], P[:, order], mode, True
    rng = np.random.default_rng(seed)
    B = max_assignments - 1
    S = np.zeros((G, B), bool)
    P = np.zeros((T, B), bool)
    for b in range(B):
        S[rng.choice(G, G1, replace=False), b] = True
        P[:, b] = P0 if mode == "space" else np.isin(np.arange(T), rng.choice(T, Tp, replace=False))
    return np.c_[S0, S], np.c_[P0, P], mode, False


def _statistics(cells, Q, sw, S, P, batch: int = 2000):
    """For each assignment: b = D~'W y / |D~|_W and a = D~'W D0 / |D~|_W (the statistic is
    b - tau a under an effect tau), with D~ the assignment's treated x post cells net of the
    fixed effects (weighted)."""
    c, t = cells["c"].to_numpy(), cells["t"].to_numpy()
    yw = sw * cells["mean"].to_numpy()
    d0w = sw * (cells["tr"].to_numpy() * cells["po"].to_numpy()).astype(float)
    b, a, norm = [], [], []
    for start in range(0, S.shape[1], batch):
        Dw = (S[c, start:start + batch] & P[t, start:start + batch]).astype(float) * sw[:, None]
        Dt = Dw - Q @ (Q.T @ Dw)
        nn = np.sqrt((Dt * Dt).sum(0))
        norm.append(nn)
        with np.errstate(divide="ignore", invalid="ignore"):
            b.append((Dt.T @ yw) / nn)
            a.append((Dt.T @ d0w) / nn)
    return np.concatenate(b), np.concatenate(a), np.concatenate(norm)


def _invert(b: np.ndarray, a: np.ndarray, alpha: float) -> tuple[float, float]:
    """The set of effects tau with p(tau) > alpha, where p(tau) is the share of assignments i
    with |b_i - tau a_i| >= |b_0 - tau a_0|. Squared, each inequality is a quadratic
    A tau^2 + B tau + C >= 0, true or false between its real roots, so p is a step function:
    one sweep over the sorted roots gives it exactly. Returns the hull of the accepted set
    (infinite ends when p stays above alpha however large the effect)."""
    b0, a0 = b[0], a[0]
    A = a * a - a0 * a0
    B = -2 * (a * b - a0 * b0)
    C = b * b - b0 * b0
    scale = max(1.0, float(np.abs(A).max()), float(np.abs(B).max()), float(np.abs(C).max()))
    tol = 1e-12 * scale
    quad = np.abs(A) > tol
    lin = ~quad & (np.abs(B) > tol)
    # the truth of each inequality as tau -> -infinity
    state = np.where(quad, A > 0, np.where(lin, B < 0, C >= -tol))
    disc = B * B - 4 * A * C
    two = quad & (disc > tol * scale)
    r = np.sqrt(np.where(two, disc, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = np.where(A > 0, (-B - r) / (2 * A), (-B + r) / (2 * A))
        r2 = np.where(A > 0, (-B + r) / (2 * A), (-B - r) / (2 * A))
        rl = -C / B
    # each root toggles its inequality: from the state before it
    flips_at = np.concatenate([r1[two], r2[two], rl[lin]])
    flips = np.concatenate([np.where(state[two], -1, 1), np.where(state[two], 1, -1), np.where(state[lin], -1, 1)])
    n = len(b)
    if flips_at.size == 0:
        p = state.sum() / n
        return (-math.inf, math.inf) if p > alpha else (b0 / a0, b0 / a0)
    order = np.argsort(flips_at, kind="stable")
    roots, idx = np.unique(flips_at[order], return_index=True)
    steps = np.add.reduceat(flips[order], idx)
    counts = state.sum() + np.r_[0, np.cumsum(steps)]   # counts[k]: between roots[k-1] and roots[k]
    ok = np.flatnonzero(counts / n > alpha + 1e-12)
    if ok.size == 0:  # cannot happen: at the estimate itself p = 1
        return b0 / a0, b0 / a0
    first, last = ok[0], ok[-1]
    lo = -math.inf if first == 0 else float(roots[first - 1])
    hi = math.inf if last == len(roots) else float(roots[last])
    return lo, hi


# --------------------------------------------------------------------------- design check
def _paule_mandel(y, X, v, df):
    """tau^2 such that the weighted residual sum of squares with weights 1/(tau^2 + v) equals
    its degrees of freedom (0 when it is already below); returns tau^2, beta, (X'WX)^-1, Q."""
    def fit(tau2):
        w = 1.0 / (tau2 + v)
        XtW = X.T * w
        XtWX_inv = np.linalg.pinv(XtW @ X)
        beta = XtWX_inv @ (XtW @ y)
        r = y - X @ beta
        return beta, XtWX_inv, float((w * r * r).sum())

    if not np.all(v > 0):  # no sampling variance to lean on: equal weights, tau^2 = RSS/df
        v = np.zeros_like(v)
        beta, inv0, _ = fit(1.0)
        rss = float(((y - X @ beta) ** 2).sum())
        tau2 = rss / df if df > 0 else 0.0
        beta, inv, q = fit(max(tau2, 1e-300))
        return tau2, beta, inv, q
    beta, inv, q = fit(0.0)
    if q <= df:
        return 0.0, beta, inv, q
    hi = float(np.var(y)) + float(v.max())
    while fit(hi)[2] > df:
        hi *= 4
    tau2 = optimize.brentq(lambda t2: fit(t2)[2] - df, 0.0, hi, xtol=1e-14 * max(hi, 1e-12), rtol=1e-12)
    beta, inv, q = fit(tau2)
    return tau2, beta, inv, q


def _event_study(cells: pd.DataFrame, s2: float, ci_level: float) -> tuple[pd.DataFrame | None, dict | None, list]:
    """Cell-level event study (cluster and period effects, treated x period for every period but
    the last pre-period) with a random cluster x period shock; the joint F test of the leads."""
    notes = []
    G, T = int(cells["c"].max()) + 1, int(cells["t"].max()) + 1
    post_t = np.unique(cells.loc[cells["po"] == 1, "t"])
    pre_t = np.unique(cells.loc[cells["po"] == 0, "t"])
    if T < 3 or pre_t.size == 0 or post_t.size == 0:
        return None, None, notes
    ref, first_post = int(pre_t.max()), int(post_t.min())
    c, t, tr = cells["c"].to_numpy(), cells["t"].to_numpy(), cells["tr"].to_numpy().astype(float)
    cols = [(c == g).astype(float) for g in range(G)] + [(t == k).astype(float) for k in range(1, T)]
    names = []
    for k in range(T):
        if k != ref:
            cols.append(tr * (t == k))
            names.append(k)
    X = np.column_stack(cols)
    keep = np.abs(X).sum(0) > 0
    X = X[:, keep]
    kept = [k for k, ok in zip(names, keep[len(keep) - len(names):]) if ok]
    rank = int(np.linalg.matrix_rank(X))
    df = len(cells) - rank
    labels = cells.groupby("t")["time"].first()
    y = cells["mean"].to_numpy()
    v = (s2 / cells["n"].to_numpy()) if np.isfinite(s2) else np.zeros(len(cells))
    if df < 1:
        notes.append(f"the joint test of the pre-period gaps could not be computed: {len(cells)} cluster x period "
                     f"cells leave no degrees of freedom for the event study (it needs at least three clusters)")
        return None, None, notes
    tau2, beta, inv, q = _paule_mandel(y, X, v, df)
    scale = max(1.0, q / df)  # Knapp-Hartung, never below the model-based variance
    cov = inv * scale
    tq = stats.t.ppf(0.5 + ci_level / 2, df)
    offset = X.shape[1] - len(kept)
    rows = []
    for k in range(T):
        rel = k - first_post
        if k == ref:
            rows.append({"time": labels[k], "rel": rel, "coef": 0.0, "ci_low": 0.0, "ci_high": 0.0, "reference": True})
            continue
        if k not in kept:
            continue
        j = offset + kept.index(k)
        se = math.sqrt(cov[j, j])
        rows.append({"time": labels[k], "rel": rel, "coef": float(beta[j]), "ci_low": float(beta[j] - tq * se),
                     "ci_high": float(beta[j] + tq * se), "reference": False})
    es = pd.DataFrame(rows)
    leads = [offset + kept.index(k) for k in kept if k < ref]
    if not leads:
        return es, None, notes
    R = np.zeros((len(leads), X.shape[1]))
    R[np.arange(len(leads)), leads] = 1.0
    rb = R @ beta
    try:
        F = float(rb @ np.linalg.solve(R @ cov @ R.T, rb)) / len(leads)
    except np.linalg.LinAlgError as exc:
        notes.append(f"the joint test of the pre-period gaps could not be computed: {exc}")
        return es, None, notes
    pretrend = {"statistic": F, "p_value": float(stats.f.sf(F, len(leads), df)), "df_num": len(leads),
                "df_denom": float(df), "tau2": float(tau2),
                "method": ("cell-level event study with a random cluster x period shock (Paule-Mandel), "
                           "Knapp-Hartung F test of the leads")}
    return es, pretrend, notes


# --------------------------------------------------------------------------- the design
def did_by_assignment(
    data: pd.DataFrame,
    outcome: str,
    treated: str,
    post: str,
    cluster: str,
    time: str,
    *,
    ci_level: float = 0.95,
    max_assignments: int = MAX_ASSIGNMENTS,
    seed: int = 0,
    label: str | None = None,
) -> DiDResult:
    """Difference-in-differences whose p-value and interval come from the way the change was
    assigned: to whole ``cluster`` values (regions, stores) from a date on. See the module
    docstring for the method and its assumptions.

    data: one row per unit (a new customer, a survey answer, a customer-month) with the
        outcome, the 0/1 ``treated`` and ``post`` columns, the ``cluster`` the change was
        assigned to and the ``time`` period (ordered by ``cxlab.impact.did.period_order``).
    Returns a DiDResult: ``estimate`` (method text says what was reassigned and why),
    ``event_study`` and ``pretrend`` at the cell level, ``model`` the AssignmentInference,
    ``means`` the unit-weighted 2x2 table.
    """
    _require(data, outcome, treated, post, cluster, time, where="did")
    d = data[list(dict.fromkeys([outcome, treated, post, cluster, time]))].dropna()
    if d.empty:
        raise DataError([f"did: no complete rows in {outcome}, {treated}, {post}, {cluster}, {time}"])
    tr = _indicator(d, treated, "did").astype(int)
    po = _indicator(d, post, "did").astype(int)
    cell = 2 * tr + po
    counts = np.bincount(cell, minlength=4)
    if (counts == 0).any():
        raise DataError(["did: need rows in all four cells treated/comparison x before/after; counts: "
                         f"comparison before {counts[0]}, comparison after {counts[1]}, "
                         f"treated before {counts[2]}, treated after {counts[3]}"])
    order = period_order(d[time], time)
    cells = _cells(d, outcome, cluster, order, tr, po, time)
    n_units = len(d)
    df_within = n_units - len(cells)
    s2 = float(cells["ss"].sum() / df_within) if df_within > 0 else float("nan")

    G, T = int(cells["c"].max()) + 1, int(cells["t"].max()) + 1
    tr_c = cells.groupby("c")["tr"].first().reindex(range(G)).to_numpy()
    po_t = cells.groupby("t")["po"].first().reindex(range(T)).to_numpy()
    G1, Tp = int(tr_c.sum()), int(po_t.sum())
    sw = np.sqrt(cells["n"].to_numpy(float))
    Q = _fe_basis(cells, sw)
    S, P, mode, enumerated = _assignments(G, G1, T, Tp, tr_c, po_t, max_assignments, seed)
    b, a, norm = _statistics(cells, Q, sw, S, P)
    if not norm[0] > 1e-12:
        raise DataError(["did: treated x post is absorbed by the cluster and period effects"])
    ok = norm > 1e-9 * norm[0]
    b, a = b[ok], a[ok]
    N = len(b)
    estimate = float(b[0] / a[0])
    p = float((np.abs(b) >= np.abs(b[0]) * (1 - 1e-10)).mean())
    min_p = float((np.abs(a) >= np.abs(a[0]) * (1 - 1e-9)).mean())
    lo, hi = _invert(b, a, 1 - ci_level)

    inference = AssignmentInference(cells.drop(columns=["ss"]), mode, N, G, G1, T, Tp, b, min_p, enumerated)
    method = (f"difference-in-differences on {cluster} x period means (weighted by units, {cluster} and period "
              f"fixed effects); {inference.describe(cluster)}. The change was assigned to whole {cluster} values, so "
              f"the evidence is the {G} {cluster} values over {T} periods, not the {n_units:,} units")
    sums = np.bincount(cell, weights=d[outcome].to_numpy(float), minlength=4)
    means = pd.DataFrame({"treated": [0, 0, 1, 1], "post": [0, 1, 0, 1], "mean": sums / counts, "count": counts})
    se_sampling = math.sqrt(s2) / norm[0] if np.isfinite(s2) else float("nan")
    est = Estimate(label or f"{outcome}: difference in differences", estimate, lo, hi, p, n_units, method, ci_level,
                   extra={"se": (hi - lo) / (2 * stats.norm.ppf(0.5 + ci_level / 2))
                          if np.isfinite(hi - lo) else float("inf"),
                          "se_sampling": se_sampling, "inference": "randomization", "assignments": N,
                          "reassigned": mode, "min_p": min_p, "clusters": G, "treated_clusters": G1,
                          "periods": T, "n_obs": n_units})
    result = DiDResult(est, inference, means)
    es, pretrend, notes = _event_study(cells, s2, ci_level)
    result.event_study, result.pretrend = es, pretrend
    result.notes.extend(notes)
    if min_p > 1 - ci_level:
        result.notes.append(f"with {G} {cluster} values and {T} periods no result can reach p < {1 - ci_level:.2g}: "
                            f"the smallest possible p-value of this design is {min_p:.2g}")
    return result
