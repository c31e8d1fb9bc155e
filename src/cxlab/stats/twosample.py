"""Two-sample and paired tests, each returning an Estimate with an effect size and its interval.

Conventions shared by every function here:

- Group 1 is the group of interest (treatment, after, segment A) and group 2 the comparison
  (control, before, segment B); differences are group 1 minus group 2.
- Rates are proportions in [0, 1]; NPS is on its usual -100..100 scale.
- ``ci_level`` is two-sided (0.95 gives a 95% interval); p-values are two-sided.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import DataError, ParameterError
from ..results import Estimate
from .intervals import noncentrality_bounds, z_value

# scipy is imported where it is used: importing cxlab should not pay for it (issue 18).

__all__ = [
    "two_proportions",
    "chi_square",
    "welch_t",
    "mann_whitney",
    "nps_difference",
    "nps_components",
    "bootstrap",
    "paired_t",
    "mcnemar",
]


def _z(ci_level: float) -> float:
    if not 0 < ci_level < 1:
        raise ParameterError(f"ci_level must be between 0 and 1 (got {ci_level}); write 0.95 for 95%")
    return z_value(ci_level)


def _values(x, name: str) -> np.ndarray:
    """A 1-d float array without missing values; a clear error if nothing is left."""
    arr = np.asarray(pd.Series(x, dtype="float64").dropna(), dtype=float)
    if arr.size == 0:
        raise DataError([f"{name}: no non-missing values to test"])
    return arr


def _count(value, name: str) -> int:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value < 0:
        raise ParameterError(f"{name} must be a non-negative count (got {value})")
    if float(value) != int(value):
        raise ParameterError(f"{name} must be a whole number (got {value})")
    return int(value)


# --------------------------------------------------------------------------- proportions
PROPORTION_METHODS = ("score", "wald")


def _restricted_rates(x1: int, n1: int, x2: int, n2: int, delta: float) -> tuple[float, float]:
    """The maximum-likelihood rates (p1, p2) under the constraint p1 - p2 = ``delta``: the
    closed-form root of Miettinen & Nurminen's (1985) cubic, as statsmodels'
    ``score_test_proportions_2indep`` writes it, made safe at the edges (the arccos argument
    clipped to [-1, 1], the rates to their admissible range) where statsmodels returns NaN."""
    if delta == 0:
        pooled = (x1 + x2) / (n1 + n2)
        return pooled, pooled
    nobs, count = n1 + n2, x1 + x2
    t2 = (n1 + 2 * n2) * delta - nobs - count
    t1 = (n2 * delta - nobs - 2 * x2) * delta + count
    t0 = x2 * delta * (1 - delta)
    q = (t2 / (3 * nobs)) ** 3 - t1 * t2 / (6 * nobs**2) + t0 / (2 * nobs)
    r = math.copysign(math.sqrt(max((t2 / (3 * nobs)) ** 2 - t1 / (3 * nobs), 0.0)), q)
    shift = -t2 / (3 * nobs)
    # r = 0 happens only with q = 0, where the angle is pi/2 and the cosine term vanishes
    p2 = shift if r == 0 else 2 * r * math.cos((math.pi + math.acos(min(1.0, max(-1.0, q / r**3)))) / 3) + shift
    p2 = min(max(p2, max(0.0, -delta)), min(1.0, 1.0 - delta))
    return p2 + delta, p2


def _score_parts(x1: int, n1: int, x2: int, n2: int, delta: float) -> tuple[float, float]:
    """Numerator and variance of Miettinen & Nurminen's score statistic for p1 - p2 = delta:
    z = (p1_hat - p2_hat - delta) / sqrt(var), var from the restricted rates with the small-sample
    factor N / (N - 1)."""
    r1, r2 = _restricted_rates(x1, n1, x2, n2, delta)
    var = (r1 * (1 - r1) / n1 + r2 * (1 - r2) / n2) * (n1 + n2) / (n1 + n2 - 1)
    return x1 / n1 - x2 / n2 - delta, max(var, 0.0)


def _score_interval(x1: int, n1: int, x2: int, n2: int, z: float) -> tuple[float, float]:
    """Every difference delta the score test does not reject: |score(delta)| <= z. Found as the
    roots of num^2 - z^2 var on each side of the estimate (finite at delta = -1 and 1, where
    the restricted variance is 0), so the bounds hold to about 1e-15."""
    diff = x1 / n1 - x2 / n2

    def excess(delta: float) -> float:  # > 0 outside the interval, < 0 inside
        num, var = _score_parts(x1, n1, x2, n2, delta)
        return num * num - z * z * var

    bounds = []
    for edge in (-1.0, 1.0):
        if diff == edge or excess(edge) <= 0:
            bounds.append(edge)
            continue
        # where the variance vanishes at the estimate (0 of n and 0 of m, or all of both) the
        # excess is 0 there; step towards the edge until it is inside (< 0)
        start, step = diff, 1e-12
        while excess(start) >= 0 and abs(start - diff) < 0.5:
            start = diff + math.copysign(step, edge)
            step *= 10
        bounds.append(_boundary(excess, start, edge))
    return bounds[0], bounds[1]


def _boundary(excess, inside: float, outside: float) -> float:
    """Where ``excess`` turns from < 0 (at ``inside``) to >= 0 (at ``outside``), by bisection to
    brentq's tolerance (1e-15 + 4 machine epsilons of the bound). Not scipy.optimize.brentq:
    importing scipy.optimize cost 1.2 CPU-s per process, more than every interval of a stage."""
    tolerance = 4 * np.finfo(float).eps
    while abs(outside - inside) > 1e-15 + tolerance * abs(inside):
        middle = (inside + outside) / 2
        if middle in (inside, outside):
            break
        if excess(middle) < 0:
            inside = middle
        else:
            outside = middle
    return (inside + outside) / 2


def _two_sided_normal_p(z: float) -> float:
    """2 P(Z > |z|) for a standard normal Z, from the standard library's erfc (SciPy's norm.sf
    to the last bit or two; importing scipy.stats for it cost 1.4 CPU-seconds per process)."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def two_proportions(
    x1: int,
    n1: int,
    x2: int,
    n2: int,
    *,
    method: str = "score",
    ci_level: float = 0.95,
    label: str = "difference in rates",
) -> Estimate:
    """Difference of two rates, p1 - p2, with a confidence interval and a test of no difference
    that always agree: the interval excludes 0 exactly when p < 1 - ``ci_level``, because the
    interval is the set of differences the same test does not reject.

    x1 of n1 units in group 1 had the outcome (converted, churned ...), x2 of n2 in group 2.

    method:
      - "score" (default): Miettinen & Nurminen's (1985) score test and the interval that
        inverts it. The test of p1 - p2 = 0 uses the pooled rate with the small-sample factor
        N / (N - 1) (``statsmodels.stats.proportion.test_proportions_2indep(method="score")``);
        the interval holds every difference that test does not reject
        (``confint_proportions_2indep(method="score")``, computed here with a bracket that
        does not fail where statsmodels' does, e.g. 16/40 against 8/40). It stays inside
        [-1, 1], covers close to its level with few events, and needs no switch to an exact
        test. For 16/40 against 8/40: +0.20 [-0.002, 0.389], p = 0.052.
      - "wald": the Wald interval (each group's own variance, p(1-p)/n) with the z-test on the
        same standard error (``test_proportions_2indep(method="wald")``): the textbook large-
        sample pair. For 16/40 against 8/40: +0.20 [0.004, 0.396], p = 0.046.
      "auto", the old default, is taken as "score". The old pairs (a pooled z-test beside the
      Wald interval; Fisher's exact test beside Newcombe's interval) are gone: each could call
      a difference significant while its interval held 0, or the reverse.

    Returns an Estimate in rate units (0.061 = 6.1 points); ``extra`` holds p1, p2, n1, n2,
    the unpooled standard error ``se`` (for power) and the method.
    """
    x1, n1, x2, n2 = (_count(v, k) for v, k in ((x1, "x1"), (n1, "n1"), (x2, "x2"), (n2, "n2")))
    if n1 == 0 or n2 == 0:
        raise DataError(["two_proportions: each group needs at least one unit (n1 and n2 > 0)"])
    if x1 > n1 or x2 > n2:
        raise ParameterError(f"a count of events exceeds its group size ({x1}/{n1}, {x2}/{n2})")
    if method == "auto":
        method = "score"
    if method not in PROPORTION_METHODS:
        raise ParameterError(f"method '{method}' must be score (the default) or wald; the z/Fisher choices were "
                             "removed because their intervals and p-values could disagree")
    z = _z(ci_level)
    p1, p2 = x1 / n1, x2 / n2
    diff = p1 - p2
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    if method == "score":
        num, var = _score_parts(x1, n1, x2, n2, 0.0)
        # no variance under the null: every unit alike (0 or 1) in both groups, so no difference
        p = _two_sided_normal_p(num / math.sqrt(var)) if var > 0 else 1.0
        lo, hi = _score_interval(x1, n1, x2, n2, z)
        name = "score test of two rates (Miettinen–Nurminen), score interval"
    else:
        if se > 0:
            p = _two_sided_normal_p(diff / se)
            lo, hi = diff - z * se, diff + z * se
        else:  # every unit alike within each group: the difference is known exactly
            p, lo, hi = (1.0 if diff == 0 else 0.0), diff, diff
        name = "z-test of two rates (unpooled), Wald interval"
    lo, hi = max(-1.0, lo), min(1.0, hi)
    return Estimate(
        label, float(diff), float(lo), float(hi), min(p, 1.0), n1 + n2, name, ci_level,
        extra={"p1": p1, "p2": p2, "n1": n1, "n2": n2, "se": se, "test": method},
    )


def chi_square(
    data: pd.DataFrame | np.ndarray,
    row: str | None = None,
    col: str | None = None,
    *,
    correction: bool = False,
    ci_level: float = 0.95,
    label: str | None = None,
) -> Estimate:
    """Chi-square test of independence between two categorical variables.

    Pass a DataFrame with the two column names (``row``, ``col``), or a contingency table of
    counts directly. The effect size is Cramér's V (0 = independent, 1 = fully associated)
    with an interval from inverting the noncentral chi-square distribution (Smithson 2003);
    the p-value is Pearson's chi-square test, as ``scipy.stats.chi2_contingency`` computes it
    (Yates' continuity correction for 2x2 tables only when ``correction=True``).
    """
    from scipy import stats

    if isinstance(data, pd.DataFrame):
        if row is None or col is None:
            raise ParameterError("chi_square(data, row, col): name the two columns to cross")
        for c in (row, col):
            if c not in data.columns:
                raise DataError([f"chi_square: column '{c}' not in the table ({', '.join(map(str, data.columns))})"])
        table = pd.crosstab(data[row], data[col]).to_numpy()
        label = label or f"association of {row} and {col}"
    else:
        table = np.asarray(data, dtype=float)
        label = label or "association (contingency table)"
    if table.ndim != 2 or min(table.shape) < 2:
        raise DataError([f"chi_square: need at least a 2x2 table of counts (got shape {table.shape})"])
    chi2, p, dof, _ = stats.chi2_contingency(table, correction=correction)
    n = float(table.sum())
    k = min(table.shape) - 1
    v = math.sqrt(chi2 / (n * k))

    cdf = lambda x, nc: stats.chi2.cdf(x, dof) if nc <= 0 else stats.ncx2.cdf(x, dof, nc)  # noqa: E731
    lam_lo, lam_hi = noncentrality_bounds(cdf, chi2, ci_level)
    lo = math.sqrt(lam_lo / (n * k))
    hi = math.sqrt(min(lam_hi / (n * k), 1.0))
    return Estimate(
        label, v, lo, hi, float(p), int(n), "Pearson chi-square test, Cramér's V", ci_level,
        extra={"chi2": float(chi2), "dof": int(dof)},
    )


# --------------------------------------------------------------------------- means and ranks
def welch_t(a, b, *, ci_level: float = 0.95, label: str = "difference in means") -> Estimate:
    """Difference of two means, mean(a) - mean(b), by Welch's t-test (no equal-variance
    assumption), with the Welch–Satterthwaite degrees of freedom for the interval; the
    p-value is ``scipy.stats.ttest_ind(a, b, equal_var=False)``'s."""
    from scipy import stats

    a, b = _values(a, "group 1"), _values(b, "group 2")
    if a.size < 2 or b.size < 2:
        raise DataError(["welch_t: each group needs at least two values"])
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    diff = float(a.mean() - b.mean())
    if se == 0:
        return Estimate(label, diff, diff, diff, 1.0 if diff == 0 else 0.0, a.size + b.size,
                        "Welch's t-test", ci_level, extra={"se": 0.0})
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    t = diff / se
    q = stats.t.ppf(0.5 + ci_level / 2, df)
    p = float(2 * stats.t.sf(abs(t), df))
    return Estimate(label, diff, diff - q * se, diff + q * se, p, a.size + b.size, "Welch's t-test",
                    ci_level, extra={"se": se, "df": df, "t": t, "mean1": a.mean(), "mean2": b.mean(),
                                     "sd1": a.std(ddof=1), "sd2": b.std(ddof=1), "n1": a.size, "n2": b.size})


def _kth_pairwise_difference(a: np.ndarray, b_sorted: np.ndarray, k: int) -> float:
    """The k-th smallest (1-based) of all differences a_i - b_j, without forming them."""
    lo = float(a.min() - b_sorted[-1])
    hi = float(a.max() - b_sorted[0])

    def count_le(d: float) -> int:
        # number of pairs with a_i - b_j <= d, i.e. b_j >= a_i - d
        return int((b_sorted.size - np.searchsorted(b_sorted, a - d, side="left")).sum())

    tol = max(abs(lo), abs(hi), 1.0) * 1e-12
    for _ in range(200):
        if hi - lo <= tol:
            break
        mid = (lo + hi) / 2
        if count_le(mid) >= k:
            hi = mid
        else:
            lo = mid
    return hi


def mann_whitney(a, b, *, ci_level: float = 0.95, label: str = "shift (Hodges–Lehmann)") -> Estimate:
    """Mann–Whitney (Wilcoxon rank-sum) test with the Hodges–Lehmann shift as effect size.

    The shift is the median of all differences a_i - b_j: how much larger a typical value in
    group 1 is than one in group 2, in the outcome's units. Its interval is the distribution-
    free one from the order statistics of those differences (Lehmann 1975; normal approximation
    to the U distribution). The p-value is ``scipy.stats.mannwhitneyu(a, b)``'s (two-sided).
    ``extra`` holds the rank-biserial correlation (2U/(n1 n2) - 1, from -1 to 1) and U.
    """
    from scipy import stats

    a, b = _values(a, "group 1"), _values(b, "group 2")
    n1, n2 = a.size, b.size
    res = stats.mannwhitneyu(a, b, alternative="two-sided")
    u = float(res.statistic)
    m = n1 * n2
    bs = np.sort(b)
    z = _z(ci_level)
    k = int(math.floor(m / 2 - z * math.sqrt(m * (n1 + n2 + 1) / 12)))
    k = max(k, 1)
    if m <= 4_000_000:
        d = np.sort((a[:, None] - bs[None, :]).ravel())
        hl = float(np.median(d))
        lo, hi = float(d[k - 1]), float(d[m - k])
    else:
        hl = (_kth_pairwise_difference(a, bs, (m + 1) // 2) + _kth_pairwise_difference(a, bs, m // 2 + 1)) / 2
        lo = _kth_pairwise_difference(a, bs, k)
        hi = _kth_pairwise_difference(a, bs, m - k + 1)
    return Estimate(label, hl, lo, hi, float(res.pvalue), n1 + n2,
                    "Mann–Whitney U test, Hodges–Lehmann shift", ci_level,
                    extra={"U": u, "rank_biserial": 2 * u / m - 1, "n1": n1, "n2": n2})


# --------------------------------------------------------------------------- NPS
def nps_components(scores) -> dict:
    """Shares of promoters (9–10) and detractors (0–6), NPS in points, and its variance.

    NPS = 100 (p_pro - p_det). From the multinomial, var(p_pro - p_det) =
    (p_pro + p_det - (p_pro - p_det)^2) / n, so var(NPS) is 100^2 times that.
    """
    s = _values(scores, "NPS scores")
    bad = s[(s < 0) | (s > 10) | (s != np.round(s))]
    if bad.size:
        raise DataError([f"NPS scores must be whole numbers 0–10; found {sorted(set(bad.tolist()))[:5]}"])
    n = s.size
    p_pro = float((s >= 9).mean())
    p_det = float((s <= 6).mean())
    diff = p_pro - p_det
    return {"n": n, "p_pro": p_pro, "p_det": p_det, "nps": 100 * diff,
            "var": 100**2 * (p_pro + p_det - diff**2) / n}


def nps_difference(scores1, scores2, *, ci_level: float = 0.95, label: str = "difference in NPS") -> Estimate:
    """Difference of two Net Promoter Scores, NPS1 - NPS2, in NPS points (-200..200).

    Each NPS's variance comes from its multinomial (promoter / passive / detractor):
    var = 100^2 (p_pro + p_det - (p_pro - p_det)^2) / n; the two groups are independent, so
    the variance of the difference is the sum. The interval and p-value are normal (z).
    """
    c1, c2 = nps_components(scores1), nps_components(scores2)
    diff = c1["nps"] - c2["nps"]
    se = math.sqrt(c1["var"] + c2["var"])
    z = _z(ci_level)
    p = _two_sided_normal_p(diff / se) if se > 0 else (1.0 if diff == 0 else 0.0)
    return Estimate(label, diff, diff - z * se, diff + z * se, p, c1["n"] + c2["n"],
                    "difference of two NPS (multinomial variance), z-test", ci_level,
                    extra={"se": se, "nps1": c1["nps"], "nps2": c2["nps"], "n1": c1["n"], "n2": c2["n"]})


# --------------------------------------------------------------------------- bootstrap
def _resample(sample, idx):
    if isinstance(sample, (pd.DataFrame, pd.Series)):
        return sample.iloc[idx]
    return sample[idx]


def bootstrap(
    kpi: Callable[..., float],
    *samples,
    n_boot: int = 2000,
    seed: int = 0,
    method: str = "bca",
    ci_level: float = 0.95,
    label: str = "KPI (bootstrap)",
    jackknife_groups: int = 200,
) -> Estimate:
    """Bootstrap interval for any KPI computed by ``kpi(*samples)``.

    Each sample (an array or a DataFrame of rows, e.g. one per group) is resampled with
    replacement independently, ``n_boot`` times, with a seeded generator (``seed``), so the
    result is reproducible. ``method``: "percentile", or "bca" (bias-corrected and
    accelerated, Efron 1987; the default), whose acceleration comes from a jackknife: exact
    delete-one when a sample has at most ``jackknife_groups`` rows, otherwise delete-a-group
    over that many random groups (an approximation that keeps the cost bounded).

    The Estimate's p_value is None (an interval, not a test); ``n`` is the total rows.
    """
    from scipy import stats

    if not samples:
        raise ParameterError("bootstrap(kpi, sample, ...): pass at least one sample")
    if method not in ("bca", "percentile"):
        raise ParameterError(f"method '{method}' must be bca or percentile")
    if n_boot < 100:
        raise ParameterError(f"n_boot={n_boot} is too few for an interval; use 1000 or more")
    samples = [s if isinstance(s, (pd.DataFrame, pd.Series)) else np.asarray(s) for s in samples]
    sizes = [len(s) for s in samples]
    if min(sizes) == 0:
        raise DataError(["bootstrap: a sample is empty"])
    theta = float(kpi(*samples))
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for i in range(n_boot):
        boots[i] = kpi(*[_resample(s, rng.integers(0, n, n)) for s, n in zip(samples, sizes)])
    boots = boots[np.isfinite(boots)]
    a = 1 - ci_level
    if method == "percentile":
        lo, hi = np.quantile(boots, [a / 2, 1 - a / 2])
        name = f"bootstrap percentile interval ({n_boot:,} resamples)"
    else:
        prop = ((boots < theta).sum() + 0.5 * (boots == theta).sum()) / boots.size
        prop = min(max(prop, 1 / (2 * boots.size)), 1 - 1 / (2 * boots.size))
        z0 = stats.norm.ppf(prop)
        # jackknife values: leave out one row (or one group of rows) of one sample at a time
        jack = []
        for j, (s, n) in enumerate(zip(samples, sizes)):
            if n <= jackknife_groups:
                groups = np.arange(n)
            else:
                groups = np.random.default_rng(seed + 1 + j).permutation(n) % jackknife_groups
            for g in np.unique(groups):
                keep = np.flatnonzero(groups != g)
                args = list(samples)
                args[j] = _resample(s, keep)
                jack.append(kpi(*args))
        jack = np.asarray(jack, dtype=float)
        d = jack.mean() - jack
        denom = 6 * (d**2).sum() ** 1.5
        acc = (d**3).sum() / denom if denom > 0 else 0.0
        zq = stats.norm.ppf([a / 2, 1 - a / 2])
        adj = stats.norm.cdf(z0 + (z0 + zq) / (1 - acc * (z0 + zq)))
        lo, hi = np.quantile(boots, adj)
        name = f"bootstrap BCa interval ({n_boot:,} resamples)"
    return Estimate(label, theta, float(lo), float(hi), None, int(sum(sizes)), name, ci_level,
                    extra={"se": float(boots.std(ddof=1)), "n_boot": n_boot, "seed": seed})


# --------------------------------------------------------------------------- paired
def _paired(before, after) -> tuple[np.ndarray, np.ndarray]:
    b = pd.Series(before, dtype="float64").reset_index(drop=True)
    a = pd.Series(after, dtype="float64").reset_index(drop=True)
    if len(a) != len(b):
        raise DataError([f"paired test: before and after must have one value per unit each "
                         f"(got {len(b)} and {len(a)})"])
    ok = a.notna() & b.notna()
    if ok.sum() < 2:
        raise DataError(["paired test: fewer than two units have both a before and an after value"])
    return b[ok].to_numpy(), a[ok].to_numpy()


def paired_t(before, after, *, ci_level: float = 0.95, label: str = "change (after - before)") -> Estimate:
    """Mean change for the same units measured twice, mean(after - before), by the paired
    t-test (``scipy.stats.ttest_rel(after, before)``); units missing either value are dropped."""
    from scipy import stats

    b, a = _paired(before, after)
    d = a - b
    n = d.size
    se = d.std(ddof=1) / math.sqrt(n)
    mean = float(d.mean())
    if se == 0:
        return Estimate(label, mean, mean, mean, 1.0 if mean == 0 else 0.0, n, "paired t-test", ci_level)
    q = stats.t.ppf(0.5 + ci_level / 2, n - 1)
    p = float(2 * stats.t.sf(abs(mean / se), n - 1))
    return Estimate(label, mean, mean - q * se, mean + q * se, p, n, "paired t-test", ci_level,
                    extra={"se": se, "df": n - 1, "sd": float(d.std(ddof=1))})


def mcnemar(
    before,
    after,
    *,
    exact: bool | str = "auto",
    ci_level: float = 0.95,
    label: str = "change in rate (after - before)",
) -> Estimate:
    """Change in a rate for the same units measured twice (0/1 before and after), by McNemar's
    test on the discordant pairs.

    With b units going 0 -> 1 and c going 1 -> 0 out of n, the change is (b - c) / n with the
    Wald interval se = sqrt(b + c - (b - c)^2 / n) / n. The p-value is the exact binomial test
    on the discordant pairs when ``exact`` is True, or "auto" and b + c < 25; otherwise the
    chi-square statistic with continuity correction (as ``statsmodels.stats.contingency_tables.
    mcnemar`` computes each).
    """
    from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

    b_, a_ = _paired(before, after)
    vals = set(np.unique(np.concatenate([b_, a_])).tolist())
    if not vals <= {0.0, 1.0}:
        raise DataError([f"mcnemar: before/after must be 0/1 outcomes; found values {sorted(vals)[:5]}"])
    n = b_.size
    up = int(((b_ == 0) & (a_ == 1)).sum())
    down = int(((b_ == 1) & (a_ == 0)).sum())
    both = int(((b_ == 1) & (a_ == 1)).sum())
    neither = n - up - down - both
    if exact == "auto":
        exact = up + down < 25
    table = [[neither, up], [down, both]]
    p = 1.0 if up + down == 0 else float(sm_mcnemar(table, exact=bool(exact), correction=True).pvalue)
    diff = (up - down) / n
    se = math.sqrt(max(up + down - (up - down) ** 2 / n, 0.0)) / n
    z = _z(ci_level)
    name = "McNemar's test (exact binomial)" if exact else "McNemar's test (chi-square, continuity-corrected)"
    return Estimate(label, diff, diff - z * se, diff + z * se, min(p, 1.0), n, name, ci_level,
                    extra={"se": se, "b": up, "c": down, "rate_before": float(b_.mean()),
                           "rate_after": float(a_.mean())})
