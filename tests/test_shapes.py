"""The shape matrix: every stage on every real-world shape of a study, in one process.

Each shape (tests/shapes.py) is the synthetic study cut down the way real exports come: events
only, no revenue, one journey stage, one customer, every customer converting, extra columns,
.csv.gz, time-zoned parquet … Every stage runs on it in method order with its ``analyze()`` and
``write()`` — on the ``PAGE_SHAPES`` through the stage notebooks' own code cells, so the pages
are exercised too — and the tests check:

- every stage wrote its record, and every note in it is a named skip of the one form
  "Not computed: <section> — needs <input>": exactly the skips the shape's missing inputs call
  for (``SKIPS``), no more, and the pages show them;
- the numbers: the touchpoint inventory and the KPI table of a .csv.gz, time-zoned parquet,
  extra-column or integer-id export are the plain study's (the inventory to the last digit);
  on every shape the inventory's counts and the conversion rate equal an independent count in
  pandas from the shape's own files, with the Wilson interval of statsmodels — and at the edges
  the bounds are exact: every customer converting gives 1.0 with an upper bound of exactly 1.0,
  none converting 0 with a lower bound of exactly 0;
- a handful of shapes run end to end through ``cxlab.report.run_study`` with every stage ok.
"""
from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from cxlab import data, engine, impact, intake, journeymap, objectives, painpoints, segments, touchpoints
from cxlab.inventory import inventory
from cxlab.kpis import kpi_table
from cxlab.report import run_study
from cxlab.stages import read_record, stage_names
from cxlab.study import Study
from conftest import run_notebook
from shapes import SHAPES, Tables, cut, make_shape, write_base

# 23 shapes × 7 stages in one process and three `cxlab run`s: about 4 minutes on 2 cores
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
MODULES = {"intake": intake, "objectives": objectives, "segmentation": segments, "touchpoints": touchpoints,
           "pain_points": painpoints, "impact": impact, "journey_map": journeymap}
NOTEBOOKS = {"intake": "00_intake.ipynb", "objectives": "01_objectives.ipynb",
             "segmentation": "02_segmentation.ipynb", "touchpoints": "03_touchpoints.ipynb",
             "pain_points": "04_pain_points.ipynb", "impact": "05_impact.ipynb",
             "journey_map": "06_journey_map.ipynb"}
# fewer numbers of segments tried and one segment map keep the matrix fast; every shape runs with them
PARAMETERS = {"segmentation": {"max_k": 4}, "journey_map": {"max_segments": 1}}
# shapes whose stages run through their notebooks' code cells: the page is shown, not only computed
PAGE_SHAPES = {"one_touchpoint", "one_customer", "all_converting", "none_converting", "no_comments"}
# shapes run end to end by `cxlab run` (papermill, every page rendered to HTML, the index)
RUN_SHAPES = ("events_only", "no_revenue", "one_stage")
SKIP_FORM = re.compile(r"^Not computed: [^\n]+ — needs [^\n]+$")
WINDOW_DAYS = 30  # the synthetic study's conversion window
# the plain study's data in another form: every number computed from it is the plain study's
SAME_DATA = ("plain", "extra_columns", "csv_gz", "tz_ns", "tz_us", "tz_ms", "integer_ids", "string_ids")
# the plain study's event log, with other tables, columns or settings
SAME_EVENTS = ("no_revenue", "no_session", "no_objectives", "no_interventions", "no_comments", "no_ticket_text",
               "events_customers", "events_only")

# Per shape and stage, the sections skipped (the text between "Not computed: " and " — needs");
# a stage not listed skips nothing. Key drivers of one behavioural segment (too few responses in
# it) are left out here: which segments a shape has is the clustering's business.
SURVEY_KPIS = "the KPIs Net Promoter Score, CSAT (top-2-box), CSAT (mean), Customer effort (mean)"
_NO_FEEDBACK = {"objectives": [SURVEY_KPIS],
                "pain_points": ["emotion curve and key drivers", "sentiment and complaint topics",
                                "churn after tickets"],
                "journey_map": ["the emotion curve lane of the map"]}
_TOO_FEW_FEEDBACK = ["key drivers of CSAT", "churn after tickets", "unresolved tickets as a ranked pain point"]
_NO_ORDERS = {"objectives": ["customer lifetime value"],
              "segmentation": ["RFM scores", "revenue shares and the monetary (M) score"]}
SKIPS: dict[str, dict[str, list[str]]] = {
    "plain": {},
    "events_only": {**_NO_FEEDBACK, "objectives": ["KPI breakdowns by customer group", SURVEY_KPIS],
                    "segmentation": ["bands of customer attributes"]},
    "events_customers": _NO_FEEDBACK,
    "no_revenue": {"objectives": ["customer lifetime value", "the KPIs revenue per customer per month, average order value"],
                   "segmentation": ["revenue shares and the monetary (M) score"]},
    "no_channel": {},
    "no_session": {},
    "one_stage": {**_NO_FEEDBACK, "touchpoints": ["stage funnel"],
                  "journey_map": ["the stage KPI lane of the map", "the emotion curve lane of the map"]},
    "one_touchpoint": {**_NO_FEEDBACK, "touchpoints": ["stage funnel", "paths around payment_error"],
                       "journey_map": ["the stage KPI lane of the map", "the emotion curve lane of the map"]},
    "no_objectives": {"objectives": ["objectives against targets, their KPI trends and breakdowns"]},
    "no_interventions": {"impact": ["tests of the hypotheses"]},
    "no_comments": {},
    "no_ticket_text": {},
    "one_customer": {"objectives": ["customer lifetime value"], "segmentation": ["behavioural segments"],
                     "pain_points": _TOO_FEW_FEEDBACK,
                     "impact": ["the test of H1 (conversion_rate, did)", "the test of H2 (csat_mean, did)"]},
    "twenty_customers": {"pain_points": _TOO_FEW_FEEDBACK, "impact": ["the test of H2 (csat_mean, did)"]},
    "all_converting": {},
    "none_converting": {**_NO_ORDERS, "pain_points": ["churn after tickets",
                                                      "unresolved tickets as a ranked pain point"]},
    "extra_columns": {},
    "csv_gz": {},
    "tz_ns": {},
    "tz_us": {},
    "tz_ms": {},
    "integer_ids": {},
    "string_ids": {},
}


def page_text(shown: list) -> str:
    """What a page showed, as plain text: HTML entities and markdown escapes undone."""
    return html.unescape("\n".join(str(getattr(o, "data", "")) for o in shown)).replace("\\", "")


@dataclass
class Ran:
    """One shape after every stage ran: its tables (as written), folder, project home, and each
    stage's result, record and (for the page shapes) the text its page showed."""

    name: str
    tables: Tables
    folder: Path
    home: Path
    results: dict = field(default_factory=dict)
    records: dict = field(default_factory=dict)
    pages: dict = field(default_factory=dict)


@pytest.fixture(scope="session")
def base(tmp_path_factory) -> Path:
    return write_base(tmp_path_factory.mktemp("shapes") / "synthetic")


@pytest.fixture(scope="session")
def plain(base, tmp_path_factory) -> dict:
    """The plain study's touchpoint inventories and KPI table, computed directly (not through the
    stages): the reference for the shapes that hold the same data."""
    folder = make_shape("plain", base, tmp_path_factory.mktemp("reference") / "plain")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CXLAB_HOME", str(tmp_path_factory.mktemp("reference_home")))
        study = Study.load(folder)
        ref = {"inventory": inventory(study).table, "channels": inventory(study, by="channel").table,
               "kpis": kpi_table(study, window_days=WINDOW_DAYS, retention_period="month", activity="any")}
        engine.reset()
    return ref


@pytest.fixture(scope="module", params=list(SHAPES))
def ran(request, base, tmp_path_factory) -> Ran:
    """Every stage on one shape, in method order, in this process."""
    name = request.param
    root = tmp_path_factory.mktemp(name)
    shape = Ran(name, cut(name, base), make_shape(name, base, root / name), root / "home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CXLAB_HOME", str(shape.home))
        study = Study.load(shape.folder)  # the stages' records are read through it
        for stage in stage_names():
            params = PARAMETERS.get(stage, {})
            if name in PAGE_SHAPES:
                ns, shown = run_notebook(NOTEBOOKS[stage], mp, study=str(shape.folder), **params)
                shape.results[stage], shape.pages[stage] = ns["result"], page_text(shown)
            else:
                shape.results[stage] = MODULES[stage].analyze(shape.folder, **params)
                shape.results[stage].write()
            shape.records[stage] = read_record(study, stage)
        engine.reset()
    plt.close("all")
    return shape


# --------------------------------------------------------------------------- references in pandas
def conversion_reference(t: Tables) -> tuple[int, int]:
    """(converted, customers) of the conversion-rate KPI counted in pandas: customers whose whole
    window after their first touch lies inside the log (up to the end of its last day), and of
    them those with a goal touchpoint within the window."""
    ev = t.events.assign(timestamp=pd.to_datetime(t.events["timestamp"], utc=True).dt.tz_localize(None))
    first = ev.groupby("customer_id")["timestamp"].min()
    window = pd.Timedelta(days=WINDOW_DAYS)
    observed = first[first + window <= ev["timestamp"].max().normalize() + pd.Timedelta(days=1)]
    goals = ev[ev["touchpoint"].isin(t.config["goal_touchpoints"])].merge(
        first.rename("first").reset_index(), on="customer_id")
    converted = set(goals.loc[goals["timestamp"] <= goals["first"] + window, "customer_id"])
    return len(converted & set(observed.index)), len(observed)


def inventory_reference(t: Tables) -> pd.DataFrame:
    """Events and customers per touchpoint, counted in pandas."""
    return t.events.groupby("touchpoint").agg(events=("customer_id", "size"), customers=("customer_id", "nunique"))


# --------------------------------------------------------------------------- every stage, every shape
def test_every_stage_writes_its_record_and_names_exactly_the_skips_the_shape_calls_for(ran):
    assert [s for s in stage_names() if ran.records[s] is None] == []
    skipped = {}
    for stage, record in ran.records.items():
        assert record["stage"] == stage
        assert record["notes"] == [str(n) for n in ran.results[stage].notes]
        for note in record["notes"]:
            assert SKIP_FORM.match(note), f"{stage}: a note that is not a named skip: {note!r}"
        sections = [n[len("Not computed: "):n.index(" — needs ")] for n in record["notes"]]
        sections = [s for s in sections if not re.match(r"key drivers of \w+ in segment ", s)]
        if sections:
            skipped[stage] = sorted(sections)
    assert skipped == {s: sorted(v) for s, v in SKIPS[ran.name].items()}


def test_the_pages_show_every_skip(ran):
    if ran.name not in PAGE_SHAPES:
        # without a page, the record's headlines are what the index shows of each stage
        assert all(ran.records[s]["headlines"] for s in ("intake", "touchpoints", "journey_map"))
        return
    for stage in ("segmentation", "touchpoints", "pain_points"):
        for note in ran.records[stage]["notes"]:
            assert note in ran.pages[stage], f"{stage} page does not show: {note}"
    clv = ran.results["objectives"].note("clv")
    if clv:
        assert clv in ran.pages["objectives"]
    funnel = ran.results["touchpoints"].note("funnel")
    if funnel:
        assert ran.pages["touchpoints"].count(funnel) >= 3  # the notes, the funnel, its breakdowns


def test_counts_of_events_customers_and_segments_are_the_shape_s(ran):
    t = ran.tables
    customers = len(t.customers) if t.customers is not None else t.events["customer_id"].nunique()
    intake_metrics = ran.records["intake"]["metrics"]
    assert (intake_metrics["events"], intake_metrics["customers"]) == (len(t.events), customers)
    seg = ran.results["segmentation"]
    assert len(seg.assignments) == customers
    with_events = t.events["customer_id"].nunique()
    assert len(seg.clusters.labels) == with_events
    if with_events < 3:  # one customer: one segment, said so
        assert seg.clusters.k == 1 and seg.assignments["segment"].tolist() == ["All customers"]
        assert seg.note("clusters") == ("Not computed: behavioural segments — needs at least 3 customers with "
                                        f"events (the study has {with_events}); every customer is in one segment")
        assert ran.records["segmentation"]["metrics"] == {"customers": 1, "clustered_customers": 1, "k": 1,
                                                          "share: All customers": 1.0,
                                                          "revenue share: All customers": 1.0}
    else:
        assert 2 <= seg.clusters.k <= min(4, with_events - 1)
        assert sorted(seg.clusters.sizes.index) == list(range(seg.clusters.k))


def test_the_inventory_counts_what_the_log_holds_and_is_the_plain_study_s_on_the_same_data(ran, plain):
    inv = ran.results["touchpoints"].inventory
    table = inv.table.set_index("touchpoint")
    ref = inventory_reference(ran.tables)
    seen = table[table["customers"] > 0]
    pd.testing.assert_frame_equal(seen[["events", "customers"]].sort_index(), ref.sort_index(),
                                  check_names=False, check_dtype=False)
    ev = ran.tables.events
    goals = ev.loc[ev["touchpoint"].isin(ran.tables.config["goal_touchpoints"]), "customer_id"]
    assert (inv.customers, inv.converted) == (ev["customer_id"].nunique(), goals.nunique())
    if ran.name in SAME_DATA + SAME_EVENTS:
        pd.testing.assert_frame_equal(inv.table, plain["inventory"], check_exact=True)
    if ran.name in SAME_DATA:
        pd.testing.assert_frame_equal(ran.results["touchpoints"].channels.table, plain["channels"], check_exact=True)


def test_the_kpis_are_the_plain_study_s_on_the_same_data(ran, plain):
    kpis = ran.results["objectives"].kpis.set_index("kpi")
    ref = plain["kpis"].set_index("kpi")
    # a KPI that is a mean of amounts is summed in the engine in parallel, in no fixed order: its
    # last digit may differ between any two runs of the same data
    if ran.name in SAME_DATA:
        pd.testing.assert_frame_equal(kpis, ref, check_exact=False, rtol=1e-12)
    elif ran.name in SAME_EVENTS:
        common = sorted(set(ref.index) & set(kpis.index))
        assert {"conversion_rate", "repeat_purchase_rate", "retention_rate", "churn_rate"} <= set(common)
        pd.testing.assert_frame_equal(kpis.loc[common], ref.loc[common], check_exact=False, rtol=1e-12)
        if ran.name == "no_revenue":  # no revenue is no revenue KPI, not a revenue of 0
            assert not {"revenue_per_customer", "average_order_value"} & set(kpis.index)
    else:
        assert set(kpis.index) <= set(ref.index)


def test_conversion_is_an_independent_count_with_its_wilson_interval_exact_at_the_edges(ran):
    conv = ran.results["objectives"].kpis.set_index("kpi").loc["conversion_rate"]
    k, n = conversion_reference(ran.tables)
    assert int(conv["n"]) == n and conv["estimate"] == pytest.approx(k / n, abs=1e-15)
    lo, hi = proportion_confint(k, n, method="wilson")
    assert (conv["ci_low"], conv["ci_high"]) == (pytest.approx(lo, abs=1e-12), pytest.approx(hi, abs=1e-12))
    inv = ran.results["touchpoints"].inventory.table
    reached = inv[inv["customers"] > 0]
    # a goal touchpoint, or one met only after the outcome, has no conversion comparison
    assert reached.loc[reached["touchpoint"].isin(ran.tables.config["goal_touchpoints"]), "conv_touched"].isna().all()
    reached = reached.dropna(subset=["conv_touched"])
    if ran.name in ("all_converting", "none_converting"):
        assert len(reached) > 0  # touchpoints met before the outcome by some customers, not all
    if ran.name in ("all_converting", "one_customer"):
        # every customer converts: 1.0, and the upper bound exactly 1.0 (not 0.9999999999999999)
        assert (conv["estimate"], conv["ci_high"]) == (1.0, 1.0) and 0 < conv["ci_low"] < 1
        assert (reached["conv_touched"] == 1.0).all() and (reached["conv_touched_ci_high"] == 1.0).all()
        by_segment = ran.results["segmentation"].comparison.by_segment.query("kpi == 'conversion'")
        assert (by_segment["estimate"] == 1.0).all() and (by_segment["ci_high"] == 1.0).all()
        variants = ran.results["touchpoints"].variants.table
        assert (variants["conversion_ci_high"][variants["conversion"] == 1.0] == 1.0).all()
    if ran.name == "none_converting":
        # no customer converts: 0, and the lower bound exactly 0 (not 3.5e-18)
        assert (conv["estimate"], conv["ci_low"]) == (0.0, 0.0) and 0 < conv["ci_high"] < 1
        assert (reached["conv_touched"] == 0.0).all() and (reached["conv_touched_ci_low"] == 0.0).all()
        by_segment = ran.results["segmentation"].comparison.by_segment.query("kpi == 'conversion'")
        assert (by_segment["estimate"] == 0.0).all() and (by_segment["ci_low"] == 0.0).all()
    for col in ("conv_touched", "conv_untouched"):  # every interval inside [0, 1] and around its rate
        rows = reached.dropna(subset=[col])
        assert ((rows[f"{col}_ci_low"] >= 0) & (rows[f"{col}_ci_low"] <= rows[col])
                & (rows[col] <= rows[f"{col}_ci_high"]) & (rows[f"{col}_ci_high"] <= 1)).all()


def test_what_the_study_lacks_is_said_where_it_matters(ran, monkeypatch):
    """The parts of a stage a shape cannot have are None (not a crash, not a zero) and named."""
    tp, seg, obj = ran.results["touchpoints"], ran.results["segmentation"], ran.results["objectives"]
    if ran.name in ("one_stage", "one_touchpoint"):
        assert tp.funnel is None and tp.funnel_by_channel is None and tp.funnel_by_segment is None
        assert tp.tables()["funnel"] is None and "stage_funnel_completion" not in ran.records["touchpoints"]["metrics"]
        stages = sorted({s["stage"] for s in ran.tables.config["touchpoints"].values()})
        assert tp.note("funnel") == ("Not computed: stage funnel — needs at least two journey stages with catalogued "
                                     f"touchpoints (the catalog has 1: {stages[0]})")
        assert "the stage KPI lane of the map" in " ".join(ran.records["journey_map"]["notes"])
    else:
        assert tp.funnel is not None and len(tp.funnel.table) >= 2
    if ran.name in ("no_revenue", "none_converting"):
        assert obj.value is None and seg.has_revenue is False
        assert all(not k.startswith("revenue share") for k in ran.records["segmentation"]["metrics"])
        assert all(math.isnan(c.revenue_share) and "of revenue" not in c.summary() for c in seg.cards)
    if ran.name == "no_revenue":
        assert obj.note("clv") == "Not computed: customer lifetime value — needs revenue in the event log"
    if ran.name == "none_converting":
        assert obj.note("clv") == ("Not computed: customer lifetime value — needs orders: customers who reached a "
                                   "goal touchpoint")
    if ran.name == "no_objectives":
        assert obj.objectives is None and obj.trends == {} and obj.breakdowns == {}
    if ran.name in ("no_interventions",):
        assert ran.results["impact"].results is None and ran.records["impact"]["metrics"] == {}
    if ran.name == "events_only":
        monkeypatch.setenv("CXLAB_HOME", str(ran.home))
        customers = data.load(Study.load(ran.folder), "customers")
        first_seen = ran.tables.events.drop_duplicates("customer_id")["customer_id"].astype(str).tolist()
        assert customers["customer_id"].tolist() == first_seen  # the log's ids, in the order they occur


# --------------------------------------------------------------------------- cxlab run, end to end
@pytest.mark.parametrize("name", RUN_SHAPES)
def test_cxlab_run_finishes_every_stage_on_the_shape_and_the_index_names_its_skips(name, base, tmp_path, project_home):
    folder = make_shape(name, base, tmp_path / name)
    overrides = {f"{stage}.{key}": value for stage, params in PARAMETERS.items() for key, value in params.items()}
    result = run_study(folder, overrides=overrides)
    assert result.status == "ok" and result.ok  # `cxlab run` exits 0
    assert [(s.stage, s.status) for s in result.stages] == [(s, "ok") for s in stage_names()]
    index = html.unescape(result.index.read_text())
    notes = {s: read_record(Study.load(folder), s)["notes"] for s in stage_names()}
    assert {s: sorted(n[len("Not computed: "):n.index(" — needs ")] for n in v) for s, v in notes.items() if v} == \
        {s: sorted(v) for s, v in SKIPS[name].items()}
    for note in (n for v in notes.values() for n in v):
        assert note in index, f"the index does not list: {note}"
    if name == "events_only":  # the intake page says where the customers came from
        intake_page = html.unescape((result.run_dir / result.stages[0].html).read_text())
        customers = cut(name, base).events["customer_id"].nunique()
        assert (f"The study has no customers table: its {customers:,} customers are the event log's customer ids, "
                "with no attributes.") in intake_page
