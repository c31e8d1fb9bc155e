"""The objectives stage's one call on tiny studies: ``objectives.analyze(study, ...)`` computes every
part of the page once and ``write()`` writes the registry's outputs and a record stating the
parameters actually used (the conversion window resolved from the study); a study without
objectives, or whose log has no revenue, gets a page that says what is missing instead of a crash.
The notebook's code cells are run here in-process, as papermill would run them."""
from __future__ import annotations

import re

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest

from conftest import WORKED_LOG, log, run_notebook
from cxlab.paths import published_dir
from cxlab import objectives
from cxlab.stages import read_output, read_record
from cxlab.study import Study

ROOT = Path(__file__).resolve().parents[1]

EVENTS = log(*WORKED_LOG)  # conftest: the worked log, hand-counted
CUSTOMERS = pd.DataFrame({"customer_id": list("abcdef"), "region": ["N", "S", "N", "S", "N", "S"]})
OBJECTIVES = [
    {"id": "conv", "goal": "Grow online sales", "kpi": "conversion_rate",
     "baseline": {"start": "2025-01-01", "end": "2025-01-31"}, "target": {"relative": 0.10},
     "intervention": "checkout"},
    {"id": "churn", "goal": "Keep customers", "kpi": "churn_rate",
     "baseline": {"start": "2025-01-01", "end": "2025-02-28"}, "target": {"relative": 0.5}},
]
INTERVENTIONS = [
    {"id": "checkout", "date": "2025-03-15", "design": "did", "treated": {"column": "region", "values": ["N"]},
     "kpis": ["conversion_rate"], "alpha": 0.05, "min_effect": {"conversion_rate": 0.02}},
]
ATTRIBUTES = {"region": {"kind": "category"}}


@pytest.fixture
def study(make_study):
    return make_study(events=EVENTS, customers=CUSTOMERS, objectives=OBJECTIVES, interventions=INTERVENTIONS,
                      customer_attributes=ATTRIBUTES, conversion_window_days=60)


def _text(shown: list) -> str:
    """What the displayed objects say; Markdown as it reads once rendered (a value's Markdown
    syntax is backslash-escaped so that it shows as text: ``difference\\-in\\-differences``)."""
    from IPython.display import Markdown

    def read(o) -> str:
        text = str(getattr(o, "data", ""))
        return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text) if isinstance(o, Markdown) else text

    return "\n".join(read(o) for o in shown)


def _conversion(study_path) -> pd.Series:
    kpis = read_output(Study.load(study_path), "objectives", "kpis").set_index("kpi")
    return kpis.loc["conversion_rate"]


# --------------------------------------------------------------------------- analyze + write
def test_analyze_and_write_record_the_window_the_study_sets(study, project_home):
    result = objectives.analyze(study)
    written = result.write()
    assert set(written) == {"kpis", "objectives", "hypotheses"}  # no CLV on six customers: see the note
    processed = published_dir(study)
    record = json.loads((processed / "summary_objectives.json").read_text())
    # 0 means "the study's window": the record states the 60 days study.yaml sets, not 0
    assert record["parameters"]["conversion_window_days"] == 60
    assert record["parameters"]["retention_period"] == "month" and record["parameters"]["clv_months"] == 12
    assert record["hypotheses"] == 1 and record["outputs"]["objectives"] == "objectives.parquet"
    # a 60-day window converts b and censors e, f and d: 3 of 3 new customers converted
    conv = _conversion(study)
    assert (conv["estimate"], conv["n"]) == (1.0, 3)
    hyps = json.loads((processed / "hypotheses.json").read_text())
    assert hyps["hypotheses"][0]["kpi_options"] == {"window_days": 60}
    assert len(pd.read_parquet(processed / "objectives.parquet")) == 2
    assert "within 60 days of the first touch" in result.kpi_caption()
    assert not (processed / "clv.parquet").exists()
    assert "Only 2 customers have repeat purchases with revenue" in result.note("clv")
    assert record["notes"] == [result.note("clv"), result.note("survey_kpis")]  # the study has no surveys
    assert result.note("survey_kpis") == ("Not computed: the KPIs Net Promoter Score, CSAT (top-2-box), CSAT (mean), "
                                          "Customer effort (mean) — needs survey responses (a surveys table)")


def test_a_window_given_in_the_call_is_used_and_recorded(study):
    result = objectives.analyze(study, conversion_window_days=3)
    result.write()
    record = read_record(Study.load(study), "objectives")
    assert record["parameters"]["conversion_window_days"] == 3
    # within 3 days: c, e and f converted, a (4 days) and b did not; d censored: 3 of 5
    conv = _conversion(study)
    assert (conv["estimate"], conv["n"]) == (0.6, 5)
    assert result.registration["hypotheses"][0]["kpi_options"] == {"window_days": 3}
    assert result.window_text() == "conversion within 3 days of the first touch"


def test_the_page_states_the_window_the_kpis_used(study, monkeypatch):
    ns, shown = run_notebook("01_objectives.ipynb", monkeypatch, study=str(study), conversion_window_days=3)
    text = _text(shown)
    assert "Conversion counts a goal touchpoint within 3 days of the first touch." in text
    assert "Grow online sales" in text and "H1: checkout (from 2025-03-15) increases the conversion rate" in text
    assert ("Not computed: customer lifetime value — needs enough repeat buyers with revenue to fit the models "
            "(Only 2 customers") in text.replace("\\", "")
    assert read_record(Study.load(study), "objectives")["parameters"]["conversion_window_days"] == 3


# --------------------------------------------------------------------------- what the study lacks
def test_a_study_without_objectives_gets_a_page_not_a_crash(make_study, monkeypatch, project_home):
    """Before: plt.subplots(0, 1) raised 'Number of rows must be a positive integer, not 0'."""
    path = make_study(name="plain", events=EVENTS, customers=CUSTOMERS, customer_attributes=ATTRIBUTES)
    result = objectives.analyze(path)
    assert result.objectives is None and result.trend_figure() is None and result.breakdown_figure() is None
    assert result.note("objectives").startswith("Not computed: objectives against targets")
    assert result.headlines() == [result.note("objectives")] and result.metrics() == {}
    assert result.registration["hypotheses"] == []
    ns, shown = run_notebook("01_objectives.ipynb", monkeypatch, study=str(path))
    # markdown escapes its syntax characters ("Not computed\\: …"): read the text without them
    assert _text(shown).replace("\\", "").count("Not computed: objectives against targets") >= 3  # findings, table, trends, breakdowns
    processed = published_dir(path)
    assert not (processed / "objectives.parquet").exists()
    assert json.loads((processed / "hypotheses.json").read_text())["hypotheses"] == []
    assert len(pd.read_parquet(processed / "kpis.parquet")) == 6  # the event KPIs; no surveys


def test_a_log_without_revenue_gets_no_clv_and_says_why(make_study, monkeypatch):
    """Before: 'Only 0 customers have repeat purchases with revenue' stopped the stage."""
    no_revenue = EVENTS.assign(revenue=None)
    path = make_study(name="norev", events=no_revenue, customers=CUSTOMERS, objectives=OBJECTIVES[1:],
                      customer_attributes=ATTRIBUTES)
    result = objectives.analyze(path)
    assert result.value is None and result.model_parameters() is None and result.value_by == {}
    assert result.note("clv") == "Not computed: customer lifetime value — needs revenue in the event log"
    assert result.value_findings() == ["So far 5 buyers ordered; the log records no revenue for their orders."]
    ns, shown = run_notebook("01_objectives.ipynb", monkeypatch, study=str(path))
    text = _text(shown)
    assert "Not computed: customer lifetime value — needs revenue in the event log" in text.replace("\\", "")
    assert "Keep customers" in text
    assert not Study.load(path).processed("clv.parquet").exists()
