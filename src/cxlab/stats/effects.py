"""Effect sizes for differences across several groups, each with its interval by inverting the
noncentral distribution of its test statistic (Smithson 2003).

- ``kruskal_epsilon2``: Kruskal–Wallis H with epsilon² = H / (n − 1) (Tomczak & Tomczak 2014);
- ``anova_eta2``: one-way ANOVA F with eta² = SS_between / SS_total.
"""
from __future__ import annotations

import numpy as np

from .intervals import noncentrality_bounds

# scipy is imported where it is used: importing cxlab should not pay for it (issue 18).

__all__ = ["kruskal_epsilon2", "anova_eta2"]


def kruskal_epsilon2(groups: list[np.ndarray], ci_level: float = 0.95) -> dict:
    """Kruskal–Wallis H test of equal distributions across groups, with epsilon² = H / (n − 1)
    and its interval from the noncentral chi-square of H."""
    from scipy import stats

    groups = [np.asarray(g, dtype=float) for g in groups if len(g)]
    n = sum(len(g) for g in groups)
    h, p = stats.kruskal(*groups)
    df = len(groups) - 1
    cdf = lambda x, nc: stats.chi2.cdf(x, df) if nc <= 0 else stats.ncx2.cdf(x, df, nc)
    lo, hi = noncentrality_bounds(cdf, h, ci_level)
    return {"statistic": float(h), "df": df, "p_value": float(p), "effect": float(h / (n - 1)),
            "ci_low": min(lo / (n - 1), 1.0), "ci_high": min(hi / (n - 1), 1.0), "n": n,
            "test": "Kruskal–Wallis H", "effect_measure": "epsilon²"}


def anova_eta2(groups: list[np.ndarray], ci_level: float = 0.95) -> dict:
    """One-way ANOVA F test of equal means, with eta² = SS_between / SS_total and its interval
    from the noncentral F (eta² = λ / (λ + n) at the noncentrality bounds)."""
    from scipy import stats

    groups = [np.asarray(g, dtype=float) for g in groups if len(g)]
    n = sum(len(g) for g in groups)
    f, p = stats.f_oneway(*groups)
    allv = np.concatenate(groups)
    grand = allv.mean()
    ssb = sum(len(g) * (g.mean() - grand) ** 2 for g in groups)
    sst = float(((allv - grand) ** 2).sum())
    df1, df2 = len(groups) - 1, n - len(groups)
    cdf = lambda x, nc: stats.f.cdf(x, df1, df2) if nc <= 0 else stats.ncf.cdf(x, df1, df2, nc)
    lo, hi = noncentrality_bounds(cdf, f, ci_level)
    return {"statistic": float(f), "df": df1, "p_value": float(p), "effect": float(ssb / sst) if sst else 0.0,
            "ci_low": lo / (lo + n), "ci_high": hi / (hi + n), "n": n,
            "test": "one-way ANOVA F", "effect_measure": "eta²"}
