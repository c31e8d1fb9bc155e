"""The shape matrix: every stage on every real-world shape of a study, in one process.

Each shape (tests/shapes.py) is the synthetic study cut down the way real exports come: events
only, no revenue, one journey stage, one customer, every customer converting, extra columns,
.csv.gz, time-zoned parquet … Every stage runs on it in method order with its ``analyze()`` and
``write()`` (on the ``PAGE_SHAPES`` through the stage notebook's own code cells, so the pages are
exercised too), and the tests check:

- every stage wrote its record, and every note in it is a named skip of the one form
  "Not computed: <section> — needs <input>" — exactly the skips the shape's missing inputs call
  for (``SKIPS``), no more;
- the numbers computed equal the plain study's where the shape holds the same data (the
  touchpoint inventory and the KPI table of a .csv.gz, tz-parquet or extra-column export are
  the plain study's, to the last digit), and are right at the edges (every customer converting:
  a rate of exactly 1 with a Wilson interval whose upper bound is exactly 1.0; none converting:
  0 with a lower bound of exactly 0);
- a handful of shapes run through ``cxlab.report.run_study`` with every stage ok.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pandas as pd
import pytest

from cxlab import engine, impact, intake, journeymap, objectives, painpoints, segments, touchpoints
from cxlab.inventory import inventory
from cxlab.kpis import kpi_table
from cxlab.stages import read_record, stage_names
from cxlab.stats import wilson
from cxlab.study import Study
from shapes import SHAPES, converted_within_window, load_base, make_shape, write_base

ROOT = Path(__file__).resolve().parents[1]
MODULES = {"intake": intake, "objectives": objectives, "segmentation": segments, "touchpoints": touchpoints,
           "pain_points": painpoints, "impact": impact, "journey_map": journeymap}
NOTEBOOKS = {"intake": "00_intake.ipynb", "objectives": "01_objectives.ipynb",
             "segmentation": "02_segmentation.ipynb", "touchpoints": "03_touchpoints.ipynb",
             "pain_points": "04_pain_points.ipynb", "impact": "05_impact.ipynb",
             "journey_map": "06_journey_map.ipynb"}
# fewer k tried and one segment map keep the matrix fast; every shape runs with the same
PARAMETERS = {"segmentation": {"max_k": 5}, "journey_map": {"max_segments": 1}}
# shapes whose stages run through their notebooks' code cells (the page is shown, not only computed)
PAGE_SHAPES = {"events_only", "no_revenue", "one_stage", "one_touchpoint", "one_customer", "all_converting",
               "none_converting", "no_comments"}
SKIP_FORM = re.compile(r"^Not computed: [^\n]+ — needs [^\n]+$")
# the plain study's data in another form: every table computed from it is the plain study's
SAME_DATA = ("extra_columns", "csv_gz", "tz_ns", "tz_us", "tz_ms", "integer_ids", "string_ids")
# the same event log and customers as the plain study, other tables or settings differ
SAME_EVENTS = SAME_DATA + ("no_session", "no_objectives", "no_interventions", "no_comments", "no_ticket_text",
                           "events_customers", "events_only")

# Per shape and stage, the sections skipped (the text between "Not computed: " and " — needs").
# Every stage not listed has no skip.
_NO_SURVEYS = {"pain_points": ["emotion curve and key drivers", "sentiment and complaint topics",
                               "churn after tickets"],
               "journey_map": ["the emotion curve lane of the map"]}
SKIPS: dict[str, dict[str, list[str]]] = {
    "plain": {},
    "events_only": {"objectives": ["KPI breakdowns by customer group"],
                    "segmentation": ["bands of customer attributes"], **_NO_SURVEYS},
    "events_customers": _NO_SURVEYS,
    "no_revenue": {"objectives": ["customer lifetime value"],
                   "segmentation": ["revenue shares and the monetary (M) score"]},
    "no_channel": {},
    "no_session": {},
    "one_stage": {"touchpoints": ["stage funnel"], **_NO_SURVEYS,
                  "journey_map": ["the stage KPI lane of the map", "the emotion curve lane of the map"]},
    "one_touchpoint": {"touchpoints": ["stage funnel", "paths around payment_error"], **_NO_SURVEYS,
                       "journey_map": ["the stage KPI lane of the map", "the emotion curve lane of the map"]},
    "no_objectives": {"objectives": ["objectives against targets, their KPI trends and breakdowns"],
                      "impact": ["tests of the hypotheses"]},
    "no_interventions": {"impact": ["tests of the hypotheses"]},
    "no_comments": {},
    "no_ticket_text": {},
    "one_customer": {},
    "twenty_customers": {},
    "all_converting": {},
    "none_converting": {},
    "extra_columns": {},
    "csv_gz": {},
    "tz_ns": {},
    "tz_us": {},
    "tz_ms": {},
    "integer_ids": {},
    "string_ids": {},
}


def run_notebook(stage: str, monkeypatch, **parameters) -> tuple[dict, list]:
    """A stage notebook's code cells run in this process as papermill would (the parameters cell,
    then the values given); the notebook's namespace and what it displayed."""
    shown: list = []
    monkeypatch.setattr("IPython.display.display", lambda *objs, **kw: shown.extend(objs))
    name = NOTEBOOKS[stage]
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    namespace: dict = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        exec(compile(cell.source, name, "exec"), namespace)
        if "parameters" in cell.metadata.get("tags", []):
            namespace.update(parameters)
    plt.close("all")
    return namespace, shown


def page_text(shown: list) -> str:
    return "\n".join(str(getattr(o, "data", "")) for o in shown)


@dataclass
class Ran:
    """One shape after every stage ran: its folder, project home, each stage's result, record
    and (for the page shapes) what its page showed."""

    name: str
    folder: Path
    home: Path
    results: dict = field(default_factory=dict)
    records: dict = field(default_factory=dict)
    pages: dict = field(default_factory=dict)

    def study(self) -> Study:
        return Study.load(self.folder)


@pytest.fixture(scope="session")
def base(tmp_path_factory) -> Path:
    return write_base(tmp_path_factory.mktemp("shapes") / "synthetic")


@pytest.fixture(scope="session")
def plain(base, tmp_path_factory) -> dict:
    """The plain study's touchpoint inventory and KPI table, computed directly (not through the
    stages), and its tables as pandas reads them: the reference for the shapes."""
    folder = make_shape("plain", base, tmp_path_factory.mktemp("reference") / "plain")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CXLAB_HOME", str(tmp_path_factory.mktemp("reference_home")))
        study = Study.load(folder)
        tables = load_base(base)
        ref = {"inventory": inventory(study).table, "channels": inventory(study, by="channel").table,
               "kpis": kpi_table(study, window_days=30, retention_period="month", activity="any"),
               "tables": tables, "converted": converted_within_window(tables)}
        engine.reset()
    return ref


@pytest.fixture(scope="module", params=list(SHAPES))
def ran(request, base, tmp_path_factory) -> Ran:
    """Every stage on one shape, in method order, in this process."""
    name = request.param
    root = tmp_path_factory.mktemp(name)
    shape = Ran(name, make_shape(name, base, root / name), root / "home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CXLAB_HOME", str(shape.home))
        for stage in stage_names():
            params = PARAMETERS.get(stage, {})
            if name in PAGE_SHAPES:
                ns, shown = run_notebook(stage, mp, study=str(shape.folder), **params)
                shape.results[stage], shape.pages[stage] = ns["result"], page_text(shown)
            else:
                shape.results[stage] = MODULES[stage].analyze(shape.folder, **params)
                shape.results[stage].write()
            shape.records[stage] = read_record(shape.study(), stage)
        engine.reset()
    plt.close("all")
    return shape


# --------------------------------------------------------------------------- every stage, every shape
def test_every_stage_writes_its_record_and_names_exactly_the_skips_the_shape_calls_for(ran):
    assert [s for s in stage_names() if ran.records[s] is None] == []
    skipped = {}
    for stage, record in ran.records.items():
        assert record["stage"] == stage
        for note in record["notes"]:
            assert SKIP_FORM.match(note), f"{stage}: a note that is not a named skip: {note!r}"
        assert record["notes"] == [str(n) for n in ran.results[stage].notes]
        sections = [n[len("Not computed: "):n.index(" — needs ")] for n in record["notes"]]
        if sections:
            skipped[stage] = sections
    expected = SKIPS[ran.name]
    assert {s: sorted(set(v)) for s, v in skipped.items() if not s.startswith("_")} == \
        {s: sorted(set(v)) for s, v in expected.items()}


def test_the_numbers_on_the_plain_study_s_data_are_the_plain_study_s(ran, plain):
    inv = ran.results["touchpoints"].inventory.table
    kpis = ran.results["objectives"].kpis.set_index("kpi")
    ref_kpis = plain["kpis"].set_index("kpi")
    if ran.name in ("plain",) + SAME_DATA:
        pd.testing.assert_frame_equal(inv, plain["inventory"], check_exact=True)
        pd.testing.assert_frame_equal(ran.results["touchpoints"].channels.table, plain["channels"], check_exact=True)
        pd.testing.assert_frame_equal(kpis, ref_kpis, check_exact=True)
    elif ran.name in SAME_EVENTS + ("no_revenue",):
        pd.testing.assert_frame_equal(inv, plain["inventory"], check_exact=True)
        common = ref_kpis.index.intersection(kpis.index)
        assert {"conversion_rate", "repeat_purchase_rate", "churn_rate"} <= set(common)
        pd.testing.assert_frame_equal(kpis.loc[common], ref_kpis.loc[common], check_exact=True)
    else:
        pytest.skip(f"{ran.name} holds other data than the plain study")


def test_intake_counts_the_shape_s_rows_and_customers(ran, plain):
    ev = plain["tables"].events
    m = ran.records["intake"]["metrics"]
    if ran.name in SAME_EVENTS + ("plain", "no_revenue", "no_channel"):
        assert (m["events"], m["customers"]) == (len(ev), ev["customer_id"].nunique())
    elif ran.name == "one_customer":
        assert m["customers"] == 1
    elif ran.name == "twenty_customers":
        assert m["customers"] == 20
