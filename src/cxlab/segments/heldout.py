"""Tests of difference between behavioural segments, on customers the segments were not fitted on.

Why. Clusters are cut out of the features they are fitted on, so a test of those features
across the clusters, on the same customers, is circular: on pure noise (no structure at all)
order value across k-means clusters of channel mix, pace and order value comes out ε² ≈ 0.7,
p ≈ 0. The stage's design:

1. **Split.** ``cluster_customers`` splits the customers with events at random into a fitting
   half and a testing half (``split_halves``, seeded by the stage's ``random_state``). The
   scaling, the choice of k and the centres see the fitting half only; the testing half is
   assigned with the fitted model, as everyone is for the segments later stages read.
2. **KPIs not made from a clustering feature** are tested on the testing half only, each
   customer in the segment the stage gives it (nearest fitted centre over every clustering
   feature).
3. **KPIs made from a clustering feature** (the KPI is one, or both come from the same records:
   ``KPI_TIES``) need one step more: holding customers out is not enough on its own. The fitted
   centres cut the feature space into regions, and a testing-half customer lands in the
   big-basket segment *because of* its own order value, so order value differs between the
   segments again by construction (on noise the held-out test rejects nearly always too;
   ``tests/test_segments_heldout.py`` measures both). Such a KPI is tested on the testing half
   with every customer assigned to the nearest fitted centre over the clustering features *not*
   tied to the KPI (the partial-distance rule that already assigns customers with a missing
   feature). Without structure the segment then carries no information about the KPI and the
   p-values are uniform; with real segments the other features find them and the KPI differs.
4. **A KPI tied to every clustering feature** (say, clustering on order value alone) cannot be
   tested this way: its row says so, with no effect size and no p-value; its values per
   segment stay in the comparison's ``by_segment`` table as a description.

P-values are Holm-adjusted over the KPIs tested. Customers without events are a segment by
definition ("no recorded activity") and are not in the tests. What "the same records" means is
a judgement, written down in ``KPI_TIES``: purchases (orders, revenue, order value, repeat and
timing columns, reaching the goal), support (contacts, tickets) and surveys (scores and
comments). Event counts, pace and the channel and stage mix are the behaviour the KPIs are
compared across, not the KPIs themselves.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .clustering import ClusterResult, assign, clustering_matrix, feature_label
from .compare import SEGMENT_KPIS, kpi_test, segment_kpi_values, tests_frame

__all__ = ["KPI_TIES", "HELDOUT_COLUMNS", "tied_columns", "heldout_tests", "heldout_design"]

_PURCHASES = frozenset({
    "reached_goal", "orders", "order_days", "revenue", "avg_order_value", "frequency", "recency", "T",
    "monetary_value", "days_to_convert", "days_since_last_order",
})
_SUPPORT = frozenset({"support_contacts", "tickets", "unresolved_tickets"})
_SURVEYS = frozenset({"surveys", "nps_latest", "nps_class", "csat_mean", "ces_mean", "sentiment_mean"})

# KPI -> the feature columns computed from the same records (a clustering feature among them
# makes the KPI's test circular unless the feature is left out of the tested customers' assignment)
KPI_TIES: dict[str, frozenset[str]] = {
    "conversion": _PURCHASES, "repeat_buyer": _PURCHASES, "revenue": _PURCHASES, "orders": _PURCHASES,
    "avg_order_value": _PURCHASES,
    "support_contacts": _SUPPORT, "unresolved_ticket": _SUPPORT,
    "nps": _SURVEYS, "csat_mean": _SURVEYS, "sentiment_mean": _SURVEYS,
}

HELDOUT_COLUMNS = ["assigned_by", "tied_features"]
ALL_FEATURES = "all clustering features"


def tied_columns(kpi: str, columns) -> list[str]:
    """The clustering ``columns`` computed from the same records as ``kpi`` (``KPI_TIES``)."""
    return [c for c in columns if c in KPI_TIES[kpi]]


def heldout_tests(
    features: pd.DataFrame,
    clusters: ClusterResult,
    kpis: list[str] | None = None,
    means_test: str = "kruskal",
    ci_level: float = 0.95,
    min_n: int = 2,
) -> pd.DataFrame:
    """The tests of difference between the segments of ``clusters``, on its held-out customers
    (``clusters.heldout``) only, each KPI assigned as the module doc says.

    ``features``: the customer feature table (at least the held-out customers, with the
    clustering columns); ``kpis``: default every KPI the features allow. Returns the ``tests``
    table of ``compare_segments`` (effect size, interval, p-value, Holm's p_adjusted, n = the
    held-out customers with a value) plus ``assigned_by`` (in words: which clustering features
    placed the tested customers) and ``tied_features`` (the left-out columns, comma-separated).
    Empty when nothing was held out or there is one segment."""
    if not len(clusters.heldout) or clusters.k < 2:
        return tests_frame([], extra=HELDOUT_COLUMNS)
    f = features[features["customer_id"].astype(str).isin(clusters.heldout)].reset_index(drop=True)
    values = segment_kpi_values(f)
    kpis = [k for k in (kpis or list(SEGMENT_KPIS)) if k in values.columns and values[k].notna().any()]
    cols = list(clusters.columns)
    Z = clusters.scaler.transform(clustering_matrix(f, cols).to_numpy())
    centres = clusters.model.cluster_centers_
    rows = []
    for kpi in kpis:
        title = SEGMENT_KPIS[kpi][0]
        tied = tied_columns(kpi, cols)
        keep = [j for j, c in enumerate(cols) if c not in tied]
        x = values[kpi].to_numpy(dtype=float)
        label = f"{title} differs by segment (held-out customers)"
        if not keep:
            rows.append({
                "kpi": kpi, "label": label, "n": int(np.isfinite(x).sum()), "segments": clusters.k,
                "test": "not tested", "effect_measure": "", "tied_features": ", ".join(tied),
                "assigned_by": "every clustering feature is made from this KPI's records",
                "method": ("not tested: the segments are made from this KPI's own records, so they differ in it "
                           "by construction; its values per segment are a description"),
            })
            continue
        has = ~np.isnan(Z[:, keep]).all(axis=1)  # a customer with none of the features kept has no segment here
        labels = np.full(len(f), -1)
        labels[has] = assign(Z[has][:, keep], centres[:, keep])
        row = kpi_test(kpi, np.where(has, x, np.nan), labels, means_test=means_test, ci_level=ci_level,
                       min_n=min_n, order=list(range(clusters.k)))
        if row is None:
            continue
        assigned_by = (ALL_FEATURES if not tied else
                       "clustering features except " + ", ".join(feature_label(c) for c in tied))
        rows.append({**row, "label": label, "assigned_by": assigned_by, "tied_features": ", ".join(tied),
                     "method": f"{row['method']}; on held-out customers, segments assigned by {assigned_by}"})
    return tests_frame(rows, extra=HELDOUT_COLUMNS)


def heldout_design(clusters: ClusterResult) -> str:
    """The held-out design in one sentence for the page (sizes of the halves)."""
    if not len(clusters.heldout):
        return "no customers were held out, so the segments are described and not tested"
    return (f"tests on the {len(clusters.heldout):,} customers held out of the fit (a random half); a KPI made "
            "from the same records as a clustering feature is tested with that feature left out of the "
            "customers' assignment")
