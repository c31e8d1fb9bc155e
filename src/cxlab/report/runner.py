"""`cxlab run`: execute the stage notebooks with papermill and render the report.

A run writes reports/<study>/<run-id>/: each executed notebook, its HTML (no code), run.json
(metadata) and index.html (the study's headline findings, linking to each stage). A failing
stage stops only the stages that read from it (they are marked blocked, naming it); the others
still run, and everything that ran, the failed notebook included, is rendered.
"""
from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import yaml

from .. import __version__, data
from ..errors import ParameterError, StageError, StudyError
from ..stages import STAGES, read_record
from ..study import Study
from .kernels import RESET_CODE, WARM_ALL_CODE, PeakMemory, SharedKernel, threads_code
from .schedule import (dependencies, last_run_seconds, shared_kernel_default, stage_priority, stage_threads,
                       workers_default)

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
]

_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict}


def notebooks_dir() -> Path:
    """The stage notebooks: CXLAB_NOTEBOOKS, else notebooks/ of the checkout cxlab runs from."""
    env = os.environ.get("CXLAB_NOTEBOOKS")
    folder = Path(env) if env else Path(__file__).resolve().parents[3] / "notebooks"
    if not folder.is_dir():
        raise StudyError(
            f"No stage notebooks at {folder}. Run cxlab from its source checkout "
            "(pip install -e .) or set CXLAB_NOTEBOOKS to the notebooks folder."
        )
    return folder


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
        resolved[stage]["study"] = str(study.root)
    return resolved


def _add_report_dir(parameters: dict[str, dict], run_dir: Path) -> None:
    """A notebook that declares ``report_dir`` gets the run's folder (to save figures beside
    the HTML); nobody sets it by hand."""
    for stage, params in parameters.items():
        if "report_dir" in notebook_parameters(stage):
            params["report_dir"] = str(run_dir)


@dataclass
class StageRun:
    stage: str
    status: str  # ok | failed | blocked (a stage it reads from failed) | skipped
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

    @property
    def ok(self) -> bool:
        return all(s.status == "ok" for s in self.stages)

    @property
    def failed(self) -> StageRun | None:
        return next((s for s in self.stages if s.status == "failed"), None)

    @property
    def blocked(self) -> list[StageRun]:
        return [s for s in self.stages if s.status == "blocked"]


def _new_run_id(reports: Path) -> str:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_id, k = stamp, 1
    while (reports / run_id).exists():
        k += 1
        run_id = f"{stamp}-{k}"
    return run_id


def _error_text(exc: BaseException) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    return f"{ename}: {evalue}".strip()


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
    stages run one at a time."""
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

    reports = study.reports_dir
    run_id = run_id or _new_run_id(reports)
    run_dir = reports / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    _add_report_dir(parameters, run_dir)
    started = dt.datetime.now().astimezone()
    t_run = time.perf_counter()
    meta = {
        "run_id": run_id,
        "study": study.name,
        "study_root": str(study.root),
        "started": started.isoformat(timespec="seconds"),
        "version": __version__,
        "fingerprint": data.fingerprint(study),
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
    with PeakMemory() as memory:
        _run_stages(study, selected, parameters, run_dir, result, memory, say, shared=shared, workers=workers)
    meta["runner_peak_mb"] = round(memory.peak_self_mb, 1)
    meta["duration_seconds"] = round(time.perf_counter() - t_run, 2)
    meta["stages"] = [asdict(s) for s in result.stages]
    meta["summaries"] = {s.stage: read_record(study, s.stage) for s in result.stages if s.status == "ok"}
    data.write_json(meta, run_dir / "run.json")
    from .index import write_index

    write_index(study, run_dir, meta)
    return result


def _run_stages(study, selected, parameters, run_dir, result, memory, say, shared=False, workers=1) -> None:
    """Run the selected stages (see ``run_study``): up to ``workers`` at a time, each worker
    with its own shared kernel. A failed stage blocks the stages that read from it, directly or
    through another (status "blocked", naming it); every other stage still runs."""
    import threading

    import papermill  # noqa: F401  (imported before the worker threads start)
    from papermill.exceptions import PapermillExecutionError  # noqa: F401

    from .html import nav_html, render_notebook  # noqa: F401

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
    clean_marker, t_wall = study.processed_dir / "clean.json", time.time()

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
                cond.wait(timeout=0.5 if "intake" in running else None)

    def worker(slot: int) -> None:
        kernel = None
        try:
            if shared and slot > 1:
                # start (and import) while the first stage runs, not when the first job comes
                try:
                    kernel = SharedKernel(run_dir, warm=WARM_ALL_CODE)
                except Exception:  # the stage that gets this worker will try again and report it
                    kernel = None
            while (job := take()) is not None:
                stage, i = job
                try:
                    run, kernel = _run_stage(study, stage, i, len(selected), parameters, run_dir, memory, say,
                                             shared, kernel, slot, t_run, duckdb_threads[stage])
                except Exception as exc:  # rendering failed: still report the stage, never hang the others
                    run = StageRun(stage, "failed", error=_error_text(exc), kernel=slot)
                with cond:
                    done[stage] = run
                    running.discard(stage)
                    cond.notify_all()
        finally:
            if kernel is not None:
                kernel.close()

    threads = [threading.Thread(target=worker, args=(k + 1,), name=f"cxlab-stage-{k + 1}")
               for k in range(max(1, min(workers, len(selected))))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.stages.extend(done.get(s) or StageRun(s, "skipped") for s in selected)


def _run_stage(study, stage, i, n, parameters, run_dir, memory, say, shared, kernel, slot, t_run, threads=None):
    """Run one stage notebook and render it; returns (StageRun, the worker's kernel)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from .html import nav_html, render_notebook

    say(f"[{i}/{n}] {stage} …")
    executed = run_dir / STAGES[stage].notebook
    # a summary left by an earlier run must not pass for this run's findings
    (study.processed_dir / f"summary_{stage}.json").unlink(missing_ok=True)
    t0 = time.perf_counter()
    error = None
    start_mb = None
    try:
        if shared:
            if kernel is None:
                kernel = SharedKernel(run_dir)  # start-up counts towards the worker's first stage
                if threads is not None:
                    kernel.execute(threads_code(threads))
            else:
                kernel.execute(RESET_CODE + threads_code(threads))
            start_mb = memory.start_stage(kernel.pid) if kernel.pid else memory.children_mb()
            papermill.execute_notebook(
                str(notebooks_dir() / STAGES[stage].notebook), str(executed), parameters=parameters[stage],
                kernel_name="python3", progress_bar=False, km=kernel.km,
            )
        else:
            memory.peak_child_mb = 0.0
            papermill.execute_notebook(
                str(notebooks_dir() / STAGES[stage].notebook), str(executed), parameters=parameters[stage],
                kernel_name="python3", progress_bar=False, cwd=str(run_dir),
                # the kernel's own start-up warnings are noise in a scheduled job's log
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
            )
    except PapermillExecutionError as exc:
        error = _error_text(exc)
    except Exception as exc:  # kernel died, notebook unreadable: still report the stage
        error = _error_text(exc)
    seconds = time.perf_counter() - t0
    if shared and kernel is not None and kernel.pid:
        peak = memory.peak_of(kernel.pid)
    else:
        peak = memory.peak_child_mb
    html_name = executed.with_suffix(".html").name
    title = STAGES[stage].title if stage in STAGES else stage
    if executed.exists():
        render_notebook(executed, run_dir / html_name, failed=error is not None, nav=nav_html("index.html", title))
    run = StageRun(stage, "failed" if error else "ok", round(seconds, 2), executed.name,
                   html_name if executed.exists() else None, error, round(peak, 1),
                   round(start_mb, 1) if start_mb is not None else None,
                   round(t0 - t_run, 2), slot, threads)
    say(f"[{i}/{n}] {stage} {'FAILED' if error else 'done'} in {seconds:.1f} s"
        + (f": {error}" if error else ""))
    return run, kernel


def raise_for_failure(result: RunResult) -> None:
    failed = result.failed
    if failed:
        failures = [s for s in result.stages if s.status == "failed"]
        more = "".join(f"\nStage '{s.stage}' failed too: {s.error}" for s in failures[1:])
        blocked = result.blocked
        not_run = (f"\nNot run, as they read from a failed stage: {', '.join(s.stage for s in blocked)}."
                   if blocked else "")
        ran = [s.stage for s in result.stages if s.status == "ok"]
        raise StageError(
            f"Stage '{failed.stage}' failed: {failed.error}{more}{not_run}\n"
            f"Ran: {', '.join(ran) or 'nothing'}. "
            f"The executed notebooks and their HTML are in {result.run_dir}; index: {result.index}"
        )
