"""cxlab as a package: the wheel carries the stage notebooks and the report templates; installed
(not editable) into a fresh virtual environment, it runs a study from a folder outside the
checkout, writing data/processed/ and reports/ under the current directory; `cxlab notebooks`
copies the notebooks out and CXLAB_NOTEBOOKS points a run at the copy.

The fresh environment gets no downloads: the wheel is built with the project venv's setuptools
(--no-build-isolation) and installed with --no-deps; the dependencies come from the project
venv's site-packages, named in a .pth file (that folder only: its editable-install hook, which
would put the checkout's src/ on the path, is not run), and nbconvert's templates, which an
install of nbconvert puts in <venv>/share/jupyter, are linked there."""
from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from conftest import log, write_study
from cxlab import __version__
from cxlab.cli import main
from cxlab.errors import StudyError
from cxlab.report.runner import notebooks_dir
from cxlab.stages import STAGES

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = [spec.notebook for spec in STAGES.values()]
# what building the package reads from a checkout
BUILD_INPUTS = ("pyproject.toml", "README.md", "src", "notebooks")


def _run(args, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, args))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel `pip install .` would install, built from a copy of the checkout's files."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints"))
        else:
            shutil.copy2(ROOT / name, source / name)
    _run([sys.executable, "-m", "pip", "wheel", source, "--no-deps", "--no-build-isolation", "--no-index",
          "--disable-pip-version-check", "-q", "-w", out])
    wheels = list(out.glob("cxlab-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _clean_env(**extra) -> dict:
    """The environment of a researcher's shell: none of the test session's cxlab settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CXLAB_", "JUPYTER_", "PYTHON")) and k != "VIRTUAL_ENV"}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict:
    """A fresh venv outside the checkout with the wheel installed (not editable)."""
    base = tmp_path_factory.mktemp("fresh")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    project_sites = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (purelib / "project_venv_dependencies.pth").write_text("\n".join(project_sites) + "\n")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
          "--disable-pip-version-check", "-q", wheel])
    work = base / "work"  # the researcher's current directory
    work.mkdir()
    jupyter_data = base / "jupyter-data"  # no kernelspec of the user's: the venv's own python runs the kernel
    jupyter_data.mkdir()
    # nbconvert's templates are data files an install of nbconvert puts in <venv>/share/jupyter
    (venv / "share" / "jupyter").mkdir(parents=True)
    (venv / "share" / "jupyter" / "nbconvert").symlink_to(Path(sys.prefix) / "share" / "jupyter" / "nbconvert")
    env = _clean_env(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", JUPYTER_DATA_DIR=str(jupyter_data))
    return {"venv": venv, "python": python, "cxlab": venv / "bin" / "cxlab", "work": work, "env": env}


def test_the_wheel_carries_the_code_the_notebooks_and_the_report_templates(wheel):
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        data = f"cxlab-{__version__}.data/data/share/cxlab/notebooks/"
        for notebook in NOTEBOOKS:  # every stage notebook, byte for byte the checkout's
            assert whl.read(data + notebook) == (ROOT / "notebooks" / notebook).read_bytes(), notebook
        assert {n for n in names if n.startswith(data)} == {data + nb for nb in NOTEBOOKS}
        package = ROOT / "src" / "cxlab"
        templates = {f"cxlab/{p.relative_to(package).as_posix()}" for p in (package / "templates").rglob("*")
                     if p.is_file()}
        assert templates >= {"cxlab/templates/index.html.j2", "cxlab/templates/nbconvert/cxlab/index.html.j2",
                             "cxlab/templates/nbconvert/cxlab/conf.json"}
        assert templates <= names, templates - names
        modules = {f"cxlab/{p.relative_to(package).as_posix()}" for p in package.rglob("*.py")}
        assert modules <= names, sorted(modules - names)
        entry_points = whl.read(f"cxlab-{__version__}.dist-info/entry_points.txt").decode()
        assert "cxlab = cxlab.cli:main" in entry_points


def test_the_installed_package_finds_its_own_notebooks_not_the_checkouts(installed):
    code = "import cxlab, cxlab.report.runner as r; print(cxlab.__file__); print(r.notebooks_dir())"
    out = _run([installed["python"], "-c", code], cwd=installed["work"], env=installed["env"]).stdout.split("\n")
    assert Path(out[0]).is_relative_to(installed["venv"])
    assert Path(out[1]) == (installed["venv"] / "share" / "cxlab" / "notebooks").resolve()


def test_the_installed_package_runs_a_stage_from_a_folder_outside_the_checkout(installed, tmp_path):
    events = log(
        ("c1", "2025-01-01 10:00", "ad"), ("c1", "2025-01-01 10:05", "view"), ("c1", "2025-01-02 09:00", "buy", 25.0),
        ("c2", "2025-01-03 12:00", "ad"), ("c2", "2025-02-03 12:00", "call"),
        ("c3", "2025-02-10 08:00", "view"), ("c3", "2025-02-11 08:00", "cart"), ("c3", "2025-03-01 18:30", "buy", 40.0),
    )
    customers = pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c4"]})  # c4: no events
    study = write_study(tmp_path / "acme", events=events, customers=customers)
    work = installed["work"]
    done = _run([installed["cxlab"], "run", study, "--stages", "intake"], cwd=work, env=installed["env"])
    # outputs go under the current directory (no checkout, no CXLAB_HOME): reports/<study>/<run>/
    # and data/processed/<study>/
    index = Path(done.stdout.split("Report: ")[-1].strip())
    run_dir = index.parent
    assert run_dir.parent.parent == work / "reports" and run_dir.parent.name.startswith("acme")
    assert index.is_file() and (run_dir / "00_intake.html").is_file()
    assert (work / "data" / "processed" / run_dir.parent.name / "clean.json").is_file()
    assert not list(ROOT.glob("data/processed/acme*")) and not list(ROOT.glob("reports/acme*"))
    meta = json.loads((run_dir / "run.json").read_text())
    assert [(s["stage"], s["status"]) for s in meta["stages"]] == [("intake", "ok")]
    intake = meta["summaries"]["intake"]
    # 8 events from 3 of the 4 customers, counted independently from the tables written above
    assert intake["metrics"]["events"] == len(events) == 8
    assert intake["metrics"]["customers"] == len(customers) == 4
    assert intake["headlines"][0] == (f"{len(events)} events from {events.customer_id.nunique()} of {len(customers)} "
                                      "customers, 01 Jan 2025 to 01 Mar 2025.")
    html = (run_dir / "00_intake.html").read_text()
    assert "8 events from 3 of 4 customers" in html


def test_cxlab_notebooks_copies_the_installed_notebooks_for_editing(installed):
    work, env = installed["work"], installed["env"]
    done = _run([installed["cxlab"], "notebooks", "my notebooks"], cwd=work, env=env)
    copy = work / "my notebooks"
    assert sorted(p.name for p in copy.iterdir()) == NOTEBOOKS
    for notebook in NOTEBOOKS:
        assert (copy / notebook).read_bytes() == (ROOT / "notebooks" / notebook).read_bytes(), notebook
    assert f"export CXLAB_NOTEBOOKS='{copy}'" in done.stdout
    # pointed at the copy, cxlab runs those notebooks
    code = "import cxlab.report.runner as r; print(r.notebooks_dir())"
    found = _run([installed["python"], "-c", code], cwd=work, env={**env, "CXLAB_NOTEBOOKS": str(copy)}).stdout
    assert Path(found.strip()) == copy
    # a second copy never overwrites the researcher's edits
    again = subprocess.run([installed["cxlab"], "notebooks", "my notebooks"], cwd=work, env=env,
                           capture_output=True, text=True)
    assert again.returncode == 2
    assert f"{copy} already holds {', '.join(NOTEBOOKS)}: cxlab notebooks never overwrites a notebook" in again.stderr


def test_cxlab_notebooks_in_the_checkout_copies_the_checkouts_notebooks(tmp_path, capsys):
    target = tmp_path / "nb"
    (target / "keep").mkdir(parents=True)  # a folder that is not empty is fine, as long as no notebook is in the way
    assert main(["notebooks", str(target)]) == 0
    assert sorted(p.name for p in target.glob("*.ipynb")) == NOTEBOOKS
    assert (target / "01_objectives.ipynb").read_bytes() == (ROOT / "notebooks" / "01_objectives.ipynb").read_bytes()
    (target / "03_touchpoints.ipynb").write_text("my edits")
    assert main(["notebooks", str(target)]) == 2
    assert "already holds 00_intake.ipynb" in capsys.readouterr().err
    assert (target / "03_touchpoints.ipynb").read_text() == "my edits"


def test_notebooks_dir_prefers_cxlab_notebooks_then_the_checkout(tmp_path, monkeypatch):
    monkeypatch.delenv("CXLAB_NOTEBOOKS", raising=False)
    assert notebooks_dir() == ROOT / "notebooks"
    monkeypatch.setenv("CXLAB_NOTEBOOKS", str(tmp_path))
    assert notebooks_dir() == tmp_path
    monkeypatch.setenv("CXLAB_NOTEBOOKS", str(tmp_path / "missing"))
    with pytest.raises(StudyError, match=f"CXLAB_NOTEBOOKS names {tmp_path / 'missing'}, which is not a folder"):
        notebooks_dir()
