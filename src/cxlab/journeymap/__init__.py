"""Stage 6, the journey map: the journey as customers live it, drawn only from what the
stages computed.

- ``inputs``: ``JourneyMapData`` (one tidy table per lane) from hand-made or computed tables
  (``from_frames``) or from what the stage notebooks wrote (``load_journey_map``);
- ``opportunities``: opportunities derived from the ranked pain points and the key drivers;
- ``figure``: the A4-landscape figure (``journey_map_figure``) and ``save_journey_map``
  (PNG and SVG).
"""
from __future__ import annotations

from .figure import A4_LANDSCAPE, MIN_FONT_PT, figure_texts, journey_map_figure, save_journey_map
from .inputs import LANE_COLUMNS, JourneyMapData, describe_actions, from_frames
from .opportunities import OPPORTUNITY_COLUMNS, action_verb, derive_opportunities

__all__ = [
    "A4_LANDSCAPE",
    "LANE_COLUMNS",
    "MIN_FONT_PT",
    "OPPORTUNITY_COLUMNS",
    "JourneyMapData",
    "action_verb",
    "derive_opportunities",
    "describe_actions",
    "figure_texts",
    "from_frames",
    "journey_map_figure",
    "save_journey_map",
]
