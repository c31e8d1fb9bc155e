"""The journey map of one segment: the lanes of the segment's customers.

Where a stage wrote a table by segment (a ``segment`` or ``group`` column), its rows for the
segment are used. Otherwise the lane is computed here by the stage's own functions on the
segment's customers — the event log restricted to them in the engine, their survey responses —
so the numbers mean exactly what they mean on the all-customer map.
"""
from __future__ import annotations

import functools
import re

import pandas as pd

from ..errors import CxlabError, DataError, ParameterError
from . import lanes
from .inputs import FILES, _missing_note, _read, _segment_column, conversion_window, kpi_note, segment_table

__all__ = ["segment_frames", "segment_customers", "scored_responses"]


def segment_customers(study, segment: str) -> pd.DataFrame:
    """customer_id of the segment's customers (segments.parquet)."""
    seg = _read(study, "segments")
    if seg is None:
        raise ParameterError(
            f"No segments for study '{study.name}': {FILES['segments'][0]} is missing "
            "(run the segmentation stage first)."
        )
    col = _segment_column(seg)
    ids = seg.loc[seg[col].astype(str) == str(segment), ["customer_id"]].astype(str)
    if ids.empty:
        known = ", ".join(sorted(seg[col].astype(str).unique()))
        raise ParameterError(f"No segment '{segment}' in {FILES['segments'][0]}; the segments are: {known}")
    return ids.drop_duplicates().reset_index(drop=True)


def scored_responses(study) -> pd.DataFrame | None:
    """Survey responses with their stage and comment sentiment, as the pain-point stage scores
    them: survey_scores.parquet when that stage wrote it, else
    ``cxlab.painpoints.text.survey_responses`` (a response's stage is its stage column, else its
    touchpoint's stage) with ``cxlab.painpoints.sentiment`` (VADER) of the comment."""
    scored = _read(study, "responses")
    if scored is not None and {"customer_id", "stage"} <= set(scored.columns):
        return scored
    if "surveys" not in study.tables:
        return None
    from ..painpoints.text import study_sentiment, survey_responses

    s = survey_responses(study)
    if s.empty:
        return None
    if "comment" in s:
        s["sentiment"] = study_sentiment(study, s["comment"])
    s["customer_id"] = s["customer_id"].astype(str)
    return s


def _rows_for(frame: pd.DataFrame | None, segment: str) -> pd.DataFrame | None:
    if frame is None:
        return None
    col = _segment_column(frame)
    if col is None:
        return None
    rows = frame[frame[col].astype(str) == segment]
    return rows if len(rows) else None


def _mark_segment(lane: pd.DataFrame, segment: str) -> pd.DataFrame:
    """Add to the key number of each pain point the register lists the segment among its
    "segments most affected" (how much more often its customers meet it: '1.4× as often here')."""
    if "segments_most_affected" not in lane.columns:
        return lane
    out = lane.copy()
    pattern = re.compile(rf"(?:^|,\s*){re.escape(segment)} \(([\d.]+)×\)")
    for i, text in out["segments_most_affected"].items():
        hit = pattern.search(str(text or ""))
        if hit:
            out.loc[i, "key_number"] = f"{out.loc[i, 'key_number']} · {hit.group(1)}× as often here"
    return out


def segment_frames(study, segment: str, responses: pd.DataFrame | None = None) -> dict:
    """The lane tables of ``segment`` (keyword arguments for ``from_frames``). ``responses``:
    the scored survey responses (``scored_responses``), to score them once for many segments."""
    from ..painpoints import emotion_curve, key_drivers
    from ..touchpoints import for_segment, inventory, stage_funnel, transitions

    ids = segment_customers(study, segment)
    sizes = segment_table(study).set_index("segment")
    notes: list[str] = []
    out: dict = {"segment": segment, "population": segment, "notes": notes, "n_customers": len(ids)}
    if segment in sizes.index and isinstance(sizes.loc[segment, "persona"], str):
        out["persona"] = sizes.loc[segment, "persona"]

    # the segment's events, joined in the engine: only when a stage wrote no table by segment
    events = functools.cache(lambda: for_segment(study, segment))

    catalog = study.catalog
    window = conversion_window(_read(study, "funnel"), study)

    inv = _rows_for(_read(study, "inventory_by_segment"), segment)
    inv = inventory(events()).table if inv is None else inv.drop(columns="segment")
    out["touchpoints"] = lanes.touchpoints_lane(inv)
    moves = _rows_for(_read(study, "transitions_by_segment"), segment)
    moves = transitions(events()).table if moves is None else moves.drop(columns="segment")
    out["actions"] = lanes.actions_lane(moves, catalog, study.stages)
    funnel = _rows_for(_read(study, "funnel_by_segment"), segment)
    if funnel is None:
        try:
            funnel = stage_funnel(events(), window_days=window).table
        except CxlabError as exc:
            notes.append(f"stage KPI: {exc}")
    if funnel is not None:
        out["kpis"] = lanes.kpi_lane(funnel, study.stages)
        out["lane_notes"] = {"kpis": kpi_note(funnel.assign(window_days=window), study)}

    emotion = _rows_for(_read(study, "emotion_by_segment"), segment)
    if responses is None:
        responses = scored_responses(study)
    seg_responses = None
    if responses is not None:
        seg_responses = responses[responses["customer_id"].astype(str).isin(set(ids["customer_id"]))]
    if emotion is None and seg_responses is not None:
        metrics = tuple(m for m in ("sentiment", "csat", "nps") if m in seg_responses.columns)
        emotion = emotion_curve(seg_responses, study.stages, metrics=metrics).table
    if emotion is not None:
        out["emotion"] = lanes.emotion_lane(emotion)
    else:
        notes.append("emotion curve: the study has no surveys")
    if seg_responses is not None and any(str(c).startswith("driver_") for c in seg_responses.columns):
        outcome = "csat" if "csat" in seg_responses else "nps"
        try:
            drv = key_drivers(seg_responses, outcome=outcome)
            out["drivers"] = lanes.drivers_lane(drv.table.assign(outcome=outcome))
        except DataError as exc:
            notes.append(f"key drivers: {exc}")

    pain = _rows_for(_read(study, "pain_points_by_segment"), segment)
    if pain is not None:
        out["pain_points"] = lanes.pain_points_lane(pain, catalog)
    else:
        overall = _read(study, "pain_points")
        if overall is not None:
            lane = lanes.pain_points_lane(overall, catalog)
            out["pain_points"] = _mark_segment(lane, segment)
            notes.append("pain points: ranked over all customers (no pain-point register by segment); "
                         "'× as often' marks those this segment meets more than others")
        else:
            notes.append(_missing_note("pain_points", "pain points"))
    return out
