"""Benchmark: the touchpoint stage's four heavy operations on a synthetic study, three ways.

    .venv/bin/python benchmarks/touchpoints_bench.py --customers 1000000 --events-per-customer 10

builds (once) a study with ``cxlab.synth.write_study`` under benchmarks/studies/, writes its clean
tables, then times — each approach in its own fresh process, so peak memory is its own:

- **cxlab**: ``cxlab.touchpoints`` (Ibis expressions on DuckDB),
- **hand DuckDB**: hand-written DuckDB SQL computing the same tables on the same parquet file,
- **pandas**: plain pandas (read the parquet file, sort once, group-bys and merges),

doing the same four operations: the touchpoint inventory, transitions with start/end states, a
4-step ordered funnel with a 30-day window, and the top-20 path variants. Each approach runs the
four operations ``--repeats`` times; the table reports the median time per operation and of the
total, and the peak resident memory of the process. The results of the three approaches are
checked against each other (same counts), so the timings compare the same work.

Results go to benchmarks/results/touchpoints_<events>.md and .json. Clean tables and the
journey cache are written under benchmarks/studies/_home/ (CXLAB_HOME), not data/processed/.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from machine import summary

ROOT = Path(__file__).resolve().parents[1]
GOALS = ["web_purchase", "app_purchase", "store_purchase"]
FUNNEL = [
    ["social_ad", "search_ad", "newsletter_open", "store_window", "app_push_open"],
    ["web_product_view", "app_product_view"],
    ["web_checkout", "app_checkout"],
    ["web_purchase", "app_purchase"],
]
WINDOW_DAYS = 30
TOP = 20
OPS = ["inventory", "transitions", "funnel", "variants"]


# ============================================================================ cxlab
def run_cxlab(study_dir: Path, warm: bool = False) -> tuple[dict, dict]:
    from cxlab import touchpoints as tp
    from cxlab.study import Study
    from cxlab.journeys import clear_journey_cache

    study = Study.load(study_dir)
    if not warm:  # every run pays for building the journey table (one window pass), as a first run does
        clear_journey_cache(study)
    times, check = {}, {}
    t = time.perf_counter()
    inv = tp.inventory(study)
    times["inventory"] = time.perf_counter() - t
    tab = inv.table[inv.table.events > 0]
    check["inventory"] = {r.touchpoint: [int(r.events), int(r.customers), int(r.converted_touched), int(r.journey_ends)]
                          for r in tab.itertuples()}
    t = time.perf_counter()
    tr = tp.transitions(study)
    times["transitions"] = time.perf_counter() - t
    check["transitions"] = {f"{r.source}>{r.target}": int(r.transitions) for r in tr.table.itertuples()}
    t = time.perf_counter()
    fu = tp.funnel(study, FUNNEL, window_days=WINDOW_DAYS)
    times["funnel"] = time.perf_counter() - t
    check["funnel"] = fu.table.customers.astype(int).tolist() + [int(fu.time_to_convert.customers.sum())]
    t = time.perf_counter()
    va = tp.variants(study, top=TOP)
    times["variants"] = time.perf_counter() - t
    check["variants"] = sorted(va.table.customers.astype(int).tolist()) + [va.customers, va.distinct_variants]
    return times, check


# ============================================================================ hand-written DuckDB SQL
def _in(values) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def run_duckdb(study_dir: Path, events: Path) -> tuple[dict, dict]:
    import duckdb

    con = duckdb.connect()
    con.execute("SET timezone = 'UTC'")
    con.execute(f"CREATE VIEW ev AS SELECT * FROM read_parquet('{events}')")
    goals = _in(GOALS)
    times, check = {}, {}

    t = time.perf_counter()
    inv = con.execute(f"""
        WITH o AS (
          SELECT customer_id, touchpoint, row_number() OVER w AS pos,
                 CAST(floor(epoch(timestamp)) AS BIGINT) AS t,
                 lead(CAST(floor(epoch(timestamp)) AS BIGINT)) OVER w AS next_t
          FROM ev WINDOW w AS (PARTITION BY customer_id ORDER BY timestamp, seq)),
        c AS (SELECT customer_id, bool_or(touchpoint IN {goals}) AS converted FROM ev GROUP BY 1)
        SELECT touchpoint, count(*) AS events, count(DISTINCT customer_id) AS customers,
               count(DISTINCT customer_id) FILTER (WHERE converted) AS converted_touched,
               median(pos) AS median_position, median(next_t - t) AS median_seconds_to_next,
               count(*) FILTER (WHERE next_t IS NULL AND NOT converted) AS journey_ends
        FROM o JOIN c USING (customer_id) GROUP BY 1""").df()
    totals = con.execute(f"""SELECT count(*) AS customers, sum(CAST(converted AS INT)) AS converted FROM
        (SELECT customer_id, bool_or(touchpoint IN {goals}) AS converted FROM ev GROUP BY 1)""").df()
    inv["reach"] = inv.customers / totals.customers[0]
    inv["dropoff_rate"] = inv.journey_ends / inv.customers
    times["inventory"] = time.perf_counter() - t
    check["inventory"] = {r.touchpoint: [int(r.events), int(r.customers), int(r.converted_touched), int(r.journey_ends)]
                          for r in inv.itertuples()}

    t = time.perf_counter()
    tr = con.execute("""
        WITH o AS (SELECT touchpoint, lag(touchpoint) OVER w AS prev, lead(seq) OVER w AS next_seq
                   FROM ev WINDOW w AS (PARTITION BY customer_id ORDER BY timestamp, seq))
        SELECT source, target, count(*) AS transitions FROM (
          SELECT coalesce(prev, '(start)') AS source, touchpoint AS target FROM o
          UNION ALL
          SELECT touchpoint AS source, '(end)' AS target FROM o WHERE next_seq IS NULL)
        GROUP BY 1, 2""").df()
    tr["probability"] = tr.transitions / tr.groupby("source").transitions.transform("sum")
    times["transitions"] = time.perf_counter() - t
    check["transitions"] = {f"{r.source}>{r.target}": int(r.transitions) for r in tr.itertuples()}

    t = time.perf_counter()
    window = WINDOW_DAYS * 86400
    wanted = _in(sorted({x for s in FUNNEL for x in s}))
    steps = [f"""s1 AS (SELECT customer_id, min(pos) AS p1, min(t) AS t1 FROM f
                 WHERE touchpoint IN {_in(FUNNEL[0])} GROUP BY 1)"""]
    for k in range(2, len(FUNNEL) + 1):
        join = "JOIN s1 USING (customer_id)" if k == 2 else f"JOIN s{k - 1} USING (customer_id) JOIN s1 USING (customer_id)"
        steps.append(f"""s{k} AS (SELECT f.customer_id, min(f.pos) AS p{k}, min(f.t) AS t{k} FROM f {join}
            WHERE f.touchpoint IN {_in(FUNNEL[k - 1])} AND f.pos > p{k - 1} AND f.t <= t1 + {window}
            GROUP BY 1)""")
    joins = " ".join(f"LEFT JOIN s{k} USING (customer_id)" for k in range(2, len(FUNNEL) + 1))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE funnel_state AS
        WITH f AS (SELECT customer_id, touchpoint, CAST(floor(epoch(timestamp)) AS BIGINT) AS t,
                          row_number() OVER (PARTITION BY customer_id ORDER BY timestamp, seq) AS pos
                   FROM ev WHERE touchpoint IN {wanted}),
        {", ".join(steps)}
        SELECT s1.customer_id, {", ".join(f"t{k}" for k in range(1, len(FUNNEL) + 1))} FROM s1 {joins}""")
    n = len(FUNNEL)
    counts = con.execute("SELECT " + ", ".join(f"count(t{k}) AS n{k}" for k in range(1, n + 1)) + ", "
                         + ", ".join(f"median(t{k} - t{k - 1}) AS prev{k}, median(t{k} - t1) AS start{k}" for k in range(2, n + 1))
                         + ", " + ", ".join(f"quantile_cont(t{n} - t1, {q}) AS q{int(q * 100)}" for q in (0.1, 0.25, 0.5, 0.75, 0.9))
                         + " FROM funnel_state").df()
    dist = con.execute(f"SELECT CAST(floor((t{n} - t1) / 86400) AS BIGINT) AS day, count(*) AS customers "
                       f"FROM funnel_state WHERE t{n} IS NOT NULL GROUP BY 1 ORDER BY 1").df()
    con.execute("DROP TABLE funnel_state")
    times["funnel"] = time.perf_counter() - t
    check["funnel"] = [int(counts[f"n{k}"][0]) for k in range(1, n + 1)] + [int(dist.customers.sum())]

    t = time.perf_counter()
    con.execute(f"""CREATE OR REPLACE TEMP TABLE variant_counts AS
        WITH o AS (
          SELECT customer_id, touchpoint, CAST(floor(epoch(timestamp)) AS BIGINT) AS t,
                 row_number() OVER w AS pos, lag(touchpoint) OVER w AS prev,
                 CAST(touchpoint IN {goals} AS INT) AS is_goal,
                 sum(CAST(touchpoint IN {goals} AS INT)) OVER (w ROWS UNBOUNDED PRECEDING) AS goals_so_far
          FROM ev WINDOW w AS (PARTITION BY customer_id ORDER BY timestamp, seq)),
        c AS (
          SELECT customer_id,
                 coalesce(string_agg(touchpoint, ' > ' ORDER BY pos)
                          FILTER (WHERE (prev IS NULL OR prev <> touchpoint) AND goals_so_far = 0), '') AS variant,
                 max(is_goal) AS converted, min(t) AS first_t, max(t) AS last_t,
                 min(t) FILTER (WHERE is_goal = 1) AS goal_t
          FROM o GROUP BY 1)
        SELECT variant, count(*) AS customers, sum(converted) AS converted,
               median(coalesce(goal_t, last_t) - first_t) AS median_seconds
        FROM c GROUP BY 1""")
    top = con.execute(f"SELECT * FROM variant_counts ORDER BY customers DESC, variant LIMIT {TOP}").df()
    tot = con.execute("SELECT sum(customers) AS customers, count(*) AS variants FROM variant_counts").df()
    con.execute("DROP TABLE variant_counts")
    times["variants"] = time.perf_counter() - t
    check["variants"] = sorted(top.customers.astype(int).tolist()) + [int(tot.customers[0]), int(tot.variants[0])]
    con.close()
    return times, check


# ============================================================================ plain pandas
def run_pandas(study_dir: Path, events: Path) -> tuple[dict, dict]:
    import numpy as np
    import pandas as pd

    times, check = {}, {}
    t = time.perf_counter()
    ev = pd.read_parquet(events, columns=["seq", "customer_id", "timestamp", "touchpoint"])
    ev = ev.sort_values(["customer_id", "timestamp", "seq"], ignore_index=True)
    ev["t"] = ev["timestamp"].astype("datetime64[s]").astype("int64")
    cid = ev["customer_id"]
    g = ev.groupby("customer_id", sort=False)
    times["load"] = time.perf_counter() - t

    t = time.perf_counter()
    is_goal = ev["touchpoint"].isin(GOALS)
    converted = is_goal.groupby(cid, sort=False).transform("max")
    next_t = g["t"].shift(-1)
    df = pd.DataFrame({"touchpoint": ev["touchpoint"], "customer_id": cid, "pos": g.cumcount() + 1,
                       "gap": next_t - ev["t"], "end": next_t.isna() & ~converted, "converted": converted})
    inv = df.groupby("touchpoint").agg(events=("pos", "size"), customers=("customer_id", "nunique"),
                                       median_position=("pos", "median"), median_gap=("gap", "median"),
                                       journey_ends=("end", "sum"))
    inv["converted_touched"] = df[df.converted].groupby("touchpoint")["customer_id"].nunique()
    inv["converted_touched"] = inv["converted_touched"].fillna(0)
    n_customers = cid.nunique()
    inv["reach"] = inv.customers / n_customers
    inv["dropoff_rate"] = inv.journey_ends / inv.customers
    times["inventory"] = time.perf_counter() - t
    check["inventory"] = {k: [int(r.events), int(r.customers), int(r.converted_touched), int(r.journey_ends)]
                          for k, r in inv.iterrows()}

    t = time.perf_counter()
    prev = g["touchpoint"].shift(1)
    last = next_t.isna()
    pairs = pd.concat([
        pd.DataFrame({"source": prev.fillna("(start)"), "target": ev["touchpoint"]}),
        pd.DataFrame({"source": ev.loc[last, "touchpoint"], "target": "(end)"}),
    ])
    tr = pairs.groupby(["source", "target"]).size().rename("transitions").reset_index()
    tr["probability"] = tr.transitions / tr.groupby("source").transitions.transform("sum")
    times["transitions"] = time.perf_counter() - t
    check["transitions"] = {f"{r.source}>{r.target}": int(r.transitions) for r in tr.itertuples()}

    t = time.perf_counter()
    window = WINDOW_DAYS * 86400
    f = ev[ev["touchpoint"].isin({x for s in FUNNEL for x in s})][["customer_id", "touchpoint", "t"]].copy()
    f["pos"] = f.groupby("customer_id", sort=False).cumcount()
    s1 = f[f.touchpoint.isin(FUNNEL[0])].groupby("customer_id").agg(p1=("pos", "min"), t1=("t", "min"))
    state = s1
    for k in range(2, len(FUNNEL) + 1):
        sk = f[f.touchpoint.isin(FUNNEL[k - 1])].merge(state[[f"p{k - 1}", "t1"]].dropna(), left_on="customer_id", right_index=True)
        sk = sk[(sk.pos > sk[f"p{k - 1}"]) & (sk.t <= sk.t1 + window)]
        state = state.join(sk.groupby("customer_id").agg(**{f"p{k}": ("pos", "min"), f"t{k}": ("t", "min")}))
    n = len(FUNNEL)
    counts = [int(state[f"t{k}"].notna().sum()) for k in range(1, n + 1)]
    medians = {k: ((state[f"t{k}"] - state[f"t{k - 1}"]).median(), (state[f"t{k}"] - state.t1).median()) for k in range(2, n + 1)}
    ttc = (state[f"t{n}"] - state.t1).dropna()
    quant = ttc.quantile([0.1, 0.25, 0.5, 0.75, 0.9])
    dist = (ttc // 86400).astype("int64").value_counts().sort_index()
    times["funnel"] = time.perf_counter() - t
    check["funnel"] = counts + [int(dist.sum())]
    del medians, quant

    t = time.perf_counter()
    goals_so_far = is_goal.astype("int8").groupby(cid, sort=False).cumsum()
    keep = (prev.isna() | (prev != ev["touchpoint"])) & (goals_so_far == 0)
    variant = ev.loc[keep].groupby("customer_id", sort=False)["touchpoint"].agg(" > ".join)
    cust = pd.DataFrame({"first_t": g["t"].min(), "last_t": g["t"].max(),
                         "goal_t": ev.loc[is_goal].groupby("customer_id", sort=False)["t"].min(),
                         "converted": is_goal.groupby(cid, sort=False).max()})
    cust["variant"] = variant.reindex(cust.index).fillna("")
    cust["duration"] = cust.goal_t.fillna(cust.last_t) - cust.first_t
    per = cust.groupby("variant").agg(customers=("converted", "size"), converted=("converted", "sum"),
                                      median_seconds=("duration", "median"))
    top = per.sort_values("customers", ascending=False).head(TOP)
    times["variants"] = time.perf_counter() - t
    check["variants"] = sorted(top.customers.astype(int).tolist()) + [int(per.customers.sum()), int(len(per))]
    del np
    return times, check


# ============================================================================ driver
def worker(approach: str, study_dir: Path, repeats: int) -> None:
    from cxlab import data
    from cxlab.study import Study

    study = Study.load(study_dir)
    events = data.clean_path(study, "events")
    runs = []
    check = None
    if approach == "cxlab_warm":  # built once, untimed: what every analysis after the first sees
        from cxlab import journeys as _journeys

        _journeys.journey_table(_journeys.resolve(study_dir))
    for _ in range(repeats):
        if approach in ("cxlab", "cxlab_warm"):
            times, check = run_cxlab(study_dir, warm=approach == "cxlab_warm")
        elif approach == "duckdb":
            times, check = run_duckdb(study_dir, events)
        else:
            times, check = run_pandas(study_dir, events)
        times["total"] = sum(times.values())
        runs.append(times)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"approach": approach, "runs": runs, "peak_mb": peak_mb, "check": check}))


def machine() -> str:
    return summary(["duckdb", "ibis-framework", "pandas"])


def compare(checks: dict[str, dict]) -> list[str]:
    """Differences between the approaches' results (empty when they agree)."""
    problems = []
    names = list(checks)
    ref = checks[names[0]]
    for other in names[1:]:
        for op in OPS:
            if checks[other][op] != ref[op]:
                problems.append(f"{op}: {names[0]} and {other} differ")
    return problems


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--events-per-customer", type=float, default=10)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--approaches", default="cxlab,duckdb,pandas,cxlab_warm")
    p.add_argument("--studies", default=str(ROOT / "benchmarks" / "studies"))
    p.add_argument("--study-dir", help="use this existing synthetic study folder instead of building one")
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--study", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker, Path(args.study), args.repeats)
        return 0

    # clean tables and the journey cache go to a home of the benchmark's own, so clearing the
    # cache between runs never touches a study another process is working on
    os.environ.setdefault("CXLAB_HOME", str(Path(args.studies) / "_home"))
    from cxlab import data
    from cxlab.synth import write_study

    folder = Path(args.study_dir) if args.study_dir else (
        Path(args.studies) / f"touchpoints_{args.customers}_{args.events_per_customer:g}")
    if not (folder / "study.yaml").exists():
        print(f"building {folder} ...", flush=True)
        write_study(folder, customers=args.customers, seed=args.seed, events_per_customer=args.events_per_customer)
    study = data.ensure_clean(folder)
    import duckdb

    n_events, n_customers = duckdb.sql(f"SELECT count(*), count(DISTINCT customer_id) FROM "
                                       f"read_parquet('{data.clean_path(study, 'events')}')").fetchall()[0]
    print(f"{n_events:,} events, {n_customers:,} customers; {args.repeats} runs per approach", flush=True)

    results, checks = {}, {}
    for approach in args.approaches.split(","):
        out = subprocess.run([sys.executable, __file__, "--worker", approach, "--study", str(folder),
                              "--repeats", str(args.repeats)], capture_output=True, text=True)
        if out.returncode:
            print(out.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{approach} failed")
        res = json.loads(out.stdout.strip().splitlines()[-1])
        med = {op: statistics.median(r[op] for r in res["runs"]) for op in res["runs"][0]}
        results[approach] = {"median_seconds": med, "runs": res["runs"], "peak_mb": res["peak_mb"]}
        checks[approach] = res["check"]
        print(f"  {approach}: total {med['total']:.2f} s (median), peak {res['peak_mb']:.0f} MB", flush=True)

    problems = compare(checks)
    label = {"cxlab": "cxlab (Ibis on DuckDB)", "cxlab_warm": "cxlab, journey table already built",
             "duckdb": "hand-written DuckDB SQL", "pandas": "plain pandas"}
    cols = ["load"] + OPS + ["total"]
    lines = [
        f"Touchpoint stage, {n_events:,} events / {n_customers:,} customers "
        f"(cxlab synth, seed {args.seed}); median of {args.repeats} runs, seconds; peak resident memory of the process.",
        "",
        f"Machine: {machine()}.",
        "",
        "| approach | " + " | ".join(cols) + " | peak memory |",
        "|---|" + "---:|" * (len(cols) + 1),
    ]
    for approach, r in results.items():
        m = r["median_seconds"]
        cells = [f"{m[c]:.2f}" if c in m else "–" for c in cols]
        lines.append(f"| {label.get(approach, approach)} | " + " | ".join(cells) + f" | {r['peak_mb']:,.0f} MB |")
    if "cxlab" in results:
        cx = results["cxlab"]["median_seconds"]["total"]
        lines.append("")
        if "duckdb" in results:
            lines.append(f"cxlab / hand DuckDB total: {cx / results['duckdb']['median_seconds']['total']:.2f}× (target ≤ 1.3×).")
        if "pandas" in results:
            lines.append(f"pandas / cxlab total: {results['pandas']['median_seconds']['total'] / cx:.1f}× (target ≥ 3×).")
        lines.append(f"cxlab peak memory: {results['cxlab']['peak_mb']:,.0f} MB (target < 1,536 MB).")
    lines.append("")
    lines.append("Results agree across approaches." if not problems else "RESULTS DIFFER: " + "; ".join(problems))
    text = "\n".join(lines)
    print("\n" + text)
    out_dir = Path(args.results)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"touchpoints_{n_events}"
    stem.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    stem.with_suffix(".json").write_text(json.dumps({"events": n_events, "customers": n_customers,
                                                      "machine": machine(), "results": results,
                                                      "agree": not problems, "problems": problems}, indent=2))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
