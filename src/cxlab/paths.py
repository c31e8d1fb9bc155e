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

**Remembered per process.** A study's identity and folders are worked out once per process for
each folder and each setting they depend on: the variables ``CXLAB_HOME`` (and ``HOME``, which a
``~`` in it names), ``CXLAB_WORKSPACE`` and ``CXLAB_WORKSPACE_STUDY``, and the working directory
(a relative folder resolves from it). A change to any of them is seen at the next call. The
folders' own places are taken as fixed while the process runs: re-pointing a symbolic link on the
way to a study folder or the project, or turning the source checkout into a non-project, takes a
new process to be seen. (A stage run asks for its folders thousands of times; each answer costs
several path resolutions, each a walk through the file system.)
"""
from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import NamedTuple

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
    "temp_file_beside",
]

WORKSPACE_ENV = "CXLAB_WORKSPACE"  # the run's workspace folder
WORKSPACE_STUDY_ENV = "CXLAB_WORKSPACE_STUDY"  # the study folder the workspace is for
RUN_ID_ENV = "CXLAB_RUN_ID"  # the run a stage runs in (kept in its record)
RUNS_FOLDER = "runs"  # data/processed/<identity>/runs/<run-id>/: the workspaces
# answers remembered per function (a test session makes a few thousand homes and studies)
_REMEMBERED = 4096


class _Setting(NamedTuple):
    """What a study's places depend on besides the folders themselves: the key they are
    remembered by (see the module doc)."""

    home: str | None  # CXLAB_HOME
    user_home: str | None  # HOME, for a CXLAB_HOME starting with ~
    workspace: str | None  # CXLAB_WORKSPACE
    workspace_study: str | None  # CXLAB_WORKSPACE_STUDY
    cwd: str | None  # the working directory (None: it was removed)


def _setting() -> _Setting:
    env = os.environ
    try:
        cwd = os.getcwd()
    except OSError:  # the working directory was removed: only absolute paths resolve
        cwd = None
    return _Setting(env.get("CXLAB_HOME") or None, env.get("HOME"), env.get(WORKSPACE_ENV) or None,
                    env.get(WORKSPACE_STUDY_ENV) or None, cwd)


def project_root() -> Path:
    """The project folder holding notebooks/, data/ and reports/.

    ``CXLAB_HOME`` wins; otherwise the source checkout this package was installed from
    (an editable install, as ``make`` does); otherwise the current directory.
    """
    return _project_root(_setting())


@functools.lru_cache(maxsize=_REMEMBERED)
def _project_root(setting: _Setting) -> Path:
    if setting.home:
        return Path(setting.home).expanduser().resolve()
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


class _Identity(NamedTuple):
    folder: Path  # the study folder, resolved
    in_raw: bool  # whether it is data/raw/<name> of the project
    key: str  # its identity in data/processed/ and reports/


@functools.lru_cache(maxsize=_REMEMBERED)
def _identity(root: str, setting: _Setting) -> _Identity:
    folder = Path(root).resolve()
    in_raw = folder == (_project_root(setting) / "data" / "raw" / folder.name).resolve()
    key = folder.name if in_raw else (
        f"{folder.name}-{hashlib.sha256(str(folder).encode('utf-8')).hexdigest()[:8]}")
    return _Identity(folder, in_raw, key)


def study_key(root: str | os.PathLike) -> str:
    """The study's identity in data/processed/ and reports/: the folder name for a study under
    data/raw/, else ``<name>-<first 8 hex digits of the SHA-256 of the resolved folder path>``."""
    return _identity(os.fspath(root), _setting()).key


def study_argument(root: str | os.PathLike) -> str:
    """How to name the study on the command line: its name under data/raw/, else its folder."""
    found = _identity(os.fspath(root), _setting())
    return found.folder.name if found.in_raw else str(found.folder)


def published_dir(root: str | os.PathLike) -> Path:
    """data/processed/<identity>/: the outputs of the study's latest finished runs."""
    return _published_dir(os.fspath(root), _setting())


@functools.lru_cache(maxsize=_REMEMBERED)
def _published_dir(root: str, setting: _Setting) -> Path:
    return _project_root(setting) / "data" / "processed" / _identity(root, setting).key


def reports_dir(root: str | os.PathLike) -> Path:
    """reports/<identity>/: one folder per run."""
    setting = _setting()
    return _project_root(setting) / "reports" / _identity(os.fspath(root), setting).key


def workspace_dir(root: str | os.PathLike, run: str) -> Path:
    """data/processed/<identity>/runs/<run-id>/: where the stages of one run write and read."""
    return published_dir(root) / RUNS_FOLDER / run


@functools.lru_cache(maxsize=_REMEMBERED)
def _in_run_of(root: str, setting: _Setting) -> bool:
    """Whether the environment says this process runs a stage of the study at ``root``."""
    return bool(setting.workspace and setting.workspace_study
                and Path(setting.workspace_study).resolve() == Path(root).resolve())


def processed_dir(root: str | os.PathLike) -> Path:
    """Where the study's stages write and read: the run's workspace in a stage kernel of a run
    of this study (the environment says so), else the published folder."""
    return _processed_dir(os.fspath(root), _setting())


@functools.lru_cache(maxsize=_REMEMBERED)
def _processed_dir(root: str, setting: _Setting) -> Path:
    return Path(setting.workspace) if _in_run_of(root, setting) else _published_dir(root, setting)


def run_id(root: str | os.PathLike) -> str | None:
    """The run this process computes a stage of the study for (None outside a run)."""
    return (os.environ.get(RUN_ID_ENV) or None) if _in_run_of(os.fspath(root), _setting()) else None


def temp_file_beside(target: str | os.PathLike) -> tuple[int, Path]:
    """A new, empty file in ``target``'s folder, to write and then rename onto ``target`` (a
    rename within a folder is atomic: a reader never sees half a file): (open descriptor, path).
    It is made like any file the user creates, mode 0666 less the umask, so what cxlab publishes
    is as readable as the user's other files to a team sharing the folder; ``tempfile.mkstemp``
    makes 0600 files, readable by their owner only."""
    import secrets

    target = Path(target)
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {target}")
