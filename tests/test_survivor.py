"""The survivor trap (issue 14): a KPI compares the same population, followed equally long, in
every period.

The planted log: 3,600 customers make a first order spread evenly over 2024 (the log ends
31 Dec 2024). Exactly the same rule holds for every one of them, whenever they arrive: with
probability 0.40 a second order follows 1–89 days after the first (and such a customer goes on
buying every 25–35 days to the end of the log); otherwise no order follows within 90 days, and
30% of those come back once, 120–300 days after their first order. So the true repeat purchase
rate within 90 days is 40% in every period.

The old definition (share of the customers who ordered in a quarter who ordered at least twice
in it) counts, later in the year, the loyal customers still buying, and rises far above 40%
(the baseline-against-now comparison then says "target met"); "did they ever order again by
the end of the log" falls for the last cohorts, who had less time. Both are computed here in
pandas, from the planted log. The new definition — new buyers of the period, each followed
90 days, incomplete cohorts left out — is 40% within its interval in every quarter.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from cxlab.kpis import censoring_note, complete_until, compute_kpi
from cxlab.objectives import objectives_table

TRUE_RATE = 0.40
HORIZON = 90
LOG_END = pd.Timestamp("2024-12-31 23:00")
OBSERVED_UNTIL = pd.Timestamp("2025-01-01")  # the log covers whole days


def _planted_log(seed: int = 14, customers: int = 3600) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The orders of the planted log, and one row per customer: first order and whether the
    planted rule gave a second order within 90 days."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    first = start + pd.to_timedelta(rng.uniform(0, 365, customers), unit="D")
    repeater = rng.random(customers) < TRUE_RATE
    late = ~repeater & (rng.random(customers) < 0.30)
    rows = []
    for i in range(customers):
        cid = f"c{i:05d}"
        t = first[i]
        rows.append((cid, t))
        if repeater[i]:
            t = t + pd.Timedelta(days=rng.uniform(1, 89))
            while t <= LOG_END:
                rows.append((cid, t))
                t = t + pd.Timedelta(days=rng.uniform(25, 35))
        elif late[i]:
            t = t + pd.Timedelta(days=rng.uniform(120, 300))
            if t <= LOG_END:
                rows.append((cid, t))
    orders = pd.DataFrame(rows, columns=["customer_id", "timestamp"]).sort_values("timestamp")
    orders = orders[orders["timestamp"] <= LOG_END]
    # the last event of the log fixes its end (23:00 on 31 Dec)
    orders = pd.concat([orders, pd.DataFrame({"customer_id": ["zz_last"], "timestamp": [LOG_END]})])
    truth = pd.DataFrame({"customer_id": [f"c{i:05d}" for i in range(customers)], "first": first,
                          "repeater": repeater})
    return orders, truth


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    from conftest import write_study

    orders, truth = _planted_log()
    events = orders.assign(timestamp=orders["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S"), touchpoint="buy",
                           revenue=10.0)
    folder = write_study(
        tmp_path_factory.mktemp("raw") / "survivor", events=events,
        objectives=[{"id": "grow_repeat", "goal": "More buyers come back", "kpi": "repeat_purchase_rate",
                     "baseline": {"start": "2024-01-01", "end": "2024-03-31"}, "target": {"relative": 0.10}}],
    )
    return folder, orders, truth


def _old_definition(orders: pd.DataFrame) -> pd.DataFrame:
    """The old KPI per quarter: of the customers who ordered in the quarter, the share who
    ordered at least twice in it."""
    o = orders[orders["customer_id"] != "zz_last"]
    per = o.groupby([o["timestamp"].dt.to_period("Q"), "customer_id"]).size().rename("orders").reset_index()
    out = per.groupby("timestamp")["orders"].agg(n="size", repeat=lambda s: int((s >= 2).sum()))
    out["rate"] = out["repeat"] / out["n"]
    return out


def _ever_again(orders: pd.DataFrame) -> pd.Series:
    """Share of each quarter's new buyers who ordered again at any time before the log ends."""
    o = orders[orders["customer_id"] != "zz_last"]
    counts = o.groupby("customer_id").agg(first=("timestamp", "min"), orders=("timestamp", "size"))
    return (counts["orders"] >= 2).groupby(counts["first"].dt.to_period("Q")).mean()


def test_the_old_definitions_move_while_the_true_rate_stands_still(planted):
    _, orders, _ = planted
    old = _old_definition(orders)
    q1, q4 = old.iloc[0], old.iloc[-1]
    # survivors: by the end of the year most customers ordering are loyal ones -> far above 40%
    lo_q4, _ = proportion_confint(q4["repeat"], q4["n"], method="wilson")
    assert q1["rate"] < 0.35 and lo_q4 > 0.55
    assert q4["rate"] >= 1.10 * q1["rate"]  # the old objective would say "target met" (+10%)
    # shorter follow-up: the last cohorts have had less time to come back
    ever = _ever_again(orders)
    assert ever.iloc[0] > 0.50 and ever.iloc[-1] < 0.40


def test_the_new_definition_is_the_planted_rate_in_every_period(planted):
    folder, orders, truth = planted
    trend = compute_kpi(folder, "repeat_purchase_rate", freq="quarter").set_index("period")
    # cohorts of Q1-Q3 are complete (a first order by 2 Oct is followed 90 days before 1 Jan)
    assert complete_until(folder, "repeat_purchase_rate") == pd.Timestamp("2024-10-02")
    for quarter in ("2024-01-01", "2024-04-01", "2024-07-01"):
        row = trend.loc[pd.Timestamp(quarter)]
        assert row["ci_low"] <= TRUE_RATE <= row["ci_high"], (quarter, row["estimate"])
    # the same units as an independent count from the planted truth: every customer whose 90 days
    # end by 1 Jan, repeat = the planted rule; Q4 holds only the first orders of 1-2 Oct
    followed = truth[truth["first"] + pd.Timedelta(days=HORIZON) <= OBSERVED_UNTIL]
    by_quarter = followed.groupby(followed["first"].dt.to_period("Q"))["repeater"].agg(["size", "mean"])
    assert list(trend["n"]) == list(by_quarter["size"])
    assert list(trend["estimate"]) == pytest.approx(list(by_quarter["mean"]), abs=1e-12)
    whole = compute_kpi(folder, "repeat_purchase_rate").iloc[0]
    assert whole["n"] == len(followed) and whole["ci_low"] <= TRUE_RATE <= whole["ci_high"]
    assert "first order is after 2 Oct 2024 are left out" in censoring_note(folder, "repeat_purchase_rate")


def test_the_objective_no_longer_reports_a_survivor_gain(planted):
    folder, _, _ = planted
    row = objectives_table(folder).table.iloc[0]
    # the current period is the latest complete quarter of cohorts (Jul-Sep: October's are not followed 90 days)
    assert (row["current_start"], row["current_end"]) == (pd.Timestamp("2024-07-01"), pd.Timestamp("2024-09-30"))
    assert row["status"] != "target met" and row["movement"] == "no clear change"
    assert row["change_ci_low"] <= 0 <= row["change_ci_high"]
