"""Where things live: the project root, a study's folders, and paths kept inside a study.

**A study's identity.** A study under the project's data/raw/ is known by its folder name: its
outputs go to data/processed/<name>/ and its runs to reports/<name>/ (``cxlab run demo`` writes
to data/processed/demo/). A study anywhere else is known by its name and a short hash of its
resolved folder path, data/processed/<name>-<hash>/ and reports/<name>-<hash>/, so two folders
that happen to share a name (two exports both called ``export``) never share outputs or a run
history. Moving such a folder gives it a new identity (and a fresh history).

**A run's workspace.** While ``cxlab run`` runs a study, its stages write to and read from the
run's own workspace, data/processed/<identity>/runs/<run-id>/, and the runner publishes what
they wrote to data/processed/<identity>/ when the run ends. The runner tells the stage kernels
through the environment (``CXLAB_WORKSPACE``, ``CXLAB_WORKSPACE_STUDY``, ``CXLAB_RUN_ID``);
``processed_dir`` returns the workspace only in a process running a stage of that study, and
the published folder everywhere else (JupyterLab, a test, the runner itself).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .errors import ParameterError, StudyError

__all__ = [
    "project_root",
    "resolve_study_dir",
    "inside",
    "study_key",
    "study_argument",
    "published_dir",
    "processed_dir",
    "reports_dir",
    "workspace_dir",
    "run_id",
    "WORKSPACE_ENV",
    "WORKSPACE_STUDY_ENV",
    "RUN_ID_ENV",
    "RUNS_FOLDER",
]

WORKSPACE_ENV = "CXLAB_WORKSPACE"  # the run's workspace folder
WORKSPACE_STUDY_ENV = "CXLAB_WORKSPACE_STUDY"  # the study folder the workspace is for
RUN_ID_ENV = "CXLAB_RUN_ID"  # the run a stage runs in (kept in its record)
RUNS_FOLDER = "runs"  # data/processed/<identity>/runs/<run-id>/: the workspaces


def project_root() -> Path:
    """The project folder holding notebooks/, data/ and reports/.

    ``CXLAB_HOME`` wins; otherwise the source checkout this package was installed from
    (an editable install, as ``make`` does); otherwise the current directory.
    """
    env = os.environ.get("CXLAB_HOME")
    if env:
        return Path(env).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "notebooks").is_dir() and (checkout / "pyproject.toml").is_file():
        return checkout
    return Path.cwd().resolve()


def resolve_study_dir(study: str | os.PathLike) -> Path:
    """A study named by its folder (any path holding study.yaml) or by its name under data/raw/."""
    candidate = Path(study).expanduser()
    if (candidate / "study.yaml").is_file():
        return candidate.resolve()
    hint = (
        "Name a folder that holds study.yaml, or a study under data/raw/ "
        "(the demo is made by `make demo` or `cxlab synth --demo --out data/raw/demo`)."
    )
    if candidate.is_absolute() or len(candidate.parts) > 1:
        raise StudyError(f"No study at {candidate.resolve()}: the folder holds no study.yaml. {hint}")
    named = project_root() / "data" / "raw" / str(study)
    if (named / "study.yaml").is_file():
        return named.resolve()
    raise StudyError(
        f"No study '{study}': neither {candidate.resolve()} nor {named} holds a study.yaml. {hint}"
    )


def inside(base: Path, relative: str | os.PathLike, what: str = "path") -> Path:
    """``base / relative``, refusing anything that escapes ``base`` (absolute paths, '..')."""
    base = Path(base).resolve()
    target = (base / relative).resolve()
    if target != base and base not in target.parents:
        raise ParameterError(
            f"The {what} '{relative}' points outside the study folder {base}; "
            "give a path relative to the study folder."
        )
    return target


def _in_raw(root: Path) -> bool:
    """Whether the study folder is data/raw/<name> of the project."""
    root = Path(root).resolve()
    return root == (project_root() / "data" / "raw" / root.name).resolve()


def study_key(root: str | os.PathLike) -> str:
    """The study's identity in data/processed/ and reports/: the folder name for a study under
    data/raw/, else ``<name>-<first 8 hex digits of the SHA-256 of the resolved folder path>``."""
    root = Path(root).resolve()
    if _in_raw(root):
        return root.name
    return f"{root.name}-{hashlib.sha256(str(root).encode('utf-8')).hexdigest()[:8]}"


def study_argument(root: str | os.PathLike) -> str:
    """How to name the study on the command line: its name under data/raw/, else its folder."""
    root = Path(root).resolve()
    return root.name if _in_raw(root) else str(root)


def published_dir(root: str | os.PathLike) -> Path:
    """data/processed/<identity>/: the outputs of the study's latest finished runs."""
    return project_root() / "data" / "processed" / study_key(root)


def reports_dir(root: str | os.PathLike) -> Path:
    """reports/<identity>/: one folder per run."""
    return project_root() / "reports" / study_key(root)


def workspace_dir(root: str | os.PathLike, run: str) -> Path:
    """data/processed/<identity>/runs/<run-id>/: where the stages of one run write and read."""
    return published_dir(root) / RUNS_FOLDER / run


def _in_run_of(root: str | os.PathLike) -> bool:
    workspace, for_study = os.environ.get(WORKSPACE_ENV), os.environ.get(WORKSPACE_STUDY_ENV)
    return bool(workspace and for_study and Path(for_study).resolve() == Path(root).resolve())


def processed_dir(root: str | os.PathLike) -> Path:
    """Where the study's stages write and read: the run's workspace in a stage kernel of a run
    of this study (the environment says so), else the published folder."""
    return Path(os.environ[WORKSPACE_ENV]) if _in_run_of(root) else published_dir(root)


def run_id(root: str | os.PathLike) -> str | None:
    """The run this process computes a stage of the study for (None outside a run)."""
    return (os.environ.get(RUN_ID_ENV) or None) if _in_run_of(root) else None
