"""Pre-registered hypotheses: what the impact stage will test, written down before any test runs.

Every objective tied to an intervention becomes a *primary* hypothesis: the intervention moves
the objective's KPI in the objective's direction. Every further KPI the intervention lists
(study.yaml ``interventions[].kpis``) becomes a *secondary* hypothesis in that KPI's better
direction. The impact stage tests exactly these, adjusting p-values over all of them.

The file data/processed/<study>/hypotheses.json (format 1):

    {
      "format": 1,
      "study": "demo",
      "registered_at": "2025-11-02T10:15:03+00:00",   # UTC, when this set was first written
      "fingerprint": "3f9c0a1b2c3d4e5f",              # cxlab.data.fingerprint of the inputs
      "hypotheses": [
        {
          "id": "H1",
          "role": "primary",                 # primary (from an objective) | secondary
          "objective": "grow_conversion",    # null for a secondary hypothesis
          "goal": "Grow online sales",
          "kpi": "conversion_rate",          # a name of cxlab.objectives.KPIS
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
          "kpi_options": {"window_days": 30},  # how the KPI is computed (pass to compute_kpi)
          "statement": "H1: new_checkout increases the conversion rate …",
          "registered_at": "…", "fingerprint": "…"
        }
      ]
    }

Re-running the stage on the same inputs with the same hypotheses keeps the original
``registered_at``; any change to the hypotheses or the data re-registers them with a new time
and keeps the earlier registrations under ``previous``.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd

from .. import data
from ..errors import StudyError
from ..study import Study
from ..kpis import get_kpi
from ..kpis.units import _conversion_window, _Ctx
from .targets import objective_direction

__all__ = ["build_hypotheses", "register_hypotheses", "load_hypotheses", "hypotheses_frame",
           "HYPOTHESES_FILE", "FORMAT"]

HYPOTHESES_FILE = "hypotheses.json"
FORMAT = 1


def _iso(value) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return None
    return pd.Timestamp(value).date().isoformat()


def _kpi_options(study: Study, kpi: str, options: dict | None = None) -> dict:
    """The settings that define how the KPI is computed, frozen into the registration."""
    spec = get_kpi(kpi)
    ctx = _Ctx(study, None, None, None, dict(options or {}))
    if spec.name == "conversion_rate":
        return {"window_days": _conversion_window(ctx)}
    if spec.name in ("retention_rate", "churn_rate"):
        return {"retention_period": ctx.option("retention_period", "month"),
                "activity": ctx.option("activity", "any")}
    return {}


def _statement(h: dict) -> str:
    spec = get_kpi(h["kpi"])
    verb = "increases" if h["direction"] == "increase" else "decreases"
    who = (f"for customers with {h['treated']['column']} in {', '.join(map(str, h['treated']['values']))}"
           if h["treated"]["column"] else "for all customers")
    effect = ""
    if h["min_effect"] is not None:
        effect = f" by at least {spec.format_change(float(h['min_effect'])).lstrip('+')}"
    design = {"ab": "an A/B comparison", "pre_post": "a pre/post comparison",
              "did": "difference-in-differences", "its": "an interrupted time series"}[h["design"]]
    return (f"{h['id']}: {h['intervention']} (from {h['date']}) {verb} {spec.noun} {who}{effect}; "
            f"tested by {design} at alpha {h['alpha']:g}, two-sided.")


def build_hypotheses(study: Study | str | os.PathLike, **kpi_options) -> list[dict]:
    """The study's hypotheses (see the module docstring), without registration metadata.
    ``kpi_options`` (window_days, retention_period, activity) override study.yaml's settings of
    how the KPIs are computed; they are frozen into each hypothesis' kpi_options."""
    study = Study.load(study)
    out: list[dict] = []
    covered: set[tuple[str, str]] = set()

    def add(iv, kpi: str, direction: str, role: str, objective=None) -> None:
        spec = get_kpi(kpi)
        min_effect = iv.min_effect.get(spec.name)
        h = {
            "id": f"H{len(out) + 1}",
            "role": role,
            "objective": objective.id if objective else None,
            "goal": objective.goal if objective else None,
            "kpi": spec.name,
            "kpi_title": spec.title,
            "kpi_definition": spec.definition,
            "kind": spec.kind,
            "unit": spec.unit,
            "direction": direction,
            "alternative": "two-sided",
            "min_effect": None if min_effect is None else float(min_effect),
            "alpha": float(iv.alpha),
            "design": iv.design,
            "intervention": iv.id,
            "date": _iso(iv.date),
            "treated": {"column": iv.treated_column, "values": list(iv.treated_values)},
            "baseline": {"start": _iso(objective.baseline_start) if objective else None,
                         "end": _iso(objective.baseline_end) if objective else None},
            "kpi_options": _kpi_options(study, spec.name, kpi_options),
        }
        h["statement"] = _statement(h)
        out.append(h)
        covered.add((iv.id, spec.name))

    for obj in study.objectives:
        if obj.intervention:
            iv = study.intervention(obj.intervention)
            if (iv.id, get_kpi(obj.kpi).name) not in covered:
                add(iv, obj.kpi, objective_direction(obj), "primary", obj)
    for iv in study.interventions:
        for kpi in iv.kpis:
            if (iv.id, get_kpi(kpi).name) not in covered:
                add(iv, kpi, get_kpi(kpi).better, "secondary")
    return out


def register_hypotheses(study: Study | str | os.PathLike, path: str | os.PathLike | None = None,
                        **kpi_options) -> dict:
    """Write the hypotheses to data/processed/<study>/hypotheses.json (or ``path``) and return
    the registration. Re-running with unchanged hypotheses and data keeps the first time."""
    study = Study.load(study)
    target = Path(path) if path is not None else study.processed(HYPOTHESES_FILE)
    hypotheses = build_hypotheses(study, **kpi_options)
    fp = data.fingerprint(study)
    previous = None
    if target.exists():
        try:
            previous = data.read_json(target)
        except (ValueError, OSError):
            previous = None
    strip = ("registered_at", "fingerprint")
    if (previous and previous.get("fingerprint") == fp and previous.get("format") == FORMAT
            and [{k: v for k, v in h.items() if k not in strip} for h in previous.get("hypotheses", [])]
            == hypotheses):
        return previous
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    for h in hypotheses:
        h["registered_at"] = now
        h["fingerprint"] = fp
    history = []
    if previous:
        history = list(previous.get("previous", [])) + [
            {"registered_at": previous.get("registered_at"), "fingerprint": previous.get("fingerprint"),
             "hypotheses": len(previous.get("hypotheses", []))}
        ]
    registration = {"format": FORMAT, "study": study.name, "registered_at": now, "fingerprint": fp,
                    "hypotheses": hypotheses, "previous": history}
    data.write_json(registration, target)
    return registration


def load_hypotheses(study: Study | str | os.PathLike) -> dict:
    """The registration written by the objectives stage; a StudyError says to run it first."""
    study = Study.load(study)
    path = study.processed_dir / HYPOTHESES_FILE
    if not path.exists():
        raise StudyError(
            f"No pre-registered hypotheses for study '{study.name}' ({path} is missing): run the "
            f"objectives stage first (cxlab run {study.name} --stages objectives)."
        )
    registration = data.read_json(path)
    if registration.get("format") != FORMAT:
        raise StudyError(f"{path} has format {registration.get('format')!r}; this cxlab reads format {FORMAT}. "
                         "Re-run the objectives stage.")
    return registration


def hypotheses_frame(registration: dict | list) -> pd.DataFrame:
    """The hypotheses as a table for the report: id, role, KPI, direction, smallest effect,
    alpha, design, intervention, date, treated group."""
    hyps = registration["hypotheses"] if isinstance(registration, dict) else registration
    rows = []
    for h in hyps:
        spec = get_kpi(h["kpi"])
        treated = (f"{h['treated']['column']} in {', '.join(map(str, h['treated']['values']))}"
                   if h["treated"]["column"] else "everyone")
        rows.append({
            "id": h["id"], "role": h["role"], "KPI": spec.title, "expected": h["direction"],
            "smallest effect that matters": "–" if h["min_effect"] is None
            else spec.format_change(h["min_effect"]).lstrip("+"),
            "alpha": h["alpha"], "design": h["design"], "intervention": h["intervention"],
            "from": h["date"], "treated": treated,
        })
    return pd.DataFrame(rows)
