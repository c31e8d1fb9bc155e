"""Lane tables from the tables the stages wrote: each function turns one stage output (the
table of a cxlab result object, as saved to data/processed/<study>/) into one lane of the
journey map, in the columns ``cxlab.journeymap.inputs.LANE_COLUMNS`` lists."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = [
    "touchpoints_lane",
    "kpi_lane",
    "emotion_lane",
    "drivers_lane",
    "actions_lane",
    "pain_points_lane",
    "plain_key_number",
    "describe_actions",
    "objective_lines",
]


def _pick(frame: pd.DataFrame, *names: str) -> str | None:
    """The first of ``names`` that is a column of ``frame``."""
    return next((n for n in names if n in frame.columns), None)


def touchpoints_lane(inventory: pd.DataFrame) -> pd.DataFrame:
    """The touchpoint lane from the touchpoint inventory (``cxlab.touchpoints.inventory(...).table``):
    touchpoints seen in the log, with their customers reached and reach (share of all customers
    in the log); never-seen and uncatalogued ones are left out (the map shows the catalogued
    journey)."""
    t = inventory.copy()
    t = t[pd.to_numeric(t["customers"], errors="coerce").fillna(0) > 0]
    keep = ["stage", "touchpoint", "label", "channel", "customers", "reach"]
    extra = [c for c in ("events_per_customer", "dropoff_rate", "conv_touched") if c in t.columns]
    for c in keep:
        if c not in t.columns:
            t[c] = t["touchpoint"] if c == "label" else None
    return t[keep + extra].reset_index(drop=True)


def _hours(h: float) -> str:
    if h != h:
        return ""
    if h < 1:
        return f"{h * 60:.0f} min"
    if h < 48:
        return f"{h:.0f} h"
    return f"{h / 24:.0f} days"


def _share(value: float) -> str:
    from ..metrics import get_metric

    return get_metric("reached_stage").format(value)


def kpi_lane(funnel_table: pd.DataFrame, stages: list[str]) -> pd.DataFrame:
    """The stage KPI lane from the stage funnel (``cxlab.touchpoints.stage_funnel(...).table``: one
    row per stage with customers, share_of_start, conversion from the previous stage and
    median_hours_from_previous). Per stage: how many customers reach it (and their share of
    those entering the journey), then the share of them who go on to the next stage (within the
    funnel's conversion window, which the lane's caption states)."""
    f = funnel_table.copy()
    stage_col = _pick(f, "stage", "label")
    f = f.set_index(f[stage_col].astype(str))
    rows = []
    present = [s for s in stages if s in f.index]
    for i, stage in enumerate(present):
        r = f.loc[stage]
        n = int(r["customers"])
        if i == 0:
            rows.append({"stage": stage, "name": "customers", "value": n, "text": f"{n:,} customers enter"})
        else:
            share = r.get("share_of_start", np.nan)
            # shares as the metric dictionary prints them, so the map and the pages agree
            rows.append({"stage": stage, "name": "customers", "value": n,
                         "text": f"{n:,} reach it ({_share(share)})" if share == share else f"{n:,} reach it"})
        if i + 1 < len(present):
            nxt = f.loc[present[i + 1]]
            conv = nxt.get("conversion", np.nan)
            if conv == conv:
                rows.append({"stage": stage, "name": "conversion_to_next", "value": float(conv),
                             "text": f"{_share(conv)} go on to {present[i + 1]}"})
        elif i > 0:
            hours = r.get("median_hours_from_previous", np.nan)
            if hours == hours:
                rows.append({"stage": stage, "name": "median_hours_from_previous", "value": float(hours),
                             "text": f"median {_hours(float(hours))} after {present[i - 1]}"})
    return pd.DataFrame(rows, columns=["stage", "name", "value", "text"])


def emotion_lane(curve: pd.DataFrame) -> pd.DataFrame:
    """The emotion lane from the emotion curve (``cxlab.painpoints.emotion_curve(...).table``)."""
    e = curve.copy()
    return e[["stage", "metric", "estimate", "ci_low", "ci_high", "n"]].reset_index(drop=True)


def drivers_lane(drivers: pd.DataFrame, outcome: str | None = None) -> pd.DataFrame:
    """The key-driver table (``cxlab.painpoints.key_drivers(...).table``) in the map's terms:
    importance = share of R² (LMG), performance = mean rating, and the stage's quadrant."""
    d = drivers.copy()
    imp = _pick(d, "importance", "share_of_r2", "lmg")
    out = pd.DataFrame({
        "driver": d["driver"].astype(str),
        "label": d["label"] if "label" in d else d["driver"].astype(str),
        "importance": pd.to_numeric(d[imp], errors="coerce"),
        "performance": pd.to_numeric(d["performance"], errors="coerce"),
        "outcome": d["outcome"] if "outcome" in d else (outcome or "satisfaction"),
        "stage": d["stage"] if "stage" in d else None,
    })
    for col in ("quadrant", "touchpoint"):
        if col in d:
            out[col] = d[col].to_numpy()
    return out


_STATES = {"end": "end of journey", "journey end": "end of journey", "conversion": "goal reached"}


def actions_lane(transitions: pd.DataFrame, catalog: pd.DataFrame, stages: list[str],
                 per_stage: int = 3) -> pd.DataFrame:
    """The actions lane from the transitions table (touchpoint -> next touchpoint counts): per
    stage, the most common moves out of the stage's touchpoints, as a share of all moves out of
    them ("Product page (web) → Checkout (web) (31%)"); a touchpoint followed by itself reads
    "… → again", the journey's end "… → end of journey", a goal cut "… → goal reached"."""
    t = transitions.copy()
    src = _pick(t, "from_touchpoint", "source", "from", "touchpoint")
    dst = _pick(t, "to_touchpoint", "target", "to", "next_touchpoint", "next")
    cnt = _pick(t, "transitions", "count", "n", "events", "customers")
    if src is None or dst is None or cnt is None:
        raise DataError([f"transitions: expected from/to touchpoint and count columns, got {', '.join(t.columns)}"])
    cat = catalog.set_index("touchpoint")
    stage_of = cat["stage"].to_dict()
    label_of = cat["label"].to_dict()
    t = t.assign(stage_=t[src].map(stage_of), n_=pd.to_numeric(t[cnt], errors="coerce").fillna(0))
    t = t[t.stage_.notna()]
    rows = []
    for stage in stages:
        s = t[t.stage_ == stage]
        total = s.n_.sum()
        if total <= 0:
            continue
        s = s.assign(from_=s[src].astype(str), to_=s[dst].astype(str))
        s = s.sort_values(["n_", "from_", "to_"], ascending=[False, True, True], kind="stable")
        for r in s.head(per_stage).itertuples(index=False):
            a = label_of.get(getattr(r, src), getattr(r, src))
            b_raw = str(getattr(r, dst))
            b = _STATES.get(b_raw.strip("()").lower(), label_of.get(b_raw, b_raw))
            if b_raw == str(getattr(r, src)):
                b = "again"
            rows.append({"stage": stage, "from_label": a, "to_label": b, "share": r.n_ / total})
    moves = pd.DataFrame(rows, columns=["stage", "from_label", "to_label", "share"])
    return describe_actions(pd.DataFrame(columns=["stage", "touchpoint", "reach"]), stages, moves, per_stage)


def _signal(r) -> str:
    """The kind of friction that weighs most in a register row (its largest harm term)."""
    if str(r.get("kind", "")) == "support":
        return "unresolved"
    harms = {k: float(r.get(k) or 0) for k in ("harm_conversion", "harm_satisfaction", "harm_contact")}
    if not any(v == v and v > 0 for v in harms.values()):
        return "drop_off" if float(r.get("dropoff_rate") or 0) > 0 else "other"
    top = max(harms, key=lambda k: harms[k] if harms[k] == harms[k] else -1)
    if top == "harm_conversion":
        return "drop_off" if float(r.get("dropoff_rate") or 0) > 0 else "conversion"
    return {"harm_satisfaction": "satisfaction", "harm_contact": "failure_demand"}[top]


def pain_points_lane(register: pd.DataFrame, catalog: pd.DataFrame | None = None) -> pd.DataFrame:
    """The pain-point lane from the ranked register the pain-point stage writes
    (pain_points.parquet, ``cxlab.painpoints.build_register(...).table``): rank (1 = fix first),
    name (the touchpoint, or the pain point for items that are not one), label (the register's
    pain_point), stage, signal (the harm that weighs most: drop_off, conversion, satisfaction,
    failure_demand, or unresolved for support tickets), key_number, value (priority), reach
    (customers who meet it) and segments_most_affected. A table without a rank is ranked by its
    priority; a row without a stage gets its touchpoint's stage from the catalog."""
    r = register.copy().reset_index(drop=True)
    label_col = _pick(r, "pain_point", "label", "name")
    if label_col is None:
        raise DataError([f"pain_points.parquet: no column naming the pain point (it has {', '.join(r.columns)})"])
    if "rank" in r.columns:
        r = r.sort_values("rank", kind="stable").reset_index(drop=True)
        ranks = pd.to_numeric(r["rank"], errors="coerce").to_numpy()
    else:
        if "priority" in r.columns:
            r = r.sort_values("priority", ascending=False, kind="stable").reset_index(drop=True)
        ranks = np.arange(1, len(r) + 1)
    tp = r["touchpoint"] if "touchpoint" in r.columns else pd.Series(None, index=r.index, dtype=object)
    name = tp.astype(object).where(tp.notna(), r[label_col]).astype(str)
    stage = r["stage"].astype(object) if "stage" in r.columns else pd.Series(None, index=r.index, dtype=object)
    if catalog is not None and len(catalog):
        stage = stage.where(stage.notna(), name.map(dict(zip(catalog.touchpoint, catalog.stage))))
    if "signal" in r.columns:
        signal = r["signal"].astype(str)
    else:
        signal = pd.Series([_signal(row) for row in r.to_dict("records")], index=r.index)
    out = pd.DataFrame({
        "rank": ranks,
        "name": name.to_numpy(),
        "label": r[label_col].astype(str).to_numpy(),
        "stage": stage.to_numpy(),
        "signal": signal.to_numpy(),
        "key_number": r["key_number"].fillna("").astype(str).to_numpy() if "key_number" in r else "",
        "value": pd.to_numeric(r[_pick(r, "priority", "value") or label_col], errors="coerce").to_numpy(),
        "reach": pd.to_numeric(r[_pick(r, "reach", "customers") or label_col], errors="coerce").to_numpy(),
    })
    out["plain"] = [plain_key_number(row, sig) for row, sig in zip(r.to_dict("records"), signal)]
    if "ranked_first" in r.columns:  # share of bootstrap resamples ranking it first (the register's)
        out["ranked_first"] = pd.to_numeric(r["ranked_first"], errors="coerce").to_numpy()
    out["quote"] = r["quote"].astype(object).where(r["quote"].notna(), None).to_numpy() if "quote" in r else None
    if "segments_most_affected" in r.columns:
        out["segments_most_affected"] = r["segments_most_affected"].fillna("").astype(str).to_numpy()
    return out


def _number(row: dict, key: str) -> float:
    try:
        value = float(row.get(key))
    except (TypeError, ValueError):
        return math.nan
    return value


def _share_words(x: float) -> str:
    return "under 1%" if 0 < x < 0.005 else f"{x:.0%}"


_SCALE_TOP = {"csat": 5, "nps": 10}


def plain_key_number(row: dict, signal: str) -> str:
    """A register row's key number in words a manager reads without a glossary (no "HR", no
    "vs"), from the register's own numbers; the register's key_number when a number is missing."""
    dropoff, conversion = _number(row, "dropoff_rate"), _number(row, "impact_conversion")
    if signal == "unresolved" and conversion == conversion and conversion < 0:
        return f"{abs(conversion) * 100:.0f} points fewer buy again if left unresolved"
    if signal == "drop_off" and dropoff == dropoff and dropoff > 0:
        if conversion == conversion and -conversion > dropoff:  # the lower conversion is the larger harm
            return f"those who meet it buy {abs(conversion) * 100:.0f} points less often"
        return f"{_share_words(dropoff)} leave here without buying"
    if signal == "conversion" and conversion == conversion and conversion < 0:
        return f"those who meet it buy {abs(conversion) * 100:.0f} points less often"
    if signal == "satisfaction":
        here, elsewhere = _number(row, "satisfaction_here"), _number(row, "satisfaction_elsewhere")
        top = _SCALE_TOP.get(str(row.get("satisfaction_score") or "").lower())
        if here == here and elsewhere == elsewhere and top:
            return f"rated {here:.1f} of {top} ({elsewhere:.1f} elsewhere)"
    if signal == "failure_demand":
        contact = _number(row, "contact_rate")
        if contact == contact:
            return f"{_share_words(contact)} contact support soon after"
    key = row.get("key_number")
    return "" if key is None or key != key else str(key)


def describe_actions(
    touchpoints: pd.DataFrame,
    stages: list[str],
    transitions: pd.DataFrame | None = None,
    per_stage: int = 3,
) -> pd.DataFrame:
    """What customers do at each stage, in words.

    With ``transitions`` (columns stage, from_label, to_label, share: the most common moves
    out of the stage's touchpoints, share of the moves out of the stage), the top moves read
    "Product page (web) → Checkout (web) (31%)". Without, the top touchpoints read as activities
    with how often a reached customer does them ("Product page (web): 2.3× per customer" when
    ``events_per_customer`` is known, else "Product page (web): 64% of customers").
    Returns stage, text, share; at most ``per_stage`` rows per stage.
    """
    rows = []
    for stage in stages:
        if transitions is not None and len(transitions):
            t = transitions[transitions.stage == stage].sort_values("share", ascending=False).head(per_stage)
            for r in t.itertuples(index=False):
                share = "" if r.share != r.share else f" ({r.share:.0%})"
                move = f"{r.from_label}, repeated" if r.to_label == "again" else f"{r.from_label} → {r.to_label}"
                rows.append({"stage": stage, "text": move + share, "share": r.share})
            if len(t):
                continue
        tp = touchpoints[touchpoints.stage == stage].sort_values("reach", ascending=False).head(per_stage)
        for r in tp.itertuples(index=False):
            label = getattr(r, "label", None) or r.touchpoint
            epc = getattr(r, "events_per_customer", None)
            if epc is not None and not (isinstance(epc, float) and math.isnan(epc)):
                text = f"{label}: {epc:.1f}× per customer reached"
            else:
                text = f"{label}: {r.reach:.0%} of customers"
            rows.append({"stage": stage, "text": text, "share": r.reach})
    return pd.DataFrame(rows, columns=["stage", "text", "share"])


def objective_period(objectives: pd.DataFrame) -> str:
    """The current period the objectives table's values are over, in words ('Jul–Sep 2025'), when
    every objective shares one (the study's one current period, ``cxlab.metrics.current_period``);
    '' when they do not or the table does not say."""
    from ..metrics import Period

    if not {"current_start", "current_end"} <= set(objectives.columns) or objectives.empty:
        return ""
    pairs = {(pd.Timestamp(a), pd.Timestamp(b)) for a, b in zip(objectives["current_start"], objectives["current_end"])
             if not (pd.isna(a) or pd.isna(b))}
    return Period.of(*pairs.pop()).words if len(pairs) == 1 else ""


def objective_lines(objectives: pd.DataFrame) -> list[str]:
    """One line per objective of the objectives table the objectives stage writes
    (objectives.parquet: kpi, current, current_start, current_end, target, status): "Conversion
    rate 45.5% (new customers; target 50.1%)", with a tick when the target is met. The value is
    marked as the metric dictionary names it, with whom it counts and its period
    (``cxlab.metrics``); the period is in the line only when the objectives do not share one
    (``objective_period`` gives the shared one). Values formatted by the KPI library."""
    from ..kpis import format_value, get_kpi
    from ..metrics import Period, get_metric, mark

    shared = objective_period(objectives)
    dated = {"current_start", "current_end"} <= set(objectives.columns)
    out = []
    for r in objectives.to_dict("records"):
        try:
            kpi = get_kpi(str(r["kpi"]))
        except Exception:  # a KPI this version does not know: show the name and plain numbers
            kpi = None
        title = kpi.title if kpi else str(r["kpi"])
        fmt = (lambda v: format_value(kpi, v)) if kpi else (lambda v: f"{v:,.3g}")
        current, target = r.get("current"), r.get("target")
        if current is None or current != current:
            out.append(f"{title}: no current value")
            continue
        value, inside = fmt(current), []
        if kpi is not None and dated:
            period = Period.of(r["current_start"], r["current_end"])
            population = get_metric(kpi.name).population
            value = mark(kpi.name, current, period=period)
            inside.append(population if shared else f"{population}, {period.words}")
        if target is not None and target == target:
            inside.append(f"target {fmt(target)}" + (" ✓" if r.get("status") == "target met" else ""))
        out.append(f"{title} {value}" + (f" ({'; '.join(inside)})" if inside else ""))
    return out
