"""The KPI library, shared by every stage that states a KPI: each KPI's one-line definition,
unit and better direction (``library``), the unit table it averages over (``units``), and its
computation as an Estimate per window, period or customer group. The objectives stage sets
targets on these KPIs and pre-registers hypotheses on them (``hypotheses``: the registration's
format, shared by the stage that writes it and the one that reads it), the impact stage tests
them, the journey map quotes them."""
from __future__ import annotations

from .hypotheses import REGISTRATION_FORMAT, check_registration, describe_settings, hypotheses_frame
from .library import (
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
from .units import (
    PERIOD_INDEX,
    REPEAT_HORIZON_DAYS,
    censoring_note,
    complete_until,
    conversion_window_days,
    kpi_settings,
    repeat_horizon_days,
    repeat_phrase,
    window_phrase,
)

__all__ = [
    "KPI", "KPIS", "compute_kpi", "data_end", "estimates_from_stats", "format_value", "get_kpi",
    "kpi_definitions", "kpi_estimate", "kpi_stats", "kpi_table", "kpi_units",
    "PERIOD_INDEX", "conversion_window_days", "kpi_settings", "window_phrase",
    "REPEAT_HORIZON_DAYS", "repeat_horizon_days", "repeat_phrase", "complete_until", "censoring_note",
    "REGISTRATION_FORMAT", "check_registration", "describe_settings", "hypotheses_frame",
]
