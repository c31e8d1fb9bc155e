"""What the journey map is drawn from: one tidy ``JourneyMapData`` per population (all customers,
or one segment), assembled only from what the stages computed.

Each lane is one small table, one row per thing, in the study's stage order:

- ``touchpoints``: stage, touchpoint, label, channel, customers (reached), reach (their share of
  the population of the map, 0–1);
- ``actions``: stage, text (what customers do there, in words), share (0–1 or NaN);
- ``emotion``: stage, metric ('csat', 'sentiment', 'nps', 'ces'), estimate, ci_low, ci_high, n;
- ``pain_points``: rank (1 = fix first), name, label, stage, signal (the kind of friction),
  key_number (the evidence in words, e.g. "38% drop off"), value, reach (customers affected);
- ``drivers``: driver, label, importance, performance, outcome, stage (key-driver analysis);
- ``opportunities``: rank, stage (None = across the journey), text, basis, source, reference
  (``cxlab.journeymap.opportunities.derive_opportunities``);
- ``kpis``: stage, name, value, text (the stage's KPI in words, e.g. "62% reach this stage").

``from_frames`` checks and orders hand-made or computed tables; ``load_journey_map`` reads
what the stage notebooks wrote to data/processed/<study>/.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterable

import numpy as np
import pandas as pd

from ..errors import DataError
from ..report.display import redact
from .opportunities import OPPORTUNITY_COLUMNS, derive_opportunities

__all__ = [
    "JourneyMapData",
    "from_frames",
    "LANE_COLUMNS",
    "describe_actions",
]

LANE_COLUMNS: dict[str, list[str]] = {
    "touchpoints": ["stage", "touchpoint", "label", "channel", "customers", "reach"],
    "actions": ["stage", "text", "share"],
    "emotion": ["stage", "metric", "estimate", "ci_low", "ci_high", "n"],
    "pain_points": ["rank", "name", "label", "stage", "signal", "key_number", "value", "reach"],
    "drivers": ["driver", "label", "importance", "performance", "outcome", "stage"],
    "opportunities": OPPORTUNITY_COLUMNS,
    "kpis": ["stage", "name", "value", "text"],
}
_REQUIRED = {
    "touchpoints": ["stage", "touchpoint", "reach"],
    "actions": ["stage", "text"],
    "emotion": ["stage", "metric", "estimate"],
    "pain_points": ["rank", "name", "key_number"],
    "drivers": ["driver", "importance", "performance"],
    "opportunities": ["rank", "stage", "text"],
    "kpis": ["stage", "text"],
}


def _empty(lane: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in LANE_COLUMNS[lane]})


@dataclass
class JourneyMapData:
    """Everything one journey map shows, as tidy tables (see the module doc for the columns).

    population: 'All customers' or the segment's name; segment: the segment id (None for all
    customers); n_customers: customers in the population; notes: what is missing and why a
    lane is empty (shown under the map)."""

    study: str
    title: str
    stages: list[str]
    touchpoints: pd.DataFrame
    actions: pd.DataFrame
    emotion: pd.DataFrame
    pain_points: pd.DataFrame
    opportunities: pd.DataFrame
    kpis: pd.DataFrame
    drivers: pd.DataFrame = field(default_factory=lambda: _empty("drivers"))
    segment: str | None = None
    population: str = "All customers"
    n_customers: int | None = None
    persona: str | None = None
    notes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ reading
    def top_touchpoints(self, stage: str, n: int = 4) -> pd.DataFrame:
        """The ``n`` touchpoints of ``stage`` reaching most customers."""
        t = self.touchpoints[self.touchpoints.stage == stage]
        return t.sort_values(["reach", "touchpoint"], ascending=[False, True]).head(n)

    def emotion_metric(self, metric: str) -> pd.DataFrame:
        """One metric of the emotion curve, one row per stage in stage order (NaN where absent)."""
        m = self.emotion[self.emotion.metric == metric].drop_duplicates("stage").set_index("stage")
        return m.reindex(self.stages)[["estimate", "ci_low", "ci_high", "n"]].astype("float64")

    @property
    def metrics(self) -> list[str]:
        """The emotion metrics present, the one drawn first first (CSAT, then sentiment, NPS, CES)."""
        if self.emotion.empty:
            return []
        names = ["csat", "sentiment", "nps", "ces"] + sorted(set(self.emotion.metric.dropna().astype(str)))
        return [m for m in dict.fromkeys(names) if self.emotion_metric(m)["estimate"].notna().any()]

    def lowest_stage(self, metric: str | None = None) -> str | None:
        """The stage where customers feel worst on ``metric`` (default: the first metric present)."""
        metric = metric or (self.metrics[0] if self.metrics else None)
        if metric is None:
            return None
        m = self.emotion_metric(metric)["estimate"].dropna()
        return None if m.empty else str(m.idxmin())

    def top_pain_point(self) -> pd.Series | None:
        if self.pain_points.empty:
            return None
        return self.pain_points.sort_values("rank").iloc[0]

    def headlines(self) -> list[str]:
        """Sentences for the report index: the top pain point, where the curve dips, the top
        opportunity."""
        out = []
        who = "" if self.segment is None else f" ({self.population})"
        top = self.top_pain_point()
        if top is not None:
            where = f" at {top['stage']}" if isinstance(top["stage"], str) else ""
            out.append(f"Top pain point{who}: {top['label'] or top['name']}{where} — {top['key_number']}.")
        metric = self.metrics[0] if self.metrics else None
        low = self.lowest_stage(metric)
        if low is not None:
            row = self.emotion_metric(metric).loc[low]
            name = {"csat": "CSAT", "sentiment": "comment sentiment", "nps": "NPS", "ces": "CES"}.get(metric, metric)
            ci = ""
            if not (math.isnan(row.ci_low) or math.isnan(row.ci_high)):
                ci = f" [{row.ci_low:.2f}, {row.ci_high:.2f}]"
            out.append(f"Customers{who} feel worst at {low}: {name} {row.estimate:.2f}{ci}.")
        if len(self.opportunities):
            o = self.opportunities.sort_values("rank").iloc[0]
            out.append(f"First opportunity: {o['text']} ({o['basis']}).")
        return [redact(h) for h in out]

    def plot(self, **kwargs):
        """The journey-map figure (``cxlab.journeymap.figure.journey_map_figure``)."""
        from .figure import journey_map_figure

        return journey_map_figure(self, **kwargs)

    def summary(self) -> str:
        lines = [f"Journey map of {self.title} — {self.population}"
                 + (f" (n = {self.n_customers:,})" if self.n_customers else "")]
        lines += [f"  {h}" for h in self.headlines()]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def with_opportunities(self, **kwargs) -> "JourneyMapData":
        """A copy whose opportunities are derived again from its pain points and drivers."""
        return replace(self, opportunities=derive_opportunities(self.pain_points, self.drivers, **kwargs))


def _lane(frame: pd.DataFrame | None, lane: str, stages: list[str], notes: list[str]) -> pd.DataFrame:
    if frame is None:
        return _empty(lane)
    missing = [c for c in _REQUIRED[lane] if c not in frame.columns]
    if missing:
        raise DataError([
            f"journey map lane '{lane}': the table lacks column(s) {', '.join(missing)} "
            f"(it has: {', '.join(map(str, frame.columns))}); expected {', '.join(LANE_COLUMNS[lane])}"
        ])
    out = frame.copy()
    for c in LANE_COLUMNS[lane]:
        if c not in out.columns:
            out[c] = np.nan if c in ("share", "value", "reach", "ci_low", "ci_high", "n", "customers") else None
    if "stage" in out.columns and lane != "drivers":
        staged = out["stage"].notna()
        unknown = sorted(set(out.loc[staged, "stage"].astype(str)) - set(stages))
        if unknown and lane not in ("opportunities", "pain_points"):
            notes.append(f"{lane}: rows in stages outside the study's stages were left out ({', '.join(unknown)})")
        if lane in ("opportunities", "pain_points"):
            out.loc[staged & ~out["stage"].isin(stages), "stage"] = None
        else:
            out = out[out["stage"].isin(stages)]
        order = {s: i for i, s in enumerate(stages)}
        out = out.assign(_o=out["stage"].map(order))
        keys = ["rank"] if "rank" in out.columns else ["_o"]
        out = out.sort_values(keys, kind="stable").drop(columns="_o")
    return out[LANE_COLUMNS[lane] + [c for c in out.columns if c not in LANE_COLUMNS[lane]]].reset_index(drop=True)


def from_frames(
    study: str,
    stages: Iterable[str],
    *,
    title: str | None = None,
    touchpoints: pd.DataFrame | None = None,
    actions: pd.DataFrame | None = None,
    emotion: pd.DataFrame | None = None,
    pain_points: pd.DataFrame | None = None,
    drivers: pd.DataFrame | None = None,
    opportunities: pd.DataFrame | None = None,
    kpis: pd.DataFrame | None = None,
    segment: str | None = None,
    population: str | None = None,
    n_customers: int | None = None,
    persona: str | None = None,
    notes: Iterable[str] = (),
    stage_of: dict | None = None,
) -> JourneyMapData:
    """A JourneyMapData from lane tables (see the module doc for their columns).

    Rows outside the study's stages are left out (noted); pain points and opportunities
    without a known stage are kept with stage None. When ``opportunities`` is None they are
    derived from the pain points and drivers. When ``actions`` is None they are described
    from the touchpoints (``describe_actions``)."""
    stages = list(stages)
    notes = list(notes)
    lanes = {}
    for lane, frame in [("touchpoints", touchpoints), ("emotion", emotion), ("pain_points", pain_points),
                        ("drivers", drivers), ("kpis", kpis)]:
        lanes[lane] = _lane(frame, lane, stages, notes)
    if lanes["pain_points"]["label"].isna().any():
        pp = lanes["pain_points"]
        pp["label"] = pp["label"].where(pp["label"].notna(), pp["name"])
    if actions is None:
        actions = describe_actions(lanes["touchpoints"], stages)
    lanes["actions"] = _lane(actions, "actions", stages, notes)
    if opportunities is None:
        opportunities = derive_opportunities(lanes["pain_points"], lanes["drivers"], stage_of=stage_of)
    lanes["opportunities"] = _lane(opportunities, "opportunities", stages, notes)
    return JourneyMapData(
        study=study,
        title=title or study,
        stages=stages,
        segment=segment,
        population=population or ("All customers" if segment is None else str(segment)),
        n_customers=n_customers,
        persona=persona,
        notes=notes,
        **lanes,
    )


def describe_actions(
    touchpoints: pd.DataFrame,
    stages: list[str],
    transitions: pd.DataFrame | None = None,
    per_stage: int = 3,
) -> pd.DataFrame:
    """What customers do at each stage, in words.

    With ``transitions`` (columns stage, from_label, to_label, share: the most common moves
    out of the stage's touchpoints, share of the moves out of the stage), the top moves read
    "Product page (web), then Checkout (web)". Without, the top touchpoints read as activities
    with how often a reached customer does them ("Product page (web): 2.3× per customer" when
    ``events_per_customer`` is known, else "Product page (web): 64% of customers").
    Returns stage, text, share; at most ``per_stage`` rows per stage.
    """
    rows = []
    for stage in stages:
        if transitions is not None and len(transitions):
            t = transitions[transitions.stage == stage].sort_values("share", ascending=False).head(per_stage)
            for r in t.itertuples(index=False):
                to = "leave without buying" if str(r.to_label).lower() in ("end", "(end)", "journey end") else r.to_label
                rows.append({"stage": stage, "text": f"{r.from_label}, then {to}", "share": r.share})
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
