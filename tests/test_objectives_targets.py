"""Objectives against targets (baseline, current, target, gap, status), trends and breakdowns,
and the pre-registered hypotheses file the impact stage reads."""
from __future__ import annotations

import json
import math

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest

from conftest import WORKED_LOG, log
from cxlab.paths import published_dir
from cxlab.errors import StudyError
from cxlab.metrics import figures_plain
from cxlab.objectives import (
    analyze,
    build_hypotheses,
    hypotheses_frame,
    kpi_breakdown,
    kpi_trend,
    load_hypotheses,
    objectives_table,
    register_hypotheses,
    target_value,
)
from cxlab.objectives.targets import _change
from cxlab.results import Estimate
from cxlab.study import Objective

EVENTS = log(*WORKED_LOG)  # conftest: the worked log, hand-counted
CUSTOMERS = pd.DataFrame({"customer_id": list("abcdef"), "region": ["N", "S", "N", "S", "N", "S"]})
OBJECTIVES = [
    {"id": "conv", "goal": "Grow online sales", "kpi": "conversion_rate",
     "baseline": {"start": "2025-01-01", "end": "2025-01-31"}, "target": {"relative": 0.10},
     "intervention": "checkout"},
    {"id": "aov", "goal": "Bigger baskets", "kpi": "average_order_value",
     "baseline": {"start": "2025-01-01", "end": "2025-02-28"}, "target": {"absolute": 20}},
    {"id": "churn", "goal": "Keep customers", "kpi": "churn_rate",
     "baseline": {"start": "2025-01-01", "end": "2025-02-28"}, "target": {"relative": 0.5}},
]
INTERVENTIONS = [
    {"id": "checkout", "date": "2025-03-15", "design": "did", "treated": {"column": "region", "values": ["N"]},
     "kpis": ["conversion_rate", "average_order_value"], "alpha": 0.05, "min_effect": {"conversion_rate": 0.02}},
]


@pytest.fixture
def study(make_study):
    return make_study(events=EVENTS, customers=CUSTOMERS, objectives=OBJECTIVES, interventions=INTERVENTIONS,
                      customer_attributes={"region": {"kind": "category"}})


def _objective(**kw) -> Objective:
    base = dict(id="o", goal="g", kpi="nps", baseline_start=None, baseline_end=None)
    base.update(kw)
    return Objective(**base)


# --------------------------------------------------------------------------- targets
def test_targets_absolute_relative_and_direction():
    assert target_value(_objective(target_absolute=0.35), 0.30) == 0.35
    assert target_value(_objective(kpi="conversion_rate", target_relative=0.10), 0.30) == pytest.approx(0.33)
    # churn is better lower: 10% relative means 10% less, with no direction written
    churn = _objective(kpi="churn_rate", target_relative=0.10, raw={"target": {"relative": 0.1}})
    assert target_value(churn, 0.40) == pytest.approx(0.36)
    # an NPS below zero still moves up: -20 + 0.5 * |-20| = -10
    assert target_value(_objective(target_relative=0.5, raw={}), -20.0) == pytest.approx(-10.0)


def test_change_interval_combines_the_two_standard_errors():
    base = Estimate("b", 0.30, 0.28, 0.32, None, 100, "x")
    cur = Estimate("c", 0.36, 0.33, 0.39, None, 100, "x")
    ch = _change(base, cur, "change")
    se = math.hypot(0.02 / 1.959964, 0.03 / 1.959964)
    assert ch.estimate == pytest.approx(0.06)
    assert ch.ci_low == pytest.approx(0.06 - 1.959964 * se, rel=1e-5)


def test_objectives_table_baseline_current_target_gap_status(study):
    result = objectives_table(study)
    t = result.table.set_index("id")
    # one current period for every objective (cxlab.metrics.current_period): as long as the longest
    # baseline (2 months), ending with the last month every KPI has fully followed — churn's March
    # (April -> May is not complete; conversion is followed to 30 Apr, order value to 30 May)
    assert set(t["current_start"]) == {pd.Timestamp("2025-02-01")} and set(t["current_end"]) == {pd.Timestamp("2025-03-31")}
    assert set(t["current_is"]) == {"the latest 2 complete months in which every objective's KPI is fully followed"}
    # conversion: baseline January = a (yes), b (no) = 0.5; current February-March: c, converted = 1.0;
    # target 0.5 * 1.1 = 0.55 -> met
    conv = t.loc["conv"]
    assert (conv["baseline"], conv["current"], conv["target"]) == (0.5, 1.0, pytest.approx(0.55))
    assert conv["status"] == "target met" and conv["on_track"] and conv["gap"] == pytest.approx(-0.45)
    # AOV: baseline Jan-Feb orders 10, 30, 5, 7 -> 13; current February-March: 30, 5, 7, 20 -> 15.5
    aov = t.loc["aov"]
    assert aov["baseline"] == pytest.approx(13.0) and aov["current"] == pytest.approx(15.5)
    assert aov["target"] == 20 and aov["gap"] == pytest.approx(4.5) and not aov["on_track"]
    assert aov["status"] == "no target date" and aov["movement"] == "no clear change"
    # churn has no direction written: it is to decrease
    churn = t.loc["churn"]
    assert churn["direction"] == "decrease"
    assert churn["baseline"] == pytest.approx(0.75)  # pairs a-Jan kept; a-Feb, b-Jan, c-Feb lost
    # its last complete month is March (April -> May is not complete), so the current two months are
    # February and March, as long as the baseline: a-Feb, c-Feb, b-Mar, all lost
    assert (churn["current_start"], churn["current_end"]) == (pd.Timestamp("2025-02-01"), pd.Timestamp("2025-03-31"))
    assert (churn["current"], churn["current_n"]) == (1.0, 3)
    assert churn["target"] == pytest.approx(0.375) and churn["status"] == "no target date"
    assert churn["note"].startswith("Customers active after 31 Mar 2025 are left out")
    assert result.counts() == {"target met": 1, "on track": 0, "improving, off track": 0, "off track": 0,
                               "no target date": 2, "not enough data": 0}
    assert result.summary() == "3 objective(s): 1 at target, 2 without a target date."


def test_objectives_table_with_a_given_current_window(study):
    t = objectives_table(study, current=("2025-02-01", "2025-02-28")).table.set_index("id")
    assert t.loc["aov", "current"] == pytest.approx(14.0)  # 30, 5, 7
    assert t.loc["aov", "current_is"] == "the period given"


def test_sentences_say_where_we_stand_in_words(study):
    result = objectives_table(study)
    text = result.sentences()
    plain = {k: figures_plain(v) for k, v in text.items()}  # the marked figures as their values
    assert "**50.0%**" in plain["conv"] and "**100.0%**" in plain["conv"] and "is **met**" in text["conv"]
    assert "4.50 still to go" in text["aov"]
    assert "by **the average order value**" in text["aov"]
    later = objectives_table(study, current=("2025-05-01", "2025-05-30")).sentences()
    assert "no data for it in the current period" in later["churn"]  # May -> June is not in the log
    shown = result.display_table()
    assert list(shown.columns) == ["objective", "KPI", "baseline", "current", "target", "by", "gap to target",
                                   "projected by then", "status"]
    assert "**no target date**" in text["aov"] and "by: YYYY-MM-DD" in text["aov"]
    assert shown.loc[0, "gap to target"] == "met"


def test_trend_and_breakdown_results(study):
    trend = kpi_trend(study, "conversion_rate", "month")
    assert list(trend.table["estimate"]) == [0.5, 1.0, 1.0]
    ax = trend.plot(target=0.55, baseline=("2025-01-01", "2025-01-31"), marker="2025-03-15", marker_label="launch")
    assert ax.get_ylabel().startswith("Conversion rate")
    assert "Jan 2025" in trend.summary()
    br = kpi_breakdown(study, "average_order_value", "region")
    assert br.table.set_index("region")["estimate"].to_dict() == pytest.approx({"N": 57 / 5, "S": 12.5})
    # money in the currency; whom it counts and when, as the metric dictionary says (cxlab.metrics)
    assert figures_plain(br.summary()).startswith("Average order value by region (orders, the whole log): best S at €12.50")
    assert br.plot() is not None


# --------------------------------------------------------------------------- hypotheses
def test_hypotheses_from_objectives_and_intervention_kpis(study):
    hs = build_hypotheses(study)
    assert [(h["id"], h["role"], h["kpi"]) for h in hs] == [
        ("H1", "primary", "conversion_rate"), ("H2", "secondary", "average_order_value")]
    h1 = hs[0]
    assert {k: h1[k] for k in ("objective", "direction", "min_effect", "alpha", "design",
                                                  "intervention", "date", "treated", "kind", "kpi_options")} == {
        "objective": "conv", "direction": "increase", "min_effect": 0.02, "alpha": 0.05, "design": "did",
        "intervention": "checkout", "date": "2025-03-15", "treated": {"column": "region", "values": ["N"]},
        "kind": "proportion", "kpi_options": {"window_days": 30}}
    assert h1["statement"].startswith("H1: checkout (from 2025-03-15) increases the conversion rate for customers "
                                      "with region in N by at least 2.0 points")
    assert hs[1]["min_effect"] is None and hs[1]["objective"] is None


def test_registration_is_written_once_and_kept_on_rerun(study, project_home):
    path = published_dir(study) / "hypotheses.json"
    register_hypotheses(study)
    assert not path.exists()  # building the registration writes nothing: the stage's write() does
    stage = analyze(study)
    stage.write()
    reg = stage.registration
    on_disk = json.loads(path.read_text())
    assert on_disk["format"] == 1 and on_disk["study"] == "tiny" and len(on_disk["fingerprint"]) == 16
    assert all(h["registered_at"] == reg["registered_at"] and h["fingerprint"] == reg["fingerprint"]
               for h in on_disk["hypotheses"])
    again = register_hypotheses(study)
    assert again["registered_at"] == reg["registered_at"] and again["previous"] == []
    assert load_hypotheses(study)["hypotheses"][0]["kpi"] == "conversion_rate"
    assert list(hypotheses_frame(reg)["smallest effect that matters"]) == ["2.0 points", "–"]


def test_changed_data_re_registers_and_keeps_history(study, project_home):
    stage = analyze(study)
    stage.write()
    first = stage.registration
    events = pd.concat([EVENTS, log(("a", "2025-05-01 10:00", "view"))], ignore_index=True)
    events.to_csv(study / "events.csv", index=False)
    second = register_hypotheses(study)
    assert second["fingerprint"] != first["fingerprint"]
    assert second["previous"][0]["fingerprint"] == first["fingerprint"]


def test_loading_before_registration_says_what_to_run(study):
    with pytest.raises(StudyError, match="run the objectives stage first"):
        load_hypotheses(study)


def test_impact_stage_reads_the_registration(study):
    from cxlab.impact import normalize_hypothesis

    for h in register_hypotheses(study)["hypotheses"]:
        n = normalize_hypothesis(h)
        assert n["treated_column"] == "region" and n["design"] == "did" and n["kpi"] == h["kpi"]


def test_the_page_shows_the_sentences_as_text_without_markdown_signs(study):
    result = objectives_table(study)
    for key, sentence in result.sentences().items():
        page = result.page_sentences()[key]
        assert "**" not in page and page == sentence.replace("**", "")
