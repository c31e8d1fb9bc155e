"""cxlab.touchpoints on small hand-made logs whose answers are worked out by hand in the
comments, and on a small synthetic study against its planted truth (truth.json).

The tiny studies use the catalog of tests/conftest.py: ad (awareness), view (consideration),
cart, pay_error, buy (purchase; buy is the goal), call (service), review (loyalty). Timestamps
that tie are ordered by their row in the file (seq); rows are written in the order given.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from conftest import CATALOG, STAGES, log
from cxlab import engine
from cxlab import touchpoints as tp
from cxlab.errors import ParameterError
from cxlab.impact import two_proportions

H = 1.0  # one hour, in the hours the tables report
D = 1.0  # one day, in the days the tables report


# ----------------------------------------------------------------------------- the main log
def main_log() -> pd.DataFrame:
    # c1: view and ad share 10:00; view is recorded first, so the journey is
    #     view(1) ad(2) cart(3) buy(4) review(5); converted.
    # c2: ad(1) view(2) cart(3) pay_error(4); never buys: the journey ends at pay_error.
    # c3: view(1) mystery(2, not in the catalog) view(3); ends at view without the goal.
    # c4: ad(1); ends at ad without the goal.
    # c5: cart(1) pay_error(2) buy(3); converted after a payment error.
    return log(
        ("c1", "2025-01-01 10:00", "view"),
        ("c1", "2025-01-01 10:00", "ad"),
        ("c1", "2025-01-01 12:00", "cart"),
        ("c1", "2025-01-02 12:00", "buy", 50.0),
        ("c1", "2025-01-05 12:00", "review"),
        ("c2", "2025-01-01 09:00", "ad"),
        ("c2", "2025-01-01 10:00", "view"),
        ("c2", "2025-01-01 11:00", "cart"),
        ("c2", "2025-01-01 11:05", "pay_error"),
        ("c3", "2025-01-02 08:00", "view"),
        ("c3", "2025-01-02 09:00", "mystery"),
        ("c3", "2025-01-03 09:00", "view"),
        ("c4", "2025-01-03 10:00", "ad"),
        ("c5", "2025-01-04 10:00", "cart"),
        ("c5", "2025-01-04 10:10", "pay_error"),
        ("c5", "2025-01-04 10:20", "buy", 20.0),
    )


@pytest.fixture
def main_study(make_study):
    return make_study(events=main_log())


# ----------------------------------------------------------------------------- inventory
def test_inventory_counts_positions_and_gaps_by_hand(main_study):
    inv = tp.inventory(main_study)
    t = inv.table.set_index("touchpoint")
    assert (inv.customers, inv.converted) == (5, 2)  # c1 and c5 bought
    # ad: c1 (position 2, next 2 h later), c2 (position 1, next 1 h), c4 (position 1, last)
    ad = t.loc["ad"]
    assert (ad.events, ad.customers, ad.reach) == (3, 3, 0.6)
    assert ad.median_position == 1.0  # median of 2, 1, 1
    assert ad.median_hours_to_next == pytest.approx(1.5 * H)  # median of 2 h and 1 h
    # view: c1 pos 1 (tie with ad, recorded first; next after 0 h), c2 pos 2 (1 h),
    # c3 pos 1 (1 h) and pos 3 (last) -> 4 events, 3 customers
    view = t.loc["view"]
    assert (view.events, view.customers) == (4, 3)
    assert view.events_per_customer == pytest.approx(4 / 3)
    assert view.median_position == 1.5  # median of 1, 2, 1, 3
    assert view.median_hours_to_next == pytest.approx(1.0 * H)  # median of 0, 1, 1
    # cart: positions 3, 3, 1; next after 24 h, 5 min, 10 min -> median 10 min
    assert t.loc["cart", "median_position"] == 3.0
    assert t.loc["cart", "median_hours_to_next"] == pytest.approx(10 / 60)
    # buy: positions 4 and 3; only c1 has a next event (review, 72 h later)
    assert t.loc["buy", "median_position"] == 3.5
    assert t.loc["buy", "median_hours_to_next"] == pytest.approx(72.0)
    assert np.isnan(t.loc["review", "median_hours_to_next"])


def test_inventory_journey_ends_and_dropoff_by_hand(main_study):
    t = tp.inventory(main_study).table.set_index("touchpoint")
    # journeys ending without the goal: c2 at pay_error, c3 at view, c4 at ad (3 drop-offs)
    ends = t["journey_ends"]
    assert ends.to_dict() == {"ad": 1, "view": 1, "cart": 0, "pay_error": 1, "buy": 0, "call": 0,
                              "review": 0, "mystery": 0}
    assert t.loc["pay_error", "dropoff_rate"] == 0.5  # 1 of the 2 customers reaching it (c2, c5)
    assert t.loc["ad", "dropoff_rate"] == pytest.approx(1 / 3)
    assert t.loc["view", "share_of_dropoffs"] == pytest.approx(1 / 3)
    assert tp.inventory(main_study).largest_dropoff()["touchpoint"] == "pay_error"


def test_inventory_conversion_touched_versus_untouched(main_study):
    # no conversion window: the log spans five days, so with the study's 30-day window every
    # customer's window runs past its end and nobody would be compared (censored, as for the KPI)
    inv = tp.inventory(main_study, window_days=None)
    t = inv.table.set_index("touchpoint")
    assert (inv.compared, inv.compared_converted) == (5, 2)
    # cart: touched by c1, c2, c5 (c1, c5 bought) -> 2/3; untouched c3, c4 -> 0/2
    cart = t.loc["cart"]
    assert (cart.conv_touched, cart.conv_untouched) == (pytest.approx(2 / 3), 0.0)
    lo, hi = proportion_confint(2, 3, method="wilson")
    assert (cart.conv_touched_ci_low, cart.conv_touched_ci_high) == (pytest.approx(lo), pytest.approx(hi))
    ref = two_proportions(2, 3, 0, 2)
    assert cart.conv_difference == pytest.approx(ref.estimate)
    assert (cart.difference_ci_low, cart.difference_ci_high, cart.p_value) == (
        pytest.approx(ref.ci_low), pytest.approx(ref.ci_high), pytest.approx(ref.p_value))
    # pay_error: touched c2, c5 (c5 bought) -> 1/2; untouched c1, c3, c4 -> 1/3
    assert t.loc["pay_error", "conv_touched"] == 0.5
    assert t.loc["pay_error", "conv_untouched"] == pytest.approx(1 / 3)
    # the differences also come as Estimates
    est = inv.lift_estimates().set_index("label")
    assert est.loc["conversion, touched cart before the outcome minus not", "estimate"] == pytest.approx(2 / 3)
    # review comes only after c1's purchase, buy is the goal: neither is compared
    assert t.loc["review", "touched_before_outcome"] == 0 and np.isnan(t.loc["review", "conv_touched"])
    assert t.loc["review", "lift_note"].startswith("no customer met it before their outcome")
    assert np.isnan(t.loc["buy", "conv_difference"]) and t.loc["buy", "lift_note"].startswith("a goal touchpoint")
    assert len(est) == 5  # ad, view, cart, pay_error, mystery


def test_inventory_lists_uncatalogued_and_never_seen(main_study):
    inv = tp.inventory(main_study)
    t = inv.table.set_index("touchpoint")
    assert inv.uncatalogued == ["mystery"]
    assert inv.never_seen == ["call"]
    assert t.loc["mystery", "stage"] == "uncatalogued"
    assert t.loc["mystery", "median_position"] == 2.0
    assert t.loc["mystery", "median_hours_to_next"] == pytest.approx(24.0)
    assert t.loc["call", "events"] == 0 and t.loc["call", "status"] == "never seen"
    # catalogued touchpoints in stage order first, uncatalogued last
    assert inv.table.touchpoint.iloc[-1] == "mystery"
    assert inv.table.touchpoint.iloc[0] == "ad"


def test_inventory_by_channel(main_study):
    inv = tp.inventory(main_study, by="channel")
    t = inv.table.set_index("channel")
    # 16 events; mystery has no channel (not in the catalog): 15 web events, 1 unknown
    assert t.loc["web", "events"] == 15 and t.loc["web", "customers"] == 5
    assert t.loc["(unknown)", "events"] == 1
    assert t.loc["call_centre", "status"] == "never seen"
    # every journey's last event is a web event; the 3 drop-offs all end on the web
    assert t.loc["web", "journey_ends"] == 3


def test_inventory_same_from_dataframe_and_ibis_table(main_study):
    from_study = tp.inventory(main_study).table
    catalog = pd.DataFrame([{"touchpoint": k, **v} for k, v in CATALOG.items()])
    catalog["stage_order"] = catalog["stage"].map(STAGES.index)
    from_frame = tp.inventory(main_log(), goals=["buy"], catalog=catalog).table
    pd.testing.assert_frame_equal(
        from_study.drop(columns="label"), from_frame.drop(columns="label"), check_dtype=False
    )
    ev = engine.events(main_study)
    from_ibis = tp.inventory(ev, goals=["buy"], catalog=catalog).table
    assert from_ibis.set_index("touchpoint")["dropoff_rate"].to_dict() == pytest.approx(
        from_study.set_index("touchpoint")["dropoff_rate"].to_dict(), nan_ok=True)


def test_inventory_needs_goals_for_a_bare_table():
    with pytest.raises(ParameterError, match="goal touchpoints"):
        tp.inventory(main_log())
    with pytest.raises(ParameterError, match="timestamp"):
        tp.inventory(main_log().drop(columns="timestamp"), goals=["buy"])
    with pytest.raises(ParameterError, match="by='stage'"):
        tp.inventory(main_log(), goals=["buy"], by="stage")


# ----------------------------------------------------------------------------- funnels
def docstring_log() -> pd.DataFrame:
    # The worked example of funnel()'s docstring (steps view -> cart -> buy, window 2 days).
    return log(
        ("a", "2025-01-01 10:00", "view"),   # window opens, closes Jan 3 10:00
        ("a", "2025-01-02 09:00", "view"),   # repeat: window not reset
        ("a", "2025-01-02 12:00", "cart"),   # step 2, 26 h after step 1
        ("a", "2025-01-03 11:00", "buy"),    # after the window
        ("b", "2025-01-01 10:00", "cart"),   # same time as the view but recorded first
        ("b", "2025-01-01 10:00", "view"),   # step 1
        ("b", "2025-01-01 12:00", "buy"),    # no cart after the view
        ("c", "2025-01-01 10:00", "view"),
        ("c", "2025-01-01 10:05", "ad"),
        ("c", "2025-01-01 10:10", "cart"),
        ("c", "2025-01-01 10:20", "buy"),    # converted after 20 minutes
    )


@pytest.fixture
def example_study(make_study):
    return make_study(name="example", events=docstring_log())


STEPS = ["view", "cart", "buy"]


def test_ordered_funnel_worked_example(example_study):
    f = tp.funnel(example_study, STEPS, window_days=2)
    assert f.table.customers.tolist() == [3, 2, 1]
    assert f.table.conversion.iloc[1:].tolist() == pytest.approx([2 / 3, 1 / 2])
    assert f.table.dropped.tolist() == [0, 1, 1]
    # view -> cart: a 26 h, c 10 min -> median (26 + 1/6) / 2
    assert f.table.median_hours_from_previous.iloc[1] == pytest.approx((26 + 1 / 6) / 2)
    assert f.table.median_hours_from_start.iloc[2] == pytest.approx(20 / 60)  # c only
    assert f.time_to_convert[["day", "customers"]].values.tolist() == [[0, 1]]
    assert f.time_to_convert_quantiles["p50"] == pytest.approx(20 / 60)
    lo, hi = proportion_confint(1, 3, method="wilson")
    conv = f.conversion()
    assert (conv.estimate, conv.ci_low, conv.ci_high) == (pytest.approx(1 / 3), pytest.approx(lo), pytest.approx(hi))


def test_ordered_funnel_without_window_counts_the_late_purchase(example_study):
    # without a window a's buy (Jan 3 11:00) counts: a and c convert
    f = tp.funnel(example_study, STEPS, window_days=None)
    assert f.table.customers.tolist() == [3, 2, 2]
    # a: Jan 1 10:00 -> Jan 3 11:00 = 2 days 1 h (day 2); c: 20 min (day 0)
    assert f.time_to_convert[["day", "customers"]].values.tolist() == [[0, 1], [2, 1]]


def test_strict_funnel_worked_example(example_study):
    # a's second view is directly followed by cart (a run may start at a repeat), its buy is
    # outside the window; b's view is followed by buy; c's view by the ad.
    f = tp.funnel(example_study, STEPS, mode="strict", window_days=2)
    assert f.table.customers.tolist() == [3, 1, 0]
    # the step-2 time counts from the window opening (first view): Jan 1 10:00 -> Jan 2 12:00
    assert f.table.median_hours_from_previous.iloc[1] == pytest.approx(26.0)


def test_any_order_funnel_worked_example(example_study):
    # window opens at the first event of any step; b: cart, view, buy; c: all three; a: no buy
    # inside the window. Step 2 reached when view and cart are both done.
    f = tp.funnel(example_study, STEPS, mode="any", window_days=2)
    assert f.table.customers.tolist() == [3, 3, 2]
    # reaching step 2: a at its cart (26 h after its first view), b at once (0 h), c after 10 min
    assert f.table.median_hours_from_start.iloc[1] == pytest.approx(10 / 60)
    # reaching step 3: b at 12:00 (2 h from its first event), c at 10:20 -> median 70 min
    assert f.table.median_hours_from_start.iloc[2] == pytest.approx((2 + 20 / 60) / 2)


def test_funnel_window_is_inclusive_to_the_second(make_study):
    # d: cart exactly 2 days after the view counts; buy one second later does not.
    events = log(
        ("d", "2025-01-01 10:00:00", "view"),
        ("d", "2025-01-03 10:00:00", "cart"),
        ("d", "2025-01-03 10:00:01", "buy"),
    )
    f = tp.funnel(make_study(events=events), STEPS, window_days=2)
    assert f.table.customers.tolist() == [1, 1, 0]


def test_funnel_exclusion_drops_the_conversion(example_study):
    # an ad between view (step 1) and cart (step 2): c's conversion to step 2 is dropped
    f = tp.funnel(example_study, STEPS, window_days=2, exclusions=[("ad", 1, 2)])
    assert f.table.customers.tolist() == [3, 1, 0]
    assert f.excluded == 1
    # the same ad does not fall between cart (step 2) and buy (step 3): nothing dropped
    f = tp.funnel(example_study, STEPS, window_days=2, exclusions=[{"touchpoint": "ad", "between": (2, 3)}])
    assert f.table.customers.tolist() == [3, 2, 1] and f.excluded == 0


def test_funnel_step_may_be_any_of_several_touchpoints(example_study):
    # step 2 = cart or ad: c reaches it at the ad (10:05), then buys -> same counts as before,
    # but c's step-2 time is 5 minutes
    f = tp.funnel(example_study, ["view", {"cart or ad": ["cart", "ad"]}, "buy"], window_days=2)
    assert f.table.label.tolist() == ["view", "cart or ad", "buy"]
    assert f.table.customers.tolist() == [3, 2, 1]
    assert f.table.median_hours_from_start.iloc[2] == pytest.approx(20 / 60)


def test_funnel_breakdown_by_segment_and_entry_channel(example_study, tmp_path):
    segments = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["x", "y", "y"]})
    f = tp.funnel(example_study, STEPS, window_days=2, by="segment", segments=segments)
    g = f.by_group.pivot(index="group", columns="step", values="customers")
    assert g.loc["x"].tolist() == [1, 1, 0]  # a
    assert g.loc["y"].tolist() == [2, 1, 1]  # b stops at step 1, c converts
    path = tmp_path / "segments.parquet"
    segments.iloc[:2].to_parquet(path)  # c has no segment
    f = tp.funnel(example_study, STEPS, window_days=2, by="segment", segments=path)
    g = f.by_group.pivot(index="group", columns="step", values="customers")
    assert g.loc["(no segment)"].tolist() == [1, 1, 1]
    f = tp.funnel(example_study, STEPS, window_days=2, by="channel")
    assert f.by_group.group.unique().tolist() == ["web"]


def test_funnel_parameter_errors(example_study):
    with pytest.raises(ParameterError, match="ordered, strict or any"):
        tp.funnel(example_study, STEPS, mode="loose")
    with pytest.raises(ParameterError, match="ordered funnels only"):
        tp.funnel(example_study, STEPS, mode="strict", exclusions=[("ad", 1, 2)])
    with pytest.raises(ParameterError, match="from_step < to_step"):
        tp.funnel(example_study, STEPS, exclusions=[("ad", 2, 2)])
    with pytest.raises(ParameterError, match="at least two steps"):
        tp.funnel(example_study, ["view"])
    with pytest.raises(ParameterError, match="positive number of days"):
        tp.funnel(example_study, STEPS, window_days=0)
    with pytest.raises(ParameterError, match="segmentation stage"):
        tp.funnel(example_study, STEPS, by="segment")


def test_stage_funnel_by_hand(main_study):
    # awareness = ad, consideration = view, purchase = cart/pay_error/buy, service = call,
    # loyalty = review. c1's only view ties with its ad but was recorded first, so no view comes
    # after c1's ad: c1 stays in awareness. c2: ad 09:00 -> view 10:00 -> cart 11:00. c4: ad.
    # c3 and c5 never see an ad and do not enter the funnel.
    f = tp.stage_funnel(main_study)
    assert f.table.label.tolist() == STAGES
    assert f.table.customers.tolist() == [3, 1, 1, 0, 0]
    assert f.table.median_hours_from_previous.iloc[1:3].tolist() == [1.0, 1.0]
    # conversions 1/3, 1/1, 0/1 and none (no one reached service): the largest drop is service
    assert f.table.conversion.iloc[1:4].tolist() == pytest.approx([1 / 3, 1.0, 0.0])
    assert f.largest_drop()["label"] == "service"


# ----------------------------------------------------------------------------- transitions
def test_transitions_with_start_and_end_by_hand(main_study):
    t = tp.transitions(main_study)
    got = {(r.source, r.target): (r.transitions, r.probability) for r in t.table.itertuples()}
    # journeys start with view (c1, c3), ad (c2, c4), cart (c5)
    assert got[("(start)", "view")] == (2, pytest.approx(0.4))
    assert got[("(start)", "cart")] == (1, pytest.approx(0.2))
    # out of view (4 steps): ad (c1), cart (c2), mystery (c3), end (c3)
    assert got[("view", "(end)")] == (1, 0.25)
    # out of cart: pay_error (c2, c5), buy (c1)
    assert got[("cart", "pay_error")] == (2, pytest.approx(2 / 3))
    assert got[("pay_error", "buy")] == (1, 0.5)
    assert sum(n for (s, _), (n, _) in got.items() if s == "(start)") == 5
    assert t.table.transitions.sum() == 16 + 5  # one step per event plus one end per journey


def test_transitions_until_goal_and_collapsed(main_study):
    t = tp.transitions(main_study, until_goal=True)
    got = {(r.source, r.target): r.transitions for r in t.table.itertuples()}
    # c1 stops at its buy (review dropped); c5 converts after pay_error
    assert got[("cart", "(conversion)")] == 1 and got[("pay_error", "(conversion)")] == 1
    assert ("buy", "review") not in got and ("review", "(end)") not in got
    # collapse: a log with view, view, cart keeps one view
    t = tp.transitions(log(("z", "2025-01-01 10:00", "view"), ("z", "2025-01-01 10:01", "view"),
                           ("z", "2025-01-01 10:02", "cart")), collapse_repeats=True, goals=["buy"])
    assert t.table[["source", "target"]].values.tolist() == [
        ["(start)", "view"], ["cart", "(end)"], ["view", "cart"]]


def test_transition_sankey_is_a_plotly_figure(main_study):
    t = tp.transitions(main_study, collapse_repeats=True, sankey_steps=3)
    assert t.paths.step.max() == 2
    # step 0: out of (start): view 2, ad 2, cart 1
    first = t.paths[t.paths.step == 0].set_index("target")["customers"].to_dict()
    assert first == {"view": 2, "ad": 2, "cart": 1}
    fig = t.sankey()
    import plotly.graph_objects as go

    assert isinstance(fig, go.Figure)
    sk = fig.data[0]
    assert "(start)" in sk.node.label
    assert sum(v for v, s in zip(sk.link.value, sk.link.source) if sk.node.label[s] == "(start)") == 5


def test_anchor_paths_by_hand(main_study):
    a = tp.anchor_paths(main_study, "pay_error", before=2, after=1)
    # c2: view, cart, [pay_error], (end); c5: (start), cart, [pay_error], buy
    assert a.journeys == 2
    pos = {(r.position, r.touchpoint): r.customers for r in a.positions.itertuples()}
    assert pos == {(-2, "(start)"): 1, (-2, "view"): 1, (-1, "cart"): 2, (0, "pay_error"): 2,
                   (1, "(end)"): 1, (1, "buy"): 1}
    assert set(map(tuple, a.paths[["-2", "-1", "pay_error", "+1"]].values.tolist())) == {
        ("view", "cart", "pay_error", "(end)"), ("(start)", "cart", "pay_error", "buy")}
    assert a.at(1).share.tolist() == [0.5, 0.5]
    assert len(a.sankey().data[0].node.label) == 6


def test_anchor_paths_first_or_every_occurrence(make_study):
    # x: ad, call, view, view, call, buy -> collapsed: ad, call, view, call, buy
    events = log(("x", "2025-01-01 10:00", "ad"), ("x", "2025-01-01 11:00", "call"),
                 ("x", "2025-01-01 12:00", "view"), ("x", "2025-01-01 13:00", "view"),
                 ("x", "2025-01-01 14:00", "call"), ("x", "2025-01-01 15:00", "buy"))
    study = make_study(events=events)
    first = tp.anchor_paths(study, "call", before=1, after=1)
    assert first.paths[["-1", "+1"]].values.tolist() == [["ad", "view"]]
    every = tp.anchor_paths(study, "call", before=1, after=1, occurrence="all")
    assert sorted(every.paths[["-1", "+1"]].values.tolist()) == [["ad", "view"], ["view", "buy"]]
    raw = tp.anchor_paths(study, "call", before=1, after=1, occurrence="all", collapse_repeats=False)
    assert sorted(raw.paths[["-1", "+1"]].values.tolist()) == [["ad", "view"], ["view", "buy"]]
    before2 = tp.anchor_paths(study, "call", before=2, after=0, occurrence="all", collapse_repeats=False)
    # second call: view, view before it when repeats are kept
    assert ["view", "view"] in before2.paths[["-2", "-1"]].values.tolist()


# ----------------------------------------------------------------------------- variants
def variants_log() -> pd.DataFrame:
    # v1: ad, view, view, cart, buy   -> before the goal: ad > view > cart; 1 day to the buy
    # v2: ad, view, cart, cart        -> ad > view > cart, no goal; 3 days first to last
    # v3: ad, view, cart, buy, review -> ad > view > cart; 2 days to the buy
    # v4: buy, review                 -> straight to the goal, 0 days
    # v5: ad                          -> ad, no goal, 0 days
    return log(
        ("v1", "2025-01-01 10:00", "ad"), ("v1", "2025-01-01 11:00", "view"),
        ("v1", "2025-01-01 12:00", "view"), ("v1", "2025-01-01 13:00", "cart"),
        ("v1", "2025-01-02 10:00", "buy"),
        ("v2", "2025-01-01 10:00", "ad"), ("v2", "2025-01-02 10:00", "view"),
        ("v2", "2025-01-03 10:00", "cart"), ("v2", "2025-01-04 10:00", "cart"),
        ("v3", "2025-01-01 10:00", "ad"), ("v3", "2025-01-01 11:00", "view"),
        ("v3", "2025-01-01 12:00", "cart"), ("v3", "2025-01-03 10:00", "buy"),
        ("v3", "2025-01-10 10:00", "review"),
        ("v4", "2025-01-05 10:00", "buy"), ("v4", "2025-01-06 10:00", "review"),
        ("v5", "2025-01-05 10:00", "ad"),
    )


def test_variants_before_the_goal_by_hand(make_study):
    v = tp.variants(make_study(events=variants_log()), top=1)
    top = v.table.iloc[0]
    assert top.variant == "ad > view > cart" and top.steps == 3
    assert (top.customers, top.converted) == (3, 2)
    assert top.conversion == pytest.approx(2 / 3)
    assert top.median_days == pytest.approx(2.0 * D)  # durations 1, 3 and 2 days
    assert (v.customers, v.distinct_variants) == (5, 3)
    assert v.coverage == pytest.approx(0.6)
    full = tp.variants(make_study(name="v", events=variants_log()), top=10)
    assert set(full.table.variant) == {"ad > view > cart", "(straight to the goal)", "ad"}
    assert full.table.cumulative_share.iloc[-1] == pytest.approx(1.0)


def test_variants_whole_journey(make_study):
    v = tp.variants(make_study(events=variants_log()), until_goal=False, top=10)
    got = dict(zip(v.table.variant, v.table.customers))
    assert got == {"ad > view > cart > buy": 1, "ad > view > cart": 1, "ad > view > cart > buy > review": 1,
                   "buy > review": 1, "ad": 1}
    # whole journey durations: v3 runs 9 days to its review
    assert v.table.set_index("variant").loc["ad > view > cart > buy > review", "median_days"] == pytest.approx(9.0)


# ----------------------------------------------------------------------------- attribution
def test_markov_attribution_by_hand(example_study):
    # Paths to the first goal (buy), back-to-back repeats collapsed:
    #   a: (start) view cart (conversion)        [view, view -> view]
    #   b: (start) cart view (conversion)        [cart and view tie; cart recorded first]
    #   c: (start) view ad cart (conversion)
    # Transition probabilities: start -> view 2/3, cart 1/3; view -> cart, ad, (conversion)
    # 1/3 each; ad -> cart 1; cart -> (conversion) 2/3, view 1/3.
    a = tp.attribution(example_study)
    assert a.conversions == 3 and a.journeys == 3
    counts = {(r.source, r.target): r.transitions for r in a.transitions.itertuples()}
    assert counts == {("(start)", "view"): 2, ("(start)", "cart"): 1, ("view", "cart"): 1,
                      ("view", "ad"): 1, ("view", "(conversion)"): 1, ("ad", "cart"): 1,
                      ("cart", "(conversion)"): 2, ("cart", "view"): 1}
    # Every path converts: P(conversion) = 1.
    # Without cart: only start -> view -> (conversion) converts: 2/3 * 1/3 = 2/9 -> effect 7/9.
    # Without view: only start -> cart -> (conversion): 1/3 * 2/3 = 2/9 -> effect 7/9.
    # Without ad: v = P(conv | view), c = P(conv | cart): v = c/3 + 1/3, c = 2/3 + v/3
    #   -> v = 5/8, c = 7/8, P = 2/3 * 5/8 + 1/3 * 7/8 = 17/24 -> effect 7/24.
    t = a.table.set_index("touchpoint")
    assert a.conversion_probability == pytest.approx(1.0)
    assert t.loc["cart", "removal_effect"] == pytest.approx(7 / 9)
    assert t.loc["view", "removal_effect"] == pytest.approx(7 / 9)
    assert t.loc["ad", "removal_effect"] == pytest.approx(7 / 24)
    total = 7 / 9 + 7 / 9 + 7 / 24
    assert t.loc["ad", "markov"] == pytest.approx(3 * (7 / 24) / total)
    assert t.markov.sum() == pytest.approx(3.0)
    # first touch: view (a, c), cart (b); last touch: cart (a, c), view (b)
    assert t.loc["view", "first_touch"] == 2 and t.loc["cart", "first_touch"] == 1
    assert t.loc["cart", "last_touch"] == 2 and t.loc["view", "last_touch"] == 1


def test_removal_effects_with_a_drop_off_by_hand():
    # Anderl et al. style toy chain: paths
    #   (start) A B (conversion); (start) A (end); (start) B (conversion); (start) B (end)
    # P: start->A 1/2, start->B 1/2; A->B 1/2, A->end 1/2; B->conv 2/3, B->end 1/3.
    # P(conv) = 1/2 (1/2 * 2/3) + 1/2 * 2/3 = 1/6 + 1/3 = 1/2.
    # without A: 1/2 * 2/3 = 1/3 -> effect 1/3; without B: 0 -> effect 1.
    counts = pd.DataFrame(
        [("(start)", "A", 2), ("(start)", "B", 2), ("A", "B", 1), ("A", "(end)", 1),
         ("B", "(conversion)", 2), ("B", "(end)", 1)], columns=["source", "target", "transitions"])
    base, effects = tp.removal_effects(counts)
    assert base == pytest.approx(0.5)
    assert effects.to_dict() == pytest.approx({"A": 1 / 3, "B": 1.0})


# ----------------------------------------------------------------------------- segments
def test_for_segment_restricts_every_analysis(example_study):
    segments = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["x", "y", "y"]})
    y = tp.for_segment(example_study, "y", segments)
    inv = tp.inventory(y)
    assert inv.customers == 2 and inv.converted == 2  # b and c both buy
    f = tp.funnel(y, STEPS, window_days=2)
    assert f.table.customers.tolist() == [2, 1, 1]


# ----------------------------------------------------------------------------- synthetic study
@pytest.fixture(scope="module")
def synth_study(tmp_path_factory):
    from cxlab.synth import write_study

    return write_study(tmp_path_factory.mktemp("synth") / "small", customers=3000, seed=11)


def test_planted_pain_point_has_the_largest_dropoff(synth_study):
    inv = tp.inventory(synth_study)
    truth = json.loads((synth_study / "truth.json").read_text())["pain_point"]
    assert inv.largest_dropoff()["touchpoint"] == truth["touchpoint"] == "payment_error"
    rates = inv.table.set_index("touchpoint")["dropoff_rate"]
    # truth.json states the drop-off rate per touchpoint with the same definition
    for name, rate in truth["dropoff"]["rates"].items():
        assert rates[name] == pytest.approx(rate, abs=1e-9), name
    counts = inv.table.set_index("touchpoint")["events"]
    truth_counts = json.loads((synth_study / "truth.json").read_text())["events_by_touchpoint"]
    assert counts[list(truth_counts)].tolist() == list(truth_counts.values())


def test_synthetic_study_paths_after_the_pain_point(synth_study):
    after = tp.anchor_paths(synth_study, "payment_error", before=1, after=1)
    nxt = after.at(1).set_index("touchpoint")["share"]
    # the most common next state after a payment error is the end of the journey
    assert nxt.idxmax() == "(end)"
    # and a checkout is what leads to it
    assert set(after.at(-1).touchpoint) <= {"web_checkout", "app_checkout", "(start)"}
    f = tp.stage_funnel(synth_study)
    assert f.table.customers.iloc[0] == 3000 and f.table.customers.is_monotonic_decreasing
