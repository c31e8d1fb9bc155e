"""Benchmark: cxlab against hand-written DuckDB SQL on a foreign log (not made by ``cxlab synth``).

    .venv/bin/python benchmarks/foreign_bench.py                    # 1M and 10M events, 3 rounds
    .venv/bin/python benchmarks/foreign_bench.py --sizes 1m --rounds 3
    .venv/bin/python benchmarks/foreign_bench.py --retentioneering /tmp/retevenv/bin/python   # and retentioneering

For each size it writes (once) a Zipf log with ``benchmarks/foreign_log.py`` under
benchmarks/studies/foreign_<size>/ and its clean tables (cxlab's intake: validation and the typed
copy, timed once and reported apart: a study pays it once per export). Then each approach runs the
touchpoint stage's four operations — inventory, transitions with start/end, the ordered 4-step
funnel with a 30-day window, the top-20 path variants — in a process of its own:

- **cxlab**, cold: ``cxlab.touchpoints`` on the study, the journey table built in the run
  (its cache removed first), as on a first analysis of new data, without the bootstrap rankings
  (``n_resamples=0``), which the hand-written SQL does not compute;
- **hand SQL**: ``benchmarks/hand_sql.py``, one window pass over the raw export into a temporary
  table, then four aggregate queries;
- optionally (``--approaches``) **cxlab_plain**, cxlab with the journey table built as before
  issue 18, and **cxlab_ranked**, cxlab with its default rankings (200 resamples).

One warm-up run of each, then ``--rounds`` rounds, the two approaches alternating. Measured per
run: the CPU time of the process (user + system, every thread, from ``wait4``), its wall time,
its peak resident memory (``ru_maxrss``), and inside it the CPU and wall time of the four
operations alone (without starting Python and importing). Medians over the rounds; the ratios are
cxlab / hand SQL. Every run's results are checked against the other approach's (counts per
touchpoint, per transition, per funnel step, the top variants and the totals; medians too), and
the benchmark fails when they differ, so the ratios compare the same work.

Results: benchmarks/results/foreign_<date>_<commit>.md and .json, and foreign_latest.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from foreign_log import FUNNEL, GOALS  # noqa: E402
from machine import describe, summary  # noqa: E402

SIZES = {"100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
STUDIES = ROOT / "benchmarks" / "studies"
HOME = STUDIES / "_home"  # clean tables and the journey cache of the benchmark's studies
RESULTS = ROOT / "benchmarks" / "results"
WINDOW_DAYS = 30
TOP = 20
OPS = ["inventory", "transitions", "funnel", "variants"]
APPROACHES = {"cxlab": "cxlab, cold (journey table built in the run)", "hand": "hand-written DuckDB SQL",
              "cxlab_plain": "cxlab, cold, journey table written as before issue 18 (text columns not encoded)",
              "cxlab_ranked": "cxlab, cold, with its default bootstrap rankings (200 resamples; more work)",
              "retentioneering": "retentioneering 5 in its own environment (read, Eventstream, start/end and "
                                 "transition counts, a 4-step funnel without a window; no variants)"}
# the Python of a separate environment with retentioneering installed (--retentioneering): it is
# not a dependency of cxlab (benchmarks/retentioneering_probe.py says how to make one)
RETENTIONEERING_PYTHON: list[str] = []


def _cpu() -> float:
    import resource

    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


# ============================================================================ the two workers
def cxlab_worker(study_dir: Path, plain: bool = False, ranked: bool = False) -> dict:
    from cxlab import journeys
    from cxlab import touchpoints as tp
    from cxlab.journeys import clear_journey_cache
    from cxlab.study import Study

    if plain:  # the journey table's build before issue 18: the Ibis expression written as it is
        journeys._write_encoded = lambda con, src, path: con.to_parquet(
            journey_expr_before(src.base_events, src.goals), path, compression="lz4_raw")

    study = Study.load(study_dir)
    clear_journey_cache(study)  # cold: the journey table is built by the first operation
    # the same work as the hand-written SQL: no bootstrap rankings of the transitions, funnel
    # steps and variants (200 customer-level resamples by default; the ranked approach has them)
    def bare(function):
        return {} if ranked or "n_resamples" not in inspect.signature(function).parameters else {"n_resamples": 0}

    wall, cpu, out = {}, {}, {}
    for name, work in (
        ("inventory", lambda: tp.inventory(study)),
        ("transitions", lambda: tp.transitions(study, **bare(tp.transitions))),
        ("funnel", lambda: tp.funnel(study, FUNNEL, window_days=WINDOW_DAYS, **bare(tp.funnel))),
        ("variants", lambda: tp.variants(study, top=TOP, **bare(tp.variants))),
    ):
        w0, c0 = time.perf_counter(), _cpu()
        out[name] = work()
        wall[name], cpu[name] = time.perf_counter() - w0, _cpu() - c0
    inv = out["inventory"]
    seen = inv.table[inv.table.events > 0]
    fu, va = out["funnel"], out["variants"]
    check = {
        "inventory": {r.touchpoint: [int(r.events), int(r.customers), int(r.touched_before_outcome),
                                     int(r.converted_touched), int(r.journey_ends), float(r.median_position),
                                     round(float(r.median_hours_to_next) * 3600, 1)]
                      for r in seen.itertuples()},
        "totals": [int(inv.customers), int(inv.converted), int(inv.compared), int(inv.compared_converted)],
        "transitions": {f"{r.source}>{r.target}": int(r.transitions) for r in out["transitions"].table.itertuples()},
        "funnel": [int(n) for n in fu.table.customers] + [int(fu.time_to_convert.customers.sum())]
                  + [round(float(h) * 3600, 1) for h in fu.table.median_hours_from_previous.iloc[1:]],
        "variants": _variant_check(list(zip(va.table.variant.replace({"(straight to the goal)": ""}),
                                            va.table.customers.astype(int))), va.customers, va.distinct_variants),
    }
    return {"wall": wall, "cpu": cpu, "check": check}


def journey_expr_before(events, goals):
    """``cxlab.journeys._journey_expr`` as it was before issue 18 (commit d8c3eca): text columns
    carried through the window's sort as strings, goals so far a sum (128-bit in DuckDB)."""
    import ibis
    from cxlab import journeys as J

    cols = ["customer_id", "seq", "timestamp", "touchpoint"] + (["channel"] if "channel" in events.columns else [])
    base = events.select(*cols)
    w = J.journey_window(base)
    t = J.seconds(base.timestamp)
    is_goal = (base.touchpoint.isin(list(goals)) if goals else ibis.literal(False)).cast("int64")
    out = base.mutate(t=t, pos=(ibis.row_number().over(w) + 1).cast("int64"), prev=base.touchpoint.lag().over(w),
                      next_t=t.lead().over(w).cast("int64"), is_goal=is_goal,
                      goals_so_far=is_goal.sum().over(J.journey_window(base, rows=(None, 0))).cast("int64"))
    keep = ["customer_id", "touchpoint"] + (["channel"] if "channel" in cols else [])
    return out.select(*keep, "t", "pos", "prev", "next_t", "is_goal", "goals_so_far")


def hand_worker(study_dir: Path) -> dict:
    import hand_sql

    wall, cpu, out = hand_sql.run(study_dir / "events.parquet", goals=GOALS, steps=FUNNEL, window_days=WINDOW_DAYS,
                                  top=TOP, customer="user_id", touchpoint="event_name", timestamp="event_time")
    inv, totals = out["inventory"]
    stats, days = out["funnel"]
    n = len(FUNNEL)
    va = out["variants"]
    check = {
        "inventory": {r.touchpoint: [int(r.events), int(r.customers), int(r.touched_before_outcome),
                                     int(r.converted_touched), int(r.journey_ends), float(r.median_position),
                                     round(float(r.median_seconds_to_next), 1)]
                      for r in inv.itertuples()},
        "totals": [int(totals[c][0]) for c in ("customers", "converted", "compared", "compared_converted")],
        "transitions": {f"{r.source}>{r.target}": int(r.transitions) for r in out["transitions"].itertuples()},
        "funnel": [int(stats[f"n{k}"][0]) for k in range(1, n + 1)] + [int(days.customers.sum())]
                  + [round(float(stats[f"prev{k}"][0]), 1) for k in range(2, n + 1)],
        "variants": _variant_check(list(zip(va.variant, va.customers.astype(int))),
                                   int(va.all_customers[0]), int(va.distinct_variants[0])),
    }
    return {"wall": wall, "cpu": cpu, "check": check}


def _variant_check(rows: list[tuple[str, int]], customers: int, distinct: int) -> dict:
    """The top variants' counts, and the variants themselves above the last count (at the last
    count, which of the tied variants make the top is a matter of tie-breaking)."""
    counts = sorted((c for _, c in rows), reverse=True)
    floor = counts[-1] if counts else 0
    return {"counts": counts, "above_ties": sorted(v for v, c in rows if c > floor),
            "customers": int(customers), "distinct": int(distinct)}


def worker(approach: str, study_dir: Path) -> None:
    started = _cpu()
    res = (hand_worker(study_dir) if approach == "hand"
           else cxlab_worker(study_dir, plain=approach == "cxlab_plain", ranked=approach == "cxlab_ranked"))
    res["cpu_before_ops"] = started
    print(json.dumps(res))


# ============================================================================ the runner
def say(msg: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {msg}", flush=True)


def prepare(size: str) -> tuple[Path, dict | None]:
    """The study folder for ``size`` (written once), and what its intake cost when its clean
    tables had to be written (timed in a process of its own; None when they were there)."""
    import foreign_log

    folder = STUDIES / f"foreign_{size}"
    if not (folder / "study.yaml").exists() or f"--events {SIZES[size]} " not in (folder / "study.yaml").read_text():
        say(f"writing {folder.name} ({SIZES[size]:,} events)")
        foreign_log.write(folder, SIZES[size])
    probe = ("import sys; from cxlab import data; from cxlab.study import Study; s = Study.load(sys.argv[1]); "
             "print(data.clean_fingerprint(s) == data.fingerprint(s))")
    if measured([sys.executable, "-c", probe, str(folder)])["stdout"].strip() == "True":
        return folder, None
    say(f"{folder.name}: cxlab intake (validation, clean tables)")
    intake = measured([sys.executable, "-c", "import sys; from cxlab import data; data.ensure_clean(sys.argv[1])",
                       str(folder)])
    return folder, {k: intake[k] for k in ("wall", "cpu", "peak_mb")}


def measured(cmd: list[str]) -> dict:
    """Run ``cmd`` in a fresh process: its wall time, CPU time (user + system of every thread,
    and of any process it waited for) and peak resident memory from ``wait4``, and its output."""
    with tempfile.TemporaryFile() as errors:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, cwd=ROOT,
                                env={**os.environ, "CXLAB_HOME": str(HOME)})
        out = proc.stdout.read()
        # reaped here, not by Popen.wait: wait4 gives this child's own rusage
        _, status, use = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            errors.seek(0)
            raise SystemExit(f"{' '.join(cmd[:4])} … failed:\n{errors.read().decode()[-3000:]}")
    return {"wall": wall, "cpu": use.ru_utime + use.ru_stime, "peak_mb": use.ru_maxrss / 1024,
            "stdout": out.decode(), "load1": os.getloadavg()[0]}


def run_approach(approach: str, folder: Path) -> dict:
    """One run of an approach in a fresh process: the process's wall, CPU and peak memory, and
    the per-operation times and result checks it printed."""
    if approach == "retentioneering":  # its own definitions: timed, not checked against cxlab
        run = measured([RETENTIONEERING_PYTHON[0], str(HERE / "retentioneering_probe.py"), str(folder)])
        res = json.loads(run["stdout"].strip().splitlines()[-1])
        work = {k: v for k, v in res["times"].items() if k != "import"}
        return {"process_wall": run["wall"], "process_cpu": run["cpu"], "peak_mb": run["peak_mb"], "load1": run["load1"],
                "ops_wall": sum(v["wall"] for v in work.values()), "ops_cpu": sum(v["cpu"] for v in work.values()),
                "wall": {k: v["wall"] for k, v in work.items()}, "cpu": {k: v["cpu"] for k, v in work.items()},
                "check": None}
    run = measured([sys.executable, __file__, "--worker", approach, "--study", str(folder)])
    res = json.loads(run["stdout"].strip().splitlines()[-1])
    return {"process_wall": run["wall"], "process_cpu": run["cpu"], "peak_mb": run["peak_mb"], "load1": run["load1"],
            "ops_wall": sum(res["wall"].values()), "ops_cpu": sum(res["cpu"].values()),
            "wall": res["wall"], "cpu": res["cpu"], "check": res["check"]}


def differences(a: dict, b: dict) -> list[str]:
    """Where two runs' results differ (empty when they agree)."""
    problems = []
    for part in a:
        if a[part] == b[part]:
            continue
        if isinstance(a[part], dict):
            keys = sorted(set(a[part]) | set(b[part]))
            bad = [k for k in keys if a[part].get(k) != b[part].get(k)][:3]
            problems.append(f"{part}: " + "; ".join(f"{k}: {a[part].get(k)} vs {b[part].get(k)}" for k in bad))
        else:
            problems.append(f"{part}: {a[part]} vs {b[part]}")
    return problems


def bench_size(size: str, rounds: int, approaches: list[str]) -> dict:
    folder, intake = prepare(size)
    runs: dict[str, list[dict]] = {a: [] for a in approaches}
    say(f"{folder.name}: warm-up run of each approach")
    reference = None
    for approach in approaches:
        reference = check_against(reference, run_approach(approach, folder), approach)
    for r in range(1, rounds + 1):
        # alternate the order, so a slow spell of the shared machine falls on every approach
        order = approaches if r % 2 else approaches[::-1]
        for approach in order:
            run = run_approach(approach, folder)
            reference = check_against(reference, run, approach)
            runs[approach].append({k: v for k, v in run.items() if k != "check"})
            say(f"  round {r} {approach}: {run['process_cpu']:.2f} s CPU, {run['process_wall']:.2f} s wall, "
                f"{run['peak_mb']:,.0f} MB (operations: {run['ops_cpu']:.2f} s CPU)")
    med = {a: {k: statistics.median(x[k] for x in rs) for k in ("process_cpu", "process_wall", "peak_mb", "ops_cpu", "ops_wall")}
           | {"op_cpu": {op: statistics.median(x["cpu"][op] for x in rs) for op in rs[0]["cpu"]}}
           for a, rs in runs.items()}
    return {"size": size, "events": SIZES[size], "customers": SIZES[size] // 10, "intake": intake,
            "runs": runs, "median": med, "agree": True}


def check_against(reference: dict | None, run: dict, approach: str) -> dict:
    if run["check"] is None:  # retentioneering: other definitions, nothing to compare
        return reference
    if reference is None:
        return run["check"]
    problems = differences(reference, run["check"])
    if problems:
        raise SystemExit(f"{approach} gives other results than the first run:\n  " + "\n  ".join(problems))
    return reference


def report(results: list[dict], rounds: int, when: str, commit: str) -> str:
    lines = [
        f"cxlab against hand-written DuckDB SQL on a foreign Zipf log (benchmarks/foreign_log.py, seed 1; "
        f"20 touchpoints, ~10 events per customer), {when}, commit {commit}.",
        "",
        f"Machine: {summary(['duckdb', 'ibis-framework', 'pandas'])}; shared with other work, so CPU time "
        "(user + system, all threads) is the measure; wall time is shown too.",
        "",
        "Four operations (inventory, transitions with start/end, ordered 4-step funnel in 30 days, top-20 "
        f"variants), each approach in its own process; one warm-up, then the median of {rounds} alternating rounds. "
        "cxlab is cold: its journey table is built in the run. Both give the same results (checked in every run).",
        "",
        "| events | approach | CPU, process | CPU, operations | wall, process | peak memory |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for res in results:
        for a, m in res["median"].items():
            lines.append(f"| {res['events']:,} | {APPROACHES[a]} | {m['process_cpu']:.2f} s | {m['ops_cpu']:.2f} s | "
                         f"{m['process_wall']:.2f} s | {m['peak_mb']:,.0f} MB |")
    lines += ["", "| events | CPU ratio, process | CPU ratio, operations | wall ratio | peak memory, cxlab / hand SQL |",
              "|---:|---:|---:|---:|---:|"]
    for res in results:
        h = res["median"]["hand"]
        for a in [a for a in res["median"] if a not in ("hand", "retentioneering")]:
            c = res["median"][a]
            who = {"cxlab": "", "cxlab_plain": " (before)", "cxlab_ranked": " (ranked)"}[a]
            lines.append(f"| {res['events']:,}{who} | {c['process_cpu'] / h['process_cpu']:.2f}× | {c['ops_cpu'] / h['ops_cpu']:.2f}× | "
                         f"{c['process_wall'] / h['process_wall']:.2f}× | {c['peak_mb']:,.0f} / {h['peak_mb']:,.0f} MB |")
    if any("retentioneering" in res["median"] for res in results):
        lines += ["", "| events | retentioneering / cxlab, CPU of the process | wall | peak memory, retentioneering / cxlab |",
                  "|---:|---:|---:|---:|"]
        for res in results:
            if "retentioneering" in res["median"]:
                r, c = res["median"]["retentioneering"], res["median"]["cxlab"]
                lines.append(f"| {res['events']:,} | {r['process_cpu'] / c['process_cpu']:.2f}× | "
                             f"{r['process_wall'] / c['process_wall']:.2f}× | {r['peak_mb']:,.0f} / {c['peak_mb']:,.0f} MB |")
    loads = [r["load1"] for res in results for rs in res["runs"].values() for r in rs]
    lines += ["", f"Load average (1 min) at the end of the runs: median {statistics.median(loads):.1f}, "
              f"from {min(loads):.1f} to {max(loads):.1f}, on 2 cores."]
    lines += ["", "CPU seconds per operation (median; the journey table / window pass counts in inventory):", "",
              "| events | approach | " + " | ".join(OPS) + " |", "|---:|---|" + "---:|" * len(OPS)]
    for res in results:
        for a, m in res["median"].items():
            if a != "retentioneering":
                lines.append(f"| {res['events']:,} | {a} | " + " | ".join(f"{m['op_cpu'][op]:.2f}" for op in OPS) + " |")
    intakes = [r for r in results if r["intake"]]
    if intakes:
        lines += ["", "cxlab's intake (validation and the clean tables, once per export; not in the runs above): "
                  + "; ".join(f"{r['events']:,} events {r['intake']['cpu']:.1f} s CPU, {r['intake']['wall']:.1f} s wall, "
                              f"{r['intake']['peak_mb']:,.0f} MB" for r in intakes) + "."]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1m,10m", help=f"comma-separated, of {', '.join(SIZES)}")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--approaches", default="cxlab,hand",
                   help="comma-separated: cxlab, hand; cxlab_plain (the journey table built as before issue 18), "
                        "cxlab_ranked (with the bootstrap rankings)")
    p.add_argument("--retentioneering", metavar="PYTHON",
                   help="the Python of an environment with retentioneering installed: adds it as an approach")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--study", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker, args.study)
        return 0
    sizes = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        p.error(f"unknown size(s) {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    started = dt.datetime.now()
    commit = describe([])["commit"]
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True,
                           cwd=ROOT).stdout.strip()
    commit_label = commit + (" with uncommitted changes" if dirty else "")
    approaches = [a.strip() for a in args.approaches.split(",") if a.strip()]
    if args.retentioneering:
        RETENTIONEERING_PYTHON.append(args.retentioneering)
        approaches.append("retentioneering")
    if "cxlab" not in approaches or "hand" not in approaches or any(a not in APPROACHES for a in approaches):
        p.error(f"--approaches needs cxlab and hand, of {', '.join(APPROACHES)}")
    results = [bench_size(size, args.rounds, approaches) for size in sizes]
    text = report(results, args.rounds, f"{started:%Y-%m-%d %H:%M}", commit_label)
    print("\n" + text)
    args.results.mkdir(parents=True, exist_ok=True)
    stem = args.results / f"foreign_{started:%Y%m%d-%H%M}_{commit}"
    stem.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    stem.with_suffix(".json").write_text(json.dumps({"date": started.isoformat(timespec="seconds"), "commit": commit_label,
                                                     "machine": describe(["duckdb", "ibis-framework", "pandas"]),
                                                     "rounds": args.rounds, "results": results}, indent=2))
    (args.results / "foreign_latest.md").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
