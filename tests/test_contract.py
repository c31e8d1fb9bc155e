"""The data contract: each kind of bad input gets an error naming file, column and rows;
surprises are warnings and nothing is dropped; raw files are never modified."""
from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from cxlab.paths import published_dir
from cxlab import data
from cxlab.errors import DataError, ParameterError, StudyError
from cxlab.study import Study
from conftest import log

GOOD = log(
    ("c1", "2025-01-01 10:00", "ad"),
    ("c1", "2025-01-01 10:05", "view"),
    ("c1", "2025-01-02 09:00", "buy", 25.0),
    ("c2", "2025-01-03 12:00", "ad"),
)


def only_error(report) -> data.Problem:
    assert len(report.errors) == 1, str(report)
    return report.errors[0]


def test_good_study_has_no_errors(make_study):
    report = data.validate(make_study(events=GOOD))
    assert report.ok and report.rows == {"customers": 2, "events": 4}


def test_missing_column_names_file_and_column(make_study):
    report = data.validate(make_study(events=GOOD.drop(columns="touchpoint")))
    p = only_error(report)
    assert (p.file.name, p.column) == ("events.csv", "touchpoint")
    assert "required column is missing" in str(p) and "customer_id, timestamp" in str(p)


def test_unparseable_timestamp_names_rows_and_values(make_study):
    bad = GOOD.copy()
    bad.loc[1, "timestamp"] = "2025-13-01"
    bad.loc[3, "timestamp"] = "yesterday"
    p = only_error(data.validate(make_study(events=bad)))
    assert (p.file.name, p.column, p.count, p.rows) == ("events.csv", "timestamp", 2, [2, 4])
    text = str(p)
    assert "row 2 (line 3): '2025-13-01'" in text and "row 4 (line 5): 'yesterday'" in text


def test_timestamps_with_offsets_are_converted_to_utc(make_study):
    ev = GOOD.copy()
    ev.loc[0, "timestamp"] = "2025-01-01T10:00:00+02:00"
    study = Study.load(make_study(events=ev))
    data.write_clean_tables(study)
    clean = pd.read_parquet(data.clean_path(study, "events"))
    assert clean.loc[clean.seq == 1, "timestamp"].iloc[0] == pd.Timestamp("2025-01-01 08:00")


def test_wrong_type_and_out_of_range_scores(make_study):
    surveys = pd.DataFrame(
        {
            "response_id": ["r1", "r2", "r3", "r4"],
            "customer_id": ["c1", "c1", "c2", "c2"],
            "timestamp": ["2025-01-05"] * 4,
            "nps": [11, 7, -1, 9.5],
            "csat": [5, "great", 3, 0],
            "ces": [1, 7, 8, None],
        }
    )
    report = data.validate(make_study(events=GOOD, surveys=surveys))
    by_column = {(p.column, p.message.split()[-1]): p for p in report.errors}
    assert {p.column for p in report.errors} == {"nps", "csat", "ces"}
    nps = next(p for p in report.errors if p.column == "nps")
    assert nps.rows == [1, 3, 4] and "0 to 10" in nps.message
    csat_type = next(p for p in report.errors if p.column == "csat" and "not a number" in p.message)
    assert csat_type.rows == [2] and csat_type.values == ["great"]
    csat_range = next(p for p in report.errors if p.column == "csat" and "range" in p.message)
    assert csat_range.rows == [4]
    ces = next(p for p in report.errors if p.column == "ces")
    assert ces.rows == [3] and "1 to 7" in ces.message
    assert len(by_column) >= 3


def test_empty_table(make_study):
    customers = pd.DataFrame({"customer_id": ["c1", "c2"]})
    p = only_error(data.validate(make_study(events=GOOD.iloc[0:0], customers=customers)))
    assert p.file.name == "events.csv" and "empty" in p.message


def test_duplicate_ids(make_study):
    customers = pd.DataFrame({"customer_id": ["c1", "c2", "c2"], "age": [30, 40, 41]})
    p = only_error(data.validate(make_study(events=GOOD, customers=customers)))
    assert (p.file.name, p.column, p.rows) == ("customers.csv", "customer_id", [2, 3])


def test_unknown_customer(make_study):
    ev = pd.concat([GOOD, log(("ghost", "2025-01-04 10:00", "ad"))], ignore_index=True)
    p = only_error(data.validate(make_study(events=ev, customers=pd.DataFrame({"customer_id": ["c1", "c2"]}))))
    assert p.column == "customer_id" and p.rows == [5] and p.values == ["ghost"]


def test_unknown_customer_in_parquet_names_rows(make_study):
    ev = pd.concat([GOOD, log(("ghost", "2025-01-04 10:00", "ad"))], ignore_index=True)
    ev["timestamp"] = pd.to_datetime(ev["timestamp"])
    folder = make_study(events=ev, customers=pd.DataFrame({"customer_id": ["c1", "c2"]}), fmt="parquet")
    p = only_error(data.validate(folder))
    assert (p.file.name, p.rows) == ("events.parquet", [5])
    assert "(line" not in str(p)  # parquet has no lines


def test_ticket_closed_before_opened(make_study):
    tickets = pd.DataFrame(
        {"ticket_id": ["t1", "t2"], "customer_id": ["c1", "c2"],
         "opened_at": ["2025-01-05 10:00", "2025-01-05 10:00"],
         "closed_at": ["2025-01-06 10:00", "2025-01-04 10:00"], "resolved": ["true", "false"]}
    )
    p = only_error(data.validate(make_study(events=GOOD, tickets=tickets)))
    assert (p.column, p.rows) == ("closed_at", [2])


def test_uncatalogued_touchpoint_is_a_warning_and_kept(make_study):
    ev = pd.concat([GOOD, log(("c2", "2025-01-04 10:00", "chatbot"), ("c2", "2025-01-04 10:01", "chatbot"))],
                   ignore_index=True)
    study = Study.load(make_study(events=ev))
    report = data.write_clean_tables(study)
    assert report.ok
    warning = next(w for w in report.warnings if "not in the catalog" in w.message)
    assert "chatbot (2 events)" in warning.message and warning.count == 2
    clean = pd.read_parquet(data.clean_path(study, "events"))
    assert len(clean) == 6
    assert clean.loc[clean.touchpoint == "chatbot", "stage"].tolist() == ["uncatalogued"] * 2
    assert clean.loc[clean.touchpoint == "buy", "stage"].iloc[0] == "purchase"


def test_raw_files_are_not_modified_and_errors_write_nothing(make_study):
    folder = make_study(events=GOOD)
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    study = Study.load(folder)
    data.write_clean_tables(study)
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    assert before == after
    assert sorted(p.name for p in study.processed_dir.glob("*.parquet")) == ["customers.parquet", "events.parquet"]

    bad = make_study(name="bad", events=GOOD.assign(timestamp="never"))
    with pytest.raises(DataError) as info:
        data.write_clean_tables(bad)
    assert "events.csv, column 'timestamp'" in str(info.value)
    assert not Study.load(bad).processed_dir.exists()


def test_study_yaml_is_loaded_safely(tmp_path):
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "study.yaml").write_text("tables: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(StudyError, match="not valid YAML"):
        Study.load(folder)


def test_table_paths_stay_inside_the_study(make_study, tmp_path):
    folder = make_study(events=GOOD)
    text = (folder / "study.yaml").read_text().replace("events: events.csv", "events: ../../etc/passwd.csv")
    (folder / "study.yaml").write_text(text)
    with pytest.raises(StudyError, match="outside the study folder"):
        Study.load(folder)
    with pytest.raises(ParameterError):
        Study.load(make_study(name="ok", events=GOOD)).path("../secret.csv")


def test_study_yaml_problems_are_listed_together(make_study):
    folder = make_study(events=GOOD, stages=["a"], goal_touchpoints=["nope"])
    with pytest.raises(StudyError) as info:
        Study.load(folder)
    text = str(info.value)
    assert "'goal_touchpoints': 'nope' is not in the touchpoint catalog" in text
    assert "touchpoints.ad.stage" in text  # catalog stages no longer in the stage list


def test_engine_cached_builds_once_per_clean_log_and_forgets_on_reset(make_study):
    import os

    from cxlab import engine

    folder = make_study(events=log(("c1", "2025-01-01 10:00", "ad"), ("c2", "2025-01-02 10:00", "buy", 5.0)))
    study = data.ensure_clean(folder)
    builds = []

    def build():
        builds.append(1)
        ev = engine.events(study)
        return ev.group_by("customer_id").aggregate(n=ev.count())

    first = engine.cached(study, ("per_customer",), build)
    again = engine.cached(study, ("per_customer",), build)
    assert len(builds) == 1 and again is first
    assert sorted(engine.to_pandas(first).customer_id) == ["c1", "c2"]
    # the clean log rewritten from new input data: built anew, from the new data
    events = log(("c1", "2025-01-01 10:00", "ad"), ("c2", "2025-01-02 10:00", "buy", 5.0),
                 ("c3", "2025-01-03 10:00", "ad"))
    customers = pd.DataFrame({"customer_id": ["c1", "c2", "c3"]})
    folder = make_study(events=events, customers=customers)
    study = data.ensure_clean(folder)
    rebuilt = engine.cached(study, ("per_customer",), build)
    assert len(builds) == 2
    assert sorted(engine.to_pandas(rebuilt).customer_id) == ["c1", "c2", "c3"]
    # the same data again (a touched file, the same bytes): the cached table is kept
    path = data.clean_path(study, "events")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert engine.cached(study, ("per_customer",), build) is rebuilt and len(builds) == 2
    engine.reset()
    engine.cached(study, ("per_customer",), build)
    assert len(builds) == 3
    engine.reset()


def test_a_kept_table_is_read_back_only_for_the_clean_tables_it_came_from(make_study):
    folder = make_study(events=log(("c1", "2025-01-01 10:00", "ad")))
    study = Study.load(folder)
    frame = pd.DataFrame({"text": ["a"], "sentiment": [0.5]})
    assert data.keep_for_clean(study, "scores", frame) is False  # no clean tables yet: nothing kept
    assert not study.processed("scores.parquet").exists()
    data.ensure_clean(study)
    assert data.keep_for_clean(study, "scores", frame, scorer="test") is True
    pd.testing.assert_frame_equal(data.kept_for_clean(study, "scores"), frame)
    assert data.read_json(study.processed("scores.json"))["scorer"] == "test"
    data.write_json({"fingerprint": "other data"}, study.processed("clean.json"))
    assert data.kept_for_clean(study, "scores") is None
    assert data.kept_for_clean(study, "never_kept") is None


# --------------------------------------------------------------------------- the intake stage
def test_intake_analyze_writes_the_clean_tables_and_its_record(make_study, project_home):
    import json

    from cxlab import intake

    folder = make_study(events=pd.concat([GOOD, log(("c2", "2025-01-04 08:00", "chat"))], ignore_index=True))
    result = intake.analyze(folder)
    processed = published_dir(folder)
    assert (processed / "events.parquet").exists() and (processed / "clean.json").exists()  # by analyze itself
    assert result.write() == {}  # no output for later stages beyond the clean tables
    record = json.loads((processed / "summary_intake.json").read_text())
    assert record["stage"] == "intake" and record["parameters"] == {}
    assert record["inputs"] == json.loads((processed / "clean.json").read_text())["fingerprint"]
    assert record["metrics"] == {"events": 5, "customers": 2}
    assert record["headlines"][0] == "5 events from 2 of 2 customers, 01 Jan 2025 to 04 Jan 2025."
    assert ("1 touchpoint(s) in the log are missing from the catalog (1 events kept as 'uncatalogued'): chat"
            in record["headlines"])
    assert list(result.coverage.query("status == 'not in catalog'").touchpoint) == ["chat"]
    assert list(result.overview["rows"]) == [2, 5]
    assert len(result.warnings()) == 2  # the uncatalogued touchpoint, and four catalogued ones never seen
    assert record["headlines"][-1] == "The data passed every contract check (2 warning(s))."


def test_intake_on_bad_data_stops_and_writes_no_record(make_study, project_home):
    from cxlab import intake

    folder = make_study(events=GOOD.drop(columns="touchpoint"))
    with pytest.raises(DataError, match="touchpoint"):
        intake.analyze(folder)
    assert not (published_dir(folder) / "summary_intake.json").exists()
