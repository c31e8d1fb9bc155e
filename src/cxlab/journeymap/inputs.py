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
from ..privacy import redact
from .lanes import describe_actions
from .opportunities import OPPORTUNITY_COLUMNS, derive_opportunities

__all__ = [
    "JourneyMapData",
    "from_frames",
    "LANE_COLUMNS",
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
    lane is empty (shown under the map); lane_notes: lane -> a few words under the lane's
    title saying what its numbers are (e.g. the funnel's conversion window); objectives: one
    short line per objective of the study, its KPI now against its target (shown under the
    title of the all-customer map); missing: lanes whose stage output was not there (drawn
    as "not computed", not as "none found")."""

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
    lane_notes: dict[str, str] = field(default_factory=dict)
    objectives: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

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
    lane_notes: dict | None = None,
    objectives: Iterable[str] = (),
    missing: Iterable[str] = (),
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
        lane_notes=dict(lane_notes or {}),
        objectives=[str(o) for o in objectives],
        missing=list(missing),
        **lanes,
    )


# =========================================================================== loading a study's map
# What the journey map reads from data/processed/<study>/, and which stage writes it.
FILES: dict[str, tuple[str, str]] = {
    "inventory": ("touchpoint_inventory.parquet", "touchpoints"),
    "funnel": ("stage_funnel.parquet", "touchpoints"),
    "funnel_by_segment": ("stage_funnel_by_segment.parquet", "touchpoints"),
    "transitions": ("transitions.parquet", "touchpoints"),
    "inventory_by_segment": ("touchpoint_inventory_by_segment.parquet", "touchpoints"),
    "transitions_by_segment": ("transitions_by_segment.parquet", "touchpoints"),
    "pain_points": ("pain_points.parquet", "pain_points"),
    "pain_points_by_segment": ("pain_points_by_segment.parquet", "pain_points"),
    "emotion": ("emotion_curve.parquet", "pain_points"),
    "emotion_by_segment": ("emotion_curve_by_segment.parquet", "pain_points"),
    "drivers": ("key_drivers.parquet", "pain_points"),
    "responses": ("survey_scores.parquet", "pain_points"),
    "objectives": ("objectives.parquet", "objectives"),
    "segments": ("segments.parquet", "segmentation"),
    "personas": ("personas.parquet", "segmentation"),
}
SEGMENT_COLUMNS = ("segment", "group")


def _read(study, key: str) -> pd.DataFrame | None:
    path = study.processed_dir / FILES[key][0]
    return pd.read_parquet(path) if path.exists() else None


def _missing_note(key: str, lane: str) -> str:
    file, stage = FILES[key]
    return f"{lane}: not drawn — {file} is missing (run the {stage.replace('_', ' ')} stage first)"


def _absent(out: dict, key: str, lane: str, name: str) -> None:
    """Record that ``lane`` could not be drawn because the stage output ``key`` is missing."""
    out.setdefault("notes", []).append(_missing_note(key, name))
    out.setdefault("missing", []).append(lane)
    out.setdefault("lane_notes", {})[lane] = f"not computed: run the {FILES[key][1].replace('_', ' ')} stage"


def _segment_column(frame: pd.DataFrame) -> str | None:
    return _pick(frame, *SEGMENT_COLUMNS)


def _pick(frame: pd.DataFrame, *names: str) -> str | None:
    return next((n for n in names if n in frame.columns), None)


def segment_table(study) -> pd.DataFrame:
    """The segments of the study (segments.parquet: customer_id -> segment) with their size:
    segment, customers, share, and persona (its name on the persona card, when the segmentation
    stage wrote personas.parquet with a segment, group or cluster column and a persona or name
    column). Empty when the segmentation stage has not run."""
    from ..study import Study

    study = Study.load(study)
    seg = _read(study, "segments")
    cols = ["segment", "customers", "share", "persona"]
    if seg is None:
        return pd.DataFrame(columns=cols)
    col = _segment_column(seg)
    if col is None or "customer_id" not in seg.columns:
        raise DataError([f"{study.processed_dir / FILES['segments'][0]}: needs customer_id and segment columns"])
    sizes = seg[col].astype(str).value_counts().rename_axis("segment").reset_index(name="customers")
    sizes["share"] = sizes["customers"] / sizes["customers"].sum()
    sizes["persona"] = None
    personas = _read(study, "personas")
    key = _pick(personas, "segment", "group", "cluster") if personas is not None else None
    name = _pick(personas, "persona", "name", "title") if personas is not None else None
    if key and name and key != name:
        names = personas.drop_duplicates(key).set_index(personas.drop_duplicates(key)[key].astype(str))[name]
        persona = sizes["segment"].map(names)
        # a segment already named after its persona needs no second name
        sizes["persona"] = persona.where(persona.astype(str) != sizes["segment"], None).to_numpy()
    return sizes[cols].sort_values("customers", ascending=False, kind="stable").reset_index(drop=True)


def load_journey_map(study, segment: str | None = None, *, responses: pd.DataFrame | None = None) -> JourneyMapData:
    """The journey map's data for all customers (``segment=None``) or one segment, read from what
    the stages wrote to data/processed/<study>/ (``FILES`` lists the files and their stages).

    For a segment, the tables a stage wrote by segment are used where they exist (a ``segment``
    or ``group`` column); otherwise the segment's lanes are computed from the clean tables of
    the segment's customers (segments.parquet) by the stage modules themselves
    (``cxlab.touchpoints.inventory`` / ``stage_funnel`` / ``transitions``,
    ``cxlab.painpoints.emotion_curve`` / ``key_drivers``), with the study's parameters. A lane
    whose input is missing is left empty and a note under the map says which stage to run.
    ``responses``: the scored survey responses for a segment's emotion curve, when already at
    hand (``load_journey_maps`` scores them once for all segments)."""
    from ..study import Study

    study = Study.load(study)
    if segment is not None:
        from .bysegment import segment_frames

        frames = segment_frames(study, str(segment), responses)
    else:
        frames = _overall_frames(study)
    catalog = study.catalog
    return from_frames(
        study.name,
        study.stages,
        title=study.title,
        stage_of=dict(zip(catalog.touchpoint, catalog.stage)),
        **frames,
    )


def _overall_frames(study) -> dict:
    from . import lanes

    out: dict = {"notes": [], "missing": [], "lane_notes": {}}
    inv = _read(study, "inventory")
    if inv is not None:
        out["touchpoints"] = lanes.touchpoints_lane(inv)
    else:
        _absent(out, "inventory", "touchpoints", "touchpoints")
    trans = _read(study, "transitions")
    if trans is not None:
        out["actions"] = lanes.actions_lane(trans, study.catalog, study.stages)
    elif inv is None:
        _absent(out, "transitions", "actions", "customer actions")
    funnel = _read(study, "funnel")
    if funnel is not None:
        out["kpis"] = lanes.kpi_lane(funnel, study.stages)
        out["lane_notes"]["kpis"] = kpi_note(funnel, study)
    else:
        _absent(out, "funnel", "kpis", "stage KPI")
    pain = _read(study, "pain_points")
    if pain is not None:
        out["pain_points"] = lanes.pain_points_lane(pain, study.catalog)
    else:
        _absent(out, "pain_points", "pain_points", "pain points")
        out["missing"].append("opportunities")
    emotion = _read(study, "emotion")
    if emotion is not None:
        out["emotion"] = lanes.emotion_lane(emotion)
    else:
        _absent(out, "emotion", "emotion", "emotion curve")
    drivers = _read(study, "drivers")
    if drivers is not None:
        out["drivers"] = lanes.drivers_lane(drivers)
    objectives = _read(study, "objectives")
    if objectives is not None:
        out["objectives"] = lanes.objective_lines(objectives)
    if inv is not None and len(inv):
        out["n_customers"] = _customers_in_log(inv)
    return out


def conversion_window(funnel: pd.DataFrame | None, study) -> float:
    """The stage funnel's conversion window in days: its ``window_days`` column when the
    touchpoint stage wrote one, else the study's touchpoints parameter, else the funnel's
    default (30)."""
    if funnel is not None and "window_days" in funnel.columns and funnel["window_days"].notna().any():
        return float(funnel["window_days"].dropna().iloc[0])
    return float(study.stage_parameters("touchpoints").get("conversion_window_days", 30))


def kpi_note(funnel: pd.DataFrame | None, study) -> str:
    window = conversion_window(funnel, study)
    return f"stage funnel, {window:g}-day window"


def _customers_in_log(inventory: pd.DataFrame) -> int | None:
    """Customers in the log, from the inventory: customers / reach of any reached touchpoint."""
    t = inventory[(pd.to_numeric(inventory["customers"], errors="coerce") > 0) & (inventory["reach"] > 0)]
    if t.empty:
        return None
    return int(round(float((t["customers"] / t["reach"]).median())))


def load_journey_maps(study, segments: bool = True, max_segments: int = 8) -> dict[str | None, JourneyMapData]:
    """The map for all customers (key None) and, with ``segments``, one per segment of
    segments.parquet (largest first, at most ``max_segments``; customers with no recorded
    activity have no journey and get no map)."""
    from ..study import Study

    study = Study.load(study)
    from ..segments.pipeline import NO_ACTIVITY

    maps: dict[str | None, JourneyMapData] = {None: load_journey_map(study)}
    table = segment_table(study)
    table = table[table["segment"] != NO_ACTIVITY]  # customers without events have no journey to map
    chosen = table.head(max_segments) if segments else pd.DataFrame(columns=["segment"])
    if len(chosen):
        from .bysegment import scored_responses

        responses = scored_responses(study)
        for seg in chosen["segment"]:
            maps[seg] = load_journey_map(study, seg, responses=responses)
    return maps
