"""Stage 2, segmentation: who the customers are and how they behave.

- ``demographic``: age, income, region and tenure bands from the customers table;
- ``features``: behavioural features per customer from the event log, in one engine query
  (engagement, channel and stage mix, purchases in lifetimes' frequency/recency/T terms,
  journey outcomes, support, surveys);
- ``rfm``: quintile RFM scores and the usual named RFM segments;
- ``clustering``: k-means on transformed, scaled features, k chosen by silhouette and stability;
- ``personas``: persona cards in words, with touchpoints, channels, KPIs and redacted quotes;
- ``compare``: each KPI per segment, with tests of difference and effect sizes;
- ``heldout``: the stage's tests of difference, on the half of the customers the clusters were
  not fitted on (tests on the fitted customers would be circular);
- ``pipeline``: the whole stage in one call, ``analyze(study, ...)``, whose result's
  ``write()`` saves segments, personas and features for later stages.
"""
from __future__ import annotations

from .clustering import (
    BlockScaler,
    ClusterResult,
    choose_k,
    cluster_customers,
    clustering_matrix,
    default_cluster_columns,
    feature_label,
    fit_kmeans,
    pick_k,
    split_halves,
)
from .compare import SEGMENT_KPIS, SegmentComparison, anova_eta2, compare_segments, kruskal_epsilon2
from .demographic import band, demographic_segments, quantile_edges
from .features import FEATURE_DESCRIPTIONS, comment_sentiment, customer_features
from .heldout import KPI_TIES, heldout_design, heldout_tests, tied_columns
from .personas import PersonaCard, cards_frame, nearest_to_centre, persona_cards, segment_touchpoints
from .pipeline import (
    NO_ACTIVITY,
    SEGMENTS_FILE,
    Segmentation,
    analyze,
    read_segments,
    segment_customers,
    truth_agreement,
)
from .rfm import RFM_ACTIONS, RFM_GRID, RFM_SEGMENTS, rfm_scores, rfm_segment_table

__all__ = [
    "BlockScaler", "ClusterResult", "choose_k", "cluster_customers", "clustering_matrix",
    "default_cluster_columns", "feature_label", "fit_kmeans", "pick_k", "split_halves",
    "KPI_TIES", "heldout_design", "heldout_tests", "tied_columns",
    "SEGMENT_KPIS", "SegmentComparison", "anova_eta2", "compare_segments", "kruskal_epsilon2",
    "band", "demographic_segments", "quantile_edges",
    "FEATURE_DESCRIPTIONS", "comment_sentiment", "customer_features",
    "PersonaCard", "cards_frame", "nearest_to_centre", "persona_cards", "segment_touchpoints",
    "NO_ACTIVITY", "SEGMENTS_FILE", "Segmentation", "analyze", "read_segments", "segment_customers",
    "truth_agreement",
    "RFM_ACTIONS", "RFM_GRID", "RFM_SEGMENTS", "rfm_scores", "rfm_segment_table",
]
