"""The impact stage's one call on tiny studies: ``impact.analyze(study, ...)`` tests the hypotheses
the objectives stage registered (read through the stage registry, never through the objectives
package), and ``write()`` writes the results and a record stating the parameters used. Without a
registration, or with nothing registered, the page says so plainly. The notebook's code cells
are run here in-process, as papermill would run them."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest

from conftest import WORKED_LOG, log, run_notebook
from cxlab.paths import published_dir
from cxlab import impact, objectives
from cxlab.stages import read_record
from cxlab.study import Study

ROOT = Path(__file__).resolve().parents[1]

EVENTS = log(*WORKED_LOG)  # conftest: the worked log, hand-counted
CUSTOMERS = pd.DataFrame({"customer_id": list("abcdef"), "region": ["N", "S", "N", "S", "N", "S"]})
OBJECTIVES = [
    {"id": "conv", "goal": "Grow online sales", "kpi": "conversion_rate",
     "baseline": {"start": "2025-01-01", "end": "2025-01-31"}, "target": {"relative": 0.10},
     "intervention": "checkout"},
]
INTERVENTIONS = [
    {"id": "checkout", "date": "2025-03-15", "design": "did", "treated": {"column": "region", "values": ["N"]},
     "kpis": ["conversion_rate", "average_order_value"], "alpha": 0.05, "min_effect": {"conversion_rate": 0.02}},
]


def _text(shown: list) -> str:
    return "\n".join(str(getattr(o, "data", "")) for o in shown)


@pytest.fixture
def study(make_study):
    return make_study(events=EVENTS, customers=CUSTOMERS, objectives=OBJECTIVES, interventions=INTERVENTIONS,
                      customer_attributes={"region": {"kind": "category"}})


def test_impact_tests_what_objectives_registered_and_records_its_parameters(study, project_home):
    registered = objectives.analyze(study, conversion_window_days=3)
    registered.write()
    result = impact.analyze(study, correction="bh", power=0.9, freq="week")
    assert result.registration == registered.registration
    written = result.write()
    assert set(written) == {"results"}
    processed = published_dir(study)
    table = pd.read_parquet(processed / "impact_results.parquet")
    assert list(table["hypothesis"]) == ["H1", "H2"]
    assert list(table["kpi"]) == ["conversion_rate", "average_order_value"]
    record = json.loads((processed / "summary_impact.json").read_text())
    assert record["parameters"] == {"correction": "bh", "power": 0.9, "freq": "week"}
    assert record["registration"] == {"registered_at": registered.registration["registered_at"],
                                      "fingerprint": registered.registration["fingerprint"], "hypotheses": 2}
    assert record["glance"][0].endswith("p-values adjusted by Benjamini–Hochberg.")
    # the KPI was computed as registered: conversion within the 3 days the objectives stage used
    frame = result.hypotheses().set_index("id")
    assert frame.loc["H1", "measured"] == "conversion within 3 days of the first touch"
    assert frame.loc["H2", "measured"] == "–"
    # H1's unit table: c, e, f converted within 3 days of 5 uncensored new customers (d censored)
    units = impact.unit_table(Study.load(study), "conversion_rate", **registered.registration["hypotheses"][0]["kpi_options"])
    assert (len(units), units["y"].sum()) == (5, 3.0)


def test_without_objectives_run_the_page_says_so(study, monkeypatch, project_home):
    result = impact.analyze(study)
    assert result.results is None and result.registration is None
    assert result.notes[0].startswith("Not computed: tests of the hypotheses — needs hypotheses registered by the "
                                      "objectives stage (the objectives stage has not registered any hypotheses")
    assert result.write() == {}
    record = read_record(Study.load(study), "impact")
    assert record["parameters"] == {"correction": "holm", "power": 0.8, "freq": "month"}
    assert record["headlines"] == result.notes and record["metrics"] == {}
    ns, shown = run_notebook("05_impact.ipynb", monkeypatch, study=str(study))
    assert _text(shown).count("the objectives stage has not registered any hypotheses") >= 2
    assert not (published_dir(study) / "impact_results.parquet").exists()


def test_with_nothing_registered_the_page_says_so(make_study, monkeypatch):
    path = make_study(name="plain", events=EVENTS, customers=CUSTOMERS)
    objectives.analyze(path).write()
    ns, shown = run_notebook("05_impact.ipynb", monkeypatch, study=str(path))
    assert ns["result"].results is None and ns["result"].registration["hypotheses"] == []
    assert "no hypotheses were registered, because no objective or intervention" in _text(shown)
    assert read_record(Study.load(path), "impact")["notes"] == ns["result"].notes


def test_impact_does_not_import_the_objectives_stage():
    """Stages meet only through the registry: no import of cxlab.objectives anywhere in impact."""
    for path in (ROOT / "src" / "cxlab" / "impact").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [f"{'.' * node.level}{node.module or ''}"] + [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            assert not any("objectives" in n for n in names), (path.name, names)


def test_too_few_rows_for_the_pre_trend_test_is_a_note_not_a_crash(study):
    """On six customers the joint test of the pre-period gaps is degenerate: statsmodels refused
    it ('r_matrix performs f_test …') and the stage stopped; now the test is skipped and says so."""
    objectives.analyze(study).write()
    result = impact.analyze(study)
    did_h1 = result.results.details["H1"]
    assert did_h1.pretrend is None
    assert any(n.startswith("the joint test of the pre-period gaps could not be computed") for n in did_h1.notes)
    checks = result.results.checks().set_index("hypothesis")
    assert checks.loc["H1", "check"] == "parallel trends"
