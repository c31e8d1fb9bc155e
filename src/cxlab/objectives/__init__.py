"""Stage 1, objectives: objectives against targets on the shared KPI library, retention by
cohort, pre-registered hypotheses for the impact stage, and customer lifetime value.

- ``analyze(study, **parameters) -> ObjectivesStage`` (``stage``): the whole stage in one call;
  ``.write()`` writes its outputs (kpis, objectives, clv, hypotheses) and its record;
- ``cohorts``: retention by cohort (first-time, recurring, unbounded) and lifecycle states;
- ``targets``: the objectives table (baseline, current, target, gap, projection to the target
  date, status), trends, breakdowns;
- ``hypotheses``: the registration of the hypotheses the impact stage tests;
- ``clv``: historical value, BG/NBD + Gamma-Gamma predictive CLV (fitted with scipy).

The KPI library itself is core (``cxlab.kpis``); its names are re-exported here.
"""
from __future__ import annotations

from .clv import (
    BetaGeo,
    CLVResult,
    GammaGamma,
    HoldoutCheck,
    clv,
    fit_bgnbd,
    fit_gamma_gamma,
    historical_value,
    holdout_check,
    predict_clv,
    rfm_summary,
    value_by_segment,
)
from .cohorts import Lifecycle, RetentionTable, activity_periods, lifecycle, retention_table
from .hypotheses import (
    HYPOTHESES_FILE,
    build_hypotheses,
    hypotheses_frame,
    load_hypotheses,
    register_hypotheses,
)
from ..kpis import (
    KPI,
    KPIS,
    compute_kpi,
    data_end,
    estimates_from_stats,
    format_value,
    get_kpi,
    kpi_definitions,
    kpi_estimate,
    kpi_stats,
    kpi_table,
    kpi_units,
)
from .stage import ObjectivesStage, analyze
from .targets import (
    STATUSES,
    KPIBreakdown,
    KPITrend,
    ObjectivesResult,
    kpi_breakdown,
    kpi_trend,
    objective_direction,
    objective_sentence,
    objective_windows,
    objectives_table,
    project_trend,
    target_date,
    target_value,
)

__all__ = [
    # the stage
    "analyze", "ObjectivesStage",
    # kpis
    "KPI", "KPIS", "compute_kpi", "data_end", "estimates_from_stats", "format_value", "get_kpi",
    "kpi_definitions", "kpi_estimate", "kpi_stats", "kpi_table", "kpi_units",
    # cohorts
    "RetentionTable", "retention_table", "Lifecycle", "lifecycle", "activity_periods",
    # targets
    "ObjectivesResult", "objectives_table", "objective_sentence", "objective_direction",
    "objective_windows", "target_value", "target_date", "project_trend", "STATUSES", "KPITrend", "kpi_trend", "KPIBreakdown", "kpi_breakdown",
    # hypotheses
    "HYPOTHESES_FILE", "build_hypotheses", "register_hypotheses", "load_hypotheses", "hypotheses_frame",
    # clv
    "BetaGeo", "CLVResult", "GammaGamma", "HoldoutCheck", "clv", "fit_bgnbd", "fit_gamma_gamma", "historical_value",
    "holdout_check", "predict_clv", "rfm_summary", "value_by_segment",
]
