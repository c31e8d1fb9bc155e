"""Objectives against targets: baseline, current value, target, gap and whether it is on track
to reach the target by its date; KPI trends with their intervals; KPI breakdowns by customer
attribute.

An objective in study.yaml ties a business goal to a KPI, a baseline window and a target:

    objectives:
      - id: grow_conversion
        goal: Grow online sales
        kpi: conversion_rate
        baseline: {start: 2025-01-01, end: 2025-03-31}
        target: {relative: 0.10, by: 2026-06-30}   # 10% better than the baseline, by 30 June 2026;
                                                   # or {absolute: 0.35, by: …}; by is optional
        direction: increase             # optional: the KPI's better direction by default
        intervention: new_checkout      # optional

How the columns of the objectives table are made:

- baseline: the KPI over the baseline window (the log before the current period when the
  objective names none).
- current: the KPI over the current period: the ``current`` window given, else the study's one
  current period (``cxlab.metrics.current_period``), the same for every objective so that "now"
  means the same months for every KPI: the latest whole months, as many as the longest baseline
  window (the last quarter for first-quarter baselines), ending on or before the last day on
  which every objective's KPI is fully followed. A KPI's *last complete day* is the last day
  whose units are fully followed (``cxlab.kpis.complete_until``): the end of the log less the
  conversion window or the repeat horizon, the last month whose next month is complete for
  retention; units after it are left out and ``note`` says so.
- target: ``absolute``, or the baseline moved by ``relative`` × |baseline| in the objective's
  direction (so a relative target works for an NPS below zero, and 0.10 on churn means 10% less);
  target_date: the target's ``by`` (NaT when the objective sets none).
- gap: how far the current value is from the target in the good direction (positive: still to
  go; zero or below: met).
- change: current − baseline with a 95% interval (normal approximation from the two intervals,
  treating the windows as independent samples); movement: "improving" (the change's interval
  lies entirely on the good side of zero), "worse" (entirely on the bad side) or "no clear change".
- projected: where the KPI will be on the target date if its recent course goes on — a straight
  line fitted by weighted least squares to the KPI per period (``trend_freq``) from the start of
  the baseline window to the last day the KPI's units are fully followed (to the end of the
  current period when one is given), each period weighted by 1/SE² (so a
  period with few units counts little), evaluated at the target date with the 95% interval of
  the line there (Student t, n − 2 degrees of freedom; the scale from the weighted residuals, but
  never below 1, the periods' own sampling error, so a line that happens to fit too well does
  not claim more precision than its periods have); periods not
  wholly complete at the last complete day are left out, and at least three periods are needed.
- status, one of ``STATUSES`` and only one per objective:
  "target met" (the current value reaches the target);
  "on track" (not yet, but the projection reaches the target by its date);
  "improving, off track" (improving since the baseline, but projected short of the target);
  "off track" (not improving, and projected short; or the target date has passed unmet);
  "no target date" (not met, and no date to project to: the target says no ``by``);
  "not enough data" (no value in the baseline or current period, or fewer than three periods
  to fit the line). on_track is true for "target met" and "on track".
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ParameterError
from ..results import Estimate
from ..study import Objective, Study
from ..kpis import censoring_note, complete_until, compute_kpi, data_end, get_kpi, kpi_estimate
from ..metrics import Period, current_period, get_metric, kpi_figure, mark
from ..periods import check_freq, period_index_of, period_label, period_start, window_bounds
from ..stats import z_value

__all__ = [
    "STATUSES",
    "objective_direction",
    "objective_windows",
    "target_value",
    "target_date",
    "project_trend",
    "ObjectivesResult",
    "objectives_table",
    "KPITrend",
    "kpi_trend",
    "KPIBreakdown",
    "kpi_breakdown",
    "fmt_window",
    "objective_sentence",
]

#: The statuses of an objective, mutually exclusive, in the order the summary counts them.
STATUSES = ("target met", "on track", "improving, off track", "off track", "no target date", "not enough data")
#: How the summary line names each status.
_STATUS_WORDS = {"target met": "at target", "on track": "on track", "improving, off track": "improving but off track",
                 "off track": "off track", "no target date": "without a target date",
                 "not enough data": "without enough data"}
#: Fewest periods a line is fitted to (two leave no residual to size its interval).
MIN_TREND_PERIODS = 3


def fmt_window(start, end) -> str:
    """'1 Jan 2025 – 31 Mar 2025' (either side may be open)."""
    def one(v):
        return "the start of the log" if v is None else pd.Timestamp(v).strftime("%-d %b %Y")

    if end is None:
        return f"{one(start)} – the end of the log"
    return f"{one(start)} – {pd.Timestamp(end).strftime('%-d %b %Y')}"


def _day(value) -> str:
    return pd.Timestamp(value).strftime("%-d %b %Y")


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


def target_date(objective: Objective) -> pd.Timestamp | None:
    """The day by which the target is to be reached (study.yaml ``target: {…, by: YYYY-MM-DD}``),
    or None when the objective sets none."""
    target = objective.raw.get("target") if isinstance(objective.raw, dict) else None
    by = target.get("by") if isinstance(target, dict) else None
    if by is None or str(by).strip() == "":
        return None
    try:
        return pd.Timestamp(str(by)).normalize()
    except ValueError:
        raise ParameterError(f"Objective '{objective.id}': target date by: {by!r} is not a date "
                             "(write YYYY-MM-DD)") from None


def objective_windows(study: Study, objective: Objective, current=None, **options) -> dict:
    """The baseline and current windows of an objective as dates (end day inclusive), how the
    current one was chosen, and the last complete day of its KPI (see the module docstring);
    the current window is None when a given one holds no day yet."""
    last = complete_until(study, objective.kpi, **options)
    if current is not None:
        cur_start, cur_end = current
        cur_start = None if cur_start is None else pd.Timestamp(cur_start)
        cur_end = last if cur_end is None else pd.Timestamp(cur_end)
        how = "the period given"
    else:  # the study's one current period: the same months for every objective (cxlab.metrics)
        period = current_period(study, **options)
        cur_start, cur_end, how = period.start, period.end, period.how
    base_start, base_end = objective.baseline_start, objective.baseline_end
    if base_start is None and base_end is None:
        base_end = None if cur_start is None else cur_start - pd.Timedelta(days=1)
    window_bounds(base_start, base_end)
    current_window = (cur_start, cur_end)
    if current is None and cur_start is not None and cur_start > cur_end:
        current_window = None  # nothing since the intervention is fully followed yet
    else:
        window_bounds(cur_start, cur_end)
    return {"baseline": (base_start, base_end), "current": current_window, "current_is": how,
            "current_start": cur_start, "complete_until": last}


def _se(est: Estimate) -> float:
    return (est.ci_high - est.ci_low) / (2 * z_value(est.ci_level))


def _change(base: Estimate, cur: Estimate, label: str) -> Estimate:
    diff = cur.estimate - base.estimate
    se = math.hypot(_se(base), _se(cur))
    z = z_value(0.95)
    return Estimate(label, diff, diff - z * se, diff + z * se, None, base.n + cur.n,
                    "difference of two independent estimates, normal approximation")


def _period_middle(starts: pd.Series, freq: str) -> pd.Series:
    """The middle of each period, from its first day."""
    idx = np.array([period_index_of(t, freq) for t in starts], dtype="int64")
    ends = pd.Series(period_start(idx + 1, freq).to_numpy(), index=starts.index)
    return starts + (ends - starts) / 2


def project_trend(trend: pd.DataFrame, freq: str, when, *, label: str = "projection",
                  ci_level: float = 0.95) -> Estimate | None:
    """The KPI on the day ``when`` if its course goes on: a straight line fitted by weighted
    least squares to the per-period values of ``trend`` (columns period, estimate, ci_low,
    ci_high: one row per period at ``freq``, as ``compute_kpi(..., freq=freq)`` returns),
    with time as the middle of each period and each period weighted by 1/SE² (SE from its
    interval). Returns an Estimate whose interval is that of the fitted line at ``when``
    (Student t with n − 2 degrees of freedom; scale from the weighted residuals, at least 1) and
    whose extra holds the slope per day and the periods used; None with fewer than three
    periods that have an interval."""
    check_freq(freq)
    t = trend.dropna(subset=["estimate", "ci_low", "ci_high"]).copy()
    se = (t["ci_high"] - t["ci_low"]).to_numpy(float) / (2 * z_value(ci_level))
    t = t[se > 0]
    se = se[se > 0]
    n = len(t)
    if n < MIN_TREND_PERIODS:
        return None
    middles = _period_middle(pd.to_datetime(t["period"]).reset_index(drop=True), freq)
    origin = middles.iloc[0]
    x = ((middles - origin) / pd.Timedelta(days=1)).to_numpy(float)
    y = t["estimate"].to_numpy(float)
    w = 1.0 / se**2
    design = np.column_stack([np.ones(n), x])
    xtwx = design.T @ (design * w[:, None])
    beta = np.linalg.solve(xtwx, design.T @ (w * y))
    resid = y - design @ beta
    # at least the sampling error the periods' own intervals state
    scale = max(float(np.sum(w * resid**2) / (n - 2)), 1.0)
    cov = scale * np.linalg.inv(xtwx)
    x0 = (pd.Timestamp(when) - origin) / pd.Timedelta(days=1)
    at = np.array([1.0, x0])
    value = float(at @ beta)
    half = float(stats.t.ppf(0.5 + ci_level / 2, n - 2) * math.sqrt(max(at @ cov @ at, 0.0)))
    return Estimate(label, value, value - half, value + half, None, n,
                    f"weighted least-squares line through {n} {freq}ly values (weights 1/SE²), "
                    "interval of the line at the target date",
                    ci_level, extra={"slope_per_day": float(beta[1]), "intercept": float(beta[0]),
                                     "origin": origin, "first_period": pd.Timestamp(t["period"].iloc[0]),
                                     "last_period": pd.Timestamp(t["period"].iloc[-1])})


def _projection(study: Study, objective: Objective, windows: dict, when, freq: str, **options) -> Estimate | None:
    """The objective's KPI projected to ``when`` from its periods between the start of the
    baseline and the last day its units are fully followed (the end of the current window when
    one was given), wholly complete ones only: the latest data the KPI has, even where the
    study's shared current period ends earlier for another KPI's sake."""
    start = windows["baseline"][0]
    given = windows["current"] is not None and windows["current_is"] == "the period given"
    end = windows["current"][1] if given else windows["complete_until"]
    trend = compute_kpi(study, objective.kpi, start, end, freq=freq, **options)
    if trend.empty:
        return None
    starts = pd.to_datetime(trend["period"]).reset_index(drop=True)
    idx = np.array([period_index_of(t_, freq) for t_ in starts], dtype="int64")
    last_days = period_start(idx + 1, freq).reset_index(drop=True) - pd.Timedelta(days=1)
    whole = (last_days <= min(pd.Timestamp(end), windows["complete_until"])).to_numpy()
    return project_trend(trend.reset_index(drop=True)[whole], freq, when,
                         label=f"{get_kpi(objective.kpi).title}, projected to {_day(when)}")


@dataclass
class ObjectivesResult:
    """The objectives table and, per objective, the baseline, current, change and projection
    Estimates (the projection None without a target date or enough periods)."""

    table: pd.DataFrame
    estimates: dict = field(default_factory=dict)  # id -> {"baseline", "current", "change", "projection"}

    def counts(self) -> dict[str, int]:
        """How many objectives have each status (every status, zeros included; they add up to
        the number of objectives)."""
        found = self.table["status"].value_counts() if len(self.table) else pd.Series(dtype=int)
        return {s: int(found.get(s, 0)) for s in STATUSES}

    def summary(self) -> str:
        if self.table.empty:
            return "The study defines no objectives."
        parts = [f"{n} {_STATUS_WORDS[s]}" for s, n in self.counts().items() if n]
        return f"{len(self.table)} objective(s): " + ", ".join(parts) + "."

    def headlines(self) -> list[str]:
        """One line per objective for the run index: where the KPI stands against its target."""
        lines = []
        for _, r in self.table.iterrows():
            k = get_kpi(r["kpi"])
            if pd.isna(r["current"]) or pd.isna(r["baseline"]):
                lines.append(f"{r['goal']}: no data yet for {k.noun} in the baseline or current period.")
                continue
            # each value marked with whom it counts and its period (cxlab.metrics): "now" is the
            # study's one current period, the same months on every page
            cur = Period.of(r["current_start"], r["current_end"])
            base = Period.of(r["baseline_start"], r["baseline_end"])
            where = (f"{kpi_figure(k.name, r['current'], cur)} against "
                     f"{kpi_figure(k.name, r['baseline'], base, name=False)} at baseline; "
                     f"target {k.format(r['target'])}")
            if r["status"] == "target met":
                tail = "target met."
            else:
                tail = f"{k.format_change(r['gap']).lstrip('+')} to go ({r['status']}"
                if not pd.isna(r["projected"]):
                    tail += f": projected {k.format(r['projected'])} by {_day(r['target_date'])}"
                tail += ")."
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

    def page_sentences(self) -> dict[str, str]:
        """``sentences`` as the page shows them: as text (the goal is the user's words, so the
        page escapes the whole paragraph), without the ** of Markdown emphasis, which would
        otherwise print as it is."""
        return {k: v.replace("**", "") for k, v in self.sentences().items()}

    def notes(self) -> list[str]:
        """The distinct notes on units left out (incomplete follow-up at the end of the data)."""
        return list(dict.fromkeys(n for n in self.table["note"] if isinstance(n, str) and n))

    def display_table(self) -> pd.DataFrame:
        """The table with values formatted in each KPI's unit, for the report."""
        rows = []
        for _, r in self.table.iterrows():
            k = get_kpi(r["kpi"])
            cur = Period.of(r["current_start"], r["current_end"])
            base = Period.of(r["baseline_start"], r["baseline_end"])
            if pd.isna(r["projected"]):
                projected = "–"
            else:
                projected = (f"{k.format(r['projected'])} [{k.format(r['projected_ci_low'])}, "
                             f"{k.format(r['projected_ci_high'])}]")
            rows.append({
                "objective": r["goal"],
                "KPI": k.title,
                "baseline": (f"{mark(k.name, r['baseline'], period=base)} [{k.format(r['baseline_ci_low'])}, "
                             f"{k.format(r['baseline_ci_high'])}] ({base.words})"),
                "current": (f"{mark(k.name, r['current'], period=cur)} [{k.format(r['current_ci_low'])}, "
                            f"{k.format(r['current_ci_high'])}] ({cur.words})"),
                "target": k.format(r["target"]),
                "by": "–" if pd.isna(r["target_date"]) else _day(r["target_date"]),
                "gap to target": ("–" if pd.isna(r["gap"]) else "met" if r["gap"] <= 0
                                  else k.format_change(r["gap"]).lstrip("+")),
                "projected by then": projected,
                "status": r["status"],
            })
        return pd.DataFrame(rows)


def _movement(change: Estimate, direction: str) -> str:
    """The change since the baseline, read in the objective's direction."""
    sign = 1 if direction == "increase" else -1
    lo, hi = sorted((sign * change.ci_low, sign * change.ci_high))
    if lo > 0:
        return "improving"
    if hi < 0:
        return "worse"
    return "no clear change"


def _status(*, gap: float, movement: str, when, projection: Estimate | None, target: float, direction: str,
            current_end) -> str:
    """The one status of an objective (see the module docstring)."""
    if pd.isna(gap):
        return "not enough data"
    if gap <= 0:
        return "target met"
    if when is None:
        return "no target date"
    if current_end is not None and pd.Timestamp(when) <= pd.Timestamp(current_end):
        return "off track"  # the date has passed and the target is not met
    if projection is None:
        return "not enough data"
    sign = 1.0 if direction == "increase" else -1.0
    if sign * (projection.estimate - target) >= 0:
        return "on track"
    return "improving, off track" if movement == "improving" else "off track"


def _missing(label: str) -> Estimate:
    return Estimate(label, math.nan, math.nan, math.nan, None, 0, "no units in the window")


_COLUMNS = [
    "id", "goal", "kpi", "title", "definition", "unit", "direction",
    "baseline_start", "baseline_end", "baseline", "baseline_ci_low", "baseline_ci_high", "baseline_n",
    "current_start", "current_end", "current_is", "current", "current_ci_low", "current_ci_high", "current_n",
    "target", "target_kind", "target_relative", "target_date", "gap", "change", "change_ci_low", "change_ci_high",
    "movement", "projected", "projected_ci_low", "projected_ci_high", "trend_periods",
    "status", "on_track", "complete_until", "note", "intervention",
]


def objectives_table(study: Study | str | os.PathLike, current=None, *, trend_freq: str = "month",
                     **options) -> ObjectivesResult:
    """Baseline, current, target, gap, projection and status for every objective of the study
    (see the module docstring). ``current``: an optional (start, end) for the current period;
    ``trend_freq``: the periods the projection's line is fitted to; ``options`` are passed to
    the KPI computations (e.g. window_days, repeat_horizon_days)."""
    study = Study.load(study)
    check_freq(trend_freq)
    rows, estimates = [], {}
    end_of_log = data_end(study).normalize()
    for obj in study.objectives:
        spec = get_kpi(obj.kpi)
        windows = objective_windows(study, obj, current, **options)
        direction = objective_direction(obj)
        base = kpi_estimate(study, obj.kpi, *windows["baseline"], label="baseline", **options)
        cur = (_missing("current") if windows["current"] is None
               else kpi_estimate(study, obj.kpi, *windows["current"], label="current", **options))
        change = _change(base, cur, f"{spec.title}, change from the baseline")
        target = target_value(obj, base.estimate)
        sign = 1.0 if direction == "increase" else -1.0
        gap = sign * (target - cur.estimate)
        movement = _movement(change, direction)
        when = target_date(obj)
        cur_end = None if windows["current"] is None else windows["current"][1]
        projection = None
        if when is not None and not pd.isna(gap) and gap > 0 and (cur_end is None or when > cur_end):
            projection = _projection(study, obj, windows, when, trend_freq, **options)
        status = _status(gap=gap, movement=movement, when=when, projection=projection, target=target,
                         direction=direction, current_end=cur_end)
        # name the units the end of the data leaves out when the current window reaches them
        reaches = windows["current"] is None or cur_end is None or cur_end >= windows["complete_until"]
        note = censoring_note(study, obj.kpi, **options) if reaches and windows["complete_until"] < end_of_log else ""
        if windows["current"] is None:
            note = (f"No customer since {_day(windows['current_start'])} has been followed long enough yet. "
                    + note).strip()
        estimates[obj.id] = {"baseline": base, "current": cur, "change": change, "projection": projection}
        nan = math.nan
        rows.append({
            "id": obj.id, "goal": obj.goal, "kpi": spec.name, "title": spec.title,
            "definition": spec.definition, "unit": spec.unit, "direction": direction,
            "baseline_start": windows["baseline"][0], "baseline_end": windows["baseline"][1],
            "baseline": base.estimate, "baseline_ci_low": base.ci_low, "baseline_ci_high": base.ci_high,
            "baseline_n": base.n,
            "current_start": windows["current_start"], "current_end": cur_end,
            "current_is": windows["current_is"],
            "current": cur.estimate, "current_ci_low": cur.ci_low, "current_ci_high": cur.ci_high,
            "current_n": cur.n,
            "target": target,
            "target_kind": "absolute" if obj.target_absolute is not None else "relative",
            "target_relative": obj.target_relative,
            "target_date": pd.NaT if when is None else when,
            "gap": gap,
            "change": change.estimate, "change_ci_low": change.ci_low, "change_ci_high": change.ci_high,
            "movement": movement,
            "projected": nan if projection is None else projection.estimate,
            "projected_ci_low": nan if projection is None else projection.ci_low,
            "projected_ci_high": nan if projection is None else projection.ci_high,
            "trend_periods": 0 if projection is None else projection.n,
            "status": status, "on_track": status in ("target met", "on track"),
            "complete_until": windows["complete_until"], "note": note,
            "intervention": obj.intervention or "",
        })
    # the columns are the same whether or not the study has objectives
    return ObjectivesResult(pd.DataFrame(rows, columns=_COLUMNS), estimates)


def _verdict(row, k) -> str:
    """What the status means for this objective, in a sentence or two."""
    f = k.format
    status = row["status"]
    moved = {
        "improving": "It is moving the right way, clearly beyond chance",
        "worse": "It has moved the wrong way since the baseline",
        "no clear change": "It has not moved clearly since the baseline",
    }[row["movement"]]
    if status == "no target date":
        return (f"{moved}. The target sets no date, so we cannot say whether it is on track: "
                "**no target date** (give one in study.yaml as `target: {…, by: YYYY-MM-DD}`).")
    when = _day(row["target_date"]) if not pd.isna(row["target_date"]) else ""
    if status == "off track" and pd.isna(row["projected"]):
        return f"{moved}. The target date, {when}, has passed without the target being met: **off track**."
    if status == "not enough data":
        return (f"{moved}. Fewer than three periods have a value, too few to fit a trend and project it to "
                f"{when}: **not enough data** to say whether it is on track.")
    proj = (f"If its course since the baseline goes on (a straight line through {int(row['trend_periods'])} "
            f"periods), it will be **{f(row['projected'])}** on {when} "
            f"(95% interval {f(row['projected_ci_low'])} to {f(row['projected_ci_high'])})")
    if status == "on track":
        return f"{moved}. {proj}, which reaches the target: **on track**."
    sign = 1.0 if row["direction"] == "increase" else -1.0
    short = k.format_change(sign * (row["target"] - row["projected"])).lstrip("+")
    if status == "improving, off track":
        return f"{moved}, but not fast enough. {proj}, {short} short of the target: **improving, off track**."
    return f"{moved}. {proj}, {short} short of the target: **off track**."


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
    if not pd.isna(row.get("target_date")):
        target += f" by {_day(row['target_date'])}"
    text = (
        f"**{row['goal']}.** {k.why} We measure it by **{k.noun}**: "
        f"{k.definition[0].lower() + k.definition[1:]} "
    )
    note = row.get("note") if isinstance(row.get("note"), str) else ""
    if pd.isna(row["current"]) or pd.isna(row["baseline"]):
        which = "current period" if pd.isna(row["current"]) else "baseline window"
        return (text + f"There is no data for it in the {which} "
                f"({cur_w if which == 'current period' else base_w}), so we cannot yet say where it stands "
                f"against its target: **not enough data**. {note}").strip()
    text += (
        f"In the baseline window ({base_w}) it was "
        f"**{mark(k.name, row['baseline'], period=(row['baseline_start'], row['baseline_end']))}** "
        f"(95% interval {f(row['baseline_ci_low'])} to {f(row['baseline_ci_high'])}, n = {int(row['baseline_n']):,}). "
        f"In the current period ({cur_w}, {row['current_is']}) it is "
        f"**{mark(k.name, row['current'], period=(row['current_start'], row['current_end']))}** "
        f"({f(row['current_ci_low'])} to {f(row['current_ci_high'])}, n = {int(row['current_n']):,}), "
        f"a change of {k.format_change(row['change'])} "
        f"(95% interval {k.format_change(row['change_ci_low'], units=False)} to "
        f"{k.format_change(row['change_ci_high'], units=False)}). "
    )
    if row["gap"] <= 0:
        text += f"The target of {target} is **met**."
    else:
        gap = k.format_change(row["gap"]).lstrip("+")
        text += f"The target is {target}: **{gap} still to go**. {_verdict(row, k)}"
    if note:
        text += f" {note}"
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

    def plot(self, ax=None, target: float | None = None, baseline=None, marker=None, marker_label: str = "",
             projection: Estimate | None = None, target_date=None):
        """The trend line with its 95% band; optionally a dashed target line, the baseline window
        shaded, a vertical line at ``marker`` (e.g. an intervention date), and the fitted line of
        ``projection`` (``project_trend``) carried on to ``target_date`` with its interval there."""
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
        if projection is not None and target_date is not None:
            extra = projection.extra
            start = pd.Timestamp(extra["first_period"])
            when = pd.Timestamp(target_date)
            days = np.array([(start - extra["origin"]) / pd.Timedelta(days=1),
                             (when - extra["origin"]) / pd.Timedelta(days=1)])
            line = (extra["intercept"] + extra["slope_per_day"] * days) * scale
            ax.plot([start, when], line, color="#55A868", ls="--", lw=1.2, label="trend, projected")
            ax.errorbar([when], [projection.estimate * scale],
                        yerr=[[(projection.estimate - projection.ci_low) * scale],
                              [(projection.ci_high - projection.estimate) * scale]],
                        fmt="o", color="#55A868", capsize=3, label="projected at the target date")
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
    start: object = None  # the window the KPI was computed over (None: open on that side)
    end: object = None

    def summary(self) -> str:
        k = get_kpi(self.kpi)
        t = self.table.dropna(subset=["estimate"])
        if t.empty:
            return f"{k.title} by {self.by}: no data."
        best = t.loc[t["estimate"].idxmax() if k.higher_is_better else t["estimate"].idxmin()]
        worst = t.loc[t["estimate"].idxmin() if k.higher_is_better else t["estimate"].idxmax()]
        period = Period.of(self.start, self.end)
        m = get_metric(k.name)

        def at(row) -> str:  # a group's value, marked with its population (cxlab.metrics)
            return (f"{mark(k.name, row['estimate'], population=f'{m.population}, {self.by} {row[self.by]}', period=period)} "
                    f"[{k.format(row['ci_low'])}, {k.format(row['ci_high'])}]")

        return (f"{k.title} by {self.by} ({m.population}, {period.words}): best {best[self.by]} at {at(best)}, "
                f"worst {worst[self.by]} at {at(worst)}.")

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
    return KPIBreakdown(get_kpi(kpi).name, by, table, start, end)
