"""Opportunities: what to do about the pain points, in the journey map's words.

An opportunity is derived, never invented: each one restates a measured finding as something a
team can act on, and carries the number it rests on.

- **From pain points** (the ranked register): each of the top ``max_from_pain`` pain points
  becomes one opportunity at its stage. The verb follows the kind of friction the register
  measured (drop-off → "Cut drop-off at …", lower conversion → "Lift conversion after …", extra
  support contacts → "Prevent support contacts after …", loops → "Remove loops at …", repeat contacts →
  "Resolve at first contact …", unresolved tickets → "Close the loop on …", long waits →
  "Shorten the wait at …", complaints/negative sentiment → "Address complaints about …"), and
  its basis names the pain point it answers and its reach (customers affected).
- **From key drivers** (the key-driver analysis): a driver in the "Fix first" corner of the
  importance × performance quadrant — the ``quadrant`` the pain-point stage assigned, else
  importance at or above the drivers' average and performance below their average, the same
  rule — becomes "Improve <driver>", with its share of the explained variance and its mean
  rating as the basis. Drivers with a stage (or a touchpoint
  the catalog places in a stage) go to that stage; others apply across the journey
  (stage None).

Opportunities are ranked: pain-point opportunities in the register's order first, then the
driver opportunities by importance.
"""
from __future__ import annotations

import math
from typing import Mapping

import pandas as pd

__all__ = ["OPPORTUNITY_COLUMNS", "derive_opportunities", "action_verb"]

OPPORTUNITY_COLUMNS = ["rank", "stage", "text", "basis", "source", "reference"]

# kind of friction (a word found in the pain point's signal) -> the action that answers it
_VERBS: list[tuple[tuple[str, ...], str]] = [
    (("drop", "abandon", "exit", "leave"), "Cut drop-off at"),
    (("failure_demand", "extra_contact"), "Prevent support contacts after"),
    (("conversion",), "Lift conversion after"),
    (("loop", "return_to", "back"), "Remove loops at"),
    (("repeat_contact", "recontact", "repeat contact", "contact"), "Resolve at first contact:"),
    (("unresolved", "ticket"), "Close the loop on"),
    (("wait", "slow", "time", "delay"), "Shorten the wait at"),
    (("repeat",), "Make it work first time:"),
    (("sentiment", "complaint", "topic", "csat", "nps", "negative", "satisfaction"), "Address complaints about"),
    (("churn", "hazard"), "Win back customers after"),
]


def action_verb(signal: str | None) -> str:
    """The action that answers a kind of friction ('drop_off' -> 'Cut drop-off at')."""
    s = str(signal or "").lower()
    for words, verb in _VERBS:
        if any(w in s for w in words):
            return verb
    return "Fix"


def _join(verb: str, label: str) -> str:
    """'Address complaints about' + 'Complaints about delivery' -> 'Address complaints about
    delivery': words the label repeats from the end of the verb are said once, and a label
    starting with an ordinary capitalised word reads in lower case ('Payment error' ->
    'payment error'; 'PayPal' and 'NPS' stay)."""
    first = label.split(" ", 1)[0] if label else ""
    if len(first) > 1 and first[0].isupper() and first[1:].islower():
        label = label[0].lower() + label[1:]
    v, w = verb.split(), label.split()
    for k in range(min(len(v), len(w)), 0, -1):
        if [x.lower().strip(":") for x in v[-k:]] == [x.lower().strip(":") for x in w[:k]]:
            return " ".join(v + w[k:])
    return f"{verb} {label}"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _fmt_int(value) -> str:
    return "–" if _missing(value) else f"{round(float(value)):,}"


def derive_opportunities(
    pain_points: pd.DataFrame,
    drivers: pd.DataFrame | None = None,
    *,
    max_from_pain: int = 5,
    max_from_drivers: int = 3,
    stage_of: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Opportunities from the ranked pain points and the key drivers (see the module doc).

    pain_points: the journey map's pain-point table (columns rank, name, label, stage, signal,
    key_number, reach; ranked, 1 = fix first). drivers: the key-driver table (columns driver,
    label, importance, performance, outcome, and optionally stage/touchpoint), or None.
    stage_of: touchpoint -> stage (the study's catalog), to place a driver that names a
    touchpoint. Returns one row per opportunity: rank, stage (None = across the journey), text,
    basis (the number it rests on), source ('pain point' or 'key driver') and reference (the
    pain point's name or the driver).
    """
    rows: list[dict] = []
    if pain_points is not None and len(pain_points):
        top = pain_points.sort_values("rank").head(max_from_pain)
        for r in top.itertuples(index=False):
            label = getattr(r, "label", None) or r.name
            basis = f"for pain point {int(r.rank)}"
            reach = getattr(r, "reach", None)
            if not _missing(reach):
                basis += f" · {_fmt_int(reach)} customers"
            first = getattr(r, "ranked_first", None)
            if int(r.rank) == 1 and not _missing(first):  # how firm "fix first" is (the register's bootstrap)
                basis += f" · 1st in {float(first):.0%} of resamples"
            rows.append({
                "stage": r.stage if not _missing(r.stage) else None,
                "text": _join(action_verb(getattr(r, "signal", None)), str(label)),
                "basis": basis.strip("; "),
                "source": "pain point",
                "reference": str(r.name),
            })
    if drivers is not None and len(drivers) >= 2:
        d = drivers.dropna(subset=["importance", "performance"])
        if len(d) >= 2:
            if "quadrant" in d.columns and d["quadrant"].notna().all():
                fix = d[d["quadrant"] == "Fix first"]
            else:
                fix = d[(d["importance"] >= d["importance"].mean()) & (d["performance"] < d["performance"].mean())]
            fix = fix.sort_values("importance", ascending=False).head(max_from_drivers)
            total = d["importance"].sum()
            for r in fix.itertuples(index=False):
                label = getattr(r, "label", None) or str(r.driver).replace("driver_", "").replace("_", " ")
                stage = getattr(r, "stage", None)
                tp = getattr(r, "touchpoint", None)
                if _missing(stage) and stage_of and not _missing(tp):
                    stage = stage_of.get(str(tp))
                outcome = getattr(r, "outcome", None)
                outcome = str(outcome).upper() if outcome in ("nps", "csat", "ces") else (outcome or "satisfaction")
                share = r.importance / total if total > 0 else float("nan")
                rows.append({
                    "stage": None if _missing(stage) else stage,
                    "text": f"Improve {label}",
                    "basis": (f"drives {share:.0%} of explained {outcome}, rated {r.performance:.1f}"
                              " (high importance, low performance)"),
                    "source": "key driver",
                    "reference": str(r.driver),
                })
    out = pd.DataFrame(rows, columns=OPPORTUNITY_COLUMNS[1:])
    out["stage"] = out["stage"].astype(object).where(out["stage"].notna(), None)
    out.insert(0, "rank", range(1, len(out) + 1))
    return out
