"""What a run publishes is as readable as the user's other files (issue 15.8): every file of the
run's report folder and of the study's processed folder has the mode the user's umask gives a new
file (0644 under umask 022, so a team sharing the folder reads run.json and the tables; 0600
under 077), and every folder the mode it gives a new folder — never the 0600 of
``tempfile.mkstemp``, which atomic writes used to leave."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cxlab import paths


def _modes(folder: Path) -> dict[str, int]:
    """Permission bits of ``folder`` and of everything under it, by path relative to it."""
    out = {".": stat.S_IMODE(folder.stat().st_mode)}
    for entry in folder.rglob("*"):
        out[str(entry.relative_to(folder))] = stat.S_IMODE(entry.lstat().st_mode)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_published_files_and_folders_follow_the_umask(umask, project_home):
    from cxlab.report import run_study
    from cxlab.synth import write_study

    folder = write_study(project_home / "data" / "raw" / "modes", customers=300, seed=5)
    before = os.umask(umask)
    try:
        result = run_study(folder, stages=["intake", "touchpoints"])
    finally:
        os.umask(before)
    assert result.ok, [(s.name, s.error) for s in result.stages if s.error]
    file_mode, dir_mode = 0o666 & ~umask, 0o777 & ~umask
    published = paths.published_dir(folder)
    for place in (result.run_dir, published):
        modes = _modes(place)
        files = {p: m for p, m in modes.items() if (place / p).is_file()}
        dirs = {p: m for p, m in modes.items() if (place / p).is_dir()}
        assert {p: oct(m) for p, m in files.items() if m != file_mode} == {}, place
        assert {p: oct(m) for p, m in dirs.items() if m != dir_mode} == {}, place
    # what the issue named, and the shared plotly.js, are among them
    names = {p.name for p in result.run_dir.rglob("*")} | {p.name for p in published.iterdir()}
    assert {"run.json", "index.html", "00_intake.html", "03_touchpoints.html", "plotly.min.js",
            "events.parquet", "clean.json", "summary_intake.json", "summary_touchpoints.json"} <= names


def test_a_temporary_file_beside_a_target_is_made_with_the_umask(tmp_path):
    before = os.umask(0o027)
    try:
        fd, tmp = paths.temp_file_beside(tmp_path / "run.json")
        os.close(fd)
    finally:
        os.umask(before)
    assert tmp.parent == tmp_path and tmp.name.startswith(".run.json.") and tmp.name.endswith(".tmp")
    assert stat.S_IMODE(tmp.stat().st_mode) == 0o640  # 0666 less 027
