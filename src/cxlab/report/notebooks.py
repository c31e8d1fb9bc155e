"""Copies of the stage notebooks, for a researcher who wants to edit them (`cxlab notebooks`).

A run executes the notebooks ``notebooks_dir()`` finds: CXLAB_NOTEBOOKS, else the checkout's
notebooks/, else the copy an installed cxlab carries. ``copy_notebooks`` writes that set to a
folder of the researcher's; pointing CXLAB_NOTEBOOKS at it makes `cxlab run` use the edits.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import ParameterError
from ..stages import STAGES
from .runner import notebooks_dir

__all__ = ["copy_notebooks"]


def copy_notebooks(folder: str | os.PathLike) -> list[Path]:
    """Copy every stage notebook (00_intake … 06_journey_map) into ``folder`` (made if missing)
    and return the copies' paths. A notebook already there is never overwritten: the copy is
    refused, naming the files in the way."""
    source = notebooks_dir()
    target = Path(folder).expanduser().resolve()
    if target.exists() and not target.is_dir():
        raise ParameterError(f"{target} is a file; name a folder to copy the stage notebooks into.")
    names = [spec.notebook for spec in STAGES.values() if (source / spec.notebook).is_file()]
    in_the_way = [name for name in names if (target / name).exists()]
    if in_the_way:
        raise ParameterError(
            f"{target} already holds {', '.join(in_the_way)}: cxlab notebooks never overwrites a notebook. "
            "Name a new or empty folder, or move those files away first."
        )
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(source / name, target / name)
    return [target / name for name in names]
