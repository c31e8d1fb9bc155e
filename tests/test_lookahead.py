"""No look-ahead in the inventory's conversion comparison (cxlab.inventory, issue 14): a touch
counts only when it came before the customer's outcome was decided — before their first goal
event, or inside their conversion window when they did not convert — and a goal touchpoint is
never compared with itself. Every expected number is counted by hand in the comments; the
Wilson intervals are checked against statsmodels on the same counts.

The tiny studies use the catalog of tests/conftest.py (ad, view, cart, pay_error, buy = the
goal, call on the call_centre channel, review); rows tying on time keep the order given (seq).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from conftest import log
from cxlab import touchpoints as tp
from cxlab.errors import ParameterError
from cxlab.inventory import EVERYONE_NOTE, GOAL_NOTE, NOT_BEFORE_NOTE
from cxlab.stats import two_proportions


def _rows(inv) -> pd.DataFrame:
    return inv.table.set_index(inv.by)


# ----------------------------------------------------------------------------- the docstring's example
def test_the_module_docstrings_worked_example(make_study):
    study = make_study(conversion_window_days=30, events=log(
        ("A", "2025-01-01 10:00", "view"), ("A", "2025-01-03 10:00", "buy", 10.0),
        ("A", "2025-01-10 10:00", "review"),
        ("B", "2025-01-01 10:00", "view"),
        ("C", "2025-01-01 10:00", "view"), ("C", "2025-02-15 10:00", "buy", 10.0),  # 45 days: too late
        ("D", "2025-01-02 10:00", "ad"), ("D", "2025-01-04 10:00", "buy", 10.0),
    ))
    inv = tp.inventory(study)
    t = _rows(inv)
    # the log ends on 15 Feb: every 30-day window (ending 31 Jan, 1 Feb) is observed
    assert (inv.window_days, inv.compared, inv.compared_converted) == (30.0, 4, 2)  # A and D convert
    assert (inv.customers, inv.converted) == (4, 3)  # C reached the goal, but after the window
    # view: A, B, C touched it (A converts) against D (converts)
    assert t.loc["view", ["touched_before_outcome", "converted_touched"]].tolist() == [3, 1]
    assert (t.loc["view", "conv_touched"], t.loc["view", "conv_untouched"]) == (pytest.approx(1 / 3), 1.0)
    assert t.loc["view", "conv_difference"] == pytest.approx(-2 / 3)
    assert t.loc["ad", "conv_difference"] == pytest.approx(1 - 1 / 3)
    # review: only after A's purchase; buy: the goal
    assert t.loc["review", "touched_before_outcome"] == 0 and t.loc["review", "lift_note"] == NOT_BEFORE_NOTE
    assert t.loc["buy", "lift_note"] == GOAL_NOTE
    for key in ("review", "buy"):
        assert t.loc[key, ["conv_touched", "conv_untouched", "conv_difference", "p_value"]].isna().all()
    assert set(inv.lift_estimates()["label"]) == {
        "conversion, touched view before the outcome minus not", "conversion, touched ad before the outcome minus not"}


# ----------------------------------------------------------------------------- planted effect and look-ahead
def planted_log() -> pd.DataFrame:
    """40 customers. T (t00-t19): ad, then view 30 min later; 12 of them buy the next day and
    write a review two days after that. U (u00-u19): ad only; 6 of them buy the next day and
    review two days later, and 4 of those 6 view a product the day after buying (look-ahead)."""
    rows = []
    for i in range(20):
        c = f"t{i:02d}"
        rows += [(c, "2025-01-01 10:00", "ad"), (c, "2025-01-01 10:30", "view")]
        if i < 12:
            rows += [(c, "2025-01-02 10:00", "buy", 10.0), (c, "2025-01-04 10:00", "review")]
    for i in range(20):
        c = f"u{i:02d}"
        rows += [(c, "2025-01-01 10:00", "ad")]
        if i < 6:
            rows += [(c, "2025-01-02 10:00", "buy", 10.0)]
            if i < 4:
                rows += [(c, "2025-01-03 10:00", "view")]
            rows += [(c, "2025-01-04 10:00", "review")]
    return log(*rows)


def test_post_purchase_touchpoint_has_no_lift_and_a_planted_difference_is_recovered(make_study):
    # no window: every purchase comes a day after the first touch, and nobody is left out
    study = make_study(events=planted_log(), conversion_window_days=None)
    inv = tp.inventory(study)
    t = _rows(inv)
    assert (inv.window_days, inv.compared, inv.compared_converted) == (None, 40, 18)
    # view before the outcome: the 20 of T (12 buy) against the 20 of U (6 buy); the 4 of U who
    # viewed only after buying stay in the untouched group. Counting every touch, as before the
    # fix, gave 16 of 24 against 2 of 16 (+54 points)
    view = t.loc["view"]
    assert (view.customers, view.touched_before_outcome, view.converted_touched) == (24, 20, 12)
    assert (view.conv_touched, view.conv_untouched) == (pytest.approx(12 / 20), pytest.approx(6 / 20))
    assert view.conv_difference == pytest.approx(0.30)
    lo, hi = proportion_confint(12, 20, method="wilson")
    assert (view.conv_touched_ci_low, view.conv_touched_ci_high) == (pytest.approx(lo), pytest.approx(hi))
    # the interval and test of the difference are cxlab.stats.two_proportions' on these counts
    # (validated against statsmodels in its own tests)
    ref = two_proportions(12, 20, 6, 20)
    assert (view.difference_ci_low, view.difference_ci_high, view.p_value) == (
        pytest.approx(ref.ci_low), pytest.approx(ref.ci_high), pytest.approx(ref.p_value))
    assert ref.ci_low < 0.30 < ref.ci_high
    # review comes only after the purchase: no comparison (before the fix: 18 of 18 against 0 of 22, +100 points)
    review = t.loc["review"]
    assert (review.customers, review.touched_before_outcome) == (18, 0)
    assert np.isnan(review.conv_difference) and review.lift_note == NOT_BEFORE_NOTE
    # every customer saw the ad first: nobody to compare with
    assert t.loc["ad", "lift_note"] == EVERYONE_NOTE and np.isnan(t.loc["ad", "conv_difference"])


# ----------------------------------------------------------------------------- the window
def window_log() -> pd.DataFrame:
    # window 2 days; w1-w6 start on 1 Jan 10:00, so their windows close on 3 Jan 10:00
    return log(
        ("w1", "2025-01-01 10:00", "ad"), ("w1", "2025-01-02 09:00", "view"), ("w1", "2025-01-02 10:00", "buy", 5.0),
        ("w1", "2025-01-02 11:00", "call"),                 # a call after the purchase: not a touch
        ("w2", "2025-01-01 10:00", "ad"), ("w2", "2025-01-04 10:00", "view"),  # view after the window
        ("w2", "2025-01-05 10:00", "buy", 5.0),              # buys after the window: not converted
        ("w3", "2025-01-01 10:00", "ad"), ("w3", "2025-01-03 10:00", "view"),  # at the window's end: counts
        ("w4", "2025-01-01 10:00", "ad"), ("w4", "2025-01-01 12:00", "buy", 5.0),
        ("w4", "2025-01-01 12:00", "view"),                  # same second as the purchase, recorded after it
        ("w5", "2025-01-01 10:00", "ad"), ("w5", "2025-01-01 11:00", "view"), ("w5", "2025-01-01 11:30", "call"),
        ("w6", "2025-01-01 10:00", "ad"), ("w6", "2025-01-01 15:00", "buy", 5.0),
        ("edge", "2025-01-07 23:00", "ad"),                  # window closes 9 Jan 23:00, inside the log
        ("late", "2025-01-09 10:00", "ad"), ("late", "2025-01-09 11:00", "view"),  # the log's last event
    )


def test_the_window_decides_who_converts_which_touches_count_and_who_is_compared(make_study):
    study = make_study(events=window_log(), conversion_window_days=2)
    inv = tp.inventory(study)  # the study's window
    t = _rows(inv)
    # observed until 10 Jan 00:00: late's window (to 11 Jan 10:00) is not over -> left out
    assert (inv.window_days, inv.customers, inv.converted) == (2.0, 8, 4)
    assert (inv.compared, inv.compared_converted) == (7, 3)  # w1, w4, w6 buy within 2 days
    # view before the outcome: w1 (buys), w3, w5 -> 1/3; not: w2, w4, w6, edge -> 2/4
    assert t.loc["view", ["touched_before_outcome", "converted_touched"]].tolist() == [3, 1]
    assert (t.loc["view", "conv_touched"], t.loc["view", "conv_untouched"]) == (pytest.approx(1 / 3), 0.5)
    # call before the outcome: w5 only (w1's came after buying) -> 0/1 against 3/6
    assert (t.loc["call", "conv_touched"], t.loc["call", "conv_untouched"]) == (0.0, 0.5)
    assert t.loc["ad", "lift_note"] == EVERYONE_NOTE
    # by channel the same rule: call_centre is w5's call only; every customer compared was on the web
    ch = _rows(tp.inventory(study, by="channel"))
    assert ch.loc["call_centre", ["customers", "touched_before_outcome", "converted_touched"]].tolist() == [2, 1, 0]
    assert ch.loc["call_centre", "conv_untouched"] == 0.5 and ch.loc["web", "lift_note"] == EVERYONE_NOTE

    # no window: everyone is compared; converted = ever reached the goal (w1, w2, w4, w6)
    free = tp.inventory(study, window_days=None)
    f = _rows(free)
    assert (free.compared, free.compared_converted) == (8, 4)
    # view before the first purchase: w1, w2, w3, w5, late (w1, w2 buy) -> 2/5; not: w4, w6, edge -> 2/3
    assert f.loc["view", ["touched_before_outcome", "converted_touched"]].tolist() == [5, 2]
    assert f.loc["view", "conv_difference"] == pytest.approx(2 / 5 - 2 / 3)


def test_the_touchpoint_stage_uses_its_window_for_the_comparison(make_study):
    study = make_study(events=window_log(), conversion_window_days=2)
    result = tp.analyze(study, conversion_window_days=None)
    assert result.window_days is None and result.inventory.window_days is None
    pd.testing.assert_frame_equal(result.inventory.table, tp.inventory(study, window_days=None).table)
    assert tp.analyze(study).inventory.compared == 7  # the study's 2 days


def test_one_segments_customers_are_observed_until_the_end_of_the_whole_log(make_study):
    study = make_study(events=window_log(), conversion_window_days=2)
    segments = pd.DataFrame({"customer_id": ["w1", "w2", "w3", "w4", "w5", "w6", "edge", "late"],
                             "segment": ["early"] * 7 + ["last"]})
    early = tp.inventory(tp.for_segment(study, "early", segments))
    # the segment's own last event is edge's (7 Jan), but the log runs to 9 Jan: edge's window
    # (to 9 Jan 23:00) is observed, so all 7 are compared, as in the whole log
    assert (early.compared, early.compared_converted) == (7, 3)
    assert _rows(early).loc["view", "conv_touched"] == pytest.approx(1 / 3)


def test_a_window_that_is_not_a_positive_number_is_refused(make_study):
    study = make_study(events=window_log())
    for bad in (0, -1, "30", True):
        with pytest.raises(ParameterError, match="window_days"):
            tp.inventory(study, window_days=bad)


# ----------------------------------------------------------------------------- goals in the register
def test_a_goal_touchpoint_is_never_ranked_as_a_pain_point(make_study):
    from cxlab import data
    from cxlab.painpoints import build_register, friction_signals

    rows = []
    for i in range(40):
        c = f"c{i:02d}"
        rows += [(c, "2025-01-01 10:00", "ad"), (c, "2025-01-01 10:05", "view")]
        if i < 20:  # every purchase is followed by a call within a day: support contacts after buy
            rows += [(c, "2025-01-01 10:10", "buy", 10.0), (c, "2025-01-02 09:00", "call")]
    study = data.ensure_clean(make_study(events=log(*rows), conversion_window_days=None))
    friction = friction_signals(study)
    by_tp = friction.by_touchpoint.set_index("touchpoint")
    # by the register's formula buy harms: all 20 buys are followed by a support contact, against
    # 60 of the 100 events at non-support touchpoints (ad 20/40, view 20/40, buy 20/20)
    assert by_tp.loc["buy", "contact_rate"] == 1.0 and by_tp.loc["buy", "is_goal"]
    base = by_tp.loc[["ad", "view", "buy"], "contacts_after"].sum() / by_tp.loc[["ad", "view", "buy"], "events"].sum()
    assert base == pytest.approx(0.6)  # so buy's extra support contacts are 0.4 of its 20 customers
    reg = build_register(study, friction, min_customers=5)
    assert "buy" not in set(reg.table.touchpoint)
    assert set(reg.table.touchpoint) <= {"ad", "view", "call"}


def test_conversion_units_are_the_customers_behind_the_comparison(make_study):
    from cxlab.inventory import conversion_units

    study = make_study(events=window_log(), conversion_window_days=2)
    customers, pairs = conversion_units(study)
    c = customers.set_index("customer_id")
    assert c.loc["late", "compared"] == False and c[["compared", "converted"]].sum().tolist() == [7, 3]  # noqa: E712
    early = pairs.merge(customers, on="customer_id")
    early = early[early.early & early.compared]
    # the view rows: w1, w3, w5 touched it before their outcome (w1 converted), as in the inventory
    assert sorted(early.loc[early.touchpoint == "view", "customer_id"]) == ["w1", "w3", "w5"]
    t = _rows(tp.inventory(study))
    counted = early.groupby("touchpoint").agg(n=("customer_id", "size"), k=("converted", "sum"))
    for key in ("ad", "view", "call"):
        assert [counted.loc[key, "n"], counted.loc[key, "k"]] == t.loc[key, ["touched_before_outcome",
                                                                              "converted_touched"]].tolist()
