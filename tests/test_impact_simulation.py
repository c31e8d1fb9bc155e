"""Simulation checks of cxlab.impact (issue 7): with no effect the false-positive rate is
5% +/- 1.5 points, and 95% intervals cover a planted effect 93-97% of the time, for the
two-proportion test and for difference-in-differences with errors correlated within units
(standard errors clustered by unit). Seeded, so deterministic; the larger version with more
designs is benchmarks/impact_simulation.py."""
from __future__ import annotations

import pytest

from cxlab.impact.calibration import calibrate_did, calibrate_two_proportions


def test_two_proportion_test_has_nominal_size_and_coverage():
    r = calibrate_two_proportions(1000, n1=500, n2=500, p=0.3, effect=0.05, seed=2026)
    assert 0.035 <= r["false_positive_rate"] <= 0.065, r
    assert 0.93 <= r["coverage"] <= 0.97, r


@pytest.mark.slow
def test_did_with_clustered_errors_has_nominal_size_and_coverage():
    # 80 units (40 treated) x 4 periods, AR(1) errors with rho = 0.6 within each unit
    r = calibrate_did(1000, units=80, periods=4, effect=0.5, rho=0.6, seed=2026)
    assert 0.035 <= r["false_positive_rate"] <= 0.065, r
    assert 0.93 <= r["coverage"] <= 0.97, r
