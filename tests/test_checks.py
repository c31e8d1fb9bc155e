"""The checks that keep the code as DESIGN.md draws it, run with the suite: the layers and the
independence of the stage packages (import-linter, contract in pyproject.toml), and pyflakes
(ruff): no undefined or unused names. Both tools are dev dependencies, so a missing tool fails
here instead of skipping."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)


def test_imports_keep_the_layers_and_no_stage_imports_another():
    done = _run(str(BIN / "lint-imports"), "--no-cache")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


def test_pyflakes_finds_nothing():
    done = _run(str(BIN / "ruff"), "check", "--no-cache", "src", "tests", "benchmarks")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_layer_contract_names_every_module_of_the_package():
    """A new top-level module must be placed in a layer, or import-linter would not check it."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    named = set()
    for layer in config["contracts"][0]["layers"]:
        named |= {m.strip() for part in layer.split("|") for m in part.split(":")}
    package = ROOT / "src" / "cxlab"
    present = {f"cxlab.{p.stem}" for p in package.glob("*.py") if p.stem != "__init__"}
    present |= {f"cxlab.{p.name}" for p in package.iterdir() if (p / "__init__.py").exists()}
    assert present - named == set()
    assert named - present == set()
