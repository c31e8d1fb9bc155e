"""The journey map of a synthetic study (``cxlab.synth``) built only from what the stages wrote:
the planted pain touchpoint (truth.json ``pain_point.touchpoint``, payment_error) is the top
pain point, and the emotion curve dips at its stage (truth.json ``pain_point.stage``, purchase).

The stage outputs are written here the way the stage notebooks write them: the objectives table
(notebook 01) where the registry puts it, the touchpoint stage by ``touchpoints.analyze(...).write()``
and the pain-point stage by ``painpoints.analyze(...).write()`` (the last cells of notebooks 03
and 04), and the segments from the synthetic study's planted segments (standing in for the
segmentation stage)."""
from __future__ import annotations

import json
import os
import re

import pandas as pd
import pytest

from cxlab import data, objectives, painpoints, touchpoints
from cxlab.journeymap import figure_texts, journey_map_figure, save_journey_map
from cxlab.journeymap.inputs import load_journey_map, segment_table
from cxlab.stages import output_path
from cxlab.synth import write_study

CUSTOMERS = 4000
SEED = 7


def write_stage_outputs(study) -> None:
    """What notebooks 01, 02, 03 and 04 leave in data/processed/<study>/ for the journey map."""
    data.write_parquet(pd.read_parquet(study.root / "truth_segments.parquet"),
                       output_path(study, "segmentation", "segments"))
    touchpoints.analyze(study).write()
    data.write_parquet(objectives.objectives_table(study).table, output_path(study, "objectives", "objectives"))
    painpoints.analyze(study).write()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """The all-customer map and one segment's map of a small synthetic study, with its truth."""
    home = tmp_path_factory.mktemp("jm_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CXLAB_HOME", str(home))
        folder = write_study(home / "data" / "raw" / "synthetic", customers=CUSTOMERS, seed=SEED)
        study = data.ensure_clean(folder)
        write_stage_outputs(study)
        truth = json.loads((folder / "truth.json").read_text())
        segments = segment_table(study)
        overall = load_journey_map(study)
        one = load_journey_map(study, "bargain_browsers")
        return {"truth": truth, "all": overall, "segment": one, "segments": segments, "home": home,
                "folder": folder}


def test_the_planted_pain_touchpoint_is_the_top_pain_point(synthetic):
    planted = synthetic["truth"]["pain_point"]
    top = synthetic["all"].top_pain_point()
    assert planted["touchpoint"] == "payment_error"
    assert top["name"] == planted["touchpoint"]
    assert top["stage"] == planted["stage"] == "purchase"
    assert top["rank"] == 1
    first = synthetic["all"].opportunities.iloc[0]
    assert first["stage"] == "purchase" and first["reference"] == "payment_error"


def test_the_emotion_curve_dips_at_the_pain_stage(synthetic):
    m = synthetic["all"]
    stage = synthetic["truth"]["pain_point"]["stage"]
    assert m.metrics[0] == "csat"
    assert m.lowest_stage() == stage == synthetic["truth"]["pain_point"]["emotion"]["csat_by_stage"]["lowest"]
    csat = m.emotion_metric("csat")
    # a real dip: purchase's whole interval lies below its neighbours' intervals
    assert csat.loc["purchase", "ci_high"] < csat.loc["consideration", "ci_low"]
    assert csat.loc["purchase", "ci_high"] < csat.loc["service", "ci_low"]
    # and the stage's CSAT is the planted expectation within its interval
    expected = synthetic["truth"]["pain_point"]["emotion"]["csat_by_stage"]["expected"]["purchase"]
    assert csat.loc["purchase", "ci_low"] <= expected <= csat.loc["purchase", "ci_high"]


def test_every_lane_of_the_synthetic_map_is_filled(synthetic):
    m = synthetic["all"]
    assert m.n_customers == CUSTOMERS
    assert set(m.touchpoints.stage) == set(m.stages)
    assert set(m.kpis.stage) == set(m.stages)
    assert set(m.actions.stage) == set(m.stages)
    assert m.kpis.text.iloc[0] == f"{CUSTOMERS:,} customers enter"
    assert m.notes == []
    # the objectives stage's table, one line per objective of the synthetic study.yaml
    assert len(m.objectives) == 5 and m.objectives[0].startswith("Conversion rate ")
    # the touchpoint lane carries the inventory's numbers: events = customers × events per customer,
    # exactly the events truth.json counts per touchpoint
    lane = m.touchpoints.set_index("touchpoint")
    events = (lane["customers"] * lane["events_per_customer"]).round().astype(int).to_dict()
    assert events == synthetic["truth"]["events_by_touchpoint"]


def test_the_segment_map_counts_only_the_segments_customers(synthetic):
    seg = synthetic["segment"]
    sizes = synthetic["segments"].set_index("segment")
    assert seg.segment == "bargain_browsers"
    assert seg.n_customers == sizes.loc["bargain_browsers", "customers"]
    assert seg.kpis.text.iloc[0] == f"{seg.n_customers:,} customers enter"
    # bargain browsers are web-heavy (synth CHANNEL_PREF: 84% web): the top awareness touchpoints are web
    top = seg.top_touchpoints("awareness", 2)
    assert set(top.channel) == {"web"}
    assert seg.lowest_stage() == "purchase"
    assert any("ranked over all customers" in n for n in seg.notes)


def test_the_synthetic_map_is_drawn_and_saved(synthetic, tmp_path):
    fig = journey_map_figure(synthetic["all"])
    shown = {t.get_text() for t in figure_texts(fig)}
    assert fig._cxlab_emotion["lowest"] == "purchase"
    assert any(s.startswith("lowest: ") for s in shown)
    assert "Payment error (web or app)" in shown or "Payment error (web or" in shown
    paths = save_journey_map(fig, tmp_path, "journey_map")
    assert paths["png"].stat().st_size > 50_000 and paths["svg"].stat().st_size > 50_000
    if os.environ.get("CXLAB_KEEP_MAP"):  # look at it: CXLAB_KEEP_MAP=/some/folder pytest ...
        save_journey_map(fig, os.environ["CXLAB_KEEP_MAP"], "journey_map_synthetic")


@pytest.mark.slow
def test_the_stage_notebook_runs_and_saves_the_maps_beside_the_report(synthetic):
    """notebooks/06_journey_map.ipynb under ``cxlab run``: the maps land in the run folder as PNG
    and SVG, the page shows them as images with captions, and the summary names the top pain point."""
    from cxlab.report import run_study

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CXLAB_HOME", str(synthetic["home"]))
        result = run_study(synthetic["folder"], stages=["journey_map"], overrides={"max_segments": 1})
        assert result.ok, result.failed
        names = sorted(p.name for p in result.run_dir.glob("journey_map*"))
        assert names == ["journey_map.png", "journey_map.svg", "journey_map_app_natives.png",
                         "journey_map_app_natives.svg"]
        page = (result.run_dir / "06_journey_map.html").read_text()
        images = re.findall(r'<img alt="([^"]*)"[^>]*src="data:image/png;base64', page)
        assert len(images) == 2 and images[0].startswith("The journey map of all customers (4,000)")
        assert "Figure size" not in page and "Traceback" not in page
        assert 'href="journey_map.png"' in page
        summary = json.loads((synthetic["home"] / "data" / "processed" / "synthetic" / "summary_journey_map.json").read_text())
        assert summary["headlines"][0].startswith("Top pain point: Payment error (web or app) at purchase")
        assert summary["metrics"]["lowest_stage_csat"]["label"] == "CSAT at the lowest stage (purchase)"
        assert summary["segment_maps"] == 1


def test_segment_lanes_from_the_touchpoint_stage_tables_are_the_lanes_computed_here(synthetic):
    """The touchpoint stage writes the inventory, transitions and stage funnel of every segment
    (it runs beside other stages; the journey map runs alone at the end and reads only what the
    stages wrote): the segment map drawn from those tables is the one the touchpoint functions
    give on the segment's own events, and drawing it reads no event."""
    from cxlab import engine, journeys
    from cxlab.journeymap import from_frames, lanes
    from cxlab.study import Study

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CXLAB_HOME", str(synthetic["home"]))
        study = Study.load(synthetic["folder"])
        by_segment = pd.read_parquet(output_path(study, "touchpoints", "inventory_by_segment"))
        assert set(by_segment.segment) == set(synthetic["segments"].segment.astype(str))
        events = journeys.for_segment(study, "bargain_browsers", pd.read_parquet(folder_segments(synthetic)))
        computed = from_frames(
            study.name, study.stages,
            touchpoints=lanes.touchpoints_lane(touchpoints.inventory(events).table),
            actions=lanes.actions_lane(touchpoints.transitions(events).table, study.catalog, study.stages),
            kpis=lanes.kpi_lane(touchpoints.stage_funnel(events, window_days=30).table, study.stages),
        )

        def no_events(*args, **kwargs):
            raise AssertionError("the segment's events were read again")

        mp.setattr(engine, "events", no_events)
        mp.setattr(journeys, "for_segment", no_events)
        drawn = load_journey_map(study, "bargain_browsers")
    for lane in ("touchpoints", "actions", "kpis"):
        pd.testing.assert_frame_equal(getattr(drawn, lane).reset_index(drop=True),
                                      getattr(computed, lane).reset_index(drop=True))
    assert drawn.n_customers == synthetic["segment"].n_customers
    assert drawn.lane_notes["kpis"] == "stage funnel, 30-day window"


def folder_segments(synthetic):
    return synthetic["folder"] / "truth_segments.parquet"
