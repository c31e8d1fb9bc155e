"""The KPI library, shared by every stage that states a KPI: each KPI's one-line definition,
unit and better direction (``library``), the unit table it averages over (``units``), and its
computation as an Estimate per window, period or customer group. The objectives stage sets
targets on these KPIs, the impact stage tests them, the journey map quotes them."""
from __future__ import annotations

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

__all__ = [
    "KPI", "KPIS", "compute_kpi", "data_end", "estimates_from_stats", "format_value", "get_kpi",
    "kpi_definitions", "kpi_estimate", "kpi_stats", "kpi_table", "kpi_units",
]
