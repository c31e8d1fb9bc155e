"""Stage 6, the journey map: the journey as customers live it, drawn only from what the
stages computed.

- ``inputs``: ``JourneyMapData`` (one tidy table per lane) from hand-made or computed tables
  (``from_frames``) or from what the stage notebooks wrote (``load_journey_map``);
- ``opportunities``: opportunities derived from the ranked pain points and the key drivers;
- ``lanes``: one lane from one stage output (inventory, stage funnel, transitions, register,
  emotion curve, key drivers); ``bysegment``: a segment's lanes;
- ``figure``: the A4-landscape figure (``journey_map_figure``) and ``save_journey_map``
  (PNG and SVG);
- ``narrative``: the map in sentences for the report, and the metrics of the stage summary.
"""
from __future__ import annotations

from .figure import A4_LANDSCAPE, MIN_FONT_PT, figure_texts, journey_map_figure, save_journey_map, show_map
from .inputs import (
    FILES,
    LANE_COLUMNS,
    JourneyMapData,
    from_frames,
    load_journey_map,
    load_journey_maps,
    segment_table,
)
from .lanes import describe_actions
from .narrative import findings, segment_findings, segment_name, summary_metrics
from .opportunities import OPPORTUNITY_COLUMNS, action_verb, derive_opportunities

__all__ = [
    "A4_LANDSCAPE",
    "FILES",
    "LANE_COLUMNS",
    "MIN_FONT_PT",
    "OPPORTUNITY_COLUMNS",
    "JourneyMapData",
    "action_verb",
    "derive_opportunities",
    "describe_actions",
    "figure_texts",
    "findings",
    "from_frames",
    "journey_map_figure",
    "load_journey_map",
    "load_journey_maps",
    "save_journey_map",
    "segment_findings",
    "segment_name",
    "segment_table",
    "show_map",
    "summary_metrics",
]
