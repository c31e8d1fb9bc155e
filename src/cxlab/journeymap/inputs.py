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
what the stages wrote (``cxlab.stages.read_output``), and only that.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterable

import numpy as np
import pandas as pd

from ..errors import DataError
from ..journeys import NO_ACTIVITY
from ..metrics import Period, figure, figures_plain, population_of
from ..privacy import redact
from ..stages import not_computed, output_parameters, output_path, read_output, read_record, stage_spec
from ..study import Study
from .lanes import describe_actions
from .opportunities import OPPORTUNITY_COLUMNS, derive_opportunities

__all__ = [
    "JourneyMapData",
    "from_frames",
    "LANE_COLUMNS",
    "kpi_note",
    "load_journey_map",
    "load_journey_maps",
    "segment_table",
    "window_words",
]

# the emotion curve's metrics as the metric dictionary names them (cxlab.metrics)
EMOTION_METRICS = {"csat": "csat_mean", "nps": "nps", "ces": "ces_mean"}

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
    short line per objective of the study, its KPI now against its target, the value marked as
    the metric dictionary names it (shown under the title of the all-customer map);
    objectives_period: the study's current period those values are over, in words ('' when the
    objectives do not share one); period: the days the study's log covers, the period of the
    map's own figures (None for maps made from hand-made tables: their figures are not marked);
    missing: lanes whose stage output was not there (drawn
    as "not computed", not as "none found"); skipped: one "Not computed: … — needs …" line per
    missing lane, for the stage's record and the run index."""

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
    skipped: list[str] = field(default_factory=list)
    objectives_period: str = ""
    period: Period | None = None

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
            words = top.get("plain") or top["key_number"]
            out.append(f"Top pain point{who}: {top['label'] or top['name']}{where} — {words}.")
        metric = self.metrics[0] if self.metrics else None
        low = self.lowest_stage(metric)
        if low is not None:
            row = self.emotion_metric(metric).loc[low]
            ci = ""
            if not (math.isnan(row.ci_low) or math.isnan(row.ci_high)):
                ci = f" [{row.ci_low:.2f}, {row.ci_high:.2f}]"
            out.append(f"Customers{who} feel worst at {low}: {self.emotion_figure(metric, low)}{ci}.")
        if len(self.opportunities):
            o = self.opportunities.sort_values("rank").iloc[0]
            out.append(f"First opportunity: {o['text']} ({o['basis']}).")
        return [redact(h) for h in out]

    def emotion_figure(self, metric: str, stage: str, name: bool = True) -> str:
        """The emotion curve's ``metric`` at ``stage`` as a sentence prints it: named and marked as
        the metric dictionary has it, with its population (the survey answers given at the stage,
        of the map's segment) and period (``cxlab.metrics``); plain where the map has no period
        or the metric is not in the dictionary (comment sentiment)."""
        value = float(self.emotion_metric(metric).loc[stage, "estimate"])
        metric_id = EMOTION_METRICS.get(metric)
        if metric_id is None or self.period is None:
            label = {"csat": "CSAT", "sentiment": "comment sentiment", "nps": "NPS", "ces": "CES"}.get(metric, metric)
            number = f"{value:+.2f}" if metric == "sentiment" else f"{value:.2f}"
            return f"{label} {number}" if name else number
        return figure(metric_id, value, population=population_of(metric_id, stage=stage, segment=self.segment),
                      period=self.period, name=name)

    def plot(self, **kwargs):
        """The journey-map figure (``cxlab.journeymap.figure.journey_map_figure``)."""
        from .figure import journey_map_figure

        return journey_map_figure(self, **kwargs)

    def summary(self) -> str:
        lines = [f"Journey map of {self.title} — {self.population}"
                 + (f" (n = {self.n_customers:,})" if self.n_customers else "")]
        lines += [f"  {figures_plain(h)}" for h in self.headlines()]
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
    skipped: Iterable[str] = (),
    stage_of: dict | None = None,
    objectives_period: str = "",
    period: Period | None = None,
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
        skipped=list(skipped),
        objectives_period=objectives_period,
        period=period,
        **lanes,
    )


# =========================================================================== loading a study's map
# The map reads only what the stages wrote, through the registry (``cxlab.stages``): each read
# below names its stage and output, so a test checks that every one is an output some stage
# writes; nothing is computed again here.
SEGMENT_COLUMNS = ("segment", "group")


def _stage_words(stage: str) -> str:
    return stage.replace("_", " ")


def _absent(out: dict, study, stage: str, key: str, lane: str, name: str) -> None:
    """Record that ``lane`` could not be drawn because the output ``key`` of ``stage`` is missing:
    a note under the map, the lane marked missing (drawn as "–", not as "none found"), and the
    lane's caption saying which stage to run (or, when the stage ran, that it computed none)."""
    file = stage_spec(stage).output(key).file
    words = _stage_words(stage)
    if read_record(study, stage) is None:
        out.setdefault("notes", []).append(f"{name}: not drawn — {file} is missing (run the {words} stage first)")
        out.setdefault("lane_notes", {})[lane] = f"not computed: run the {words} stage"
        why = f"run the {words} stage first"
    else:
        out.setdefault("notes", []).append(f"{name}: not drawn — the {words} stage wrote no {file} "
                                           f"(see its page for why)")
        out.setdefault("lane_notes", {})[lane] = f"not computed by the {words} stage"
        why = f"the {words} stage computed none: see its notes"
    out.setdefault("skipped", []).append(not_computed(f"the {name} lane of the map", f"{file} ({why})"))
    out.setdefault("missing", []).append(lane)


def _segment_column(frame: pd.DataFrame) -> str | None:
    return _pick(frame, *SEGMENT_COLUMNS)


def _pick(frame: pd.DataFrame, *names: str) -> str | None:
    return next((n for n in names if n in frame.columns), None)


def segment_table(study) -> pd.DataFrame:
    """The segments of the study (the segmentation stage's segments: customer_id -> segment)
    with their size: segment, customers, share, and persona (its name on the persona card, when
    the segmentation stage wrote personas with a segment, group or cluster column and a persona
    or name column). Empty when the segmentation stage has not run."""
    study = Study.load(study)
    seg = read_output(study, "segmentation", "segments")
    cols = ["segment", "customers", "share", "persona"]
    if seg is None:
        return pd.DataFrame(columns=cols)
    col = _segment_column(seg)
    if col is None or "customer_id" not in seg.columns:
        raise DataError([f"{output_path(study, 'segmentation', 'segments')}: needs customer_id and segment columns"])
    sizes = seg[col].astype(str).value_counts().rename_axis("segment").reset_index(name="customers")
    sizes["share"] = sizes["customers"] / sizes["customers"].sum()
    sizes["persona"] = None
    personas = read_output(study, "segmentation", "personas")
    key = _pick(personas, "segment", "group", "cluster") if personas is not None else None
    name = _pick(personas, "persona", "name", "title") if personas is not None else None
    if key and name and key != name:
        names = personas.drop_duplicates(key).set_index(personas.drop_duplicates(key)[key].astype(str))[name]
        persona = sizes["segment"].map(names)
        # a segment already named after its persona needs no second name
        sizes["persona"] = persona.where(persona.astype(str) != sizes["segment"], None).to_numpy()
    return sizes[cols].sort_values("customers", ascending=False, kind="stable").reset_index(drop=True)


def load_journey_map(study, segment: str | None = None, *, tables: dict | None = None) -> JourneyMapData:
    """The journey map's data for all customers (``segment=None``) or one segment, read from what
    the stages wrote (``cxlab.stages.read_output``; the registry names the files).

    For a segment, the stages' by-segment outputs are used: the touchpoint stage's inventory,
    transitions and stage funnel by segment, the pain-point stage's emotion curve and key
    drivers by segment, and its register (ranked over all customers, marked where the segment
    meets a pain point more often). A lane whose output is missing is left empty and says which
    stage to run; nothing is computed again here. ``tables``: the by-segment outputs when already
    read (``cxlab.journeymap.bysegment.segment_tables``, read once for many segments)."""
    study = Study.load(study)
    if segment is not None:
        from .bysegment import segment_frames

        frames = segment_frames(study, str(segment), tables=tables)
    else:
        frames = _overall_frames(study)
    catalog = study.catalog
    return from_frames(
        study.name,
        study.stages,
        title=study.title,
        stage_of=dict(zip(catalog.touchpoint, catalog.stage)),
        period=_log_period(study),  # the stages' figures the map repeats are over the whole log
        **frames,
    )


def _log_period(study) -> Period | None:
    """The days the log covers, as the touchpoint (else the pain-point) stage recorded them: the
    period of the figures the map repeats (None when neither recorded it: figures unmarked)."""
    for stage in ("touchpoints", "pain_points"):
        record = read_record(study, stage) or {}
        if record.get("log_period"):
            return Period.parse(record["log_period"], how="the whole log")
    return None


def _overall_frames(study) -> dict:
    from . import lanes

    out: dict = {"notes": [], "missing": [], "lane_notes": {}}
    inv = read_output(study, "touchpoints", "inventory")
    if inv is not None:
        out["touchpoints"] = lanes.touchpoints_lane(inv)
    else:
        _absent(out, study, "touchpoints", "inventory", "touchpoints", "touchpoints")
    trans = read_output(study, "touchpoints", "transitions")
    if trans is not None:
        out["actions"] = lanes.actions_lane(trans, study.catalog, study.stages)
    elif inv is None:
        _absent(out, study, "touchpoints", "transitions", "actions", "customer actions")
    funnel = read_output(study, "touchpoints", "funnel")
    if funnel is not None:
        out["kpis"] = lanes.kpi_lane(funnel, study.stages)
        out["lane_notes"]["kpis"] = kpi_note(study, funnel)
    else:
        _absent(out, study, "touchpoints", "funnel", "kpis", "stage KPI")
    pain = read_output(study, "pain_points", "pain_points")
    if pain is not None:
        out["pain_points"] = lanes.pain_points_lane(pain, study.catalog)
    else:
        _absent(out, study, "pain_points", "pain_points", "pain_points", "pain points")
        out["missing"].append("opportunities")
    emotion = read_output(study, "pain_points", "emotion")
    if emotion is not None:
        out["emotion"] = lanes.emotion_lane(emotion)
    else:
        _absent(out, study, "pain_points", "emotion", "emotion", "emotion curve")
    drivers = read_output(study, "pain_points", "drivers")
    if drivers is not None:
        out["drivers"] = lanes.drivers_lane(drivers)
    objectives = read_output(study, "objectives", "objectives")
    if objectives is not None:
        out["objectives"] = lanes.objective_lines(objectives)
        out["objectives_period"] = lanes.objective_period(objectives)
    if inv is not None and len(inv):
        out["n_customers"] = _customers_in_log(inv)
    return out


def window_words(study, funnel: pd.DataFrame | None = None) -> str | None:
    """The conversion window the touchpoint stage's funnels used, in words ("30-day window", or
    "no time limit"): the funnel's ``window_days`` column, else the touchpoint stage's record
    (``output_parameters``); never study.yaml. None when neither says."""
    if funnel is not None and "window_days" in funnel.columns:
        days = pd.to_numeric(funnel["window_days"], errors="coerce").dropna()
        return _window_words(float(days.iloc[0]) if len(days) else None)
    parameters = output_parameters(study, "touchpoints")
    if "conversion_window_days" in parameters:
        return _window_words(parameters["conversion_window_days"])
    return None


def _window_words(days: float | None) -> str:
    return "no time limit" if days is None else f"{float(days):g}-day window"


def kpi_note(study, funnel: pd.DataFrame | None = None) -> str:
    """The stage KPI lane's caption: "stage funnel, 30-day window" (the window the touchpoint
    stage used)."""
    words = window_words(study, funnel)
    return "stage funnel" + (f", {words}" if words else "")


def _customers_in_log(inventory: pd.DataFrame) -> int | None:
    """Customers in the log, from the inventory: customers / reach of any reached touchpoint."""
    t = inventory[(pd.to_numeric(inventory["customers"], errors="coerce") > 0) & (inventory["reach"] > 0)]
    if t.empty:
        return None
    return int(round(float((t["customers"] / t["reach"]).median())))


def load_journey_maps(study, *, segments: bool = True, max_segments: int = 8) -> dict[str | None, JourneyMapData]:
    """The map for all customers (key None) and, with ``segments``, one per segment of the
    segmentation stage (largest first, at most ``max_segments``; customers with no recorded
    activity have no journey and get no map)."""
    study = Study.load(study)
    maps: dict[str | None, JourneyMapData] = {None: load_journey_map(study)}
    if not segments:
        return maps
    table = segment_table(study)
    table = table[table["segment"] != NO_ACTIVITY]  # customers without events have no journey to map
    chosen = table.head(max_segments)
    if len(chosen):
        from .bysegment import segment_tables

        tables = segment_tables(study, sizes=table)
        for seg in chosen["segment"]:
            maps[seg] = load_journey_map(study, seg, tables=tables)
    return maps
