"""Scale benchmark: the whole method (`cxlab run`) at 100k, 1M and 10M events.

For each size it builds a synthetic study with ``cxlab synth`` (10 events per customer on
average; built once, under benchmarks/studies/, git-ignored), then, repeated:

- ``cxlab run <study>`` end to end (every stage notebook, its HTML and the index), from nothing:
  data/processed/<study>/ is removed first, so the clean tables, the journey table and the
  sentiment scores are all computed (what a new export costs, not a re-run on unchanged data), and
- each stage on its own (``cxlab run <study> --stages <stage>``, on the outputs of the full run),

and records the wall time, the CPU time of the whole process tree, the peak resident memory of
the runner and of each stage's kernel (sampled by the runner into run.json) and of the largest
single process (from the kernel's own accounting, ``wait4``), and the load average before and
after (the machine may be shared). Results:

    benchmarks/results/scale_runs.csv   every run (rows of other sizes are kept on a partial re-run)
    benchmarks/results/scale.csv        medians per size and scope
    benchmarks/results/scale.md         the tables, the machine, the targets met or missed
    benchmarks/results/scale.png        time against events, log-log

    .venv/bin/python benchmarks/run.py                       # 100k, 1M, 10M; 3 runs each (~45 min)
    .venv/bin/python benchmarks/run.py --sizes 10m --repeats 3
    .venv/bin/python benchmarks/run.py --touchpoints-50m     # also: the touchpoint stage at 50M
    .venv/bin/python benchmarks/run.py --report-only         # redraw md/png from scale_runs.csv
    .venv/bin/python benchmarks/run.py --clean               # delete the big studies and outputs
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from machine import describe

from cxlab import paths

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STUDIES = ROOT / "benchmarks" / "studies"
RESULTS = ROOT / "benchmarks" / "results"
EVENTS_PER_CUSTOMER = 10
SIZES = {"100k": 100_000, "1m": 1_000_000, "10m": 10_000_000, "50m": 50_000_000}
TARGET_SECONDS_10M = 180
TARGET_PROCESS_MB = 4096
TARGET_RATIO = 12
RUN_FIELDS = [
    "size", "events", "customers", "scope", "stage", "repeat", "wall_s", "cpu_s", "stage_s",
    "runner_peak_mb", "kernel_peak_mb", "max_process_mb", "load1_before", "load1_after",
    "status", "started", "commit",
]


def say(msg: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {msg}", flush=True)


# --------------------------------------------------------------------------- studies
def study_dir(size: str) -> Path:
    return STUDIES / f"scale_{size}"


def build_study(size: str) -> float | None:
    """Write the synthetic study for this size unless it exists; seconds taken (None if cached)."""
    folder = study_dir(size)
    customers = SIZES[size] // EVENTS_PER_CUSTOMER
    if (folder / "study.yaml").exists() and f"--customers {customers} " in (folder / "study.yaml").read_text():
        return None
    if folder.exists():
        shutil.rmtree(folder)
    say(f"building {folder.name}: cxlab synth --customers {customers:,} --events-per-customer {EVENTS_PER_CUSTOMER}")
    t0 = time.perf_counter()
    subprocess.run([str(BIN / "cxlab"), "synth", "--customers", str(customers), "--events-per-customer",
                    str(EVENTS_PER_CUSTOMER), "--out", str(folder)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def reports_dir(size: str) -> Path:
    return paths.reports_dir(study_dir(size))  # reports/<name>-<hash>/: the study lives outside data/raw


def processed_dir(size: str) -> Path:
    return paths.published_dir(study_dir(size))


def current_commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()


# --------------------------------------------------------------------------- one measured run
def measured_run(size: str, stages: list[str] | None) -> dict:
    """Run ``cxlab run`` once; wall and CPU time of the process tree, the largest process's
    peak RSS, and run.json's per-stage seconds and sampled peaks."""
    before = set(reports_dir(size).glob("*")) if reports_dir(size).exists() else set()
    cmd = [str(BIN / "cxlab"), "run", str(study_dir(size))]
    if stages:
        cmd += ["--stages", ",".join(stages)]
    load_before = os.getloadavg()[0]
    started = dt.datetime.now().isoformat(timespec="seconds")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    # wait4: rusage of the child and every descendant it waited for (the kernels); ru_maxrss
    # is then the peak RSS of the largest single process of the tree, in KiB on Linux
    output = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    run = {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "max_process_mb": round(usage.ru_maxrss / 1024, 1),
        "load1_before": round(load_before, 2),
        "load1_after": round(os.getloadavg()[0], 2),
        "started": started,
        "commit": current_commit(),
        "status": "ok" if proc.returncode == 0 else f"exit {proc.returncode}",
        "output": output,
    }
    new = sorted(p for p in set(reports_dir(size).glob("*")) - before if p.is_dir())  # not history.html
    meta_file = new[-1] / "run.json" if new else None
    run["meta"] = json.loads(meta_file.read_text()) if meta_file and meta_file.exists() else None
    if proc.returncode != 0:
        say(f"  FAILED ({run['status']}):\n" + "\n".join(output.splitlines()[-15:]))
    return run


def rows_of(size: str, run: dict, repeat: int, scope: str) -> list[dict]:
    """CSV rows of one run: the run itself, plus each stage as recorded by the runner."""
    meta = run["meta"] or {}
    base = {"size": size, "events": SIZES[size], "customers": SIZES[size] // EVENTS_PER_CUSTOMER,
            "repeat": repeat, "load1_before": run["load1_before"], "load1_after": run["load1_after"],
            "started": run["started"], "commit": run["commit"]}
    stages = meta.get("stages", [])
    rows = [{**base, "scope": scope, "stage": "all" if scope == "end_to_end" else stages[0]["stage"] if stages else "",
             "wall_s": run["wall_s"], "cpu_s": run["cpu_s"],
             "stage_s": round(sum(s["seconds"] for s in stages), 2),
             "runner_peak_mb": meta.get("runner_peak_mb"),
             "kernel_peak_mb": max((s.get("kernel_peak_mb") or 0 for s in stages), default=None),
             "max_process_mb": run["max_process_mb"], "status": run["status"]}]
    if scope == "end_to_end":
        for s in stages:
            rows.append({**base, "scope": "in_run", "stage": s["stage"], "wall_s": None, "cpu_s": None,
                         "stage_s": s["seconds"], "runner_peak_mb": None, "kernel_peak_mb": s.get("kernel_peak_mb"),
                         "max_process_mb": None, "status": s["status"]})
    return rows


def available_stages() -> list[str]:
    out = subprocess.run([str(BIN / "cxlab"), "stages"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip() and "(no notebook yet)" not in line]


def bench_size(size: str, repeats: int, stage_runs: bool, keep: bool) -> list[dict]:
    synth_s = build_study(size)
    rows = []
    if synth_s is not None:
        rows.append({"size": size, "events": SIZES[size], "customers": SIZES[size] // EVENTS_PER_CUSTOMER,
                     "scope": "synth", "stage": "", "repeat": 1, "wall_s": round(synth_s, 2), "status": "ok",
                     "load1_after": round(os.getloadavg()[0], 2), "started": dt.datetime.now().isoformat(timespec="seconds")})
    stages = available_stages()
    for r in range(1, repeats + 1):
        say(f"{size} run {r}/{repeats}: end to end ({', '.join(stages)}); load {os.getloadavg()[0]:.1f}")
        shutil.rmtree(processed_dir(size), ignore_errors=True)  # from nothing: no cached tables or scores
        run = measured_run(size, None)
        rows += rows_of(size, run, r, "end_to_end")
        say(f"  {run['wall_s']:.1f} s wall, {run['cpu_s']:.1f} s CPU, largest process {run['max_process_mb']:,.0f} MB; "
            + ", ".join(f"{s['stage']} {s['seconds']:.1f} s" for s in (run["meta"] or {}).get("stages", [])))
        if run["status"] != "ok":
            break
        if stage_runs:
            for stage in stages:
                one = measured_run(size, [stage])
                rows += rows_of(size, one, r, "alone")
                say(f"  {stage} alone: {one['wall_s']:.1f} s wall ({one['cpu_s']:.1f} s CPU), "
                    f"kernel peak {rows[-1]['kernel_peak_mb'] or 0:,.0f} MB")
        if not keep:
            shutil.rmtree(reports_dir(size), ignore_errors=True)
    return rows


def bench_touchpoints_50m(keep: bool) -> list[dict]:
    """The touchpoint stage on 50M events: intake (clean tables), then the touchpoint stage
    alone. Its breakdown by segment reads segments.parquet; at this size it is written from the
    study's planted segments (truth_segments.parquet) instead of running the segmentation stage,
    which is not part of this target."""
    import pandas as pd

    size = "50m"
    rows = []
    base = {"size": size, "events": SIZES[size], "customers": SIZES[size] // EVENTS_PER_CUSTOMER, "repeat": 1}
    synth_s = build_study(size)
    if synth_s is not None:
        rows.append({**base, "scope": "synth", "stage": "", "wall_s": round(synth_s, 2), "status": "ok",
                     "started": dt.datetime.now().isoformat(timespec="seconds")})
    if "touchpoints" not in available_stages():
        say("50m: no touchpoints notebook yet; skipped")
        return rows
    for stage in ("intake", "touchpoints"):
        if stage == "touchpoints":
            truth = pd.read_parquet(study_dir(size) / "truth_segments.parquet", columns=["customer_id", "segment"])
            processed_dir(size).mkdir(parents=True, exist_ok=True)
            truth.astype(str).to_parquet(processed_dir(size) / "segments.parquet", index=False)
            del truth
        say(f"50m: {stage}; load {os.getloadavg()[0]:.1f}")
        run = measured_run(size, [stage])
        rows += rows_of(size, run, 1, "alone")
        say(f"  {run['wall_s']:.1f} s wall, largest process {run['max_process_mb']:,.0f} MB, {run['status']}")
        if run["status"] != "ok":
            break
    if not keep:
        shutil.rmtree(reports_dir(size), ignore_errors=True)
    return rows


# --------------------------------------------------------------------------- results
def read_runs() -> list[dict]:
    import csv

    path = RESULTS / "scale_runs.csv"
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def write_runs(rows: list[dict], replaced_sizes: set[str], replaced_scopes: dict[str, set[str]]) -> list[dict]:
    """Keep earlier rows of sizes (and, for 50m, scopes) not measured now; write all."""
    import csv

    old = [r for r in read_runs()
           if not (r["size"] in replaced_sizes and r["scope"] in replaced_scopes.get(r["size"], {r["scope"]}))]
    allrows = old + [{k: ("" if r.get(k) is None else r.get(k)) for k in RUN_FIELDS} for r in rows]
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / "scale_runs.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=RUN_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(allrows)
    return allrows


def _f(value) -> float | None:
    try:
        return None if value in ("", None) else float(value)
    except ValueError:
        return None


def summarize(runs: list[dict]):
    """Medians per (size, scope, stage) as a pandas DataFrame."""
    import pandas as pd

    df = pd.DataFrame(runs)
    if df.empty:
        return df
    for col in ["events", "customers", "repeat", "wall_s", "cpu_s", "stage_s", "runner_peak_mb", "kernel_peak_mb",
                "max_process_mb", "load1_before", "load1_after"]:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    df["commit"] = df["commit"].fillna("").astype(str) if "commit" in df else ""
    df["ok"] = df["status"].eq("ok")
    grouped = df.groupby(["size", "events", "scope", "stage"], sort=False)
    out = grouped.agg(
        runs=("repeat", "size"), failed=("ok", lambda s: int((~s).sum())),
        wall_s=("wall_s", "median"), wall_min_s=("wall_s", "min"), wall_max_s=("wall_s", "max"),
        cpu_s=("cpu_s", "median"), stage_s=("stage_s", "median"),
        runner_peak_mb=("runner_peak_mb", "max"), kernel_peak_mb=("kernel_peak_mb", "max"),
        max_process_mb=("max_process_mb", "max"), load1=("load1_before", "median"),
        commit=("commit", lambda c: ", ".join(sorted({str(x) for x in c if isinstance(x, str) and x}))),
    ).reset_index()
    return out.sort_values(["events", "scope", "stage"]).reset_index(drop=True)


def machine() -> dict:
    return describe(["cxlab", "duckdb", "ibis-framework", "sqlglot", "pyarrow", "pandas", "numpy", "scikit-learn",
                     "statsmodels", "papermill", "nbclient", "ipykernel", "matplotlib", "plotly", "pyspark"])


def _fmt_s(v) -> str:
    return "" if v is None or v != v else (f"{v:,.1f}" if v < 100 else f"{v:,.0f}")


def _fmt_mb(v) -> str:
    return "" if v is None or v != v else f"{v:,.0f}"


def write_report(runs: list[dict], notes: list[str]) -> None:
    med = summarize(runs)
    med.to_csv(RESULTS / "scale.csv", index=False)
    m = machine()
    sizes = [s for s in SIZES if s in set(med["size"])]
    main_sizes = [s for s in sizes if s != "50m"]
    lines = ["# cxlab at scale: the whole method at 100k, 1M and 10M events", ""]
    lines += [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['os']}; Python {m['python']}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + f"; measured at commit(s) {', '.join(sorted(set(', '.join(med['commit']).split(', ')) - {''}))} (per row below).",
        "",
        "Studies from `cxlab synth --customers N --events-per-customer 10` (N = events / 10). Times are "
        "medians of repeated runs (runs per cell in the last table); *end to end* is `cxlab run <study>`: "
        "every stage notebook, its HTML and the index page, starting from nothing (data/processed/<study> removed "
        "first: clean tables, journey table and sentiment scores all computed; two kernels run stages side by side). *Alone* is "
        "`cxlab run <study> --stages <stage>` (CLI start, parameter checks, kernel start, the notebook, its HTML). "
        "Memory is the peak resident set size: of the largest single process of the run (`wait4`), "
        "and of each stage's kernel as sampled by the runner every 0.2 s (run.json).",
        "",
    ]

    def cell(size, scope, stage, col="wall_s"):
        sel = med[(med["size"] == size) & (med["scope"] == scope) & (med["stage"] == stage)]
        return sel[col].iloc[0] if len(sel) else None

    stages = list(dict.fromkeys(med.loc[med["scope"] == "alone", "stage"]))
    header = "| | " + " | ".join(f"{s} events" for s in main_sizes)
    ratio = "1m" in main_sizes and "10m" in main_sizes
    header += " | 10M / 1M |" if ratio else " |"
    lines += ["## Time (seconds, median)", "", header, "|---" * (len(main_sizes) + 1 + ratio) + "|"]
    for label, scope, stage in [("**end to end** (`cxlab run`)", "end_to_end", "all")] + [
            (f"{s} alone", "alone", s) for s in stages]:
        vals = [cell(s, scope, stage) for s in main_sizes]
        row = f"| {label} | " + " | ".join(_fmt_s(v) for v in vals)
        if ratio:
            a, b = cell("1m", scope, stage), cell("10m", scope, stage)
            row += f" | {b / a:.1f}× |" if a and b else " | |"
        else:
            row += " |"
        lines.append(row)
    in_run = list(dict.fromkeys(med.loc[med["scope"] == "in_run", "stage"]))
    if in_run:
        lines += ["", "Inside the end-to-end run, seconds per stage (kernel start, notebook; from run.json):", "",
                  "| stage | " + " | ".join(main_sizes) + " |", "|---" * (len(main_sizes) + 1) + "|"]
        for s in in_run:
            lines.append(f"| {s} | " + " | ".join(_fmt_s(cell(z, "in_run", s, "stage_s")) for z in main_sizes) + " |")
    lines += ["", "## Peak memory (MB)", "", "| | " + " | ".join(main_sizes) + " |", "|---" * (len(main_sizes) + 1) + "|"]
    lines.append("| largest process, end to end | " + " | ".join(
        _fmt_mb(cell(z, "end_to_end", "all", "max_process_mb")) for z in main_sizes) + " |")
    lines.append("| runner (`cxlab run` itself) | " + " | ".join(
        _fmt_mb(cell(z, "end_to_end", "all", "runner_peak_mb")) for z in main_sizes) + " |")
    for s in in_run:
        lines.append(f"| {s} kernel | " + " | ".join(_fmt_mb(cell(z, "in_run", s, "kernel_peak_mb")) for z in main_sizes) + " |")

    if "50m" in sizes:
        lines += ["", "## 50M events: the touchpoint stage", "", "| stage (alone) | seconds | largest process MB | status |",
                  "|---|---|---|---|"]
        for _, r in med[(med["size"] == "50m") & (med["scope"] == "alone")].iterrows():
            lines.append(f"| {r['stage']} | {_fmt_s(r['wall_s'])} | {_fmt_mb(r['max_process_mb'])} | "
                         f"{'ok' if not r['failed'] else 'FAILED'} |")

    lines += ["", "## Targets", ""]
    e2e10 = cell("10m", "end_to_end", "all")
    mem10 = med.loc[med["size"] == "10m", "max_process_mb"].max() if "10m" in sizes else None
    if e2e10 is not None:
        lines.append(f"- 10M events end to end under {TARGET_SECONDS_10M} s: **{e2e10:,.0f} s**, "
                     + ("met." if e2e10 < TARGET_SECONDS_10M else "MISSED."))
    if mem10 is not None and mem10 == mem10:
        lines.append(f"- No process above {TARGET_PROCESS_MB:,} MB at 10M: largest **{mem10:,.0f} MB**, "
                     + ("met." if mem10 <= TARGET_PROCESS_MB else "MISSED."))
    if ratio:
        a, b = cell("1m", "end_to_end", "all"), cell("10m", "end_to_end", "all")
        if a and b:
            lines.append(f"- Time from 1M to 10M at most {TARGET_RATIO}×: end to end **{b / a:.1f}×**, "
                         + ("met." if b / a <= TARGET_RATIO else "MISSED."))
    if "50m" in sizes:
        tp = med[(med["size"] == "50m") & (med["stage"] == "touchpoints")]
        ok = len(tp) and not tp["failed"].iloc[0]
        lines.append("- 50M events, touchpoint stage completes without running out of memory: "
                     + (f"**{tp['wall_s'].iloc[0]:,.0f} s, largest process {tp['max_process_mb'].iloc[0]:,.0f} MB**, met."
                        if ok else "**MISSED** (see notes)."))
    lines += [""] + [f"- {n}" for n in notes] if notes else []
    lines += ["", "## Runs", "", "| size | scope | stage | runs | failed | wall min–max s | CPU s (tree) | load avg (1 min) | commit |",
              "|---|---|---|---|---|---|---|---|---|"]
    for _, r in med[med["scope"].isin(["end_to_end", "alone", "synth"])].iterrows():
        lines.append(f"| {r['size']} | {r['scope']} | {r['stage']} | {r['runs']} | {r['failed']} | "
                     f"{_fmt_s(r['wall_min_s'])}–{_fmt_s(r['wall_max_s'])} | {_fmt_s(r['cpu_s'])} | {_fmt_s(r['load1'])} | "
                     f"{r['commit']} |")
    lines += ["", f"Plot: `scale.png`. Raw runs: `scale_runs.csv`; medians: `scale.csv`. "
              f"Produced by `benchmarks/run.py` on {dt.date.today():%Y-%m-%d}.", ""]
    (RESULTS / "scale.md").write_text("\n".join(lines))
    plot(med, main_sizes)


def plot(med, sizes: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    sub = med[med["size"].isin(sizes)]
    e2e = sub[sub["scope"] == "end_to_end"].sort_values("events")
    if len(e2e):
        ax.plot(e2e["events"], e2e["wall_s"], "o-", color="black", lw=2.5, label="end to end (cxlab run)")
        # linear reference through the smallest size, and the 10M target
        x0, y0 = e2e["events"].iloc[0], e2e["wall_s"].iloc[0]
        xs = [x0, max(e2e["events"])]
        ax.plot(xs, [y0 * x / x0 for x in xs], ":", color="grey", label="linear in events (from 100k)")
    alone = sub[sub["scope"] == "alone"]
    for stage, g in alone.groupby("stage", sort=False):
        g = g.sort_values("events")
        ax.plot(g["events"], g["wall_s"], "o--", lw=1.2, ms=4, label=f"{stage} alone")
    ax.axhline(TARGET_SECONDS_10M, color="crimson", lw=1, ls="-.")
    ax.annotate("target at 10M: 3 min", (1e7, TARGET_SECONDS_10M), textcoords="offset points", xytext=(-90, 5),
                color="crimson", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("events in the study (10 per customer)")
    ax.set_ylabel("wall time, seconds (median)")
    ax.set_title("cxlab at scale: time against study size", loc="left")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7.5, loc="upper left")
    fig.tight_layout()
    fig.savefig(RESULTS / "scale.png", dpi=130)
    plt.close(fig)


# --------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100k,1m,10m", help="comma-separated: 100k, 1m, 10m")
    parser.add_argument("--repeats", type=int, default=3, help="runs per size (median reported)")
    parser.add_argument("--repeats-10m", type=int, default=3, help="runs at 10M (each takes minutes)")
    parser.add_argument("--no-stages", action="store_true",
                        help="only end-to-end runs, not each stage alone (earlier stage-alone rows are kept)")
    parser.add_argument("--touchpoints-50m", action="store_true", help="also run the touchpoint stage on 50M events")
    parser.add_argument("--keep", action="store_true", help="keep the reports of the benchmark runs")
    parser.add_argument("--note", action="append", default=[], help="a line for the report's notes; repeatable")
    parser.add_argument("--report-only", action="store_true", help="rewrite scale.csv/md/png from scale_runs.csv")
    parser.add_argument("--clean", action="store_true", help="delete the benchmark studies, their outputs and reports")
    args = parser.parse_args()

    if args.clean:
        for size in SIZES:
            for folder in (study_dir(size), reports_dir(size), processed_dir(size)):
                if folder.exists():
                    say(f"removing {folder}")
                    shutil.rmtree(folder)
        return
    notes_file = RESULTS / "notes.json"
    notes = json.loads(notes_file.read_text()) if notes_file.exists() else []
    if args.note:
        notes = args.note
        RESULTS.mkdir(parents=True, exist_ok=True)
        notes_file.write_text(json.dumps(notes, indent=1))
    if args.report_only:
        write_report(read_runs(), notes)
        say(f"wrote {RESULTS / 'scale.md'}")
        return
    sizes = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES or s == "50m"]
    if unknown:
        parser.error(f"unknown size(s) {unknown}; use 100k, 1m, 10m (and --touchpoints-50m)")
    say(f"machine: {machine()['cores']} cores; load {os.getloadavg()}")
    rows, replaced = [], {}
    for size in sizes:
        repeats = args.repeats_10m if size == "10m" else args.repeats
        rows += bench_size(size, repeats, not args.no_stages, args.keep)
        # --no-stages re-measures the end-to-end runs and keeps the stage-alone rows on record
        replaced[size] = {"synth", "end_to_end", "in_run"} | (set() if args.no_stages else {"alone"})
        write_report(write_runs(rows, set(replaced), replaced), notes)  # partial results survive a crash
    if args.touchpoints_50m:
        rows += bench_touchpoints_50m(args.keep)
        replaced["50m"] = {"synth", "alone"}
        write_report(write_runs(rows, set(replaced), replaced), notes)
    say(f"wrote {RESULTS / 'scale.md'}, scale.csv, scale_runs.csv, scale.png")


if __name__ == "__main__":
    main()
