"""The segmentation stage on a small synthetic study: the clusters find the planted segments,
and the stage writes customer -> segment and persona cards the later stages read."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from cxlab.paths import published_dir
from cxlab.segments import NO_ACTIVITY, analyze, read_segments, truth_agreement

pytestmark = pytest.mark.slow

CUSTOMERS = 5000
SEED = 7


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from cxlab.synth import write_study

    home = tmp_path_factory.mktemp("seg_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CXLAB_HOME", str(home))
        folder = write_study(home / "data" / "raw" / "synthetic", customers=CUSTOMERS, seed=SEED)
        seg = analyze(folder, sentiment=True)
        path = seg.write()["segments"]
        written = read_segments(folder)
        personas = pd.read_parquet(path.parent / "personas.parquet")
    return {"seg": seg, "folder": folder, "written": written, "personas": personas}


def test_clusters_recover_the_planted_segments(synthetic):
    seg = synthetic["seg"]
    agreement = truth_agreement(seg)
    assert seg.clusters.k == 4
    assert agreement["ari"] >= 0.8 and agreement["customers"] == CUSTOMERS
    # each planted segment has one persona holding most of it
    share = agreement["table"].div(agreement["table"].sum(axis=1), axis=0)
    assert (share.max(axis=1) > 0.8).all() and share.idxmax(axis=1).nunique() == 4


def test_persona_names_follow_the_planted_channel_preferences(synthetic):
    agreement = truth_agreement(synthetic["seg"])
    persona_of = agreement["table"].idxmax(axis=1)
    assert persona_of["app_natives"].startswith("App-first")
    assert persona_of["store_loyalists"].startswith("Store-first")
    assert persona_of["bargain_browsers"].startswith("Web-first")
    assert persona_of["omnichannel_premium"].startswith("Multichannel")


def test_segments_file_has_one_row_per_customer_for_later_stages(synthetic):
    written, seg = synthetic["written"], synthetic["seg"]
    assert list(written.columns[:4]) == ["customer_id", "segment", "cluster", "rfm_segment"]
    assert written.customer_id.is_unique and len(written) == CUSTOMERS
    assert set(written.segment) <= set(seg.names.values()) | {NO_ACTIVITY}
    assert set(synthetic["personas"].segment) == set(seg.names.values())


def test_persona_cards_are_safe_to_show(synthetic):
    cards = synthetic["seg"].cards
    truth = json.loads((synthetic["folder"] / "truth.json").read_text())
    assert sum(c.customers for c in cards) == CUSTOMERS and all(len(c.quotes) >= 2 for c in cards)
    page = "".join(c.to_html() for c in cards)
    assert "<script" not in page.lower() and "@" not in page
    assert abs(sum(c.revenue_share for c in cards) - 1) < 1e-9
    assert truth["segments"]["names"]  # the truth file names the planted segments


def test_kpis_differ_between_segments_where_the_synth_planted_it(synthetic):
    tests = synthetic["seg"].comparison.tests.set_index("kpi")
    # planted: order value 28 (browsers) to 240 (premium), conversion 0.22 to 0.62
    assert tests.loc["avg_order_value", "estimate"] > 0.5 and tests.loc["avg_order_value", "p_adjusted"] < 1e-6
    assert tests.loc["conversion", "estimate"] > 0.15 and tests.loc["conversion", "p_adjusted"] < 1e-6


def test_the_stage_notebook_renders_without_code_and_writes_for_later_stages(synthetic, project_home):
    from cxlab.report import run_study

    result = run_study(synthetic["folder"], stages=["segmentation"])
    assert result.ok, result
    page = (result.run_dir / "02_segmentation.html").read_text()
    assert "segment_customers(" not in page and "Traceback" not in page
    for text in ("Persona cards", "adjusted Rand index of 0.", "Store-first", "champions", "epsilon²"):
        assert text in page
    assert "<script>alert" not in page.lower()
    processed = published_dir(synthetic["folder"])  # where a finished run publishes the study's outputs
    assert len(pd.read_parquet(processed / "segments.parquet")) == CUSTOMERS
    summary = json.loads((processed / "summary_segmentation.json").read_text())
    assert summary["metrics"]["k"] == 4 and summary["headlines"][0].startswith("4 behavioural segments")


def test_the_range_of_bought_at_any_time_carries_the_intervals_of_its_two_ends(synthetic):
    from statsmodels.stats.proportion import proportion_confint

    from cxlab.metrics import figures_plain
    from cxlab.segments import NO_ACTIVITY

    seg = synthetic["seg"]
    conv = seg.comparison.by_segment
    conv = conv[(conv.kpi == "conversion") & (conv.segment != NO_ACTIVITY)]
    lo, hi = conv.loc[conv.estimate.idxmin()], conv.loc[conv.estimate.idxmax()]
    line = next(figures_plain(h) for h in seg.headlines() if "ranges from" in h)
    assert f"({lo.segment}; 95% interval {lo.ci_low:.1%}–{lo.ci_high:.1%})" in line
    assert f"({hi.segment}; 95% interval {hi.ci_low:.1%}–{hi.ci_high:.1%})" in line
    assert ("do not overlap" in line) == (lo.ci_high < hi.ci_low)
    # the interval of each end is Wilson's (statsmodels) on its own customers
    low, high = proportion_confint(round(lo.estimate * lo.n), int(lo.n), method="wilson")
    assert (low, high) == pytest.approx((lo.ci_low, lo.ci_high), abs=1e-9)
