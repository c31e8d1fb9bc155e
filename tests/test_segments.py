"""Segmentation: features from the engine against hand counts and lifetimes on CDNOW, RFM
scores and the named grid, demographic bands, clustering on known structure, and the tests
of difference against scipy/statsmodels."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cxlab.errors import ParameterError
from cxlab.segments import (
    RFM_GRID,
    anova_eta2,
    band,
    cluster_customers,
    compare_segments,
    customer_features,
    demographic_segments,
    fit_kmeans,
    kruskal_epsilon2,
    pick_k,
    quantile_edges,
    rfm_scores,
)
from cxlab.segments.clustering import BlockScaler, assign, partial_distances
from conftest import log, write_study


# --------------------------------------------------------------------------- features by hand
EVENTS = log(
    ("a", "2025-01-01 10:00", "ad"),
    ("a", "2025-01-01 10:10", "view"),
    ("a", "2025-01-01 11:00", "view"),          # 50 min gap: a new session
    ("a", "2025-01-03 09:00", "buy", 30.0),
    ("a", "2025-01-03 09:05", "buy", 10.0),     # same day: one purchase day
    ("a", "2025-01-10 12:00", "call"),
    ("a", "2025-01-11 12:00", "buy", 20.0),
    ("b", "2025-01-05 08:00", "ad"),
    ("b", "2025-01-05 08:20", "view"),
    ("c", "2025-01-20 00:00", "ad"),            # the last event: observation ends 2025-01-20
)
CUSTOMERS = pd.DataFrame({"customer_id": ["a", "b", "c", "d"]})  # d never appears in the log
TICKETS = pd.DataFrame({
    "ticket_id": [1, 2, 3], "customer_id": ["a", "a", "b"],
    "opened_at": ["2025-01-04", "2025-01-12", "2025-01-06"],
    "closed_at": ["2025-01-05", None, "2025-01-07"], "resolved": [True, False, True],
})
SURVEYS = pd.DataFrame({
    "response_id": [1, 2, 3, 4], "customer_id": ["a", "a", "b", "c"],
    "timestamp": ["2025-01-03 10:00", "2025-01-12 10:00", "2025-01-06", "2025-01-20"],
    "nps": [10, 6, None, 8], "csat": [5, 3, 4, None],
    "comment": ["Great service!", "Terrible wait, awful.", "ok", None],
})


@pytest.fixture
def tiny(make_study):
    return make_study(events=EVENTS, customers=CUSTOMERS, tickets=TICKETS, surveys=SURVEYS)


def test_features_match_hand_counts(tiny):
    f = customer_features(tiny).set_index("customer_id")
    a, b, d = f.loc["a"], f.loc["b"], f.loc["d"]
    assert (a.events, a.active_days, a.sessions, a.orders, a.order_days) == (7, 4, 5, 3, 2)
    assert a.revenue == 60.0 and a.avg_order_value == 20.0
    assert a.channels_used == 2 and a.share_channel_call_centre == pytest.approx(1 / 7)
    assert a.share_stage_purchase == pytest.approx(3 / 7) and a.share_stage_consideration == pytest.approx(2 / 7)
    assert a.reached_goal == 1 and a.days_to_convert == pytest.approx(1 + 23 / 24)  # Jan 1 10:00 -> Jan 3 09:00
    assert a.support_contacts == 1 and a.tickets == 2 and a.unresolved_tickets == 1
    # lifetimes' definitions at the day grain: purchase days Jan 3 and Jan 11, observation ends Jan 20
    assert (a.frequency, a.recency, a["T"], a.monetary_value) == (1, 8, 17, 20.0)
    assert a.days_since_last_order == 9 and a.tenure_days == 19 and a.days_since_last_event == 9
    assert a.nps_latest == 6 and a.nps_class == "detractor" and a.csat_mean == 4.0 and a.surveys == 2
    assert b.sessions == 1 and b.reached_goal == 0 and math.isnan(b.frequency) and math.isnan(b.days_to_convert)
    assert f.loc["c"].nps_class == "passive"
    assert d.events == 0 and d.revenue == 0 and d.sessions == 0 and math.isnan(d.tenure_days)


def test_observation_end_drops_later_events_and_week_unit_divides_by_seven(tiny):
    f = customer_features(tiny, observation_end="2025-01-10", unit="week").set_index("customer_id")
    a = f.loc["a"]
    assert (a.events, a.orders, a.frequency) == (6, 2, 0)  # Jan 11 purchase is after the end
    assert a["T"] == pytest.approx(7 / 7) and a.recency == 0 and a.tickets == 1


def test_sentiment_is_the_mean_vader_compound_of_the_comments(tiny):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    f = customer_features(tiny, sentiment=True).set_index("customer_id")
    expected = np.mean([vader.polarity_scores(t)["compound"] for t in ("Great service!", "Terrible wait, awful.")])
    assert f.loc["a", "sentiment_mean"] == pytest.approx(expected)
    assert math.isnan(f.loc["c", "sentiment_mean"])


def test_comment_scores_are_kept_for_the_clean_tables_they_came_from(tiny):
    from cxlab import data, sentiment
    from cxlab.sentiment import comment_scores as scored_comments
    from cxlab.study import Study

    first = scored_comments(tiny)
    assert sorted(first.response_id) == ["1", "2", "3"]  # the empty comment is left out
    # the segmentation reads the scores every stage shares (text_sentiment.parquet), one per text
    study = Study.load(tiny)
    kept = data.kept_for_clean(study, sentiment.SCORES_NAME)
    # kept under the hash of each text, never the text itself
    assert sorted(kept[sentiment.KEY_COLUMN]) == sorted(
        sentiment.text_key(t) for t in ["Great service!", "Terrible wait, awful.", "ok"])
    data.keep_for_clean(study, sentiment.SCORES_NAME, kept.assign(sentiment=0.5))
    assert (scored_comments(tiny).sentiment == 0.5).all()          # read back, not scored again
    assert (scored_comments(tiny, scorer=lambda s: s.str.len() * 0.0).sentiment == 0).all()


def test_session_ids_are_counted_when_the_log_has_them(make_study):
    ev = EVENTS.assign(session_id=["s1", "s1", "s1", "s2", "s2", "s3", "s4", "s5", "s6", "s7"])
    f = customer_features(make_study(events=ev)).set_index("customer_id")
    assert f.loc["a", "sessions"] == 4 and f.loc["b", "sessions"] == 2


# --------------------------------------------------------------------------- lifetimes / CDNOW
@pytest.fixture(scope="module")
def cdnow(tmp_path_factory):
    import lifetimes  # a dev dependency (the CDNOW sample): missing, the test fails instead of skipping
    from lifetimes.datasets import load_dataset

    raw = load_dataset("CDNOW_sample.txt", header=None, sep=r"\s+",
                       names=["cid", "customer_id", "date", "cds", "amount"], dtype={"date": str})
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    events = pd.DataFrame({"customer_id": raw.customer_id.astype(str), "timestamp": raw.date,
                           "touchpoint": "purchase", "revenue": raw.amount})
    folder = write_study(tmp_path_factory.mktemp("cdnow") / "cdnow", events=events, stages=["purchase"],
                         touchpoints={"purchase": {"stage": "purchase", "channel": "store"}},
                         goal_touchpoints=["purchase"])
    return folder, raw, lifetimes


@pytest.mark.parametrize("end, unit, multiplier", [(None, "day", 1), ("1997-09-30", "week", 7)])
def test_frequency_recency_T_equal_lifetimes_on_cdnow(cdnow, end, unit, multiplier):
    folder, raw, lifetimes = cdnow
    from lifetimes.utils import summary_data_from_transaction_data

    ref = summary_data_from_transaction_data(raw, "customer_id", "date", monetary_value_col="amount",
                                             observation_period_end=end, freq="D", freq_multiplier=multiplier)
    ref.index = ref.index.astype(str)
    ours = customer_features(folder, observation_end=end, unit=unit).set_index("customer_id")
    ours = ours[ours.order_days > 0].loc[ref.index]
    assert len(ours) == 2357
    for col in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(ours[col].to_numpy(), ref[col].to_numpy(), rtol=0, atol=1e-9, err_msg=col)


def test_cdnow_calibration_summary_matches_the_published_table(cdnow):
    """lifetimes ships Fader & Hardie's 39-week CDNOW calibration summary (x, t_x, T, zbar) to 2
    decimals; ours agrees to rounding."""
    folder, _, lifetimes = cdnow
    from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

    pub = load_cdnow_summary_data_with_monetary_value()
    pub.index = pub.index.astype(str)
    ours = customer_features(folder, observation_end="1997-09-30", unit="week").set_index("customer_id").loc[pub.index]
    for col in ("frequency", "recency", "T", "monetary_value"):
        assert np.abs(ours[col].to_numpy() - pub[col].to_numpy()).max() <= 0.005 + 1e-9, col


# --------------------------------------------------------------------------- RFM
def test_rfm_scores_and_named_segments_by_hand():
    f = pd.DataFrame({
        "customer_id": list("abcdefghij"),
        "days_since_last_order": [1, 2, 3, 4, 5, 6, 7, 8, 9, np.nan],
        "orders": [9, 8, 7, 6, 5, 1, 1, 1, 1, 0],
        "revenue": [90, 80, 70, 60, 50, 10, 10, 10, 10, 0.0],
    })
    r = rfm_scores(f).set_index("customer_id")
    # 9 buyers: recency ranks 1..9 (fewer days best): a has pct 9/9 -> R5; i has 1/9 -> R1
    assert r.loc["a", ["r_score", "f_score", "m_score"]].tolist() == [5, 5, 5]
    assert r.loc["a", "rfm_code"] == "555" and r.loc["a", "rfm_segment"] == "champions"
    # four buyers tie on one order: average rank 2.5 of 9 -> pct 0.278 -> ceil(1.39) = 2
    assert set(r.loc[list("fghi"), "f_score"]) == {2}
    assert r.loc["i", "r_score"] == 1 and r.loc["i", "rfm_segment"] == "lost"        # R1, F2
    assert r.loc["f", "r_score"] == 3 and r.loc["f", "rfm_segment"] == "about to sleep"  # R3, F2
    assert r.loc["j", "rfm_segment"] == "no purchase yet" and pd.isna(r.loc["j", "r_score"])


def test_rfm_grid_covers_every_cell_with_the_classic_names():
    assert len(RFM_GRID) == 25
    assert RFM_GRID[(5, 5)] == "champions" and RFM_GRID[(1, 5)] == "can't lose them"
    assert RFM_GRID[(2, 1)] == "hibernating" and RFM_GRID[(1, 1)] == "lost" and RFM_GRID[(5, 1)] == "new customers"
    assert RFM_GRID[(3, 3)] == "need attention" and RFM_GRID[(4, 2)] == "potential loyalists"


# --------------------------------------------------------------------------- demographics
def test_bands_are_left_closed_with_readable_labels():
    x = pd.Series([17, 18, 24, 25, 64, 65, 90, None])
    assert band(x, [18, 25, 35, 45, 55, 65]).tolist() == ["< 18", "18–24", "18–24", "25–34", "55–64", "65+",
                                                          "65+", "unknown"]
    assert band(pd.Series([0.2, 1.5]), [0, 0.5, 1, 2]).tolist() == ["0–0.5", "1–2"]
    with pytest.raises(ParameterError):
        band(x, [30, 20])


def test_quantile_edges_cut_into_about_equal_groups_at_round_numbers():
    x = pd.Series(np.random.default_rng(2).lognormal(10.5, 0.6, 20_000))
    edges = quantile_edges(x, 4)
    assert len(edges) == 3 and all(float(f"{e:.2g}") == e for e in edges)
    sizes = band(x, edges, money=True).value_counts(sort=False)
    assert sizes.min() > 0.22 * len(x) and sizes.max() < 0.28 * len(x)
    assert quantile_edges(pd.Series(np.arange(1, 101) * 1000.0), 4, round_to=5000) == [25000.0, 50000.0, 75000.0]


def test_demographic_segments_from_the_study_attributes(make_study):
    customers = pd.DataFrame({"customer_id": ["a", "b", "c"], "age": [22, 40, 70], "region": ["N", "S", "N"],
                              "signup_date": ["2024-12-01", "2023-01-15", "2019-01-01"]})
    attrs = {"age": {"kind": "numeric"}, "region": {"kind": "category"}, "signup_date": {"kind": "date"}}
    root = make_study(events=log(("a", "2025-01-10 10:00", "ad"), ("b", "2025-01-31 10:00", "ad")),
                      customers=customers, customer_attributes=attrs)
    d = demographic_segments(root).set_index("customer_id")
    assert d.age_band.tolist() == ["18–24", "35–44", "65+"]
    assert d.region.tolist() == ["N", "S", "N"]
    # tenure as of the last event day, 2025-01-31: 61 days, 2.04 years, 6.1 years
    assert d.signup_date_tenure.tolist() == ["0–0.5 yr", "2–5 yr", "5+ yr"]
    assert demographic_segments(root, bins={"age": [30, 60]}).age_band.tolist() == ["< 30", "30–59", "60+"]
    with pytest.raises(ParameterError, match="not customer attributes"):
        demographic_segments(root, bins={"height": [1, 2]})


# --------------------------------------------------------------------------- clustering
def _blobs(n=3000, k=4, seed=1, spread=0.6):
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=n, centers=k, n_features=3, cluster_std=spread, random_state=seed)
    return X, y


def test_kmeans_matches_sklearn_without_missing_values():
    from sklearn.cluster import KMeans

    X, _ = _blobs()
    ours = fit_kmeans(X, 4, seed=0, n_init=5)
    ref = KMeans(4, n_init=5, random_state=0).fit(X)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-6)


def test_partial_distances_use_shared_coordinates_scaled_up():
    Z = np.array([[0.0, 0.0, 0.0], [3.0, 4.0, np.nan], [1.0, np.nan, np.nan]])
    D = partial_distances(Z)
    assert D[0, 1] == pytest.approx(math.sqrt(25 * 3 / 2), rel=1e-6)
    assert D[0, 2] == pytest.approx(math.sqrt(1 * 3 / 1), rel=1e-6) and D[1, 2] == pytest.approx(math.sqrt(4 * 3))
    assert assign(Z, np.array([[3.0, 4.0, 10.0], [0.0, 0.0, 0.0]])).tolist() == [1, 0, 1]


def test_block_scaler_pools_the_shares():
    X = np.array([[0.9, 0.1, 1.0], [0.1, 0.9, 3.0], [0.5, 0.5, 2.0]])
    s = BlockScaler(["share_channel_web", "share_channel_app", "pace"]).fit(X)
    assert s.scale_[0] == s.scale_[1] == pytest.approx(math.sqrt(X[:, :2].var(axis=0).mean()))
    assert s.scale_[2] == pytest.approx(X[:, 2].std())


def test_clusters_recover_separated_groups_and_choose_their_number():
    from sklearn.metrics import adjusted_rand_score

    X, y = _blobs()
    f = pd.DataFrame(X, columns=["x1", "x2", "x3"]).assign(customer_id=[f"c{i}" for i in range(len(X))])
    res = cluster_customers(f, columns=["x1", "x2", "x3"], ks=range(2, 7), seeds=4)
    assert res.k == 4 and adjusted_rand_score(y, res.labels.cluster) > 0.99
    assert res.selection.set_index("k").loc[4, "stability_min"] > 0.95
    assert res.sizes.is_monotonic_decreasing


def test_missing_values_do_not_make_a_cluster_of_their_own():
    """A third of the rows miss one coordinate; with the partial-distance k-means they still go
    to their own group (a mean fill would pull them towards the centre)."""
    from sklearn.metrics import adjusted_rand_score

    X, y = _blobs(n=2000, k=3, seed=4, spread=0.8)
    X[np.random.default_rng(0).random(len(X)) < 0.33, 2] = np.nan
    f = pd.DataFrame(X, columns=["x1", "x2", "x3"]).assign(customer_id=[f"c{i}" for i in range(len(X))])
    res = cluster_customers(f, k=3, columns=["x1", "x2", "x3"], ks=[3], seeds=2)
    assert adjusted_rand_score(y, res.labels.cluster) > 0.95


def test_pick_k_prefers_the_larger_stable_k_among_near_ties():
    t = pd.DataFrame({"k": [2, 3, 4, 5], "silhouette": [0.40, 0.54, 0.50, 0.45],
                      "stability": [0.6, 0.99, 0.99, 0.9], "stability_min": [0.1, 0.97, 0.98, 0.75]})
    assert pick_k(t) == 4                          # 0.50 is within 0.05 of 0.54; k = 5 is unstable
    assert pick_k(t, silhouette_tolerance=0.01) == 3
    assert pick_k(t.assign(stability_min=[0.5, 0.7, 0.8, 0.6])) == 4  # none stable: the least unstable


# --------------------------------------------------------------------------- tests of difference
def test_epsilon2_and_eta2_against_scipy_and_statsmodels():
    import statsmodels.api as sm
    from statsmodels.formula.api import ols

    rng = np.random.default_rng(3)
    groups = [rng.normal(0, 1, 60), rng.normal(0.5, 1, 80), rng.normal(1.0, 1, 70)]
    kw = kruskal_epsilon2(groups)
    h, p = stats.kruskal(*groups)
    assert kw["statistic"] == pytest.approx(h) and kw["p_value"] == pytest.approx(p)
    assert kw["effect"] == pytest.approx(h / (210 - 1)) and kw["ci_low"] < kw["effect"] < kw["ci_high"]
    frame = pd.DataFrame({"y": np.concatenate(groups), "g": np.repeat(["a", "b", "c"], [60, 80, 70])})
    table = sm.stats.anova_lm(ols("y ~ C(g)", frame).fit())
    an = anova_eta2(groups)
    assert an["effect"] == pytest.approx(table.sum_sq.iloc[0] / table.sum_sq.sum())
    assert an["p_value"] == pytest.approx(table["PR(>F)"].iloc[0])
    assert an["ci_low"] < an["effect"] < an["ci_high"]


def test_segment_comparison_rates_means_and_cramers_v():
    from scipy.stats.contingency import association
    from statsmodels.stats.proportion import proportion_confint

    rng = np.random.default_rng(5)
    n = 600
    seg = np.repeat(["A", "B", "C"], n // 3)
    conv = rng.random(n) < np.repeat([0.2, 0.4, 0.6], n // 3)
    f = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "segment": seg,
                      "reached_goal": conv.astype(int), "revenue": rng.exponential(np.repeat([10, 20, 30], n // 3)),
                      "orders": rng.poisson(2, n)})
    cmp = compare_segments(f, kpis=["conversion", "revenue"])
    row = cmp.by_segment.query("kpi == 'conversion' and segment == 'B'").iloc[0]
    lo, hi = proportion_confint(conv[seg == "B"].sum(), n // 3, method="wilson")
    assert row.estimate == pytest.approx(conv[seg == "B"].mean()) and (row.ci_low, row.ci_high) == pytest.approx((lo, hi))
    test = cmp.tests.set_index("kpi")
    table = pd.crosstab(seg, conv).to_numpy()
    assert test.loc["conversion", "estimate"] == pytest.approx(association(table, method="cramer"))
    assert test.loc["conversion", "p_value"] == pytest.approx(stats.chi2_contingency(table, correction=False)[1])
    h, p = stats.kruskal(*[f.revenue[seg == s] for s in ["A", "B", "C"]])
    assert test.loc["revenue", "statistic"] == pytest.approx(h)
    # Holm over the two KPIs: the smaller p doubled, the larger kept if bigger
    ps = sorted(test.p_value)
    assert sorted(test.p_adjusted) == pytest.approx([min(1, 2 * ps[0]), max(min(1, 2 * ps[0]), ps[1])])
    assert list(cmp.table().columns) == ["segment", "bought at any time", "revenue per customer"]
    with pytest.raises(ParameterError):
        compare_segments(f, kpis=["happiness"])


def test_persona_card_html_escapes_and_redacts_quotes():
    from cxlab.segments import PersonaCard

    card = PersonaCard(cluster=0, name="App-first <b>", customers=10, share=0.5, revenue_share=0.25,
                       description="d", quotes=["<script>alert('x')</script> mail me: ann@example.com or +44 20 7946 0958"])
    page = card.to_html()
    assert "<script" not in page and "&lt;script&gt;" in page and "App-first &lt;b&gt;" in page
    assert "ann@example.com" not in page and "[email]" in page and "[phone]" in page


# --------------------------------------------------------------------------- issue 14: describe, test apart
def test_compare_segments_can_describe_without_testing():
    rng = np.random.default_rng(8)
    f = pd.DataFrame({"customer_id": [f"c{i}" for i in range(90)], "segment": np.repeat(["A", "B", "C"], 30),
                      "revenue": rng.exponential(10, 90)})
    described = compare_segments(f, kpis=["revenue"], tests=False)
    tested = compare_segments(f, kpis=["revenue"])
    assert described.tests.empty and "p_adjusted" in described.tests.columns
    pd.testing.assert_frame_equal(described.by_segment, tested.by_segment)
    assert described.by_segment.set_index("segment").loc["B", "estimate"] == pytest.approx(f.revenue[30:60].mean())


def test_a_kpi_that_cannot_be_tested_keeps_no_p_and_holm_runs_over_the_others():
    from statsmodels.stats.multitest import multipletests

    from cxlab.segments.compare import tests_frame

    rows = [{"kpi": "revenue", "p_value": 0.01}, {"kpi": "orders", "p_value": float("nan"), "test": "not tested"},
            {"kpi": "conversion", "p_value": 0.04}, {"kpi": "nps", "p_value": 0.03}]
    t = tests_frame(rows).set_index("kpi")
    ref = multipletests([0.01, 0.04, 0.03], method="holm")[1]
    assert t.loc[["revenue", "conversion", "nps"], "p_adjusted"].tolist() == pytest.approx(list(ref))
    assert np.isnan(t.loc["orders", "p_adjusted"])


def test_kpi_test_is_scipy_s_kruskal_and_chi_square():
    from cxlab.segments.compare import kpi_test

    rng = np.random.default_rng(9)
    seg = np.repeat(["a", "b", "c"], [40, 50, 60])
    x = rng.normal(np.repeat([0.0, 0.3, 0.6], [40, 50, 60]), 1)
    row = kpi_test("revenue", x, seg)
    h, p = stats.kruskal(x[:40], x[40:90], x[90:])
    assert (row["statistic"], row["p_value"], row["n"], row["segments"]) == (pytest.approx(h), pytest.approx(p), 150, 3)
    conv = (x > 0.3).astype(float)
    row = kpi_test("conversion", conv, seg)
    table = pd.crosstab(seg, conv).to_numpy()
    assert row["p_value"] == pytest.approx(stats.chi2_contingency(table, correction=False)[1])
    assert kpi_test("revenue", np.where(seg == "a", x, np.nan), seg) is None  # one segment left: no test


def test_counted_days_sessions_and_channels_equal_distinct_counts_on_a_random_log(make_study):
    """The features count days and gap sessions where they start and channels from the
    per-channel counts (no distinct counts over the log); on a random log with several events a
    day, gaps either side of 30 minutes and an uncatalogued touchpoint (no channel) they must
    equal pandas' distinct counts."""
    rng = np.random.default_rng(3)
    n = 1500
    customers = rng.choice([f"c{i:03d}" for i in range(120)], n)
    start = pd.Timestamp("2025-01-01")
    # minutes apart in bursts: many gaps near 30 minutes, many events on the same day
    minutes = rng.choice([0, 5, 29, 30, 31, 45, 60 * 23, 60 * 30], n).cumsum() % (60 * 24 * 60)
    times = start + pd.to_timedelta(minutes, unit="min")
    touchpoints = rng.choice(["ad", "view", "cart", "call", "review", "mystery"], n)
    ev = pd.DataFrame({"customer_id": customers, "timestamp": times.strftime("%Y-%m-%d %H:%M:%S"),
                       "touchpoint": touchpoints})
    f = customer_features(make_study(events=ev)).set_index("customer_id")

    ev["ts"] = pd.to_datetime(ev.timestamp)
    ev["channel"] = ev.touchpoint.map({k: v["channel"] for k, v in __import__("conftest").CATALOG.items()})
    ev = ev.sort_values(["customer_id", "ts"], kind="stable")
    gap = ev.groupby("customer_id").ts.diff()
    ev["session"] = (gap.isna() | (gap > pd.Timedelta(minutes=30))).groupby(ev.customer_id).cumsum()
    expected = ev.groupby("customer_id").agg(active_days=("ts", lambda s: s.dt.floor("D").nunique()),
                                             channels_used=("channel", "nunique"), sessions=("session", "nunique"))
    got = f.loc[expected.index, ["active_days", "channels_used", "sessions"]].astype(int)
    pd.testing.assert_frame_equal(got, expected.astype(int), check_names=False)
    assert (expected.sessions > expected.active_days).any() and (expected.channels_used == 2).any()
