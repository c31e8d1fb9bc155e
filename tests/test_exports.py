"""Real exports enter cxlab as they are: extra columns, time zones at any resolution, compressed
CSV, folders of parquet files, the export's own column names, files a spreadsheet or pandas
writes (empty, header only, latin-1, duplicate headers …), non-finite revenue, dates outside the
study; and `cxlab init` drafts a study.yaml from such a folder that `cxlab validate` passes."""
from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from cxlab import data
from cxlab.cli import main
from cxlab.study import Study
from conftest import log

EVENTS = log(
    ("c1", "2025-01-01 10:00", "ad"),
    ("c1", "2025-01-01 10:05", "view"),
    ("c1", "2025-01-02 09:00", "buy", 25.0),
    ("c2", "2025-01-03 12:00", "ad"),
)
# the same four events in UTC when the log's times are Berlin time (UTC+1 in January)
UTC = [pd.Timestamp(t) for t in ("2025-01-01 09:00", "2025-01-01 09:05", "2025-01-02 08:00", "2025-01-03 11:00")]


def longer_log() -> pd.DataFrame:
    """36 events of 6 customers over two months, in time order, with channel and revenue."""
    rows = []
    for i in range(36):
        cid = f"c{i % 6}"
        ts = pd.Timestamp("2025-01-01 08:00") + pd.Timedelta(hours=40 * i)
        tp = ["ad", "view", "cart", "buy"][i % 4]
        rows.append({"customer_id": cid, "timestamp": ts.strftime("%Y-%m-%d %H:%M:%S"), "touchpoint": tp,
                     "channel": ["web", "app", None][i % 3], "revenue": 10.0 + i if tp == "buy" else None})
    return pd.DataFrame(rows)


def clean(folder, table: str = "events") -> pd.DataFrame:
    """A clean table, events in the raw file's order (seq)."""
    study = Study.load(folder)
    data.write_clean_tables(study)
    frame = pd.read_parquet(data.clean_path(study, table))
    return frame.sort_values("seq", ignore_index=True) if table == "events" else frame


def set_table(folder, table: str, spec) -> None:
    """Point study.yaml's ``tables.<table>`` at ``spec`` (a file name or a mapping)."""
    config = yaml.safe_load((folder / "study.yaml").read_text())
    config["tables"][table] = spec
    (folder / "study.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def validate_cli(folder, capsys) -> tuple[int, str]:
    code = main(["validate", str(folder)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out + err


def write_zst(frame: pd.DataFrame, path) -> None:
    with pa.CompressedOutputStream(str(path), "zstd") as stream:
        stream.write(frame.to_csv(index=False).encode())


# --------------------------------------------------------------------------- 1. extra columns
def test_extra_columns_in_every_table_are_kept_raw_and_left_out_of_the_clean_tables(make_study):
    events = EVENTS.assign(page_url=["/a", "/b", "/c", "/a"], price=[1.5, 2.0, 3.0, 4.0])
    customers = pd.DataFrame({"customer_id": ["c1", "c2"], "region": ["N", "S"],
                              "favourite_colour": ["red", "blue"], "loyalty_points": [10, 20]})
    surveys = pd.DataFrame({"response_id": ["r1", "r2"], "customer_id": ["c1", "c2"],
                            "timestamp": ["2025-01-05", "2025-01-06"], "nps": [9, 3], "driver_ease": [4, 2],
                            "browser": ["firefox", "chrome"]})
    tickets = pd.DataFrame({"ticket_id": ["t1"], "customer_id": ["c1"], "opened_at": ["2025-01-04 10:00"],
                            "closed_at": ["2025-01-04 12:00"], "text": ["late parcel"], "agent": ["bob"]})
    folder = make_study(events=events, customers=customers, surveys=surveys, tickets=tickets,
                        customer_attributes={"region": {"kind": "category"}})
    study = Study.load(folder)
    # before: DuckDB "connection has an unfinished result from execute()" on the events' extra column
    report = data.write_clean_tables(study)
    assert report.ok, str(report)
    ignored = {p.file.name: p.message.split(": ")[-1] for p in report.warnings if "does not use" in p.message}
    assert ignored == {"events.csv": "page_url, price", "surveys.csv": "browser", "tickets.csv": "agent"}

    def columns(table):
        return list(pd.read_parquet(data.clean_path(study, table)).columns)

    assert columns("events") == ["seq", "customer_id", "timestamp", "touchpoint", "revenue", "channel", "stage",
                                 "stage_order"]
    assert columns("surveys") == ["response_id", "customer_id", "timestamp", "nps", "driver_ease"]
    assert columns("tickets") == ["ticket_id", "customer_id", "opened_at", "closed_at", "text"]
    # customers keep every column: each is an attribute (declared or not) segmentation and KPIs may use
    kept = pd.read_parquet(data.clean_path(study, "customers"))
    assert kept.to_dict("list") == {"customer_id": ["c1", "c2"], "region": ["N", "S"],
                                    "favourite_colour": ["red", "blue"], "loyalty_points": [10.0, 20.0]}
    assert list(pd.read_csv(folder / "events.csv").columns)[-2:] == ["page_url", "price"]  # raw file untouched
    events_clean = clean(folder)
    assert events_clean.revenue.tolist()[2] == 25.0 and events_clean.seq.tolist() == [1, 2, 3, 4]


# --------------------------------------------------------------------------- 2. time zones
@pytest.mark.parametrize("unit", ["ns", "us", "ms"])
def test_time_zoned_parquet_at_any_resolution_gives_the_same_utc_timestamps(make_study, unit, capsys):
    def berlin(values):
        return pd.to_datetime(pd.Series(values)).dt.tz_localize("Europe/Berlin").dt.as_unit(unit)

    events = EVENTS.assign(timestamp=berlin(EVENTS.timestamp))
    surveys = pd.DataFrame({"response_id": ["r1"], "customer_id": ["c1"], "nps": [8],
                            "timestamp": berlin(["2025-01-05 12:30"])})
    tickets = pd.DataFrame({"ticket_id": ["t1"], "customer_id": ["c2"], "opened_at": berlin(["2025-01-04 10:00"]),
                            "closed_at": berlin(["2025-01-04 09:00"])})  # closes before it opens: still found
    folder = make_study(name=f"tz_{unit}", events=events, surveys=surveys, tickets=tickets, fmt="parquet")
    assert str(pq.read_schema(folder / "events.parquet").field("timestamp").type) == (
        f"timestamp[{unit}, tz=Europe/Berlin]")
    code, text = validate_cli(folder, capsys)
    assert code == 1 and "tickets.parquet, column 'closed_at': 1 tickets close before they open" in text
    assert "2025-01-04 08:00:00+00 < opened 2025-01-04 09:00:00+00" in text  # values shown in UTC

    config = yaml.safe_load((folder / "study.yaml").read_text())
    del config["tables"]["tickets"]
    (folder / "study.yaml").write_text(yaml.safe_dump(config))
    assert validate_cli(folder, capsys)[0] == 0
    ev = clean(folder)
    assert ev.timestamp.tolist() == UTC and str(ev.timestamp.dtype) == "datetime64[us]"
    assert clean(folder, "surveys").timestamp.tolist() == [pd.Timestamp("2025-01-05 11:30")]


# --------------------------------------------------------------------------- 3. compressed and partitioned
def test_compressed_csv_gives_the_same_clean_table_as_the_plain_csv(make_study):
    events = longer_log()
    plain = clean(make_study(name="plain", events=events))
    assert len(plain) == 36
    for suffix in ("gz", "zst"):
        folder = make_study(name=f"compressed_{suffix}", events=events)
        target = folder / f"events.csv.{suffix}"
        if suffix == "gz":
            events.to_csv(target, index=False, compression="gzip")
        else:
            write_zst(events, target)
        (folder / "events.csv").unlink()
        set_table(folder, "events", target.name)
        pd.testing.assert_frame_equal(clean(folder), plain)


def test_a_folder_of_parquet_files_gives_the_same_clean_table_as_one_file(make_study):
    events = longer_log().assign(timestamp=lambda f: pd.to_datetime(f.timestamp))
    one = clean(make_study(name="one_file", events=events, fmt="parquet"))
    # a plain partitioned export: part files, and a _SUCCESS marker that is not data
    folder = make_study(name="parts", events=events, fmt="parquet")
    (folder / "events.parquet").unlink()
    (folder / "events").mkdir()
    for i, part in enumerate(np.array_split(np.arange(36), 3)):
        events.iloc[part].to_parquet(folder / "events" / f"part-{i:05d}.parquet", index=False)
    (folder / "events" / "_SUCCESS").write_text("")
    set_table(folder, "events", "events/")
    pd.testing.assert_frame_equal(clean(folder), one)
    # hive-style: one folder per month; the partition column is not part of the contract
    hive = make_study(name="hive", events=events, fmt="parquet")
    (hive / "events.parquet").unlink()
    for month, part in events.groupby(events.timestamp.dt.strftime("%Y-%m")):
        (hive / "events" / f"month={month}").mkdir(parents=True)
        part.to_parquet(hive / "events" / f"month={month}" / "data.parquet", index=False)
    set_table(hive, "events", "events")
    report = data.validate(hive)
    assert report.ok and any("month" in w.message and "does not use" in w.message for w in report.warnings)
    pd.testing.assert_frame_equal(clean(hive), one)


def test_a_problem_in_a_folder_names_the_part_file_and_its_row(make_study):
    events = longer_log().assign(timestamp=lambda f: pd.to_datetime(f.timestamp))
    events.loc[30, "customer_id"] = "ghost"
    folder = make_study(name="ghost_parts", events=events, customers=pd.DataFrame(
        {"customer_id": [f"c{i}" for i in range(6)]}), fmt="parquet")
    (folder / "events").mkdir()
    events.iloc[:20].to_parquet(folder / "events" / "part-0.parquet", index=False)
    events.iloc[20:].to_parquet(folder / "events" / "part-1.parquet", index=False)
    set_table(folder, "events", "events")
    [problem] = data.validate(folder).errors
    assert str(problem) == ("events/, column 'customer_id': 1 rows name a customer who is not in the customers "
                            "table — row 31 (part-1.parquet row 11): 'ghost'")


# --------------------------------------------------------------------------- 4. column mapping
def test_a_renamed_export_gives_the_same_clean_table_as_the_contract_named_one(make_study):
    events = longer_log()
    plain = clean(make_study(name="contract_named", events=events))
    folder = make_study(name="renamed", events=events)
    export = events.rename(columns={"customer_id": "user_id", "touchpoint": "event", "timestamp": "ts"})
    export.insert(1, "user_agent", "Mozilla/5.0")
    export.to_csv(folder / "export.csv.gz", index=False)
    (folder / "events.csv").unlink()
    set_table(folder, "events", {"file": "export.csv.gz",
                                 "columns": {"customer_id": "user_id", "touchpoint": "event", "timestamp": "ts"}})
    pd.read_csv(folder / "customers.csv").rename(columns={"customer_id": "client"}).to_csv(
        folder / "crm.csv", index=False)
    set_table(folder, "customers", {"file": "crm.csv", "columns": {"customer_id": "client"}})
    study = Study.load(folder)
    assert study.column_maps["events"] == {"customer_id": "user_id", "touchpoint": "event", "timestamp": "ts"}
    pd.testing.assert_frame_equal(clean(folder), plain)
    assert clean(folder, "customers").customer_id.tolist() == [f"c{i}" for i in range(6)]


def test_mapping_errors_name_the_file_the_exports_column_and_the_contracts(make_study, capsys):
    folder = make_study(name="bad_mapping", events=EVENTS)
    export = EVENTS.rename(columns={"customer_id": "user_id", "timestamp": "ts"})
    export.loc[1, "ts"] = "soon"
    export.to_csv(folder / "export.csv", index=False)
    set_table(folder, "events", {"file": "export.csv", "columns": {"customer_id": "usr", "timestamp": "ts",
                                                                   "colour": "touchpoint"}})
    code, text = validate_cli(folder, capsys)
    assert code == 1
    report = data.validate(folder)
    messages = [str(p) for p in report.errors]
    assert ("export.csv, column 'usr' (contract column 'customer_id'): study.yaml maps this column from the "
            "export's column 'usr', which the file does not have (the file has: user_id, ts, touchpoint, "
            "revenue)") in messages
    assert ("export.csv, column 'ts' (contract column 'timestamp'): 1 values are not a parseable timestamp "
            "(use ISO 8601, e.g. 2025-03-01 14:05:00) — row 2 (line 3): 'soon'") in messages
    assert any(m.startswith("export.csv, column 'touchpoint' (contract column 'colour'): study.yaml maps the "
                            "export's column 'touchpoint' to 'colour', which is not a column of the events "
                            "contract") for m in messages)
    assert len(messages) == 3 and "export.csv, column 'ts' (contract column 'timestamp')" in text
    set_table(folder, "events", {"file": "export.csv", "columns": {"customer_id": "user_id", "timestamp": "ts"},
                                 "sheet": 1})
    code, text = validate_cli(folder, capsys)
    assert code == 2 and "'tables.events.sheet': unknown key" in text


# --------------------------------------------------------------------------- 5. files as they come
def _empty(folder):
    (folder / "events.csv").write_bytes(b"")


def _header_only(folder):
    (folder / "events.csv").write_text("customer_id,timestamp,touchpoint\n")


def _latin1(folder):
    (folder / "customers.csv").write_bytes("customer_id,region\nc1,Nord\nc2,Süd\n".encode("latin-1"))


def _duplicate_header(folder):
    (folder / "customers.csv").write_text("customer_id,region,age,Region\nc1,N,30,North\nc2,S,41,South\n")


def _folder_for_a_file(folder):
    (folder / "events.csv").unlink()
    (folder / "events.csv").mkdir()
    EVENTS.to_csv(folder / "events.csv" / "part-1.csv", index=False)


def _missing_folder(folder):
    set_table(folder, "events", "exports/")


def _spreadsheet(folder):
    (folder / "events.xlsx").write_bytes(b"PK\x03\x04")
    set_table(folder, "events", "events.xlsx")


def _epoch_numbers(folder):
    seconds = (pd.to_datetime(EVENTS.timestamp) - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    EVENTS.assign(timestamp=seconds).to_csv(
        folder / "events.csv", index=False)


def _ragged(folder):  # an unquoted comma in a text: a row with more fields than the header
    (folder / "events.csv").write_text("customer_id,timestamp,touchpoint\nc1,2025-01-01,ad\n"
                                       "c1,2025-01-02,buy,paid, thanks\nc2,2025-01-03,ad\n")


def _parquet_named_csv(folder):
    EVENTS.to_parquet(folder / "events.csv")


def _blank_parquet(folder):
    (folder / "events.parquet").write_bytes(b"")
    set_table(folder, "events", "events.parquet")


FILES = {
    "empty file": (_empty, 1, ["events.csv: the file is empty (0 bytes)"]),
    "header only": (_header_only, 1, ["events.csv: the table is empty (it has a header but no rows)"]),
    "latin-1": (_latin1, 1, ["customers.csv: cannot be read as a CSV file:", "This file is not utf-8 encoded",
                             "tables: {customers: {file: customers.csv, encoding: latin-1}}"]),
    "duplicate header": (_duplicate_header, 1, [
        "customers.csv, column 'Region': the header names this column twice (columns 2 and 4)",
        "the second would silently become 'Region_1'"]),
    "folder for a file": (_folder_for_a_file, 1, [
        "events.csv/: is a folder, and a folder is read as a partitioned parquet export, but this one holds no "
        ".parquet files (it has: part-1.csv)"]),
    "missing folder": (_missing_folder, 2, ["'tables.events': 'exports/' must be a .csv, .csv.gz, .csv.zst or "
                                            ".parquet file, or a folder of parquet files"]),
    "spreadsheet": (_spreadsheet, 2, ["'tables.events': 'events.xlsx' must be a .csv"]),
    "epoch numbers": (_epoch_numbers, 1, [
        "events.csv, column 'timestamp': 4 values are not a parseable timestamp", "row 1 (line 2): '1735725600'",
        "they look like Unix epoch numbers: give their unit in study.yaml, tables: {events: {file: events.csv, "
        "epoch: s}}"]),
    "0-byte parquet": (_blank_parquet, 1, ["events.parquet: the file is empty (0 bytes)"]),
    "ragged rows": (_ragged, 1, ["events.csv: cannot be read as a CSV file: Invalid Input Error: CSV Error on "
                                 "Line: 3; Expected Number of Columns: 3 Found: 4"]),
    "parquet named .csv": (_parquet_named_csv, 1, [
        "events.csv: is a parquet file named like a CSV file: rename it to .parquet"]),
}


@pytest.mark.parametrize("case", list(FILES))
def test_validate_names_file_and_column_of_any_file_a_spreadsheet_or_pandas_writes(make_study, case, capsys):
    damage, expected_code, expected = FILES[case]
    folder = make_study(name="files_" + case.replace(" ", "_").replace("-", "_"), events=EVENTS)
    damage(folder)
    code, text = validate_cli(folder, capsys)
    assert code == expected_code, text
    for part in expected:
        assert part in text, text


def test_the_encoding_and_epoch_options_read_what_validate_refused(make_study, capsys):
    folder = make_study(name="latin", events=EVENTS)
    _latin1(folder)
    set_table(folder, "customers", {"file": "customers.csv", "encoding": "latin-1"})
    assert validate_cli(folder, capsys)[0] == 0
    assert clean(folder, "customers").region.tolist() == ["Nord", "Süd"]
    folder = make_study(name="epoch", events=EVENTS)
    _epoch_numbers(folder)
    set_table(folder, "events", {"file": "events.csv", "epoch": "s"})
    assert validate_cli(folder, capsys)[0] == 0
    assert clean(folder).timestamp.tolist() == [pd.Timestamp(t) for t in EVENTS.timestamp]


def test_numbers_and_booleans_where_text_is_expected_are_read_as_text(make_study, capsys):
    events = pd.DataFrame({"customer_id": [101, 101, 102], "timestamp": pd.to_datetime(["2025-01-01"] * 3),
                           "touchpoint": ["ad", "buy", "ad"], "channel": [True, False, True],
                           "session_id": [7, 7, 8], "revenue": [None, 5, None]})
    customers = pd.DataFrame({"customer_id": [101.0, 102.0, np.nan][:2]})  # ids read as floats by pandas
    folder = make_study(name="typed", events=events, customers=customers, fmt="parquet")
    code, text = validate_cli(folder, capsys)
    assert code == 0, text
    ev = clean(folder)
    assert ev.customer_id.tolist() == ["101", "101", "102"] and ev.channel.tolist() == ["true", "false", "true"]
    assert ev.session_id.tolist() == ["7", "7", "8"] and clean(folder, "customers").customer_id.tolist() == ["101", "102"]


# --------------------------------------------------------------------------- 6. values and dates
def test_non_finite_revenue_is_an_error_naming_file_column_and_rows(make_study):
    folder = make_study(name="inf_parquet", events=EVENTS, fmt="parquet")
    table = pa.Table.from_pandas(EVENTS.drop(columns="revenue"), preserve_index=False).append_column(
        "revenue", pa.array([np.nan, np.inf, 3.0, -np.inf]))  # NaN kept as NaN, not null
    pq.write_table(table, folder / "events.parquet")
    [problem] = data.validate(folder).errors
    assert (problem.file.name, problem.column, problem.rows, problem.count) == ("events.parquet", "revenue",
                                                                                [1, 2, 4], 3)
    assert str(problem) == ("events.parquet, column 'revenue': 3 values are not finite numbers (NaN, inf or -inf) "
                            "— row 1: 'nan'; row 2: 'inf'; row 4: '-inf'")
    folder = make_study(name="inf_csv", events=EVENTS.assign(revenue=["nan", "5", "Infinity", "-inf"]))
    [problem] = data.validate(folder).errors
    assert (problem.column, problem.rows, problem.values) == ("revenue", [1, 3, 4], ["nan", "Infinity", "-inf"])


def test_events_outside_the_study_period_are_errors_naming_rows(make_study):
    folder = make_study(name="period", events=EVENTS, study_period={"start": "2025-01-01", "end": "2025-01-02"})
    assert Study.load(folder).study_period == (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-02"))
    [problem] = data.validate(folder).errors  # the end day is included: 2025-01-02 09:00 is inside
    assert str(problem) == ("events.csv, column 'timestamp': 1 events fall outside the study period 2025-01-01 "
                            "to 2025-01-02 (study_period in study.yaml) — row 4 (line 5): '2025-01-03 12:00'")


def test_implausible_dates_without_a_study_period_are_warnings_and_kept(make_study):
    late = (dt.date.today() + dt.timedelta(days=800)).isoformat()
    events = pd.concat([EVENTS, log(("c2", "1970-01-01 00:00", "view"), ("c2", f"{late} 10:00", "view"))],
                       ignore_index=True)
    folder = make_study(name="implausible", events=events)
    report = data.validate(folder)
    assert report.ok
    [warning] = [w for w in report.warnings if w.column == "timestamp"]
    assert (warning.rows, warning.values) == ([5, 6], ["1970-01-01 00:00", f"{late} 10:00"])
    assert warning.message.startswith("2 timestamps are before 1990-01-01 or after ")
    assert len(clean(folder)) == 6


# --------------------------------------------------------------------------- 7. cxlab init and kpis
@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from cxlab.synth import write_study

    return write_study(tmp_path_factory.mktemp("synth") / "shop", customers=300, seed=3)


def test_init_drafts_a_study_yaml_that_validates_from_renamed_compressed_exports(synthetic, tmp_path, capsys):
    export = tmp_path / "exports"
    export.mkdir()
    events = pd.read_parquet(synthetic / "events.parquet")
    renamed = events.rename(columns={"customer_id": "user_id", "touchpoint": "event_name", "timestamp": "event_time"})
    renamed.to_csv(export / "web_events.csv.gz", index=False)
    for src, dst in (("customers.csv", "crm_customers.csv"), ("surveys.csv", "nps_survey.csv"),
                     ("tickets.csv", "support_tickets.csv")):
        shutil.copy(synthetic / src, export / dst)

    assert main(["init", str(export)]) == 0
    out = capsys.readouterr().out
    assert "cxlab validate on the draft passes" in out
    assert validate_cli(export, capsys)[0] == 0
    study = Study.load(export)
    assert {t: p.name for t, p in study.tables.items()} == {
        "customers": "crm_customers.csv", "events": "web_events.csv.gz", "surveys": "nps_survey.csv",
        "tickets": "support_tickets.csv"}
    assert study.column_maps == {"events": {"customer_id": "user_id", "timestamp": "event_time",
                                            "touchpoint": "event_name"}}
    truth = Study.load(synthetic)
    assert sorted(study.goal_touchpoints) == sorted(truth.goal_touchpoints) == [
        "app_purchase", "store_purchase", "web_purchase"]
    text = (export / "study.yaml").read_text()
    counts = events.touchpoint.value_counts()
    assert set(study.catalog.touchpoint) == set(counts.index)
    for tp, n in counts.items():
        assert f"  {tp}: {{stage: " in text and f"# {n:,} events, median position" in text.split(f"  {tp}: ")[1].split("\n")[0]
    assert text.count("# DECIDE:") >= 4
    # the proposed journey-stage order follows the journeys: ads first, the goals together after them
    order = study.catalog.set_index("touchpoint").stage_order
    assert order["social_ad"] == order["search_ad"] == 0
    assert len({order[g] for g in study.goal_touchpoints}) == 1 and order["social_ad"] < order["web_purchase"]
    assert set(study.customer_attributes) == {"age", "income", "region", "signup_date", "gender"}
    # the renamed, compressed export gives the synthetic study's own clean event log
    mine, theirs = clean(export), clean(synthetic)
    keep = ["seq", "customer_id", "timestamp", "touchpoint", "channel", "session_id", "revenue"]
    pd.testing.assert_frame_equal(mine[keep], theirs[keep])
    # never overwrites
    assert main(["init", str(export)]) == 2
    assert "exists already; cxlab init never overwrites it" in capsys.readouterr().err


def test_init_without_a_customers_file_writes_their_ids_and_proposes_the_last_touchpoint(tmp_path, capsys):
    export = tmp_path / "clicks"
    export.mkdir()
    rows = []
    for i in range(40):
        rows += [(f"u{i}", f"2025-02-{1 + i % 20:02d} 10:00:00", "page_view"),
                 (f"u{i}", f"2025-02-{1 + i % 20:02d} 10:05:00", "add_to_basket")]
        if i % 3 == 0:
            rows.append((f"u{i}", f"2025-02-{1 + i % 20:02d} 10:09:00", "rate_item"))
    pd.DataFrame(rows, columns=["visitor_id", "ts", "action"]).assign(extra=1).to_parquet(export / "log.parquet")
    assert main(["init", str(export)]) == 0
    capsys.readouterr()
    assert pd.read_csv(export / "customers.csv").customer_id.tolist() == sorted(f"u{i}" for i in range(40))
    study = Study.load(export)
    # no purchase-like name, no revenue: the touchpoint most often last (add_to_basket, 26 of 40)
    assert study.goal_touchpoints == ["add_to_basket"]
    assert study.column_maps["events"] == {"customer_id": "visitor_id", "timestamp": "ts", "touchpoint": "action"}
    assert list(study.catalog.touchpoint) == ["page_view", "add_to_basket", "rate_item"]
    assert validate_cli(export, capsys)[0] == 0


def test_kpis_lists_every_kpi_id_with_its_definition(capsys):
    from cxlab.kpis import KPIS, kpi_definitions

    assert main(["kpis"]) == 0
    lines = capsys.readouterr().out.splitlines()
    table = kpi_definitions()
    assert len(lines) == len(KPIS) == len(table)
    for line, row in zip(lines, table.itertuples()):
        assert line.split()[0] == row.kpi and line.endswith(row.definition)


def test_a_too_long_line_is_named_by_its_own_line_number(make_study, capsys):
    """DuckDB names the line where its read buffer began (line 1 here), not the long one."""
    folder = make_study(events=log(("c1", "2025-01-01 10:00", "ad"), ("c1", "2025-01-02 10:00", "buy", 5.0),
                                   ("c2", "2025-01-03 10:00", "ad")),
                        customers=pd.DataFrame({"customer_id": ["c1", "c2"]}))
    path = folder / "events.csv"
    lines = path.read_text().splitlines()
    lines.insert(3, "c2,2025-01-04 10:00,ad," + "x" * 2_500_000)  # file line 4, after the header and two rows
    path.write_text("\n".join(lines) + "\n")
    assert main(["validate", str(folder)]) == 1
    out = capsys.readouterr().out
    assert ("events.csv: cannot be read as a CSV file: line 4 is 2,500,024 bytes long, above the 2,000,000 bytes "
            "a line may have") in out
