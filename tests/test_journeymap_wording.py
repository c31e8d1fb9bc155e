"""The journey map in plain words: key numbers without jargon, emphasis by priority, one
customer's (redacted) words per top pain point, text kept as text in the SVG."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from test_journeymap import STAGES, hand_made, pain_frame

from cxlab.journeymap import figure_texts, journey_map_figure, save_journey_map
from cxlab.journeymap.figure import pain_emphasis
from cxlab.journeymap.lanes import pain_points_lane, plain_key_number
from cxlab.painpoints.quotes import MAX_CHARS, MIN_CHARS, typical_complaint

JARGON = re.compile(r"\bHR\b|\bvs\b|\bCSAT\b|\bpts\b")


def _register(**columns):
    base = {
        "rank": [1, 2, 3, 4, 5], "pain_point": ["Payment error", "Checkout (web)", "Unresolved support tickets",
                                                 "Social media ad", "Product page"],
        "kind": ["touchpoint", "touchpoint", "support", "touchpoint", "touchpoint"],
        "touchpoint": ["pay_error", "checkout", None, "social_ad", "view"],
        "stage": ["purchase", "purchase", "service", "awareness", "consideration"],
        "reach": [2818, 7761, 1323, 6000, 9000],
        "satisfaction_score": ["csat"] * 5,
        "satisfaction_here": [2.0, 3.9, np.nan, 4.0, 3.8], "satisfaction_elsewhere": [4.0, 3.9, np.nan, 3.9, 3.9],
        "impact_conversion": [-0.27, 0.30, -0.217, -0.006, 0.2], "dropoff_rate": [0.5, 0.1, np.nan, 0.0317, 0.11],
        "contact_rate": [0.45, 0.1683, np.nan, 0.058, 0.1136],
        "harm_conversion": [0.27, 0.0, 0.217, 0.006, 0.0], "harm_satisfaction": [0.5, 0.0, 0.0, 0.0, 0.0],
        "harm_contact": [0.3, 0.11, 0.0, 0.0, 0.05],
        "priority": [15.9, 2.4, 1.43, 0.17, 0.09],
        "key_number": ["CSAT 2.0 vs 4.0", "16.8% contact support", "HR 0.44 of buying again", "3.2% drop off",
                       "11.4% contact support"],
    }
    base.update(columns)
    return pd.DataFrame(base)


def test_key_numbers_are_plain_words_from_the_registers_own_numbers():
    lane = pain_points_lane(_register())
    assert lane.plain.tolist() == [
        "rated 2.0 of 5 (4.0 elsewhere)",                       # satisfaction weighs most: 0.5
        "17% contact support soon after",                        # 0.1683
        "22 points fewer buy again if left unresolved",          # gap 0.217 in points
        "3% leave here without buying",                          # 0.0317, the conversion harm is a drop-off
        "11% contact support soon after",
    ]
    assert not any(JARGON.search(s) for s in lane.plain)


def test_a_missing_number_falls_back_to_the_registers_key_number():
    row = {"impact_conversion": None, "key_number": "31% of comments negative"}
    assert plain_key_number(row, "conversion") == "31% of comments negative"
    assert plain_key_number({"key_number": None}, "drop_off") == ""


@pytest.mark.parametrize("rank, priority, tier", [
    (1, 15.9, "top"), (2, 4.0, "top"),      # a quarter of the top one or more
    (2, 2.4, "mid"), (5, 0.8, "mid"),       # a twentieth or more, within the first five
    (6, 3.0, "minor"), (3, 0.5, "minor"),   # past the fifth, or under a twentieth (0.5 / 15.9 = 3%)
])
def test_emphasis_follows_priority_not_only_rank(rank, priority, tier):
    assert pain_emphasis(rank, priority, 15.9) == tier


def test_minor_pain_points_are_drawn_quieter_than_the_top_one():
    pain = pain_frame().assign(value=[15.0, 0.3, 0.2, 0.1, 0.1, 0.1])
    fig = journey_map_figure(hand_made(pain_points=pain))
    texts = figure_texts(fig)
    top = [t for t in texts if t.get_text().startswith("Payment error") and t.get_fontweight() == "bold"]
    minor = [t for t in texts if t.get_text() == "Checkout (web)"]  # in the touchpoint lane and as pain point 3
    assert top and all(t.get_fontsize() == 7.5 for t in top)  # wrapped over lines, all bold
    assert minor and all(t.get_fontweight() != "bold" for t in minor)
    assert min(t.get_fontsize() for t in minor) == 7.0
    patches = [p.get_facecolor() for p in fig.artists if hasattr(p, "get_facecolor")]
    from matplotlib.colors import to_rgba

    assert to_rgba("#c44e52") in patches and to_rgba("#a0a0a0") in patches


def test_the_top_pain_point_carries_its_quote_redacted():
    pain = pain_frame().assign(value=[15.0, 0.3, 0.2, 0.1, 0.1, 0.1])
    pain["quote"] = ["Card declined twice, mail me at jane.doe@example.com", None, None, None, None, None]
    fig = journey_map_figure(hand_made(pain_points=pain.head(1)))
    shown = " ".join(t.get_text() for t in figure_texts(fig))
    assert "“Card declined twice, mail me at [email]”" in shown
    assert "jane.doe" not in shown


def test_a_quote_never_hides_a_ranked_pain_point():
    # three loud pain points in one stage: the quote moves to the footer instead of pushing #2 out
    pain = pain_frame().assign(stage="purchase", value=[15.0, 10.0, 9.0, 8.0, 0.1, 0.1]).head(4)
    pain["quote"] = ["A long complaint about the payment page that failed at the security code step again"] * 4
    fig = journey_map_figure(hand_made(pain_points=pain))
    shown = [t.get_text() for t in figure_texts(fig)]
    for label in ["Payment error (web or app)", "Call to the call centre", "Checkout (web)"]:
        assert any(label in s for s in shown)
    assert any(s.startswith("In customers' words: 1.") for s in shown)


def test_the_svg_keeps_its_words_as_editable_text(tmp_path):
    fig = journey_map_figure(hand_made())
    svg = save_journey_map(fig, tmp_path)["svg"]
    root = ET.parse(svg).getroot()
    words = " ".join("".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text"))
    for expected in ["Awareness", "Pain points", "Payment error (web or app)", "Checkout (web)"]:
        assert expected in words
    assert "<path" in svg.read_text()  # shapes are still drawn; only the words stay text


def test_touchpoint_labels_are_shortened_before_they_are_cut():
    fig = journey_map_figure(hand_made())
    shown = [t.get_text() for t in figure_texts(fig)]
    assert not any(s.endswith("…") for s in shown if "(" in s and "%" not in s), shown
    assert "Order tracking (web or app)" in shown or "Order tracking (web+)" in shown


def test_the_typical_complaint_is_the_negative_text_nearest_their_median():
    texts = pd.Series(["Terrible, awful, the worst ever, I hate it!!",     # most negative
                       "The delivery was late and the box was damaged.",  # mid negative
                       "A bit slow, not great.",                          # mildly negative
                       "Lovely staff, great service!",                    # positive: never chosen
                       "bad"])                                            # too short
    scores = pd.Series([-0.9, -0.5, -0.2, 0.8, -0.6])
    assert typical_complaint(texts, scores) == "The delivery was late and the box was damaged."
    assert typical_complaint(texts[3:4], scores[3:4]) is None
    assert MIN_CHARS <= len(texts[1]) <= MAX_CHARS


def test_the_typical_complaint_is_redacted_and_the_same_on_ties():
    texts = pd.Series(["Call me on 07700 900123, the refund never came",
                       "No refund after three weeks, call me back please"])
    scores = pd.Series([-0.4, -0.4])
    first = typical_complaint(texts, scores)
    assert first == typical_complaint(texts[::-1].reset_index(drop=True), scores)
    assert "07700" not in first


def test_quotes_come_from_the_studys_own_comments_at_each_touchpoint(make_study):
    from conftest import log

    from cxlab import data
    from cxlab.painpoints.quotes import pain_point_quotes

    events = log(("c1", "2025-01-01 10:00", "ad"), ("c1", "2025-01-01 10:05", "pay_error"),
                 ("c2", "2025-01-02 10:00", "ad"))
    surveys = pd.DataFrame({
        "response_id": ["r1", "r2", "r3"], "customer_id": ["c1", "c1", "c2"],
        "timestamp": pd.to_datetime(["2025-01-01 10:06", "2025-01-01 10:07", "2025-01-02 10:01"]),
        "touchpoint": ["pay_error", "pay_error", "ad"], "csat": [1.0, 2.0, 5.0],
        "comment": ["The payment failed twice and I was charged, terrible.", "fine",
                    "Loved the ad, great offer!"],
    })
    study = data.ensure_clean(make_study(events=events, surveys=surveys))
    register = pd.DataFrame({"kind": ["touchpoint", "touchpoint"], "touchpoint": ["pay_error", "ad"]})
    quotes = pain_point_quotes(study, register)
    assert quotes.tolist() == ["The payment failed twice and I was charged, terrible.", None]


def test_every_stage_still_fits_with_quotes_and_plain_words():
    pain = pain_frame().assign(value=[15.0, 4.0, 3.0, 0.2, 0.1, 0.1])
    pain["quote"] = ["Payment error after entering the security code, very frustrating."] * 6
    data = hand_made(pain_points=pain)
    fig = journey_map_figure(data)
    from test_journeymap import _outside, _overlaps

    assert _overlaps(fig) == [] and _outside(fig) == []
    assert len(STAGES) == len(data.stages)


def test_the_first_opportunity_says_how_firm_its_pain_points_first_place_is():
    from cxlab.journeymap import derive_opportunities

    lane = pain_points_lane(_register(ranked_first=[0.97, 0.03, 0.0, 0.0, 0.0]))
    opp = derive_opportunities(lane)
    first = opp[opp.reference == lane.name.iloc[0]].iloc[0]
    assert first.basis == "for pain point 1 · 2,818 customers · 1st in 97% of resamples"
    assert not opp[opp.reference != lane.name.iloc[0]].basis.str.contains("resamples").any()
