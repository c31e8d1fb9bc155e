"""The baseline cxlab is measured against: the touchpoint stage's four operations in hand-written
DuckDB SQL, as a competent analyst would write them for a raw export.

    .venv/bin/python benchmarks/hand_sql.py benchmarks/studies/foreign_1m

One window pass over the raw file (the analyst's own columns, no validation, no clean copy)
into a temporary table holding only what the four operations read — customer, touchpoint, whole
seconds, position, previous touchpoint, time of the next event, goals so far and goals in the
whole journey — then four aggregate queries on it:

- **inventory**: per touchpoint, events, customers reached, customers reached who converted,
  median position, median seconds to the next event, journeys that end there without the goal;
- **transitions**: counts of (previous touchpoint or ``(start)``) → touchpoint, and of last
  touchpoint → ``(end)``;
- **funnel**: the ordered funnel with a window (greedy earliest chain, as ``cxlab.touchpoints.
  funnel`` defines it): customers per step, medians between steps, quantiles and the per-day
  distribution of the time to convert;
- **variants**: the path before the first goal with back-to-back repeats collapsed, per customer,
  then customers, conversions and median duration per path; the top ``top`` and the totals.

The same definitions as cxlab (journey order by timestamp, then the row in the file), so the
benchmark can check that both give the same counts.
"""
from __future__ import annotations

import time
from pathlib import Path

def _cpu() -> float:
    import resource

    use = resource.getrusage(resource.RUSAGE_SELF)  # every thread of the process, DuckDB's too
    return use.ru_utime + use.ru_stime


def _in(values) -> str:
    return "(" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) + ")"


def journey_sql(events: Path, *, customer: str, touchpoint: str, timestamp: str, goals) -> str:
    """The one window pass: the raw file's rows in journey order, with the columns the four
    operations need. ``file_row_number`` breaks timestamp ties, in the order of the file."""
    path = str(events).replace("'", "''")
    return f"""
        CREATE OR REPLACE TEMP TABLE j AS
        SELECT "{customer}" AS customer_id, "{touchpoint}" AS touchpoint, t,
               row_number() OVER w AS pos,
               lag("{touchpoint}") OVER w AS prev,
               lead(t) OVER w AS next_t,
               sum(g) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS goals_so_far,
               sum(g) OVER whole AS goals,
               first_value(t) OVER w AS first_t,
               min(t) FILTER (WHERE g = 1) OVER whole AS first_goal_t
        FROM (SELECT "{customer}", "{touchpoint}", "{timestamp}", file_row_number,
                     CAST(floor(epoch("{timestamp}")) AS BIGINT) AS t,
                     CAST("{touchpoint}" IN {_in(goals)} AS INTEGER) AS g
              FROM read_parquet('{path}', file_row_number = true))
        WINDOW w AS (PARTITION BY "{customer}" ORDER BY "{timestamp}", file_row_number),
               whole AS (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"""


def inventory(con, window_days: float | None):
    """Per touchpoint: events, customers, median position and gap, journeys ending there without
    the goal; and the lift comparison as ``cxlab.inventory`` defines it: a customer converts when
    their first goal comes within the window of their first event, is compared when that window
    ends before the log does (the end of the day of its last event), and touched a touchpoint
    when they met it before their first goal and inside their window."""
    w = "NULL" if window_days is None else int(round(window_days * 86400))
    ends = con.execute("SELECT (max(t) // 86400 + 1) * 86400 FROM j WHERE next_t IS NULL").fetchone()[0]
    compared = "TRUE" if window_days is None else f"first_t + {w} <= {ends}"
    converts = "first_goal_t IS NOT NULL" + ("" if window_days is None else f" AND first_goal_t <= first_t + {w}")
    early = "goals_so_far = 0" + ("" if window_days is None else f" AND t <= first_t + {w}")
    # customer counts from one row per (touchpoint, customer): cheaper than distinct counts
    table = con.execute(f"""
        WITH per_event AS (
          SELECT touchpoint, count(*) AS events, median(pos) AS median_position,
                 median(next_t - t) AS median_seconds_to_next,
                 count(*) FILTER (WHERE next_t IS NULL AND goals = 0) AS journey_ends
          FROM j GROUP BY touchpoint),
        pairs AS (
          SELECT touchpoint, customer_id,
                 max(CASE WHEN {early} AND {compared} THEN (CASE WHEN {converts} THEN 2 ELSE 1 END) ELSE 0 END) AS k
          FROM j GROUP BY touchpoint, customer_id)
        SELECT per_event.*, c.* EXCLUDE (touchpoint) FROM per_event JOIN (
          SELECT touchpoint, count(*) AS customers, count(*) FILTER (WHERE k > 0) AS touched_before_outcome,
                 count(*) FILTER (WHERE k = 2) AS converted_touched
          FROM pairs GROUP BY touchpoint) c USING (touchpoint)""").df()
    totals = con.execute(f"""
        SELECT count(*) AS customers, count(*) FILTER (WHERE goals > 0) AS converted,
               count(*) FILTER (WHERE {compared}) AS compared,
               count(*) FILTER (WHERE {compared} AND {converts}) AS compared_converted
        FROM j WHERE next_t IS NULL""").df()
    return table, totals


def transitions(con):
    tr = con.execute("""
        SELECT coalesce(prev, '(start)') AS source, touchpoint AS target, count(*) AS transitions
        FROM j GROUP BY ALL
        UNION ALL
        SELECT touchpoint, '(end)', count(*) FROM j WHERE next_t IS NULL GROUP BY ALL""").df()
    tr["probability"] = tr.transitions / tr.groupby("source").transitions.transform("sum")
    return tr


QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def funnel(con, steps, window_days: float):
    """Ordered funnel: step 1 at the first step-1 event; step k at the first step-k event after
    step k-1's, no later than step 1's time + the window."""
    window = int(round(window_days * 86400))
    wanted = _in(sorted({x for s in steps for x in s}))
    ctes = [f"f AS (SELECT customer_id, touchpoint, pos, t FROM j WHERE touchpoint IN {wanted})",
            f"s1 AS (SELECT customer_id, min(pos) AS p1, min(t) AS t1 FROM f WHERE touchpoint IN {_in(steps[0])} "
            "GROUP BY customer_id)"]
    for k in range(2, len(steps) + 1):
        ctes.append(f"""s{k} AS (SELECT p.customer_id, min(p.t1) AS t1, min(f.pos) AS p{k}, min(f.t) AS t{k}
            FROM s{k - 1} p JOIN f ON f.customer_id = p.customer_id AND f.touchpoint IN {_in(steps[k - 1])}
            AND f.pos > p.p{k - 1} AND f.t <= p.t1 + {window} GROUP BY p.customer_id)""")
    n = len(steps)
    # each step's table holds the customers who reached it; the counts and medians per step
    con.execute(f"CREATE OR REPLACE TEMP TABLE funnel_state AS WITH {', '.join(ctes)} "
                f"SELECT s1.customer_id, s1.t1, {', '.join(f's{k}.t{k}' for k in range(2, n + 1))} FROM s1 "
                + " ".join(f"LEFT JOIN s{k} USING (customer_id)" for k in range(2, n + 1)))
    stats = con.execute(
        "SELECT " + ", ".join(f"count(t{k}) AS n{k}" for k in range(1, n + 1)) + ", "
        + ", ".join(f"median(t{k} - t{k - 1}) AS prev{k}, median(t{k} - t1) AS start{k}" for k in range(2, n + 1)) + ", "
        + ", ".join(f"quantile_cont(t{n} - t1, {q}) AS q{int(q * 100)}" for q in QUANTILES)
        + " FROM funnel_state").df()
    days = con.execute(f"SELECT CAST(floor((t{n} - t1) / 86400) AS BIGINT) AS day, count(*) AS customers "
                       f"FROM funnel_state WHERE t{n} IS NOT NULL GROUP BY day ORDER BY day").df()
    con.execute("DROP TABLE funnel_state")
    return stats, days


def variants(con, goals, top: int):
    goal = f"touchpoint IN {_in(goals)}"
    return con.execute(f"""
        WITH c AS (
          SELECT list(touchpoint ORDER BY pos) FILTER (WHERE (prev IS NULL OR prev <> touchpoint)
                                                       AND goals_so_far = 0) AS path,
                 min(t) FILTER (WHERE {goal}) AS goal_t, min(t) AS first_t, max(t) AS last_t,
                 max(goals) > 0 AS converted
          FROM j GROUP BY customer_id),
        v AS (SELECT array_to_string(coalesce(path, []), ' > ') AS variant, len(coalesce(path, [])) AS steps,
                     count(*) AS customers, count(*) FILTER (WHERE converted) AS converted,
                     median(coalesce(goal_t, last_t) - first_t) AS median_seconds
              FROM c GROUP BY ALL)
        SELECT *, sum(customers) OVER () AS all_customers, count(*) OVER () AS distinct_variants
        FROM v ORDER BY customers DESC, variant LIMIT {int(top)}""").df()


def run(events: Path, *, goals, steps, window_days: float = 30, conversion_window_days: float | None = 30,
        top: int = 20, customer="customer_id",
        touchpoint="touchpoint", timestamp="timestamp", con=None) -> tuple[dict, dict, dict]:
    """The four operations on ``events`` (a parquet file). Returns (wall seconds per operation,
    CPU seconds per operation, results); the window pass counts towards the inventory, the
    first operation that needs it, as cxlab's journey table does."""
    import duckdb

    if con is None:
        con = duckdb.connect()
    con.execute("SET timezone = 'UTC'")
    wall, cpu, out = {}, {}, {}
    for name, work in (
        ("inventory", lambda: (con.execute(journey_sql(events, customer=customer, touchpoint=touchpoint,
                                                       timestamp=timestamp, goals=goals)),
                                inventory(con, conversion_window_days))[1]),
        ("transitions", lambda: transitions(con)),
        ("funnel", lambda: funnel(con, steps, window_days)),
        ("variants", lambda: variants(con, goals, top)),
    ):
        w0, c0 = time.perf_counter(), _cpu()
        out[name] = work()
        wall[name], cpu[name] = time.perf_counter() - w0, _cpu() - c0
    con.execute("DROP TABLE j")
    return wall, cpu, out


def main(argv=None) -> int:
    import argparse
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from foreign_log import FUNNEL, GOALS

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("study", type=Path, help="a folder written by benchmarks/foreign_log.py")
    args = p.parse_args(argv)
    wall, cpu, out = run(args.study / "events.parquet", goals=GOALS, steps=FUNNEL, customer="user_id",
                         touchpoint="event_name", timestamp="event_time")
    for name in wall:
        print(f"{name}: {wall[name]:.2f} s wall, {cpu[name]:.2f} s CPU")
    inv, totals = out["inventory"]
    print(inv.sort_values("events", ascending=False).to_string(index=False))
    print(totals.to_string(index=False))
    print(out["funnel"][0].to_string(index=False))
    print(out["variants"].head(5).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
