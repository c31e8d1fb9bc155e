"""Objectives against targets: baseline, current value, target, gap and whether it is on track;
KPI trends with their intervals; KPI breakdowns by customer attribute.

An objective in study.yaml ties a business goal to a KPI, a baseline window and a target:

    objectives:
      - id: grow_conversion
        goal: Grow online sales
        kpi: conversion_rate
        baseline: {start: 2025-01-01, end: 2025-03-31}
        target: {relative: 0.10}        # 10% better than the baseline; or {absolute: 0.35}
        direction: increase             # optional: the KPI's better direction by default
        intervention: new_checkout      # optional

How the columns of the objectives table are made:

- baseline: the KPI over the baseline window (the log before the current period when the
  objective names none).
- current: the KPI over the current period: the ``current`` window given, else from the
  intervention's date to the end of the log when the objective names an intervention, else the
  most recent stretch of the log as long as the baseline window (the latest complete months
  when the baseline is whole months, e.g. the last quarter for a first-quarter baseline).
- target: ``absolute``, or the baseline moved by ``relative`` × |baseline| in the objective's
  direction (so a relative target works for an NPS below zero, and 0.10 on churn means 10% less).
- gap: how far the current value is from the target in the good direction (positive: still to
  go; zero or below: met).
- change: current − baseline with a 95% interval (normal approximation from the two intervals,
  treating the windows as independent samples).
- status: "target met"; else "improving" (the change's interval lies entirely on the good side
  of zero), "worse" (entirely on the bad side) or "no clear change". on_track is true for
  "target met" and "improving".
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..results import Estimate
from ..study import Objective, Study
from ..kpis import compute_kpi, data_end, get_kpi, kpi_estimate
from ..periods import period_label, window_bounds
from ..stats import z_value

__all__ = [
    "objective_direction",
    "objective_windows",
    "target_value",
    "ObjectivesResult",
    "objectives_table",
    "KPITrend",
    "kpi_trend",
    "KPIBreakdown",
    "kpi_breakdown",
    "fmt_window",
    "objective_sentence",
]


def fmt_window(start, end) -> str:
    """'1 Jan 2025 – 31 Mar 2025' (either side may be open)."""
    def one(v):
        return "the start of the log" if v is None else pd.Timestamp(v).strftime("%-d %b %Y")

    if end is None:
        return f"{one(start)} – the end of the log"
    return f"{one(start)} – {pd.Timestamp(end).strftime('%-d %b %Y')}"


def objective_direction(objective: Objective) -> str:
    """'increase' or 'decrease': as study.yaml says, else the KPI's better direction."""
    if isinstance(objective.raw, dict) and objective.raw.get("direction"):
        return objective.direction
    return get_kpi(objective.kpi).better


def target_value(objective: Objective, baseline: float) -> float:
    """The target in KPI units (see the module docstring)."""
    if objective.target_absolute is not None:
        return float(objective.target_absolute)
    if objective.target_relative is None:
        raise ParameterError(f"Objective '{objective.id}' has no target (write {{absolute: …}} or {{relative: …}}).")
    sign = 1.0 if objective_direction(objective) == "increase" else -1.0
    return float(baseline + sign * abs(baseline) * abs(float(objective.target_relative)))


def objective_windows(study: Study, objective: Objective, current=None) -> dict:
    """The baseline and current windows of an objective as dates (end day inclusive)."""
    last = data_end(study).normalize()
    if current is not None:
        cur_start, cur_end = current
        cur_start = None if cur_start is None else pd.Timestamp(cur_start)
        cur_end = last if cur_end is None else pd.Timestamp(cur_end)
        how = "the period given"
    elif objective.intervention:
        iv = study.intervention(objective.intervention)
        cur_start, cur_end = pd.Timestamp(iv.date), last
        how = f"since the intervention '{iv.id}' started"
    else:
        b0, b1 = objective.baseline_start, objective.baseline_end
        whole_months = (b0 is not None and b1 is not None and b0.day == 1
                        and (b1 + pd.Timedelta(days=1)).day == 1)
        if whole_months:  # the same number of whole months, ending with the last complete month
            months = (b1.year - b0.year) * 12 + b1.month - b0.month + 1
            month_end = last if (last + pd.Timedelta(days=1)).day == 1 else last.replace(day=1) - pd.Timedelta(days=1)
            cur_end = month_end
            cur_start = (month_end.replace(day=1) - pd.DateOffset(months=months - 1)).normalize()
            how = f"the latest {months} complete month{'s' if months > 1 else ''} of the log"
        else:
            length = (b1 - b0).days + 1 if b0 is not None and b1 is not None else 90
            cur_start, cur_end = last - pd.Timedelta(days=length - 1), last
            how = f"the latest {length} days of the log"
    base_start, base_end = objective.baseline_start, objective.baseline_end
    if base_start is None and base_end is None:
        base_end = None if cur_start is None else cur_start - pd.Timedelta(days=1)
    window_bounds(base_start, base_end)
    window_bounds(cur_start, cur_end)
    return {"baseline": (base_start, base_end), "current": (cur_start, cur_end), "current_is": how}


def _se(est: Estimate) -> float:
    return (est.ci_high - est.ci_low) / (2 * z_value(est.ci_level))


def _change(base: Estimate, cur: Estimate, label: str) -> Estimate:
    diff = cur.estimate - base.estimate
    se = math.hypot(_se(base), _se(cur))
    z = z_value(0.95)
    return Estimate(label, diff, diff - z * se, diff + z * se, None, base.n + cur.n,
                    "difference of two independent estimates, normal approximation")


@dataclass
class ObjectivesResult:
    """The objectives table and, per objective, the baseline, current and change Estimates."""

    table: pd.DataFrame
    estimates: dict = field(default_factory=dict)  # id -> {"baseline", "current", "change"}

    def summary(self) -> str:
        if self.table.empty:
            return "The study defines no objectives."
        met = int((self.table["status"] == "target met").sum())
        on = int(self.table["on_track"].sum())
        return (f"{len(self.table)} objective(s): {met} at target, {on} on track, "
                f"{len(self.table) - on} not on track.")

    def headlines(self) -> list[str]:
        """One line per objective for the run index: where the KPI stands against its target."""
        lines = []
        for _, r in self.table.iterrows():
            k = get_kpi(r["kpi"])
            if pd.isna(r["current"]) or pd.isna(r["baseline"]):
                lines.append(f"{r['goal']}: no data yet for {k.noun} in the baseline or current period.")
                continue
            title = k.title
            where = (f"{title} {k.format(r['current'])} now against {k.format(r['baseline'])} at baseline; "
                     f"target {k.format(r['target'])}")
            if r["status"] == "target met":
                tail = "target met."
            else:
                tail = f"{k.format_change(r['gap']).lstrip('+')} to go ({r['status']})."
            lines.append(f"{r['goal']}: {where}, {tail}")
        return lines

    def metrics(self) -> dict:
        """The current value of each objective's KPI, for comparing runs ({value, label, unit})."""
        out = {}
        for _, r in self.table.iterrows():
            if pd.isna(r["current"]):
                continue
            k = get_kpi(r["kpi"])
            out[r["id"]] = {"value": float(r["current"]), "label": f"{k.title} (current)",
                            "unit": "share" if k.unit == "share" else k.unit}
        return out

    def sentences(self) -> dict[str, str]:
        """Per objective, a paragraph a manager reads: why it matters, where we stand, the gap."""
        return {row["id"]: objective_sentence(row) for _, row in self.table.iterrows()}

    def display_table(self) -> pd.DataFrame:
        """The table with values formatted in each KPI's unit, for the report."""
        rows = []
        for _, r in self.table.iterrows():
            k = get_kpi(r["kpi"])
            rows.append({
                "objective": r["goal"],
                "KPI": k.title,
                "baseline": f"{k.format(r['baseline'])} [{k.format(r['baseline_ci_low'])}, {k.format(r['baseline_ci_high'])}]",
                "current": f"{k.format(r['current'])} [{k.format(r['current_ci_low'])}, {k.format(r['current_ci_high'])}]",
                "target": k.format(r["target"]),
                "gap to target": "met" if r["gap"] <= 0 else k.format_change(r["gap"]).lstrip("+"),
                "status": r["status"],
            })
        return pd.DataFrame(rows)


def _status(change: Estimate, direction: str, met: bool) -> str:
    if met:
        return "target met"
    sign = 1 if direction == "increase" else -1
    lo, hi = sorted((sign * change.ci_low, sign * change.ci_high))
    if lo > 0:
        return "improving"
    if hi < 0:
        return "worse"
    return "no clear change"


_COLUMNS = [
    "id", "goal", "kpi", "title", "definition", "unit", "direction",
    "baseline_start", "baseline_end", "baseline", "baseline_ci_low", "baseline_ci_high", "baseline_n",
    "current_start", "current_end", "current_is", "current", "current_ci_low", "current_ci_high", "current_n",
    "target", "target_kind", "target_relative", "gap", "change", "change_ci_low", "change_ci_high",
    "status", "on_track", "intervention",
]


def objectives_table(study: Study | str | os.PathLike, current=None, **options) -> ObjectivesResult:
    """Baseline, current, target, gap and status for every objective of the study (see the
    module docstring). ``current``: an optional (start, end) for the current period;
    ``options`` are passed to the KPI computations (e.g. window_days)."""
    study = Study.load(study)
    rows, estimates = [], {}
    for obj in study.objectives:
        spec = get_kpi(obj.kpi)
        windows = objective_windows(study, obj, current)
        direction = objective_direction(obj)
        base = kpi_estimate(study, obj.kpi, *windows["baseline"], label="baseline", **options)
        cur = kpi_estimate(study, obj.kpi, *windows["current"], label="current", **options)
        change = _change(base, cur, f"{spec.title}, change from the baseline")
        target = target_value(obj, base.estimate)
        sign = 1.0 if direction == "increase" else -1.0
        gap = sign * (target - cur.estimate)
        status = _status(change, direction, gap <= 0)
        estimates[obj.id] = {"baseline": base, "current": cur, "change": change}
        rows.append({
            "id": obj.id, "goal": obj.goal, "kpi": spec.name, "title": spec.title,
            "definition": spec.definition, "unit": spec.unit, "direction": direction,
            "baseline_start": windows["baseline"][0], "baseline_end": windows["baseline"][1],
            "baseline": base.estimate, "baseline_ci_low": base.ci_low, "baseline_ci_high": base.ci_high,
            "baseline_n": base.n,
            "current_start": windows["current"][0], "current_end": windows["current"][1],
            "current_is": windows["current_is"],
            "current": cur.estimate, "current_ci_low": cur.ci_low, "current_ci_high": cur.ci_high,
            "current_n": cur.n,
            "target": target,
            "target_kind": "absolute" if obj.target_absolute is not None else "relative",
            "target_relative": obj.target_relative,
            "gap": gap,
            "change": change.estimate, "change_ci_low": change.ci_low, "change_ci_high": change.ci_high,
            "status": status, "on_track": status in ("target met", "improving"),
            "intervention": obj.intervention or "",
        })
    # the columns are the same whether or not the study has objectives
    return ObjectivesResult(pd.DataFrame(rows, columns=_COLUMNS), estimates)


def objective_sentence(row) -> str:
    """One objective in sentences (markdown) from a row of the objectives table."""
    k = get_kpi(row["kpi"])
    f = k.format
    base_w = fmt_window(row["baseline_start"], row["baseline_end"])
    cur_w = fmt_window(row["current_start"], row["current_end"])
    if row["target_kind"] == "relative":
        how = "higher" if row["direction"] == "increase" else "lower"
        target = f"{f(row['target'])} ({abs(row['target_relative']):.0%} {how} than the baseline)"
    else:
        target = f(row["target"])
    text = (
        f"**{row['goal']}.** {k.why} We measure it by **{k.noun}**: "
        f"{k.definition[0].lower() + k.definition[1:]} "
        f"In the baseline window ({base_w}) it was **{f(row['baseline'])}** "
        f"(95% interval {f(row['baseline_ci_low'])} to {f(row['baseline_ci_high'])}, n = {int(row['baseline_n']):,}). "
        f"In the current period ({cur_w}, {row['current_is']}) it is **{f(row['current'])}** "
        f"({f(row['current_ci_low'])} to {f(row['current_ci_high'])}, n = {int(row['current_n']):,}), "
        f"a change of {k.format_change(row['change'])} "
        f"(95% interval {k.format_change(row['change_ci_low'], units=False)} to "
        f"{k.format_change(row['change_ci_high'], units=False)}). "
    )
    if pd.isna(row["current"]) or pd.isna(row["baseline"]):
        which = "current period" if pd.isna(row["current"]) else "baseline window"
        return text.split(" In the baseline window")[0] + (
            f" There is no data for it in the {which} ({cur_w if which == 'current period' else base_w}), "
            "so we cannot yet say where it stands against its target."
        )
    if row["gap"] <= 0:
        text += f"The target of {target} is **met**."
    else:
        gap = k.format_change(row["gap"]).lstrip("+")
        verdict = {
            "improving": "It is moving the right way, clearly beyond chance",
            "worse": "It has moved the wrong way since the baseline",
            "no clear change": "It has not moved clearly since the baseline",
        }[row["status"]]
        text += f"The target is {target}: **{gap} still to go**. {verdict}."
    if isinstance(row.get("intervention"), str) and row.get("intervention"):
        text += (f" The intervention *{row['intervention']}* is meant to move it; the impact stage tests "
                 "that as a pre-registered hypothesis.")
    return text


# --------------------------------------------------------------------------- trends
@dataclass
class KPITrend:
    """A KPI per period with its 95% interval (``table``: period, [by], Estimate columns)."""

    kpi: str
    freq: str
    table: pd.DataFrame
    by: str | None = None

    def summary(self) -> str:
        k = get_kpi(self.kpi)
        t = self.table if self.by is None else self.table.groupby("period", as_index=False).first()
        if t.empty:
            return f"{k.title}: no data."
        first, last = t.iloc[0], t.iloc[-1]
        return (f"{k.title} by {self.freq}: {k.format(first['estimate'])} in "
                f"{period_label(pd.Timestamp(first['period']), self.freq)}, {k.format(last['estimate'])} "
                f"[{k.format(last['ci_low'])}, {k.format(last['ci_high'])}] in "
                f"{period_label(pd.Timestamp(last['period']), self.freq)} ({len(t)} periods).")

    def plot(self, ax=None, target: float | None = None, baseline=None, marker=None, marker_label: str = ""):
        """The trend line with its 95% band; optionally a dashed target line, the baseline window
        shaded and a vertical line at ``marker`` (e.g. an intervention date)."""
        import matplotlib.pyplot as plt

        k = get_kpi(self.kpi)
        ax = ax or plt.subplots(figsize=(8, 3.8))[1]
        scale = 100.0 if k.unit == "share" else 1.0
        groups = [(None, self.table)] if self.by is None else list(self.table.groupby(self.by, observed=True))
        for name, t in groups:
            line = ax.plot(t["period"], t["estimate"] * scale, marker="o", ms=3,
                           label=str(name) if name is not None else k.title)[0]
            ax.fill_between(t["period"], t["ci_low"] * scale, t["ci_high"] * scale, alpha=0.2,
                            color=line.get_color())
        if baseline is not None and baseline[0] is not None and baseline[1] is not None:
            ax.axvspan(pd.Timestamp(baseline[0]), pd.Timestamp(baseline[1]), color="grey", alpha=0.12,
                       label="baseline window")
        if target is not None:
            ax.axhline(target * scale, color="#C44E52", ls="--", lw=1.2, label="target")
        if marker is not None:
            ax.axvline(pd.Timestamp(marker), color="black", ls=":", lw=1.2, label=marker_label or None)
        ax.set_ylabel(f"{k.title} ({'%' if k.unit == 'share' else k.unit})")
        ax.legend(frameon=False, fontsize=8)
        ax.figure.autofmt_xdate()
        return ax


def kpi_trend(study: Study | str | os.PathLike, kpi: str, freq: str = "month", start=None, end=None, *,
              by: str | None = None, groups: pd.DataFrame | None = None, **options) -> KPITrend:
    """The KPI per week/month/quarter (one engine query), optionally one line per ``by`` group."""
    table = compute_kpi(study, kpi, start, end, freq=freq, by=by, groups=groups, **options)
    return KPITrend(get_kpi(kpi).name, freq, table, by)


# --------------------------------------------------------------------------- breakdowns
@dataclass
class KPIBreakdown:
    """A KPI per value of a customer attribute (``table``: by, Estimate columns)."""

    kpi: str
    by: str
    table: pd.DataFrame

    def summary(self) -> str:
        k = get_kpi(self.kpi)
        t = self.table.dropna(subset=["estimate"])
        if t.empty:
            return f"{k.title} by {self.by}: no data."
        best = t.loc[t["estimate"].idxmax() if k.higher_is_better else t["estimate"].idxmin()]
        worst = t.loc[t["estimate"].idxmin() if k.higher_is_better else t["estimate"].idxmax()]
        return (f"{k.title} by {self.by}: best {best[self.by]} at {k.format(best['estimate'])} "
                f"[{k.format(best['ci_low'])}, {k.format(best['ci_high'])}], worst {worst[self.by]} at "
                f"{k.format(worst['estimate'])} [{k.format(worst['ci_low'])}, {k.format(worst['ci_high'])}].")

    def plot(self, ax=None):
        """Each group's value as a dot with its 95% interval."""
        import matplotlib.pyplot as plt

        k = get_kpi(self.kpi)
        t = self.table.reset_index(drop=True)
        scale = 100.0 if k.unit == "share" else 1.0
        ax = ax or plt.subplots(figsize=(7, 0.45 * len(t) + 1.2))[1]
        y = np.arange(len(t))
        est = t["estimate"].to_numpy(float) * scale
        err = np.vstack([est - t["ci_low"].to_numpy(float) * scale, t["ci_high"].to_numpy(float) * scale - est])
        ax.errorbar(est, y, xerr=np.nan_to_num(err), fmt="o", color="#4C72B0", capsize=3)
        ax.set_yticks(y, t[self.by].astype(str))
        ax.invert_yaxis()
        ax.set_xlabel(f"{k.title} ({'%' if k.unit == 'share' else k.unit}), 95% interval")
        return ax


def kpi_breakdown(study: Study | str | os.PathLike, kpi: str, by: str, start=None, end=None, *,
                  groups: pd.DataFrame | None = None, **options) -> KPIBreakdown:
    """The KPI per value of the customer attribute ``by`` (numeric attributes cut into the
    bins study.yaml gives), or per group of a customer_id → ``by`` table ``groups``."""
    table = compute_kpi(study, kpi, start, end, by=by, groups=groups, **options)
    return KPIBreakdown(get_kpi(kpi).name, by, table)
