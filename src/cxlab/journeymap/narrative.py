"""The journey map in words: the sentences the stage notebook shows under each map, for a team
that reads the report without the figure's fine print. Every number comes from the map's own
lanes; customer text is redacted."""
from __future__ import annotations

import math

import pandas as pd

from ..metrics import get_metric, mark, population_of
from ..privacy import redact
from .inputs import JourneyMapData

__all__ = ["findings", "segment_findings", "segment_name", "summary_metrics"]

_METRIC = {"csat": "CSAT", "sentiment": "comment sentiment", "nps": "NPS", "ces": "CES"}


def _num(metric: str, value: float) -> str:
    return f"{value:.0f}" if metric == "nps" else f"{value:+.2f}" if metric == "sentiment" else f"{value:.2f}"


def _reached(m: JourneyMapData) -> pd.Series:
    """Customers reaching each stage (the stage funnel), indexed by stage."""
    k = m.kpis[m.kpis["name"] == "customers"]
    return pd.Series(pd.to_numeric(k["value"]).to_numpy(), index=k["stage"].to_numpy(), dtype="float64")


def _onward(m: JourneyMapData) -> pd.Series:
    k = m.kpis[m.kpis["name"] == "conversion_to_next"]
    return pd.Series(pd.to_numeric(k["value"]).to_numpy(), index=k["stage"].to_numpy(), dtype="float64")


def _stage_share(m: JourneyMapData, metric: str, stage: str, value: float) -> str:
    """A stage funnel share ('reached_stage' or 'went_on_to_stage' of ``stage``) as the metric
    dictionary prints it, marked with the map's population and period (``cxlab.metrics``);
    plain for a map without a period."""
    if m.period is None:
        return get_metric(metric).format(value)
    return mark(f"{metric}:{stage}", value, period=m.period,
                population=population_of(metric, segment=m.segment))


def _stage_after(m: JourneyMapData, stage: str) -> str | None:
    i = m.stages.index(stage)
    return m.stages[i + 1] if i + 1 < len(m.stages) else None


def findings(m: JourneyMapData, n_pain: int = 3, n_opportunities: int = 3) -> list[str]:
    """What the map says, in order: the funnel end to end (with the conversion window the
    touchpoint stage used), the largest loss between two stages, where customers feel best and
    worst, the top pain points with their key numbers, and the first opportunities with what
    they rest on."""
    out: list[str] = []
    reached = _reached(m)
    if len(reached) >= 2 and reached.iloc[0] > 0:
        first, last = reached.index[0], reached.index[-1]
        note = m.lane_notes.get("kpis")  # the funnel and its window ("stage funnel, 30-day window")
        share = _stage_share(m, "reached_stage", last, reached.iloc[-1] / reached.iloc[0])
        out.append(f"{reached.iloc[0]:,.0f} customers enter the journey at {first}; {share} of them reach {last}"
                   + (f" ({note})." if note else "."))
    onward = _onward(m)
    if len(onward):
        worst = onward.idxmin()
        after = _stage_after(m, worst)
        out.append(f"The largest loss is after {worst}: only {_stage_share(m, 'went_on_to_stage', after, onward.min())} "
                   f"go on to {after}.")
    if m.metrics:
        metric = m.metrics[0]
        curve = m.emotion_metric(metric).dropna(subset=["estimate"])
        low, high = curve["estimate"].idxmin(), curve["estimate"].idxmax()
        lo = curve.loc[low]
        ci = "" if math.isnan(lo.ci_low) else f" [95% CI {_num(metric, lo.ci_low)} to {_num(metric, lo.ci_high)}]"
        out.append(f"Customers feel worst at {low}: {m.emotion_figure(metric, low)}{ci}; "
                   f"and best at {high}: {m.emotion_figure(metric, high, name=False)}.")
    for r in m.pain_points.sort_values("rank").head(n_pain).itertuples(index=False):
        where = f" at {r.stage}" if isinstance(r.stage, str) else ""
        reach = "" if r.reach != r.reach else f"; {r.reach:,.0f} customers meet it"
        words = getattr(r, "plain", None) or r.key_number
        out.append(f"Pain point {int(r.rank)}: {r.label}{where} — {words}{reach}.")
    for r in m.opportunities.sort_values("rank").head(n_opportunities).itertuples(index=False):
        where = f" ({r.stage})" if isinstance(r.stage, str) else " (across the journey)"
        out.append(f"Opportunity: {r.text}{where} — {r.basis}.")
    return [redact(s) for s in out]


def segment_name(name: str) -> str:
    """'bargain_browsers' -> 'Bargain browsers' (names with spaces or capitals are kept)."""
    name = str(name)
    return name.replace("_", " ").capitalize() if "_" in name and name == name.lower() else name


def segment_findings(seg: JourneyMapData, base: JourneyMapData) -> list[str]:
    """How a segment's journey differs from all customers': its size, its most used touchpoint
    per stage where it differs, how far it gets, and where it feels worst against everyone at
    that stage."""
    out: list[str] = []
    name = segment_name(seg.population)
    if seg.n_customers and base.n_customers:
        out.append(f"{name}: {seg.n_customers:,} customers ({seg.n_customers / base.n_customers:.0%} of all).")
    differ = []
    for stage in seg.stages:
        a, b = seg.top_touchpoints(stage, 1), base.top_touchpoints(stage, 1)
        if len(a) and (not len(b) or a.touchpoint.iloc[0] != b.touchpoint.iloc[0]):
            differ.append(f"{a.label.iloc[0]} at {stage} ({a.reach.iloc[0]:.0%})")
    if differ:
        out.append("Unlike customers overall, they mostly use " + ", ".join(differ) + ".")
    rs, rb = _reached(seg), _reached(base)
    if len(rs) >= 2 and len(rb) >= 2 and rs.iloc[0] > 0 and rb.iloc[0] > 0:
        common = [s for s in seg.stages if s in rs.index and s in rb.index][1:]
        # the stage where the segment's reach differs most from everyone's
        gaps = {s: rs[s] / rs.iloc[0] - rb[s] / rb.iloc[0] for s in common}
        if gaps:
            far = max(gaps, key=lambda s: abs(gaps[s]))
            out.append(f"{_stage_share(seg, 'reached_stage', far, rs[far] / rs.iloc[0])} of them reach {far}, "
                       f"against {_stage_share(base, 'reached_stage', far, rb[far] / rb.iloc[0])} of all customers.")
    if seg.metrics and base.metrics:
        metric = seg.metrics[0]
        low = seg.lowest_stage(metric)
        if low is not None and metric in base.metrics:
            out.append(f"They feel worst at {low}: {seg.emotion_figure(metric, low)} against "
                       f"{base.emotion_figure(metric, low, name=False)} for all customers there.")
    return [redact(s) for s in out]


def summary_metrics(m: JourneyMapData) -> dict:
    """Numbers a later run compares against (summary_journey_map.json ``metrics``)."""
    out: dict = {}
    if m.metrics:
        metric = m.metrics[0]
        low = m.lowest_stage(metric)
        value = float(m.emotion_metric(metric).loc[low, "estimate"])
        out[f"lowest_stage_{metric}"] = {"value": round(value, 4),
                                         "label": f"{_METRIC.get(metric, metric)} at the lowest stage ({low})"}
    top = m.top_pain_point()
    if top is not None and top["reach"] == top["reach"]:
        out["top_pain_point_reach"] = {"value": int(top["reach"]),
                                       "label": f"customers meeting the top pain point ({top['label']})"}
    reached = _reached(m)
    if len(reached) >= 2 and reached.iloc[0] > 0:
        out["reach_last_stage"] = {"value": round(float(reached.iloc[-1] / reached.iloc[0]), 4),
                                   "label": f"share of customers reaching {reached.index[-1]}", "unit": "share"}
    out["opportunities"] = {"value": int(len(m.opportunities)), "label": "opportunities on the map"}
    return out
