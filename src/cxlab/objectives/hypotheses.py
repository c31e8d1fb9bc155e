"""Pre-registered hypotheses: what the impact stage will test, written down before any test runs.

Every objective tied to an intervention becomes a *primary* hypothesis: the intervention moves
the objective's KPI in the objective's direction. Every further KPI the intervention lists
(study.yaml ``interventions[].kpis``) becomes a *secondary* hypothesis in that KPI's better
direction. The impact stage tests exactly these, adjusting p-values over all of them.

The registration's format (hypotheses.json, format 1) is documented in ``cxlab.kpis.hypotheses``,
where the impact stage reads it too. ``register_hypotheses`` builds the registration; the stage's
``write()`` writes it through the stage registry (its output ``hypotheses``).

Re-running the stage on the same inputs with the same hypotheses keeps the original
``registered_at``; any change to the hypotheses or the data re-registers them with a new time
and keeps the earlier registrations under ``previous``.
"""
from __future__ import annotations

import datetime as dt
import os

import pandas as pd

from .. import data
from ..errors import StudyError
from ..kpis import REGISTRATION_FORMAT, check_registration, get_kpi, hypotheses_frame, kpi_settings
from ..stages import output_path, read_output, stage_spec
from ..study import Study
from .targets import objective_direction

__all__ = ["build_hypotheses", "register_hypotheses", "load_hypotheses", "hypotheses_frame",
           "HYPOTHESES_FILE", "FORMAT"]

HYPOTHESES_FILE = stage_spec("objectives").output("hypotheses").file  # from the stage registry
FORMAT = REGISTRATION_FORMAT


def _iso(value) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return None
    return pd.Timestamp(value).date().isoformat()


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
    ``kpi_options`` (window_days, retention_period, activity) set how the KPIs are computed
    (absent: the study's conversion window, monthly retention on any activity); they are frozen
    into each hypothesis' kpi_options."""
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
            "kpi_options": kpi_settings(study, spec.name, **kpi_options),
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


def register_hypotheses(study: Study | str | os.PathLike, *, previous: dict | None = None,
                        **kpi_options) -> dict:
    """The registration of the study's hypotheses (format in ``cxlab.kpis.hypotheses``), built
    against ``previous`` (default: the registration the objectives stage wrote last): unchanged
    hypotheses on unchanged data keep the first registration, time included; otherwise they are
    registered now and the earlier registrations are listed under ``previous``. Writes nothing:
    the stage's ``write()`` writes it."""
    study = Study.load(study)
    hypotheses = build_hypotheses(study, **kpi_options)
    fp = data.fingerprint(study)
    if previous is None:
        path = output_path(study, "objectives", "hypotheses")
        try:
            previous = data.read_json(path) if path.exists() else None
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
    return {"format": FORMAT, "study": study.name, "registered_at": now, "fingerprint": fp,
            "hypotheses": hypotheses, "previous": history}


def load_hypotheses(study: Study | str | os.PathLike) -> dict:
    """The registration the objectives stage wrote; a StudyError says to run it first."""
    study = Study.load(study)
    registration = read_output(study, "objectives", "hypotheses")
    if registration is None:
        path = output_path(study, "objectives", "hypotheses")
        raise StudyError(
            f"No pre-registered hypotheses for study '{study.name}' ({path} is missing): run the "
            f"objectives stage first (cxlab run {study.name} --stages objectives)."
        )
    return check_registration(registration, str(output_path(study, "objectives", "hypotheses")))
