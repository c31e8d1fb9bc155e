"""On the synthetic demo study (cxlab.synth, 20,000 customers, seed 7) the KPIs reproduce the
rates planted in truth.json: the same units (n) and the same sample value to 1e-9 (so the
definitions agree exactly), and a 95% interval that covers the planted expectation."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from cxlab.objectives import (build_hypotheses, compute_kpi, kpi_estimate, kpi_trend, objectives_table,
                              register_hypotheses)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from cxlab.synth import DEMO, write_study

    folder = tmp_path_factory.mktemp("raw") / "demo"
    write_study(folder, **DEMO)
    return folder, json.loads((folder / "truth.json").read_text())


def test_kpis_match_the_planted_rates(demo):
    folder, truth = demo
    assert set(truth["kpis"]) == {"conversion_rate", "repeat_purchase_rate", "nps", "csat_mean", "ces_mean"}
    for name, planted in truth["kpis"].items():
        est = kpi_estimate(folder, name)
        assert est.n == planted["n"], name
        assert est.estimate == pytest.approx(planted["sample"], abs=1e-8), name
        assert est.covers(planted["expected"]), f"{name}: {est.summary()} misses {planted['expected']}"


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
    assert table.loc["raise_nps", "current_is"] == "the latest 3 complete months of the log"
    assert table.loc["reduce_churn", "direction"] == "decrease"
    hyps = build_hypotheses(folder)
    assert [(h["kpi"], h["role"], h["min_effect"], h["design"]) for h in hyps] == [
        ("conversion_rate", "primary", 0.02, "did"), ("csat_mean", "primary", 0.1, "did")]
    assert register_hypotheses(folder)["hypotheses"][0]["treated"] == {"column": "region", "values": ["North"]}
