"""What every stage notebook does first: open the study and set up plotting for the report."""
from __future__ import annotations

import os

from plotly.io.base_renderers import MimetypeRenderer

from .. import data
from ..stages import stage_spec
from ..study import Study

__all__ = ["open_stage", "OfflineHtmlRenderer"]

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


def open_stage(study: str | os.PathLike | Study, stage: str) -> Study:
    """The study a stage notebook works on, loaded once (clean tables written if missing, except
    for the intake stage, which writes them), with plotting set up for the report.

    Paths resolve from the study folder, so the notebook runs the same under papermill, in
    JupyterLab, or in a test."""
    stage_spec(stage)
    _setup_plotting()
    return Study.load(study) if stage == "intake" else data.ensure_clean(study)
