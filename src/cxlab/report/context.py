"""What every stage notebook does first and last: open the study, then write its summary."""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plotly.io.base_renderers import MimetypeRenderer

from .. import data
from ..study import Study

__all__ = ["StageContext", "open_stage", "read_summary", "STAGE_TITLES"]

STAGE_TITLES = {
    "intake": "Intake: the data we were given",
    "objectives": "Objectives and KPIs",
    "segmentation": "Audience segments",
    "touchpoints": "Touchpoints and journeys",
    "pain_points": "Pain points",
    "impact": "Impact of changes",
    "journey_map": "The journey map",
}


def _setup_plotting() -> None:
    """Matplotlib looks for print and screen; plotly embeds its script so reports open offline."""
    import matplotlib

    matplotlib.rcParams.update(
        {
            "figure.figsize": (9, 4.5),
            "figure.dpi": 100,
            "savefig.dpi": 120,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "font.size": 10,
        }
    )
    import plotly.io as pio

    if not isinstance(pio.renderers["cxlab"] if "cxlab" in pio.renderers else None, OfflineHtmlRenderer):
        pio.renderers["cxlab"] = OfflineHtmlRenderer()
    pio.renderers.default = "cxlab"


class OfflineHtmlRenderer(MimetypeRenderer):
    """Plotly figures as HTML that opens offline: plotly.js embedded once per page (with the
    first figure), no MathJax from a CDN. Plotly's own "notebook" renderer loads MathJax from
    the network, and its default JSON output is dropped by nbconvert."""

    def __init__(self):
        self.script_sent = False

    def to_mimebundle(self, fig_dict):
        import plotly.io as pio

        html = pio.to_html(
            fig_dict, include_plotlyjs=not self.script_sent, include_mathjax=False,
            full_html=False, default_width="100%", default_height=525,
            config={"displaylogo": False},
        )
        self.script_sent = True
        return {"text/html": html}


@dataclass
class StageContext:
    """A stage notebook's handle: the study, its processed folder, and the summary writer."""

    study: Study
    stage: str
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))

    @property
    def processed_dir(self) -> Path:
        return self.study.processed_dir

    def processed(self, filename: str) -> Path:
        return self.study.processed(filename)

    def parameters(self) -> dict:
        """This stage's parameters from study.yaml (the notebook's own parameters win)."""
        return self.study.stage_parameters(self.stage)

    def write_summary(self, headlines: list[str], metrics: dict[str, Any] | None = None, **extra) -> None:
        """Write data/processed/<study>/summary_<stage>.json: the headline sentences the run
        index shows, and the numbers later runs compare against (``metrics``: name -> number,
        or name -> {value, label, unit}; unit "share" shows as a percentage). Pass
        ``glance=[sentences]`` for what the index's "At a glance" box shows first (default:
        the first headline)."""
        payload = {
            "stage": self.stage,
            "title": STAGE_TITLES.get(self.stage, self.stage.replace("_", " ").title()),
            "headlines": [str(h) for h in headlines],
            "metrics": metrics or {},
            "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            **extra,
        }
        # returns nothing, so a notebook's last line prints nothing into the report
        data.write_json(payload, self.processed(f"summary_{self.stage}.json"))


def open_stage(study: str | os.PathLike | Study, stage: str, *, clean: bool = True) -> StageContext:
    """Load the study (validated; clean tables written if missing) and set up plotting.

    Paths resolve from the study folder, so the notebook runs the same under papermill, in
    JupyterLab, or in a test.
    """
    study = data.ensure_clean(study) if clean else Study.load(study)
    _setup_plotting()
    return StageContext(study=study, stage=stage)


def read_summary(study: Study, stage: str) -> dict | None:
    path = study.processed_dir / f"summary_{stage}.json"
    return data.read_json(path) if path.exists() else None
