"""Project files agree with each other: environment.yml names what pyproject.toml declares."""
from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# PyPI name -> conda-forge name where they differ
CONDA_NAMES = {
    "duckdb": "python-duckdb",
    "ibis-framework": "ibis-duckdb",
    "matplotlib": "matplotlib-base",
    "vadersentiment": "vadersentiment",
}


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", requirement)
    name, _, spec = match.groups()
    return name.lower(), spec.replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(_split(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {}
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip_section[-1] == "-e ."
    # packages conda-forge lacks come from PyPI in the pip section, under their PyPI names
    for dep in [d for d in env["dependencies"] if isinstance(d, str)] + pip_section[:-1]:
        name, spec = _split(dep.replace("=", "==", 1) if re.match(r"^[\w\-]+=[^=]", dep) else dep)
        conda[name] = spec
    for name, spec in wanted.items():
        conda_name = CONDA_NAMES.get(name, name)
        assert conda_name in conda, f"environment.yml lacks {conda_name} (pyproject: {name}{spec})"
        assert conda[conda_name] == spec, f"{conda_name}: environment.yml {conda[conda_name]} vs pyproject {spec}"


def test_makefile_and_ci_use_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_notebooks_are_committed_without_outputs_and_with_parameters():
    # what git's index holds (the working tree may hold a run's outputs: the git filter strips them)
    from test_notebooks_clean import committed_notebooks

    notebooks = committed_notebooks()
    assert len(notebooks) == 7
    for name, nb in sorted(notebooks.items()):
        path = Path(name)
        assert nb["metadata"]["kernelspec"]["name"] == "python3", path.name
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), path.name
        params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(params) == 1, f"{path.name}: one cell tagged 'parameters'"
        lines = [l for l in "".join(params[0]["source"]).splitlines() if l.strip()]
        assert lines[0].startswith("study: str = "), path.name
        for line in lines:  # typed and commented, so papermill --help-notebook documents them
            assert re.match(r"^\w+: [\w\[\], |]+ = .+  # .+", line), f"{path.name}: {line!r}"



def test_make_install_runs_once_per_pyproject_and_extras_and_shows_each_phase(tmp_path):
    import shutil
    import subprocess

    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / ".venv").mkdir()
    # `make test EXTRAS=dev,spark` (CI) hands its variables to every make below it through
    # MAKEFLAGS: these calls must see the Makefile's own defaults
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "EXTRAS")}
    dry = subprocess.run(["make", "-s", "-n", "install"], cwd=tmp_path, capture_output=True, text=True,
                         check=True, env=env).stdout
    # a line per phase, and the long step (uv) shows its own progress: not silenced
    assert re.findall(r'^echo "\[(\d)/4\] ', dry, re.M) == ["1", "2", "3", "4"]
    install = next(line for line in dry.splitlines() if " -e '.[dev]'" in line)
    assert install.startswith(".venv/bin/uv pip install ") and "--quiet" not in install.split()
    stamp = re.search(r"^touch (\S+)$", dry, re.M).group(1)
    assert stamp.startswith(".venv/.installed-")
    (tmp_path / stamp).touch()  # as after an install

    def up_to_date(*args: str) -> bool:
        return subprocess.run(["make", "-s", "-q", "install", *args], cwd=tmp_path, env=env).returncode == 0

    assert up_to_date()  # nothing changed: nothing to install
    assert not up_to_date("EXTRAS=dev,spark")  # other extras: install again
    with (tmp_path / "pyproject.toml").open("a") as f:
        f.write("\n# a change\n")
    assert not up_to_date()  # pyproject.toml changed: install again
