"""What every stage notebook does first: open the study and set up plotting for the report."""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plotly.io.base_renderers import MimetypeRenderer

from .. import data
from ..stages import stage_spec
from ..study import Study

__all__ = ["open_stage", "StageContext", "OfflineHtmlRenderer"]

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
    """A stage notebook's handle while its stage has no ``StageResult`` yet: the study and the
    summary writer. Stages with an ``analyze`` write their record with ``result.write()``."""

    study: Study
    stage: str

    @property
    def processed_dir(self) -> Path:
        return self.study.processed_dir

    def processed(self, filename: str) -> Path:
        return self.study.processed(filename)

    def write_summary(self, headlines: list[str], metrics: dict[str, Any] | None = None, **extra) -> None:
        spec = stage_spec(self.stage)
        payload = {
            "stage": self.stage,
            "title": spec.title,
            "headlines": [str(h) for h in headlines],
            "metrics": metrics or {},
            "inputs": data.clean_fingerprint(self.study),
            "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            **extra,
        }
        data.write_json(payload, self.study.processed(spec.record_file))


def open_stage(study: str | os.PathLike | Study, stage: str) -> StageContext:
    """The study a stage notebook works on, loaded once (clean tables written if missing, except
    for the intake stage, which writes them), with plotting set up for the report.

    Paths resolve from the study folder, so the notebook runs the same under papermill, in
    JupyterLab, or in a test."""
    stage_spec(stage)
    _setup_plotting()
    loaded = Study.load(study) if stage == "intake" else data.ensure_clean(study)
    return StageContext(loaded, stage)
