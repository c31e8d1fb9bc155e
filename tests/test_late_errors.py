"""study.yaml against the data (issue 17, item 13): what a run used to find only minutes into a
stage — a baseline window or an intervention date outside the event log, a treated column the
customers table lacks, treated values that never occur in it (that one even ran to "0 of 0
hypotheses" and exit 0) — is found by `cxlab validate` (exit 1, as for every data problem) and
stops `cxlab run` before any stage computes anything (exit 2), with a message naming the key of
study.yaml and the column, never a traceback. Unknown KPI ids, an unknown correction and bins
like ``18-25-35`` are study.yaml's shape (tests/test_study_schema.py has them through validate);
here they stop `cxlab run` before a report folder exists."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import log

from cxlab import cli, data, paths

# the log runs from 2025-01-05 09:00 to 2025-06-20 18:30 (planted: the messages must say so)
EVENTS = log(
    ("c1", "2025-01-05 09:00", "ad"), ("c1", "2025-01-06 10:00", "buy", 20.0),
    ("c2", "2025-02-10 11:00", "ad"), ("c2", "2025-02-11 12:00", "view"),
    ("c3", "2025-03-15 08:00", "ad"), ("c3", "2025-03-16 09:00", "buy", 35.0),
    ("c4", "2025-04-01 10:00", "view"), ("c4", "2025-04-02 10:00", "cart"),
    ("c4", "2025-04-02 10:05", "pay_error"), ("c4", "2025-04-03 10:00", "call"), ("c3", "2025-04-04 10:00", "review"),
    ("c5", "2025-05-20 12:00", "ad"), ("c5", "2025-06-20 18:30", "buy", 12.5),
)
LOG_RANGE = "the event log (events.csv) runs from 2025-01-05 09:00 to 2025-06-20 18:30"
# three North customers, two South; store 7 and 9 (a numeric attribute)
CUSTOMERS = pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c4", "c5"],
                          "region": ["North", "South", "North", "South", "North"],
                          "store": [7, 9, 7, 7, 9]})


def objective(start: str, end: str) -> list[dict]:
    return [{"id": "grow", "goal": "Grow", "kpi": "conversion_rate",
             "baseline": {"start": start, "end": end}, "target": {"relative": 0.1}}]


def intervention(date: str = "2025-03-01", design: str = "did", **treated) -> list[dict]:
    spec = {"id": "launch", "date": date, "design": design, "kpis": ["conversion_rate"]}
    if treated:
        spec["treated"] = treated
    return [spec]


# (study.yaml keys, the key named, words of the message)
CASES = {
    "baseline window before the log": (
        {"objectives": objective("2024-01-01", "2024-03-31")}, "objectives.grow.baseline",
        ["the baseline window 2024-01-01 to 2024-03-31 holds no event", LOG_RANGE]),
    "baseline window after the log": (
        {"objectives": objective("2025-07-01", "2025-09-30")}, "objectives.grow.baseline",
        ["the baseline window 2025-07-01 to 2025-09-30 holds no event", LOG_RANGE]),
    "baseline window ending the day before the first event": (
        {"objectives": objective("2024-12-01", "2025-01-04")}, "objectives.grow.baseline",
        ["the baseline window 2024-12-01 to 2025-01-04 holds no event"]),
    "intervention after the last event": (
        {"interventions": intervention("2025-06-21", "pre_post")}, "interventions.launch.date",
        ["2025-06-21 is after the last event", LOG_RANGE, "nothing to measure its effect on"]),
    "intervention before the first event": (
        {"interventions": intervention("2024-11-30", "ab", column="region", values=["North"])},
        "interventions.launch.date",
        ["2024-11-30 is before the first event", LOG_RANGE, "nothing to compare with"]),
    "pre/post intervention on the first day, before its first event": (
        {"interventions": intervention("2025-01-05", "pre_post")}, "interventions.launch.date",
        ["2025-01-05 comes before any event", "a 'pre_post' design compares the time before"]),
    "treated column the customers lack": (
        {"interventions": intervention(column="regoin", values=["North"])}, "interventions.launch.treated.column",
        ["'regoin' is not a column of the customers table (customers.csv has: customer_id, region, store)",
         "did you mean region?"]),
    "treated values that never occur": (
        {"interventions": intervention(column="region", values=["Nowhere", "north"])},
        "interventions.launch.treated.values",
        ["'Nowhere', 'north' never occur in the customers' column 'region', so no customer would be treated;",
         "the column holds 'North' (3), 'South' (2) (customers per value)"]),
    "one treated value of two never occurs": (
        {"interventions": intervention(column="region", values=["North", "Nowhere"])},
        "interventions.launch.treated.values",
        ["'Nowhere' never occurs in the customers' column 'region', so no customer would be treated by that "
         "value"]),
    "a numeric treated value that never occurs": (
        {"interventions": intervention(column="store", values=[8])}, "interventions.launch.treated.values",
        ["'8' never occurs in the customers' column 'store'", "the column holds '7' (3), '9' (2)"]),
}


def _study(make_study, config: dict, name: str = "tiny"):
    return make_study(name, events=EVENTS, customers=CUSTOMERS, **config)


def _cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("case", list(CASES))
def test_validate_finds_study_yaml_against_the_data_naming_the_key(case, make_study, capsys):
    config, key, words = CASES[case]
    folder = _study(make_study, config)
    code, out, err = _cli(["validate", str(folder)], capsys)
    assert code == 1, out + err  # a data problem, as every problem validate finds in the tables
    assert "Traceback" not in out + err and err == ""
    assert out.splitlines()[0].endswith(": 1 error(s), 0 warning(s)"), out
    [line] = [line for line in out.splitlines() if line.startswith("  ERROR")]
    assert line.startswith(f"  ERROR   study.yaml: '{key}': "), line
    for w in words:
        assert w in line, line


def test_the_same_study_without_those_problems_validates(make_study, capsys):
    folder = _study(make_study, {"objectives": objective("2025-01-05", "2025-03-31"),
                                 "interventions": intervention(column="region", values=["North"])})
    code, out, err = _cli(["validate", str(folder)], capsys)
    assert (code, err) == (0, "") and "0 error(s), 0 warning(s)" in out, out
    # the treated store 9 holds two customers: a number in study.yaml matches the numbers in the column
    folder = _study(make_study, {"interventions": intervention(column="store", values=[9])}, "store")
    assert data.validate(folder).ok
    # an a/b test may start on the log's first day (it compares groups, not before with after)
    folder = _study(make_study, {"interventions": intervention("2025-01-05", "ab", column="region",
                                                               values=["North"])}, "ab")
    assert data.validate(folder).ok


def test_a_baseline_window_overlapping_the_log_is_fine_and_problems_are_rows_of_the_report(make_study, capsys):
    # a window that starts before the log (logs rarely start on the 1st) is no problem
    folder = _study(make_study, {"objectives": objective("2024-12-01", "2025-01-05")})
    code, out, _ = _cli(["validate", str(folder)], capsys)
    assert code == 0 and "0 error(s), 0 warning(s)" in out
    folder = _study(make_study, {"objectives": objective("2024-12-01", "2025-01-04")}, "ends_too_early")
    [row] = data.validate(folder).to_frame().to_dict("records")
    assert (row["severity"], row["table"], row["file"], row["column"], row["file column"]) == (
        "error", "events", "study.yaml", "objectives.grow.baseline", "timestamp")


def test_a_treated_column_without_a_customers_table_is_named(make_study, capsys):
    folder = make_study(events=EVENTS, interventions=intervention(column="region", values=["North"]))
    (folder / "customers.csv").unlink()
    text = (folder / "study.yaml").read_text().replace("customers: customers.csv", "")
    (folder / "study.yaml").write_text(text)
    code, out, _ = _cli(["validate", str(folder)], capsys)
    assert code == 1
    assert ("study.yaml: 'interventions.launch.treated.column': the treated group is the customers whose "
            "'region' is one of the treated values, but the study has no customers table") in out


def test_every_problem_of_study_yaml_against_the_data_is_listed_at_once(make_study):
    folder = _study(make_study, {
        "objectives": objective("2024-01-01", "2024-03-31"),
        "interventions": intervention("2026-01-01", column="region", values=["Nowhere"]),
    })
    keys = [p.key for p in data.validate(folder).errors]
    assert keys == ["objectives.grow.baseline", "interventions.launch.date", "interventions.launch.treated.values"]
    # check_study finds the same, without checking every value of every table
    assert [p.key for p in data.check_study(folder).errors] == keys
    # ... and so does the run's first step, writing the clean tables: nothing is written
    with pytest.raises(data.DataError) as caught:
        data.write_clean_tables(folder)
    assert [p.key for p in caught.value.problems] == keys
    assert not (paths.processed_dir(folder) / "clean.json").exists()


def _runs(folder):
    reports = paths.reports_dir(folder)
    return sorted(reports.glob("*/run.json")) if reports.exists() else []


RUN_CASES = ["baseline window before the log", "intervention after the last event",
             "treated column the customers lack", "treated values that never occur"]


@pytest.mark.parametrize("case", RUN_CASES)
def test_cxlab_run_stops_before_any_stage_computes_naming_the_key(case, make_study, capsys):
    config, key, words = CASES[case]
    folder = _study(make_study, config)
    code, out, err = _cli(["run", str(folder)], capsys)
    assert code == 2
    assert "Traceback" not in out + err
    assert err.startswith("cxlab: error: ") and f"study.yaml: '{key}': " in err, err
    for w in words:
        assert w in err
    # no stage computed anything: no report folder at all, or one whose every stage failed or was
    # blocked (the clean tables are the first thing every stage needs, and they are refused)
    for run_json in _runs(folder):
        meta = json.loads(run_json.read_text())
        statuses = {s["stage"]: s["status"] for s in meta["stages"]}
        assert "ok" not in statuses.values(), statuses
        assert statuses["intake"] == "failed" and f"'{key}'" in meta["stages"][0]["error"]
    assert not (paths.processed_dir(folder) / "clean.json").exists()
    assert not list(paths.processed_dir(folder).glob("summary_*.json"))


# study.yaml's shape and names: caught as the study is read, before a report folder is made
SCHEMA_CASES = {
    "unknown KPI id": ({"objectives": [{"id": "grow", "kpi": "conversion", "target": {"relative": 0.1}}]},
                       "objectives.grow.kpi", "'conversion' is not a KPI id (did you mean conversion_rate?)"),
    "unknown correction": ({"parameters": {"impact": {"correction": "sidak"}}}, "parameters.impact.correction",
                           "'sidak' must be one of holm, bh, fdr_bh, bonferroni, none"),
    "bins written with dashes": ({"customer_attributes": {"age": {"kind": "numeric", "bins": "18-25-35"}}},
                                 "customer_attributes.age.bins", "write bins: [18, 25, 35]"),
}


@pytest.mark.parametrize("case", list(SCHEMA_CASES))
def test_cxlab_run_refuses_study_yaml_names_before_a_report_folder_exists(case, make_study, capsys):
    config, key, words = SCHEMA_CASES[case]
    folder = _study(make_study, config)
    for command in (["validate", str(folder)], ["run", str(folder)]):
        code, out, err = _cli(command, capsys)
        assert code == 2, command
        assert "Traceback" not in out + err and err.startswith("cxlab: error: ")
        assert f"'{key}': " in err and words in err
    assert not paths.reports_dir(folder).exists()
