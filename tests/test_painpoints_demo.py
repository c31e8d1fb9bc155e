"""Pain points on the synthetic demo study against its planted truths (truth.json), and the
stage notebook's HTML: quotes shown as text, emails and phone numbers redacted.

The demo study is the one the session's ``demo_run`` wrote (``demo_study`` in conftest.py; 20,000
customers, seed 7, its study.yaml's pain-point parameters), analysed here in that run's project
home (``reading_demo_home``), whose clean tables and comment sentiment the run already made; the
segmentation stage's segments there add the by-segment tables, which no test here reads."""
from __future__ import annotations

import html
import json
import re

import pandas as pd
import pytest

from cxlab.paths import published_dir
from cxlab.painpoints import analyze
from cxlab.report import run_study
from cxlab.synth import EMAIL_RE, PHONE_RE, write_study

from conftest import reading_demo_home

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(demo_run, demo_study):
    with reading_demo_home(demo_run):
        truth = json.loads((demo_study / "truth.json").read_text())
        result = analyze(demo_study)
    yield result, truth


def test_the_planted_pain_touchpoint_ranks_first(demo):
    result, truth = demo
    reg = result.register.table
    assert reg.iloc[0].touchpoint == truth["pain_point"]["touchpoint"] == "payment_error"
    # and clearly so: over twice the priority of the runner-up, its bootstrap interval wholly above
    # the runner-up's, first in every resample
    assert reg.iloc[0].priority > 2 * reg.iloc[1].priority
    assert reg.iloc[0].priority_ci_low > reg.iloc[1].priority_ci_high
    assert reg.iloc[0].ranked_first == 1.0 and result.register.ranking.distinguishable
    assert reg.iloc[0].priority_ci_low < reg.iloc[0].priority < reg.iloc[0].priority_ci_high
    # the planted importance order of the drivers holds in the resamples too
    assert result.drivers.table.iloc[0].ranked_first >= 0.95


def test_dropoff_and_support_contact_rates_equal_the_planted_sample_rates(demo):
    result, truth = demo
    ft = result.friction.by_touchpoint.set_index("touchpoint")
    drop = pd.Series(truth["pain_point"]["dropoff"]["rates"])
    assert ft.loc[drop.index, "dropoff_rate"].to_numpy() == pytest.approx(drop.to_numpy(), abs=1e-9)
    contact = pd.Series(truth["pain_point"]["repeat_contact"]["rates"])
    assert ft.loc[contact.index, "contact_rate"].to_numpy() == pytest.approx(contact.to_numpy(), abs=1e-9)
    assert result.friction.top("contact", 1).touchpoint.iloc[0] == truth["pain_point"]["repeat_contact"]["highest"]


def test_the_unresolved_ticket_hazard_ratio_is_recovered(demo):
    result, truth = demo
    planted = truth["ticket_hazard"]
    churn = result.churn
    assert churn.hazard_ratio.covers(planted["hazard_ratio_unresolved"])
    assert churn.prior_purchase_ratio.covers(planted["hazard_ratio_per_prior_purchase"])
    # the same units and events as the planted definition (which follows every unit from its ticket;
    # the comparison itself starts at the landmark, 7 days later)
    t = churn.units
    sample = planted["sample"]
    assert (len(t), int(t.unresolved.sum()), int(t.event.sum()), int((t.event & t.unresolved).sum())) == (
        sample["units"], sample["unresolved_units"], sample["events"], sample["unresolved_events"])


def test_the_emotion_curve_matches_the_planted_csat_by_stage_and_dips_at_purchase(demo):
    result, truth = demo
    planted = truth["pain_point"]["emotion"]["csat_by_stage"]
    csat = result.emotion.metric("csat").set_index("stage")
    for stage, value in planted["sample"].items():
        assert csat.loc[stage, "estimate"] == pytest.approx(value, abs=1e-9)
        assert csat.loc[stage, "ci_low"] <= planted["expected"][stage] <= csat.loc[stage, "ci_high"]
    assert result.emotion.lowest_stage("csat") == planted["lowest"] == "purchase"


def test_key_drivers_follow_the_planted_importance_order(demo):
    result, truth = demo
    order = [d for d in truth["drivers"]["importance_order"] if d in set(result.drivers.table.driver)]
    assert len(order) >= 4
    assert result.drivers.table.driver.tolist() == order
    assert result.drivers.table.lmg.sum() == pytest.approx(result.drivers.r2)


def test_payment_is_the_top_complaint_and_its_quotes_are_about_payment(demo):
    result, truth = demo
    assert result.voice.top_complaint() == "payment"
    payment = result.voice.topics.set_index("topic").loc["payment"]
    assert payment.mean_sentiment < result.voice.feedback.sentiment.mean()
    pay = result.register.table.set_index("touchpoint").loc["payment_error"]
    assert pay.top_topic == "payment" and pay.top_topic_share > 0.5


# --------------------------------------------------------------------------- the HTML report
SCRIPT_COMMENT = ("Terrible, awful, horrible payment!! Worst checkout ever, I hate it "
                  "<script>alert('x')</script> write to jane.doe@example.com or call me on +44 20 7946 0958.")


def _visible_text(page: str) -> str:
    page = re.sub(r"<style.*?</style>", " ", page, flags=re.S)
    page = re.sub(r"<script.*?</script>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_report_shows_quotes_as_text_with_emails_and_phones_redacted(tmp_path):
    folder = write_study(tmp_path / "small", customers=3000, seed=3)
    surveys = pd.read_csv(folder / "surveys.csv", dtype=str, keep_default_na=False)
    target = surveys.index[surveys.touchpoint == "payment_error"][0]
    surveys.loc[target, "comment"] = SCRIPT_COMMENT
    surveys.to_csv(folder / "surveys.csv", index=False)

    result = run_study(folder, stages=["pain_points"])
    assert result.ok, result.failed and result.failed.error
    page = (result.run_dir / "04_pain_points.html").read_text()
    assert "<script>alert" not in page                      # the comment stays inert …
    assert "&lt;script&gt;alert(" in page                   # … and is shown as text
    text = _visible_text(page)
    assert "Worst checkout ever" in text and "[email]" in text and "[phone]" in text
    assert not EMAIL_RE.search(text), EMAIL_RE.search(text)
    assert not PHONE_RE.search(text), PHONE_RE.search(text)
    assert "Traceback" not in page and "PosixPath" not in text
    for name in ("pain_points.parquet", "emotion_curve.parquet"):
        assert (published_dir(folder) / name).exists()
