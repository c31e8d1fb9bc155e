"""Benchmark: the segmentation stage's feature extraction through the engine, and the rest of
the stage, on a synthetic study.

    .venv/bin/python benchmarks/segments_bench.py --customers 100000 --events-per-customer 10    # 1M events
    .venv/bin/python benchmarks/segments_bench.py --customers 1000000 --events-per-customer 10   # 10M events

builds (once) a study with ``cxlab.synth.write_study`` under benchmarks/studies/, writes its clean
tables, then times in a fresh process (so peak memory is its own), ``--repeats`` times:

- **features**: ``cxlab.segments.customer_features`` — one Ibis query over events, tickets and
  surveys on DuckDB, one row per customer back to pandas (engagement, channel and stage shares,
  purchases in lifetimes' terms, journey, support and survey features);
- **sentiment**: the same with survey comments scored (VADER, each distinct text once; the
  scores kept from an earlier run are deleted first, so this is the cost of scoring);
- **clustering**: ``cluster_customers`` on the customers with events (k chosen from 2–8 by
  silhouette and bootstrap stability on a 10,000-customer sample; fitted on ≤ 50,000; everyone
  assigned);
- **stage**: ``segment_customers`` end to end (features with sentiment, demographic bands, RFM,
  clustering, per-segment touchpoint counts in the engine, persona cards with quotes, the
  segment × KPI tests), comments scored afresh.

The table reports the median seconds of each and the peak resident memory of the process, and
checks that every repeat found the same number of customers and clusters.
Results go to benchmarks/results/segments_<events>.md and .json.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from machine import summary

ROOT = Path(__file__).resolve().parents[1]
OPS = ["features", "sentiment", "clustering", "stage"]


def worker(study_dir: Path, repeats: int, ops: list[str]) -> None:
    from cxlab import engine
    from cxlab.segments import cluster_customers, customer_features, segment_customers
    from cxlab.study import Study

    study = Study.load(study_dir)

    def forget_scores() -> None:  # time the scoring of comments, not the read of kept scores
        from cxlab import sentiment

        sentiment.forget(study)  # the scores kept for the study (shared by stages) and in this process

    runs, check = [], []
    for _ in range(repeats):
        times, seen = {}, {}
        if "features" in ops:
            t = time.perf_counter()
            f = customer_features(study)
            times["features"] = time.perf_counter() - t
            seen["customers"] = len(f)
            seen["columns"] = f.shape[1]
        if "sentiment" in ops:
            forget_scores()
            t = time.perf_counter()
            f = customer_features(study, sentiment=True)
            times["sentiment"] = time.perf_counter() - t
            seen["with_sentiment"] = int(f["sentiment_mean"].notna().sum())
        if "clustering" in ops:
            active = f[f["events"] > 0].reset_index(drop=True)
            t = time.perf_counter()
            cl = cluster_customers(active)
            times["clustering"] = time.perf_counter() - t
            seen["k"] = cl.k
        if "stage" in ops:
            forget_scores()
            t = time.perf_counter()
            seg = segment_customers(study, sentiment=True)
            times["stage"] = time.perf_counter() - t
            seen["stage_k"] = seg.clusters.k
        runs.append(times)
        check.append(seen)
        engine.reset()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"runs": runs, "check": check, "peak_mb": peak_mb}))


def machine() -> str:
    return summary(["duckdb", "ibis-framework", "pandas", "scikit-learn"])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--events-per-customer", type=float, default=10)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--ops", default=",".join(OPS), help=f"comma-separated, from {', '.join(OPS)}")
    p.add_argument("--study", help="an existing study folder to use instead of building one")
    p.add_argument("--studies", default=str(ROOT / "benchmarks" / "studies"))
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    ops = [o for o in args.ops.split(",") if o]
    unknown = set(ops) - set(OPS)
    if unknown:
        p.error(f"unknown ops {', '.join(sorted(unknown))}")
    if "clustering" in ops and "features" not in ops:
        ops.insert(0, "features")
    if args.worker:
        worker(Path(args.study), args.repeats, ops)
        return 0

    from cxlab import data
    from cxlab.synth import write_study

    folder = Path(args.study) if args.study else (
        Path(args.studies) / f"synth_{args.customers}_{args.events_per_customer:g}")
    if not (folder / "study.yaml").exists():
        print(f"building {folder} ...", flush=True)
        write_study(folder, customers=args.customers, seed=args.seed, events_per_customer=args.events_per_customer)
    study = data.ensure_clean(folder)
    import duckdb

    n_events = duckdb.sql(f"SELECT count(*) FROM read_parquet('{data.clean_path(study, 'events')}')").fetchall()[0][0]
    n_customers = duckdb.sql(f"SELECT count(*) FROM read_parquet('{data.clean_path(study, 'customers')}')").fetchall()[0][0]
    print(f"{n_events:,} events, {n_customers:,} customers; {args.repeats} runs", flush=True)
    out = subprocess.run([sys.executable, __file__, "--worker", "--study", str(folder), "--repeats", str(args.repeats),
                          "--ops", ",".join(ops)], capture_output=True, text=True)
    if out.returncode:
        print(out.stderr[-3000:], file=sys.stderr)
        raise SystemExit("the benchmark worker failed")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    med = {op: statistics.median(r[op] for r in res["runs"]) for op in res["runs"][0]}
    consistent = all(c == res["check"][0] for c in res["check"])
    check = res["check"][0]
    lines = [
        f"Segmentation stage, {n_events:,} events / {n_customers:,} customers (cxlab synth, {folder.name}); "
        f"median of {args.repeats} runs, seconds; peak resident memory of the process.",
        "",
        f"Machine: {machine()}.",
        "",
        "| " + " | ".join(ops) + " | peak memory |",
        "|" + "---:|" * (len(ops) + 1),
        "| " + " | ".join(f"{med[o]:.2f}" for o in ops) + f" | {res['peak_mb']:,.0f} MB |",
        "",
        f"Features: {check.get('customers', 0):,} customers × {check.get('columns', 0)} columns"
        + (f"; {check['with_sentiment']:,} customers with a scored comment" if "with_sentiment" in check else "")
        + (f"; k = {check['k']} clusters" if "k" in check else "") + ".",
        "Every run found the same." if consistent else "RUNS DIFFER: " + json.dumps(res["check"]),
    ]
    text = "\n".join(lines)
    print("\n" + text)
    out_dir = Path(args.results)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"segments_{n_events}"
    stem.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    stem.with_suffix(".json").write_text(json.dumps({
        "events": n_events, "customers": n_customers, "machine": machine(), "median_seconds": med,
        "runs": res["runs"], "peak_mb": res["peak_mb"], "check": res["check"], "consistent": consistent,
    }, indent=2))
    return 0 if consistent else 1


if __name__ == "__main__":
    raise SystemExit(main())
