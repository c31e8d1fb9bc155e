"""The data contract: reading a study's raw tables, checking them, writing clean tables.

Checks run in DuckDB straight on the raw CSV or parquet files, so a log of tens of millions of
events is checked without loading it into pandas. Every problem names the file, the column and
up to five offending rows (row 1 is the first data row; in a CSV that is line 2).

Errors (the run stops): a missing file or column, an empty table, a value of the wrong type,
an unparseable timestamp, a score out of range, a duplicate id, a reference to an unknown
customer, a ticket closed before it opened.
Warnings (reported, nothing dropped): touchpoints in the log that the catalog lacks, catalogued
touchpoints never seen, survey touchpoints or stages the study does not know.

Clean tables are written to data/processed/<study>/ as parquet, atomically; raw files are only
ever read.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from .errors import DataError
from .study import Study

__all__ = [
    "Problem",
    "ValidationReport",
    "validate",
    "write_clean_tables",
    "ensure_clean",
    "clean_path",
    "load",
    "fingerprint",
    "write_parquet",
    "write_json",
    "read_json",
    "SCORE_RANGES",
]

MAX_EXAMPLES = 5
SCORE_RANGES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}

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
_ID_COLUMN = {"customers": "customer_id", "surveys": "response_id", "tickets": "ticket_id"}
_ATTRIBUTE_KIND = {"numeric": "number", "date": "timestamp", "category": "text"}


@dataclass
class Problem:
    """One finding about one column of one table."""

    table: str
    file: Path
    column: str | None
    message: str
    count: int = 0
    rows: list[int] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.file.name}" + (f", column '{self.column}'" if self.column else "")
        text = f"{where}: {self.message}"
        if self.rows:
            csv = self.file.suffix.lower() == ".csv"
            shown = []
            for row, value in zip(self.rows, self.values):
                line = f" (line {row + 1})" if csv else ""
                shown.append(f"row {row}{line}: {value!r}")
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
                "column": p.column,
                "problem": p.message,
                "count": p.count,
                "example rows": ", ".join(map(str, p.rows)),
            }
            for p in self.errors + self.warnings
        ]
        return pd.DataFrame(
            rows, columns=["severity", "table", "file", "column", "problem", "count", "example rows"]
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


def _source_sql(path: Path) -> str:
    """A relation of the raw file with _row (1-based data row) and every column as read."""
    if path.suffix.lower() == ".csv":
        # all_varchar: the raw text, so a bad value is shown as the user wrote it
        return (
            f"SELECT row_number() OVER () AS _row, * FROM read_csv({_lit(path)}, header = true, "
            "all_varchar = true, sample_size = -1)"
        )
    return (
        f"SELECT file_row_number + 1 AS _row, * EXCLUDE (file_row_number) "
        f"FROM read_parquet({_lit(path)}, file_row_number = true)"
    )


def _missing_sql(column: str, source_type: str | None = None) -> str:
    """SQL true where a value is missing: NULL, or blank text."""
    if (source_type or "VARCHAR").upper() == "VARCHAR":
        return f"{_cast_sql(column, 'text')} IS NULL"
    return f"{_q(column)} IS NULL"


def _cast_sql(column: str, kind: str, source_type: str | None = None) -> str:
    """SQL that turns a raw column into its contract type (NULL where it cannot).

    ``source_type`` is the column's type in the file (CSV columns are read as text): a parquet
    column that already holds timestamps is used as such, not printed and parsed again (on 10M
    events that round trip took most of the validation time)."""
    c = _q(column)
    typed = (source_type or "VARCHAR").upper()
    if kind == "timestamp" and typed != "VARCHAR":
        if typed.startswith("TIMESTAMP WITH TIME ZONE"):
            return f"({c} AT TIME ZONE 'UTC')"
        if typed.startswith("TIMESTAMP") or typed == "DATE":
            return f"CAST({c} AS TIMESTAMP)"
    if kind in ("id", "text"):
        return f"NULLIF(TRIM(CAST({c} AS VARCHAR)), '')"
    if kind == "timestamp":
        return f"(TRY_CAST(CAST({c} AS VARCHAR) AS TIMESTAMPTZ) AT TIME ZONE 'UTC')"
    if kind in ("number", "integer"):
        return f"TRY_CAST({c} AS DOUBLE)"
    if kind == "boolean":
        return f"TRY_CAST({c} AS BOOLEAN)"
    raise ValueError(kind)


_KIND_WORDS = {
    "timestamp": "not a parseable timestamp (use ISO 8601, e.g. 2025-03-01 14:05:00)",
    "number": "not a number",
    "integer": "not a number",
    "boolean": "not true/false",
}


class _Checker:
    def __init__(self, study: Study):
        self.study = study
        self.con = _connect()
        self.report = ValidationReport(study)
        self.columns: dict[str, list[str]] = {}
        self.types: dict[str, dict[str, str]] = {}  # table -> column -> type in the file

    # ------------------------------------------------------------------ helpers
    def _examples(self, table: str, column: str | None, where: str, show: str) -> tuple[int, list, list]:
        count = self.con.execute(f"SELECT count(*) FROM raw_{table} WHERE {where}").fetchone()[0]
        if not count:
            return 0, [], []
        rows = self.con.execute(
            f"SELECT _row, {show} FROM raw_{table} WHERE {where} ORDER BY _row LIMIT {MAX_EXAMPLES}"
        ).fetchall()
        return count, [r[0] for r in rows], [r[1] for r in rows]

    def _flag(self, table, column, where, show, message, severity="error") -> None:
        count, rows, values = self._examples(table, column, where, show)
        if count:
            problem = Problem(
                table, self.study.tables[table], column, message.format(n=f"{count:,}"), count, rows, values,
                severity,
            )
            (self.report.errors if severity == "error" else self.report.warnings).append(problem)

    def _error(self, table, column, message, severity="error") -> None:
        problem = Problem(table, self.study.tables[table], column, message, severity=severity)
        (self.report.errors if severity == "error" else self.report.warnings).append(problem)

    def kinds(self, table: str) -> dict[str, str]:
        """Contract kinds of the columns this table actually has."""
        kinds = {}
        present = self.columns.get(table, [])
        spec = {**_REQUIRED[table], **_OPTIONAL[table]}
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

    # ------------------------------------------------------------------ checks
    def open(self, table: str) -> bool:
        path = self.study.tables[table]
        if not path.exists():
            self._error(table, None, f"the file does not exist ({path})")
            return False
        try:
            self.con.execute(f"CREATE VIEW raw_{table} AS {_source_sql(path)}")
            cols = [d[0] for d in self.con.execute(f"SELECT * FROM raw_{table} LIMIT 0").description]
        except duckdb.Error as exc:
            self._error(table, None, f"cannot be read as {path.suffix[1:]}: {str(exc).splitlines()[0]}")
            return False
        self.columns[table] = [c for c in cols if c != "_row"]
        self.types[table] = {r[0]: str(r[1]) for r in self.con.execute(f"DESCRIBE raw_{table}").fetchall()}
        n = self.con.execute(f"SELECT count(*) FROM raw_{table}").fetchone()[0]
        self.report.rows[table] = n
        missing = [c for c in _REQUIRED[table] if c not in self.columns[table]]
        for col in missing:
            self._error(
                table, col,
                f"required column is missing (the file has: {', '.join(self.columns[table]) or 'no columns'})",
            )
        if n == 0:
            self._error(table, None, "the table is empty (it has a header but no rows)")
            return False
        return not missing

    def check_values(self, table: str) -> None:
        for col, kind in self.kinds(table).items():
            c = _q(col)
            typed = self.types[table].get(col)
            if col in _REQUIRED[table]:
                self._flag(table, col, _missing_sql(col, typed), c,
                           "{n} rows have no value in a required column")
            if kind in _KIND_WORDS:
                self._flag(
                    table, col,
                    f"NOT ({_missing_sql(col, typed)}) AND {_cast_sql(col, kind, typed)} IS NULL",
                    c, "{n} values are " + _KIND_WORDS[kind],
                )
            if col in SCORE_RANGES:
                lo, hi = SCORE_RANGES[col]
                v = _cast_sql(col, "number")
                self._flag(
                    table, col,
                    f"{v} IS NOT NULL AND ({v} < {lo} OR {v} > {hi} OR {v} <> floor({v}))",
                    c, f"{{n}} values are out of range (whole numbers from {lo} to {hi})",
                )
            if col == "revenue":
                v = _cast_sql(col, "number")
                self._flag(table, col, f"{v} < 0", c, "{n} values are negative (revenue must be ≥ 0)")

    def check_unique(self, table: str) -> None:
        col = _ID_COLUMN.get(table)
        if col is None or col not in self.columns[table]:
            return
        where = f"{_q(col)} IN (SELECT {_q(col)} FROM raw_{table} GROUP BY 1 HAVING count(*) > 1)"
        self._flag(table, col, where, _q(col), "{n} rows share an id with another row (ids must be unique)")

    def check_references(self, table: str) -> None:
        if "customers" not in self.columns or "customer_id" not in self.columns.get(table, []):
            return
        cid = _cast_sql("customer_id", "id")
        where = (
            f"{cid} IS NOT NULL AND {cid} NOT IN "
            f"(SELECT {cid} FROM raw_customers WHERE {cid} IS NOT NULL)"
        )
        self._flag(table, "customer_id", where, '"customer_id"',
                   "{n} rows name a customer who is not in the customers table")

    def check_ticket_order(self) -> None:
        if {"opened_at", "closed_at"} <= set(self.columns.get("tickets", [])):
            types = self.types["tickets"]
            opened = _cast_sql("opened_at", "timestamp", types.get("opened_at"))
            closed = _cast_sql("closed_at", "timestamp", types.get("closed_at"))
            self._flag("tickets", "closed_at", f"{closed} < {opened}",
                       "CAST(closed_at AS VARCHAR) || ' < opened ' || CAST(opened_at AS VARCHAR)",
                       "{n} tickets close before they open")

    def check_catalog(self) -> None:
        catalog = set(self.study.catalog.touchpoint)
        seen = dict(
            self.con.execute(
                f"SELECT {_cast_sql('touchpoint', 'id')} AS t, count(*) FROM raw_events "
                "WHERE t IS NOT NULL GROUP BY t ORDER BY 2 DESC"
            ).fetchall()
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

    def run(self) -> ValidationReport:
        opened = {t: self.open(t) for t in self.study.tables}
        for table, ok in opened.items():
            if table not in self.columns or self.report.rows.get(table, 0) == 0:
                continue
            self.check_values(table)
            self.check_unique(table)
        if opened.get("customers"):
            for table in ("events", "surveys", "tickets"):
                if opened.get(table):
                    self.check_references(table)
        if opened.get("tickets"):
            self.check_ticket_order()
        if opened.get("events"):
            self.check_catalog()
        return self.report


def validate(study: Study | str | os.PathLike) -> ValidationReport:
    """Check every table of a study against the contract; return all errors and warnings."""
    study = Study.load(study)
    return _Checker(study).run()


# --------------------------------------------------------------------------- clean tables
_FINGERPRINTS: dict[tuple, str] = {}


def fingerprint(study: Study | str | os.PathLike) -> str:
    """A short SHA-256 of study.yaml and every input file's bytes: same inputs, same print.

    Remembered per process for files whose path, size and modification time are unchanged, so
    the stages of a run (one kernel) hash a large log once, not once per stage."""
    study = Study.load(study)
    paths = [study.root / "study.yaml", *sorted(study.tables.values())]
    key = tuple((str(p), st.st_size, st.st_mtime_ns) for p, st in ((p, p.stat()) for p in paths))
    if key in _FINGERPRINTS:
        return _FINGERPRINTS[key]
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    _FINGERPRINTS[key] = digest.hexdigest()[:16]
    return _FINGERPRINTS[key]


def clean_path(study: Study, table: str) -> Path:
    return study.processed(f"{table}.parquet")


def _atomic_target(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
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


def clean_fingerprint(study: Study) -> str | None:
    """The fingerprint recorded with the clean tables now in data/processed/<study>/."""
    marker = study.processed_dir / "clean.json"
    try:
        return read_json(marker).get("fingerprint") if marker.exists() else None
    except (ValueError, OSError):
        return None


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


def _clean_select(checker: _Checker, table: str) -> str:
    kinds = checker.kinds(table)
    parts = []
    for col in checker.columns[table]:
        kind = kinds.get(col)
        if kind is None:  # a column the contract does not know: numeric if every value is
            bad = checker.con.execute(
                f"SELECT count(*) FROM raw_{table} WHERE {_q(col)} IS NOT NULL "
                f"AND TRY_CAST({_q(col)} AS DOUBLE) IS NULL"
            ).fetchone()[0]
            kind = "text" if bad else "number"
        expr = _cast_sql(col, kind, checker.types[table].get(col))
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
    # seq keeps the raw file's order: the tie-breaker for events with equal timestamps
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
    the log has none, and ``seq``, the event's row in the raw file (the tie-breaker for equal
    timestamps). Raises DataError listing every error; writes nothing then.
    """
    study = Study.load(study)
    checker = _Checker(study)
    report = checker.run()
    report.raise_if_errors()
    for table in study.tables:
        target = clean_path(study, table)
        tmp = _atomic_target(target)
        try:
            checker.con.execute(
                f"COPY ({_clean_select(checker, table)}) TO {_lit(tmp)} (FORMAT parquet, COMPRESSION zstd)"
            )
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


def ensure_clean(study: Study | str | os.PathLike) -> Study:
    """Write the clean tables unless they exist for exactly these inputs."""
    study = Study.load(study)
    marker = study.processed_dir / "clean.json"
    if marker.exists():
        try:
            if read_json(marker).get("fingerprint") == fingerprint(study) and all(
                clean_path(study, t).exists() for t in study.tables
            ):
                return study
        except (ValueError, OSError):
            pass
    write_clean_tables(study)
    return study


def load(study: Study | str | os.PathLike, table: str) -> pd.DataFrame:
    """A clean table as a pandas DataFrame (for customers, surveys, tickets; events go through
    the engine). Returns an empty frame with no columns when the study has no such table."""
    study = ensure_clean(study)
    if table not in study.tables:
        return pd.DataFrame()
    return pd.read_parquet(clean_path(study, table))
