"""Stage 6, the journey map: the journey as customers live it, drawn only from what the
stages wrote (``cxlab.stages.read_output``); it imports no other stage.

- ``stage``: ``analyze(study, ...) -> JourneyMapStage``, the stage in one call (``.write()``
  saves the maps and the stage's record);
- ``inputs``: ``JourneyMapData`` (one tidy table per lane) from hand-made or computed tables
  (``from_frames``) or from the stages' outputs (``load_journey_map``, ``load_journey_maps``);
- ``opportunities``: opportunities derived from the ranked pain points and the key drivers;
- ``lanes``: one lane from one stage output (inventory, stage funnel, transitions, register,
  emotion curve, key drivers); ``bysegment``: a segment's lanes from the by-segment outputs;
- ``figure``: the A4-landscape figure (``journey_map_figure``) and ``save_journey_map``
  (PNG and SVG);
- ``narrative``: the map in sentences for the report, and the metrics of the stage's record.
"""
from __future__ import annotations

from .figure import (
    A4_LANDSCAPE,
    MIN_FONT_PT,
    figure_texts,
    journey_map_figure,
    map_files,
    save_journey_map,
    show_map,
)
from .inputs import (
    LANE_COLUMNS,
    JourneyMapData,
    from_frames,
    load_journey_map,
    load_journey_maps,
    segment_table,
    window_words,
)
from .lanes import describe_actions
from .narrative import findings, segment_findings, segment_name, summary_metrics
from .opportunities import OPPORTUNITY_COLUMNS, action_verb, derive_opportunities
from .stage import JourneyMapStage, analyze

__all__ = [
    "A4_LANDSCAPE",
    "LANE_COLUMNS",
    "MIN_FONT_PT",
    "OPPORTUNITY_COLUMNS",
    "JourneyMapData",
    "JourneyMapStage",
    "action_verb",
    "analyze",
    "derive_opportunities",
    "describe_actions",
    "figure_texts",
    "findings",
    "from_frames",
    "journey_map_figure",
    "load_journey_map",
    "load_journey_maps",
    "map_files",
    "save_journey_map",
    "segment_findings",
    "segment_name",
    "segment_table",
    "show_map",
    "summary_metrics",
    "window_words",
]
