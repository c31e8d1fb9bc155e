"""`cxlab run <study> --stages touchpoints` on a small synthetic study: the page renders without
code, names the planted pain point, shows both Sankey diagrams, and the stage writes the tables
the journey map reads and the summary the run index shows."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from cxlab.paths import published_dir
from cxlab.report import run_study

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from cxlab.synth import write_study

    folder = tmp_path_factory.mktemp("raw") / "small"
    write_study(folder, customers=3000, seed=11)
    return folder


def test_touchpoint_stage_renders_and_writes_its_outputs(synthetic, project_home):
    overrides = {
        "touchpoints.segments_file": str(synthetic / "truth_segments.parquet"),
        "touchpoints.custom_funnel": "web_product_view|app_product_view > web_checkout|app_checkout > web_purchase",
    }
    result = run_study(synthetic, stages=["touchpoints"], overrides=overrides)
    assert result.ok, result
    page = (result.run_dir / "03_touchpoints.html").read_text()
    assert "touchpoints.analyze(" not in page and "Traceback" not in page
    assert "Largest drop-off: Payment error (web or app) (payment_error)" in page
    assert page.count('"type":"sankey"') == 2  # the path diagram and the one around payment_error
    assert "store_loyalists" in page  # the segment breakdown
    processed = published_dir(synthetic)
    inv = pd.read_parquet(processed / "touchpoint_inventory.parquet")
    assert inv.loc[inv.dropoff_rate.idxmax(), "touchpoint"] == "payment_error"
    funnel = pd.read_parquet(processed / "stage_funnel.parquet")
    assert funnel.label.tolist() == ["awareness", "consideration", "purchase", "service", "loyalty"]
    by_segment = pd.read_parquet(processed / "stage_funnel_by_segment.parquet")
    assert set(by_segment.segment) == {"app_natives", "store_loyalists", "bargain_browsers", "omnichannel_premium"}
    assert pd.read_parquet(processed / "transitions.parquet").probability.between(0, 1).all()
    custom = pd.read_parquet(processed / "custom_funnel.parquet")
    assert custom.customers.is_monotonic_decreasing and len(custom) == 3
    summary = json.loads((processed / "summary_touchpoints.json").read_text())
    assert summary["metrics"]["largest_dropoff_touchpoint"] == "payment_error"
    assert "Touchpoints and journeys" in result.index.read_text()
