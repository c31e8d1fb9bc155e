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
KPIs at once.

``compare_segments`` tests the segments it is given on the same customers it describes. That is
sound for groups made without looking at the KPIs (demographic bands, a randomised arm) and
circular for clusters: segments cut out of a feature differ in it by construction (on pure
noise, order value across k-means clusters of order value comes out ε² ≈ 0.7, p ≈ 0). The
segmentation stage therefore describes its clusters here (``tests=False``) and tests them on
the held-out half with ``cxlab.segments.heldout.heldout_tests``. With many customers almost every difference is significant; read the effect
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

__all__ = ["SEGMENT_KPIS", "SegmentComparison", "compare_segments", "kruskal_epsilon2", "anova_eta2", "segment_kpi_values",
           "kpi_test", "tests_frame", "TEST_COLUMNS"]

# name -> (title, kind, how to get the per-customer value from the features)
SEGMENT_KPIS = {
    "conversion": ("bought at any time", "rate"),  # the metric dictionary's names (cxlab.metrics)
    "repeat_buyer": ("bought again (buyers)", "rate"),
    "revenue": ("revenue per customer", "mean"),
    "orders": ("orders per customer", "mean"),
    "avg_order_value": ("mean order value (buyers)", "mean"),
    "support_contacts": ("support contacts per customer", "mean"),
    "unresolved_ticket": ("had an unresolved ticket", "rate"),
    "nps": ("NPS (latest answer per customer)", "nps"),
    "csat_mean": ("CSAT (mean per respondent)", "mean"),
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
    # how the tests were made, in words (the stage's: on the held-out half)
    design: str = "tests on the same customers the segments describe"

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
        """The tests for reading: KPI, test, effect size with its interval, Holm-adjusted p, n,
        and (held-out tests) how the tested customers were assigned to segments."""
        t = self.tests
        out = pd.DataFrame({
            "KPI": [SEGMENT_KPIS[k][0] for k in t.kpi], "test": t.test, "effect size": t.effect_measure,
            "effect": t.estimate, "ci_low": t.ci_low, "ci_high": t.ci_high, "p (Holm)": t.p_adjusted,
            "customers": t.n,
        })
        if "assigned_by" in t.columns:
            out["segments assigned by"] = t.assigned_by.to_numpy()
        return out

    def estimates(self) -> list[Estimate]:
        """The effect-size rows as Estimates (label, effect, interval, p-value, n, method); a KPI
        that could not be tested has no p-value (None)."""
        return [Estimate(r.label, r.estimate, r.ci_low, r.ci_high, None if pd.isna(r.p_value) else r.p_value,
                         int(r.n), r.method) for r in self.tests.itertuples()]

    def summary(self) -> str:
        lines = []
        for r in self.tests.itertuples():
            if pd.isna(r.p_value):
                lines.append(f"{SEGMENT_KPIS[r.kpi][0]}: {r.method}")
                continue
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
    tests: bool = True,
) -> SegmentComparison:
    """Each KPI (``SEGMENT_KPIS``; default: all the features allow) per segment, and a test of
    difference between segments with an effect size (see the module doc).

    ``features``: the customer feature table; ``segments``: customer_id → ``segment`` (if the
    column is not in ``features`` already). Segments with fewer than ``min_n`` customers with a
    value are left out of that KPI's test. ``tests=False`` describes only (an empty ``tests``
    table): for segments made from these customers' features, whose tests belong on held-out
    customers (``cxlab.segments.heldout``)."""
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
    rows, test_rows = [], []
    for kpi in kpis:
        title, kind = SEGMENT_KPIS[kpi]
        x = values[kpi].to_numpy(dtype=float)
        ok = ~np.isnan(x)
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
        if not tests:
            continue
        row = kpi_test(kpi, x, seg, means_test=means_test, ci_level=ci_level, min_n=min_n, order=order)
        if row is not None:
            test_rows.append({**row, "label": f"{title} differs by {segment.replace('_', ' ')}"})
    by_segment = pd.DataFrame(rows, columns=["kpi", "segment"] + ESTIMATE_COLUMNS)
    return SegmentComparison(by_segment=by_segment, tests=tests_frame(test_rows), segment=segment, kpis=kpis)


TEST_COLUMNS = ["kpi"] + ESTIMATE_COLUMNS + ["test", "statistic", "df", "effect_measure", "segments"]


def kpi_test(kpi: str, x: np.ndarray, seg: np.ndarray, *, means_test: str = "kruskal", ci_level: float = 0.95,
             min_n: int = 2, order: list | None = None) -> dict | None:
    """The test of difference between segments for one KPI (the module doc's tests), on the
    per-customer values ``x`` (NaN: not applicable) and segment labels ``seg``; segments with
    fewer than ``min_n`` values are left out. A row of the ``tests`` table without its label,
    or None when fewer than two segments, or no variation, are left to test."""
    kind = SEGMENT_KPIS[kpi][1]
    x = np.asarray(x, dtype=float)
    seg = np.asarray(seg).astype(str)
    ok = ~np.isnan(x)
    order = [str(s) for s in order] if order is not None else pd.Series(seg[ok]).value_counts().index.tolist()
    groups = [g for g in (x[ok & (seg == s)] for s in order) if len(g) >= min_n]
    if len(groups) < 2:
        return None
    if kind in ("rate", "nps"):
        cats = np.unique(np.concatenate(groups))
        table = np.array([[np.sum(g == c) for c in cats] for g in groups], dtype=float)
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] < 2:
            return None
        res = _chi_square(table, ci_level)
    elif means_test == "kruskal":
        if all(np.ptp(g) == 0 for g in groups) and len({g[0] for g in groups}) == 1:
            return None
        res = kruskal_epsilon2(groups, ci_level)
    else:
        res = anova_eta2(groups, ci_level)
    return {"kpi": kpi, "estimate": res["effect"], "ci_low": res["ci_low"], "ci_high": res["ci_high"],
            "p_value": res["p_value"], "n": int(res["n"]),
            "method": f"{res['test']} test; effect size {res['effect_measure']}",
            "test": res["test"], "statistic": res["statistic"], "df": res["df"],
            "effect_measure": res["effect_measure"], "segments": len(groups)}


def tests_frame(rows: list[dict], extra: list[str] | None = None) -> pd.DataFrame:
    """The ``tests`` table from rows of ``kpi_test``, with Holm-adjusted p-values over the rows
    that have a p-value (a row without one keeps p_adjusted NaN)."""
    from ..stats import adjust_pvalues

    t = pd.DataFrame(rows, columns=TEST_COLUMNS + (extra or []))
    t["p_adjusted"] = np.nan
    tested = t["p_value"].notna().to_numpy()
    if tested.any():
        t.loc[tested, "p_adjusted"] = adjust_pvalues(t.loc[tested, "p_value"].astype(float).tolist(), "holm")
    return t
