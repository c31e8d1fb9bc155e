"""What retentioneering 5 costs on the foreign log, for the README's comparison (not a test of
equal results: its definitions differ — a funnel without a window, no path variants).

Run it in a separate environment, not the project's (retentioneering is not a dependency):

    python3 -m venv /tmp/retevenv && .venv/bin/uv pip install --python /tmp/retevenv/bin/python retentioneering
    RETENTIONEERING_NO_TRACK=1 /tmp/retevenv/bin/python benchmarks/retentioneering_probe.py benchmarks/studies/foreign_1m

Times, in one process: reading the parquet file into pandas, building the Eventstream (its
preprocessing), event counts, start/end events and the transition graph's counts, and a 4-step
funnel; then the process's CPU time and peak memory. RETENTIONEERING_NO_TRACK=1 turns off its
usage telemetry.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from foreign_log import FUNNEL  # noqa: E402


def cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def main() -> int:
    os.environ.setdefault("RETENTIONEERING_NO_TRACK", "1")
    folder = Path(sys.argv[1])
    times = {}

    def timed(name, work):
        c0, w0 = cpu(), time.perf_counter()
        out = work()
        times[name] = {"cpu": round(cpu() - c0, 2), "wall": round(time.perf_counter() - w0, 2)}
        return out

    c_start = cpu()
    import pandas as pd
    from retentioneering.eventstream import Eventstream

    times["import"] = {"cpu": round(cpu() - c_start, 2)}
    df = timed("read", lambda: pd.read_parquet(folder / "events.parquet"))
    schema = {"path_cols": ["user_id"], "event_col": "event_name", "timestamp_col": "event_time"}
    stream = timed("eventstream", lambda: Eventstream(df, schema=schema))
    timed("event_counts", lambda: stream.get_event_counts())
    with_ends = timed("start_end", lambda: stream.add_start_end_events())
    timed("transitions", lambda: with_ends.transition_graph_data(edge_weight="count"))
    # its funnel counts users who reached each step in order, without a time window
    timed("funnel", lambda: stream.funnel_data(steps=[s[0] for s in FUNNEL]))
    print(json.dumps({"events": len(df), "times": times, "cpu_total": round(cpu(), 2),
                      "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
