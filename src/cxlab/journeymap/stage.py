"""The journey-map stage in one call: what notebooks/06_journey_map.ipynb shows and saves.

``analyze(study, ...)`` reads what the earlier stages wrote (``cxlab.stages.read_output``,
never a stage's own functions), assembles the map of all customers and, with ``segments``, one
map per segment, and draws each on an A4-landscape figure. ``result.write()`` saves the figures
as PNG (print) and SVG (slides) — into the run's folder (``report_dir``) or data/processed/<study>/
— and the stage's record; the map writes no table for later stages.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from matplotlib.figure import Figure

from ..stages import StageResult, stage_analysis
from ..study import Study
from .figure import journey_map_figure, map_files, save_journey_map
from .inputs import JourneyMapData, load_journey_maps
from .narrative import summary_metrics

__all__ = ["JourneyMapStage", "analyze"]


@dataclass
class JourneyMapStage(StageResult):
    """The maps of one study: ``maps`` (None: all customers, else a segment -> its map data),
    their ``figures`` (same keys) and ``out_dir``, where ``write()`` saves them."""

    stage: ClassVar[str] = "journey_map"
    maps: dict[str | None, JourneyMapData]
    figures: dict[str | None, Figure]
    out_dir: Path

    @property
    def overall(self) -> JourneyMapData:
        """The map of all customers."""
        return self.maps[None]

    @property
    def segment_maps(self) -> dict[str, JourneyMapData]:
        """The segment maps, largest segment first."""
        return {k: m for k, m in self.maps.items() if k is not None}

    @staticmethod
    def file_stem(key: str | None) -> str:
        return "journey_map" if key is None else f"journey_map_{key}"

    def files(self, key: str | None = None) -> dict[str, Path]:
        """Where ``write()`` saves the map of ``key`` (None: all customers): {'png': …, 'svg': …}."""
        return map_files(self.out_dir, self.file_stem(key))

    def headlines(self) -> list[str]:
        return self.overall.headlines()

    def metrics(self) -> dict[str, Any]:
        return summary_metrics(self.overall)

    def record_extra(self) -> dict[str, Any]:
        return {"segment_maps": len(self.segment_maps)}

    def write(self) -> dict[str, Path]:
        """Save every map as PNG and SVG in ``out_dir``, then the stage's record. Returns file
        name -> path of the images."""
        saved: dict[str, Path] = {}
        for key, fig in self.figures.items():
            for path in save_journey_map(fig, self.out_dir, self.file_stem(key)).values():
                saved[path.name] = path
        super().write()
        return saved


@stage_analysis("journey_map")
def analyze(
    study: Study,
    *,
    segments: bool = True,
    max_segments: int = 6,
    top_touchpoints: int = 4,
    report_dir: str = "",
) -> JourneyMapStage:
    """The journey map of all customers and, with ``segments``, of the ``max_segments`` largest
    segments (customers with no recorded activity get none), drawn with ``top_touchpoints``
    touchpoints per stage. ``report_dir``: where ``write()`` saves the figures (the run's folder
    under ``cxlab run``; default: data/processed/<study>/)."""
    maps = load_journey_maps(study, segments=segments, max_segments=max_segments)
    figures = {key: journey_map_figure(m, top_touchpoints=top_touchpoints) for key, m in maps.items()}
    out_dir = Path(report_dir) if report_dir else study.processed_dir
    # the record's notes (and the run index) list the lanes not computed; the other notes are drawn under the map
    return JourneyMapStage(study, maps, figures, out_dir, notes=list(maps[None].skipped))
