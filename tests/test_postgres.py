"""Tables straight from a database: a study whose tables are PostgreSQL tables gives exactly the
numbers the same study gives from its files.

Shapes of the shape matrix (tests/shapes.py) are written as files and loaded into PostgreSQL
tables (in a schema of their own, with the files' row order kept in a ``row_no`` column that
study.yaml names as ``order_by``); every stage runs on both studies in this process, and the
clean tables, the touchpoint inventory, the KPI table and every stage's record metrics must be
equal (amounts summed in parallel to 1e-12). One study runs end to end through ``cxlab run``.
Errors name the database table, the column and the rows (by their ``order_by`` value); a
password in the URL is refused naming the key; a table that changes gives another fingerprint,
and outputs computed from the old content are refused.

The server: CXLAB_TEST_PG_URL (postgresql://user@host:port/database, a database the tests may
create schemas in) and the password in PGPASSWORD. ``.ci/run`` starts Debian's PostgreSQL and
sets both; locally, without them, the tests that need a server are skipped with a message saying
how to run them; under CI (CI=true) they fail instead. The tests of the URL and of a DuckDB
database file (the path every Ibis backend other than PostgreSQL takes) need no server.
"""
from __future__ import annotations

import html
import math
import os
import secrets
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cxlab import data, engine, impact, intake, journeymap, objectives, painpoints, segments, touchpoints, warehouse
from cxlab.errors import StudyError
from cxlab.report import run_study
from cxlab.stages import StaleOutputError, read_output, read_record, stage_names
from cxlab.study import DatabaseTable, Study
from shapes import make_shape, write_base

pytestmark = pytest.mark.slow

PG_URL = os.environ.get("CXLAB_TEST_PG_URL", "").strip()
MODULES = {"intake": intake, "objectives": objectives, "segmentation": segments, "touchpoints": touchpoints,
           "pain_points": painpoints, "impact": impact, "journey_map": journeymap}
PARAMETERS = {"segmentation": {"max_k": 4}, "journey_map": {"max_segments": 1}}
# the synthetic study's four tables with time-zoned timestamps (timestamptz in PostgreSQL), with
# integer customer ids (bigint), and with columns the contract does not use (left in the database)
SHAPES = ("tz_us", "integer_ids", "extra_columns")
TIME_COLUMNS = {"surveys": ("timestamp",), "tickets": ("opened_at", "closed_at")}
HOW_TO_RUN = ("set CXLAB_TEST_PG_URL=postgresql://<user>@<host>:<port>/<database> (a database the tests may "
              "create schemas in) and PGPASSWORD, then run: .venv/bin/python -m pytest tests/test_postgres.py "
              "(.ci/run shows how CI starts Debian's PostgreSQL for them)")


def _server_missing() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None."""
    if not PG_URL:
        return "no PostgreSQL server named: " + HOW_TO_RUN
    try:
        import adbc_driver_postgresql  # noqa: F401
        import ibis

        ibis.connect(PG_URL).disconnect()
    except ImportError as exc:
        return f"the postgres extra is not installed ({exc.name}): pip install -e '.[postgres]'; then " + HOW_TO_RUN
    except Exception as exc:  # the server is not there, or refuses us
        return f"PostgreSQL at {PG_URL} cannot be reached ({str(exc).splitlines()[0]}): " + HOW_TO_RUN
    return None


def require_server() -> None:
    """Skip without a server, except under CI (CI=true), where that is a failure."""
    reason = _server_missing()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL tests cannot run under CI: {reason}")
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def fresh_connections():
    """Each test opens its own connections (a test may change the password's environment)."""
    warehouse.reset()
    yield
    warehouse.reset()
    engine.reset()


@pytest.fixture(scope="module")
def pg():
    """An Ibis connection to the test server and a schema of this module's own, dropped after."""
    require_server()
    import ibis

    con = ibis.connect(PG_URL)
    schema = f"cxlab_test_{secrets.token_hex(4)}"
    con.raw_sql(f'CREATE SCHEMA "{schema}"').close()
    yield con, schema
    con.raw_sql(f'DROP SCHEMA "{schema}" CASCADE').close()
    con.disconnect()


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return write_base(tmp_path_factory.mktemp("postgres_shapes") / "synthetic")


def read_tables(folder: Path) -> tuple[dict, dict[str, pd.DataFrame]]:
    """A study's study.yaml and its tables as pandas reads the files."""
    config = yaml.safe_load((folder / "study.yaml").read_text())
    frames = {}
    for table, file in config["tables"].items():
        path = folder / file
        frames[table] = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    return config, frames


def to_database(con, schema: str, files: Path, folder: Path, prefix: str, *, url: str | None = None) -> Path:
    """The study at ``files`` with its tables loaded into ``schema`` (times as timestamps, the
    files' row order in ``row_no``, customers ordered by their id) and a study.yaml naming them."""
    config, frames = read_tables(files)
    for table, frame in frames.items():
        frame = frame.copy()
        for col in TIME_COLUMNS.get(table, ()):
            if col in frame:
                frame[col] = pd.to_datetime(frame[col])
        if table != "customers":
            frame.insert(0, "row_no", range(1, len(frame) + 1))
        name = f"{prefix}_{table}"
        con.create_table(name, frame, database=schema, overwrite=True)
        config["tables"][table] = {"backend": "postgres", "url": url or PG_URL, "schema": schema, "table": name,
                                   "order_by": "customer_id" if table == "customers" else "row_no"}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def run_stages(folder: Path) -> tuple[dict, dict]:
    """Every stage's result and record on the study at ``folder``, in method order."""
    results, records = {}, {}
    for stage in stage_names():
        results[stage] = MODULES[stage].analyze(folder, **PARAMETERS.get(stage, {}))
        results[stage].write()
        records[stage] = read_record(Study.load(folder), stage)
    engine.reset()
    return results, records


def assert_same_numbers(left, right, path: str = "") -> None:
    """Two records' metrics (nested dicts of numbers and texts) equal, numbers to 1e-12."""
    if isinstance(left, dict):
        assert isinstance(right, dict) and sorted(left) == sorted(right), path
        for key in left:
            assert_same_numbers(left[key], right[key], f"{path}.{key}")
    elif isinstance(left, float) and not isinstance(right, bool):
        assert (math.isnan(left) and math.isnan(right)) or right == pytest.approx(left, rel=1e-12, abs=1e-12), path
    else:
        assert left == right, path


# --------------------------------------------------------------------------- no server needed
@pytest.mark.parametrize("url, where", [
    ("postgresql://analyst:s3cret@db.example.com:5432/cx", "after the user name"),
    ("postgresql://analyst@db.example.com:5432/cx?sslmode=require&password=s3cret", "as ?password="),
])
def test_a_password_in_the_url_is_refused_naming_the_key(make_study, url, where):
    from conftest import log

    folder = make_study(events=log(("a", "2025-01-01 10:00", "ad")))
    config = yaml.safe_load((folder / "study.yaml").read_text())
    config["tables"]["events"] = {"backend": "postgres", "url": url, "table": "events"}
    (folder / "study.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(StudyError) as caught:
        Study.load(folder)
    message = str(caught.value)
    assert f"'tables.events.url': holds a password ({where})" in message
    assert "PGPASSWORD" in message and "password_env" in message
    assert "s3cret" not in message  # the secret is not repeated in the error


def test_a_database_table_needs_backend_url_and_table_a_url_naming_only_the_database_and_no_encoding(make_study):
    from conftest import log

    folder = make_study(events=log(("a", "2025-01-01 10:00", "ad")))
    config = yaml.safe_load((folder / "study.yaml").read_text())
    config["tables"]["events"] = {"backend": "postgres", "table": "events"}
    config["tables"]["customers"] = {"backend": "postgres", "url": "postgresql://a@h/db", "table": "c",
                                     "encoding": "latin-1"}
    config["tables"]["surveys"] = {"backend": "postgres", "url": "postgresql://a@h/cx/web", "table": "s"}
    (folder / "study.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(StudyError) as caught:
        Study.load(folder)
    assert "'tables.events.url': is required for a table in a database" in str(caught.value)
    assert "'tables.customers.encoding': applies to CSV files only, and this table is in a database" in str(caught.value)
    assert ("'tables.surveys.url': names a database and a schema (cx/web); the URL names the database only: give "
            "the schema as schema: <name>") in str(caught.value)


def test_any_ibis_backend_a_duckdb_database_file_gives_the_file_study_s_clean_tables(base, tmp_path, monkeypatch):
    """The path every backend but PostgreSQL takes (Ibis batches, the digest before and after),
    on a DuckDB database file: clean tables equal to the files', rows named by order_by."""
    import ibis

    files = make_shape("tz_us", base, tmp_path / "files")
    database = tmp_path / "warehouse.duckdb"
    con = ibis.duckdb.connect(str(database))
    config, frames = read_tables(files)
    for table, frame in frames.items():
        if table != "customers":
            frame = frame.assign(row_no=range(1, len(frame) + 1))
        con.create_table(table, frame)
    con.disconnect()
    config["tables"] = {t: {"backend": "duckdb", "url": f"duckdb:///{database}?read_only=true", "table": t,
                            "order_by": "customer_id" if t == "customers" else "row_no"} for t in frames}
    folder = tmp_path / "in_duckdb"
    folder.mkdir()
    (folder / "study.yaml").write_text(yaml.safe_dump(config))
    report = data.write_clean_tables(folder)
    assert report.ok and report.rows == {t: len(f) for t, f in frames.items()}
    for table in frames:
        pd.testing.assert_frame_equal(data.load(folder, table), data.load(files, table))
    copies = sorted(p.name for p in warehouse.snapshot_folder(Study.load(folder)).iterdir())
    assert [c.rsplit("-", 1)[0] for c in copies] == sorted(frames)


# --------------------------------------------------------------------------- the same numbers
@pytest.fixture(scope="module", params=SHAPES)
def pair(request, pg, base, tmp_path_factory) -> dict:
    """One shape run from its files and from PostgreSQL, every stage each, in separate homes."""
    con, schema = pg
    name = request.param
    root = tmp_path_factory.mktemp(f"pg_{name}")
    files = make_shape(name, base, root / "files")
    in_db = to_database(con, schema, files, root / "database", name)
    out = {"name": name, "files": files, "database": in_db}
    with pytest.MonkeyPatch.context() as mp:
        for side in ("files", "database"):
            mp.setenv("CXLAB_HOME", str(root / f"home_{side}"))
            warehouse.reset()
            results, records = run_stages(out[side])
            clean = {t: data.load(out[side], t) for t in data.clean_tables(Study.load(out[side]))}
            out[side] = {"folder": out[side], "results": results, "records": records, "clean": clean}
    return out


def test_the_clean_tables_from_postgresql_are_the_files_clean_tables(pair):
    files, database = pair["files"]["clean"], pair["database"]["clean"]
    assert sorted(files) == sorted(database)
    for table in files:
        pd.testing.assert_frame_equal(database[table], files[table], check_exact=True)


def test_inventory_kpis_and_every_stage_s_metrics_are_the_files(pair):
    files, database = pair["files"], pair["database"]
    pd.testing.assert_frame_equal(database["results"]["touchpoints"].inventory.table,
                                  files["results"]["touchpoints"].inventory.table, check_exact=True)
    pd.testing.assert_frame_equal(database["results"]["objectives"].kpis, files["results"]["objectives"].kpis,
                                  check_exact=False, rtol=1e-12)
    for stage in stage_names():
        assert database["records"][stage]["notes"] == files["records"][stage]["notes"], stage
        assert_same_numbers(files["records"][stage]["metrics"], database["records"][stage]["metrics"], stage)
    # the intake profile names the database tables where it names files
    overview = database["results"]["intake"].overview.set_index("table")
    schema = Study.load(pair["database"]["folder"]).tables["events"].schema
    assert overview.loc["events", "file"] == f"postgres table {schema}.{pair['name']}_events"


def test_cxlab_run_reads_a_study_from_postgresql_end_to_end(pg, base, tmp_path, project_home):
    con, schema = pg
    files = make_shape("events_only", base, tmp_path / "files")
    folder = to_database(con, schema, files, tmp_path / "database", "run_events_only")
    overrides = {f"{stage}.{key}": value for stage, params in PARAMETERS.items() for key, value in params.items()}
    result = run_study(folder, overrides=overrides)
    assert [(s.stage, s.status) for s in result.stages] == [(s, "ok") for s in stage_names()]
    events = pd.read_parquet(files / "events.parquet")
    metrics = read_record(Study.load(folder), "intake")["metrics"]
    assert (metrics["events"], metrics["customers"]) == (len(events), events["customer_id"].nunique())
    intake_page = html.unescape((result.run_dir / result.stages[0].html).read_text())
    assert f"postgres table {schema}.run_events_only_events" in intake_page


# --------------------------------------------------------------------------- errors and changes
def test_bad_values_are_named_by_table_column_and_their_order_by_value(pg, base, tmp_path):
    con, schema = pg
    files = make_shape("plain", base, tmp_path / "files")
    folder = to_database(con, schema, files, tmp_path / "database", "bad")
    con.raw_sql(f'UPDATE "{schema}".bad_events SET revenue = -5 WHERE row_no IN (10, 4000); '
                f'UPDATE "{schema}".bad_events SET customer_id = NULL WHERE row_no = 77').close()
    report = data.validate(folder)
    errors = sorted(str(e) for e in report.errors)
    assert errors == [
        f"postgres table {schema}.bad_events, column 'customer_id': 1 rows have no value in a required column — "
        "row 77 (row_no 77): None",
        f"postgres table {schema}.bad_events, column 'revenue': 2 values are negative (revenue must be ≥ 0) — "
        "row 10 (row_no 10): '-5.0'; row 4000 (row_no 4000): '-5.0'",
    ]


def test_a_missing_table_or_column_is_named_with_what_the_database_has(pg, base, tmp_path):
    con, schema = pg
    files = make_shape("events_only", base, tmp_path / "files")
    folder = to_database(con, schema, files, tmp_path / "database", "named")
    config = yaml.safe_load((folder / "study.yaml").read_text())
    config["tables"]["events"]["table"] = "named_evnts"
    (folder / "study.yaml").write_text(yaml.safe_dump(config))
    [error] = data.validate(folder).errors
    assert str(error).startswith(f"postgres table {schema}.named_evnts: no table 'named_evnts' in schema {schema} "
                                 f"of {PG_URL} (it has: ")
    assert str(error).endswith("; did you mean named_events?")

    config["tables"]["events"].update(table="named_events", columns={"touchpoint": "event_type"})
    (folder / "study.yaml").write_text(yaml.safe_dump(config))
    has = "row_no, customer_id, timestamp, touchpoint, channel, session_id, revenue"
    [error] = data.validate(folder).errors
    assert str(error) == (f"postgres table {schema}.named_events, column 'event_type' (contract column 'touchpoint'): "
                          "study.yaml maps this column from the export's column 'event_type', which the table does "
                          f"not have (the table has: {has})")

    config["tables"]["events"]["columns"] = {}
    (folder / "study.yaml").write_text(yaml.safe_dump(config))
    con.raw_sql(f'ALTER TABLE "{schema}".named_events DROP COLUMN touchpoint').close()
    [error] = data.validate(folder).errors
    assert str(error) == (f"postgres table {schema}.named_events, column 'touchpoint': required column is missing "
                          f"(the table has: {has.replace(', touchpoint', '')}); if the export calls it otherwise, map "
                          f"it in study.yaml: tables: {{events: {{backend: postgres, url: …, table: named_events, "
                          "columns: {touchpoint: <export column>}}}")


def test_a_changed_table_is_noticed_and_outputs_from_its_old_content_are_refused(pg, base, tmp_path):
    con, schema = pg
    files = make_shape("events_only", base, tmp_path / "files")
    folder = to_database(con, schema, files, tmp_path / "database", "changing")
    before = data.fingerprint(folder)
    touchpoints.analyze(folder).write()
    assert read_output(Study.load(folder), "touchpoints", "inventory") is not None
    assert data.fingerprint(folder) == before  # unchanged content, unchanged fingerprint

    con.raw_sql(f'DELETE FROM "{schema}".changing_events WHERE row_no > 6000').close()
    study = data.ensure_clean(folder)  # the clean tables are made again from the new content
    assert data.fingerprint(study) != before and len(data.load(study, "events")) == 6000
    with pytest.raises(StaleOutputError, match="computed by the touchpoints stage from other input data"):
        read_output(study, "touchpoints", "inventory")
    copies = list(warehouse.snapshot_folder(study).glob(f"{schema}.changing_events-*.parquet"))
    assert len(copies) == 1  # the copy of the old content is gone


def test_the_same_rows_stored_in_another_order_give_the_same_fingerprint(pg, base, tmp_path):
    """The copy's rows come in order_by order, whatever order the database stores them in."""
    con, schema = pg
    files = make_shape("events_only", base, tmp_path / "files")
    folder = to_database(con, schema, files, tmp_path / "database", "order")
    before = data.fingerprint(folder)
    events = data.load(folder, "events")
    con.raw_sql(f'CREATE TABLE "{schema}".order_shuffled AS SELECT * FROM "{schema}".order_events ORDER BY random(); '
                f'DROP TABLE "{schema}".order_events; '
                f'ALTER TABLE "{schema}".order_shuffled RENAME TO order_events').close()
    assert data.fingerprint(folder) == before
    warehouse.reset()
    for copy in warehouse.snapshot_folder(Study.load(folder)).iterdir():
        copy.unlink()  # read again from the reordered table
    data.write_clean_tables(folder)
    pd.testing.assert_frame_equal(data.load(folder, "events"), events, check_exact=True)


def test_the_password_can_come_from_the_variable_password_env_names(pg, base, tmp_path, monkeypatch):
    con, schema = pg
    password = os.environ.get("PGPASSWORD")
    if not password:
        pytest.skip("the test server takes no password (PGPASSWORD is not set)")
    files = make_shape("events_only", base, tmp_path / "files")
    folder = to_database(con, schema, files, tmp_path / "database", "secret")
    config = yaml.safe_load((folder / "study.yaml").read_text())
    config["tables"]["events"]["password_env"] = "CXLAB_TEST_SECRET"
    (folder / "study.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.delenv("PGPASSWORD")
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))  # nor from ~/.pgpass
    [error] = data.validate(folder).errors
    assert str(error) == (f"postgres table {schema}.secret_events: study.yaml's password_env names the environment variable "
                          "CXLAB_TEST_SECRET, which is not set; set it (export CXLAB_TEST_SECRET=…) before running "
                          "cxlab")
    monkeypatch.setenv("CXLAB_TEST_SECRET", password)
    warehouse.reset()
    report = data.validate(folder)
    assert report.ok and report.rows["events"] == len(pd.read_parquet(files / "events.parquet"))
    assert isinstance(Study.load(folder).tables["events"], DatabaseTable)
