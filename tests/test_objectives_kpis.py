"""The KPI library on small hand-computed tables: every KPI's value, its interval against
statsmodels/scipy on the same numbers, the NPS interval against the multinomial variance
computed directly, censoring at the end of the log, and grouped computation (by period, by
attribute) agreeing with one window at a time."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from conftest import WORKED_LOG, log
from cxlab.errors import ParameterError, StudyError
from cxlab.kpis import (KPIS, PERIOD_INDEX, censoring_note, complete_until, compute_kpi, conversion_window_days,
                        describe_settings, kpi_definitions, kpi_estimate, kpi_settings, kpi_stats, kpi_table,
                        kpi_units)
from cxlab import engine
from cxlab.study import Study

EVENTS = log(*WORKED_LOG)  # conftest: the worked log, hand-counted
CUSTOMERS = pd.DataFrame({
    "customer_id": list("abcdef"),
    "region": ["N", "S", "N", "S", "N", "S"],
    "age": [20, 30, 40, 70, 50, 60],
})
NPS = [10, 10, 9, 9, 9, 8, 7, 6, 3, 0, 10, 2]       # 6 promoters, 4 detractors, 2 passives
CSAT = [5, 4, 4, 3, 5, 2, 1, 4, 5, 3, 4, 2]
CES = [7, 6, 5, 4, 6, 3, 2, 5, 7, 4, 6, 1]


@pytest.fixture
def study(make_study):
    return make_study(
        events=EVENTS, customers=CUSTOMERS,
        customer_attributes={"region": {"kind": "category"}, "age": {"kind": "numeric", "bins": [18, 35, 65]}},
    )


@pytest.fixture
def survey_study(make_study):
    """Twelve customers, one survey answer each (so the textbook iid formulas apply)."""
    ids = [f"s{i:02d}" for i in range(12)]
    events = pd.DataFrame({"customer_id": ids, "timestamp": "2025-01-01 09:00", "touchpoint": "view"})
    surveys = pd.DataFrame({
        "response_id": [f"r{i}" for i in range(12)], "customer_id": ids,
        "timestamp": ["2025-01-05"] * 6 + ["2025-02-05"] * 6,
        "touchpoint": ["buy"] * 8 + ["call"] * 4,
        "nps": NPS, "csat": CSAT, "ces": CES,
    })
    customers = pd.DataFrame({"customer_id": ids, "region": ["N", "S"] * 6})
    return make_study(name="surveys", events=events, customers=customers, surveys=surveys)


def _one(frame: pd.DataFrame) -> pd.Series:
    assert len(frame) == 1
    return frame.iloc[0]


# --------------------------------------------------------------------------- registry
def test_every_kpi_has_a_definition_unit_and_direction():
    defs = kpi_definitions()
    assert list(defs["kpi"]) == ["conversion_rate", "repeat_purchase_rate", "retention_rate", "churn_rate",
                                 "revenue_per_customer", "average_order_value", "nps", "csat_top2",
                                 "csat_mean", "ces_mean"]
    assert defs["definition"].str.len().min() > 30
    assert dict(zip(defs["kpi"], defs["direction"]))["churn_rate"] == "lower is better"
    assert (defs["direction"] == "higher is better").sum() == 9  # CES: 7 = very easy


def test_unknown_kpi_names_the_known_ones(study):
    with pytest.raises(ParameterError, match="conversion_rate"):
        compute_kpi(study, "conversion")


# --------------------------------------------------------------------------- event-log KPIs
def test_conversion_rate_counts_a_goal_within_the_window_and_leaves_censored_customers_out(study):
    r = _one(compute_kpi(study, "conversion_rate"))
    assert (r["estimate"], r["n"]) == (0.8, 5)  # a, c, e, f of a, b, c, e, f; d censored
    lo, hi = proportion_confint(4, 5, method="wilson")
    assert r["ci_low"] == pytest.approx(lo) and r["ci_high"] == pytest.approx(hi)
    assert r["method"] == "Wilson score interval"
    # a 60-day window converts b, and censors e and f (1 Apr + 60 days is after the log ends)
    r60 = _one(compute_kpi(study, "conversion_rate", window_days=60))
    assert (r60["estimate"], r60["n"]) == (1.0, 3)


def test_conversion_window_comes_from_the_study(make_study):
    path = make_study(events=EVENTS, customers=CUSTOMERS, conversion_window_days=60)
    assert _one(compute_kpi(path, "conversion_rate"))["n"] == 3


def test_no_other_stages_parameters_are_read(make_study):
    """The touchpoint stage's parameters in study.yaml do not set the KPIs' window: the study's
    window (30 days by default) does, unless the call gives one."""
    path = make_study(events=EVENTS, customers=CUSTOMERS, parameters={"touchpoints": {"conversion_window_days": 60},
                                                                     "objectives": {"window_days": 60}})
    r = _one(compute_kpi(path, "conversion_rate"))
    assert (r["estimate"], r["n"]) == (0.8, 5)
    assert conversion_window_days(Study.load(path)) == 30
    assert kpi_settings(Study.load(path), "conversion_rate", window_days=7) == {"window_days": 7}
    assert kpi_settings(Study.load(path), "churn_rate") == {"retention_period": "month", "activity": "any"}


def test_without_a_window_any_later_goal_converts_and_nobody_is_censored(make_study):
    # a, b (59 days), c, e, f converted; d, first seen on the last day, did not: 5 of 6
    path = make_study(events=EVENTS, customers=CUSTOMERS, conversion_window_days=None)
    r = _one(compute_kpi(path, "conversion_rate"))
    assert (r["estimate"], r["n"]) == (pytest.approx(5 / 6), 6)
    explicit = _one(compute_kpi(path.parent / path.name, "conversion_rate", window_days=None))
    assert explicit["n"] == 6
    with pytest.raises(ParameterError, match="positive number of days"):
        compute_kpi(path, "conversion_rate", window_days=0)


def test_conversion_rate_in_a_window_counts_customers_by_their_first_touch(study):
    est = kpi_estimate(study, "conversion_rate", "2025-01-01", "2025-01-31")
    assert (est.estimate, est.n) == (0.5, 2)  # a converted, b not; b's purchase in March still counts as late


def test_repeat_purchase_rate_follows_each_new_buyer_for_the_same_horizon(study):
    # first orders: a 5 Jan (again 3 Feb, 29 days later), b 10 Mar, c 2 Feb (again 3 Feb), e 2 Apr, f 3 Apr.
    # The log is observed until 31 May: with 90 days only a (5 Jan + 90 = 5 Apr) and c (2 May) are
    # followed to the end of their horizon; b, e and f are left out, not counted as "no repeat".
    r = _one(compute_kpi(study, "repeat_purchase_rate"))
    assert (r["estimate"], r["n"]) == (1.0, 2)
    # 30 days: all five are followed; a and c ordered again within 30 days
    r30 = _one(compute_kpi(study, "repeat_purchase_rate", repeat_horizon_days=30))
    assert (r30["estimate"], r30["n"]) == (0.4, 5)
    lo, hi = proportion_confint(2, 5, method="wilson")
    assert (r30["ci_low"], r30["ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
    # 20 days: a's second order, 29 days after the first, is too late
    assert _one(compute_kpi(study, "repeat_purchase_rate", repeat_horizon_days=20))["estimate"] == pytest.approx(0.2)
    # a window holds the customers whose FIRST order falls in it: in February only c (a first bought in
    # January, so a's February order is not a new buyer's)
    feb = kpi_estimate(study, "repeat_purchase_rate", "2025-02-01", "2025-02-28", repeat_horizon_days=30)
    assert (feb.estimate, feb.n) == (1.0, 1)
    assert kpi_settings(Study.load(study), "repeat_purchase_rate") == {"repeat_horizon_days": 90}
    with pytest.raises(ParameterError, match="positive number of days"):
        compute_kpi(study, "repeat_purchase_rate", repeat_horizon_days=0)
    # the registration freezes the horizon and the hypotheses table says it in words
    assert describe_settings("repeat_purchase_rate", {"repeat_horizon_days": 90}) == (
        "a repeat order within 90 days of the first order")


def test_complete_until_and_the_note_name_the_units_left_out(study):
    # the log ends 30 May: observed until 31 May
    assert complete_until(study, "repeat_purchase_rate") == pd.Timestamp("2025-03-01")  # 1 Mar + 1 day + 90 = 31 May
    assert complete_until(study, "conversion_rate") == pd.Timestamp("2025-04-30")
    assert complete_until(study, "churn_rate") == pd.Timestamp("2025-03-31")  # March's next month, April, is complete
    assert complete_until(study, "revenue_per_customer") == pd.Timestamp("2025-04-30")  # May is incomplete
    assert complete_until(study, "average_order_value") == pd.Timestamp("2025-05-30")
    assert censoring_note(study, "repeat_purchase_rate") == (
        "Customers whose first order is after 1 Mar 2025 are left out: their 90 days of follow-up are not over "
        "by the end of the data (30 May 2025).")
    assert censoring_note(study, "average_order_value") == ""
    assert "not measured over the same follow-up" in censoring_note(study, "conversion_rate", window_days=None)


def test_retention_and_churn_with_customers_as_clusters(study):
    # active months: a Jan Feb; b Jan Mar; c Feb; e Apr; f Apr; d May (May incomplete: the log ends 30 May)
    # pairs (customer, month n) with month n+1 complete: a-Jan (kept), a-Feb, b-Jan, b-Mar, c-Feb
    r = _one(compute_kpi(study, "retention_rate"))
    assert (r["estimate"], r["n"], r["customers"]) == (0.2, 5, 3)
    # clustered variance of the share: G/(G-1) * sum_c (S_c - n_c p)^2 / N^2
    p, var = 0.2, 3 / 2 * ((1 - 2 * 0.2) ** 2 + (0 - 2 * 0.2) ** 2 + (0 - 0.2) ** 2) / 25
    n_eff = p * (1 - p) / var
    lo, hi = proportion_confint(p * n_eff, n_eff, method="wilson")
    assert r["ci_low"] == pytest.approx(lo) and r["ci_high"] == pytest.approx(hi)
    churn = _one(compute_kpi(study, "churn_rate"))
    assert churn["estimate"] == pytest.approx(0.8)
    assert churn["ci_low"] == pytest.approx(1 - hi) and churn["ci_high"] == pytest.approx(1 - lo)


def test_retention_on_purchases(study):
    # months with an order: a Jan Feb; b Mar; c Feb; e Apr; f Apr -> pairs a-Jan (kept), a-Feb, b-Mar, c-Feb
    r = _one(compute_kpi(study, "retention_rate", activity="purchase"))
    assert (r["estimate"], r["n"]) == (0.25, 4)


def test_revenue_per_customer_is_a_mean_over_active_customer_months(study):
    # active months and their revenue: a Jan 10, a Feb 30, b Jan 0, b Mar 20, c Feb 12, e Apr 5, f Apr 5;
    # d's May is not complete (the log ends 30 May) and is left out
    months = pd.DataFrame({"customer": list("aabbcef"), "value": [10, 30, 0, 20, 12, 5, 5.0]})
    r = _one(compute_kpi(study, "revenue_per_customer"))
    assert (r["estimate"], r["n"], r["customers"]) == (pytest.approx(82 / 7), 7, 5)
    fit = sm.OLS(months["value"], np.ones(len(months))).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(months["customer"])[0]})
    half = stats.t.ppf(0.975, 5 - 1) * np.asarray(fit.bse)[0]  # 5 customers
    assert r["ci_high"] - r["estimate"] == pytest.approx(half)
    # a month counts in the window that holds its 15th, and one month is the same quantity as a quarter
    jan = kpi_estimate(study, "revenue_per_customer", "2025-01-01", "2025-01-31")
    assert (jan.estimate, jan.n) == (5.0, 2)  # a 10, b 0


def test_average_order_value_clusters_orders_by_customer(study):
    orders = pd.DataFrame({"customer": list("aabccef"), "value": [10, 30, 20, 5, 7, 5, 5.0]})
    r = _one(compute_kpi(study, "average_order_value"))
    assert r["estimate"] == pytest.approx(82 / 7)
    fit = sm.OLS(orders["value"], np.ones(len(orders))).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(orders["customer"])[0]})
    half = stats.t.ppf(0.975, 5 - 1) * np.asarray(fit.bse)[0]  # 5 customers
    assert r["ci_high"] - r["estimate"] == pytest.approx(half)
    assert "clustered by customer" in r["method"]


# --------------------------------------------------------------------------- survey KPIs
def test_nps_interval_is_the_multinomial_variance(survey_study):
    r = _one(compute_kpi(survey_study, "nps"))
    n, pro, det = 12, 6 / 12, 4 / 12
    assert r["estimate"] == pytest.approx(100 * (pro - det))
    # direct: var(p_pro - p_det) from the multinomial covariance, Cov(p_i, p_j) = -p_i p_j / n
    cov = (np.diag([pro, det]) - np.outer([pro, det], [pro, det])) / n
    var_direct = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    assert var_direct == pytest.approx((pro + det - (pro - det) ** 2) / n)
    half = 100 * stats.norm.ppf(0.975) * math.sqrt(var_direct)
    assert r["ci_low"] == pytest.approx(r["estimate"] - half)
    assert r["ci_high"] == pytest.approx(r["estimate"] + half)
    assert r["method"] == "normal interval, multinomial variance"
    assert not KPIS["nps"].kind == "mean"  # not a t-interval on the 0-10 scores


def test_nps_with_repeat_respondents_uses_the_clustered_variance(make_study):
    ids = list("aaabbcddeeffgghh")
    scores = [10, 9, 0, 3, 5, 10, 9, 10, 8, 9, 7, 10, 2, 9, 10, 10]
    events = pd.DataFrame({"customer_id": sorted(set(ids)), "timestamp": "2025-01-01", "touchpoint": "view"})
    surveys = pd.DataFrame({"response_id": range(16), "customer_id": ids, "timestamp": "2025-01-02", "nps": scores})
    r = _one(compute_kpi(make_study(events=events, surveys=surveys), "nps"))
    y = np.where(np.array(scores) >= 9, 1.0, np.where(np.array(scores) <= 6, -1.0, 0.0))
    fit = sm.OLS(y, np.ones(16)).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(pd.Series(ids))[0]})
    assert r["estimate"] == pytest.approx(100 * y.mean())
    assert r["ci_high"] < 100
    assert r["ci_high"] - r["estimate"] == pytest.approx(100 * stats.norm.ppf(0.975) * np.asarray(fit.bse)[0])


def test_csat_top2_box_and_means(survey_study):
    top2 = _one(compute_kpi(survey_study, "csat_top2"))
    k = sum(c >= 4 for c in CSAT)
    assert (top2["estimate"], top2["n"]) == (pytest.approx(k / 12), 12)
    lo, hi = proportion_confint(k, 12, method="wilson")
    assert (top2["ci_low"], top2["ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
    for name, values in (("csat_mean", CSAT), ("ces_mean", CES)):
        r = _one(compute_kpi(survey_study, name))
        v = np.array(values, dtype=float)
        lo, hi = stats.t.interval(0.95, 11, loc=v.mean(), scale=stats.sem(v))
        assert r["estimate"] == pytest.approx(v.mean())
        assert (r["ci_low"], r["ci_high"]) == (pytest.approx(lo), pytest.approx(hi))


def test_survey_kpis_can_be_restricted_to_a_touchpoint(survey_study):
    r = _one(compute_kpi(survey_study, "csat_mean", touchpoint="call"))
    assert r["estimate"] == pytest.approx(np.mean(CSAT[8:])) and r["n"] == 4


def test_survey_kpis_need_a_surveys_table(study):
    with pytest.raises(StudyError, match="no surveys table"):
        compute_kpi(study, "nps")
    table = kpi_table(study)
    assert "nps" not in set(table["kpi"]) and "conversion_rate" in set(table["kpi"])


# --------------------------------------------------------------------------- grouped once
def test_a_trend_is_one_query_that_matches_window_by_window(survey_study):
    trend = compute_kpi(survey_study, "nps", freq="month")
    assert list(trend["period"]) == [pd.Timestamp("2025-01-01"), pd.Timestamp("2025-02-01")]
    jan = kpi_estimate(survey_study, "nps", "2025-01-01", "2025-01-31")
    assert trend.iloc[0]["estimate"] == pytest.approx(jan.estimate)
    assert trend.iloc[0]["ci_low"] == pytest.approx(jan.ci_low)
    assert trend.iloc[0]["estimate"] == pytest.approx(100 * (5 - 0) / 6)  # 10 10 9 9 9 8


def test_conversion_trend_by_month_of_first_touch(study):
    trend = compute_kpi(study, "conversion_rate", freq="month")
    assert dict(zip(trend["period"].dt.month, trend["estimate"])) == {1: 0.5, 2: 1.0, 4: 1.0}


def test_breakdown_by_category_and_by_binned_number(study):
    by_region = compute_kpi(study, "average_order_value", by="region").set_index("region")
    assert by_region.loc["N", "estimate"] == pytest.approx((10 + 30 + 5 + 7 + 5) / 5)  # a, c, e
    assert by_region.loc["S", "estimate"] == pytest.approx((20 + 5) / 2)  # b, f
    by_age = compute_kpi(study, "revenue_per_customer", by="age").set_index("age")
    # customer-months in bins 18-35: a (10, 30), b (0, 20); 35-65: c (12), e (5), f (5); >= 65: d's May is incomplete
    assert by_age["estimate"].to_dict() == pytest.approx({"18–35": 15.0, "35–65": 22 / 3})


def test_breakdown_by_a_given_grouping_table(study):
    groups = pd.DataFrame({"customer_id": list("abcdef"), "segment": ["x", "x", "y", "y", "y", "y"]})
    r = compute_kpi(study, "conversion_rate", by="segment", groups=groups).set_index("segment")
    assert r.loc["x", "estimate"] == 0.5 and r.loc["y", "estimate"] == 1.0


def test_sufficient_statistics_come_back_aggregated(study):
    s = kpi_stats(study, "revenue_per_customer", freq="month", by="region")
    assert len(s) <= 5 * 2 and set(s.columns) >= {"n", "customers", "sum", "sum_sq"}
    units = kpi_units(study, "conversion_rate")
    assert {"customer_id", "y", PERIOD_INDEX} <= set(units.columns) and PERIOD_INDEX == "period_index"
    assert int(engine.to_pandas(units.aggregate(n=units.count()))["n"].iloc[0]) == 5


def test_bad_windows_and_attributes_are_user_errors(study):
    with pytest.raises(ParameterError, match="ends"):
        compute_kpi(study, "conversion_rate", "2025-03-01", "2025-01-01")
    with pytest.raises(ParameterError, match="no attribute 'colour'"):
        compute_kpi(study, "conversion_rate", by="colour")
    with pytest.raises(ParameterError, match="freq"):
        compute_kpi(study, "conversion_rate", freq="fortnight")
