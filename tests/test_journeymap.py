"""The journey map: lane tables, opportunities, and the A4 figure, on a hand-made JourneyMapData
whose answers are known (the lowest emotion stage, the top pain point, which drivers sit in the
fix-first corner are worked out by hand below)."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from cxlab.errors import DataError
from cxlab.journeymap import (
    A4_LANDSCAPE,
    MIN_FONT_PT,
    action_verb,
    derive_opportunities,
    describe_actions,
    figure_texts,
    from_frames,
    journey_map_figure,
    save_journey_map,
)

STAGES = ["awareness", "consideration", "purchase", "service", "loyalty"]


def touchpoints_frame() -> pd.DataFrame:
    return pd.DataFrame([
        ("awareness", "social_ad", "Social media ad", "web", 9000, 0.45, 1.5),
        ("awareness", "search_ad", "Search ad", "web", 7000, 0.35, 1.2),
        ("awareness", "newsletter_open", "Newsletter opened", "email", 5000, 0.25, 2.0),
        ("awareness", "store_window", "Store window", "store", 4000, 0.20, 1.0),
        ("awareness", "app_push_open", "App push notification opened", "app", 3000, 0.15, 1.1),
        ("consideration", "web_product_view", "Product page (web)", "web", 12000, 0.60, 3.4),
        ("consideration", "app_product_view", "Product page (app)", "app", 6000, 0.30, 2.9),
        ("consideration", "store_consult", "In-store consultation", "store", 3000, 0.15, 1.0),
        ("purchase", "web_checkout", "Checkout (web)", "web", 7000, 0.35, 1.1),
        ("purchase", "payment_error", "Payment error (web or app)", "web", 2600, 0.13, 1.0),
        ("purchase", "web_purchase", "Purchase (web)", "web", 5000, 0.25, 1.6),
        ("service", "order_tracking", "Order tracking (web or app)", "web", 6000, 0.30, 2.2),
        ("service", "call_centre_call", "Call to the call centre", "call_centre", 900, 0.045, 1.3),
        ("loyalty", "loyalty_app_open", "Loyalty app opened", "app", 3000, 0.15, 4.0),
        ("loyalty", "review_written", "Review written", "web", 500, 0.025, 1.0),
    ], columns=["stage", "touchpoint", "label", "channel", "customers", "reach", "events_per_customer"])


def emotion_frame() -> pd.DataFrame:
    rows = []
    for stage, csat, sent in zip(STAGES, [3.9, 3.95, 3.1, 3.7, 4.2], [0.2, 0.25, -0.3, 0.05, 0.4]):
        rows.append((stage, "csat", csat, csat - 0.08, csat + 0.08, 800))
        rows.append((stage, "sentiment", sent, sent - 0.05, sent + 0.05, 500))
    return pd.DataFrame(rows, columns=["stage", "metric", "estimate", "ci_low", "ci_high", "n"])


def pain_frame() -> pd.DataFrame:
    return pd.DataFrame([
        (1, "payment_error", "Payment error (web or app)", "purchase", "drop_off", "38% drop off after it", 0.38, 2600),
        (2, "call_centre_call", "Call to the call centre", "service", "repeat_contact",
         "22% call again within 7 days", 0.22, 900),
        (3, "web_checkout", "Checkout (web)", "purchase", "drop_off", "18% leave at checkout", 0.18, 7000),
        (4, "topic: delivery", "Complaints about delivery", "service", "complaint",
         "31% of service comments negative", 0.31, 400),
        (5, "web_compare", "Product comparison (web)", "consideration", "loop", "12% loop back to awareness", 0.12, 1200),
        (6, "unresolved tickets", "Unresolved tickets", None, "unresolved",
         "next purchase 55% less likely (HR 0.45)", 0.45, 800),
    ], columns=["rank", "name", "label", "stage", "signal", "key_number", "value", "reach"])


def drivers_frame() -> pd.DataFrame:
    # mean importance 0.156, mean performance 3.54: ease (0.30, 3.4) and delivery (0.25, 3.3)
    # are the only drivers at or above the first and below the second ("Fix first")
    return pd.DataFrame([
        ("driver_ease", "ease", 0.30, 3.4, "csat", None),
        ("driver_speed", "speed", 0.10, 3.9, "csat", None),
        ("driver_delivery", "delivery", 0.25, 3.3, "csat", "service"),
        ("driver_price", "price", 0.05, 3.0, "csat", None),
        ("driver_staff", "staff", 0.08, 4.1, "csat", None),
    ], columns=["driver", "label", "importance", "performance", "outcome", "stage"])


def kpi_frame() -> pd.DataFrame:
    return pd.DataFrame([
        ("awareness", "reached", 1.0, "20,000 customers (100%)"),
        ("awareness", "to_next", 0.8, "80% go on to consider"),
        ("consideration", "reached", 0.8, "16,000 customers (80%)"),
        ("purchase", "reached", 0.44, "8,800 customers (44%)"),
        ("service", "reached", 0.26, "5,280 customers (26%)"),
        ("loyalty", "reached", 0.15, "3,000 customers (15%)"),
    ], columns=["stage", "name", "value", "text"])


def hand_made(**overrides):
    args = dict(title="Hand-made study", touchpoints=touchpoints_frame(), emotion=emotion_frame(),
                pain_points=pain_frame(), drivers=drivers_frame(), kpis=kpi_frame(), n_customers=20000)
    args.update(overrides)
    return from_frames("hand", STAGES, **args)


# --------------------------------------------------------------------------- tables
def test_lowest_stage_and_top_pain_point_are_read_from_the_lanes():
    data = hand_made()
    assert data.metrics == ["csat", "sentiment"]
    assert data.lowest_stage() == "purchase"  # CSAT 3.10, the minimum of 3.90 3.95 3.10 3.70 4.20
    assert data.lowest_stage("sentiment") == "purchase"  # -0.30
    assert data.top_pain_point()["name"] == "payment_error"
    heads = data.headlines()
    assert heads[0] == "Top pain point: Payment error (web or app) at purchase — 38% drop off after it."
    assert heads[1] == "Customers feel worst at purchase: CSAT 3.10 [3.02, 3.18]."


def test_top_touchpoints_are_ranked_by_reach_within_the_stage():
    top = hand_made().top_touchpoints("awareness", n=3)
    assert top.touchpoint.tolist() == ["social_ad", "search_ad", "newsletter_open"]
    assert top.reach.tolist() == [0.45, 0.35, 0.25]


def test_a_lane_missing_a_column_is_a_data_error_naming_it():
    with pytest.raises(DataError, match="pain_points.*key_number"):
        hand_made(pain_points=pain_frame().drop(columns="key_number"))


def test_rows_outside_the_studys_stages_are_left_out_and_noted():
    tps = pd.concat([touchpoints_frame(), pd.DataFrame([{
        "stage": "uncatalogued", "touchpoint": "mystery", "label": "mystery", "channel": "web",
        "customers": 10, "reach": 0.0005}])])
    data = hand_made(touchpoints=tps)
    assert "mystery" not in set(data.touchpoints.touchpoint)
    assert len(data.touchpoints) == 15
    assert any("uncatalogued" in n for n in data.notes)


def test_actions_without_transitions_describe_the_top_touchpoints():
    actions = describe_actions(touchpoints_frame(), STAGES, per_stage=2)
    purchase = actions[actions.stage == "purchase"].text.tolist()
    assert purchase == ["Checkout (web): 1.1× per customer reached", "Purchase (web): 1.6× per customer reached"]


def test_actions_from_transitions_read_as_moves():
    moves = pd.DataFrame({"stage": ["purchase", "purchase"], "from_label": ["Checkout (web)", "Payment error"],
                          "to_label": ["Purchase (web)", "end"], "share": [0.5, 0.2]})
    actions = describe_actions(touchpoints_frame(), STAGES, transitions=moves)
    assert actions[actions.stage == "purchase"].text.tolist() == [
        "Checkout (web) → Purchase (web) (50%)", "Payment error → end (20%)"]


# --------------------------------------------------------------------------- opportunities
@pytest.mark.parametrize("signal, verb", [
    ("drop_off", "Cut drop-off at"), ("dropoff_rate", "Cut drop-off at"), ("loop", "Remove loops at"),
    ("repeat_contact", "Resolve at first contact:"), ("unresolved", "Close the loop on"),
    ("long_wait", "Shorten the wait at"), ("complaint", "Address complaints about"), ("other", "Fix"),
])
def test_each_kind_of_friction_gets_its_action(signal, verb):
    assert action_verb(signal) == verb


def test_opportunities_follow_the_register_then_the_fix_first_drivers():
    opp = derive_opportunities(pain_frame(), drivers_frame(), max_from_pain=5)
    assert opp["rank"].tolist() == list(range(1, 8))
    assert opp.source.tolist() == ["pain point"] * 5 + ["key driver"] * 2
    assert opp.text.tolist()[:5] == [
        "Cut drop-off at payment error (web or app)",
        "Resolve at first contact: call to the call centre",
        "Cut drop-off at checkout (web)",
        "Address complaints about delivery",  # the label's "Complaints about" is not said twice
        "Remove loops at product comparison (web)",
    ]
    assert opp.basis.iloc[0] == "for pain point 1 · 2,600 customers"
    # ease: 0.30 / 0.78 of the importance = 38%; delivery 0.25 / 0.78 = 32%
    assert opp.reference.tolist()[5:] == ["driver_ease", "driver_delivery"]
    assert opp.basis.iloc[5].startswith("drives 38% of explained CSAT, rated 3.4")
    assert opp.basis.iloc[6].startswith("drives 32% of explained CSAT, rated 3.3")
    assert opp.stage.iloc[5] is None and opp.stage.iloc[6] == "service"


def test_the_stages_own_quadrant_decides_which_drivers_to_fix_first():
    drivers = drivers_frame().assign(quadrant=["Keep up", "Monitor", "Monitor", "Fix first", "Keep up"])
    opp = derive_opportunities(pain_frame().head(0), drivers)
    assert opp.reference.tolist() == ["driver_price"]


def test_a_driver_naming_a_touchpoint_goes_to_its_stage():
    drivers = drivers_frame().drop(columns="stage").assign(touchpoint=[None, None, "order_tracking", None, None])
    opp = derive_opportunities(pain_frame().head(0), drivers, stage_of={"order_tracking": "service"})
    assert dict(zip(opp.reference, opp.stage)) == {"driver_ease": None, "driver_delivery": "service"}


# --------------------------------------------------------------------------- the figure
def _overlaps(fig) -> list[tuple[str, str]]:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in figure_texts(fig)]
    bad = []
    for (a, ba), (b, bb) in itertools.combinations(boxes, 2):
        dx = min(ba.x1, bb.x1) - max(ba.x0, bb.x0)
        dy = min(ba.y1, bb.y1) - max(ba.y0, bb.y0)
        if dx > 0.5 and dy > 0.5:
            bad.append((a, b))
    return bad


def _outside(fig) -> list[str]:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    w, h = fig.bbox.width, fig.bbox.height
    out = []
    for t in figure_texts(fig):
        b = t.get_window_extent(renderer)
        if b.x0 < 0 or b.y0 < 0 or b.x1 > w or b.y1 > h:
            out.append(t.get_text())
    return out


def test_the_figure_is_a4_landscape_readable_and_without_overlaps():
    fig = journey_map_figure(hand_made())
    assert tuple(np.round(fig.get_size_inches(), 2)) == A4_LANDSCAPE
    texts = figure_texts(fig)
    assert min(t.get_fontsize() for t in texts) >= MIN_FONT_PT
    shown = {t.get_text() for t in texts}
    assert {"1  Awareness", "3  Purchase", "5  Loyalty"} <= shown
    assert "lowest: 3.10" in shown  # the emotion curve's dip is marked at purchase
    assert fig._cxlab_emotion["lowest"] == "purchase"
    assert "38% drop off after it" in shown
    assert _overlaps(fig) == []
    assert _outside(fig) == []


def test_a_crowded_cell_says_how_many_it_left_out_instead_of_overlapping():
    many = pd.DataFrame([
        (k, f"friction_{k}", f"A rather long pain point name number {k} that needs wrapping", "purchase",
         "drop_off", f"{k}% drop off after it, among many customers who reached it", k / 100, 100)
        for k in range(1, 13)
    ], columns=["rank", "name", "label", "stage", "signal", "key_number", "value", "reach"])
    fig = journey_map_figure(hand_made(pain_points=many))
    shown = [t.get_text() for t in figure_texts(fig)]
    more = [s for s in shown if s.startswith("+ ") and s.endswith(" more")]
    assert more, "the pain-point cell of purchase should say how many were left out"
    assert _overlaps(fig) == []


def test_eight_stages_and_long_labels_still_fit():
    stages = [f"stage_{i}" for i in range(8)]
    tps = pd.DataFrame([(s, f"tp_{s}_{k}", f"An unusually long touchpoint label for {s} number {k}", "web",
                         100 * k, k / 10) for s in stages for k in range(1, 6)],
                       columns=["stage", "touchpoint", "label", "channel", "customers", "reach"])
    emo = pd.DataFrame([(s, "sentiment", 0.1 * i - 0.3, np.nan, np.nan, 1) for i, s in enumerate(stages)],
                       columns=["stage", "metric", "estimate", "ci_low", "ci_high", "n"])
    data = from_frames("eight", stages, touchpoints=tps, emotion=emo)
    fig = journey_map_figure(data)
    assert fig._cxlab_emotion["lowest"] == "stage_0"
    assert _overlaps(fig) == []
    assert _outside(fig) == []


def test_customer_text_in_the_figure_is_redacted_and_never_markup():
    pain = pain_frame()
    pain.loc[0, "key_number"] = "mail me at jane.doe@example.com or +44 20 7946 0958 $5 $x$"
    pain.loc[1, "label"] = "<script>alert(1)</script>"
    fig = journey_map_figure(hand_made(pain_points=pain))
    shown = " ".join(t.get_text() for t in figure_texts(fig))
    assert "jane.doe@example.com" not in shown and "7946" not in shown
    assert "[email]" in shown and "[phone]" in shown
    assert all(not t.get_parse_math() for t in figure_texts(fig))  # "$x$" is text, not math


def test_png_and_svg_are_written_and_the_svg_holds_no_markup(tmp_path):
    pain = pain_frame()
    pain.loc[1, "label"] = "<script>alert(1)</script>"
    fig = journey_map_figure(hand_made(pain_points=pain))
    paths = save_journey_map(fig, tmp_path / "run", name="Journey map: all customers")
    assert paths["png"].name == "journey_map_all_customers.png"
    png = paths["png"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (round(11.69 * 200), round(8.27 * 200))
    svg = paths["svg"].read_text()
    assert svg.lstrip().startswith("<?xml") and "<script" not in svg.lower()
    assert not list((tmp_path / "run").glob(".*tmp*"))


def test_empty_lanes_draw_a_map_that_says_what_is_missing():
    data = from_frames("bare", STAGES, touchpoints=touchpoints_frame(),
                       notes=["pain points: the pain-point stage has not run (no pain_points.parquet)"])
    fig = journey_map_figure(data)
    shown = {t.get_text() for t in figure_texts(fig)}
    assert "no survey data" in shown
    assert any("pain-point stage has not run" in s for s in shown)
    assert _overlaps(fig) == []


def test_labels_keep_proper_names_and_acronyms():
    pain = pain_frame().head(2).assign(label=["PayPal checkout", "NPS survey"], signal=["drop_off", "complaint"])
    opp = derive_opportunities(pain)
    assert opp.text.tolist() == ["Cut drop-off at PayPal checkout", "Address complaints about NPS survey"]


# --------------------------------------------------------------------------- lanes from the stages' tables
from conftest import log  # noqa: E402

from cxlab.journeymap.lanes import actions_lane, kpi_lane, pain_points_lane, touchpoints_lane  # noqa: E402

# four customers worked through by hand:
#   c1 ad view cart buy call          (converts)
#   c2 ad view cart pay_error         (leaves after the payment error)
#   c3 ad view                        (leaves after viewing)
#   c4 ad view cart pay_error cart buy review   (converts after a retry)
TINY = log(
    ("c1", "2025-01-01 10:00", "ad"), ("c1", "2025-01-01 10:05", "view"), ("c1", "2025-01-01 10:10", "cart"),
    ("c1", "2025-01-01 10:15", "buy", 50.0), ("c1", "2025-01-03 09:00", "call"),
    ("c2", "2025-01-02 10:00", "ad"), ("c2", "2025-01-02 10:05", "view"), ("c2", "2025-01-02 10:10", "cart"),
    ("c2", "2025-01-02 10:12", "pay_error"),
    ("c3", "2025-01-03 10:00", "ad"), ("c3", "2025-01-03 10:05", "view"),
    ("c4", "2025-01-04 10:00", "ad"), ("c4", "2025-01-04 10:05", "view"), ("c4", "2025-01-04 10:10", "cart"),
    ("c4", "2025-01-04 10:12", "pay_error"), ("c4", "2025-01-04 10:14", "cart"),
    ("c4", "2025-01-04 10:16", "buy", 30.0), ("c4", "2025-01-10 10:00", "review"),
)


@pytest.fixture
def tiny(make_study):
    from cxlab import data

    return data.ensure_clean(make_study(events=TINY))


def test_touchpoint_lane_from_the_inventory(tiny):
    from cxlab.touchpoints import inventory

    lane = touchpoints_lane(inventory(tiny).table).set_index("touchpoint")
    # reach: customers who used it of the 4 in the log
    assert lane.reach.to_dict() == {"ad": 1.0, "view": 1.0, "cart": 0.75, "pay_error": 0.5, "buy": 0.5,
                                    "call": 0.25, "review": 0.25}
    assert lane.loc["pay_error", "stage"] == "purchase"
    assert lane.loc["cart", "events_per_customer"] == pytest.approx(4 / 3)  # c4 went to the cart twice


def test_kpi_lane_from_the_stage_funnel(tiny):
    from cxlab.touchpoints import stage_funnel

    kpis = kpi_lane(stage_funnel(tiny).table, tiny.stages)
    text = kpis.groupby("stage", sort=False)["text"].apply(list).to_dict()
    # awareness 4, consideration 4, purchase 3 (c1 c2 c4), service 1 (c1), loyalty 0: c4's review
    # came without a service step, and the ordered funnel needs every stage in turn
    # shares as the metric dictionary prints them (cxlab.metrics), so the map agrees with the pages
    assert text == {
        "awareness": ["4 customers enter", "100.0% go on to consideration"],
        "consideration": ["4 reach it (100.0%)", "75.0% go on to purchase"],
        "purchase": ["3 reach it (75.0%)", "33.3% go on to service"],
        "service": ["1 reach it (25.0%)", "0.0% go on to loyalty"],
        "loyalty": ["0 reach it (0.0%)"],
    }


def test_actions_lane_from_the_transitions(tiny):
    from cxlab.touchpoints import transitions

    actions = actions_lane(transitions(tiny).table, tiny.catalog, tiny.stages)
    by = actions.groupby("stage", sort=False)["text"].apply(list).to_dict()
    # moves out of purchase touchpoints: cart->buy 2, cart->pay_error 2, buy->call, buy->review,
    # pay_error->(end), pay_error->cart (1 each): 8 in all
    assert by["purchase"] == ["Cart → Buy (25%)", "Cart → Pay error (25%)", "Buy → Call (12%)"]
    # out of view: view->cart 3, view->(end) 1
    assert by["consideration"] == ["View → Cart (75%)", "View → end of journey (25%)"]


def test_pain_point_lane_reads_the_register_columns():
    register = pd.DataFrame({
        "rank": [2, 1], "pain_point": ["Unresolved support tickets", "Payment error"], "kind": ["support", "touchpoint"],
        "touchpoint": [None, "pay_error"], "stage": ["service", None], "reach": [40, 120],
        "harm_conversion": [0.2, 0.1], "harm_satisfaction": [0.0, 0.3], "harm_contact": [0.0, 0.05],
        "dropoff_rate": [np.nan, 0.4], "priority": [1.2, 9.9], "key_number": ["HR 0.47 of buying again", "CSAT 1.9 vs 4.0"],
        "segments_most_affected": ["", "bargain_browsers (1.4×)"],
    })
    from conftest import CATALOG

    catalog = pd.DataFrame([{"touchpoint": k, **v} for k, v in CATALOG.items()])
    lane = pain_points_lane(register, catalog)
    assert lane["name"].tolist() == ["pay_error", "Unresolved support tickets"]
    assert lane["stage"].tolist() == ["purchase", "service"]  # from the catalog, then the register's own
    assert lane["signal"].tolist() == ["satisfaction", "unresolved"]  # the largest harm; tickets are their own kind
    assert lane["reach"].tolist() == [120, 40]
    opp = derive_opportunities(lane)
    assert opp.text.tolist() == ["Address complaints about payment error",
                                 "Close the loop on unresolved support tickets"]


def test_objective_lines_use_the_kpi_librarys_formats():
    from cxlab.journeymap.lanes import objective_lines

    table = pd.DataFrame({"kpi": ["conversion_rate", "csat_mean", "churn_rate"], "current": [0.494, 3.9069, 0.4979],
                          "target": [0.4973, 4.0, 0.5079], "status": ["improving", "improving", "target met"]})
    assert objective_lines(table) == ["Conversion rate 49.4% (target 49.7%)", "CSAT (mean) 3.91 (target 4.00)",
                                      "Churn rate 49.8% (target 50.8% ✓)"]


def test_a_segment_map_marks_the_pain_points_its_segment_meets_more_often():
    from cxlab.journeymap.bysegment import _mark_segment

    lane = pain_frame().assign(segments_most_affected=["bargain_browsers (1.5×), app_natives (1.2×)", "",
                                                       "app_natives (1.3×)", "", "", ""])
    marked = _mark_segment(lane, "app_natives")
    assert marked.key_number.tolist()[:3] == ["38% drop off after it · 1.2× as often here",
                                              "22% call again within 7 days",
                                              "18% leave at checkout · 1.3× as often here"]
    assert _mark_segment(lane, "natives").key_number.tolist() == lane.key_number.tolist()  # whole names only


def test_the_objectives_line_shows_whole_objectives_only():
    many = [f"Objective number {k} 12.3% (target 45.6%)" for k in range(8)]
    fig = journey_map_figure(hand_made(objectives=many))
    line = next(t.get_text() for t in figure_texts(fig) if t.get_text().startswith("Objectives: "))
    assert line.endswith(" more") and "…" not in line
    assert _overlaps(fig) == []


def test_a_study_whose_stages_have_not_run_gets_a_map_saying_which_to_run(tiny):
    from cxlab.journeymap import findings, load_journey_maps, summary_metrics

    maps = load_journey_maps(tiny)
    assert list(maps) == [None]  # no segments.parquet: no segment maps
    m = maps[None]
    assert m.touchpoints.empty and m.pain_points.empty and m.emotion.empty
    assert "touchpoints: not drawn — touchpoint_inventory.parquet is missing (run the touchpoints stage first)" in m.notes
    assert any("pain_points.parquet is missing (run the pain points stage first)" in n for n in m.notes)
    assert findings(m) == [] and m.headlines() == []
    assert summary_metrics(m) == {"opportunities": {"value": 0, "label": "opportunities on the map"}}
    fig = journey_map_figure(m)
    shown = " ".join(t.get_text() for t in figure_texts(fig))
    assert "run the touchpoints stage first" in shown
    assert _overlaps(fig) == []


def test_segments_are_sized_and_named_after_their_persona_cards(tiny):
    from cxlab import data
    from cxlab.journeymap import segment_table

    data.write_parquet(pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c4"], "segment": ["0", "1", "1", "1"]}),
                       tiny.processed("segments.parquet"))
    data.write_parquet(pd.DataFrame({"persona": ["App-first, fast-paced", "Multichannel"], "cluster": [0, 1]}),
                       tiny.processed("personas.parquet"))
    table = segment_table(tiny)
    assert table.to_dict("records") == [
        {"segment": "1", "customers": 3, "share": 0.75, "persona": "Multichannel"},
        {"segment": "0", "customers": 1, "share": 0.25, "persona": "App-first, fast-paced"},
    ]


def test_the_files_the_map_reads_are_the_files_the_stages_write():
    from cxlab.segments.pipeline import PERSONAS_FILE, SEGMENTS_FILE
    from cxlab.stages import STAGES

    # the map reads through the registry (cxlab.stages.read_output), which names the files
    segmentation = STAGES["segmentation"]
    assert segmentation.output("segments").file == SEGMENTS_FILE
    assert segmentation.output("personas").file == PERSONAS_FILE
    touchpoints = STAGES["touchpoints"]
    for key, file in (("inventory", "touchpoint_inventory.parquet"), ("funnel", "stage_funnel.parquet"),
                      ("funnel_by_segment", "stage_funnel_by_segment.parquet"),
                      ("transitions", "transitions.parquet")):
        assert touchpoints.output(key).file == file


def test_a_segment_map_never_computes_a_lane_a_stage_did_not_write(tiny, monkeypatch):
    """Segments but no touchpoint or pain-point outputs: every lane of the segment map says
    which stage to run, and the map reads no event (nothing is computed again)."""
    from cxlab import data, engine, journeys
    from cxlab.journeymap import load_journey_map

    data.write_parquet(pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c4"], "segment": ["0", "1", "1", "1"]}),
                       tiny.processed("segments.parquet"))

    def no_events(*args, **kwargs):
        raise AssertionError("the journey map read the event log")

    monkeypatch.setattr(engine, "events", no_events)
    monkeypatch.setattr(journeys, "for_segment", no_events)
    m = load_journey_map(tiny, "1")
    assert m.n_customers == 3
    assert m.touchpoints.empty and m.kpis.empty and m.emotion.empty and m.pain_points.empty
    assert {"touchpoints", "actions", "kpis", "emotion", "pain_points", "opportunities"} <= set(m.missing)
    assert m.lane_notes["touchpoints"] == m.lane_notes["kpis"] == "not computed: run the touchpoints stage"
    assert m.lane_notes["emotion"] == "not computed: run the pain points stage"
    assert ("stage KPI: not drawn — stage_funnel_by_segment.parquet is missing (run the touchpoints stage first)"
            in m.notes)
