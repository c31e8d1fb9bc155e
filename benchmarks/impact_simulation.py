"""Larger Monte Carlo check of cxlab.impact's tests (the test suite runs a small version).

For each design it prints the false-positive rate with no effect (should be 5%) and the share of
95% intervals covering a planted effect (should be 95%), with the Monte Carlo standard error.

The first rows are **the design the report runs** (issue 14): ``test_hypotheses`` on a
difference-in-differences hypothesis exactly as the impact stage tests it, on studies of the
demo's shape -- new customers over 12 months in 4 regions, the change launched in one region
(North) in month 7, a 30-day conversion window (June's straddlers dropped), and common region x
month shocks of 2 points that every customer of a region-month shares. Beside the p < 0.05 rate
it shows how often the decision is "supported" and how often the design check (pre-trends)
fails when nothing happened. The same studies analysed as the report did before issue 14
(customer-level robust standard errors) show why that design was replaced.

The other rows: the two-proportion test, and DiD on unit panels with AR(1) errors (clustered by
unit; the last row with conventional standard errors, to show why clustering matters).

    # the README's table (each line about 15 minutes on one core)
    .venv/bin/python benchmarks/impact_simulation.py --only report --customers 20000 --reps 1000 --old-reps 300
    .venv/bin/python benchmarks/impact_simulation.py --only report --customers 100000 --reps 500 --old-reps 200
    .venv/bin/python benchmarks/impact_simulation.py --only other    # two proportions, unit panels
"""
from __future__ import annotations

import argparse
import math
import time

import pandas as pd

from cxlab.impact.calibration import calibrate_did, calibrate_report_did, calibrate_two_proportions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=1000, help="replications per design and scenario")
    parser.add_argument("--old-reps", type=int, default=None,
                        help="replications for the pre-issue-14 customer-level design (default: --reps)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=["all", "report", "other"], default="all")
    parser.add_argument("--customers", type=int, nargs="+", default=[20_000, 100_000],
                        help="study sizes of the report-design rows")
    args = parser.parse_args()
    old = args.old_reps or args.reps
    report = []
    for n in args.customers:
        report.append(lambda n=n: calibrate_report_did(args.reps, customers=n, shock_sd=0.02, effect=0.06,
                                                       seed=args.seed))
    for n in args.customers:
        report.append(lambda n=n: calibrate_report_did(old, customers=n, shock_sd=0.02, effect=0.06, seed=args.seed,
                                                       did_inference="unit"))
    other = [
        lambda: calibrate_two_proportions(args.reps, n1=500, n2=500, p=0.3, effect=0.05, seed=args.seed),
        lambda: calibrate_two_proportions(args.reps, n1=5000, n2=5000, p=0.05, effect=0.01, seed=args.seed),
        lambda: calibrate_two_proportions(args.reps, n1=40, n2=40, p=0.08, effect=0.1, seed=args.seed),
        lambda: calibrate_did(args.reps, units=80, periods=4, effect=0.5, rho=0.6, seed=args.seed),
        lambda: calibrate_did(args.reps, units=40, periods=8, effect=0.5, rho=0.8, seed=args.seed),
        lambda: calibrate_did(args.reps, units=40, periods=8, effect=0.5, rho=0.8, seed=args.seed,
                              cov_type="nonrobust"),
    ]
    runs = {"all": report + other, "report": report, "other": other}[args.only]
    rows = []
    for run in runs:
        t0 = time.perf_counter()
        r = run()
        r["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(r)
        print(f"done: {r['design']} ({r['n']}, {r['reps']} reps) in {r['seconds']} s: "
              f"p < 0.05 when null {100 * r['false_positive_rate']:.1f}%, coverage {100 * r['coverage']:.1f}%"
              + (f", 'supported' when null {100 * r['supported_when_null']:.1f}%, check failed when null "
                 f"{100 * r['check_failed_when_null']:.1f}%" if "supported_when_null" in r else ""), flush=True)
    table = pd.DataFrame(rows)
    for col in ("false_positive_rate", "coverage", "supported_when_null", "check_failed_when_null"):
        if col in table:
            table[col] = (100 * table[col]).round(1)
    cols = [c for c in ("design", "n", "reps", "false_positive_rate", "coverage", "supported_when_null",
                        "check_failed_when_null", "seconds") if c in table]
    names = {"false_positive_rate": "p < 0.05 when null %", "coverage": "95% CI coverage %",
             "supported_when_null": "'supported' when null %", "check_failed_when_null": "check failed when null %"}
    print()
    print(table[cols].rename(columns=names).to_string(index=False))
    mcse = math.sqrt(0.05 * 0.95 / args.reps)
    print(f"\nTarget: 5% false positives, 95% coverage; Monte Carlo SE ~ {100 * mcse:.2f} points at {args.reps:,} reps.")


if __name__ == "__main__":
    main()
