"""Segment × KPI: each KPI per segment with its interval, and a test of whether segments differ.

Every KPI here is a customer-level quantity from the feature table (one value per customer, so
customers are the independent units):

- rates (a 0/1 per customer: reached the goal, bought again, had an unresolved ticket): the
  rate per segment with a Wilson interval; the test is Pearson's chi-square test of
  independence of segment and outcome, the effect size Cramér's V (``cxlab.impact.chi_square``,
  interval by inverting the noncentral chi-square, Smithson 2003);
- categories (latest NPS class: promoter, passive, detractor): the NPS per segment (share of
  promoters − share of detractors, ×100) with a t interval on the +100/0/−100 scores; the test
  is the chi-square test of segment × class, effect size Cramér's V;
- means (revenue, orders, order value, support contacts, CSAT, sentiment): the mean per segment
  with a Student t interval; the test is Kruskal–Wallis (by default; revenue and counts are
  skewed), effect size epsilon² = H / (n − 1) (Tomczak & Tomczak 2014), or one-way ANOVA with
  eta² = SS_between / SS_total; intervals for epsilon² and eta² by inverting the noncentral
  chi-square of H and the noncentral F of F (Smithson 2003).

P-values across the KPIs are adjusted with Holm's method (``p_adjusted``): the table tests many
KPIs at once. With many customers almost every difference is significant; read the effect
sizes (Cohen's rough guide for V with 1 df and for eta²: 0.1 small, 0.3 medium, 0.5 large
for V; 0.01, 0.06, 0.14 for eta² and epsilon²).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..results import ESTIMATE_COLUMNS, Estimate
from ..stats import anova_eta2, kruskal_epsilon2, t_interval, wilson

__all__ = ["SEGMENT_KPIS", "SegmentComparison", "compare_segments", "kruskal_epsilon2", "anova_eta2", "segment_kpi_values"]

# name -> (title, kind, how to get the per-customer value from the features)
SEGMENT_KPIS = {
    "conversion": ("reached the goal", "rate"),
    "repeat_buyer": ("bought again (buyers)", "rate"),
    "revenue": ("revenue per customer", "mean"),
    "orders": ("orders per customer", "mean"),
    "avg_order_value": ("mean order value (buyers)", "mean"),
    "support_contacts": ("support contacts per customer", "mean"),
    "unresolved_ticket": ("had an unresolved ticket", "rate"),
    "nps": ("NPS (latest answer)", "nps"),
    "csat_mean": ("mean CSAT (respondents)", "mean"),
    "sentiment_mean": ("comment sentiment (−1…1)", "mean"),
}


def segment_kpi_values(features: pd.DataFrame) -> pd.DataFrame:
    """Per customer, the value of each segment KPI the features allow (NaN where it does not
    apply: a non-buyer has no order value, a customer without a survey no NPS)."""
    f = features
    out = pd.DataFrame(index=f.index)
    if "reached_goal" in f:
        out["conversion"] = f["reached_goal"].astype(float)
    if "order_days" in f:
        out["repeat_buyer"] = np.where(f["order_days"] > 0, (f["order_days"] >= 2).astype(float), np.nan)
    for col in ("revenue", "orders", "avg_order_value", "support_contacts", "csat_mean", "sentiment_mean"):
        if col in f:
            out[col] = f[col].astype(float)
    if "unresolved_tickets" in f:
        out["unresolved_ticket"] = (f["unresolved_tickets"] > 0).astype(float)
    if "nps_class" in f:
        cls = f["nps_class"].astype("string")
        out["nps"] = cls.map({"promoter": 100.0, "passive": 0.0, "detractor": -100.0}).astype(float)
    return out


def _chi_square(table: np.ndarray, ci_level: float) -> dict:
    from ..stats import chi_square

    est = chi_square(table, ci_level=ci_level)
    return {"statistic": est.extra["chi2"], "df": est.extra["dof"], "p_value": est.p_value, "effect": est.estimate,
            "ci_low": est.ci_low, "ci_high": est.ci_high, "n": est.n, "test": "Pearson chi-square",
            "effect_measure": "Cramér's V"}


# --------------------------------------------------------------------------- per segment
@dataclass
class SegmentComparison:
    """``by_segment``: one row per KPI and segment with the Estimate columns (the KPI's value in
    the segment); ``tests``: one row per KPI with the Estimate columns for the effect size (its
    interval, the test's p-value) plus test, statistic, df, effect_measure and p_adjusted."""

    by_segment: pd.DataFrame
    tests: pd.DataFrame
    segment: str
    kpis: list[str] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        """Segments down, KPIs across: the value of each KPI in each segment (for reading)."""
        wide = self.by_segment.pivot(index="segment", columns="kpi", values="estimate")
        cols = [k for k in self.kpis if k in wide.columns]
        wide = wide[cols]
        wide.columns = [SEGMENT_KPIS[c][0] for c in cols]
        return wide.reset_index()

    def table_formats(self) -> dict:
        """show_table formats for ``table()``: shares as percentages, the rest as numbers."""
        return {SEGMENT_KPIS[k][0]: ("pct" if SEGMENT_KPIS[k][1] == "rate" else "num") for k in self.kpis}

    def tests_table(self) -> pd.DataFrame:
        """The tests for reading: KPI, test, effect size with its interval, Holm-adjusted p, n."""
        t = self.tests
        return pd.DataFrame({
            "KPI": [SEGMENT_KPIS[k][0] for k in t.kpi], "test": t.test, "effect size": t.effect_measure,
            "effect": t.estimate, "ci_low": t.ci_low, "ci_high": t.ci_high, "p (Holm)": t.p_adjusted,
            "customers": t.n,
        })

    def estimates(self) -> list[Estimate]:
        """The effect-size rows as Estimates (label, effect, interval, p-value, n, method)."""
        return [Estimate(r.label, r.estimate, r.ci_low, r.ci_high, r.p_value, int(r.n), r.method)
                for r in self.tests.itertuples()]

    def summary(self) -> str:
        lines = []
        for r in self.tests.itertuples():
            p = "p < 0.001" if r.p_adjusted < 0.001 else f"p = {r.p_adjusted:.3f}"
            lines.append(f"{SEGMENT_KPIS[r.kpi][0]}: {r.effect_measure} {r.estimate:.3f} "
                         f"[{r.ci_low:.3f}, {r.ci_high:.3f}], {r.test} {p} (Holm)")
        return "\n".join(lines)

    def plot(self, kpi: str = "conversion", ax=None):
        """One KPI per segment with its 95% interval."""
        import matplotlib.pyplot as plt

        rows = self.by_segment[self.by_segment.kpi == kpi]
        if rows.empty:
            raise ParameterError(f"no KPI '{kpi}' in this comparison (have {', '.join(self.kpis)})")
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.6))
        y = np.arange(len(rows))
        ax.errorbar(rows.estimate, y, xerr=[rows.estimate - rows.ci_low, rows.ci_high - rows.estimate],
                    fmt="o", capsize=3)
        ax.set_yticks(y)
        ax.set_yticklabels(rows.segment)
        ax.set_xlabel(SEGMENT_KPIS[kpi][0])
        if SEGMENT_KPIS[kpi][1] == "rate":
            from matplotlib.ticker import PercentFormatter

            ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.invert_yaxis()
        return ax


def compare_segments(
    features: pd.DataFrame,
    segments: pd.DataFrame | None = None,
    segment: str = "segment",
    kpis: list[str] | None = None,
    means_test: str = "kruskal",
    ci_level: float = 0.95,
    min_n: int = 2,
) -> SegmentComparison:
    """Each KPI (``SEGMENT_KPIS``; default: all the features allow) per segment, and a test of
    difference between segments with an effect size (see the module doc).

    ``features``: the customer feature table; ``segments``: customer_id → ``segment`` (if the
    column is not in ``features`` already). Segments with fewer than ``min_n`` customers with a
    value are left out of that KPI's test."""
    if means_test not in ("kruskal", "anova"):
        raise ParameterError("means_test must be 'kruskal' (Kruskal–Wallis, epsilon²) or 'anova' (F test, eta²)")
    f = features
    if segments is not None:
        f = f.drop(columns=[segment], errors="ignore").merge(
            segments[["customer_id", segment]].astype({"customer_id": str}), on="customer_id", how="inner")
    if segment not in f.columns:
        raise ParameterError(f"no column '{segment}': pass segments= (customer_id, {segment})")
    unknown = [k for k in (kpis or []) if k not in SEGMENT_KPIS]
    if unknown:
        raise ParameterError(f"unknown KPI(s) {', '.join(unknown)}; known: {', '.join(SEGMENT_KPIS)}")
    values = segment_kpi_values(f)
    kpis = [k for k in (kpis or list(SEGMENT_KPIS)) if k in values.columns and values[k].notna().any()]
    seg = f[segment].astype(str).to_numpy()
    order = pd.Series(seg).value_counts().index.tolist()
    rows, tests = [], []
    for kpi in kpis:
        title, kind = SEGMENT_KPIS[kpi]
        x = values[kpi].to_numpy(dtype=float)
        ok = ~np.isnan(x)
        groups, names = [], []
        for s in order:
            g = x[ok & (seg == s)]
            n = len(g)
            if kind == "rate":
                lo, hi = (float(b) for b in wilson(g.sum(), n, ci_level))
                method = "share, Wilson interval"
            else:
                lo, hi = (float(b) for b in t_interval(g.mean() if n else math.nan, g.std(ddof=1) if n > 1 else math.nan, n, ci_level))
                method = "NPS (promoters − detractors) ×100, t interval" if kind == "nps" else "mean, t interval"
            rows.append({"kpi": kpi, "segment": s, "label": f"{title}, {s}",
                         "estimate": float(g.mean()) if n else math.nan, "ci_low": lo, "ci_high": hi,
                         "p_value": None, "n": n, "method": method})
            if n >= min_n:
                groups.append(g)
                names.append(s)
        if len(groups) < 2:
            continue
        if kind in ("rate", "nps"):
            cats = np.unique(np.concatenate(groups))
            table = np.array([[np.sum(g == c) for c in cats] for g in groups], dtype=float)
            table = table[:, table.sum(axis=0) > 0]
            if table.shape[1] < 2:
                continue
            res = _chi_square(table, ci_level)
        elif means_test == "kruskal":
            if all(np.ptp(g) == 0 for g in groups) and len({g[0] for g in groups}) == 1:
                continue
            res = kruskal_epsilon2(groups, ci_level)
        else:
            res = anova_eta2(groups, ci_level)
        tests.append({"kpi": kpi, "label": f"{title} differs by {segment.replace('_', ' ')}",
                      "estimate": res["effect"], "ci_low": res["ci_low"], "ci_high": res["ci_high"],
                      "p_value": res["p_value"], "n": int(res["n"]),
                      "method": f"{res['test']} test; effect size {res['effect_measure']}",
                      "test": res["test"], "statistic": res["statistic"], "df": res["df"],
                      "effect_measure": res["effect_measure"], "segments": len(groups)})
    by_segment = pd.DataFrame(rows, columns=["kpi", "segment"] + ESTIMATE_COLUMNS)
    tests_df = pd.DataFrame(tests, columns=["kpi"] + ESTIMATE_COLUMNS + ["test", "statistic", "df",
                                                                      "effect_measure", "segments"])
    if len(tests_df):
        from ..stats import adjust_pvalues

        tests_df["p_adjusted"] = adjust_pvalues(tests_df["p_value"].tolist(), "holm")
    else:
        tests_df["p_adjusted"] = pd.Series(dtype=float)
    return SegmentComparison(by_segment=by_segment, tests=tests_df, segment=segment, kpis=kpis)
