"""study.yaml's shape (cxlab.schema): a value of the wrong shape, a name that does not exist, a
file that is not UTF-8, a key written twice or an alias bomb gives `cxlab validate` exit code 2
and a message naming the key and the shape expected, never a traceback."""
from __future__ import annotations

import pytest
import yaml
from conftest import log

from cxlab import cli, schema
from cxlab.errors import StudyError
from cxlab.study import Study

EVENTS = log(("c1", "2025-01-01 10:00", "ad"), ("c1", "2025-01-02 10:00", "buy", 5.0))
WINDOW = {"start": "2025-01-01", "end": "2025-01-31"}


def objective(**changes):
    return [{"id": "o1", "goal": "Grow", "kpi": "conversion_rate", "baseline": WINDOW, "target": {"relative": 0.1},
             **changes}]


def intervention(**changes):
    return [{"id": "iv", "date": "2025-01-15", "design": "pre_post", "kpis": ["conversion_rate"], **changes}]


def validate(folder, capsys) -> tuple[int, str]:
    code = cli.main(["validate", str(folder)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# (study.yaml keys, the key named, words of the message that says the shape or the fix)
CASES = {
    "attribute kind written bare": (
        {"customer_attributes": {"region": "category"}}, "customer_attributes.region",
        ["expected {kind: numeric|category|date}", "got the text 'category'", "write region: {kind: category}"]),
    "engine written bare": (
        {"engine": "duckdb"}, "engine",
        ["expected {backend: duckdb} or {backend: pyspark", "write engine: {backend: duckdb}"]),
    "baseline a date": (
        {"objectives": objective(baseline="2025-01-01")}, "objectives.o1.baseline",
        ["expected {start: YYYY-MM-DD, end: YYYY-MM-DD}", "write baseline: {start: 2025-01-01, end: YYYY-MM-DD}"]),
    "treated a list": (
        {"interventions": intervention(design="did", treated=["North"])}, "interventions.iv.treated",
        ["expected {column: <customer column>, values: [<treated values>]}", 'got a list ["North"]',
         "values: [North]"]),
    "goal touchpoints a number": (
        {"goal_touchpoints": 5}, "goal_touchpoints",
        ["expected a touchpoint name or a list of them", "got the number 5"]),
    "min_effect a list": (
        {"interventions": intervention(min_effect=[0.02, 0.1])}, "interventions.iv.min_effect",
        ["expected a mapping of KPI ids to the smallest change that matters", "got a list [0.02, 0.1]",
         "name the KPI each value is for"]),
    "unknown objective KPI": (
        {"objectives": objective(kpi="conversion")}, "objectives.o1.kpi",
        ["'conversion' is not a KPI id (did you mean conversion_rate?)", "cxlab kpis"]),
    "unknown intervention KPI": (
        {"interventions": intervention(kpis=["conversion_rate", "nsp"])}, "interventions.iv.kpis",
        ["'nsp' is not a KPI id (did you mean nps?)"]),
    "min_effect for a KPI the intervention does not test": (
        {"interventions": intervention(min_effect={"csat_mean": 0.1})}, "interventions.iv.min_effect.csat_mean",
        ["is not one of this intervention's kpis (conversion_rate)"]),
    "unknown correction": (
        {"parameters": {"impact": {"correction": "sidak"}}}, "parameters.impact.correction",
        ["'sidak' must be one of holm, bh, fdr_bh, bonferroni, none"]),
    "bins written with dashes": (
        {"customer_attributes": {"age": {"kind": "numeric", "bins": "18-25-35"}}}, "customer_attributes.age.bins",
        ["expected a list of increasing numbers", "got the text '18-25-35'", "write bins: [18, 25, 35]"]),
    "bins that do not increase": (
        {"customer_attributes": {"age": {"kind": "numeric", "bins": [18, 35, 25]}}}, "customer_attributes.age.bins",
        ["must increase from one edge to the next (got [18, 35, 25])"]),
    "goal touchpoint not in the catalog": (
        {"goal_touchpoints": ["checkout"]}, "goal_touchpoints", ["'checkout' is not in the touchpoint catalog"]),
    "a typo in a top-level key": (
        {"objective": objective()}, "objective",
        ["unknown key (did you mean objectives?)", "study.yaml takes name, title"]),
    "a typo in an intervention": (
        {"interventions": intervention(kpi=["nps"])}, "interventions.iv.kpi",
        ["unknown key (did you mean kpis?)", "an intervention takes id, date, design"]),
    "alpha a text": (
        {"interventions": intervention(alpha="five percent")}, "interventions.iv.alpha",
        ["expected a number between 0 and 1", "got the text 'five percent'"]),
    "stages a text": (
        {"stages": "awareness, purchase"}, "stages", ["expected a list of stage names in journey order"]),
    "a touchpoint's spec a text": (
        {"touchpoints": {"ad": "awareness", "buy": {"stage": "purchase", "channel": "web"}},
         "stages": ["awareness", "purchase"]}, "touchpoints.ad", ["expected {stage: <one of the stages>, channel:"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_validate_names_the_key_and_the_shape_without_a_traceback(case, make_study, capsys):
    config, key, words = CASES[case]
    folder = make_study(events=EVENTS, **config)
    code, output = validate(folder, capsys)
    assert code == 2
    assert "Traceback" not in output and output.startswith("cxlab: error: ")
    assert f"'{key}': " in output
    for w in words:
        assert w in output
    assert output.count("\n  - ") == 1  # this one problem, nothing cascading from it


def test_every_shape_problem_is_listed_at_once(make_study, capsys):
    folder = make_study(events=EVENTS, engine="duckdb", goal_touchpoints=5,
                        customer_attributes={"region": "category"})
    code, output = validate(folder, capsys)
    assert code == 2 and output.startswith("cxlab: error: 3 problem(s) in ")
    for key in ("'engine'", "'goal_touchpoints'", "'customer_attributes.region'"):
        assert key in output


def test_a_latin1_study_yaml_is_refused_naming_the_line(make_study, capsys):
    folder = make_study(events=EVENTS)
    text = (folder / "study.yaml").read_text().replace("title: Tiny test study", "title: Étude café")
    (folder / "study.yaml").write_bytes(text.encode("latin-1"))
    code, output = validate(folder, capsys)
    assert code == 2 and "Traceback" not in output
    line = text.splitlines().index("title: Étude café") + 1
    assert f"is not UTF-8 text: byte 0xc9 on line {line}, column 8" in output
    assert "Save study.yaml as UTF-8" in output
    # the same text in UTF-8 (with a byte-order mark, as Windows editors write it) is fine
    (folder / "study.yaml").write_bytes(text.encode("utf-8-sig"))
    assert Study.load(folder).title == "Étude café"


def test_a_key_written_twice_is_reported_with_both_lines(make_study, capsys):
    folder = make_study(events=EVENTS)
    lines = (folder / "study.yaml").read_text().splitlines()
    lines.append("title: Another title")
    lines.append("touchpoints:")
    lines.append("  ad: {stage: awareness, channel: web, channel: app}")
    (folder / "study.yaml").write_text("\n".join(lines) + "\n")
    code, output = validate(folder, capsys)
    assert code == 2 and "Traceback" not in output
    n = len(lines)
    assert f"'title': is written twice (lines 1 and {n - 2}); YAML would keep only the second" in output
    assert "'touchpoints': is written twice" in output
    assert f"'touchpoints.ad.channel': is written twice (lines {n} and {n})" in output


BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
description: *i
"""


def test_an_alias_bomb_is_refused_before_anything_is_built(make_study, capsys):
    folder = make_study(events=EVENTS)
    (folder / "study.yaml").write_text((folder / "study.yaml").read_text() + BILLION_LAUGHS)
    with pytest.raises(StudyError, match=r"expands through aliases \(\*name\) to more than 100,000 values"):
        Study.load(folder)
    code, output = validate(folder, capsys)
    assert code == 2 and "alias bomb" in output and "Traceback" not in output


def test_an_alias_that_refers_to_itself_is_refused(make_study):
    folder = make_study(events=EVENTS)
    (folder / "study.yaml").write_text((folder / "study.yaml").read_text() + "description: &d [1, *d]\n")
    with pytest.raises(StudyError, match=r"'description\[1\]' \(line \d+\) refers to itself through an alias"):
        Study.load(folder)


def test_a_few_aliases_as_people_write_them_are_fine(make_study):
    folder = make_study(events=EVENTS)
    text = (folder / "study.yaml").read_text() + (
        "objectives:\n"
        "  - {id: o1, goal: Grow, kpi: conversion_rate, baseline: &q1 {start: 2025-01-01, end: 2025-01-31},\n"
        "     target: {relative: 0.1}}\n"
        "  - {id: o2, goal: Keep, kpi: churn_rate, baseline: *q1, target: {relative: -0.1}, direction: decrease}\n")
    (folder / "study.yaml").write_text(text)
    study = Study.load(folder)
    assert [str(o.baseline_end.date()) for o in study.objectives] == ["2025-01-31", "2025-01-31"]


def test_single_names_stand_for_lists_of_one(make_study):
    folder = make_study(events=EVENTS, goal_touchpoints="buy",
                        interventions=intervention(design="did", kpis="nps", treated={"column": "region",
                                                                                      "values": "North"}))
    study = Study.load(folder)
    assert study.goal_touchpoints == ["buy"]
    assert study.interventions[0].kpis == ("nps",) and study.interventions[0].treated_values == ("North",)


def test_the_python_tag_stays_refused(make_study):
    folder = make_study(events=EVENTS)
    (folder / "study.yaml").write_text("tables: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(StudyError, match="not valid YAML"):
        Study.load(folder)


def test_the_schema_names_exactly_the_kpis_and_corrections_the_library_has():
    from cxlab.kpis import KPIS
    from cxlab.stats import METHODS

    assert set(schema.KPI_IDS) == set(KPIS)
    assert set(schema.CORRECTIONS) == set(METHODS)


def test_a_study_using_every_key_fits_the_schema(make_study):
    folder = make_study(
        events=EVENTS, study_period={"start": "2025-01-01", "end": "2025-12-31"},
        customer_attributes={"age": {"kind": "numeric", "bins": [18, 25, 35]}, "region": {"kind": "category"},
                             "signup": {"kind": "date"}},
        objectives=objective(direction="increase", intervention="iv"),
        interventions=intervention(design="did", treated={"column": "region", "values": ["North"]}, alpha=0.05,
                                   min_effect={"conversion_rate": 0.02}, description="New checkout"),
        parameters={"impact": {"correction": "bh"}, "touchpoints": {"conversion_window_days": 7}},
        engine={"backend": "duckdb", "threads": 2}, conversion_window_days=14)
    config = yaml.safe_load((folder / "study.yaml").read_text())
    assert schema.shape_problems(config) == [] and schema.reference_problems(config) == []
    study = Study.load(folder)
    assert study.interventions[0].min_effect == {"conversion_rate": 0.02}
