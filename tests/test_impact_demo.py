"""On the demo-sized synthetic study (cxlab.synth, 20,000 customers, seed 7) the planted
intervention — a new checkout in region North from the study's intervention date — is detected,
and the 95% intervals cover truth.json's expected difference in differences
(truth.json "intervention": conversion_rate and csat_mean, "expected_did").

The study is the one the session's ``demo_run`` wrote and ran (``demo_study`` in conftest.py);
the registered hypotheses' tests are what that run's objectives and impact stages computed, read
through the stage registry, after checking they were computed with this module's parameters."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cxlab import objectives
from cxlab.impact import test_hypotheses
from cxlab.stages import output_parameters, read_output, read_record
from cxlab.study import Study

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(demo_study):
    truth = json.loads((demo_study / "truth.json").read_text())
    return demo_study, truth


def _demo_impact_results(folder) -> pd.DataFrame:
    """The impact stage's results table of the demo run (output ``results``), once it is checked
    that the run tested exactly ``objectives.build_hypotheses(study)`` (the objectives stage's
    registration, its time and fingerprint aside) by monthly difference in differences with the
    Holm correction at 80% power and 95% intervals: ``test_study_hypotheses``'s defaults."""
    study = Study.load(folder)
    registration = read_output(study, "objectives", "hypotheses")
    strip = ("registered_at", "fingerprint")
    assert [{k: v for k, v in h.items() if k not in strip} for h in registration["hypotheses"]] == \
        objectives.build_hypotheses(study)
    assert output_parameters(study, "impact") == {"correction": "holm", "power": 0.8, "freq": "month"}
    return read_output(study, "impact", "results")


def _conversion_table(folder, truth) -> pd.DataFrame:
    """One row per customer as truth.json defines the unit: region, the month of the first event,
    and converted = a goal touchpoint within 30 days of the first event."""
    import yaml

    study = yaml.safe_load((folder / "study.yaml").read_text())
    events = pd.read_parquet(folder / study["tables"]["events"], columns=["customer_id", "timestamp", "touchpoint"])
    customers = pd.read_csv(folder / study["tables"]["customers"]) if study["tables"]["customers"].endswith(".csv") \
        else pd.read_parquet(folder / study["tables"]["customers"])
    events["timestamp"] = pd.to_datetime(events["timestamp"])
    first = events.groupby("customer_id")["timestamp"].min().rename("first_touch")
    goals = events[events["touchpoint"].isin(study["goal_touchpoints"])].join(first, on="customer_id")
    within = goals["timestamp"] <= goals["first_touch"] + pd.Timedelta(days=30)
    converted = goals[within].groupby("customer_id").size().gt(0)
    table = first.reset_index()
    table["conversion_rate"] = table["customer_id"].map(converted).fillna(False).astype(int)
    table["period"] = table["first_touch"].dt.to_period("M").dt.to_timestamp()
    table["post"] = (table["first_touch"] >= pd.Timestamp(truth["intervention"]["date"])).astype(int)
    customers["customer_id"] = customers["customer_id"].astype(str)
    table["customer_id"] = table["customer_id"].astype(str)
    return table.merge(customers[["customer_id", "region"]], on="customer_id", how="left")


def test_planted_conversion_effect_is_detected_and_covered(demo):
    folder, truth = demo
    iv = truth["intervention"]
    table = _conversion_table(folder, truth)
    # the hand-built table is the one truth.json tallies: same cells, same sample DiD
    cells = iv["conversion_rate"]["cells"]
    north_post = table[(table.region == "North") & (table.post == 1)]
    assert len(north_post) == cells["North_post"]["n"]
    assert north_post.conversion_rate.mean() == pytest.approx(cells["North_post"]["sample"])
    h = {"id": "H1", "kpi": "conversion_rate", "direction": "increase", "min_effect": 0.02, "alpha": 0.05,
         "design": "did", "intervention": iv["id"], "date": iv["date"], "treated": iv["treated"]}
    r = test_hypotheses([h], table)
    row = r.table.iloc[0]
    truth_did = iv["conversion_rate"]["expected_did"]
    assert row.decision == "supported"
    assert row.ci_low <= truth_did <= row.ci_high, (row.estimate, row.ci_low, row.ci_high, truth_did)
    assert r.details["H1"].pretrend["p_value"] > 0.05  # the common monthly trend: parallel pre-trends
    assert "in North after the new checkout compared with other regions" in row.reading


def test_registered_hypotheses_of_the_demo_study_are_detected(demo, in_demo_home):
    """The whole path: the objectives stage's hypotheses and unit tables, then the impact tests
    (``test_study_hypotheses`` as the demo run's impact stage ran it)."""
    folder, truth = demo
    t = _demo_impact_results(folder).set_index("kpi")
    iv = truth["intervention"]
    for kpi in ("conversion_rate", "csat_mean"):
        row = t.loc[kpi]
        assert row.ci_low <= iv[kpi]["expected_did"] <= row.ci_high, (kpi, row.estimate, iv[kpi]["expected_did"])
    assert t.loc["conversion_rate", "decision"] == "supported", t.loc["conversion_rate", "reading"]
    # CSAT: the planted effect is covered, but on this sample North's CSAT already moved apart
    # before the launch (its realised share of payment-error responses, CSAT 1.6, swung from 9%
    # to 18% a month), so the design check fails and the effect is not claimed
    assert t.loc["csat_mean", "decision"] == "not supported: design check failed", t.loc["csat_mean", "reading"]
    assert np.isfinite(t.loc["conversion_rate", "p_adjusted"])


def test_impact_notebook_renders_the_results_table(demo, in_demo_home):
    """notebooks/05_impact.ipynb under the runner (the demo run): the registered hypotheses are
    tested, the results are saved for later stages, and the page reads them in plain language."""
    folder, _ = demo
    run = in_demo_home
    impact = next(s for s in run.stages if s.stage == "impact")
    assert impact.status == "ok", impact.error
    page = (run.run_dir / "05_impact.html").read_text()
    assert "Conversion rate rose by" in page and "compared with other regions" in page
    assert "Before the change the two groups moved in parallel" in page
    saved = _demo_impact_results(folder)
    assert dict(zip(saved["kpi"], saved["decision"])) == {
        "conversion_rate": "supported", "csat_mean": "not supported: design check failed"}
    summary = read_record(Study.load(folder), "impact")
    assert summary["glance"][0].startswith("1 of 2 tested hypotheses supported (H1)")
