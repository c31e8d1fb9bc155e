"""What every stage notebook does first: open the study and set up plotting for the report."""
from __future__ import annotations

import os

from plotly.io.base_renderers import MimetypeRenderer, PlotlyRenderer

from .. import data, units
from ..stages import stage_spec
from ..study import Study

__all__ = ["open_stage", "OfflineHtmlRenderer"]

def _setup_plotting() -> None:
    """Matplotlib looks for print and screen; plotly figures show in JupyterLab and in reports
    that open offline (``OfflineHtmlRenderer``)."""
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
    """Plotly figures that show in JupyterLab and in the HTML report, offline, without plotly.js
    in every figure.

    Each figure is output twice: as plotly's JSON (``application/vnd.plotly.v1+json``, drawn by
    JupyterLab's plotly extension; nbconvert drops it) and as HTML without plotly.js, a ``div``
    and the script that draws into it (what the report shows). The report page loads plotly.js
    once, from the run folder's ``assets/plotly.min.js`` (``cxlab.report.html``), so a page with
    ten charts carries the 4.8 MB library not ten times (plotly copies the renderer for every
    figure, so "embed it with the first figure only" embedded it in every one) and not even
    once. No MathJax from a CDN (plotly's own "notebook" renderer loads it from the network)."""

    def to_mimebundle(self, fig_dict):
        import plotly.io as pio

        config = {"displaylogo": False}
        html = pio.to_html(
            fig_dict, include_plotlyjs=False, include_mathjax=False, full_html=False,
            default_width="100%", default_height=525, config=config,
        )
        bundle = PlotlyRenderer(config=config).to_mimebundle(fig_dict)
        bundle["text/html"] = html
        return bundle


def open_stage(study: str | os.PathLike | Study, stage: str) -> Study:
    """The study a stage notebook works on, loaded once (clean tables written if missing, except
    for the intake stage, which writes them), with plotting set up for the report.

    Paths resolve from the study folder, so the notebook runs the same under papermill, in
    JupyterLab, or in a test."""
    stage_spec(stage)
    _setup_plotting()
    loaded = Study.load(study) if stage == "intake" else data.ensure_clean(study)
    units.use_currency(loaded.currency)  # money on the stage's page is in the study's currency
    return loaded
