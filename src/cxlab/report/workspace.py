"""A run's own workspace, and publishing what its stages wrote.

Every ``cxlab run`` computes in a folder of its own, data/processed/<identity>/runs/<run-id>/
(``cxlab.paths``): the stage kernels are told so through their environment, so
``Study.processed_dir`` — and with it every output, record and clean table a stage writes or
reads — is the workspace. Two runs of one study, with different parameters, compute side by
side and never read each other's files.

**Seeding.** When the run starts, the study's published outputs of the stages that are *not* in
the run are linked into the workspace (hard links: no copy; every cxlab writer replaces a file
rather than writing into it, so the published file is never changed through its link). A stage
of the run reads an earlier stage of the same run from the workspace, and a stage outside the
run (``--stages``) from what was published. Outputs of the run's own stages are not seeded, so
an older run's output can never pass for this run's. Where a seeded output was computed from
other input data than the clean tables of this run, ``cxlab.stages.read_output`` refuses it
(``StaleOutputError``).

**Publishing.** When the run ends (not when it is interrupted), what its stages wrote is moved
into data/processed/<identity>/ with ``os.replace``, one file at a time, records last, under a
per-study lock (``fcntl.flock`` on data/processed/<identity>/.lock) that seeding takes too: a
run never seeds from half of another run's publication. Only stages that finished are
published; a stage whose output the run no longer has (the stage wrote none this time) has the
published file removed. A stage whose inputs from outside the run were replaced by another run
while it computed is not published (it would sit beside inputs it was not computed from).
The workspace is removed afterwards; one left by a run that was killed is removed by the next
run of the study (a live run holds a lock on its own workspace).
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .. import paths
from ..stages import STAGES
from ..study import TABLE_NAMES, Study

__all__ = ["Workspace", "file_lock", "study_lock", "workspace_in_use", "LOCK_FILE"]

LOCK_FILE = ".lock"  # data/processed/<identity>/.lock: seeding and publishing, one run at a time
_RUN_LOCK = ".run.lock"  # in a workspace: held while its run lives
_KERNELS = ".kernels"  # in a workspace: the kernels' connection files (removed with it)
_CLEAN = tuple(f"{t}.parquet" for t in TABLE_NAMES)  # the clean tables, then their marker
_CLEAN_MARKER = "clean.json"


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (made if missing; blocking until free)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # 0666 less the umask: a team member whose umask shares the folder can take the lock too
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def study_lock(published: Path):
    """Hold the study's publishing lock (blocking until another run has published)."""
    return file_lock(published / LOCK_FILE)


def workspace_in_use(folder: Path) -> bool:
    """Whether a live run holds the workspace ``folder`` (its run lock is taken)."""
    try:
        fd = os.open(Path(folder) / _RUN_LOCK, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _owned(stages) -> dict[str, str]:
    """file name -> stage, for the outputs and records of ``stages``."""
    owned = {}
    for stage in stages:
        spec = STAGES.get(stage)
        if spec is None:
            continue
        for out in spec.outputs:
            owned[out.file] = stage
        owned[spec.record_file] = stage
    return owned


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _ancestors(stage: str) -> set[str]:
    seen, todo = set(), list(STAGES[stage].depends if stage in STAGES else ())
    while todo:
        d = todo.pop()
        if d not in seen:
            seen.add(d)
            todo.extend(STAGES[d].depends)
    return seen


class Workspace:
    """The folder one run's stages write to and read from; see the module doc."""

    def __init__(self, study: Study, run_id: str, stages: list[str]):
        self.study = study
        self.run_id = run_id
        self.stages = list(stages)
        self.published = paths.published_dir(study.root)
        self.dir = paths.workspace_dir(study.root, run_id)
        self.seeded: dict[str, tuple[int, int]] = {}  # file -> (device, inode) linked in
        self.outside: dict[str, str | None] = {}  # stage not in the run -> digest of its published record
        self._hold: int | None = None

    # ------------------------------------------------------------------ the run's side
    def env(self) -> dict[str, str]:
        """What a stage kernel of this run is told (``cxlab.paths``)."""
        return {paths.WORKSPACE_ENV: str(self.dir), paths.WORKSPACE_STUDY_ENV: str(self.study.root),
                paths.RUN_ID_ENV: self.run_id}

    def connection_file(self) -> Path:
        """A connection file for one of the run's kernels, inside the workspace (private folder),
        so it goes with the workspace whatever ends the run."""
        return self.dir / _KERNELS / f"kernel-{uuid.uuid4().hex}.json"

    def record(self, stage: str) -> dict | None:
        """The record (summary_<stage>.json) this run's stage wrote, or None."""
        from .. import data

        path = self.dir / STAGES[stage].record_file
        try:
            return data.read_json(path) if path.exists() else None
        except (OSError, ValueError):
            return None

    # ------------------------------------------------------------------ life
    def open(self) -> "Workspace":
        """Make the workspace and seed it from the published outputs of stages not in the run."""
        with study_lock(self.published):
            self._remove_orphans()
            self.dir.mkdir(parents=True)
            self._hold = os.open(self.dir / _RUN_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
            fcntl.flock(self._hold, fcntl.LOCK_EX | fcntl.LOCK_NB)
            (self.dir / _KERNELS).mkdir(mode=0o700)
            skip = set(_owned(self.stages))
            if "intake" in self.stages:  # intake writes the clean tables afresh
                skip |= {*_CLEAN, _CLEAN_MARKER}
            for entry in self.published.iterdir():
                if entry.name.startswith(".") or entry.name in skip or not entry.is_file():
                    continue
                target = self.dir / entry.name
                try:
                    os.link(entry, target)
                except OSError:  # another file system, or no hard links: a copy
                    shutil.copy2(entry, target)
                st = target.stat()
                self.seeded[entry.name] = (st.st_dev, st.st_ino)
            for stage in STAGES:
                if stage not in self.stages:
                    self.outside[stage] = _digest(self.published / STAGES[stage].record_file)
        return self

    def close(self) -> None:
        """Remove the workspace (what was worth keeping has been published)."""
        shutil.rmtree(self.dir, ignore_errors=True)
        if self._hold is not None:
            os.close(self._hold)
            self._hold = None

    def _remove_orphans(self) -> None:
        """Workspaces of runs that no longer live (killed): nobody holds their lock."""
        runs = self.published / paths.RUNS_FOLDER
        if not runs.is_dir():
            return
        for folder in runs.iterdir():
            if not folder.is_dir():
                continue
            try:
                fd = os.open(folder / _RUN_LOCK, os.O_RDWR)
            except FileNotFoundError:
                shutil.rmtree(folder, ignore_errors=True)  # made and lost before its lock
                continue
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live run
            finally:
                os.close(fd)
            shutil.rmtree(folder, ignore_errors=True)

    # ------------------------------------------------------------------ publishing
    def _written(self) -> list[str]:
        """Files of the workspace this run wrote (not seeded, or replaced since)."""
        out = []
        for entry in self.dir.iterdir():
            if entry.name.startswith(".") or not entry.is_file():
                continue
            st = entry.stat()
            if self.seeded.get(entry.name) != (st.st_dev, st.st_ino):
                out.append(entry.name)
        return out

    def publish(self, finished: list[str]) -> dict:
        """Move what the ``finished`` stages (and the run's clean tables and caches) wrote into
        data/processed/<identity>/; see the module doc. Returns {"files": [...], "removed": [...],
        "held_back": {stage: why}}."""
        owned = _owned(STAGES)
        with study_lock(self.published):
            replaced = {s for s, before in self.outside.items()
                        if _digest(self.published / STAGES[s].record_file) != before}
            held_back, go = {}, []
            for stage in finished:
                moved = sorted(_ancestors(stage) & replaced)
                if moved:
                    held_back[stage] = (
                        f"not published: the {', '.join(m.replace('_', ' ') for m in moved)} outputs it read "
                        "were replaced by another run while it computed; its own run's report shows it")
                else:
                    go.append(stage)
            files = []
            for name in self._written():
                stage = owned.get(name)
                if stage is None or stage in go:
                    files.append(name)
            # clean tables before their marker, outputs before records: a reader outside the lock
            # finds a marker or a record only with what it describes
            records = {STAGES[s].record_file for s in STAGES}

            def order(name: str) -> tuple[int, str]:
                if name in _CLEAN:
                    return (0, name)
                if name == _CLEAN_MARKER:
                    return (1, name)
                return (3 if name in records else 2, name)

            files.sort(key=order)
            for name in files:
                os.replace(self.dir / name, self.published / name)
            removed = []
            have = set(files)
            for name, stage in _owned(go).items():
                if name not in have and (self.published / name).exists():
                    (self.published / name).unlink()
                    removed.append(name)
        return {"files": files, "removed": removed, "held_back": held_back}
