"""Issue 14: the two-proportion interval and its p-value agree.

References: statsmodels 0.15 ``test_proportions_2indep`` (the p-values, "score" and "wald") and
``confint_proportions_2indep`` (the Wald interval); R ``PropCIs::diffscoreci`` for the score
interval (Miettinen–Nurminen), and the interval's defining property computed independently
here: at each bound the score test of that difference, with the restricted maximum likelihood
found by root-finding on the log-likelihood, gives p = alpha. statsmodels' own score interval is
not the reference: its restricted rates for a non-zero difference use a wrong coefficient
(statsmodels issue #10269, open; the test of no difference is not affected), so its bounds are
off by up to about 1e-3, and its root bracket fails on many tables (16/40 against 8/40 among
them)."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep
from statsmodels.stats.proportion import test_proportions_2indep as sm_test_proportions_2indep

from cxlab.errors import ParameterError
from cxlab.stats import two_proportions

ALPHA = 0.05
GRID = 500


def _grid(size: int = GRID, seed: int = 14) -> list[tuple[int, int, int, int]]:
    """Random (x1, n1, x2, n2): group sizes from 1 to 300 (a third of them 1 to 20), counts
    anywhere from 0 to n, with the edges 0 and n drawn often."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(size):
        high = 20 if i % 3 == 0 else 300
        n1, n2 = (int(v) for v in rng.integers(1, high + 1, 2))
        counts = []
        for n in (n1, n2):
            u = rng.random()
            counts.append(0 if u < 0.08 else n if u < 0.16 else int(rng.integers(0, n + 1)))
        cases.append((counts[0], n1, counts[1], n2))
    return cases


def _statsmodels_p(x1, n1, x2, n2, method, value=0.0) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(sm_test_proportions_2indep(x1, n1, x2, n2, value=value, method=method).pvalue)


def _statsmodels_interval(x1, n1, x2, n2, method):
    """statsmodels' interval cut to [-1, 1], or None where it fails (raises or returns NaN)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = confint_proportions_2indep(x1, n1, x2, n2, method=method, alpha=ALPHA)
    except (ValueError, ZeroDivisionError):
        return None
    # a difference of rates lies in [-1, 1]; statsmodels' Wald interval can run past it
    return None if math.isnan(lo) or math.isnan(hi) else (max(-1.0, float(lo)), min(1.0, float(hi)))


def _score_p_from_likelihood(x1, n1, x2, n2, delta) -> float:
    """Miettinen–Nurminen's score test of p1 - p2 = delta, computed without the closed form:
    the restricted maximum-likelihood p2 as the root of the log-likelihood's derivative (or
    the edge where it has none), then z = (p1_hat - p2_hat - delta) / sqrt(var) with the
    N / (N - 1) factor."""
    from scipy import optimize, stats
    from scipy.special import xlogy

    low, high = max(0.0, -delta), min(1.0, 1.0 - delta)

    def loglik(p2):
        p1 = p2 + delta
        return xlogy(x1, p1) + xlogy(n1 - x1, 1 - p1) + xlogy(x2, p2) + xlogy(n2 - x2, 1 - p2)

    def slope(p2):
        p1 = p2 + delta
        return x1 / p1 - (n1 - x1) / (1 - p1) + x2 / p2 - (n2 - x2) / (1 - p2)

    eps = 1e-13
    a, b = low + eps, high - eps
    if slope(a) > 0 > slope(b):
        p2 = optimize.brentq(slope, a, b, xtol=1e-15)
    else:
        p2 = low if loglik(low) >= loglik(high) else high
    p1 = p2 + delta
    var = (p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2) * (n1 + n2) / (n1 + n2 - 1)
    return float(2 * stats.norm.sf(abs(x1 / n1 - x2 / n2 - delta) / math.sqrt(var)))


def _excludes_zero(e) -> bool:
    return e.ci_low > 0 or e.ci_high < 0


def test_the_issue_s_example_agrees_with_either_method():
    score = two_proportions(16, 40, 8, 40)
    assert score.estimate == pytest.approx(0.2)
    # score: the test does not reject at 5% and the interval holds 0
    assert score.p_value == pytest.approx(_statsmodels_p(16, 40, 8, 40, "score"), abs=1e-10)
    assert score.p_value == pytest.approx(0.05243281704990909, abs=1e-12) and score.ci_low < 0 < score.ci_high
    for bound in (score.ci_low, score.ci_high):  # each bound is where the score test gives p = 0.05
        assert _score_p_from_likelihood(16, 40, 8, 40, bound) == pytest.approx(ALPHA, abs=1e-10)
    assert (round(score.ci_low, 4), round(score.ci_high, 4)) == (-0.0021, 0.3893)
    # wald: the unpooled z-test rejects and the Wald interval excludes 0
    wald = two_proportions(16, 40, 8, 40, method="wald")
    lo, hi = confint_proportions_2indep(16, 40, 8, 40, method="wald")
    assert (wald.ci_low, wald.ci_high) == (pytest.approx(lo, abs=1e-10), pytest.approx(hi, abs=1e-10))
    assert wald.p_value == pytest.approx(_statsmodels_p(16, 40, 8, 40, "wald"), abs=1e-10)
    assert wald.p_value < ALPHA and wald.ci_low > 0


@pytest.mark.parametrize("method", ["score", "wald"])
def test_interval_excludes_zero_exactly_when_p_is_below_alpha_and_both_match_their_references(method):
    for x1, n1, x2, n2 in _grid():
        e = two_proportions(x1, n1, x2, n2, method=method, ci_level=1 - ALPHA)
        case = (x1, n1, x2, n2)
        assert _excludes_zero(e) == (e.p_value < ALPHA), (case, e)
        assert -1 <= e.ci_low <= e.estimate <= e.ci_high <= 1, (case, e)
        ref_p = _statsmodels_p(x1, n1, x2, n2, method)
        if math.isnan(ref_p):  # statsmodels: 0/0 when every unit is alike in both groups
            assert e.p_value == 1.0 and x1 / n1 == x2 / n2 and x1 in (0, n1), case
        else:
            assert e.p_value == pytest.approx(ref_p, abs=1e-10), case
        if method == "wald":
            ref = _statsmodels_interval(x1, n1, x2, n2, method)
            assert (e.ci_low, e.ci_high) == (pytest.approx(ref[0], abs=1e-10), pytest.approx(ref[1], abs=1e-10)), case
            continue
        # score: a bound inside (-1, 1) is where the score test of that difference has p = alpha
        for bound in (e.ci_low, e.ci_high):
            if -1 < bound < 1:
                p = _score_p_from_likelihood(x1, n1, x2, n2, bound)
                assert p == pytest.approx(ALPHA, abs=1e-9), (case, bound, p)


def test_the_score_interval_matches_r_propcis():
    # R: PropCIs::diffscoreci(7, 34, 1, 34, 0.95) -> 0.0270416 0.3452912 (quoted in statsmodels'
    # test_confint_2indep_propcis, which can only hold statsmodels to 0.002 of it)
    e = two_proportions(7, 34, 1, 34)
    assert (e.ci_low, e.ci_high) == (pytest.approx(0.0270416, abs=1e-7), pytest.approx(0.3452912, abs=1e-7))


def test_the_score_interval_is_the_set_of_differences_the_test_does_not_reject():
    e = two_proportions(3, 12, 0, 15)
    inside = np.linspace(e.ci_low, e.ci_high, 9)[1:-1]
    assert all(_score_p_from_likelihood(3, 12, 0, 15, d) > ALPHA for d in inside)
    assert _score_p_from_likelihood(3, 12, 0, 15, e.ci_high + 0.01) < ALPHA
    assert _score_p_from_likelihood(3, 12, 0, 15, e.ci_low - 0.01) < ALPHA


def test_edges_all_alike_and_all_different():
    none = two_proportions(0, 10, 0, 12)
    assert none.p_value == 1.0 and none.ci_low < 0 < none.ci_high
    # the bounds are still where the score test gives p = 0.05
    for bound in (none.ci_low, none.ci_high):
        assert _score_p_from_likelihood(0, 10, 0, 12, bound) == pytest.approx(ALPHA, abs=1e-10)
    apart = two_proportions(10, 10, 0, 12)
    assert apart.estimate == 1.0 and apart.ci_high == 1.0 and 0 < apart.ci_low < 1 and apart.p_value < ALPHA
    wald = two_proportions(10, 10, 0, 12, method="wald")  # no variance: the difference is known
    assert (wald.ci_low, wald.ci_high, wald.p_value) == (1.0, 1.0, 0.0)


def test_the_old_default_name_means_score_and_the_removed_pairs_say_why():
    assert two_proportions(16, 40, 8, 40, method="auto").p_value == two_proportions(16, 40, 8, 40).p_value
    for old in ("z", "fisher"):
        with pytest.raises(ParameterError, match="disagree"):
            two_proportions(16, 40, 8, 40, method=old)


def test_the_two_sided_normal_p_is_scipy_s():
    from scipy import stats as scipy_stats

    from cxlab.stats.twosample import _two_sided_normal_p

    for z in [0.0, 1e-9, 0.5, -1.2, 1.959963984540054, 3.3, -6.0, 8.5, 30.0]:
        assert _two_sided_normal_p(z) == pytest.approx(2 * scipy_stats.norm.sf(abs(z)), rel=1e-12, abs=1e-300)  # far tail: the two libms part at ~2e-13
