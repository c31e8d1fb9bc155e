"""On the synthetic demo study (cxlab.synth, 20,000 customers, seed 7) the KPIs reproduce the
rates planted in truth.json: the same units (n) and the same sample value to 1e-9 (so the
definitions agree exactly), and a 95% interval that covers the planted expectation.

The study is the one the session's ``demo_run`` wrote (``demo_study`` in conftest.py), read in
that run's project home (``in_demo_home``) so its clean tables are not made again; the KPIs are
computed here from them, read only."""
from __future__ import annotations

import json

import pandas as pd
import yaml
import pytest

from cxlab.objectives import (build_hypotheses, compute_kpi, kpi_estimate, kpi_trend, objectives_table,
                              register_hypotheses)

pytestmark = pytest.mark.slow


@pytest.fixture
def demo(demo_study, in_demo_home):
    return demo_study, json.loads((demo_study / "truth.json").read_text())


def test_kpis_match_the_planted_rates(demo):
    folder, truth = demo
    assert set(truth["kpis"]) == {"conversion_rate", "repeat_purchase_rate", "nps", "csat_mean", "ces_mean"}
    # truth.json plants the repeat rate over the whole log ("a second order before the end"), whose
    # follow-up differs by customer; the KPI follows each new buyer 90 days (see the next test)
    for name, planted in truth["kpis"].items():
        if name == "repeat_purchase_rate":
            continue
        est = kpi_estimate(folder, name)
        assert est.n == planted["n"], name
        assert est.estimate == pytest.approx(planted["sample"], abs=1e-8), name
        assert est.covers(planted["expected"]), f"{name}: {est.summary()} misses {planted['expected']}"


def test_repeat_purchase_rate_follows_each_new_buyer_90_days(demo):
    """Counted again in pandas from the raw log: customers whose first order is followed 90 days
    before the log is observed to its last day; repeat = a later order within those 90 days."""
    folder, truth = demo
    study = yaml.safe_load((folder / "study.yaml").read_text())
    events = pd.read_parquet(folder / "events.parquet")
    orders = events[events["touchpoint"].isin(study["goal_touchpoints"])][["customer_id", "timestamp"]]
    first = orders.groupby("customer_id")["timestamp"].min().rename("first")
    joined = orders.join(first, on="customer_id")
    gap = joined["timestamp"] - joined["first"]
    repeaters = set(joined.loc[(gap > pd.Timedelta(0)) & (gap <= pd.Timedelta(days=90)), "customer_id"])
    observed_until = events["timestamp"].max().normalize() + pd.Timedelta(days=1)
    followed = first[first + pd.Timedelta(days=90) <= observed_until]
    est = kpi_estimate(folder, "repeat_purchase_rate")
    assert est.n == len(followed)
    assert est.estimate == pytest.approx(followed.index.isin(repeaters).mean(), abs=1e-12)
    # the same population every month: flat, where the old "ordered twice in the window" rose
    trend = kpi_trend(folder, "repeat_purchase_rate", "month").table
    complete = trend[trend["period"] < pd.Timestamp("2025-10-01")]
    assert complete["estimate"].max() - complete["estimate"].min() < 0.05


def test_grouped_by_region_and_window_matches_the_planted_cells(demo):
    folder, truth = demo
    date = pd.Timestamp(truth["period"]["intervention_date"])
    cells = truth["intervention"]["conversion_rate"]["cells"]
    pre = compute_kpi(folder, "conversion_rate", end=date - pd.Timedelta(days=1), by="region").set_index("region")
    post = compute_kpi(folder, "conversion_rate", start=date, by="region").set_index("region")
    for region in ("North", "South", "East", "West"):
        for frame, when in ((pre, "pre"), (post, "post")):
            cell = cells[f"{region}_{when}"]
            assert frame.loc[region, "n"] == cell["n"]
            assert frame.loc[region, "estimate"] == pytest.approx(cell["sample"], abs=1e-8)
    csat = truth["intervention"]["csat_mean"]["cells"]["North_post"]
    north = compute_kpi(folder, "csat_mean", start=date, by="region").set_index("region").loc["North"]
    assert north["n"] == csat["n"] and north["estimate"] == pytest.approx(csat["sample"], abs=1e-8)
    # a monthly trend is the same units split by month: its n adds up to the whole
    trend = kpi_trend(folder, "conversion_rate", "month").table
    assert trend["n"].sum() == truth["kpis"]["conversion_rate"]["n"]


def test_demo_objectives_and_hypotheses(demo):
    folder, truth = demo
    table = objectives_table(folder).table.set_index("id")
    assert list(table.index) == ["grow_conversion", "raise_csat", "raise_nps", "reduce_churn", "grow_repeat"]
    assert table.loc["grow_conversion", "current_start"] == pd.Timestamp(truth["period"]["intervention_date"])
    # one current period for every objective: Jul-Sep, the latest quarter the 90-day repeat horizon has followed
    assert set(table["current_is"]) == {"the latest 3 complete months in which every objective's KPI is fully followed"}
    assert set(zip(table["current_start"], table["current_end"])) == {(pd.Timestamp("2025-07-01"), pd.Timestamp("2025-09-30"))}
    assert table.loc["reduce_churn", "direction"] == "decrease"
    # new buyers of July-September are the latest followed 90 days; the baseline's were as loyal
    repeat = table.loc["grow_repeat"]
    assert (repeat["current_start"], repeat["current_end"]) == (pd.Timestamp("2025-07-01"), pd.Timestamp("2025-09-30"))
    assert repeat["movement"] == "no clear change" and repeat["status"] != "target met"
    # the demo's targets are due half a year after the log ends: each status follows its projection
    assert set(table["target_date"]) == {pd.Timestamp("2026-06-30")}
    for _, r in table[table["status"] != "target met"].iterrows():
        reaches = r["projected"] <= r["target"] if r["direction"] == "decrease" else r["projected"] >= r["target"]
        assert (r["status"] == "on track") == bool(reaches), r["id"] if "id" in r else r.name
    hyps = build_hypotheses(folder)
    assert [(h["kpi"], h["role"], h["min_effect"], h["design"]) for h in hyps] == [
        ("conversion_rate", "primary", 0.02, "did"), ("csat_mean", "primary", 0.1, "did")]
    assert register_hypotheses(folder)["hypotheses"][0]["treated"] == {"column": "region", "values": ["North"]}
