"""Stage 3, touchpoints and journeys: the inventory, funnels, transitions, paths around a
touchpoint, path variants and attribution — all computed in the engine (Ibis on DuckDB by
default, or PySpark), so logs of tens of millions of events stay out of pandas.

Every function takes the event log as a study (its name, folder or ``Study``), an Ibis table
of events, or a pandas DataFrame, and returns a DataFrame or a small result object with
``summary()`` and ``plot(ax=None)``. A journey is one customer's events ordered by timestamp,
then by ``seq`` (the row in the raw file); see ``cxlab.journeys`` for the exact
definitions shared by all of them. Every ranking comes with how firm it is: a customer-level
bootstrap (``n_resamples``, 200 by default; ``cxlab.touchpoints.ranking``).
"""
from __future__ import annotations

from ..inventory import Inventory, inventory
from ..journeys import CONVERSION, END, START, Source, for_segment
from .attribution import Attribution, attribution, removal_effects, removal_effects_batch
from .funnels import MODES, Funnel, funnel, stage_funnel
from .ranking import dropoff_rankings
from .stage import TouchpointStage, analyze, parse_funnel, window_phrase
from .transitions import AnchorPaths, Transitions, anchor_paths, sankey_figure, transitions
from .variants import Variants, variants

__all__ = [
    "AnchorPaths",
    "Attribution",
    "CONVERSION",
    "END",
    "Funnel",
    "Inventory",
    "MODES",
    "START",
    "Source",
    "TouchpointStage",
    "Transitions",
    "Variants",
    "analyze",
    "anchor_paths",
    "attribution",
    "for_segment",
    "funnel",
    "inventory",
    "parse_funnel",
    "removal_effects",
    "removal_effects_batch",
    "dropoff_rankings",
    "sankey_figure",
    "stage_funnel",
    "transitions",
    "variants",
    "window_phrase",
]
