"""Larger Monte Carlo check of cxlab.impact's tests (the test suite runs a small version).

For each design it prints the false-positive rate with no effect (should be 5%) and the share of
95% intervals covering a planted effect (should be 95%), with the Monte Carlo standard error.
The last DiD row uses conventional (non-clustered) standard errors on the same serially
correlated panels, to show why clustering matters.

    .venv/bin/python benchmarks/impact_simulation.py            # 5,000 reps each, a few minutes
    .venv/bin/python benchmarks/impact_simulation.py --reps 1000
"""
from __future__ import annotations

import argparse
import math
import time

import pandas as pd

from cxlab.impact.calibration import calibrate_did, calibrate_two_proportions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5000, help="replications per design and scenario")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    runs = [
        lambda: calibrate_two_proportions(args.reps, n1=500, n2=500, p=0.3, effect=0.05, seed=args.seed),
        lambda: calibrate_two_proportions(args.reps, n1=5000, n2=5000, p=0.05, effect=0.01, seed=args.seed),
        lambda: calibrate_two_proportions(args.reps, n1=40, n2=40, p=0.08, effect=0.1, seed=args.seed),
        lambda: calibrate_did(args.reps, units=80, periods=4, effect=0.5, rho=0.6, seed=args.seed),
        lambda: calibrate_did(args.reps, units=40, periods=8, effect=0.5, rho=0.8, seed=args.seed),
        lambda: calibrate_did(args.reps, units=40, periods=8, effect=0.5, rho=0.8, seed=args.seed,
                              cov_type="nonrobust"),
    ]
    rows = []
    for run in runs:
        t0 = time.perf_counter()
        r = run()
        r["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(r)
        print(f"done: {r['design']} ({r['n']}) in {r['seconds']} s", flush=True)
    table = pd.DataFrame(rows)
    mcse = math.sqrt(0.05 * 0.95 / args.reps)
    table["false_positive_rate"] = (100 * table["false_positive_rate"]).round(1)
    table["coverage"] = (100 * table["coverage"]).round(1)
    cols = ["design", "n", "reps", "false_positive_rate", "coverage", "seconds"]
    print()
    print(table[cols].rename(columns={"false_positive_rate": "false positives %", "coverage": "95% CI coverage %"})
          .to_string(index=False))
    print(f"\nTarget: 5% false positives, 95% coverage; Monte Carlo SE ~ {100 * mcse:.2f} points at {args.reps:,} reps.")


if __name__ == "__main__":
    main()
