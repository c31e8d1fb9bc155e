"""`cxlab run`: execute the stage notebooks with papermill and render the report.

A run writes reports/<study>/<run-id>/: each executed notebook, its HTML (no code), run.json
(metadata) and index.html (the study's headline findings, linking to each stage). A failing
stage stops only the stages that read from it (they are marked blocked, naming it); the others
still run, and everything that ran, the failed notebook included, is rendered.

Each run computes in a workspace of its own (``workspace.Workspace``): its stages write and read
there, and what they wrote is published to data/processed/<study>/ when the run ends. run.json
and the index show the records the run's own stages wrote, never what another run published
meanwhile. SIGINT or SIGTERM stops the run's kernels at once; the run is recorded as
"interrupted" (run.json, index) and nothing of it is published. A report file that cannot be
written (disk full) fails the stage or the run with a message naming the file; no truncated page
is left under a page's name.
"""
from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import yaml

from .. import __version__, data, paths
from ..errors import ParameterError, StageError, StudyError
from ..privacy import redact, redact_error, redact_notebook_file
from ..stages import STAGES, check_parameters
from ..study import Study
from .kernels import RESET_CODE, WARM_ALL_CODE, WARM_CODE, PeakMemory, SharedKernel, threads_code
from .schedule import (dependencies, last_run_seconds, shared_kernel_default, stage_priority, stage_threads,
                       workers_default)
from .workspace import Workspace

# .html (nbformat -> jsonschema -> rfc3987_syntax, 1.5 s to import) and .index (jinja2) are
# imported where they are used: every stage kernel imports cxlab.report for the display
# helpers and must not pay for the runner's rendering.

__all__ = [
    "notebooks_dir",
    "available_stages",
    "notebook_parameters",
    "resolve_parameters",
    "run_study",
    "RunResult",
    "StageRun",
    "EXIT_INTERRUPTED",
]

EXIT_INTERRUPTED = 130  # the exit code of a run stopped by SIGINT or SIGTERM (128 + SIGINT)
STOP_GRACE_SECONDS = 20.0  # how long a stopped run waits for its workers before writing run.json

_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict}


def notebooks_dir() -> Path:
    """The stage notebooks: the folder CXLAB_NOTEBOOKS names (a copy made by ``cxlab notebooks``,
    say); else notebooks/ of the source checkout cxlab runs from (an editable install); else the
    copy an installed cxlab carries, <prefix>/share/cxlab/notebooks (pyproject.toml's data-files)."""
    env = os.environ.get("CXLAB_NOTEBOOKS")
    if env:
        folder = Path(env).expanduser()
        if not folder.is_dir():
            raise StudyError(f"CXLAB_NOTEBOOKS names {folder}, which is not a folder of stage notebooks.")
        return folder
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "notebooks").is_dir() and (checkout / "pyproject.toml").is_file():
        return checkout / "notebooks"
    import site
    import sys
    from importlib import metadata

    first = STAGES["intake"].notebook
    candidates = []
    try:  # where the installer put the data files, whatever the scheme (a venv, --user, --prefix)
        dist = metadata.distribution("cxlab")
        candidates += [Path(dist.locate_file(f)).parent for f in dist.files or () if f.name == first]
    except metadata.PackageNotFoundError:
        pass
    prefix = Path(sys.prefix) / "share" / "cxlab" / "notebooks"
    candidates += [prefix, Path(site.getuserbase()) / "share" / "cxlab" / "notebooks"]
    for folder in candidates:
        if (folder / first).is_file():
            return folder.resolve()
    raise StudyError(
        f"No stage notebooks: CXLAB_NOTEBOOKS is not set, cxlab does not run from a source checkout, and "
        f"{prefix} (where installing cxlab puts them) holds none. Reinstall cxlab, or set CXLAB_NOTEBOOKS "
        "to a folder of stage notebooks (`cxlab notebooks <folder>` copies them out)."
    )


def available_stages() -> list[str]:
    """Stages whose notebook exists, in method order."""
    folder = notebooks_dir()
    return [s for s, spec in STAGES.items() if (folder / spec.notebook).exists()]


def notebook_parameters(stage: str) -> dict[str, dict]:
    """The parameters a stage notebook declares: name -> {inferred_type_name, default, help}."""
    import papermill

    return papermill.inspect_notebook(str(notebooks_dir() / STAGES[stage].notebook))


def _coerce(stage: str, name: str, value: Any, declared: dict, source: str) -> Any:
    type_name = str(declared.get("inferred_type_name", "None")).split("[")[0].strip()
    expected = _TYPES.get(type_name)
    if expected is None:
        return value
    if isinstance(value, str) and expected is not str:
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError:
            pass
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if expected is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if expected is str and value is not None and not isinstance(value, str):
        value = str(value)
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if not ok and not (value is None and "None" in str(declared.get("inferred_type_name"))):
        raise ParameterError(
            f"{source}: parameter '{name}' of stage '{stage}' must be {type_name}, got {value!r}"
        )
    return value


def resolve_parameters(
    study: Study, stages: Iterable[str], overrides: Mapping[str, Any] | None = None
) -> dict[str, dict]:
    """Each stage's papermill parameters: study.yaml's ``parameters.<stage>``, then overrides
    (``name=value`` for every stage declaring ``name``, or ``stage.name=value``). An unknown
    name is an error, never a silent no-op."""
    stages = list(stages)
    declared = {s: notebook_parameters(s) for s in stages}
    resolved: dict[str, dict] = {s: {} for s in stages}
    yaml_file = study.root / "study.yaml"
    for stage in stages:
        for name, value in study.stage_parameters(stage).items():
            if name not in declared[stage]:
                raise ParameterError(
                    f"{yaml_file}: parameters.{stage}.{name} is not a parameter of "
                    f"{STAGES[stage].notebook} (it has: {', '.join(sorted(declared[stage])) or 'none'})"
                )
            resolved[stage][name] = _coerce(stage, name, value, declared[stage][name], str(yaml_file))
    for key, value in (overrides or {}).items():
        if "." in key:
            stage, name = key.split(".", 1)
            if stage not in stages:
                raise ParameterError(f"--param {key}: stage '{stage}' is not part of this run ({', '.join(stages)})")
            targets = [stage] if name in declared[stage] else []
        else:
            name = key
            targets = [s for s in stages if name in declared[s]]
        if not targets or name in ("study", "report_dir"):
            known = sorted({n for s in stages for n in declared[s]} - {"study"})
            raise ParameterError(
                f"--param {key}: no stage of this run declares '{name}'. Known parameters: {', '.join(known)}"
            )
        for stage in targets:
            resolved[stage][name] = _coerce(stage, name, value, declared[stage][name], "--param")
    for stage in stages:
        # the values too, with the notebook's defaults for what nobody set: before any stage runs
        defaults = {n: spec.get("default") for n, spec in declared[stage].items()}
        values = {n: _default_value(v) for n, v in defaults.items() if n not in resolved[stage]}
        check_parameters(stage, {**values, **resolved[stage]}, source="parameters")
        resolved[stage]["study"] = str(study.root)
    return resolved


def _default_value(text: Any) -> Any:
    """A notebook parameter's default as papermill reports it (source text) as a value."""
    if not isinstance(text, str):
        return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return value.strip("\"'") if isinstance(value, str) else value


def _add_report_dir(parameters: dict[str, dict], run_dir: Path) -> None:
    """A notebook that declares ``report_dir`` gets the run's folder (to save figures beside
    the HTML); nobody sets it by hand."""
    for stage, params in parameters.items():
        if "report_dir" in notebook_parameters(stage):
            params["report_dir"] = str(run_dir)


@dataclass
class StageRun:
    stage: str
    status: str  # ok | failed | blocked (a stage it reads from failed) | skipped | interrupted
    seconds: float = 0.0
    notebook: str | None = None
    html: str | None = None
    error: str | None = None
    kernel_peak_mb: float | None = None  # peak resident memory of the kernel during the stage
    kernel_start_mb: float | None = None  # its resident memory when the stage began (shared kernel)
    started_s: float | None = None  # when the stage began, seconds after the run began
    kernel: int | None = None  # which kernel ran it (stages that do not depend on each other share the cores)
    duckdb_threads: int | None = None  # DuckDB threads the stage was given (None: DuckDB's default)


@dataclass
class RunResult:
    study: str
    run_id: str
    run_dir: Path
    index: Path
    stages: list[StageRun] = field(default_factory=list)
    status: str = "ok"  # ok | failed (a stage failed, or a report file could not be written) | interrupted
    error: str | None = None  # what failed the run itself (the index or run.json could not be written)
    signal: str | None = None  # SIGINT or SIGTERM, when interrupted

    @property
    def ok(self) -> bool:
        return self.status == "ok" and all(s.status == "ok" for s in self.stages)

    @property
    def interrupted(self) -> bool:
        return self.status == "interrupted"

    @property
    def failed(self) -> StageRun | None:
        return next((s for s in self.stages if s.status == "failed"), None)

    @property
    def blocked(self) -> list[StageRun]:
        return [s for s in self.stages if s.status == "blocked"]


def _make_run_dir(reports: Path, run_id: str | None) -> tuple[str, Path]:
    """reports/<study>/<run-id>/, made here: a run id two runs started in the same second cannot
    share (the second takes the next free suffix)."""
    reports.mkdir(parents=True, exist_ok=True)
    if run_id:
        (reports / run_id).mkdir()
        return run_id, reports / run_id
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    k = 1
    while True:
        candidate = stamp if k == 1 else f"{stamp}-{k}"
        try:
            (reports / candidate).mkdir()
            return candidate, reports / candidate
        except FileExistsError:
            k += 1


def _redacted_record(record: dict | None) -> dict | None:
    """A stage's record for run.json: its sentences redacted (headlines name values of the data,
    a treated region, a touchpoint label, and may quote customers)."""
    if not record:
        return record
    out = dict(record)
    for key in ("headlines", "glance", "notes"):
        if isinstance(out.get(key), list):
            out[key] = [redact(str(line)) for line in out[key]]
    return out


def _error_text(exc: BaseException) -> str:
    """``ename: evalue`` of a stage's error, redacted: it reaches run.json, the index and the
    terminal, and a failing stage may have been printing customer text."""
    return redact_error(exc)


class _Stop:
    """A run's stop switch. SIGINT/SIGTERM (or ``trigger``) sets it and kills every kernel of the
    run at once; workers take no further stage, and the stage a killed kernel was running ends
    within a second or two (nbclient notices the dead kernel) and is recorded "interrupted"."""

    def __init__(self):
        self.event = threading.Event()
        self.signal: str | None = None
        self.kernels: list[SharedKernel] = []

    def is_set(self) -> bool:
        return self.event.is_set()

    def trigger(self, signum: int = signal.SIGINT, frame: Any = None) -> None:
        if not self.event.is_set():
            self.signal = signal.Signals(signum).name
        self.event.set()
        for kernel in list(self.kernels):
            kernel.kill()

    def register(self, kernel: SharedKernel) -> None:
        self.kernels.append(kernel)
        if self.event.is_set():
            kernel.kill()


@contextmanager
def _stopped_by_signals(stop: _Stop) -> Iterator[None]:
    """While the run runs, SIGINT and SIGTERM stop it (only the main thread can handle signals; a
    run started from another thread can be stopped only by its caller)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in before:
        signal.signal(sig, stop.trigger)
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def run_study(
    study: str | os.PathLike | Study,
    stages: Iterable[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    run_id: str | None = None,
    progress: Callable[[str], None] | None = None,
    shared_kernel: bool | None = None,
    workers: int | None = None,
) -> RunResult:
    """Run the stage notebooks of a study and write the report; see module doc.

    ``shared_kernel`` (default: yes, unless the environment sets CXLAB_KERNEL_PER_STAGE=1)
    runs the stages in long-lived kernels, the namespace reset between stages, instead of
    starting a kernel per stage. ``workers`` (default: 2 on a machine with 2 cores or more, or
    CXLAB_PARALLEL_STAGES) is how many kernels run stages at the same time: a stage starts
    when the stages it reads from are done (``schedule.DEPENDS``), the one with the longest
    chain of stages after it first (``schedule.stage_priority``); with kernels per stage,
    stages run one at a time.

    The result's ``status`` is "ok", "failed" (a stage failed, or a report file could not be
    written: ``raise_for_failure`` says which) or "interrupted" (SIGINT/SIGTERM: nothing
    published; the CLI exits 130)."""
    say = progress or (lambda msg: None)
    study = Study.load(study)
    available = available_stages()
    if stages is None:
        selected = available
    else:
        selected = list(stages)
        unknown = [s for s in selected if s not in STAGES]
        if unknown:
            raise ParameterError(f"--stages: unknown stage(s) {', '.join(unknown)}; stages: {', '.join(STAGES)}")
        missing = [s for s in selected if s not in available]
        if missing:
            raise ParameterError(f"--stages: no notebook yet for {', '.join(missing)} in {notebooks_dir()}")
        selected = [s for s in STAGES if s in selected]  # method order
    parameters = resolve_parameters(study, selected, overrides)
    # what study.yaml says that the data contradict (an intervention after the last event, a
    # treated value nobody has): found in a second, before a report folder is made, not minutes
    # later inside a stage
    data.check_study(study).raise_if_errors()

    stop = _Stop()
    with _stopped_by_signals(stop):  # from here on a signal is recorded in the run, never lost
        return _run(study, selected, parameters, run_id, say, shared_kernel, workers, stop)


def _run(study: Study, selected: list[str], parameters: dict, run_id: str | None, say: Callable[[str], None],
         shared_kernel: bool | None, workers: int | None, stop: _Stop) -> RunResult:
    """``run_study`` once the stages and their parameters are known."""
    run_id, run_dir = _make_run_dir(study.reports_dir, run_id)
    _add_report_dir(parameters, run_dir)
    started = dt.datetime.now().astimezone()
    t_run = time.perf_counter()
    meta = {
        "run_id": run_id,
        "study": study.name,
        "study_root": str(study.root),
        "study_key": paths.study_key(study.root),
        "started": started.isoformat(timespec="seconds"),
        "version": __version__,
        "fingerprint": data.fingerprint(study),
        "inputs": _input_digests(study),  # file by file, so a later run can say which input changed
        "engine": study.engine.get("backend", "duckdb"),
        "parameters": parameters,
        "stages": [],
    }
    result = RunResult(study.name, run_id, run_dir, run_dir / "index.html")
    shared = shared_kernel_default() if shared_kernel is None else bool(shared_kernel)
    shared = shared and len(selected) > 1
    workers = (workers or workers_default()) if shared else 1
    meta["kernel"] = "shared" if shared else "per stage"
    meta["workers"] = workers
    workspace = Workspace(study, run_id, selected)
    published: dict = {}
    try:
        try:
            workspace.open()
        except OSError as exc:
            from .html import write_error

            raise write_error(workspace.dir, exc) from None
        with PeakMemory() as memory:
            _run_stages(study, selected, parameters, run_dir, result, memory, say, shared=shared,
                        workers=workers, workspace=workspace, stop=stop)
        # the run's own records: what its stages wrote, whatever another run published since
        meta["summaries"] = {s.stage: _redacted_record(workspace.record(s.stage))
                             for s in result.stages if s.status == "ok"}
        meta["kpis"] = _headline_kpis(study, workspace, result)
        if stop.is_set():
            result.status, result.signal = "interrupted", stop.signal or "SIGINT"
        else:
            try:
                published = workspace.publish([s.stage for s in result.stages if s.status == "ok"])
            except OSError as exc:
                from .html import write_error

                result.status = "failed"
                result.error = f"its outputs could not be published: {write_error(workspace.published, exc)}"
            for stage, why in published.get("held_back", {}).items():
                say(f"[!] {stage} {why}")
    finally:
        workspace.close()
    if result.status == "ok" and result.failed:
        result.status = "failed"
    if result.error:
        meta["error"] = result.error
    meta["runner_peak_mb"] = round(memory.peak_self_mb, 1)
    meta["duration_seconds"] = round(time.perf_counter() - t_run, 2)
    meta["stages"] = [asdict(s) for s in result.stages]
    meta["status"] = result.status
    if result.interrupted:
        meta["interrupted_by"] = result.signal
    meta["published"] = {"to": str(workspace.published), "files": published.get("files", []),
                         "removed": published.get("removed", []), "held_back": published.get("held_back", {})}
    _write_report(study, run_dir, meta, result)
    return result


def _input_digests(study: Study) -> dict:
    from .history import input_digests

    return input_digests(study)


def _headline_kpis(study: Study, workspace: Workspace, result: RunResult) -> list[dict]:
    """The headline KPIs (the objectives stage's KPI table, with intervals and definitions) as
    this run computed them, read from its workspace before it is published: later runs compare
    against these, whatever later runs publish."""
    from .history import HEADLINE_STAGE, headline_kpis

    if not any(s.stage == HEADLINE_STAGE and s.status == "ok" for s in result.stages):
        return []
    table = workspace.dir / STAGES[HEADLINE_STAGE].output("kpis").file
    if not table.exists():
        return []
    import pandas as pd

    return headline_kpis(study, pd.read_parquet(table), workspace.record(HEADLINE_STAGE))


def _write_report(study: Study, run_dir: Path, meta: dict, result: RunResult) -> None:
    """The comparison with the last comparable run, the index, the study's history page, then
    run.json (which says whether the pages could be written), all under the study's history
    lock. A file that cannot be written fails the run with a message naming it; no truncated
    page is left."""
    from .history import compare, history_lock
    from .runs import write_history
    from .html import ReportWriteError, write_error
    from .index import write_index

    def page_failed(page: Path, exc: Exception, what: str) -> None:
        if isinstance(exc, OSError):
            message = str(write_error(page, exc))
        else:
            message = str(exc) if isinstance(exc, ReportWriteError) else f"{type(exc).__name__}: {exc}"
        error = f"{what} could not be written: {message}"
        result.error = f"{result.error}; {error}" if result.error else error
        if result.status == "ok":
            result.status = "failed"
        meta["status"], meta["error"] = result.status, result.error

    with history_lock(study):
        try:
            meta["comparison"] = compare(study, meta)
        except Exception as exc:  # an earlier run.json this cxlab cannot read: the run's own pages still go out
            meta["comparison"] = {"headline": None, "groups": [], "headline_missing":
                                  f"the comparison with earlier runs failed ({type(exc).__name__}: {exc})"}
        try:
            write_index(study, run_dir, meta)
        except (OSError, ReportWriteError) as exc:
            (run_dir / "index.html").unlink(missing_ok=True)
            page_failed(run_dir / "index.html", exc, "the run index")
        try:
            write_history(study, current=meta)
        except Exception as exc:  # a full disk, or an earlier run.json it cannot read: named, run.json still written
            page_failed(study.reports_dir / "history.html", exc, "the run history page")
        try:
            data.write_json(meta, run_dir / "run.json")
        except OSError as exc:
            raise write_error(run_dir / "run.json", exc) from None


def _run_stages(study, selected, parameters, run_dir, result, memory, say, shared=False, workers=1,
                workspace: Workspace | None = None, stop: _Stop | None = None) -> None:
    """Run the selected stages (see ``run_study``): up to ``workers`` at a time, each worker
    with its own shared kernel. A failed stage blocks the stages that read from it, directly or
    through another (status "blocked", naming it); every other stage still runs. Once ``stop``
    is set no stage starts; the stage a killed kernel ran is "interrupted", those never started
    are "skipped"."""
    import papermill  # noqa: F401  (imported before the worker threads start)
    from papermill.exceptions import PapermillExecutionError  # noqa: F401

    from .html import nav_html, render_notebook  # noqa: F401

    stop = stop or _Stop()
    t_run = time.perf_counter()
    duckdb_threads = stage_threads(selected, workers) if shared else {s: None for s in selected}
    priority = stage_priority(selected, last_run_seconds(run_dir.parent))
    deps = dependencies(selected)
    pending = list(selected)
    running: set[str] = set()
    done: dict[str, StageRun] = {}
    state = {"started": 0}
    cond = threading.Condition()

    # The intake stage's work that others wait for is the clean tables: once it has written them
    # (clean.json is written last) the stages that read them may start while intake profiles.
    processed = workspace.dir if workspace is not None else study.processed_dir
    clean_marker, t_wall = processed / "clean.json", time.time()

    def clean_written() -> bool:
        try:
            return clean_marker.stat().st_mtime >= t_wall
        except OSError:
            return False

    def satisfied(dep: str) -> bool:
        if dep in done:
            return done[dep].status == "ok"
        return dep == "intake" and dep in running and clean_written()

    def ready(stage: str) -> bool:
        # the first stage runs alone (intake: until its clean tables are written)
        first_done = stage == selected[0] or selected[0] in done or satisfied(selected[0])
        return first_done and all(satisfied(d) for d in deps[stage])

    def block_dependents() -> None:
        """Stages that read from a failed or blocked stage cannot run: record them as blocked."""
        changed = True
        while changed:
            changed = False
            for stage in list(pending):
                stopped = [d for d in deps[stage] if d in done and done[d].status in ("failed", "blocked")]
                if stopped:
                    cause = done[stopped[0]]
                    root = cause.error.split(": needs ", 1)[-1] if cause.status == "blocked" else stopped[0]
                    pending.remove(stage)
                    done[stage] = StageRun(stage, "blocked", error=f"not run: needs {root}, which failed"
                                           if cause.status == "failed" else f"not run: needs {root}")
                    say(f"[-] {stage} not run: it reads from {stopped[0]}, which "
                        + ("failed" if cause.status == "failed" else "was not run"))
                    changed = True

    def take() -> tuple[str, int] | None:
        with cond:
            while True:
                if stop.is_set():
                    return None
                block_dependents()
                if not pending:
                    return None
                candidates = [s for s in pending if ready(s)]
                if candidates:
                    stage = max(candidates, key=lambda s: (priority[s], -selected.index(s)))
                    pending.remove(stage)
                    running.add(stage)
                    state["started"] += 1
                    return stage, state["started"]
                if not running:  # nothing left can become ready
                    return None
                cond.wait(timeout=0.5)

    def worker(slot: int) -> None:
        kernel = None
        try:
            if shared and slot > 1 and not stop.is_set():
                # start (and import) while the first stage runs, not when the first job comes
                try:
                    kernel = _start_kernel(run_dir, workspace, stop, WARM_ALL_CODE)
                except Exception:  # the stage that gets this worker will try again and report it
                    kernel = None
            while (job := take()) is not None:
                stage, i = job
                try:
                    run, kernel = _run_stage(study, stage, i, len(selected), parameters, run_dir, memory, say,
                                             shared, kernel, slot, t_run, duckdb_threads[stage],
                                             workspace=workspace, stop=stop)
                except Exception as exc:  # never hang the others
                    status = "interrupted" if stop.is_set() else "failed"
                    run = StageRun(stage, status, error=_error_text(exc), kernel=slot)
                with cond:
                    done[stage] = run
                    running.discard(stage)
                    cond.notify_all()
        finally:
            if kernel is not None:
                kernel.close()

    threads = [threading.Thread(target=worker, args=(k + 1,), name=f"cxlab-stage-{k + 1}", daemon=True)
               for k in range(max(1, min(workers, len(selected))))]
    for t in threads:
        t.start()
    deadline = None
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(timeout=0.2)
        if stop.is_set():
            deadline = deadline or time.monotonic() + STOP_GRACE_SECONDS
            if time.monotonic() > deadline:  # a worker that does not stop is left behind (daemon)
                break
    with cond:
        why = f"not run: the run was interrupted ({stop.signal})" if stop.is_set() else None
        for s in selected:
            if s in done:
                result.stages.append(done[s])
            elif s in running:
                result.stages.append(StageRun(s, "interrupted", error=f"stopped by {stop.signal}"))
            else:
                result.stages.append(StageRun(s, "skipped", error=why))


def _start_kernel(run_dir: Path, workspace: Workspace | None, stop: _Stop, warm: str) -> SharedKernel:
    """A kernel of the run: its stages see the run's workspace (environment), its connection file
    lives in the workspace, and the run's stop switch can kill it from the moment it exists."""
    if workspace is None:
        return SharedKernel(run_dir, warm=warm, on_start=stop.register)
    return SharedKernel(run_dir, warm=warm, env={**os.environ, **workspace.env()},
                        connection_file=workspace.connection_file(), on_start=stop.register)


def _run_stage(study, stage, i, n, parameters, run_dir, memory, say, shared, kernel, slot, t_run, threads=None,
               *, workspace: Workspace | None = None, stop: _Stop | None = None):
    """Run one stage notebook and render it; returns (StageRun, the worker's kernel)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from .html import ReportWriteError, nav_html, render_notebook

    stop = stop or _Stop()
    say(f"[{i}/{n}] {stage} …")
    executed = run_dir / STAGES[stage].notebook
    t0 = time.perf_counter()
    error = None
    start_mb = None
    own = None  # the stage's own kernel, when kernels are not shared
    peak = 0.0
    try:
        if shared:
            if kernel is None:
                # start-up counts towards the worker's first stage
                kernel = _start_kernel(run_dir, workspace, stop, WARM_CODE)
                if threads is not None:
                    kernel.execute(threads_code(threads))
            else:
                kernel.execute(RESET_CODE + threads_code(threads))
            start_mb = memory.start_stage(kernel.pid) if kernel.pid else memory.children_mb()
            km = kernel.km
        else:
            own = _start_kernel(run_dir, workspace, stop, "")
            if own.pid:
                memory.start_stage(own.pid)
            km = own.km
        papermill.execute_notebook(
            str(notebooks_dir() / STAGES[stage].notebook), str(executed), parameters=parameters[stage],
            kernel_name="python3", progress_bar=False, km=km,
        )
    except PapermillExecutionError as exc:
        error = _error_text(exc)
    except Exception as exc:  # kernel died, notebook unreadable: still report the stage
        error = _error_text(exc)
    finally:
        if own is not None:
            peak = memory.peak_of(own.pid) if own.pid else memory.peak_child_mb
            own.close()
    seconds = time.perf_counter() - t0
    if shared and kernel is not None and kernel.pid:
        peak = memory.peak_of(kernel.pid)
    if stop.is_set() and error is not None:
        # stopped: no page for a half-run stage; the executed notebook shows how far it got
        say(f"[{i}/{n}] {stage} interrupted after {seconds:.1f} s")
        return StageRun(stage, "interrupted", round(seconds, 2), executed.name if executed.exists() else None,
                        None, f"stopped by {stop.signal}", round(peak, 1), None, round(t0 - t_run, 2), slot,
                        threads), kernel
    html_name = None
    if executed.exists():
        # what a stage printed (stdout, stderr, a traceback quoting a comment) stays in the
        # executed notebook and its page: redacted first, on every stage, failed or not
        try:
            redact_notebook_file(executed)
        except Exception:  # an unreadable notebook: rendering it below reports the problem
            pass
        title = STAGES[stage].title if stage in STAGES else stage
        target = run_dir / executed.with_suffix(".html").name
        try:
            render_notebook(executed, target, failed=error is not None, nav=nav_html("index.html", title))
            html_name = target.name
        except ReportWriteError as exc:  # disk full, no permission: no page under its name
            page = f"its report page could not be written: {exc}"
            error = f"{error}; {page}" if error else page
        except Exception as exc:  # an executed notebook cut short (written on a full disk)
            page = f"its report page could not be made from {executed.name}: {_error_text(exc)}"
            error = f"{error}; {page}" if error else page
    run = StageRun(stage, "failed" if error else "ok", round(seconds, 2),
                   executed.name if executed.exists() else None, html_name, error, round(peak, 1),
                   round(start_mb, 1) if start_mb is not None else None,
                   round(t0 - t_run, 2), slot, threads)
    say(f"[{i}/{n}] {stage} {'FAILED' if error else 'done'} in {seconds:.1f} s"
        + (f": {error}" if error else ""))
    return run, kernel


def raise_for_failure(result: RunResult) -> None:
    """Raise a ``StageError`` naming what failed (a stage, a report file) or that the run was
    interrupted; nothing when the run is ok."""
    failed = result.failed
    if failed:
        failures = [s for s in result.stages if s.status == "failed"]
        more = "".join(f"\nStage '{s.stage}' failed too: {s.error}" for s in failures[1:])
        blocked = result.blocked
        not_run = (f"\nNot run, as they read from a failed stage: {', '.join(s.stage for s in blocked)}."
                   if blocked else "")
        ran = [s.stage for s in result.stages if s.status == "ok"]
        also = f"\nAnd {result.error}" if result.error else ""
        raise StageError(
            f"Stage '{failed.stage}' failed: {failed.error}{more}{not_run}{also}\n"
            f"Ran: {', '.join(ran) or 'nothing'}. "
            f"The executed notebooks and their HTML are in {result.run_dir}; index: {result.index}"
        )
    if result.interrupted:
        stopped = [s.stage for s in result.stages if s.status == "interrupted"]
        raise StageError(
            f"The run was interrupted ({result.signal}); stopped: {', '.join(stopped) or 'no stage was running'}. "
            f"Nothing of it was published; run.json: {result.run_dir / 'run.json'}"
        )
    if result.status == "failed":
        raise StageError(f"Every stage ran, but {result.error}. Run folder: {result.run_dir}")
