"""JupyterLab on the stage notebooks (`make lab`): a stage notebook is saved without outputs.

`make lab` starts JupyterLab with ``--ContentsManager.pre_save_hook=cxlab.lab.save_stage_notebook_clean``.
A researcher sees every output while working; what JupyterLab writes to notebooks/00_intake.ipynb …
06_journey_map.ipynb holds none: no outputs, no execution counts, no timing metadata, and of the
kernel's language details only the name — what the git filter (nbstripout, set up by
`make install`) would store anyway. So after Run All and a save the file is byte for byte the
committed one and `git status` stays clean (the git filter alone cannot do that: git reports a
file whose size changed as modified without running the filter). The findings of a run live
in its HTML report; a researcher who wants saved outputs works on a copy (`cxlab notebooks`).
Other notebooks (a scratch notebook beside them) are saved as they are.
"""
from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from .stages import STAGES

__all__ = ["strip_outputs", "save_stage_notebook_clean"]

# cell metadata a run or the interface adds (nbstripout's defaults)
_CELL_KEYS = ("collapsed", "scrolled", "ExecuteTime", "execution", "heading_collapsed", "hidden")


def strip_outputs(notebook: dict) -> dict:
    """Remove, in place, what running a notebook adds: outputs, execution counts, run metadata
    of cells, widget state and the kernel's language details but its name. Returns the notebook."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        metadata = cell.get("metadata", {})
        for key in _CELL_KEYS:
            metadata.pop(key, None)
    meta = notebook.get("metadata", {})
    meta.pop("widgets", None)
    meta.pop("signature", None)
    if isinstance(meta.get("language_info"), dict):
        meta["language_info"] = {k: v for k, v in meta["language_info"].items() if k == "name"}
    return notebook


def save_stage_notebook_clean(model: dict, path: str, contents_manager: Any = None, **kwargs: Any) -> None:
    """A Jupyter server pre-save hook: a stage notebook (by its registry name, at the top of the
    folder JupyterLab serves or in its notebooks/) is saved without outputs."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    parts = PurePosixPath(path.strip("/")).parts
    if parts[:-1] in ((), ("notebooks",)) and parts[-1:] and parts[-1] in {s.notebook for s in STAGES.values()}:
        strip_outputs(model["content"])
