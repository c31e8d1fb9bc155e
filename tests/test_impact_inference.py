"""Issue 14, the impact stage: difference-in-differences inference a referee would sign.

- ``did``'s standard errors against statsmodels with explicit dummies: clustered errors under
  the stated convention (fixed effects nested in the clusters are not counted), HC2/HC3 on the
  leverages of the full dummy model, text period labels ordered by time;
- the report's design (``did_by_assignment``): randomization inference at the level at which
  the change was assigned, checked against a brute-force refit of every assignment, and by a
  small simulation with common region x month shocks (the full one: benchmarks/impact_simulation.py);
- outcome windows that straddle the launch are left out and counted;
- a failed design check changes the decision and the headline.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import log
from cxlab import impact
from cxlab.errors import DataError, ParameterError
from cxlab.impact import did, test_hypotheses
from cxlab.impact.assignment import did_by_assignment
from cxlab.impact.calibration import calibrate_report_did
from cxlab.impact.hypotheses import CHECK_FAILED
from cxlab.study import Study


def _panel(G=50, T=6, treated=20, first_post=3, seed=14, drop=0.0):
    """A unit x period panel with unit effects, a common trend, errors correlated within units."""
    rng = np.random.default_rng(seed)
    u, t = np.repeat(np.arange(G), T), np.tile(np.arange(T), G)
    d = pd.DataFrame({"u": u, "t": t, "tr": (u < treated).astype(int), "po": (t >= first_post).astype(int)})
    d["y"] = (rng.normal(size=G)[u] + 0.1 * t + 0.02 * d.tr * d.po + rng.normal(0, 0.02, len(d))
              + np.repeat(rng.normal(0, 0.01, G), T))
    if drop:
        d = d[rng.random(len(d)) > drop]
    return d.reset_index(drop=True)


# --------------------------------------------------------------------------- did: standard errors
def test_clustered_se_counts_the_fixed_effects_not_nested_in_the_clusters():
    """50 units x 6 periods, clustered by unit. statsmodels with explicit dummies uses
    G/(G-1) (N-1)/(N-K) with K = 56 (treated x post, constant, 49 unit and 5 period dummies);
    the stated convention (reghdfe, fixest's ssc(fixef.K = 'nested')) drops the 50 unit effects
    nested in the clusters: K = 1 + 5 = 6. Same estimate, SE = sm SE * sqrt((N - 56) / (N - 6))."""
    import statsmodels.formula.api as smf

    d = _panel()
    r = did(d, "y", "tr", "po", unit="u", time="t")
    ref = smf.ols("y ~ tr:po + C(u) + C(t)", d).fit(cov_type="cluster", cov_kwds={"groups": d["u"]}, use_t=True)
    N, K_full, K_nested = len(d), ref.model.exog.shape[1], 1 + 5
    assert K_full == 56
    assert r.estimate.estimate == pytest.approx(ref.params["tr:po"], rel=1e-9)
    se = ref.bse["tr:po"] * np.sqrt((N - K_full) / (N - K_nested))
    assert r.estimate.extra["se"] == pytest.approx(se, rel=1e-9)
    assert r.estimate.extra["se"] < 0.92 * ref.bse["tr:po"]  # a convention, not statsmodels' dummy count
    # t with G - 1 = 49 degrees of freedom
    t = r.estimate.estimate / se
    assert r.estimate.p_value == pytest.approx(2 * stats.t.sf(abs(t), 49), rel=1e-9)
    assert r.estimate.ci_high == pytest.approx(r.estimate.estimate + stats.t.ppf(0.975, 49) * se, rel=1e-9)
    # clusters coarser than the units: no effect is nested, every dummy counts (as statsmodels)
    d["state"] = d["u"] // 5
    r = did(d, "y", "tr", "po", unit="u", time="t", cluster="state")
    ref = smf.ols("y ~ tr:po + C(u) + C(t)", d).fit(cov_type="cluster", cov_kwds={"groups": d["state"]})
    assert r.estimate.extra["se"] == pytest.approx(ref.bse["tr:po"] * np.sqrt((N - 56) / (N - 6)), rel=1e-9)


@pytest.mark.parametrize("cov_type", ["HC2", "HC3", "HC1"])
def test_hc_errors_with_absorbed_effects_match_the_dummy_regression(cov_type):
    import statsmodels.formula.api as smf

    d = _panel()
    r = did(d, "y", "tr", "po", unit="u", time="t", cov_type=cov_type)
    ref = smf.ols("y ~ tr:po + C(u) + C(t)", d).fit(cov_type=cov_type, use_t=True)
    assert r.estimate.extra["se"] == pytest.approx(ref.bse["tr:po"], rel=1e-9)
    assert r.estimate.p_value == pytest.approx(ref.pvalues["tr:po"], rel=1e-8)
    # one set of effects on an unbalanced panel: the leverage of a unit effect is 1/n_unit
    u = _panel(drop=0.2)
    r = did(u, "y", "tr", "po", unit="u", cov_type=cov_type)
    ref = smf.ols("y ~ tr:po + po + C(u)", u).fit(cov_type=cov_type, use_t=True)
    assert r.estimate.extra["se"] == pytest.approx(ref.bse["tr:po"], rel=1e-9)


def test_hc3_was_21_percent_low_on_the_demeaned_leverages_and_unbalanced_two_way_is_refused():
    import statsmodels.formula.api as smf

    d = _panel()
    r = did(d, "y", "tr", "po", unit="u", time="t", cov_type="HC3")
    hc3 = smf.ols("y ~ tr:po + C(u) + C(t)", d).fit(cov_type="HC3").bse["tr:po"]
    assert r.estimate.extra["se"] == pytest.approx(hc3, rel=1e-9)
    # what the demeaned regression's own leverages give (the old answer): too small
    within = d.assign(y=d.y - d.groupby("u").y.transform("mean") - d.groupby("t").y.transform("mean") + d.y.mean(),
                      D=lambda f: (f.tr * f.po) - (f.tr * f.po).groupby(f.u).transform("mean")
                      - (f.tr * f.po).groupby(f.t).transform("mean") + (f.tr * f.po).mean())
    naive = smf.ols("y ~ D - 1", within).fit(cov_type="HC3").bse["D"]
    assert naive < 0.85 * hc3
    with pytest.raises(ParameterError, match="balanced panel"):
        did(_panel(drop=0.2), "y", "tr", "po", unit="u", time="t", cov_type="HC3")
    with pytest.raises(ParameterError, match="cov_type 'HC9'"):
        did(d, "y", "tr", "po", unit="u", time="t", cov_type="HC9")


def test_text_quarter_labels_are_ordered_by_time_so_the_pre_trend_test_has_two_leads():
    """27 units x 6 quarters Q3 2010 .. Q4 2011, the change in Q2 2011: three pre-quarters, so
    two leads and F(2, 26) (26 = 27 clusters - 1). Sorted as text ('Q12011' < 'Q32010' <
    'Q42010' ...) post-quarters were taken for leads: F(4, 26)."""
    quarters = ["Q32010", "Q42010", "Q12011", "Q22011", "Q32011", "Q42011"]
    d = _panel(G=27, T=6, treated=12, first_post=3)
    d["quarter"] = np.asarray(quarters)[d["t"]]
    r = did(d, "y", "tr", "po", unit="u", time="quarter")
    assert (r.pretrend["df_num"], r.pretrend["df_denom"]) == (2, 26)
    ref = did(d, "y", "tr", "po", unit="u", time="t")
    assert r.pretrend["statistic"] == pytest.approx(ref.pretrend["statistic"], rel=1e-9)
    assert list(r.event_study["time"]) == quarters
    assert list(r.event_study["rel"]) == [-3, -2, -1, 0, 1, 2]
    # other spellings of quarters and months, and ordered categoricals, order the same way
    d["q2"] = d["quarter"].str[2:] + "-Q" + d["quarter"].str[1]
    assert did(d, "y", "tr", "po", unit="u", time="q2").pretrend["df_num"] == 2
    d["cat"] = pd.Categorical(d["quarter"], categories=quarters, ordered=True)
    assert did(d, "y", "tr", "po", unit="u", time="cat").pretrend["statistic"] == pytest.approx(
        ref.pretrend["statistic"], rel=1e-9)
    d["words"] = np.asarray(["spring", "summer", "autumn", "winter", "thaw", "bloom"])[d["t"]]
    with pytest.raises(DataError, match="not dates or quarters"):
        did(d, "y", "tr", "po", unit="u", time="words")


# --------------------------------------------------------------------------- the report's design
def _regions(seed=3, R=4, T=8, first_post=4, effect=0.5, shock=0.3):
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(R):
        for t in range(T):
            n = int(rng.integers(20, 60))
            y = 0.2 * r + 0.1 * t + rng.normal(0, shock) + (effect if (r == 0 and t >= first_post) else 0)
            rows.append(pd.DataFrame({"region": f"R{r}", "y": y + rng.normal(0, 1, n), "tr": int(r == 0),
                                      "period": pd.Timestamp("2025-01-01") + pd.DateOffset(months=t),
                                      "po": int(t >= first_post)}))
    return pd.concat(rows, ignore_index=True)


def _brute_force(d, treated_sets, post_sets, tau=0.0):
    """Every assignment refitted as a unit-level regression with explicit region and period
    dummies (numpy least squares): the statistic beta / sqrt((X'X)^-1_DD), a t statistic with the
    residual variance held fixed; one value per (treated set, post set)."""
    y = (d["y"] - tau * d["tr"] * d["po"]).to_numpy(float)
    dummies = pd.get_dummies(d[["region", "period"]].astype(str), drop_first=True, dtype=float).to_numpy()
    base = np.column_stack([np.ones(len(d)), dummies])
    out = []
    for S in treated_sets:
        for P in post_sets:
            D = (d["region"].isin(S) & d["period"].isin(P)).to_numpy(float)
            X = np.column_stack([D, base])
            XtX_inv = np.linalg.inv(X.T @ X)
            beta = XtX_inv @ (X.T @ y)
            out.append(beta[0] / np.sqrt(XtX_inv[0, 0]))
    return np.asarray(out)


def test_randomization_inference_over_regions_and_periods_matches_refitting_every_assignment():
    """4 regions x 8 months, one treated region from month 5: 4 x C(8, 4) = 280 assignments."""
    import statsmodels.formula.api as smf

    d = _regions()
    r = did_by_assignment(d, "y", "tr", "po", cluster="region", time="period")
    ref = smf.ols("y ~ tr:po + C(region) + C(period)", d).fit()
    assert r.estimate.estimate == pytest.approx(ref.params["tr:po"], rel=1e-9)
    periods = sorted(d["period"].unique())
    actual = ([["R0"]], [periods[4:]])
    sets = ([[g] for g in ["R0", "R1", "R2", "R3"]],
            [[periods[i] for i in P] for P in itertools.combinations(range(8), 4)])
    stat_obs = _brute_force(d, *actual)[0]
    stat_all = _brute_force(d, *sets)
    assert len(stat_all) == r.estimate.extra["assignments"] == 280
    p = np.mean(np.abs(stat_all) >= abs(stat_obs) * (1 - 1e-10))
    assert r.estimate.p_value == pytest.approx(p, abs=1e-12)
    assert r.estimate.p_value == pytest.approx(2 / 280)  # the observed one and its complement
    assert r.estimate.extra["reassigned"] == "space_time"
    assert "randomization inference over 280 ways to assign the change to 1 of 4 region values and 4 of 8 " \
           "periods" in r.estimate.method
    # the interval is the set of effects the same test does not reject: just inside each end
    # p > 0.05, just outside p <= 0.05 (brute force again, on y - tau D)
    for end, step in ((r.estimate.ci_low, 1e-6), (r.estimate.ci_high, -1e-6)):
        for tau, accepted in ((end + step, True), (end - step, False)):
            s = _brute_force(d, *sets, tau=tau)
            s0 = _brute_force(d, *actual, tau=tau)[0]
            assert (np.mean(np.abs(s) >= abs(s0) * (1 - 1e-10)) > 0.05) == accepted, (end, tau)


def test_with_many_regions_only_regions_are_reassigned():
    """12 regions, 4 treated: C(12, 4) = 495 >= 200 assignments, so periods keep their order
    (valid under any correlation over time)."""
    import statsmodels.formula.api as smf

    d = _regions(seed=5, R=12, T=4, first_post=2, effect=0.0)
    d["tr"] = d["region"].isin(["R0", "R1", "R2", "R3"]).astype(int)
    r = did_by_assignment(d, "y", "tr", "po", cluster="region", time="period")
    assert r.estimate.extra["reassigned"] == "space" and r.estimate.extra["assignments"] == 495
    periods = sorted(d["period"].unique())
    regions = [f"R{g}" for g in range(12)]
    stat_all = _brute_force(d, [list(S) for S in itertools.combinations(regions, 4)], [periods[2:]])
    stat_obs = _brute_force(d, [["R0", "R1", "R2", "R3"]], [periods[2:]])[0]
    assert r.estimate.p_value == pytest.approx(np.mean(np.abs(stat_all) >= abs(stat_obs) * (1 - 1e-10)), abs=1e-12)
    assert r.estimate.estimate == pytest.approx(smf.ols("y ~ tr:po + C(region) + C(period)", d).fit()
                                                .params["tr:po"], rel=1e-9)


def test_two_regions_and_two_periods_cannot_reach_significance_and_say_so():
    d = _regions(R=2, T=2, first_post=1)
    r = did_by_assignment(d, "y", "tr", "po", cluster="region", time="period")
    assert r.estimate.extra["min_p"] == pytest.approx(1.0)
    assert any("no result can reach p < 0.05" in n for n in r.notes)
    with pytest.raises(DataError, match="whole 'region' values"):
        did_by_assignment(d.assign(tr=np.arange(len(d)) % 2), "y", "tr", "po", cluster="region", time="period")


def test_report_design_keeps_its_size_under_common_region_month_shocks():
    """A fast version of benchmarks/impact_simulation.py: studies of the demo's shape (4 regions,
    12 months, launch in month 7 in one region) with region x month shocks of 2 points. The
    report's design rejects a true null at about 5% (band 0-12% over 100 studies: the
    customer-level design it replaced rejected 15-35%) and its intervals cover a planted
    6-point effect (band >= 85%)."""
    r = calibrate_report_did(100, customers=5_000, shock_sd=0.02, effect=0.06, seed=2026)
    assert r["false_positive_rate"] <= 0.12, r
    assert r["coverage"] >= 0.85, r
    assert r["supported_when_null"] <= r["false_positive_rate"]


# --------------------------------------------------------------------------- straddling windows
STRADDLE_EVENTS = log(
    # North: before (first touch and goal in May), straddlers (June first touch), after (July)
    ("n1", "2025-05-02 10:00", "ad"), ("n1", "2025-05-03 10:00", "buy", 5.0),
    ("n2", "2025-05-20 10:00", "ad"),
    ("n3", "2025-06-10 10:00", "ad"), ("n3", "2025-07-05 10:00", "buy", 5.0),   # bought after the launch
    ("n4", "2025-06-25 10:00", "ad"),
    ("n5", "2025-07-02 10:00", "ad"), ("n5", "2025-07-03 10:00", "buy", 5.0),
    ("n6", "2025-07-20 10:00", "ad"),
    # South
    ("s1", "2025-05-05 10:00", "ad"), ("s1", "2025-05-06 10:00", "buy", 5.0),
    ("s2", "2025-06-01 00:00", "ad"),                                            # window ends on Jul 1: straddles
    ("s3", "2025-05-31 10:00", "ad"), ("s3", "2025-06-02 10:00", "buy", 5.0),   # window ends Jun 30: before
    ("s4", "2025-07-10 10:00", "ad"), ("s4", "2025-07-11 10:00", "buy", 5.0),
    ("s5", "2025-09-30 10:00", "view"),                                          # end of the log
)
STRADDLE_CUSTOMERS = pd.DataFrame({"customer_id": ["n1", "n2", "n3", "n4", "n5", "n6", "s1", "s2", "s3", "s4", "s5"],
                                   "region": ["N"] * 6 + ["S"] * 5})


def test_units_whose_outcome_window_straddles_the_launch_are_left_out_and_counted(make_study):
    """A June first touch with a 30-day window can convert after a 1 July launch (n3 did): it
    belongs to neither period. n3, n4 and s2 (first touch 1 June 00:00, window closing at the
    launch) straddle; s3 (31 May) does not."""
    folder = make_study(events=STRADDLE_EVENTS, customers=STRADDLE_CUSTOMERS,
                        customer_attributes={"region": {"kind": "category"}})
    units = impact.unit_table(Study.load(folder), "conversion_rate", treated_column="region", window_days=30)
    assert set(units.columns) >= {"window_start", "window_end"}
    assert (units["window_end"] - units["window_start"]).eq(pd.Timedelta(days=30)).all()
    h = {"id": "H1", "kpi": "conversion_rate", "design": "did", "date": "2025-07-01", "intervention": "checkout",
         "treated": {"column": "region", "values": ["N"]}}
    r = test_hypotheses([h], units.rename(columns={"y": "conversion_rate"}))
    row = r.table.iloc[0]
    assert row.straddlers == 3
    assert row.n == len(units) - 3 == 7
    cells = r.details["H1"].model.cells
    assert cells["n"].sum() == 7
    # the straddlers' months (June) are gone from both groups; May and July remain
    assert sorted(pd.to_datetime(cells["time"]).dt.month.unique()) == [5, 7]
    assert "3 units whose outcome window straddles the change date" in r.checks().iloc[0]["finding"]


def test_without_window_columns_a_period_that_contains_the_launch_is_left_out():
    rng = np.random.default_rng(1)
    n = 4000
    month = pd.to_datetime(rng.choice(pd.date_range("2025-01-01", "2025-10-01", freq="MS"), n))
    d = pd.DataFrame({"customer_id": np.arange(n), "period": month, "region": rng.choice(["N", "S", "E"], n),
                      "y": rng.normal(size=n)})
    h = {"id": "H1", "kpi": "y", "design": "did", "date": "2025-06-15", "intervention": "x",
         "treated": {"column": "region", "values": ["N"]}}
    row = test_hypotheses([h], d).table.iloc[0]
    assert row.straddlers == (month == "2025-06-01").sum()
    assert row.n == n - row.straddlers


# --------------------------------------------------------------------------- failed design check
def _diverging(seed=0, slope=0.02):
    """Customers in four regions over ten months; North's conversion climbs by ``slope`` a month
    from the start (diverging pre-trends), and keeps climbing after the July launch."""
    rng = np.random.default_rng(seed)
    n = 40_000
    region = rng.choice(["North", "South", "East", "West"], n)
    m = rng.integers(0, 10, n)
    p = 0.3 + 0.005 * m + slope * m * (region == "North")
    return pd.DataFrame({"customer_id": np.arange(n), "region": region,
                         "period": pd.Timestamp("2025-01-01") + pd.to_timedelta(31 * m, unit="D"),
                         "conversion_rate": (rng.random(n) < p).astype(int)}).assign(
        period=lambda f: f["period"].dt.to_period("M").dt.to_timestamp())


def test_a_failed_pre_trend_check_changes_the_decision_and_the_headline():
    h = {"id": "H1", "kpi": "conversion_rate", "direction": "increase", "alpha": 0.05, "design": "did",
         "intervention": "new_checkout", "date": "2025-07-01", "treated": {"column": "region", "values": ["North"]}}
    r = test_hypotheses([h], _diverging())
    row = r.table.iloc[0]
    assert row.p_value < 0.05 and row.estimate > 0          # a "significant rise" ...
    assert row.check_p < 0.05                                # ... on groups that diverged before
    assert row.decision == CHECK_FAILED == "not supported: design check failed"
    assert "not supported: the design check failed" in row.reading
    assert "unlikely to be chance" not in row.reading
    assert r.glance().startswith("0 of 1 tested hypotheses supported; H1 not supported: design check failed")
    assert "design check failed" in r.headlines()[0]
    assert "the design check failed" in r.checks().iloc[0]["finding"]
    # the same data with parallel groups: supported
    ok = test_hypotheses([h], _diverging(slope=0.0).assign(
        conversion_rate=lambda f: np.where((f.region == "North") & (f.period >= "2025-07-01"),
                                           np.random.default_rng(9).random(len(f)) < 0.45, f.conversion_rate)))
    assert ok.table.iloc[0].decision == "supported", ok.table.iloc[0].reading
