"""Benchmark: the touchpoint operations, and optionally the whole method, on local Spark.

    .venv/bin/python benchmarks/spark_bench.py --sizes 1m            # the four operations
    .venv/bin/python benchmarks/spark_bench.py --sizes 1m,10m --whole 1m
    .venv/bin/python benchmarks/spark_bench.py --combine spark_a.json spark_b.json [--partial 10m=<event log>]

(``--combine`` writes one report from runs of single sizes; ``--partial`` adds the completed stages
of a run that was stopped, read from its Spark event log, ``.inprogress`` included.)

For each size it uses the foreign Zipf log of ``benchmarks/foreign_bench.py`` (written once, by
the same code) and makes a Spark copy of its study, ``benchmarks/studies/foreign_<size>_spark/``:
the same events file (a hard link), the same study.yaml plus

    engine: {backend: pyspark, master: "local[2]", shuffle_partitions: N, conf: {spark.driver.memory: …}}

Then, each in a fresh process (``CXLAB_HOME`` = benchmarks/studies/_home, as foreign_bench):

- **the four operations** (inventory, transitions with start/end, the ordered 4-step funnel in 30
  days, the top-20 variants), cold, without bootstrap rankings: ``foreign_bench.cxlab_worker`` on
  the Spark study, so the calls and the result check are foreign_bench's own; the check must
  equal DuckDB's on the same log (``foreign_bench``'s cxlab worker, run first) or the benchmark
  fails;
- optionally **the whole method**, ``cxlab run <study>`` (``--whole``).

Measured per run:

- wall time; CPU time of the whole process tree: the Python driver, the JVM that PySpark starts
  and (for ``cxlab run``) the kernels and their JVMs. This process makes itself a child subreaper
  (``PR_SET_CHILD_SUBREAPER``), so a JVM left behind when its Python exits is reparented here, and
  reaps every descendant with ``wait4``; the CPU time is ``getrusage(RUSAGE_CHILDREN)`` before and
  after (user + system of every reaped descendant, every thread);
- peak memory per process: for the operations, the driver's own ``ru_maxrss`` and the JVM's
  ``VmHWM`` (/proc), read by the worker before it stops Spark; for ``cxlab run``, every process
  of the tree sampled twice a second (``VmHWM`` of each, the largest per kind);
- per operation: wall time, the driver's CPU time and the JVM's CPU time (``psutil`` on the JVM
  before and after);
- per Spark stage, from Spark's event log (``spark.eventLog.enabled``, written by Spark's
  EventLoggingListener, a SparkListener; the same task metrics the REST API on port 4040 serves,
  but kept after the process ends, which ``cxlab run``'s kernels do): the operation it ran for
  (the worker sets a job group per operation), tasks, the physical operators (Exchange, Window,
  HashAggregate, InMemoryTableScan …), input bytes, shuffle read and write bytes, spill, run and
  CPU time of the tasks.

From the shuffle bytes per event, ``shuffle_plan`` extrapolates to a larger log (1B events by
default): shuffle volume per operation and spark.sql.shuffle.partitions for 128–256 MB per
partition (arithmetic, printed with the report).

Results: benchmarks/results/spark_<date>_<commit>.md and .json, and spark_latest.md.
"""
from __future__ import annotations

import argparse
import ctypes
import datetime as dt
import functools
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import foreign_bench as fb  # noqa: E402
from machine import describe, summary  # noqa: E402

SIZES = fb.SIZES
OPS = fb.OPS
EVENT_LOGS = Path(tempfile.gettempdir()) / "cxlab-spark-bench-events"
# spark.sql.shuffle.partitions per size on this 2-core machine (about 4 per core at 1M; at 10M
# enough that a partition of the largest shuffle stays well below the driver's memory)
PARTITIONS = {"100k": 4, "1m": 8, "10m": 32}
DRIVER_MEMORY = {"100k": "1g", "1m": "2g", "10m": "4g"}
MB = 1024 ** 2


# ============================================================================ the Spark study
def spark_study(folder: Path, partitions: int, driver_memory: str | None, master: str = "local[2]") -> Path:
    """The Spark copy of the foreign study in ``folder``: ``<folder>_spark`` with the same events
    file (a hard link; a copy where links are not possible) and the same study.yaml plus an
    engine section. Rewritten only when something changed (its clean tables stay valid)."""
    import yaml

    target = folder.with_name(folder.name + "_spark")
    target.mkdir(parents=True, exist_ok=True)
    src, dst = folder / "events.parquet", target / "events.parquet"
    if not dst.exists() or os.stat(dst).st_ino != os.stat(src).st_ino:
        dst.unlink(missing_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
    config = yaml.safe_load((folder / "study.yaml").read_text(encoding="utf-8"))
    config["engine"] = {"backend": "pyspark", "master": master, "shuffle_partitions": int(partitions)}
    if driver_memory:
        config["engine"]["conf"] = {"spark.driver.memory": driver_memory}
    text = yaml.safe_dump(config, sort_keys=False, width=1000)
    if not (target / "study.yaml").exists() or (target / "study.yaml").read_text(encoding="utf-8") != text:
        (target / "study.yaml").write_text(text, encoding="utf-8")
    return target


def event_log_args(folder: Path) -> str:
    """PYSPARK_SUBMIT_ARGS that make every Spark session of a process (and of its kernels) write
    its event log into ``folder``; study.yaml stays as a user writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    conf = {"spark.eventLog.enabled": "true", "spark.eventLog.dir": folder.resolve().as_uri(),
            "spark.eventLog.compress": "false", "spark.eventLog.rolling.enabled": "false",
            "spark.ui.showConsoleProgress": "false"}
    return " ".join(f"--conf {k}={v}" for k, v in conf.items()) + " pyspark-shell"


# ============================================================================ the worker
def _jvms():
    import psutil

    return [p for p in psutil.Process().children(recursive=True) if p.name() == "java"]


def _jvm_cpu() -> float:
    total = 0.0
    for p in _jvms():
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except Exception:  # gone
            pass
    return total


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def spark_worker(study_dir: Path) -> dict:
    """The four operations on the Spark study (foreign_bench's cxlab worker, its calls and its
    check), each under a Spark job group named after it; plus the session's start, the JVM's
    CPU per operation and the peaks of the driver and the JVM."""
    import resource

    from pyspark.sql import SparkSession

    from cxlab import engine
    from cxlab import touchpoints as tp
    from cxlab.study import Study

    w0, c0 = time.perf_counter(), fb._cpu()
    engine.connect(Study.load(study_dir))  # the session (and its JVM) start here, timed apart
    sc = SparkSession.builder.getOrCreate().sparkContext
    start = {"wall": time.perf_counter() - w0, "driver_cpu": fb._cpu() - c0, "jvm_cpu": _jvm_cpu()}
    jvm_cpu = {}
    originals = {op: getattr(tp, name) for op, name in
                 (("inventory", "inventory"), ("transitions", "transitions"), ("funnel", "funnel"),
                  ("variants", "variants"))}

    def grouped(op, function):
        @functools.wraps(function)  # cxlab_worker reads the signature (n_resamples)
        def run(*args, **kwargs):
            sc.setJobGroup(op, f"cxlab {op}")
            before = _jvm_cpu()
            try:
                return function(*args, **kwargs)
            finally:
                jvm_cpu[op] = _jvm_cpu() - before
                sc.setLocalProperty("spark.jobGroup.id", None)
                sc.setLocalProperty("spark.job.description", None)
        return run

    for op, function in originals.items():
        setattr(tp, op, grouped(op, function))
    try:
        res = fb.cxlab_worker(study_dir)
    finally:
        for op, function in originals.items():
            setattr(tp, op, function)
    try:  # what the session holds cached now (the journey table); the event log has no sizes
        cached = [{"name": str(r.name())[:200], "bytes": int(r.memSize()) + int(r.diskSize()),
                   "memory_bytes": int(r.memSize()), "disk_bytes": int(r.diskSize()),
                   "partitions": int(r.numCachedPartitions())} for r in sc._jsc.sc().getRDDStorageInfo()]
        logs = sc.getConf().get("spark.eventLog.dir")  # written beside the event log
        if logs and logs.startswith("file:"):
            from urllib.parse import urlparse

            Path(urlparse(logs).path, f"{sc.applicationId}.storage.json").write_text(json.dumps(cached))
    except Exception as error:  # a measurement, not the benchmark's result
        print(f"storage info not read: {error}", file=sys.stderr)
    jvms = _jvms()
    res.update(start=start, jvm_cpu=jvm_cpu, app_id=sc.applicationId,
               driver_cpu_total=fb._cpu(), jvm_cpu_total=_jvm_cpu(),
               driver_peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               jvm_peak_mb=max((_vm_hwm_mb(p.pid) or 0) for p in jvms) if jvms else None)
    return res


# ============================================================================ measuring a process tree
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class _Sampler(threading.Thread):
    """Every ``every`` seconds, the peak resident memory (VmHWM) of each descendant, by kind."""

    def __init__(self, every: float = 0.5):
        super().__init__(daemon=True)
        self.every, self.peaks, self.kinds, self.done = every, {}, {}, threading.Event()

    def run(self):
        import psutil

        me = psutil.Process()
        while not self.done.wait(self.every):
            for p in me.children(recursive=True):
                try:
                    if p.pid not in self.kinds:
                        cmd = " ".join(p.cmdline())
                        self.kinds[p.pid] = ("jvm" if p.name() == "java" else "kernel" if "ipykernel" in cmd
                                             else "runner" if " run " in f" {cmd} " else p.name())
                except Exception:
                    continue
                peak = _vm_hwm_mb(p.pid)
                if peak:
                    self.peaks[p.pid] = max(peak, self.peaks.get(p.pid, 0))

    def by_kind(self) -> dict:
        out = defaultdict(list)
        for pid, peak in self.peaks.items():
            out[self.kinds.get(pid, "?")].append(round(peak, 1))
        return {k: sorted(v, reverse=True) for k, v in out.items()}


def measured_tree(cmd: list[str], env: dict, orphan_wait: float = 120.0) -> dict:
    """Run ``cmd``; wall time, CPU time of the whole tree (every descendant reaped here, orphans
    too: this process is a child subreaper), per-process peaks (sampled), load and output."""
    import resource

    def children_cpu():
        u = resource.getrusage(resource.RUSAGE_CHILDREN)
        return u.ru_utime + u.ru_stime

    cpu0, load0 = children_cpu(), os.getloadavg()[0]
    sampler = _Sampler()
    sampler.start()
    with tempfile.TemporaryFile() as errors:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, cwd=ROOT, env=env)
        out = proc.stdout.read()
        _, status, _ = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        # descendants left behind (a JVM shutting down after its Python) come to this process
        deadline, orphans = time.monotonic() + orphan_wait, 0
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid:
                orphans += 1
            elif time.monotonic() > deadline:
                break
            else:
                time.sleep(0.1)
        tree_wall = time.perf_counter() - t0
        sampler.done.set()
        sampler.join()
        if proc.returncode:
            errors.seek(0)
            raise SystemExit(f"{' '.join(cmd[:5])} … failed:\n{errors.read().decode(errors='replace')[-4000:]}")
    return {"wall": wall, "tree_wall": tree_wall, "cpu": children_cpu() - cpu0, "orphans_reaped": orphans,
            "peaks_mb": sampler.by_kind(), "stdout": out.decode(), "load1_before": load0,
            "load1_after": os.getloadavg()[0]}


# ============================================================================ Spark's event log
def _scope_names(stage_info: dict) -> list[str]:
    names = []
    for rdd in stage_info.get("RDD Info", []):
        try:
            name = json.loads(rdd.get("Scope") or "{}").get("name")
        except ValueError:
            name = None
        if name:
            name = name.split(" (")[0].split("(")[0].strip()
            if name and name not in names and name not in ("mapPartitionsInternal", "map", "mapPartitions"):
                names.append(name)
    return names


def read_event_log(path: Path) -> dict:
    """Per completed stage of one Spark application's event log: its job group (the operation),
    tasks, physical operators and task metrics (bytes, seconds). Reads a log still being written
    (``.inprogress``) as far as it goes."""
    group_of_stage, stages, app = {}, [], {}
    task_peak = defaultdict(lambda: [0, 0])  # per stage: the largest task's execution memory, shuffle read
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                ev = json.loads(line)
            except ValueError:  # the last line of a log still being written
                continue
            kind = ev.get("Event")
            if kind == "SparkListenerApplicationStart":
                app = {"id": ev.get("App ID"), "start_ms": ev.get("Timestamp")}
            elif kind == "SparkListenerJobStart":
                group = (ev.get("Properties") or {}).get("spark.jobGroup.id") or "(none)"
                for sid in ev.get("Stage IDs", []):
                    group_of_stage[sid] = group
            elif kind == "SparkListenerTaskEnd":
                m = ev.get("Task Metrics") or {}
                read = m.get("Shuffle Read Metrics") or {}
                peak = task_peak[ev.get("Stage ID")]
                peak[0] = max(peak[0], int(m.get("Peak Execution Memory") or 0))
                peak[1] = max(peak[1], int(read.get("Remote Bytes Read") or 0) + int(read.get("Local Bytes Read") or 0))
            elif kind == "SparkListenerStageCompleted":
                info = ev["Stage Info"]
                acc = {a["Name"]: a.get("Value") for a in info.get("Accumulables", []) if "Name" in a}

                def metric(name):
                    try:
                        return int(float(acc.get(f"internal.metrics.{name}", 0) or 0))
                    except (TypeError, ValueError):
                        return 0
                stages.append({
                    "stage": info["Stage ID"], "attempt": info.get("Stage Attempt ID", 0),
                    "op": group_of_stage.get(info["Stage ID"], "(none)"), "tasks": info.get("Number of Tasks"),
                    "operators": _scope_names(info),
                    "seconds": ((info.get("Completion Time") or 0) - (info.get("Submission Time") or 0)) / 1000,
                    "input_bytes": metric("input.bytesRead"), "input_records": metric("input.recordsRead"),
                    "shuffle_write_bytes": metric("shuffle.write.bytesWritten"),
                    "shuffle_write_records": metric("shuffle.write.recordsWritten"),
                    "shuffle_read_bytes": metric("shuffle.read.remoteBytesRead") + metric("shuffle.read.localBytesRead"),
                    "shuffle_read_records": metric("shuffle.read.recordsRead"),
                    "spill_memory_bytes": metric("memoryBytesSpilled"), "spill_disk_bytes": metric("diskBytesSpilled"),
                    "task_peak_execution_memory": task_peak[info["Stage ID"]][0],
                    "task_max_shuffle_read_bytes": task_peak[info["Stage ID"]][1],
                    "task_run_s": metric("executorRunTime") / 1000, "task_cpu_s": metric("executorCpuTime") / 1e9,
                    "gc_s": metric("jvmGCTime") / 1000,
                    "result_bytes": metric("resultSize"),
                })
    storage = path.with_name(path.name + ".storage.json")  # written by the worker (the event log has no sizes)
    cached = json.loads(storage.read_text()) if storage.exists() else []
    return {"app": app, "stages": stages, "cached": cached}


def per_operation(stages: list[dict]) -> dict:
    """Stage metrics summed per operation (job group)."""
    keys = ("tasks", "input_bytes", "shuffle_write_bytes", "shuffle_read_bytes", "spill_disk_bytes",
            "task_run_s", "task_cpu_s", "gc_s", "result_bytes")
    out: dict = {}
    for s in stages:
        row = out.setdefault(s["op"], {k: 0 for k in keys} | {"stages": 0, "largest_shuffle_write_bytes": 0})
        row["stages"] += 1
        for k in keys:
            row[k] += s.get(k) or 0
        row["largest_shuffle_write_bytes"] = max(row["largest_shuffle_write_bytes"], s["shuffle_write_bytes"])
    return out


# ============================================================================ extrapolation
def shuffle_plan(measured: dict[int, int], target_events: int = 1_000_000_000,
                 partition_mb: tuple[int, int] = (128, 256)) -> dict:
    """Extrapolate shuffle bytes measured at some log sizes (``{events: bytes}``) to
    ``target_events``, linearly from the largest measured size (bytes per event there), and the
    shuffle partitions that give ``partition_mb`` per partition (the larger size gives the
    smaller count). ``growth`` is bytes per event at the largest size over bytes per event at the
    smallest (1.0: exactly linear)."""
    if not measured:
        raise ValueError("no measurements")
    sizes = sorted(measured)
    largest, smallest = sizes[-1], sizes[0]
    per_event = measured[largest] / largest
    first = measured[smallest] / smallest
    volume = per_event * target_events
    low_mb, high_mb = partition_mb
    return {"bytes_per_event": per_event, "growth": (per_event / first) if first else None,
            "from_events": largest, "target_events": target_events, "bytes": volume,
            "partitions": (max(1, math.ceil(volume / (high_mb * MB))), max(1, math.ceil(volume / (low_mb * MB))))}


def check_agrees(reference: dict, spark: dict) -> list[str]:
    """What differs between the DuckDB check and the Spark check (empty: the same results)."""
    return fb.differences(reference, spark)


# ============================================================================ the runner
def say(msg: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {msg}", flush=True)


def _env(logs: Path) -> dict:
    return {**os.environ, "CXLAB_HOME": str(fb.HOME), "PYSPARK_SUBMIT_ARGS": event_log_args(logs)}


def _new_logs(logs: Path, before: set) -> list[Path]:
    return sorted(p for p in logs.iterdir() if p.name not in before and not p.name.endswith((".inprogress", ".json")))


def run_ops(folder: Path, logs: Path) -> dict:
    before = {p.name for p in logs.iterdir()}
    run = measured_tree([sys.executable, __file__, "--worker", "--study", str(folder)], _env(logs))
    res = json.loads(run["stdout"].strip().splitlines()[-1])
    files = [p for p in _new_logs(logs, before) if p.name.startswith(res["app_id"])]
    log = read_event_log(files[0]) if files else {"stages": [], "cached": []}
    stages = log["stages"]
    return {"process_wall": run["wall"], "tree_wall": run["tree_wall"], "tree_cpu": run["cpu"],
            "driver_cpu": res["driver_cpu_total"], "jvm_cpu": res["jvm_cpu_total"],
            "driver_peak_mb": res["driver_peak_mb"], "jvm_peak_mb": res["jvm_peak_mb"],
            "load1": [run["load1_before"], run["load1_after"]], "start": res["start"],
            "op_wall": res["wall"], "op_driver_cpu": res["cpu"], "op_jvm_cpu": res["jvm_cpu"],
            "stages": stages, "per_op": per_operation(stages), "cached": log["cached"], "check": res["check"],
            "event_log": str(files[0]) if files else None}


def run_whole(folder: Path, logs: Path) -> dict:
    before = {p.name for p in logs.iterdir()}
    cli = str(Path(sys.executable).with_name("cxlab"))
    run = measured_tree([cli, "run", str(folder)], _env(logs), orphan_wait=180)
    apps = [read_event_log(p) for p in _new_logs(logs, before)]
    stages = [s for a in apps for s in a["stages"]]
    stage_times = {}
    runs = sorted((fb.HOME / "reports").glob(f"{folder.name}-*/*/run.json"), key=lambda p: p.stat().st_mtime)
    if runs:
        meta = json.loads(runs[-1].read_text())
        stage_times = {s["stage"]: {"status": s["status"], "seconds": s["seconds"], "kernel_peak_mb": s.get("kernel_peak_mb")}
                       for s in meta.get("stages", [])}
    return {"wall": run["wall"], "tree_wall": run["tree_wall"], "tree_cpu": run["cpu"], "peaks_mb": run["peaks_mb"],
            "load1": [run["load1_before"], run["load1_after"]], "spark_apps": len(apps),
            "shuffle_write_bytes": sum(s["shuffle_write_bytes"] for s in stages),
            "input_bytes": sum(s["input_bytes"] for s in stages), "task_cpu_s": sum(s["task_cpu_s"] for s in stages),
            "stages_run": len(stages), "per_stage": stage_times}


def bench_size(size: str, rounds: int, whole: bool, partitions: int | None, driver_memory: str | None) -> dict:
    folder, intake = fb.prepare(size)
    say(f"{folder.name}: DuckDB reference (foreign_bench's cxlab worker)")
    duck = fb.run_approach("cxlab", folder)
    parts = partitions or PARTITIONS[size]
    spark_folder = spark_study(folder, parts, driver_memory or DRIVER_MEMORY[size])
    spark_intake = _clean(spark_folder)
    logs = EVENT_LOGS / spark_folder.name
    logs.mkdir(parents=True, exist_ok=True)
    runs = []
    for r in range(1, rounds + 1):
        say(f"{spark_folder.name}: the four operations on Spark, round {r}")
        run = run_ops(spark_folder, logs)
        problems = check_agrees(duck["check"], run["check"])
        if problems:
            raise SystemExit(f"Spark gives other results than DuckDB at {size}:\n  " + "\n  ".join(problems))
        say(f"  {run['tree_cpu']:.1f} s CPU (tree), {run['process_wall']:.1f} s wall, driver {run['driver_peak_mb']:,.0f} MB, "
            f"JVM {run['jvm_peak_mb'] or 0:,.0f} MB; operations " + ", ".join(f"{op} {run['op_wall'][op]:.1f} s" for op in OPS))
        runs.append({k: v for k, v in run.items() if k != "check"})
    out = {"size": size, "events": SIZES[size], "customers": SIZES[size] // 10, "partitions": parts,
           "driver_memory": driver_memory or DRIVER_MEMORY[size], "intake": spark_intake,
           "duckdb": {k: duck[k] for k in ("process_wall", "process_cpu", "peak_mb", "ops_wall", "ops_cpu", "wall", "cpu")},
           "runs": runs, "agree": True}
    if whole:
        say(f"{spark_folder.name}: the whole method (cxlab run)")
        out["whole"] = run_whole(spark_folder, logs)
        say(f"  {out['whole']['wall']:.0f} s wall, {out['whole']['tree_cpu']:.0f} s CPU")
    return out


def _clean(folder: Path) -> dict | None:
    """The Spark study's clean tables (written by DuckDB in cxlab's intake, as for any study),
    timed once; None when they were current."""
    probe = ("import sys; from cxlab import data; from cxlab.study import Study; s = Study.load(sys.argv[1]); "
             "print(data.clean_fingerprint(s) == data.fingerprint(s))")
    if fb.measured([sys.executable, "-c", probe, str(folder)])["stdout"].strip() == "True":
        return None
    say(f"{folder.name}: cxlab intake (clean tables)")
    run = fb.measured([sys.executable, "-c", "import sys; from cxlab import data; data.ensure_clean(sys.argv[1])", str(folder)])
    return {k: run[k] for k in ("wall", "cpu", "peak_mb")}


def _mb(b) -> str:
    return f"{b / MB:,.1f}"


def report(results: list[dict], when: str, commit: str, target: int, partials: list[dict] = ()) -> str:
    lines = [f"cxlab on local Spark (local[2]) against cxlab on DuckDB, foreign Zipf log (benchmarks/foreign_log.py, "
             f"seed 1), {when}, commit {commit}.", "",
             f"Machine: {summary(['pyspark', 'duckdb', 'ibis-framework', 'pandas'])}; Java "
             f"{_java_version()}. Shared with other work: load averages below.", "",
             "The four touchpoint operations, cold (journey table built in the run), no bootstrap rankings, each "
             "run in a fresh process; CPU is the whole process tree (driver + JVM, reaped with wait4 as a child "
             "subreaper). Spark's results equal DuckDB's in every run (foreign_bench's check).", "",
             "| events | engine | partitions | wall, process | CPU, tree | CPU driver / JVM | session start | "
             "peak driver / JVM | load 1-min |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for res in results:
        d = res["duckdb"]
        lines.append(f"| {res['events']:,} | DuckDB | – | {d['process_wall']:.1f} s | {d['process_cpu']:.1f} s | – | – | "
                     f"{d['peak_mb']:,.0f} MB | – |")
        for run in res["runs"]:
            lines.append(f"| {res['events']:,} | Spark | {res['partitions']} | {run['process_wall']:.1f} s | "
                         f"{run['tree_cpu']:.1f} s | {run['driver_cpu']:.1f} / {run['jvm_cpu']:.1f} s | "
                         f"{run['start']['wall']:.1f} s | {run['driver_peak_mb']:,.0f} / {run['jvm_peak_mb'] or 0:,.0f} MB | "
                         f"{run['load1'][0]:.1f}–{run['load1'][1]:.1f} |")
    lines += ["", "Per operation (wall; CPU of the driver + the JVM; DuckDB wall for comparison):", "",
              "| events | " + " | ".join(OPS) + " |", "|---:|" + "---|" * len(OPS)]
    for res in results:
        for run in res["runs"]:
            lines.append(f"| {res['events']:,} Spark | " + " | ".join(
                f"{run['op_wall'][op]:.1f} s ({run['op_driver_cpu'][op]:.1f} + {run['op_jvm_cpu'].get(op, 0):.1f})"
                for op in OPS) + " |")
        lines.append(f"| {res['events']:,} DuckDB | " + " | ".join(f"{res['duckdb']['wall'][op]:.1f} s" for op in OPS) + " |")
    lines += ["", "Spark stages per operation (event log; MB = 2^20 bytes):", "",
              "| events | operation | stages | tasks | input MB | shuffle write MB | shuffle read MB | spill to disk MB | "
              "task time s | task CPU s | GC s |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for res in results:
        run = res["runs"][-1]
        for op in OPS + sorted(set(run["per_op"]) - set(OPS)):
            if op not in run["per_op"]:
                continue
            p = run["per_op"][op]
            lines.append(f"| {res['events']:,} | {op} | {p['stages']} | {p['tasks']} | {_mb(p['input_bytes'])} | "
                         f"{_mb(p['shuffle_write_bytes'])} | {_mb(p['shuffle_read_bytes'])} | {_mb(p['spill_disk_bytes'])} | "
                         f"{p['task_run_s']:.1f} | {p['task_cpu_s']:.1f} | {p.get('gc_s', 0):.1f} |")
    lines += ["", "The stages that shuffle (largest first, last run of each size):", "",
              "| events | operation | stage | tasks | operators | shuffle write MB | shuffle read MB | task time s | "
              "largest task: shuffle read MB / execution memory MB |",
              "|---:|---|---:|---:|---|---:|---:|---:|---:|"]
    for res in results:
        run = res["runs"][-1]
        heavy = sorted((s for s in run["stages"] if s["shuffle_write_bytes"] or s["shuffle_read_bytes"]),
                       key=lambda s: -(s["shuffle_write_bytes"] + s["shuffle_read_bytes"]))[:8]
        for s in heavy:
            lines.append(f"| {res['events']:,} | {s['op']} | {s['stage']} | {s['tasks']} | {', '.join(s['operators'][:6])} | "
                         f"{_mb(s['shuffle_write_bytes'])} | {_mb(s['shuffle_read_bytes'])} | {s['task_run_s']:.1f} | "
                         f"{_mb(s.get('task_max_shuffle_read_bytes', 0))} / {_mb(s.get('task_peak_execution_memory', 0))} |")
    lines += ["", "Tables Spark cached (the journey table is cached in the session, read by every operation after "
              "the first; size in Spark's storage, in memory + on disk):", "",
              "| events | table | partitions | size MB | bytes per event |", "|---:|---|---:|---:|---:|"]
    for res in results:
        for c in res["runs"][-1].get("cached", [])[:4]:
            lines.append(f"| {res['events']:,} | journey table | {c['partitions']} | {_mb(c['bytes'])} | "
                         f"{c['bytes'] / res['events']:.1f} |")
    for part in partials:
        lines += ["", f"At {part['events']:,} events, partial: Spark's event log of a run stopped before it ended "
                  f"({part['log']}); the operations it finished: {', '.join(part['complete']) or 'none'}; stages completed "
                  f"by then: {len(part['stages'])}.", "",
                  "| operation | stages | tasks | input MB | shuffle write MB | shuffle read MB | task time s | task CPU s | GC s |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for op, p in part["per_op"].items():
            lines.append(f"| {op}{'' if op in part['complete'] else ' (unfinished)'} | {p['stages']} | {p['tasks']} | "
                         f"{_mb(p['input_bytes'])} | {_mb(p['shuffle_write_bytes'])} | {_mb(p['shuffle_read_bytes'])} | "
                         f"{p['task_run_s']:.1f} | {p['task_cpu_s']:.1f} | {p['gc_s']:.1f} |")
        lines += ["", "| stage | operation | tasks | operators | shuffle write MB | shuffle read MB | task time s | "
                  "largest task: shuffle read MB / execution memory MB | stage wall s |", "|---:|---|---:|---|---:|---:|---:|---:|---:|"]
        for st in part["stages"]:
            if st["shuffle_write_bytes"] or st["shuffle_read_bytes"]:
                lines.append(f"| {st['stage']} | {st['op']} | {st['tasks']} | {', '.join(st['operators'][:6])} | "
                             f"{_mb(st['shuffle_write_bytes'])} | {_mb(st['shuffle_read_bytes'])} | {st['task_run_s']:.1f} | "
                             f"{_mb(st['task_max_shuffle_read_bytes'])} / {_mb(st['task_peak_execution_memory'])} | "
                             f"{st['seconds']:.1f} |")
    plan = plans(results, target, partials)
    if plan:
        lines += ["", f"Shuffle write extrapolated to {target:,} events (arithmetic: linear from the largest size "
                  "measured; growth = bytes per event at the largest size / at the smallest; partitions = the "
                  "operation's largest single exchange at the target over 256 and 128 MiB):", "",
                  "| operation | shuffle bytes per event | growth | at target | largest exchange per event | at target | "
                  "partitions |", "|---|---:|---:|---:|---:|---:|---:|"]
        order = ([op for op in OPS if op in plan] + sorted(set(plan) - set(OPS) - {"all four", "journey window"})
                 + [op for op in ("all four", "journey window") if op in plan])
        for op in order:
            p, x = plan[op]["total"], plan[op]["largest_exchange"]
            growth = f"{p['growth']:.2f}" if p["growth"] is not None else "–"
            lines.append(f"| {op} | {p['bytes_per_event']:.1f} B | {growth} | {p['bytes'] / 1024 ** 3:,.1f} GiB | "
                         f"{x['bytes_per_event']:.1f} B | {x['bytes'] / 1024 ** 3:,.1f} GiB | "
                         f"{x['partitions'][0]:,}–{x['partitions'][1]:,} |")
    for res in results:
        if "whole" in res:
            w = res["whole"]
            lines += ["", f"The whole method on Spark at {res['events']:,} events (`cxlab run`, one run): {w['wall']:.0f} s wall, "
                      f"{w['tree_cpu']:.0f} CPU-seconds for the tree ({w['spark_apps']} Spark applications, {w['stages_run']} "
                      f"stages, {_mb(w['shuffle_write_bytes'])} MB shuffle written, {_mb(w['input_bytes'])} MB read), load "
                      f"{w['load1'][0]:.1f}–{w['load1'][1]:.1f}. Peaks (sampled VmHWM): "
                      + "; ".join(f"{k} {', '.join(f'{v:,.0f}' for v in vs[:3])} MB" for k, vs in w["peaks_mb"].items()) + ".",
                      "", "| method stage | status | seconds | kernel peak MB |", "|---|---|---:|---:|"]
            for stage, s in w["per_stage"].items():
                lines.append(f"| {stage} | {s['status']} | {s['seconds']:.1f} | {s['kernel_peak_mb'] or '–'} |")
    return "\n".join(lines)


def plans(results: list[dict], target: int, partials: list[dict] = ()) -> dict:
    """Per operation: its shuffle write (all its stages) and its largest single exchange,
    extrapolated to ``target`` events. spark.sql.shuffle.partitions applies to every exchange, so
    it is sized on the largest one."""
    total: dict[str, dict[int, int]] = defaultdict(dict)
    largest: dict[str, dict[int, int]] = defaultdict(dict)
    measured = [(res["events"], res["runs"][-1]["per_op"]) for res in results]
    measured += [(part["events"], {op: p for op, p in part["per_op"].items() if op in part["complete"]})
                 for part in partials]  # of a partial run, the operations it finished
    for n, per_op in measured:
        for op, p in per_op.items():
            total[op][n] = p["shuffle_write_bytes"]
            largest[op][n] = p["largest_shuffle_write_bytes"]
            if len(per_op) >= len(OPS):  # all four only where all four ran
                total["all four"][n] = total["all four"].get(n, 0) + p["shuffle_write_bytes"]
                largest["all four"][n] = max(largest["all four"].get(n, 0), p["largest_shuffle_write_bytes"])
    # the journey table's window: the events repartitioned by customer (the exchange after the scan)
    window: dict[int, int] = {}
    for n, stages in [(res["events"], res["runs"][-1]["stages"]) for res in results] + [
            (part["events"], part["stages"]) for part in partials]:
        sizes = [st["shuffle_write_bytes"] for st in stages if st["op"] == "inventory" and "Scan parquet" in st["operators"]]
        if sizes and max(sizes):
            window[n] = max(sizes)
    out = {op: {"total": shuffle_plan(m, target), "largest_exchange": shuffle_plan(largest[op], target)}
           for op, m in total.items() if any(m.values())}
    if window:
        out["journey window"] = {"total": shuffle_plan(window, target), "largest_exchange": shuffle_plan(window, target)}
    return out


def write_results(results: list[dict], folder: Path, started: dt.datetime, label: str, target: int,
                  partials: list[dict] = ()) -> str:
    text = report(results, f"{started:%Y-%m-%d %H:%M}", label, target, partials)
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"spark_{started:%Y%m%d-%H%M}_{label.split()[0]}"
    stem.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    loads = [x for r in results for run in r["runs"] for x in run["load1"]]
    stem.with_suffix(".json").write_text(json.dumps(
        {"date": started.isoformat(timespec="seconds"), "commit": label,
         "machine": describe(["pyspark", "duckdb", "ibis-framework", "pandas"]), "java": _java_version(),
         "results": results, "partial": list(partials), "plan": plans(results, target, partials),
         "load_median": statistics.median(loads) if loads else None}, indent=2))
    (folder / "spark_latest.md").write_text(text + "\n", encoding="utf-8")
    return text


def partial(size: str, log: Path) -> dict:
    """What a run stopped before its end left in Spark's event log (``--partial 10m=<log>``): its
    completed stages; an operation counts as finished when the next one has started."""
    read = read_event_log(Path(log))
    seen = [op for op in OPS if any(st["op"] == op for st in read["stages"])]
    complete = [op for op in seen if OPS.index(op) < OPS.index(seen[-1])] if seen else []
    return {"size": size, "events": SIZES[size], "log": str(log), "stages": read["stages"],
            "per_op": per_operation(read["stages"]), "complete": complete}


def combine(files: list[Path], folder: Path, target: int, partials: list[str] = ()) -> int:
    """One report from runs of single sizes (each a .json written by this script), by size, and
    the event logs of runs that did not end (``size=path``)."""
    runs = [json.loads(f.read_text()) for f in files]
    for run in (r for one in runs for res in one["results"] for r in res["runs"]):
        if run.get("event_log") and Path(run["event_log"]).exists():  # read again, as this script reads it now
            log = read_event_log(Path(run["event_log"]))
            run.update(stages=log["stages"], per_op=per_operation(log["stages"]), cached=log["cached"])
    results = sorted((r for run in runs for r in run["results"]), key=lambda r: r["events"])
    started = min(dt.datetime.fromisoformat(run["date"]) for run in runs)
    labels = sorted({run["commit"] for run in runs})
    parts = [partial(*item.split("=", 1)) for item in partials]
    print(write_results(results, folder, started, " / ".join(labels), target, [
        {k: v for k, v in p.items()} for p in parts]))
    return 0


def _java_version() -> str:
    try:
        line = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
        return line.split('"')[1] if '"' in line else line
    except (OSError, IndexError):
        return "unknown"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1m", help=f"comma-separated, of {', '.join(SIZES)}")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--whole", default="", help="sizes at which to run the whole method too (cxlab run)")
    p.add_argument("--partitions", type=int, help="spark.sql.shuffle.partitions (default: per size)")
    p.add_argument("--driver-memory", help="spark.driver.memory (default: per size)")
    p.add_argument("--target", type=int, default=1_000_000_000, help="events to extrapolate the shuffle to")
    p.add_argument("--results", type=Path, default=fb.RESULTS)
    p.add_argument("--combine", nargs="+", type=Path, metavar="JSON",
                   help="write one report from earlier runs' .json files (sizes run separately)")
    p.add_argument("--partial", action="append", default=[], metavar="SIZE=LOG",
                   help="with --combine: the Spark event log of a run that did not end, e.g. 10m=/tmp/…/local-1.inprogress")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--study", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(spark_worker(args.study)))
        return 0
    if args.combine:
        return combine(args.combine, args.results, args.target, args.partial)
    sizes = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    whole = {s.strip().lower() for s in args.whole.split(",") if s.strip()}
    unknown = [s for s in sizes + sorted(whole) if s not in SIZES]
    if unknown:
        p.error(f"unknown size(s) {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    if not become_subreaper():
        say("warning: could not become a child subreaper; a JVM that outlives its Python is not counted")
    started = dt.datetime.now()
    commit = describe([])["commit"]
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True,
                           cwd=ROOT).stdout.strip()
    label = commit + (" with uncommitted changes" if dirty else "")
    results = [bench_size(s, args.rounds, s in whole, args.partitions, args.driver_memory) for s in sizes]
    print("\n" + write_results(results, args.results, started, label, args.target))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
