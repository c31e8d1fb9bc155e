"""`cxlab run <study> --stages intake,objectives` on a small synthetic study: the objectives page
renders without code, narrates every objective, and the stage writes its tables, the
pre-registered hypotheses and the summary the run index shows."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from cxlab.objectives import STATUSES
from cxlab.paths import published_dir
from cxlab.report import run_study

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from cxlab.synth import write_study

    folder = tmp_path_factory.mktemp("raw") / "small"
    write_study(folder, customers=3000, seed=11)
    return folder


def test_objectives_stage_renders_and_writes_its_outputs(synthetic, project_home):
    result = run_study(synthetic, stages=["intake", "objectives"])
    assert result.ok, result
    page = (result.run_dir / "01_objectives.html").read_text()
    assert "open_stage(" not in page and "Traceback" not in page
    for goal in ("Turn more first-time visitors into buyers", "More customers recommend us", "Keep buyers buying"):
        assert goal in page
    assert "still to go" in page or "is <strong>met</strong>" in page
    assert "H1: new_checkout (from 2025-07-01) increases the conversion rate for customers with region in North" in page
    processed = published_dir(synthetic)
    hyps = json.loads((processed / "hypotheses.json").read_text())
    assert [h["kpi"] for h in hyps["hypotheses"]] == ["conversion_rate", "csat_mean"]
    objectives = pd.read_parquet(processed / "objectives.parquet")
    assert len(objectives) == 5 and set(objectives["status"]) <= set(STATUSES)
    # the synthetic targets set no date: the page says that on track cannot be judged
    assert "no target date" in page
    assert set(pd.read_parquet(processed / "kpis.parquet")["kpi"]) >= {"conversion_rate", "nps", "ces_mean"}
    assert pd.read_parquet(processed / "clv.parquet")["clv"].gt(0).all()
    summary = json.loads((processed / "summary_objectives.json").read_text())
    assert summary["metrics"]["grow_conversion"]["unit"] == "share" and summary["hypotheses"] == 2
    index = result.index.read_text()
    assert "Objectives and KPIs" in index and "5 objective(s)" in index
