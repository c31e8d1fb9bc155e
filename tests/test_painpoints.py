"""Pain points on small hand-made data with known answers: each friction signal, sentiment and
topics, the emotion curve, key drivers (LMG against brute force over statsmodels fits), the
survival table of churn after tickets, and the register's priority formula."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from conftest import log
from cxlab.painpoints import (
    build_register,
    churn_after_tickets,
    discover_topics,
    emotion_curve,
    friction_signals,
    key_drivers,
    lmg,
    mean_ci,
    nps_ci,
    representative_quotes,
    sentiment,
    survey_responses,
    survival_table,
    tag_topics,
    topics_by,
)
from cxlab import data, engine
from cxlab.errors import ParameterError


def _row(frame: pd.DataFrame, touchpoint: str) -> pd.Series:
    return frame.set_index("touchpoint").loc[touchpoint]


# --------------------------------------------------------------------------- friction signals
def test_dropoff_is_the_last_event_of_customers_who_never_reached_the_goal(make_study):
    events = log(
        ("c1", "2025-01-01 10:00", "ad"), ("c1", "2025-01-01 10:05", "view"), ("c1", "2025-01-01 10:09", "buy", 10.0),
        ("c2", "2025-01-01 10:00", "ad"), ("c2", "2025-01-01 10:05", "view"), ("c2", "2025-01-01 10:06", "cart"),
        ("c2", "2025-01-01 10:07", "pay_error"),
        ("c3", "2025-01-01 10:00", "ad"), ("c3", "2025-01-01 10:05", "view"),
        ("c4", "2025-01-01 10:00", "ad"), ("c4", "2025-01-01 10:05", "pay_error"), ("c4", "2025-01-02 10:00", "buy", 5.0),
    )
    # no conversion window: with the default 30 days every customer of this one-day log would be
    # left out of the conversion comparison (their window runs past the end of the log)
    f = friction_signals(make_study(events=events, conversion_window_days=None)).by_touchpoint
    assert _row(f, "pay_error")[["customers", "dropoffs"]].tolist() == [2, 1]
    assert _row(f, "pay_error").dropoff_rate == pytest.approx(1 / 2)
    assert _row(f, "view").dropoff_rate == pytest.approx(1 / 3)  # c3 of c1, c2, c3
    assert _row(f, "ad").dropoff_rate == 0 and _row(f, "buy").dropoff_rate == 0
    # conversion of customers who met pay_error before their outcome (c2 no, c4 yes) against the
    # others (c1 yes, c3 no)
    assert _row(f, "pay_error").conv_difference == pytest.approx(0.5 - 0.5)


def test_loops_count_steps_back_to_an_earlier_stage_but_not_a_new_cycle(make_study):
    events = log(
        # cart -> view goes back from purchase to consideration: one loop, counted at cart
        ("c1", "2025-01-01 10:00", "ad"), ("c1", "2025-01-01 10:01", "view"), ("c1", "2025-01-01 10:02", "cart"),
        ("c1", "2025-01-01 10:03", "view"), ("c1", "2025-01-01 10:04", "cart"), ("c1", "2025-01-01 10:05", "buy", 9.0),
        # after the goal: buy -> review is not counted (a goal ends the path); review -> call goes
        # back from loyalty to service (a loop at review); call -> ad starts a new cycle (no loop)
        ("c1", "2025-01-05 10:00", "review"), ("c1", "2025-01-06 10:00", "call"), ("c1", "2025-02-01 10:00", "ad"),
        # view -> ad inside one path: a loop at view
        ("c2", "2025-01-01 10:00", "ad"), ("c2", "2025-01-01 10:01", "view"), ("c2", "2025-01-01 10:02", "ad"),
    )
    f = friction_signals(make_study(events=events)).by_touchpoint
    assert _row(f, "cart")[["events", "loops"]].tolist() == [2, 1]
    assert _row(f, "cart").loop_rate == pytest.approx(0.5)
    assert _row(f, "review").loops == 1
    assert _row(f, "call").loops == 0 and _row(f, "buy").loops == 0
    assert _row(f, "view")[["events", "loops"]].tolist() == [3, 1]
    assert _row(f, "ad").loops == 0


def test_repeats_within_a_session_use_a_30_minute_gap_without_session_ids(make_study):
    events = log(
        ("c1", "2025-01-01 10:00", "view"), ("c1", "2025-01-01 10:10", "view"),
        ("c1", "2025-01-01 10:50", "view"),  # 40 minutes later: a new session, not a repeat
        ("c1", "2025-01-01 11:00", "view"),  # repeat in the second session
        ("c2", "2025-01-01 10:00", "view"), ("c2", "2025-01-01 10:05", "cart"),
    )
    f = friction_signals(make_study(events=events)).by_touchpoint
    assert _row(f, "view")[["events", "repeats"]].tolist() == [5, 2]
    assert _row(f, "view").repeat_rate == pytest.approx(2 / 5)
    assert _row(f, "cart").repeats == 0
    # a 60-minute gap merges c1's two sessions: three repeats
    g = friction_signals(make_study(name="gap60", events=events), session_gap_minutes=60).by_touchpoint
    assert _row(g, "view").repeats == 3


def test_repeats_follow_the_logs_session_ids_where_it_has_them(make_study):
    events = log(
        ("c1", "2025-01-01 10:00", "view"), ("c1", "2025-01-01 12:00", "view"),  # same session id, 2 h apart
        ("c1", "2025-01-01 12:01", "view"),  # another session id one minute later
        ("c1", "2025-01-02 09:00", "view"), ("c1", "2025-01-02 09:05", "view"),  # no id: the 30-minute rule
    )
    events["session_id"] = ["s1", "s1", "s2", None, None]
    f = friction_signals(make_study(events=events)).by_touchpoint
    assert _row(f, "view").repeats == 2  # 12:00 in s1, and 09:05 in the gap session


def test_long_waits_exceed_the_90th_percentile_of_all_waits(make_study):
    rows = []
    for i in range(10):  # ten one-minute steps view -> cart
        rows += [(f"c{i}", "2025-01-01 10:00", "view"), (f"c{i}", "2025-01-01 10:01", "cart")]
    rows += [("z", "2025-01-01 10:00", "view"), ("z", "2025-01-01 12:00", "pay_error")]  # a two-hour wait
    f = friction_signals(make_study(events=log(*rows)))
    # waits: ten of 60 s and one of 7,200 s; the 90th percentile (linear) is 60 s
    assert f.long_wait_hours == pytest.approx(60 / 3600)
    view = _row(f.by_touchpoint, "view")
    assert view[["waits", "long_waits"]].tolist() == [11, 1]
    assert view.long_wait_rate == pytest.approx(1 / 11)
    assert view.median_wait_hours == pytest.approx(60 / 3600)
    assert math.isnan(_row(f.by_touchpoint, "cart").long_wait_rate)  # a journey's last step: no wait


def test_support_contacts_within_n_days_and_repeat_contacts_with_tickets(make_study):
    events = log(
        ("c1", "2025-01-01 10:00", "ad"), ("c1", "2025-01-01 10:05", "cart"),
        ("c1", "2025-01-03 10:00", "call"),   # 2 days after ad and cart: both followed by a contact
        ("c1", "2025-01-12 10:00", "call"),   # 9 days after the first call
        ("c2", "2025-01-01 10:00", "ad"), ("c2", "2025-01-20 10:00", "call"),  # 19 days: not within 7
    )
    tickets = pd.DataFrame({
        "ticket_id": ["t1", "t2", "t3"], "customer_id": ["c1", "c1", "c2"],
        "opened_at": ["2025-01-05 10:00", "2025-02-10 10:00", "2025-01-21 09:00"],
        "category": ["payment", "payment", "delivery"], "resolved": [False, True, None],
    })
    f = friction_signals(make_study(events=events, tickets=tickets), repeat_contact_days=7)
    bt = f.by_touchpoint
    assert _row(bt, "ad")[["events", "contacts_after"]].tolist() == [2, 1]
    assert _row(bt, "cart").contact_rate == 1.0
    # c1's first call is followed by ticket t1 two days later and c2's call by t3 23 hours later
    # (repeat contacts); c1's second call by nothing within 7 days
    assert _row(bt, "call")[["events", "contacts_after"]].tolist() == [3, 2]
    assert bool(_row(bt, "call").is_support)
    tk = f.tickets.set_index("category")
    # t1 (Jan 5) is followed by c1's call exactly 7 days later: within 7 days, a repeat contact
    assert tk.loc["payment", ["tickets", "unresolved", "repeat_contacts"]].tolist() == [2, 1, 1]
    assert tk.loc["delivery", ["tickets", "unresolved"]].tolist() == [1, 1]  # still open counts as unresolved
    assert tk.loc["payment", "unresolved_rate"] == pytest.approx(0.5)
    # the window is a parameter: within one day only c2's call is followed by a contact
    g = friction_signals(make_study(name="one", events=events, tickets=tickets), repeat_contact_days=1)
    assert _row(g.by_touchpoint, "call").contacts_after == 1
    assert _row(g.by_touchpoint, "ad").contacts_after == 0


def test_friction_by_stage_sums_touchpoints_and_counts_customers_once(make_study):
    events = log(
        ("c1", "2025-01-01 10:00", "cart"), ("c1", "2025-01-01 10:01", "pay_error"),
        ("c2", "2025-01-01 10:00", "cart"), ("c2", "2025-01-01 10:01", "buy", 3.0),
    )
    s = friction_signals(make_study(events=events)).by_stage.set_index("stage")
    assert s.loc["purchase", ["events", "customers", "dropoffs"]].tolist() == [4, 2, 1]
    assert s.loc["purchase", "dropoff_rate"] == pytest.approx(0.5)


def test_bad_friction_parameters_are_clear_errors(make_study):
    folder = make_study(events=log(("c1", "2025-01-01 10:00", "ad")))
    with pytest.raises(ParameterError, match="long_wait_quantile"):
        friction_signals(folder, long_wait_quantile=1.5)
    with pytest.raises(ParameterError, match="support_touchpoints: nope"):
        friction_signals(folder, support_touchpoints=["nope"])


# --------------------------------------------------------------------------- text
def test_sentiment_is_vaders_compound_score_and_missing_text_is_nan():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    texts = pd.Series(["Great app!", "The agent was rude and useless.", None, "  "])
    got = sentiment(texts)
    ref = SentimentIntensityAnalyzer()
    assert got[0] == pytest.approx(ref.polarity_scores("Great app!")["compound"]) == pytest.approx(0.6588)
    assert got[1] == pytest.approx(ref.polarity_scores(texts[1])["compound"]) and got[1] < -0.5
    assert np.isnan(got[2]) and np.isnan(got[3])


def test_study_sentiment_scores_a_text_once_across_processes_and_forgets_stale_scores(make_study, monkeypatch):
    from cxlab import sentiment as text_module  # the core's scorer, shared by every stage
    from cxlab.study import Study

    folder = make_study(events=log(("c1", "2025-01-01 10:00", "ad")))
    study = data.ensure_clean(Study.load(folder))
    texts = pd.Series(["Great app!", "The agent was rude.", "Great app!", None])
    first = text_module.study_sentiment(study, texts)
    stored = pd.read_parquet(study.processed(text_module.SCORES_FILE)).set_index(text_module.KEY_COLUMN)["sentiment"]
    stored.index = stored.index.map({text_module.text_key(t): t for t in ["Great app!", "The agent was rude."]})
    assert sorted(stored.index) == ["Great app!", "The agent was rude."]
    assert stored["Great app!"] == pytest.approx(0.6588) == first[0] == first[2] and np.isnan(first[3])

    # a new kernel (empty in-process memory) reads the stored scores and scores only new texts
    monkeypatch.setattr(text_module, "_SCORES", {})
    scored = []

    class CountingAnalyzer:
        def polarity_scores(self, t):
            scored.append(t)
            return {"compound": -0.5}

    monkeypatch.setattr(text_module, "_analyzer", lambda: CountingAnalyzer())
    again = text_module.study_sentiment(study, pd.Series(["The agent was rude.", "Late again"]))
    assert scored == ["Late again"]
    assert again.tolist() == [pytest.approx(stored["The agent was rude."]), -0.5]
    assert len(pd.read_parquet(study.processed(text_module.SCORES_FILE))) == 3

    # scores of other clean tables (another fingerprint) are not trusted
    data.write_json({"fingerprint": "something else"}, study.processed("text_sentiment.json"))
    monkeypatch.setattr(text_module, "_SCORES", {})
    scored.clear()
    text_module.study_sentiment(study, pd.Series(["Great app!"]))
    assert scored == ["Great app!"]


def test_keyword_topics_match_word_starts_phrases_and_ignore_personal_data():
    texts = pd.Series([
        "My parcel was DELIVERED late",            # 'deliver' starts 'delivered'
        "Cannot log in since the update",          # a phrase keyword
        "write to card.holder@example.com",        # 'card' only inside an email: no payment topic
        "The discount code failed at checkout",
    ])
    tags = tag_topics(texts, {"delivery": ["deliver", "parcel"], "app": ["log in"], "payment": ["card", "checkout"],
                              "price": ["discount"]})
    assert tags.values.tolist() == [
        [True, False, False, False],
        [False, True, False, False],
        [False, False, False, False],
        [False, False, True, True],
    ]
    with pytest.raises(ParameterError, match="topics"):
        tag_topics(texts, {"empty": []})


def test_topics_by_gives_the_share_of_texts_per_group():
    fb = pd.DataFrame({"stage": ["a", "a", "a", "b"]})
    tags = pd.DataFrame({"x": [True, False, True, False], "y": [False, False, True, True]})
    out = topics_by(fb, tags, "stage").set_index("stage")
    assert out.loc["a"].tolist() == pytest.approx([3, 2 / 3, 1 / 3])
    assert out.loc["b"].tolist() == pytest.approx([1, 0, 1])


def test_discovered_topics_separate_two_themes_and_assign_every_text():
    rng = np.random.default_rng(1)
    pay = ["card declined at checkout", "payment failed card charged twice", "checkout payment error card",
           "my card was declined again at checkout"]
    ship = ["parcel arrived late courier", "courier lost my parcel", "late delivery parcel still missing",
            "the courier left the parcel outside"]
    texts = [rng.choice(pay) + f" order {i}" for i in range(60)] + [rng.choice(ship) + f" order {i}" for i in range(60)]
    found = discover_topics(texts, n_topics=2, max_fit_docs=50, seed=0, min_df=2)
    assert found.fitted_on == 50
    assert found.topics["documents"].sum() == 120 and (found.assignment >= 0).all()
    first = found.assignment[:60]
    assert first.nunique() == 1 and found.assignment[60:].nunique() == 1
    assert first.iloc[0] != found.assignment.iloc[60]
    names = dict(zip(found.topics.topic, found.topics.name))
    assert any(w in names[first.iloc[0]] for w in ("card", "checkout", "payment", "declined"))
    assert any(w in names[found.assignment.iloc[60]] for w in ("parcel", "courier", "late"))


def test_quotes_are_redacted_distinct_and_most_negative_first():
    texts = pd.Series([
        "Awful service, call me on +44 20 7946 0958.",
        "Awful service, call me on +44 20 7946 0958.",   # the same text: shown once
        "Terrible, write to jane.doe@example.com please",
        "fine",
    ])
    quotes = representative_quotes(texts, pd.Series([-0.5, -0.5, -0.9, 0.1]), k=3, ascending=True)
    assert quotes == ["Terrible, write to [email] please", "Awful service, call me on [phone]."]


# --------------------------------------------------------------------------- emotion curve
def test_mean_ci_is_the_t_interval_and_nps_ci_the_multinomial_normal_interval():
    x = [1, 2, 4, 4, 5]
    est = mean_ci(x, "csat")
    lo, hi = stats.t.interval(0.95, 4, loc=np.mean(x), scale=stats.sem(x))
    assert (est.estimate, est.ci_low, est.ci_high, est.n) == (pytest.approx(3.2), pytest.approx(lo), pytest.approx(hi), 5)
    scores = [10, 9, 9, 8, 7, 6, 0, 3, 10, 10]  # 5 promoters, 3 detractors of 10
    n = nps_ci(scores, "nps")
    se = math.sqrt((0.5 + 0.3 - 0.2**2) / 10)
    assert n.estimate == pytest.approx(20.0)
    assert n.ci_low == pytest.approx(100 * (0.2 - 1.959964 * se), abs=1e-4)
    assert n.ci_high == pytest.approx(100 * (0.2 + 1.959964 * se), abs=1e-4)


def test_emotion_curve_gives_each_stage_its_mean_csat_and_finds_the_lowest():
    responses = pd.DataFrame({
        "stage": ["a", "a", "b", "b", "b", "c"],
        "csat": [5, 3, 1, 2, 3, 4],
        "sentiment": [0.5, 0.1, -0.8, -0.2, np.nan, 0.4],
    })
    curve = emotion_curve(responses, ["a", "b", "c"], metrics=("csat", "sentiment"))
    csat = curve.metric("csat").set_index("stage")
    assert csat.estimate.tolist() == pytest.approx([4.0, 2.0, 4.0])
    assert csat.n.tolist() == [2, 3, 1] and np.isnan(csat.loc["c", "ci_low"])
    assert curve.metric("sentiment").set_index("stage").loc["b", "estimate"] == pytest.approx(-0.5)
    assert curve.lowest_stage("csat") == "b"


# --------------------------------------------------------------------------- key drivers
def _r2(y, x) -> float:
    return float(sm.OLS(y, sm.add_constant(x)).fit().rsquared) if x.shape[1] else 0.0


def test_lmg_equals_the_average_r2_gain_over_all_orders_and_sums_to_r2():
    rng = np.random.default_rng(3)
    n = 400
    z = rng.normal(size=(n, 3))
    x = pd.DataFrame({"a": z[:, 0], "b": 0.6 * z[:, 0] + z[:, 1], "c": 0.3 * z[:, 1] + z[:, 2]})
    y = pd.Series(1.0 * x.a + 0.5 * x.b + 0.2 * x.c + rng.normal(size=n))
    got = lmg(x, y)
    # reference: brute force over the 3! orders with statsmodels fits
    ref = dict.fromkeys(x.columns, 0.0)
    for order in itertools.permutations(x.columns):
        for k, col in enumerate(order):
            ref[col] += _r2(y, x[list(order[: k + 1])]) - _r2(y, x[list(order[:k])])
    for col in x.columns:
        assert got[col] == pytest.approx(ref[col] / 6, abs=1e-10)
    assert got.sum() == pytest.approx(_r2(y, x), abs=1e-10)
    # two predictors: LMG_a = (R²(a) + R²(ab) - R²(b)) / 2
    two = lmg(x[["a", "b"]], y)
    assert two["a"] == pytest.approx((_r2(y, x[["a"]]) + _r2(y, x[["a", "b"]]) - _r2(y, x[["b"]])) / 2)
    # sampled orders (beyond max_exact) still add up to R² exactly
    sampled = lmg(x, y, max_exact=1, n_permutations=200)
    assert sampled.sum() == pytest.approx(_r2(y, x), abs=1e-10)
    assert sampled["a"] == pytest.approx(got["a"], abs=0.01)


def test_key_drivers_report_hc3_coefficients_and_the_quadrants():
    rng = np.random.default_rng(5)
    n = 600
    ease = rng.integers(1, 6, n).astype(float)
    price = rng.integers(1, 6, n).astype(float)
    staff = np.clip(np.round(ease + rng.normal(0, 1.5, n)), 1, 5)
    y = np.clip(np.round(0.8 * ease + 0.1 * price + 0.3 * staff + rng.normal(0, 0.7 * (1 + ease / 5), n)), 1, 5)
    frame = pd.DataFrame({"csat": y, "driver_ease": ease, "driver_price": price, "driver_staff": staff})
    kd = key_drivers(frame, "csat")
    ref = sm.OLS(y, sm.add_constant(frame[["driver_ease", "driver_price", "driver_staff"]])).fit(cov_type="HC3")
    t = kd.table.set_index("driver")
    assert t.loc["driver_ease", "coefficient"] == pytest.approx(ref.params["driver_ease"])
    assert t.loc["driver_ease", "ci_low"] == pytest.approx(ref.conf_int().loc["driver_ease", 0])
    assert t.loc["driver_price", "p_value"] == pytest.approx(ref.pvalues["driver_price"])
    assert kd.r2 == pytest.approx(ref.rsquared) and t["lmg"].sum() == pytest.approx(ref.rsquared)
    assert kd.top() == "driver_ease"
    imp_hi = t.share_of_r2 >= t.share_of_r2.mean()
    perf_hi = t.performance >= t.performance.mean()
    expected = {(True, False): "Fix first", (True, True): "Keep up", (False, True): "Maintain", (False, False): "Monitor"}
    assert t.quadrant.tolist() == [expected[(a, b)] for a, b in zip(imp_hi, perf_hi)]


def test_drivers_never_rated_together_are_left_out_one_at_a_time():
    rng = np.random.default_rng(7)
    n = 300
    frame = pd.DataFrame({"csat": rng.integers(1, 6, n).astype(float),
                          "driver_a": rng.integers(1, 6, n).astype(float),
                          "driver_b": rng.integers(1, 6, n).astype(float),
                          "driver_c": rng.integers(1, 6, n).astype(float)})
    frame.loc[:199, "driver_c"] = np.nan   # c is rated only where b is not
    frame.loc[200:, "driver_b"] = np.nan
    kd = key_drivers(frame, "csat", min_responses=150)
    assert set(kd.table.driver) == {"driver_a", "driver_b"} and kd.n == 200
    assert "driver_c" in kd.notes[0]


# --------------------------------------------------------------------------- churn after tickets
def test_survival_table_follows_each_customers_first_ticket_after_a_purchase(make_study):
    events = log(
        ("c1", "2025-01-01 10:00", "buy", 5.0), ("c1", "2025-01-20 10:00", "buy", 5.0),
        ("c1", "2025-03-01 10:00", "buy", 5.0),
        ("c2", "2025-01-05 10:00", "buy", 5.0), ("c2", "2025-06-30 10:00", "ad"),
        ("c3", "2025-01-01 10:00", "ad"),          # never bought: its ticket is no unit
    )
    tickets = pd.DataFrame({
        "ticket_id": ["t0", "t1", "t2", "t3", "t4"], "customer_id": ["c1", "c1", "c1", "c2", "c3"],
        "opened_at": ["2024-12-30 10:00", "2025-01-10 10:00", "2025-01-25 10:00", "2025-01-10 10:00",
                      "2025-01-02 10:00"],
        "resolved": [True, False, True, None, False],
    })
    folder = make_study(events=events, tickets=tickets)
    study = data.ensure_clean(folder)
    table = survival_table(engine.events(study), engine.table(study, "tickets"), ["buy"]).set_index("customer_id")
    assert table.index.tolist() == ["c1", "c2"]
    assert table.loc["c1", "ticket_id"] == "t1"   # t0 came before any purchase, t2 is a later ticket
    assert bool(table.loc["c1", "event"]) and table.loc["c1", "days"] == pytest.approx(10.0)
    assert table.loc["c1", "prior_purchases"] == 1 and bool(table.loc["c1", "unresolved"])
    # c2 never bought again: censored at the last timestamp of the data (2025-06-30 10:00)
    assert not table.loc["c2", "event"] and table.loc["c2", "days"] == pytest.approx(171.0)
    assert bool(table.loc["c2", "unresolved"])   # still open counts as unresolved


def test_hazard_ratio_is_statsmodels_phreg_on_the_landmark_table(make_study):
    rng = np.random.default_rng(11)
    rows, tickets, waits = [], [], []
    start = pd.Timestamp("2025-01-01")
    for i in range(400):
        unresolved = i % 2 == 1
        prior = 1 + i % 3
        for k in range(prior):
            rows.append((f"c{i}", str(start + pd.Timedelta(days=k)), "buy", 10.0))
        opened = start + pd.Timedelta(days=prior, hours=1)
        # a resolved ticket is closed an hour after it was opened: resolved by the 7-day landmark
        tickets.append({"ticket_id": f"t{i}", "customer_id": f"c{i}", "opened_at": str(opened),
                        "closed_at": None if unresolved else str(opened + pd.Timedelta(hours=1)),
                        "resolved": not unresolved})
        wait = rng.exponential(30 / (0.5 if unresolved else 1.0))
        waits.append((unresolved, wait))
        if wait < 200:
            rows.append((f"c{i}", str(opened + pd.Timedelta(days=wait)), "buy", 10.0))
    rows.append(("end", str(start + pd.Timedelta(days=205)), "ad"))
    folder = make_study(events=log(*rows), tickets=pd.DataFrame(tickets))
    result = churn_after_tickets(folder)
    t = result.table
    # customers who bought again within the 7 days are not in the comparison; time runs from the landmark
    at_risk = [u for u, w in waits if w > 7]
    assert len(t) == len(at_risk) and len(result.units) == 400
    assert (t.day == np.ceil(t.days)).all()
    ref = sm.PHReg(t.day.to_numpy(float), t[["unresolved", "prior_purchases"]].astype(float).to_numpy(),
                   status=t.event.to_numpy(int), ties="efron").fit()
    assert result.hazard_ratio.estimate == pytest.approx(math.exp(ref.params[0]))
    lo, hi = np.exp(ref.conf_int()[0])
    assert (result.hazard_ratio.ci_low, result.hazard_ratio.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    assert result.hazard_ratio.covers(0.5) and result.hazard_ratio.n == len(at_risk)
    assert result.groups.set_index("group").loc["unresolved", "customers"] == sum(at_risk)


# --------------------------------------------------------------------------- register
@pytest.fixture
def register_study(make_study):
    rows, surveys = [], []
    for i in range(100):
        c = f"c{i:03d}"
        rows += [(c, "2025-01-01 10:00", "ad"), (c, "2025-01-01 10:05", "view")]
        if i < 60:
            rows += [(c, "2025-01-01 10:10", "cart"), (c, "2025-01-01 10:15", "buy", 20.0)]
            surveys.append({"response_id": f"r{i}", "customer_id": c, "timestamp": "2025-01-02",
                            "touchpoint": "buy", "csat": 4, "comment": "Quick and easy, great."})
        elif i < 80:
            rows += [(c, "2025-01-01 10:10", "cart"), (c, "2025-01-01 10:11", "pay_error")]
            surveys.append({"response_id": f"r{i}", "customer_id": c, "timestamp": "2025-01-02",
                            "touchpoint": "pay_error", "csat": 1,
                            "comment": "Card declined, awful. Mail me at a.b@example.com"})
    # no conversion window: in a one-day log a 30-day window would leave every customer out of
    # the conversion comparison (their window runs past the end of the log)
    folder = make_study(events=log(*rows), surveys=pd.DataFrame(surveys), conversion_window_days=None)
    study = data.ensure_clean(folder)
    segments = pd.DataFrame({"customer_id": [f"c{i:03d}" for i in range(100)],
                             "segment": ["A"] * 60 + ["B"] * 40})
    segments.to_parquet(study.processed("segments.parquet"))
    return study


def test_register_ranks_by_reach_times_harm_with_the_documented_formula(register_study):
    study = register_study
    friction = friction_signals(study)
    responses = survey_responses(study).assign(sentiment=0.0)
    reg = build_register(study, friction, responses, min_customers=5, min_responses=5)
    top = reg.table.iloc[0]
    assert (top["rank"], top.touchpoint, top.reach) == (1, "pay_error", 20)
    # conversion: 0 of 20 who met it against 60 of 80 who did not
    assert top.impact_conversion == pytest.approx(-0.75)
    # CSAT 1 here against 4 elsewhere, on a 1-5 scale
    assert top.impact_satisfaction == pytest.approx(-3.0) and top.harm_satisfaction == pytest.approx(0.75)
    assert top.priority == pytest.approx(100 * 0.20 * (0.75 + 0.75))
    assert top.dropoff_rate == 1.0 and "100.0% of the 20 customers" in top.evidence
    # all of pay_error's customers are in segment B: (20/40) / (20/100) = 2.5 times the average
    assert top.segments_most_affected == "B (2.5×)"
    assert set(reg.table.touchpoint) == {"pay_error"}  # nothing else harms anyone here
    from cxlab import painpoints

    paths = painpoints.analyze(study, min_customers=5, min_responses=5).write()
    written = pd.read_parquet(paths["pain_points"])
    assert written.loc[0, "touchpoint"] == "pay_error" and "priority" in written


def test_the_register_shows_customer_text_only_redacted(register_study):
    from cxlab.painpoints import voice_of_customer

    voice = voice_of_customer(register_study, n_topics=2)
    quotes = " ".join(voice.topics.quotes)
    assert "[email]" in quotes and "@" not in quotes
    assert voice.topics.set_index("topic").loc["payment", "mentions"] == 20


@pytest.mark.parametrize("phone", ["+44 20 7946 0958", "(555) 123-4567", "+1 202 555 0143", "020 7946 0321",
                                   "+44 161 496 0753", "555-013-2233", "+353 1 555 0198"])
@pytest.mark.parametrize("sentence", ["Call me on {p}.", "My number is {p}", "ring me back on {p} please", "({p})"])
def test_quotes_redact_every_phone_format_the_synthetic_texts_use(phone, sentence):
    # the formats and sentences of cxlab.synth.text, at the end of a sentence too
    quote = representative_quotes(pd.Series([f"Terrible service. {sentence.format(p=phone)}"]), pd.Series([-1.0]))
    assert "[phone]" in quote[0] and not any(ch.isdigit() for ch in quote[0])


# --------------------------------------------------------------------------- by segment
@pytest.fixture
def segment_study(make_study):
    """100 customers in four segments: A (60) and B (30) answer a survey with two driver
    ratings (ease matters in A, speed in B), C (5) too few for key drivers, D (5) none."""
    rng = np.random.default_rng(4)
    rows, surveys = [], []
    segment = ["A"] * 60 + ["B"] * 30 + ["C"] * 5 + ["D"] * 5
    for i, seg in enumerate(segment):
        c = f"c{i:03d}"
        rows += [(c, "2025-01-01 10:00", "ad"), (c, "2025-01-01 10:05", "view")]
        if seg == "D":
            continue
        ease, speed = rng.integers(1, 6, size=2)
        weight = (0.8, 0.1) if seg == "A" else (0.1, 0.8)
        csat = float(np.clip(round(weight[0] * ease + weight[1] * speed + rng.normal(0, 0.5)), 1, 5))
        surveys.append({"response_id": f"r{i}", "customer_id": c, "timestamp": "2025-01-02",
                        "touchpoint": "view" if i % 2 else "ad", "csat": csat,
                        "driver_ease": float(ease), "driver_speed": float(speed)})
    folder = make_study(events=log(*rows), surveys=pd.DataFrame(surveys))
    study = data.ensure_clean(folder)
    from cxlab.stages import output_path

    segments = pd.DataFrame({"customer_id": [f"c{i:03d}" for i in range(100)], "segment": segment})
    segments.to_parquet(output_path(study, "segmentation", "segments"), index=False)
    return study, segments, pd.DataFrame(surveys)


def test_pain_points_write_the_emotion_curve_and_key_drivers_of_each_segment(segment_study):
    from cxlab import painpoints

    study, segments, surveys = segment_study
    result = painpoints.analyze(study)
    paths = result.write()
    emotion = pd.read_parquet(paths["emotion_by_segment"])
    drivers = pd.read_parquet(paths["drivers_by_segment"])
    # the emotion table with a segment column: every segment with responses, every stage
    assert list(emotion.columns) == ["segment"] + list(result.emotion.table.columns)
    assert sorted(emotion.segment.unique()) == ["A", "B", "C"]  # D answered no survey
    assert (emotion.groupby("segment").size() == len(study.stages)).all()  # one metric (CSAT) per stage
    answers = surveys.merge(segments, on="customer_id")
    for seg in ("A", "B", "C"):
        for stage, tp in (("awareness", "ad"), ("consideration", "view")):
            row = emotion[(emotion.segment == seg) & (emotion.stage == stage) & (emotion.metric == "csat")].iloc[0]
            mine = answers[(answers.segment == seg) & (answers.touchpoint == tp)].csat
            assert row.estimate == pytest.approx(mine.mean()) and row.n == len(mine)
    # key drivers per segment: the driver table with outcome and segment; C has too few responses
    assert list(drivers.columns) == ["segment"] + list(result.drivers.table.columns) + ["outcome"]
    assert sorted(drivers.segment.unique()) == ["A", "B"]
    # every response rated both drivers: neither is left out for the segment's 60 responses
    assert sorted(drivers[drivers.segment == "A"].driver) == ["driver_ease", "driver_speed"]
    assert any("segment C" in n for n in result.notes)
    for seg in ("A", "B"):
        ref = key_drivers(answers[answers.segment == seg], "csat").table.set_index("driver")
        got = drivers[drivers.segment == seg].set_index("driver")
        assert got.coefficient.to_numpy() == pytest.approx(ref.loc[got.index, "coefficient"].to_numpy())
        assert (got.outcome == "csat").all()
    top = drivers.sort_values("lmg", ascending=False).groupby("segment").driver.first()
    assert top.to_dict() == {"A": "driver_ease", "B": "driver_speed"}  # as planted


def test_without_segments_the_tables_by_segment_are_not_written(segment_study):
    from cxlab import painpoints
    from cxlab.stages import output_path

    study, _, _ = segment_study
    output_path(study, "segmentation", "segments").unlink()
    paths = painpoints.analyze(study).write()
    assert "emotion_by_segment" not in paths and "drivers_by_segment" not in paths
    assert not output_path(study, "pain_points", "emotion_by_segment").exists()
    assert "emotion" in paths and "drivers" in paths
