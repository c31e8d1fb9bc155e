"""The registration of pre-registered hypotheses: the objectives stage writes it (its output
``hypotheses``, hypotheses.json), the impact stage tests exactly what it holds. Both stages read
the format from here, so neither needs the other.

A registration (format 1):

    {
      "format": 1,
      "study": "demo",
      "registered_at": "2025-11-02T10:15:03+00:00",   # UTC, when this set was first registered
      "fingerprint": "3f9c0a1b2c3d4e5f",              # cxlab.data.fingerprint of the inputs
      "hypotheses": [
        {
          "id": "H1",
          "role": "primary",                 # primary (from an objective) | secondary
          "objective": "grow_conversion",    # null for a secondary hypothesis
          "goal": "Grow online sales",
          "kpi": "conversion_rate",          # a name of cxlab.kpis.KPIS
          "kpi_title": "Conversion rate",
          "kpi_definition": "Share of new customers who …",
          "kind": "proportion",              # proportion | mean | nps: which test family fits
          "unit": "share",                   # share (a fraction) | currency | NPS points | score …
          "direction": "increase",           # the change we expect: increase | decrease
          "alternative": "two-sided",        # tests are two-sided; direction is for the reading
          "min_effect": 0.02,                # smallest change that matters, in KPI units
                                             # (a share as a fraction, NPS in points); null if none
          "alpha": 0.05,
          "design": "did",                   # ab | pre_post | did | its
          "intervention": "new_checkout",
          "date": "2025-07-01",              # the intervention's start (ISO date)
          "treated": {"column": "region", "values": ["North"]},   # column null: everyone
          "baseline": {"start": "2025-01-01", "end": "2025-03-31"},  # the objective's window
          "kpi_options": {"window_days": 30},  # how the KPI is computed (cxlab.kpis.kpi_settings;
                                               # pass back to compute_kpi / kpi_units)
          "statement": "H1: new_checkout increases the conversion rate …",
          "registered_at": "…", "fingerprint": "…"
        }
      ],
      "previous": [{"registered_at": "…", "fingerprint": "…", "hypotheses": 2}]  # earlier sets
    }
"""
from __future__ import annotations

import pandas as pd

from ..errors import StudyError
from .library import get_kpi
from .units import repeat_phrase, window_phrase

__all__ = ["REGISTRATION_FORMAT", "check_registration", "describe_settings", "hypotheses_frame"]

REGISTRATION_FORMAT = 1


def check_registration(registration: dict, where: str = "the registration") -> dict:
    """The registration if this cxlab reads its format; a StudyError saying to re-run the
    objectives stage otherwise."""
    if not isinstance(registration, dict) or registration.get("format") != REGISTRATION_FORMAT:
        found = registration.get("format") if isinstance(registration, dict) else type(registration).__name__
        raise StudyError(f"{where} has format {found!r}; this cxlab reads format {REGISTRATION_FORMAT}. "
                         "Re-run the objectives stage.")
    return registration


def describe_settings(kpi: str, kpi_options: dict | None) -> str:
    """How a KPI was computed, in words, from its frozen settings: 'conversion within 30 days of
    the first touch', 'a repeat order within 90 days of the first order', 'retention by month,
    active = any touchpoint'; '' when nothing is set."""
    options = dict(kpi_options or {})
    name = get_kpi(kpi).name
    if name == "conversion_rate" and "window_days" in options:
        return "conversion " + window_phrase(options["window_days"])
    if name == "repeat_purchase_rate" and "repeat_horizon_days" in options:
        return "a repeat order " + repeat_phrase(options["repeat_horizon_days"])
    if name in ("retention_rate", "churn_rate") and options:
        active = "any touchpoint" if options.get("activity", "any") == "any" else "a purchase"
        return f"{name.split('_')[0]} by {options.get('retention_period', 'month')}, active = {active}"
    return ""


def hypotheses_frame(registration: dict | list) -> pd.DataFrame:
    """The hypotheses as a table for the report: id, role, KPI, how it is measured, direction,
    smallest effect, alpha, design, intervention, date, treated group."""
    hyps = registration["hypotheses"] if isinstance(registration, dict) else registration
    rows = []
    for h in hyps:
        spec = get_kpi(h["kpi"])
        treated = (f"{h['treated']['column']} in {', '.join(map(str, h['treated']['values']))}"
                   if h["treated"]["column"] else "everyone")
        rows.append({
            "id": h["id"], "role": h["role"], "KPI": spec.title,
            "measured": describe_settings(spec.name, h.get("kpi_options")) or "–",
            "expected": h["direction"],
            "smallest effect that matters": "–" if h["min_effect"] is None
            else spec.format_change(h["min_effect"]).lstrip("+"),
            "alpha": h["alpha"], "design": h["design"], "intervention": h["intervention"],
            "from": h["date"], "treated": treated,
        })
    return pd.DataFrame(rows)
