"""Retention by cohort and lifecycle states on a hand-made log whose tables are worked out by
hand below; the recurring period-1 retention is the retention_rate KPI."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from conftest import WORKED_LOG, log
from cxlab.errors import ParameterError
from cxlab.objectives import compute_kpi, lifecycle, retention_table

# active months (any touchpoint): a Jan Feb; b Jan Mar; c Feb; e Apr; f Apr; d May.
# The log ends 30 May, so May is incomplete and left out; April is the last complete month.
# orders: a Jan Feb; b Mar; c Feb; e Apr; f Apr.
EVENTS = log(*WORKED_LOG)  # conftest: the worked log, hand-counted


@pytest.fixture
def study(make_study):
    return make_study(events=EVENTS)


def _grid(table) -> dict:
    g = table.pivot().drop(columns="customers")
    return {row: [None if np.isnan(v) else round(v, 4) for v in g.loc[row]] for row in g.index}


def test_first_time_retention_by_month_of_first_touch(study):
    r = retention_table(study, "month")
    # Jan cohort {a, b}: month 1 a, month 2 b, month 3 (April) nobody; Feb {c}; Apr {e, f}
    assert _grid(r) == {"Jan 2025": [1.0, 0.5, 0.5, 0.0], "Feb 2025": [1.0, 0.0, 0.0, None],
                        "Apr 2025": [1.0, None, None, None]}
    assert r.pivot()["customers"].to_dict() == {"Jan 2025": 2, "Feb 2025": 1, "Apr 2025": 2}
    cell = r.table.query("cohort_label == 'Jan 2025' and period == 1").iloc[0]
    lo, hi = proportion_confint(1, 2, method="wilson")
    assert (cell["ci_low"], cell["ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
    curve = r.curve().set_index("period")
    assert curve.loc[1, "retention"] == pytest.approx(1 / 3)  # (1 + 0) of (2 + 1): April's cohort not yet at month 1
    assert curve.loc[1, "customers"] == 3


def test_unbounded_retention_counts_any_later_activity(study):
    r = retention_table(study, "month", unbounded=True, max_periods=3)
    assert _grid(r)["Jan 2025"] == [1.0, 1.0, 0.5, 0.0]  # b, seen again in March, counts as retained in February


def test_unbounded_retention_follows_every_cohort_equally_long(study):
    """Survivor trap: Feb's cohort (c) has two later months in the log, Jan's three; "active
    later" would mean more for the older cohort. With two periods, Jan and Feb are both followed
    through their month 2 (Jan: a in Feb, b in Mar -> 1.0, 0.5 at months 1, 2; Feb: c never again)
    and April's cohort, not yet observed for two months, is left out with a note."""
    r = retention_table(study, "month", unbounded=True, max_periods=2)
    assert _grid(r) == {"Jan 2025": [1.0, 1.0, 0.5], "Feb 2025": [1.0, 0.0, 0.0]}
    assert "observed for 2 whole months" in r.note and "Feb 2025" in r.note
    with pytest.raises(ParameterError, match="lower max_periods"):
        retention_table(study, "month", unbounded=True, max_periods=4)


def test_recurring_retention_period_one_is_the_retention_kpi(study):
    r = retention_table(study, "month", mode="recurring")
    assert _grid(r) == {"Jan 2025": [1.0, 0.5, 0.5, 0.0], "Feb 2025": [1.0, 0.0, 0.0, None],
                        "Mar 2025": [1.0, 0.0, None, None], "Apr 2025": [1.0, None, None, None]}
    one = r.curve().set_index("period").loc[1]
    kpi = compute_kpi(study, "retention_rate").iloc[0]
    assert one["active"] / one["customers"] == pytest.approx(kpi["estimate"]) == pytest.approx(0.2)


def test_cohorts_by_first_purchase_with_purchase_activity(study):
    r = retention_table(study, "month", cohort_by="first_purchase", activity="purchase")
    assert _grid(r) == {"Jan 2025": [1.0, 1.0, 0.0, 0.0], "Feb 2025": [1.0, 0.0, 0.0, None],
                        "Mar 2025": [1.0, 0.0, None, None], "Apr 2025": [1.0, None, None, None]}


def test_weekly_cohorts_start_on_monday(study):
    r = retention_table(study, "week", max_periods=2)
    assert r.table["cohort"].dt.dayofweek.eq(0).all()
    assert r.table["cohort"].min() == pd.Timestamp("2024-12-30")  # 1 Jan 2025 was a Wednesday


def test_lifecycle_states_per_month(study):
    lc = lifecycle(study, "month").table.set_index(lifecycle(study, "month").table["period"].dt.month)
    # Jan: a, b new. Feb: c new, a returning, b dormant. Mar: b resurrected, a and c dormant.
    # Apr: e, f new; b dormant. (May is incomplete.)
    expected = {1: (2, 0, 0, 0), 2: (1, 1, 0, 1), 3: (0, 0, 1, 2), 4: (2, 0, 0, 1)}
    got = {m: tuple(int(lc.loc[m, c]) for c in ("new", "returning", "resurrected", "dormant")) for m in lc.index}
    assert got == expected
    assert lc.loc[4, "quick_ratio"] == 2.0 and lc.loc[4, "active"] == 2


def test_plots_return_axes(study):
    r = retention_table(study)
    assert r.plot().get_xlabel() == "months since start"
    assert r.plot(kind="heatmap") is not None
    assert lifecycle(study).plot().get_ylabel() == "customers"
    assert "First-time retention" in r.summary()


def test_bad_settings_are_user_errors(study):
    with pytest.raises(ParameterError, match="week or month"):
        retention_table(study, "year")
    with pytest.raises(ParameterError, match="first_touch or first_purchase"):
        retention_table(study, cohort_by="signup")
    with pytest.raises(ParameterError, match="activity"):
        lifecycle(study, activity="login")
