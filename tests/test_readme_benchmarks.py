"""The benchmark figures the README quotes are the ones its result files hold: every row of the
foreign-log table (README, "Performance on a foreign log") is the median of the runs recorded
in the result file the section names, rounded as printed, and every ratio is the ratio of
those medians. A figure typed by hand, or left from an older run, fails here."""
from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SIZES = {"1M": "1m", "10M": "10m"}
APPROACHES = {"cxlab": "cxlab", "hand-written SQL": "hand", "retentioneering": "retentioneering"}


def _section(title: str) -> str:
    start = README.index(f"### {title}")
    end = README.find("\n## ", start)
    nxt = README.find("\n### ", start + 4)
    return README[start:min(e for e in (end, nxt) if e > 0)]


def _results() -> tuple[str, dict]:
    section = _section("Performance on a foreign log")
    names = re.findall(r"benchmarks/results/(foreign_\d{8}-\d{4}_[0-9a-f]+)\.md", section)
    assert len(set(names)) == 1, f"the section names one result file, found {sorted(set(names))}"
    data = json.loads((ROOT / "benchmarks" / "results" / f"{names[0]}.json").read_text())
    return section, data


def _medians(data: dict) -> dict[tuple[str, str], dict[str, float]]:
    out = {}
    for res in data["results"]:
        for approach, runs in res["runs"].items():
            out[(res["size"], approach)] = {k: statistics.median(r[k] for r in runs)
                                            for k in ("process_cpu", "ops_cpu", "process_wall", "peak_mb")}
    return out


ROW = re.compile(r"^\| (1M|10M) \| (cxlab|hand-written SQL|retentioneering) \| ([\d.]+) s \| ([\d.]+) s \| "
                 r"([\d.]+) s \| ([\d,]+) MB \|$", re.M)
RATIO = re.compile(r"^\| (1M|10M) \| ([\d.]+)× \| ([\d.]+)× \| ([\d.]+)× \| ([\d.]+)× \| ([\d.]+)× \|$", re.M)


def test_every_row_of_the_foreign_table_is_a_median_of_the_named_runs():
    section, data = _results()
    medians = _medians(data)
    rows = ROW.findall(section)
    assert {(s, a) for s, a, *_ in rows} >= {(s, a) for s in SIZES for a in ("cxlab", "hand-written SQL")}
    for size, approach, cpu, ops, wall, peak in rows:
        m = medians[(SIZES[size], APPROACHES[approach])]
        assert (cpu, ops, wall, peak) == (f"{m['process_cpu']:.2f}", f"{m['ops_cpu']:.2f}", f"{m['process_wall']:.1f}",
                                          f"{m['peak_mb']:,.0f}"), (size, approach)


def test_the_ratios_are_ratios_of_those_medians():
    section, data = _results()
    medians = _medians(data)
    rows = RATIO.findall(section)
    assert {r[0] for r in rows} == set(SIZES)
    for size, cpu, ops, wall, ret_cpu, ret_wall in rows:
        c, h = medians[(SIZES[size], "cxlab")], medians[(SIZES[size], "hand")]
        r = medians[(SIZES[size], "retentioneering")]
        assert (cpu, ops, wall) == (f"{c['process_cpu'] / h['process_cpu']:.2f}", f"{c['ops_cpu'] / h['ops_cpu']:.2f}",
                                    f"{c['process_wall'] / h['process_wall']:.2f}"), size
        assert (ret_cpu, ret_wall) == (f"{r['process_cpu'] / c['process_cpu']:.2f}",
                                       f"{r['process_wall'] / c['process_wall']:.2f}"), size
