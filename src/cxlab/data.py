"""The data contract: reading a study's raw tables, checking them, writing clean tables.

Checks run in DuckDB straight on the raw files, so a log of tens of millions of events is checked
without loading it into pandas. A table is a CSV file (plain, ``.csv.gz`` or ``.csv.zst``), a
parquet file, or a folder of parquet files (a partitioned export); study.yaml may rename the
export's columns to the contract's (``tables.<table>.columns``). Every problem names the file,
the column (the export's name and, where study.yaml renames it, the contract's) and up to five
offending rows (row 1 is the first data row; in a CSV that is line 2; in a folder, the part file
and its row are named too).

Errors (the run stops): a missing, empty or unreadable file; a missing column; an empty table; a
value of the wrong type; an unparseable or infinite timestamp; a non-finite number (NaN, inf);
a score out of range; a duplicate id or a duplicated CSV header; a reference to an unknown
customer; a ticket closed before it opened; an event outside the study's ``study_period``.

study.yaml against the data (errors naming the key, e.g. ``interventions.new_checkout.treated.values``;
found here, so that no stage computes on them instead of failing minutes into one; ``check_study``
runs only these, fast enough to run before a run starts): an objective's baseline window entirely outside the event log's time range; an
intervention dated after the last event, or before the first event's day (for a design that
compares before with after, on or before the first event); an intervention's ``treated`` column
that the customers table lacks, or treated values that never occur in it.

Warnings (reported, nothing dropped): columns the contract does not use (left out of the clean
tables, kept in the raw file), timestamps before 1990 or more than a year ahead when the study
sets no ``study_period``, touchpoints in the log that the catalog lacks, catalogued touchpoints
never seen, survey touchpoints or stages the study does not know.

A table in a database (study.yaml: ``{backend: postgres, url: …, table: …}``) is read once into a
local parquet copy by ``cxlab.warehouse`` (the contract's columns only, in a fixed order, keyed by a
digest of the table's content computed in the database) and checked like a parquet file; its
problems name the database table, and a row by its ``order_by`` values where study.yaml gives them.

Only the event log is required: a study without a customers table gets a clean customers table of
the log's customer ids. Clean tables are written to data/processed/<study>/ as parquet,
atomically; raw files are only ever read. Timestamps there are UTC without a time zone, at
microseconds, whatever the file held (an offset in the text, a time zone at ns, us or ms in
parquet). The customers table keeps every column (each is an attribute segmentation, KPIs and
interventions may use); events, surveys and tickets keep the contract's columns (and surveys
their ``driver_*`` ratings).
"""
from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import duckdb
import pandas as pd

from .paths import temp_file_beside
from . import warehouse
from .errors import DataError
from .study import DatabaseTable, Study, table_format

__all__ = [
    "file_state",
    "remember",
    "Problem",
    "ValidationReport",
    "validate",
    "check_study",
    "write_clean_tables",
    "ensure_clean",
    "clean_path",
    "clean_tables",
    "load",
    "fingerprint",
    "files_digest",
    "database_columns",
    "database_digest",
    "write_parquet",
    "write_json",
    "read_json",
    "SCORE_RANGES",
    "CONTRACT_COLUMNS",
    "source_sql",
    "folder_files",
    "duckdb_reason",
    "cast_sql",
    "quote",
    "literal",
]

MAX_EXAMPLES = 5
SCORE_RANGES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
# without a study_period, timestamps outside [PLAUSIBLE_START, today + PLAUSIBLE_AHEAD) are warned of
PLAUSIBLE_START = pd.Timestamp("1990-01-01")
PLAUSIBLE_AHEAD = pd.DateOffset(years=1)

# column -> kind; kinds: id, text, timestamp, number, integer, boolean
_REQUIRED = {
    "customers": {"customer_id": "id"},
    "events": {"customer_id": "id", "timestamp": "timestamp", "touchpoint": "id"},
    "surveys": {"response_id": "id", "customer_id": "id", "timestamp": "timestamp"},
    "tickets": {"ticket_id": "id", "customer_id": "id", "opened_at": "timestamp"},
}
_OPTIONAL = {
    "customers": {},
    "events": {"channel": "text", "session_id": "text", "revenue": "number"},
    "surveys": {
        "touchpoint": "text",
        "stage": "text",
        "nps": "integer",
        "csat": "integer",
        "ces": "integer",
        "comment": "text",
    },
    "tickets": {
        "closed_at": "timestamp",
        "channel": "text",
        "category": "text",
        "resolved": "boolean",
        "text": "text",
    },
}
# every table's contract columns -> kind (surveys also take driver_* ratings, customers any attribute)
CONTRACT_COLUMNS = {t: {**_REQUIRED[t], **_OPTIONAL[t]} for t in _REQUIRED}
_ID_COLUMN = {"customers": "customer_id", "surveys": "response_id", "tickets": "ticket_id"}
_ATTRIBUTE_KIND = {"numeric": "number", "date": "timestamp", "category": "text"}
_INTERNAL = ("_row", "_file", "_file_row", warehouse.KEY_COLUMN)
_EPOCH_MICROS = {"s": 1_000_000, "ms": 1_000, "us": 1}


def _contract_column(table: str, column: str) -> bool:
    """Whether ``column`` is one the contract gives a meaning to in ``table``."""
    return (table == "customers" or column in CONTRACT_COLUMNS[table]
            or (table == "surveys" and column.startswith("driver_")))


@dataclass
class Problem:
    """One finding about one column of one table. ``column`` is the contract's name;
    ``source_column`` the export's where study.yaml renames it; ``places`` says where each
    example row is when the table is a folder of files."""

    table: str
    file: Path | DatabaseTable
    column: str | None
    message: str
    count: int = 0
    rows: list[int] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    severity: str = "error"
    source_column: str | None = None
    places: list[str] = field(default_factory=list)
    # the study.yaml key a problem of study.yaml against the data is about (``file`` is then
    # study.yaml, ``table`` and ``column`` the data it was checked against)
    key: str | None = None

    @property
    def file_column(self) -> str | None:
        """The column's name in the file."""
        return self.source_column or self.column

    def __str__(self) -> str:
        if self.key:
            return f"{self.file.name}: '{self.key}': {self.message}"
        in_database = isinstance(self.file, DatabaseTable)
        where = self.file.name if in_database else self.file.name + ("/" if self.file.is_dir() else "")
        if self.column and self.source_column and self.source_column != self.column:
            where += f", column '{self.source_column}' (contract column '{self.column}')"
        elif self.column:
            where += f", column '{self.column}'"
        text = f"{where}: {self.message}"
        if self.rows:
            csv = not in_database and table_format(self.file) == "csv"
            shown = []
            for i, (row, value) in enumerate(zip(self.rows, self.values)):
                if i < len(self.places):
                    place = f" ({self.places[i]})"
                else:
                    place = f" (line {row + 1})" if csv else ""
                shown.append(f"row {row}{place}: {value!r}")
            more = f" … and {self.count - len(self.rows):,} more" if self.count > len(self.rows) else ""
            text += " — " + "; ".join(shown) + more
        return text


@dataclass
class ValidationReport:
    """What the contract checks found: errors stop a run, warnings are shown and kept."""

    study: Study
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_if_errors(self) -> None:
        if self.errors:
            raise DataError(self.errors)

    def to_frame(self) -> pd.DataFrame:
        rows = [
            {
                "severity": p.severity,
                "table": p.table,
                "file": p.file.name,
                "column": p.key or p.column,
                "file column": p.file_column,
                "problem": p.message,
                "count": p.count,
                "example rows": ", ".join(map(str, p.rows)),
            }
            for p in self.errors + self.warnings
        ]
        return pd.DataFrame(
            rows,
            columns=["severity", "table", "file", "column", "file column", "problem", "count", "example rows"],
        )

    def __str__(self) -> str:
        lines = [f"{self.study.root}: {len(self.errors)} error(s), {len(self.warnings)} warning(s)"]
        lines += [f"  ERROR   {p}" for p in self.errors]
        lines += [f"  WARNING {p}" for p in self.warnings]
        return "\n".join(lines)


# --------------------------------------------------------------------------- DuckDB plumbing
def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET timezone = 'UTC'")
    return con


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _all(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    """Every row of a query, fetched to the end: a result left half-read keeps the connection
    busy, and DuckDB then refuses ``register`` and the like on it ("unfinished result")."""
    return con.execute(sql).fetchall()


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    rows = _all(con, sql)
    return rows[0][0] if rows else None


def duckdb_reason(exc: BaseException) -> str:
    """DuckDB's reason for an error in one line: its first paragraph, without the echoed SQL,
    the offending line's text and the suggestions that name DuckDB options."""
    kept: list[str] = []
    for line in str(exc).splitlines():
        line = line.strip()
        if not line:
            if kept:
                break
            continue
        if line.startswith(("Possible fix", "The search space")):
            break
        if line.startswith(("LINE ", "Original Line", "Possible Solution")) or set(line) <= {"^"}:
            continue
        kept.append(line)
    text = "; ".join(kept) or type(exc).__name__
    return text if len(text) <= 400 else text[:399] + "…"


def _long_line_reason(path: Path, reason: str) -> str:
    """DuckDB's "Maximum line size … exceeded" names the line where its read buffer started, not
    the long line: find the first line over the limit in the file and name that one."""
    import gzip
    import re as _re

    found = _re.search(r"Maximum line size of (\d+) bytes", reason)
    limit = int(found.group(1)) if found else 2_000_000
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            for number, line in enumerate(fh, start=1):
                if len(line) > limit:
                    return (f"line {number:,} is {len(line):,} bytes long, above the {limit:,} bytes a line may "
                            "have (a text field with an unclosed quote runs on over many lines, or a field holds "
                            "a whole document)")
    except OSError:
        pass
    return reason


def folder_files(folder: Path) -> list[Path]:
    """The parquet files of a partitioned export, in a fixed order (their paths sorted); files
    and folders starting with '.' or '_' (_SUCCESS, .crc) are not part of the data."""
    folder = Path(folder)
    found = [
        p for p in folder.rglob("*.parquet")
        if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts)
    ]
    return sorted(found, key=str)


def source_sql(path: Path, *, encoding: str | None = None) -> str:
    """A relation of a raw table file with every column as read, and ``_row`` (1-based data row;
    in a folder of parquet files, counted through the files in path order, each file's row in
    ``_file_row`` and its path in ``_file``). CSV columns are read as text (``all_varchar``), so
    a bad value is shown as the user wrote it; compression (.gz, .zst) is read from the name."""
    path = Path(path)
    fmt = table_format(path)
    if fmt == "csv":
        enc = f", encoding = {_lit(encoding)}" if encoding else ""
        return (
            f"SELECT row_number() OVER () AS _row, * FROM read_csv({_lit(path)}, header = true, "
            f"all_varchar = true, sample_size = -1{enc})"
        )
    if fmt == "folder":
        files = folder_files(path)
        if not files:
            raise ValueError(f"{path} holds no parquet files")
        hive = any("=" in part for f in files for part in f.relative_to(path).parts[:-1])
        listed = "[" + ", ".join(_lit(f) for f in files) + "]"
        return (
            "SELECT row_number() OVER (ORDER BY _cx_file, file_row_number) AS _row, _cx_file AS _file, "
            "file_row_number + 1 AS _file_row, * EXCLUDE (_cx_file, file_row_number) "
            f"FROM read_parquet({listed}, file_row_number = true, filename = '_cx_file', "
            f"union_by_name = true, hive_partitioning = {str(hive).lower()})"
        )
    return (
        f"SELECT file_row_number + 1 AS _row, * EXCLUDE (file_row_number) "
        f"FROM read_parquet({_lit(path)}, file_row_number = true, hive_partitioning = false)"
    )


def quote(name: str) -> str:
    """A column name quoted for DuckDB SQL."""
    return _q(name)


def literal(value: Any) -> str:
    """A value as a DuckDB SQL string literal."""
    return _lit(value)


def _is_text(source_type: str | None) -> bool:
    return (source_type or "VARCHAR").upper() == "VARCHAR"


def _is_timestamp_type(source_type: str | None) -> bool:
    return (source_type or "").upper().startswith(("TIMESTAMP", "DATE"))


def _has_zone(source_type: str | None) -> bool:
    typed = (source_type or "").upper()
    return typed.startswith("TIMESTAMPTZ") or "WITH TIME ZONE" in typed


def _is_numeric_type(source_type: str | None) -> bool:
    typed = (source_type or "").upper()
    return typed.startswith(("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                             "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL"))


def _missing_sql(column: str, source_type: str | None = None) -> str:
    """SQL true where a value is missing: NULL, or blank text."""
    if _is_text(source_type):
        return f"{_cast_sql(column, 'text')} IS NULL"
    return f"{_q(column)} IS NULL"


def _cast_sql(column: str, kind: str, source_type: str | None = None, *, epoch: str | None = None) -> str:
    """SQL that turns a raw column into its contract type (NULL where it cannot).

    ``source_type`` is the column's type in the file (CSV columns are read as text): a parquet
    column that already holds timestamps is used as such, not printed and parsed again (on 10M
    events that round trip took most of the validation time). A timestamp with a time zone, at
    any resolution (pandas writes nanoseconds), becomes UTC at microseconds; ``epoch`` (s, ms,
    us) reads numbers as Unix epoch times."""
    c = _q(column)
    typed = (source_type or "VARCHAR").upper()
    if kind == "timestamp" and _is_timestamp_type(typed):
        if _has_zone(typed):  # TIMESTAMPTZ_NS cannot be cast to TIMESTAMP directly: to TIMESTAMPTZ first
            return f"(CAST({c} AS TIMESTAMPTZ) AT TIME ZONE 'UTC')"
        return f"CAST({c} AS TIMESTAMP)"
    if kind == "timestamp" and epoch:
        number = f"TRY_CAST(CAST({c} AS VARCHAR) AS DOUBLE)"
        micros = f"TRY_CAST(round({number} * {_EPOCH_MICROS[epoch]}) AS BIGINT)"
        return f"(CASE WHEN abs({micros}) < 253402300799000000 THEN make_timestamp({micros}) END)"
    if kind == "id" and typed in ("FLOAT", "DOUBLE"):
        # whole numbers read as floats (ids of a column with gaps, from pandas) are written as integers
        return (f"(CASE WHEN isfinite({c}) AND {c} = floor({c}) AND abs({c}) < 9e15 "
                f"THEN CAST(CAST({c} AS BIGINT) AS VARCHAR) ELSE NULLIF(TRIM(CAST({c} AS VARCHAR)), '') END)")
    if kind in ("id", "text"):
        return f"NULLIF(TRIM(CAST({c} AS VARCHAR)), '')"
    if kind == "timestamp":
        return f"(TRY_CAST(CAST({c} AS VARCHAR) AS TIMESTAMPTZ) AT TIME ZONE 'UTC')"
    if kind in ("number", "integer"):
        return f"TRY_CAST({c} AS DOUBLE)"
    if kind == "boolean":
        return f"TRY_CAST({c} AS BOOLEAN)"
    raise ValueError(kind)


cast_sql = _cast_sql  # public: the contract's reading of a raw column, for cxlab.drafting

_KIND_WORDS = {
    "timestamp": "not a parseable timestamp (use ISO 8601, e.g. 2025-03-01 14:05:00)",
    "number": "not a number",
    "integer": "not a number",
    "boolean": "not true/false",
}
_NUMBER_TEXT = re.compile(r"\s*[-+]?\d+(\.\d*)?([eE][-+]?\d+)?\s*")


def _day(value: pd.Timestamp) -> str:
    return f"{value:%Y-%m-%d}" if value == value.normalize() else str(value)


def _naive(value: Any) -> pd.Timestamp | None:
    """A date of study.yaml as the clean tables hold times: UTC without a time zone (None if unset)."""
    if value is None or pd.isna(value):
        return None
    value = pd.Timestamp(value)
    return value.tz_convert("UTC").tz_localize(None) if value.tzinfo else value


def _shown(value: Any) -> str:
    """A value of study.yaml or the data in a message: quoted, cut to 60 characters."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a store number read as 7.0 is shown as 7
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "…")


class _Checker:
    def __init__(self, study: Study):
        self.study = study
        self.con = _connect()
        self.report = ValidationReport(study)
        self.columns: dict[str, list[str]] = {}
        self.types: dict[str, dict[str, str]] = {}  # table -> column -> type in the file
        self.sources: dict[str, dict[str, str]] = {}  # table -> contract column -> export column
        self.folders: set[str] = set()
        self.keyed: set[str] = set()  # database tables with order_by: a row is named by its key
        self.listed: dict[str, list[str]] = {}  # database table -> every column it has (for messages)

    # ------------------------------------------------------------------ helpers
    def _examples(self, table: str, column: str | None, where: str, show: str) -> tuple[int, list, list, list]:
        count = _scalar(self.con, f"SELECT count(*) FROM raw_{table} WHERE {where}")
        if not count:
            return 0, [], [], []
        keyed = table in self.keyed and table not in self.folders
        place = ", _file, _file_row" if table in self.folders else f", {warehouse.KEY_COLUMN}" if keyed else ""
        rows = _all(
            self.con,
            f"SELECT _row, CAST({show} AS VARCHAR){place} FROM raw_{table} WHERE {where} "
            f"ORDER BY _row LIMIT {MAX_EXAMPLES}",
        )
        places = []
        if table in self.folders:
            folder = self.study.tables[table]
            places = [f"{_relative(r[2], folder)} row {r[3]}" for r in rows]
        elif keyed:
            places = [str(r[2]) for r in rows]
        return count, [r[0] for r in rows], [r[1] for r in rows], places

    def _add(self, problem: Problem) -> Problem:
        (self.report.errors if problem.severity == "error" else self.report.warnings).append(problem)
        return problem

    def _flag(self, table, column, where, show, message, severity="error") -> Problem | None:
        count, rows, values, places = self._examples(table, column, where, show)
        if not count:
            return None
        return self._add(Problem(
            table, self.study.tables[table], column, message.format(n=f"{count:,}"), count, rows, values,
            severity, source_column=self._source(table, column), places=places,
        ))

    def _error(self, table, column, message, severity="error") -> Problem:
        return self._add(Problem(table, self.study.tables[table], column, message, severity=severity,
                                 source_column=self._source(table, column)))

    def _source(self, table: str, column: str | None) -> str | None:
        return self.sources.get(table, {}).get(column) if column else None

    def kinds(self, table: str) -> dict[str, str]:
        """Contract kinds of the columns this table actually has."""
        kinds = {}
        present = self.columns.get(table, [])
        spec = dict(CONTRACT_COLUMNS[table])
        if table == "customers":
            for attr, s in self.study.customer_attributes.items():
                spec.setdefault(attr, _ATTRIBUTE_KIND[s.get("kind", "category")])
        if table == "surveys":
            for col in present:
                if col.startswith("driver_"):
                    spec.setdefault(col, "number")
        for col in present:
            if col in spec:
                kinds[col] = spec[col]
        return kinds

    # ------------------------------------------------------------------ opening a file
    def open(self, table: str) -> bool:
        if isinstance(self.study.tables[table], DatabaseTable):
            return self._open_database(table)
        path = self.study.tables[table]
        options = self.study.table_options.get(table, {})
        fmt = table_format(path) if path.exists() else None
        if not path.exists():
            self._error(table, None, f"the file does not exist ({path})")
            return False
        if fmt == "folder":
            self.folders.add(table)
            if not folder_files(path):
                inside = sorted(p.name for p in path.iterdir())[:8]
                self._error(table, None, "is a folder, and a folder is read as a partitioned parquet export, but this "
                            f"one holds no .parquet files (it has: {', '.join(inside) or 'nothing'}); name a "
                            "file, or a folder of parquet files")
                return False
        elif path.stat().st_size == 0:
            self._error(table, None, "the file is empty (0 bytes): export it again with a header row and data")
            return False
        kind_word = "a CSV file" if fmt == "csv" else "a folder of parquet files" if fmt == "folder" else "parquet"
        mismatch = _content_mismatch(path, fmt)
        if mismatch:
            self._error(table, None, mismatch)
            return False
        try:
            if fmt == "csv" and not self._check_header(table, path, options.get("encoding")):
                return False
            self.con.execute(f"CREATE VIEW raw0_{table} AS {source_sql(path, encoding=options.get('encoding'))}")
            file_columns = [d[0] for d in self.con.execute(f"SELECT * FROM raw0_{table} LIMIT 0").description]
        except duckdb.Error as exc:
            reason = duckdb_reason(exc)
            hint = ""
            if "not utf-8 encoded" in reason.lower() or "invalid unicode" in reason.lower():
                hint = (f" — save it as UTF-8, or name its encoding in study.yaml: "
                        f"tables: {{{table}: {{file: {path.name}, encoding: latin-1}}}}")
            if fmt == "csv" and "maximum line size" in reason.lower():
                reason = _long_line_reason(path, reason)
            self._error(table, None, f"cannot be read as {kind_word}: {reason}{hint}")
            return False
        file_columns = [c for c in file_columns if c not in _INTERNAL]
        if fmt == "csv" and len(file_columns) == 1:
            reason = self._one_column(table, path, options.get("encoding"), file_columns[0])
            if reason:
                self._error(table, None, f"cannot be read as {kind_word}: {reason}")
                return False
            file_columns = [d[0] for d in self.con.execute(f"SELECT * FROM raw0_{table} LIMIT 0").description
                            if d[0] not in _INTERNAL]
        if fmt == "csv" and file_columns == ["column0"] and not _scalar(self.con, f"SELECT count(*) FROM raw0_{table}"):
            self._error(table, None, "the file has no header row and no data")
            return False
        return self._finish_open(table, file_columns)

    def _open_database(self, table: str) -> bool:
        """A database table: its local copy (``cxlab.warehouse``), opened as a parquet file."""
        source = self.study.tables[table]
        try:
            every = list(warehouse.describe(source))
            self.listed[table] = every
            copy = warehouse.snapshot(self.study, table, database_columns(self.study, table, every))
        except warehouse.DatabaseUnreadable as exc:
            self._error(table, None, exc.reason)
            return False
        if source.order_by:
            self.keyed.add(table)
        self.con.execute(f"CREATE VIEW raw0_{table} AS {source_sql(copy.path)}")
        file_columns = [d[0] for d in self.con.execute(f"SELECT * FROM raw0_{table} LIMIT 0").description
                        if d[0] not in _INTERNAL]
        return self._finish_open(table, file_columns, left_out=copy.left_out)

    def _has(self, table: str, file_columns: list[str]) -> str:
        """"the file has: a, b" (for a database table: every column it has, read or not)."""
        if table in self.listed:
            return f"the table has: {', '.join(self.listed[table]) or 'no columns'}"
        return f"the file has: {', '.join(file_columns) or 'no columns'}"

    def _finish_open(self, table: str, file_columns: list[str], left_out: list[str] = ()) -> bool:
        """The raw view of an opened table (columns renamed as study.yaml maps them), its row
        count, and the problems of its columns as a whole."""
        in_database = table in self.listed
        select = self._mapped_select(table, file_columns)
        self.con.execute(f"CREATE VIEW raw_{table} AS SELECT {select} FROM raw0_{table}")
        cols = [d[0] for d in self.con.execute(f"SELECT * FROM raw_{table} LIMIT 0").description]
        self.columns[table] = [c for c in cols if c not in _INTERNAL]
        self.types[table] = {r[0]: str(r[1]) for r in _all(self.con, f"DESCRIBE raw_{table}")}
        n = _scalar(self.con, f"SELECT count(*) FROM raw_{table}")
        self.report.rows[table] = n
        missing = [c for c in _REQUIRED[table] if c not in self.columns[table]]
        for col in missing:
            mapped = self.study.column_maps.get(table, {}).get(col)
            if mapped is None:  # an export column renamed in study.yaml and missing was reported already
                self._error(
                    table, col,
                    f"required column is missing ({self._has(table, file_columns)}); "
                    f"if the export calls it otherwise, map it in study.yaml: "
                    f"{_table_yaml(self.study, table, f'columns: {{{col}: <export column>}}')}",
                )
        ignored = [c for c in self.columns[table] if not _contract_column(table, c)] + list(left_out)
        if ignored:
            where = "are not read from the database" if in_database else "stay in the raw file"
            self._error(table, None,
                        f"{len(ignored)} column(s) the data contract does not use are left out of the clean "
                        f"table (they {where}): {', '.join(ignored)}", severity="warning")
        if n == 0:
            self._error(table, None, "the table is empty (it has columns but no rows)" if in_database
                        else "the table is empty (it has a header but no rows)")
            return False
        return not missing

    def _one_column(self, table: str, path: Path, encoding: str | None, name: str) -> str | None:
        """A CSV read as one column whose name holds a delimiter: DuckDB's sniffer gave up on
        rows with different numbers of fields (an unquoted comma in a text …). Read it again with
        that delimiter: DuckDB then names the line, or reads it (the view is replaced)."""
        delim = next((d for d in (",", ";", "\t", "|") if d in name), None)
        if delim is None:
            return None
        enc = f", encoding = {_lit(encoding)}" if encoding else ""
        names = [n.strip().strip('"') for n in name.split(delim)]
        if len({n.lower() for n in names}) < len(names):
            return None
        columns = "{" + ", ".join(f"{_lit(n)}: 'VARCHAR'" for n in names) + "}"
        sql = (f"SELECT row_number() OVER () AS _row, * FROM read_csv({_lit(path)}, auto_detect = false, "
               f"header = true, delim = {_lit(delim)}, quote = '\"', escape = '\"', columns = {columns}{enc})")
        try:
            _all(self.con, f"SELECT count(*) FROM ({sql})")
        except duckdb.Error as exc:
            return duckdb_reason(exc)
        self.con.execute(f"CREATE OR REPLACE VIEW raw0_{table} AS {sql}")
        return None

    def _check_header(self, table: str, path: Path, encoding: str | None) -> bool:
        """A CSV header naming a column twice is an error (DuckDB would silently read the second
        'region' as 'region_1'; names differing only in case count as the same)."""
        enc = f", encoding = {_lit(encoding)}" if encoding else ""
        first = _all(self.con, f"SELECT * FROM read_csv({_lit(path)}, header = false, all_varchar = true{enc}) LIMIT 1")
        if not first:
            return True
        seen: dict[str, int] = {}
        twice = []
        for i, name in enumerate(first[0], start=1):
            if name is None:
                continue
            key = str(name).strip().lower()
            if key in seen:
                twice.append((str(name).strip(), seen[key], i))
            else:
                seen[key] = i
        for name, a, b in twice:
            self._add(Problem(table, path, name, f"the header names this column twice (columns {a} and {b}); "
                              "rename or remove one of them (read as they are, the second would silently "
                              f"become '{name}_1')"))
        return not twice

    def _mapped_select(self, table: str, file_columns: list[str]) -> str:
        """The raw view's columns: the export's columns renamed to the contract's as study.yaml
        maps them; a file column named like a contract column that study.yaml maps from another
        export column is dropped (the mapping wins)."""
        path = self.study.tables[table]
        mapping = self.study.column_maps.get(table, {})
        internal = [c for c in _INTERNAL if c == "_row" or (table in self.folders and c in ("_file", "_file_row"))
                    or (table in self.keyed and c == warehouse.KEY_COLUMN)]
        rename: dict[str, str] = {}
        for contract, export in mapping.items():
            if not _contract_column(table, contract):
                known = ", ".join(CONTRACT_COLUMNS[table]) + (", driver_*" if table == "surveys" else "")
                self._add(Problem(table, path, contract,
                                  f"study.yaml maps the export's column '{export}' to '{contract}', which is not a "
                                  f"column of the {table} contract ({known})", source_column=export))
                continue
            if export not in file_columns:
                self._add(Problem(table, path, contract,
                                  f"study.yaml maps this column from the export's column '{export}', which the "
                                  f"{'table' if table in self.listed else 'file'} does not have "
                                  f"({self._has(table, file_columns)})",
                                  source_column=export))
                continue
            rename[export] = contract
            self.sources.setdefault(table, {})[contract] = export
        parts = [_q(c) for c in internal]
        for col in file_columns:
            if col in rename:
                parts.append(f"{_q(col)} AS {_q(rename[col])}")
            elif col in mapping and mapping[col] in rename:
                self._error(table, None, f"the file's column '{col}' is not read: study.yaml maps "
                            f"'{mapping[col]}' to {col}", severity="warning")
            else:
                parts.append(_q(col))
        return ", ".join(parts)

    # ------------------------------------------------------------------ checks
    def check_values(self, table: str) -> None:
        epoch = self.study.table_options.get(table, {}).get("epoch")
        for col, kind in self.kinds(table).items():
            try:
                self._check_column(table, col, kind, epoch)
            except duckdb.Error as exc:
                self._error(table, col, f"cannot be checked as {kind}: {duckdb_reason(exc)}")

    def _check_column(self, table: str, col: str, kind: str, epoch: str | None) -> None:
        c = _q(col)
        typed = self.types[table].get(col)
        if col in _REQUIRED[table]:
            self._flag(table, col, _missing_sql(col, typed), c, "{n} rows have no value in a required column")
        cast = _cast_sql(col, kind, typed, epoch=epoch)
        if kind == "timestamp":
            p = self._flag(
                table, col, f"NOT ({_missing_sql(col, typed)}) AND ({cast} IS NULL OR NOT isfinite({cast}))",
                c, "{n} values are " + _KIND_WORDS[kind],
            )
            if p is not None and not epoch and p.values and all(_NUMBER_TEXT.fullmatch(str(v)) for v in p.values):
                p.message += (f"; they look like Unix epoch numbers: give their unit in study.yaml, "
                              f"{_table_yaml(self.study, table, 'epoch: s')} (s, ms or us)")
            if p is None:
                self._check_period(table, col, cast)
            return
        if kind in _KIND_WORDS:
            self._flag(table, col, f"NOT ({_missing_sql(col, typed)}) AND {cast} IS NULL",
                       c, "{n} values are " + _KIND_WORDS[kind])
        if kind in ("number", "integer"):
            v = _cast_sql(col, "number")
            self._flag(table, col, f"{v} IS NOT NULL AND NOT isfinite({v})", c,
                       "{n} values are not finite numbers (NaN, inf or -inf)")
            if col in SCORE_RANGES:
                lo, hi = SCORE_RANGES[col]
                self._flag(
                    table, col,
                    f"isfinite({v}) AND ({v} < {lo} OR {v} > {hi} OR {v} <> floor({v}))",
                    c, f"{{n}} values are out of range (whole numbers from {lo} to {hi})",
                )
            if col == "revenue":
                self._flag(table, col, f"isfinite({v}) AND {v} < 0", c, "{n} values are negative (revenue must be ≥ 0)")

    def _check_period(self, table: str, col: str, cast: str) -> None:
        """Events outside study_period are errors; without one, timestamps before 1990 or more
        than a year ahead are warnings (kept: a sentinel date such as 1900-01-01 is worth a look)."""
        if table == "customers":
            return
        period = self.study.study_period
        if period is not None and table == "events":
            start, end = period
            bounds = []
            if start is not None:
                bounds.append(f"{cast} < TIMESTAMP {_lit(start)}")
            if end is not None:
                last = end + pd.Timedelta(days=1) if end == end.normalize() else end + pd.Timedelta(microseconds=1)
                bounds.append(f"{cast} >= TIMESTAMP {_lit(last)}")
            words = f"{_day(start) if start is not None else 'the beginning'} to {_day(end) if end is not None else 'now'}"
            self._flag(table, col, " OR ".join(bounds), _q(col),
                       "{n} events fall outside the study period " + words + " (study_period in study.yaml)")
            return
        if period is not None:
            return
        today = pd.Timestamp(dt.date.today())
        late = today + PLAUSIBLE_AHEAD
        self._flag(
            table, col, f"{cast} < TIMESTAMP {_lit(PLAUSIBLE_START)} OR {cast} >= TIMESTAMP {_lit(late)}", _q(col),
            f"{{n}} timestamps are before {PLAUSIBLE_START:%Y-%m-%d} or after {late:%Y-%m-%d}, implausible for a "
            "study (kept; set study_period in study.yaml to make dates outside the study an error)",
            severity="warning",
        )

    def check_unique(self, table: str) -> None:
        col = _ID_COLUMN.get(table)
        if col is None or col not in self.columns[table]:
            return
        where = f"{_q(col)} IN (SELECT {_q(col)} FROM raw_{table} GROUP BY 1 HAVING count(*) > 1)"
        self._flag(table, col, where, _q(col), "{n} rows share an id with another row (ids must be unique)")

    def check_references(self, table: str) -> None:
        if "customers" not in self.columns or "customer_id" not in self.columns.get(table, []):
            return
        cid = _cast_sql("customer_id", "id", self.types[table].get("customer_id"))
        known = _cast_sql("customer_id", "id", self.types["customers"].get("customer_id"))
        where = (
            f"{cid} IS NOT NULL AND {cid} NOT IN "
            f"(SELECT {known} FROM raw_customers WHERE {known} IS NOT NULL)"
        )
        self._flag(table, "customer_id", where, '"customer_id"',
                   "{n} rows name a customer who is not in the customers table")

    def check_ticket_order(self) -> None:
        if {"opened_at", "closed_at"} <= set(self.columns.get("tickets", [])):
            types = self.types["tickets"]
            epoch = self.study.table_options.get("tickets", {}).get("epoch")
            opened = _cast_sql("opened_at", "timestamp", types.get("opened_at"), epoch=epoch)
            closed = _cast_sql("closed_at", "timestamp", types.get("closed_at"), epoch=epoch)
            self._flag("tickets", "closed_at", f"{closed} < {opened}",
                       "CAST(closed_at AS VARCHAR) || ' < opened ' || CAST(opened_at AS VARCHAR)",
                       "{n} tickets close before they open")

    def check_catalog(self) -> None:
        catalog = set(self.study.catalog.touchpoint)
        tp = _cast_sql("touchpoint", "id", self.types["events"].get("touchpoint"))
        seen = dict(
            _all(self.con, f"SELECT {tp} AS t, count(*) FROM raw_events WHERE t IS NOT NULL GROUP BY t ORDER BY 2 DESC")
        )
        unknown = {t: n for t, n in seen.items() if t not in catalog}
        if unknown:
            listed = ", ".join(f"{t} ({n:,} events)" for t, n in unknown.items())
            self._error("events", "touchpoint",
                        f"{len(unknown)} touchpoint(s) are not in the catalog of study.yaml; their events "
                        f"are kept with stage 'uncatalogued': {listed}", severity="warning")
            self.report.warnings[-1].count = sum(unknown.values())
        never = sorted(catalog - set(seen))
        if never:
            self._error("events", "touchpoint",
                        f"{len(never)} catalogued touchpoint(s) never occur in the log: {', '.join(never)}",
                        severity="warning")
        if "surveys" in self.columns:
            for col, known in (("touchpoint", catalog), ("stage", set(self.study.stages))):
                if col in self.columns["surveys"]:
                    allowed = ", ".join(_lit(k) for k in known) or "NULL"
                    v = _cast_sql(col, "text")
                    self._flag("surveys", col, f"{v} IS NOT NULL AND {v} NOT IN ({allowed})", _q(col),
                               f"{{n}} responses name a {col} the study does not know (kept)", "warning")
        if "surveys" in self.columns and not {"nps", "csat", "ces"} & set(self.columns["surveys"]):
            self._error("surveys", None, "has none of the score columns nps, csat, ces")

    # ------------------------------------------------------------------ study.yaml against the data
    def _study_problem(self, table: str, column: str | None, key: str, message: str,
                       severity: str = "error") -> Problem:
        return self._add(Problem(table, self.study.root / "study.yaml", column, message, severity=severity,
                                 source_column=self._source(table, column), key=key))

    def event_span(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """The first and the last event's time (UTC, as the clean tables hold them), or None when
        no timestamp of the log can be read."""
        types = self.types["events"]
        epoch = self.study.table_options.get("events", {}).get("epoch")
        ts = _cast_sql("timestamp", "timestamp", types.get("timestamp"), epoch=epoch)
        first, last = _all(self.con, f"SELECT min(t), max(t) FROM (SELECT {ts} AS t FROM raw_events) "
                                     "WHERE t IS NOT NULL AND isfinite(t)")[0]
        if first is None:
            return None
        return pd.Timestamp(first), pd.Timestamp(last)

    def check_study_dates(self) -> None:
        """Objective baselines and intervention dates against the event log's time range."""
        if "timestamp" not in self.columns.get("events", []):
            return
        span = self.event_span()
        if span is None:
            return
        first, last = span
        file = self.study.tables["events"].name
        log = f"the event log ({file}) runs from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}"
        for obj in self.study.objectives:
            start, end = _naive(obj.baseline_start), _naive(obj.baseline_end)
            if start is None and end is None:
                continue  # the baseline is the log before the current period
            key = f"objectives.{obj.id}.baseline"
            # the end day is inclusive: a window ending 2025-03-31 holds the events of that day
            stop = None if end is None else end + pd.Timedelta(days=1) if end == end.normalize() else end
            shown = f"{_day(start) if start is not None else '…'} to {_day(end) if end is not None else '…'}"
            if (stop is not None and stop <= first) or (start is not None and start > last):
                self._study_problem(
                    "events", "timestamp", key,
                    f"the baseline window {shown} holds no event: {log}. Give a window inside the data "
                    "(or leave baseline out: the log before the current period)")
        for iv in self.study.interventions:
            date = _naive(iv.date)
            if date is None:
                continue
            key = f"interventions.{iv.id}.date"
            if date > last:
                self._study_problem(
                    "events", "timestamp", key,
                    f"{_day(date)} is after the last event: {log}, so no event falls after the intervention "
                    "and there is nothing to measure its effect on")
            elif date < first.normalize():
                self._study_problem(
                    "events", "timestamp", key,
                    f"{_day(date)} is before the first event: {log}, so no event falls before the "
                    "intervention and there is nothing to compare with")
            elif iv.design != "ab" and date <= first:
                self._study_problem(
                    "events", "timestamp", key,
                    f"{_day(date)} comes before any event ({log}): a '{iv.design}' design compares the "
                    "time before the intervention with the time after it, and there is no time before")

    def check_treated(self) -> None:
        """Each intervention's treated column is a column of the customers table, and each of its
        treated values occurs in that column (as the clean table holds it)."""
        for iv in self.study.interventions:
            col = iv.treated_column
            if not col:
                continue
            col = str(col)
            key = f"interventions.{iv.id}.treated"
            if "customers" not in self.study.tables:
                self._study_problem(
                    "events", None, f"{key}.column",
                    f"the treated group is the customers whose '{col}' is one of the treated values, but "
                    "the study has no customers table (tables.customers in study.yaml) to read it from")
                continue
            present = self.columns.get("customers")
            if present is None or self.report.rows.get("customers", 0) == 0:
                continue  # the customers table could not be read: reported already
            if col not in present:
                attributes = [c for c in present if c != "customer_id"]
                near = difflib.get_close_matches(col, attributes, n=1, cutoff=0.6)
                self._study_problem(
                    "customers", None, f"{key}.column",
                    f"'{col}' is not a column of the customers table ({self.study.tables['customers'].name} "
                    f"has: {', '.join(present)}){f'; did you mean {near[0]}?' if near else ''}")
                continue
            values = list(iv.treated_values)
            if not values:
                continue
            kind = self.kinds("customers").get(col) or _inferred_kind(self, "customers", col)
            typed = self.types["customers"].get(col)
            cast = _cast_sql(col, kind if kind in ("number", "integer") else "text", typed)
            missing = []
            for value in values:
                if kind in ("number", "integer"):
                    try:
                        number = float(value)
                    except (TypeError, ValueError):
                        number = math.nan
                    if not math.isfinite(number):
                        missing.append(value)
                        continue
                    where = f"isfinite({cast}) AND {cast} = {number!r}"
                else:
                    where = f"{cast} = {_lit(value)}"
                if not _scalar(self.con, f"SELECT count(*) FROM (SELECT 1 FROM raw_customers WHERE {where} LIMIT 1)"):
                    missing.append(value)
            if missing:
                common = _all(self.con, f"SELECT v, count(*) AS n FROM (SELECT {cast} AS v FROM raw_customers) "
                                        "WHERE v IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT 10")
                distinct = _scalar(self.con, f"SELECT count(DISTINCT {cast}) FROM raw_customers")
                shown = ", ".join(f"{_shown(v)} ({n:,})" for v, n in common)
                more = f" … {distinct - len(common):,} more" if distinct > len(common) else ""
                self._study_problem(
                    "customers", col, f"{key}.values",
                    f"{', '.join(_shown(v) for v in missing)} never occur{'s' if len(missing) == 1 else ''} in "
                    f"the customers' column '{col}', so no customer would be treated"
                    f"{' by that value' if len(missing) < len(values) else ''}; the column holds "
                    f"{shown or 'no values'}{more} (customers per value)")

    def _guard(self, table: str | None, what: str, check, *args) -> None:
        """Run one check; a DuckDB error (a file broken past its first rows) becomes a problem
        naming the table, never a traceback."""
        try:
            check(*args)
        except duckdb.Error as exc:
            if table is None:
                raise
            self._error(table, None, f"could not be checked ({what}): {duckdb_reason(exc)}")

    def run(self) -> ValidationReport:
        opened = {}
        for t in self.study.tables:
            try:
                opened[t] = self.open(t)
            except duckdb.Error as exc:
                self._error(t, None, f"cannot be read: {duckdb_reason(exc)}")
                opened[t] = False
        for table, ok in opened.items():
            if table not in self.columns or self.report.rows.get(table, 0) == 0:
                continue
            self._guard(table, "values", self.check_values, table)
            self._guard(table, "unique ids", self.check_unique, table)
        if opened.get("customers"):
            for table in ("events", "surveys", "tickets"):
                if opened.get(table):
                    self._guard(table, "customer references", self.check_references, table)
        if opened.get("tickets"):
            self._guard("tickets", "ticket order", self.check_ticket_order)
        if opened.get("events"):
            self._guard("events", "touchpoint catalog", self.check_catalog)
        self.check_study()
        return self.report

    def check_study(self) -> ValidationReport:
        """study.yaml against the data (see the module doc); the tables must be open."""
        if self.columns.get("events") and self.report.rows.get("events"):
            self._guard("events", "study.yaml dates against the log", self.check_study_dates)
        if self.study.interventions:
            table = "customers" if self.columns.get("customers") else "events"
            self._guard(table, "treated groups", self.check_treated)
        return self.report


_MAGIC = {b"PAR1": "a parquet file", b"\x1f\x8b": "gzip-compressed", b"\x28\xb5\x2f\xfd": "zstd-compressed",
          b"PK\x03\x04": "a zip archive or an Excel workbook"}


def _content_mismatch(path: Path, fmt: str | None) -> str | None:
    """Why a file's first bytes say it is not what its name says (a parquet file named .csv, a
    gzip file without .gz, an Excel workbook), or None."""
    if fmt not in ("csv", "parquet") or not path.is_file():
        return None
    with open(path, "rb") as fh:
        head = fh.read(4)
    found = next((what for magic, what in _MAGIC.items() if head.startswith(magic)), None)
    name = path.name.lower()
    if fmt == "parquet":
        if found and found != "a parquet file":
            return f"is not a parquet file: its content is {found}"
        return None
    if found == "a parquet file":
        return "is a parquet file named like a CSV file: rename it to .parquet (and in study.yaml)"
    if found == "gzip-compressed" and not name.endswith(".gz"):
        return "is gzip-compressed: name it .csv.gz (and in study.yaml)"
    if found == "zstd-compressed" and not name.endswith(".zst"):
        return "is zstd-compressed: name it .csv.zst (and in study.yaml)"
    if found == "a zip archive or an Excel workbook":
        return "is a zip archive or an Excel workbook, not a CSV file: export the sheet as CSV"
    return None


def _relative(file: str, folder: Path) -> str:
    try:
        return str(Path(file).resolve().relative_to(Path(folder).resolve()))
    except ValueError:
        return Path(file).name


def validate(study: Study | str | os.PathLike) -> ValidationReport:
    """Check every table of a study against the contract, and study.yaml against the data;
    return all errors and warnings."""
    study = Study.load(study)
    return _Checker(study).run()


def check_study(study: Study | str | os.PathLike) -> ValidationReport:
    """Check only study.yaml against the data (baseline windows and intervention dates against
    the event log's time range, treated columns and values against the customers table): what
    ``validate`` finds of it, without checking every value of every table. Fast enough to run
    before a run starts (a run would otherwise find these minutes into a stage); a table that
    cannot be opened is reported as ``validate`` reports it."""
    study = Study.load(study)
    checker = _Checker(study)
    for table in study.tables:
        try:
            checker.open(table)
        except duckdb.Error as exc:
            checker._error(table, None, f"cannot be read: {duckdb_reason(exc)}")
    return checker.check_study()


# --------------------------------------------------------------------------- clean tables
_FINGERPRINTS: dict[tuple, str] = {}


def fingerprint(study: Study | str | os.PathLike) -> str:
    """A short SHA-256 of study.yaml and every input file's bytes: same inputs, same print.

    Remembered per process for files whose path, size and modification time are unchanged, so
    the stages of a run (one kernel) hash a large log once, not once per stage."""
    study = Study.load(study)
    paths = [study.root / "study.yaml"]
    for table_path in sorted(p for p in study.tables.values() if not isinstance(p, DatabaseTable)):
        paths += folder_files(table_path) if table_path.is_dir() else [table_path]
    # a table in a database by the digest of its content, computed in the database (cxlab.warehouse)
    databases = tuple((t, database_digest(study, t)) for t in sorted(study.tables)
                      if isinstance(study.tables[t], DatabaseTable))
    key = tuple((str(p), st.st_size, st.st_mtime_ns) for p, st in ((p, p.stat()) for p in paths)) + databases
    if key in _FINGERPRINTS:
        return _FINGERPRINTS[key]
    digest = files_digest(paths)
    for table, content in databases:
        digest.update(f"database table {table}: {content}".encode())
    _FINGERPRINTS[key] = digest.hexdigest()[:16]
    return _FINGERPRINTS[key]


def files_digest(files: Iterable[Path]):
    """A SHA-256 (a ``hashlib`` object, to add to or read) of each file's name and bytes, in the
    order given: the same files with the same names and contents, the same digest. Files are read
    in blocks of 1 MiB, so a large log is never held in memory."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest


def database_columns(study: Study, table: str, every: list[str]) -> list[str]:
    """The columns of a database table that are read (of ``every`` column it has): all of
    customers (each an attribute); of the other tables the contract's columns and those study.yaml
    maps — a column named like a contract column that study.yaml feeds from another is not read.
    A DatabaseUnreadable names an ``order_by`` column the table lacks."""
    source = study.tables[table]
    absent = [c for c in source.order_by if c not in every]
    if absent:
        raise warehouse.DatabaseUnreadable(
            source, f"study.yaml's order_by names {', '.join(repr(c) for c in absent)}, which the table does not "
                    f"have (it has: {', '.join(every)})")
    if table == "customers":
        return list(every)
    mapping = study.column_maps.get(table, {})
    exports = set(mapping.values())
    fed_from_elsewhere = {c for c, export in mapping.items() if export != c and export in every}
    return [c for c in every if c in exports or (_contract_column(table, c) and c not in fed_from_elsewhere)]


def database_digest(study: Study, table: str) -> str:
    """The digest of a database table's content in the columns read (``cxlab.warehouse``): asked
    of the database once per loaded study."""
    known = warehouse.remembered_digest(study, table)
    if known is None:
        source = study.tables[table]
        known, _ = warehouse.digest(source, database_columns(study, table, list(warehouse.describe(source))))
        warehouse.remember_digest(study, table, known)
    return known


def _table_yaml(study: Study, table: str, inner: str) -> str:
    """How study.yaml would say ``inner`` (``epoch: s``) for this table, file or database table."""
    source = study.tables[table]
    if isinstance(source, DatabaseTable):
        head = f"backend: {source.backend}, url: …, table: {source.table}"
    else:
        head = f"file: {source.name}"
    return f"tables: {{{table}: {{{head}, {inner}}}}}"


def clean_tables(study: Study) -> list[str]:
    """The clean tables a study has: those study.yaml names, and always customers (without a
    customers table, the event log's customer ids: every customer, no attributes)."""
    return [t for t in ("customers", "events", "surveys", "tickets") if t in study.tables or t == "customers"]


def clean_path(study: Study, table: str) -> Path:
    return study.processed(f"{table}.parquet")


def _atomic_target(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file_beside(path)  # mode from the umask, not mkstemp's 0600
    os.close(fd)
    return Path(tmp)


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """Write a DataFrame as parquet atomically (a reader never sees half a file)."""
    tmp = _atomic_target(path)
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json(obj: Any, path: Path) -> Path:
    """Write JSON atomically, turning numpy and pandas scalars into plain values."""
    tmp = _atomic_target(path)
    try:
        tmp.write_text(json.dumps(obj, indent=2, default=_json_default, allow_nan=False), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


_REMEMBERED = 4096  # states of clean tables remembered per process (then forgotten all at once)
_CLEAN_PRINTS: dict[tuple, Any] = {}  # (clean.json, its state as a file) -> the fingerprint in it
_CURRENT_CLEAN: set[tuple] = set()  # states ensure_clean found current (``_clean_state``)


def file_state(path: Path) -> tuple[int, int, int] | None:
    """A file as the file system knows it (inode, size, modification time), None when missing:
    a file edited, or written beside and renamed onto (as cxlab writes), gets another."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def remember(store: dict | set, key: tuple, value: Any = None) -> None:
    """Keep ``key`` (and ``value``) in a per-process memo, forgetting it all at once past
    ``_REMEMBERED`` entries: the bound every memo of what the clean tables give shares."""
    if len(store) >= _REMEMBERED:
        store.clear()
    if isinstance(store, set):
        store.add(key)
    else:
        store[key] = value


def clean_fingerprint(study: Study) -> str | None:
    """The fingerprint recorded with the clean tables now in data/processed/<study>/ (clean.json
    is read once per state of the file: ``file_state``)."""
    marker = study.processed_dir / "clean.json"
    state = file_state(marker)
    if state is None:
        return None
    if (str(marker), state) in _CLEAN_PRINTS:
        return _CLEAN_PRINTS[str(marker), state]
    try:
        found = read_json(marker).get("fingerprint")
    except (ValueError, OSError):
        return None
    if file_state(marker) == state:  # not replaced while it was read
        remember(_CLEAN_PRINTS, (str(marker), state), found)
    return found


def kept_for_clean(study: Study, name: str) -> pd.DataFrame | None:
    """data/processed/<study>/<name>.parquet when ``keep_for_clean`` wrote it for the clean
    tables there now; None when it is missing or was computed from other data."""
    path, marker = study.processed(f"{name}.parquet"), study.processed(f"{name}.json")
    current = clean_fingerprint(study)
    if not current or not path.exists() or not marker.exists():
        return None
    try:
        return pd.read_parquet(path) if read_json(marker).get("fingerprint") == current else None
    except (ValueError, OSError):
        return None


def keep_for_clean(study: Study, name: str, frame: pd.DataFrame, **about: Any) -> bool:
    """Keep ``frame`` as data/processed/<study>/<name>.parquet, marked (<name>.json) with the
    fingerprint of the clean tables it was computed from, for ``kept_for_clean``. Nothing is
    written (False) when there are no clean tables to tie it to."""
    current = clean_fingerprint(study)
    if not current:
        return False
    write_parquet(frame, study.processed(f"{name}.parquet"))
    write_json({"fingerprint": current, **about}, study.processed(f"{name}.json"))
    return True


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _inferred_kind(checker: _Checker, table: str, col: str) -> str:
    """The kind of a column the contract does not know (a customer attribute study.yaml does not
    declare): by its type in the file, or for text, number if every value is one."""
    typed = checker.types[table].get(col)
    if not _is_text(typed):
        if _is_timestamp_type(typed):
            return "timestamp"
        return "number" if _is_numeric_type(typed) or (typed or "").upper() == "BOOLEAN" else "text"
    bad = _scalar(checker.con, f"SELECT count(*) FROM raw_{table} WHERE {_q(col)} IS NOT NULL "
                               f"AND TRY_CAST({_q(col)} AS DOUBLE) IS NULL")
    return "text" if bad else "number"


def _clean_select(checker: _Checker, table: str) -> str:
    kinds = checker.kinds(table)
    epoch = checker.study.table_options.get(table, {}).get("epoch")
    parts = []
    for col in checker.columns[table]:
        if not _contract_column(table, col):
            continue  # kept in the raw file, not in the clean table
        kind = kinds.get(col) or _inferred_kind(checker, table, col)
        expr = _cast_sql(col, kind, checker.types[table].get(col), epoch=epoch)
        if kind == "integer":
            expr = f"CAST({expr} AS BIGINT)"
        if kind == "timestamp" and table == "customers":
            expr = f"CAST({expr} AS DATE)"
        parts.append(f"{expr} AS {_q(col)}")
    select = ", ".join(parts)
    if table != "events":
        return f"SELECT {select} FROM raw_{table} ORDER BY _row"
    catalog = checker.study.catalog[["touchpoint", "stage", "channel", "stage_order"]]
    checker.con.register("catalog_df", catalog)
    no_channel = "" if "channel" in checker.columns["events"] else ", CAST(NULL AS VARCHAR) AS channel"
    # seq keeps the raw file's order: the tie-breaker for events with equal timestamps. The log's
    # channel wins; the catalog's fills the events that have none.
    return (
        "SELECT e.* EXCLUDE (channel), COALESCE(e.channel, c.channel) AS channel, "
        "COALESCE(c.stage, 'uncatalogued') AS stage, "
        "CAST(COALESCE(c.stage_order, -1) AS INTEGER) AS stage_order "
        f"FROM (SELECT CAST(_row AS BIGINT) AS seq, {select}{no_channel} FROM raw_events) e "
        "LEFT JOIN catalog_df c ON e.touchpoint = c.touchpoint"
    )


def write_clean_tables(study: Study | str | os.PathLike) -> ValidationReport:
    """Validate, then write each table typed and checked to data/processed/<study>/<table>.parquet.

    Events gain ``stage`` and ``stage_order`` from the catalog (``uncatalogued``/-1 where the
    catalog lacks the touchpoint; those events are kept) and ``channel`` from the catalog where
    the log has none (an event's own channel wins over the catalog's), and ``seq``, the event's
    row in the raw file (the tie-breaker for equal timestamps; through a folder's files in path
    order). Columns study.yaml renames carry the contract's names; columns the contract does not
    use are left out (except in customers, which keeps every attribute). Raises DataError
    listing every error; writes nothing then.
    """
    study = Study.load(study)
    checker = _Checker(study)
    report = checker.run()
    report.raise_if_errors()
    # a customers table made from the log is written after the log
    for table in sorted(clean_tables(study), key=lambda t: t not in study.tables):
        if table in study.tables:
            select = _clean_select(checker, table)
        else:  # no customers table: the log's customer ids, in the order they first occur
            select = (f"SELECT customer_id FROM read_parquet({_lit(clean_path(study, 'events'))}) "
                      "GROUP BY customer_id ORDER BY min(seq)")
        target = clean_path(study, table)
        tmp = _atomic_target(target)
        try:
            checker.con.execute(f"COPY ({select}) TO {_lit(tmp)} (FORMAT parquet, COMPRESSION zstd)")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    write_json(
        {
            "fingerprint": fingerprint(study),
            "rows": report.rows,
            "warnings": [str(w) for w in report.warnings],
        },
        study.processed("clean.json"),
    )
    return report


def _clean_state(study: Study) -> tuple | None:
    """What the study's clean tables are current for: its processed folder and tables, the
    fingerprint of its inputs, and clean.json and each clean table as files; None without
    clean.json (an input gone missing raises OSError)."""
    folder = study.processed_dir
    marker = file_state(folder / "clean.json")
    if marker is None:
        return None
    tables = tuple(clean_tables(study))
    return (str(folder), tables, fingerprint(study), marker,
            tuple(file_state(folder / f"{t}.parquet") for t in tables))


def ensure_clean(study: Study | str | os.PathLike) -> Study:
    """Write the clean tables unless they exist for exactly these inputs.

    What it found current is remembered per process by ``_clean_state``: an input changed (its
    size or modification time), clean.json or a clean table rewritten or removed is seen at the
    next call, without reading clean.json and resolving every path again (a stage asks about a
    hundred times)."""
    study = Study.load(study)
    try:
        state = _clean_state(study)
    except OSError:  # an input gone missing: validation names it
        state = None
    if state is not None and state in _CURRENT_CLEAN:
        return study
    marker = study.processed_dir / "clean.json"
    if marker.exists():
        try:
            if read_json(marker).get("fingerprint") == fingerprint(study) and all(
                clean_path(study, t).exists() for t in clean_tables(study)
            ):
                try:
                    if state is not None and _clean_state(study) == state:  # nothing changed while checking
                        remember(_CURRENT_CLEAN, state)
                except OSError:
                    pass
                return study
        except (ValueError, OSError):
            pass
    write_clean_tables(study)
    return study


def load(study: Study | str | os.PathLike, table: str) -> pd.DataFrame:
    """A clean table as a pandas DataFrame (for customers, surveys, tickets; events go through
    the engine). Returns an empty frame with no columns when the study has no such table."""
    study = ensure_clean(study)
    if table not in clean_tables(study):
        return pd.DataFrame()
    return pd.read_parquet(clean_path(study, table))
