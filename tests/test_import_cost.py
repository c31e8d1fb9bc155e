"""Issue 18: importing the event-log modules does not load the heavy statistics libraries.

``cxlab.touchpoints``, ``cxlab.inventory``, ``cxlab.journeys`` and ``cxlab.data`` are what a
benchmark or a scratch notebook imports to count events; scipy.stats alone cost about 1.1 s of
the 2.8 CPU-s that import took. scipy, statsmodels and scikit-learn are imported inside the
functions that use them, and a normal quantile comes from the standard library's
``statistics.NormalDist`` — held here against its reference, ``scipy.stats.norm.ppf``.

The first test checks which modules a fresh interpreter has loaded, not how long it took: a
timing assertion would fail on a busy machine and pass on a slow import.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cxlab.kpis.library import estimates_from_stats
from cxlab.results import Estimate
from cxlab.stats import mde_from_se, with_power, z_value
from cxlab.stats.intervals import _normal_quantile

HEAVY = ["scipy.stats", "scipy.optimize", "scipy.sparse", "statsmodels", "sklearn"]

LEVELS = [0.5, 0.8, 0.9, 0.95, 0.975, 0.99, 0.995, 0.999, 0.9999, 1 - 1e-9]
PROBABILITIES = [1e-15, 1e-10, 1e-6, 1e-3, 0.005, 0.025, 0.05, 0.2, 0.5, 0.8, 0.95, 0.975, 0.995, 1 - 1e-6,
                 1 - 1e-10, *np.linspace(0.001, 0.999, 101)]


def test_importing_the_event_log_modules_loads_no_scipy_stats_statsmodels_or_sklearn():
    code = ("import json, sys\n"
            "import cxlab.touchpoints, cxlab.inventory, cxlab.journeys, cxlab.data\n"
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_four_touchpoint_operations_load_no_scipy_stats_optimize_statsmodels_or_sklearn(tmp_path):
    """Running them (inventory with its score intervals, transitions, funnel, variants; no
    bootstrap) on a foreign log: the score interval's root is found without scipy.optimize
    (1.2 CPU-s to import), so the benchmark's cxlab process pays for none of these."""
    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    code = (f"import json, sys\nsys.path.insert(0, {str(bench)!r})\n"
            "import foreign_log\nfrom pathlib import Path\nimport cxlab.touchpoints as tp\n"
            f"study = foreign_log.write(Path({str(tmp_path / 'log')!r}), 20_000)\n"
            "inv = tp.inventory(study)\n"
            "tp.transitions(study, n_resamples=0)\n"
            "tp.funnel(study, ['app_open', 'product_view', 'add_to_cart', 'purchase'], n_resamples=0)\n"
            "tp.variants(study, top=20, n_resamples=0)\n"
            "print(int(inv.table.difference_ci_low.notna().sum()))\n"
            f"print(json.dumps([m for m in {HEAVY[:2] + HEAVY[3:]!r} if m in sys.modules]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "CXLAB_HOME": str(tmp_path / "home")})
    assert out.returncode == 0, out.stderr
    *_, intervals, loaded = out.stdout.strip().splitlines()
    assert int(intervals) >= 10  # the score intervals were computed
    assert json.loads(loaded) == []


@pytest.mark.parametrize("level", LEVELS)
def test_z_value_is_scipys_normal_quantile(level):
    assert abs(z_value(level) - stats.norm.ppf(0.5 + level / 2)) <= 1e-12
    assert z_value(0.95) == pytest.approx(1.959963984540054, abs=1e-15)


@pytest.mark.parametrize("p", PROBABILITIES)
def test_normal_quantile_is_scipys_norm_ppf(p):
    assert abs(_normal_quantile(p) - stats.norm.ppf(p)) <= 1e-12


@pytest.mark.parametrize("p", [0.0, 1.0, 1.5, -0.2, math.nan])
def test_normal_quantile_edges_are_scipys(p):
    """At 0 and 1 scipy gives -inf and inf, outside [0, 1] NaN; NormalDist alone would raise."""
    np.testing.assert_equal(_normal_quantile(p), stats.norm.ppf(p))
    assert z_value(1.0) == math.inf


@pytest.mark.parametrize("alpha,power", [(0.05, 0.8), (0.01, 0.9), (0.1, 0.5), (0.001, 0.99)])
def test_mde_from_se_matches_scipys_quantiles(alpha, power):
    se = 0.037
    expected = (stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * se
    assert abs(mde_from_se(se, alpha=alpha, power=power) - expected) <= 1e-12


def test_with_power_from_an_interval_uses_scipys_z():
    """No standard error given: it is the interval's half-width over z (scipy's quantile)."""
    est = Estimate("NPS change", 4.0, -1.0, 9.0, 0.2, 800, "z-test", 0.9)
    se = 10.0 / (2 * stats.norm.ppf(0.95))
    expected = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * se
    assert abs(with_power(est).extra["mde"] - expected) <= 1e-12


def test_clustered_nps_interval_uses_scipys_z():
    """An NPS whose customers answer several times: est ± z·SE clustered by customer, with z
    from ``z_value`` where it came from scipy before (reference: the same formula with
    ``scipy.stats.norm.ppf``)."""
    # 3 customers, 6 responses: +1, +1 | 0, -1 | +1, -1 (promoters 3, detractors 2)
    c_sum = np.array([2.0, -1.0, 0.0])
    c_n = np.array([2.0, 2.0, 2.0])
    row = {"n": 6.0, "customers": 3.0, "sum": c_sum.sum(), "sum_sq": 5.0, "promoters": 3.0, "detractors": 2.0,
           "c_ss": (c_sum**2).sum(), "c_ns": (c_n * c_sum).sum(), "c_nn": (c_n**2).sum()}
    out = estimates_from_stats(pd.DataFrame([row]), "nps", ci_level=0.9)
    mean = row["sum"] / row["n"]
    resid = row["c_ss"] - 2 * mean * row["c_ns"] + mean**2 * row["c_nn"]
    se = math.sqrt(3 / 2 * resid / row["n"] ** 2)
    z = stats.norm.ppf(0.95)
    assert abs(out["ci_low"].iloc[0] - 100 * max(mean - z * se, -1)) <= 1e-9
    assert abs(out["ci_high"].iloc[0] - 100 * min(mean + z * se, 1)) <= 1e-9
