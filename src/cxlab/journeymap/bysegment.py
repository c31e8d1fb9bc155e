"""The journey map of one segment: the lanes of the segment's customers, from the by-segment
outputs the stages wrote (a ``segment`` column beside the all-customer table's columns).

The touchpoint stage writes the inventory, transitions and stage funnel by segment; the
pain-point stage the emotion curve and key drivers by segment, and one register ranked over all
customers, which the segment's map shows marked where the segment meets a pain point more
often. Nothing is computed here: a by-segment output that is missing leaves its lane empty,
saying which stage to run, so the numbers mean exactly what they mean on the stage pages.
"""
from __future__ import annotations

import re

import pandas as pd

from ..errors import ParameterError
from ..stages import output_path, read_output
from . import lanes
from .inputs import _absent, _segment_column, kpi_note, segment_table

__all__ = ["segment_frames", "segment_customers", "segment_tables"]


def segment_tables(study, *, sizes: pd.DataFrame | None = None) -> dict:
    """The stage outputs segment maps are drawn from, read once for all segments: the
    touchpoint stage's inventory, transitions and funnel by segment, the pain-point stage's
    emotion curve and key drivers by segment and its register, the segmentation stage's
    segments, and their sizes (``segment_table``). None where a stage has not written one."""
    return {
        "inventory": read_output(study, "touchpoints", "inventory_by_segment"),
        "transitions": read_output(study, "touchpoints", "transitions_by_segment"),
        "funnel": read_output(study, "touchpoints", "funnel_by_segment"),
        "emotion": read_output(study, "pain_points", "emotion_by_segment"),
        "drivers": read_output(study, "pain_points", "drivers_by_segment"),
        "pain_points": read_output(study, "pain_points", "pain_points"),
        "segments": read_output(study, "segmentation", "segments"),
        "sizes": segment_table(study) if sizes is None else sizes,
    }


def segment_customers(study, segment: str, segments: pd.DataFrame | None = None) -> pd.DataFrame:
    """customer_id of the segment's customers (the segmentation stage's segments)."""
    seg = read_output(study, "segmentation", "segments") if segments is None else segments
    file = output_path(study, "segmentation", "segments").name
    if seg is None:
        raise ParameterError(
            f"No segments for study '{study.name}': {file} is missing (run the segmentation stage first)."
        )
    col = _segment_column(seg)
    ids = seg.loc[seg[col].astype(str) == str(segment), ["customer_id"]].astype(str)
    if ids.empty:
        known = ", ".join(sorted(seg[col].astype(str).unique()))
        raise ParameterError(f"No segment '{segment}' in {file}; the segments are: {known}")
    return ids.drop_duplicates().reset_index(drop=True)


def _rows_for(frame: pd.DataFrame, segment: str) -> pd.DataFrame:
    """The segment's rows of a by-segment output, without the segment column (empty when the
    output has no rows for the segment)."""
    col = _segment_column(frame)
    if col is None:
        return frame.iloc[0:0]
    return frame[frame[col].astype(str) == segment].drop(columns=col).reset_index(drop=True)


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


def segment_frames(study, segment: str, *, tables: dict | None = None) -> dict:
    """The lane tables of ``segment`` (keyword arguments for ``from_frames``). ``tables``: the
    outputs ``segment_tables`` read, to read them once for many segments."""
    tables = segment_tables(study) if tables is None else tables
    ids = segment_customers(study, segment, tables["segments"])
    sizes = tables["sizes"].set_index("segment")
    notes: list[str] = []
    out: dict = {"segment": segment, "population": segment, "notes": notes, "n_customers": len(ids),
                 "missing": [], "lane_notes": {}}
    if segment in sizes.index and isinstance(sizes.loc[segment, "persona"], str):
        out["persona"] = sizes.loc[segment, "persona"]
    catalog = study.catalog

    inv = tables["inventory"]
    if inv is not None:
        out["touchpoints"] = lanes.touchpoints_lane(_rows_for(inv, segment))
    else:
        _absent(out, study, "touchpoints", "inventory_by_segment", "touchpoints", "touchpoints")
    moves = tables["transitions"]
    if moves is not None:
        out["actions"] = lanes.actions_lane(_rows_for(moves, segment), catalog, study.stages)
    elif inv is None:
        _absent(out, study, "touchpoints", "transitions_by_segment", "actions", "customer actions")
    funnel = tables["funnel"]
    if funnel is not None:
        rows = _rows_for(funnel, segment)
        out["kpis"] = lanes.kpi_lane(rows, study.stages)
        out["lane_notes"]["kpis"] = kpi_note(study, rows if len(rows) else funnel)
    else:
        _absent(out, study, "touchpoints", "funnel_by_segment", "kpis", "stage KPI")

    emotion = tables["emotion"]
    if emotion is not None:
        rows = _rows_for(emotion, segment)
        out["emotion"] = lanes.emotion_lane(rows)
        if rows.empty:
            notes.append("emotion curve: no survey responses from this segment")
    else:
        _absent(out, study, "pain_points", "emotion_by_segment", "emotion", "emotion curve")
    drivers = tables["drivers"]
    if drivers is not None and len(rows := _rows_for(drivers, segment)):
        out["drivers"] = lanes.drivers_lane(rows)

    pain = tables["pain_points"]
    if pain is not None:
        lane = lanes.pain_points_lane(pain, catalog)
        out["pain_points"] = _mark_segment(lane, segment)
        notes.append("pain points: ranked over all customers (no pain-point register by segment); "
                     "'× as often' marks those this segment meets more than others")
    else:
        _absent(out, study, "pain_points", "pain_points", "pain_points", "pain points")
        out["missing"].append("opportunities")
    return out
