"""Tables in a database: reading a study's table from PostgreSQL (or any Ibis backend) once,
into a local copy the data contract's checks and clean tables read like a parquet file.

study.yaml names such a table by its backend, its URL without a password, and its name::

    tables:
      events: {backend: postgres, url: "postgresql://analyst@db.example.com:5432/cx", table: events,
               schema: web, order_by: [event_id], columns: {customer_id: user_id}}

What happens to it (README.md, "Tables in a database", has the measurements behind each choice):

- **The digest, computed in the database.** One aggregate query through Ibis: the number of rows
  and two sums of a hash of every row's values (``digest``). It stands for the table's content in
  the study's fingerprint (``cxlab.data.fingerprint``): a table that changed gives another
  fingerprint, so the clean tables are made again and outputs computed from the old content are
  refused, as for a changed file. It is asked once per loaded study (one query per stage).
- **One local copy per content** (``snapshot``): the columns the contract reads (chosen by
  ``cxlab.data``), in a fixed order — ``order_by``, else every column read, so the same content
  gives the same rows in the same order, whatever order the database returns them in — written as
  parquet to data/processed/<study>/database/<table>-<digest>.parquet and reused while the digest
  is unchanged. PostgreSQL is read with ADBC (Arrow's PostgreSQL driver, binary COPY), inside one
  read-only repeatable-read transaction that also computes the digest, so the copy is exactly the
  content the digest names; other backends through Ibis, the digest taken before and after.
- **Nothing is written to the database**, and the event-log work runs on the clean tables, in the
  study's engine (DuckDB by default), as for files.

Credentials never come from study.yaml: a URL with a password (``user:secret@host`` or
``?password=``) is refused when the study is loaded. PostgreSQL's own ``PGPASSWORD`` or
``~/.pgpass`` apply as in psql; ``password_env: NAME`` reads the password from the environment
variable NAME instead.
"""
from __future__ import annotations

import hashlib
import os
import time
import urllib.parse
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import paths
from .errors import DataError
from .study import DatabaseTable, Study

__all__ = ["DatabaseUnreadable", "Snapshot", "describe", "digest", "snapshot", "remembered_digest",
           "remember_digest", "snapshot_folder", "reset", "KEY_COLUMN"]

# the snapshot's column holding a row's order_by values ("event_id 1042"), named in error messages
KEY_COLUMN = "_cx_key"
# two large primes: the digest sums each row's hash modulo each (an int64 sum cannot overflow)
_MODULI = (2_147_483_629, 2_147_483_587)
_NULL = "\\N"
_CHUNK_ROWS = 100_000
# Ibis backends whose tables are copied with ADBC rather than through Ibis (8 to 17 times faster:
# README, "Tables in a database")
_ADBC = {"postgres"}
# Ibis 12's DuckDB backend reads batches with fetch_record_batch, which DuckDB 2.0 no longer has:
# a DuckDB database file is read whole (it is local, and DuckDB reads it fast)
_WHOLE = {"duckdb"}

_CONNECTIONS: dict[tuple, Any] = {}
_DIGESTS: dict[int, tuple[weakref.ref, dict[str, str]]] = {}


class DatabaseUnreadable(DataError):
    """A database table that cannot be read (no connection, no such table, no driver): the
    message names the table; ``reason`` is the rest."""

    def __init__(self, source: DatabaseTable, reason: str):
        self.source, self.reason = source, reason
        super().__init__([f"{source.name}: {reason}"])


@dataclass(frozen=True)
class Snapshot:
    """A local copy of a database table: the parquet file, the digest of the content it holds,
    its rows, every column the database table has, and those left out of the copy."""

    path: Path
    digest: str
    rows: int
    columns: list[str]
    left_out: list[str]


# --------------------------------------------------------------------------- connecting
def _password(source: DatabaseTable) -> str | None:
    if not source.password_env:
        return None
    value = os.environ.get(source.password_env)
    if value is None:
        raise DatabaseUnreadable(source, f"study.yaml's password_env names the environment variable "
                                         f"{source.password_env}, which is not set; set it (export "
                                         f"{source.password_env}=…) before running cxlab")
    return value


def _password_hint(source: DatabaseTable) -> str:
    where = "PGPASSWORD, ~/.pgpass or password_env" if source.backend == "postgres" else "password_env"
    return f"the password comes from {where}, never from study.yaml"


def _reason(exc: BaseException) -> str:
    """A driver's error in one line: its first non-empty lines, without the echoed query."""
    kept = []
    for line in str(exc).splitlines():
        line = line.strip()
        if not line or line.startswith(("LINE ", "Query was:", "^")):
            continue
        kept.append(line)
    text = "; ".join(kept[:3]) or type(exc).__name__
    return text if len(text) <= 400 else text[:399] + "…"


def _connect(source: DatabaseTable) -> Any:
    """The Ibis connection for a source, opened once per process."""
    import ibis

    key = (source.backend, source.url, source.password_env)
    if key in _CONNECTIONS:
        return _CONNECTIONS[key]
    password = _password(source)
    try:
        con = ibis.connect(source.url, **({"password": password} if password is not None else {}))
    except ImportError as exc:
        extra = f"pip install -e '.[{source.backend}]'" if source.backend == "postgres" else (
            f"pip install 'ibis-framework[{source.backend}]'")
        raise DatabaseUnreadable(source, f"the {source.backend} driver is not installed ({exc.name or exc}); "
                                 f"install it: {extra}") from None
    except Exception as exc:  # the driver's own errors: refused connection, authentication, unknown database
        raise DatabaseUnreadable(source, f"cannot connect to {source.url}: {_reason(exc)} "
                                         f"({_password_hint(source)})") from None
    _CONNECTIONS[key] = con
    return con


def _table(source: DatabaseTable) -> Any:
    """The source's Ibis table; a missing table is named with the tables that exist."""
    import difflib

    con = _connect(source)
    try:
        return con.table(source.table, database=source.schema)
    except Exception as exc:
        try:
            tables = sorted(con.list_tables(database=source.schema))
        except Exception:  # listing is a courtesy
            tables = []
        near = difflib.get_close_matches(source.table, tables, n=1, cutoff=0.6)
        shown = ", ".join(tables[:20]) + (" …" if len(tables) > 20 else "")
        where = f"schema {source.schema} of {source.url}" if source.schema else source.url
        found = f"it has: {shown}" if tables else f"the database says: {_reason(exc)}"
        raise DatabaseUnreadable(source, f"no table '{source.table}' in {where} ({found})"
                                 f"{f'; did you mean {near[0]}?' if near else ''}") from None


def describe(source: DatabaseTable) -> dict[str, Any]:
    """The table's columns and their Ibis types, in the table's order (no rows are read)."""
    schema = _table(source).schema()
    return dict(zip(schema.names, schema.types))


def reset() -> None:
    """Forget open connections and remembered digests (tests; after a database was replaced)."""
    for con in _CONNECTIONS.values():
        try:
            con.disconnect()
        except Exception:  # already closed
            pass
    _CONNECTIONS.clear()
    _DIGESTS.clear()


# --------------------------------------------------------------------------- the digest
def remembered_digest(study: Study, table: str) -> str | None:
    """The digest of ``table`` this loaded study was given (by ``remember_digest``), or None."""
    entry = _DIGESTS.get(id(study))
    if entry is None or entry[0]() is not study:
        return None
    return entry[1].get(table)


def remember_digest(study: Study, table: str, value: str) -> None:
    """Remember a table's digest for this loaded study: a stage asks the database once, not at
    every read of a clean table."""
    entry = _DIGESTS.get(id(study))
    if entry is None or entry[0]() is not study:
        ref = weakref.ref(study, lambda _, key=id(study): _DIGESTS.pop(key, None))
        entry = _DIGESTS[id(study)] = (ref, {})
    entry[1][table] = value


def _selection(source: DatabaseTable, columns: list[str]) -> Any:
    """The columns read, of types a parquet file holds as the contract reads them (decimals as
    doubles; uuid, json, intervals, arrays as text), in the fixed order, with KEY_COLUMN when the
    table has order_by."""
    import ibis

    t = _table(source)
    types = t.schema()
    picked = {}
    for name in columns:
        dtype, col = types[name], t[name]
        if dtype.is_decimal():
            col = col.cast("float64")
        elif not (dtype.is_string() or dtype.is_integer() or dtype.is_floating() or dtype.is_boolean()
                  or dtype.is_timestamp() or dtype.is_date()):
            col = col.cast("string")
        picked[name] = col
    if source.order_by:
        picked[KEY_COLUMN] = _joined([ibis.literal(f"{c} ") + t[c].cast("string").fill_null(_NULL)
                                      for c in source.order_by], ", ")
    order = list(source.order_by) or list(columns)
    return t.order_by([t[c] for c in order]).select(**picked)


def _joined(parts: list, separator: str) -> Any:
    import ibis

    return ibis.literal(separator).join(parts) if len(parts) > 1 else parts[0]


def _digested(source: DatabaseTable, columns: list[str]) -> list[str]:
    """The columns the digest covers: those read, and order_by (which orders the copy's rows)."""
    return list(dict.fromkeys([*columns, *source.order_by]))


def _digest_expr(source: DatabaseTable, columns: list[str]) -> Any:
    t = _table(source)
    hashed = _joined([t[c].cast("string").fill_null(_NULL) for c in _digested(source, columns)], "|").hash()
    return t.aggregate(rows=t.count(), **{f"sum{i}": (hashed % m).sum() for i, m in enumerate(_MODULI)})


def _digest_value(source: DatabaseTable, columns: list[str], types: dict, rows: int, sums: list) -> str:
    described = ";".join(f"{c}:{types[c]}" for c in _digested(source, columns))
    text = "|".join([source.backend, source.url, source.schema or "", source.table, described,
                     ",".join(source.order_by), str(rows), *(str(int(s or 0)) for s in sums)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def digest(source: DatabaseTable, columns: list[str]) -> tuple[str, int]:
    """(digest, rows) of the table's content in ``columns``: computed in the database by one
    aggregate query (rows, and per modulus the sum of every row's hash modulo it); the same
    content gives the same digest, in any row order."""
    types = describe(source)
    try:
        row = _digest_expr(source, columns).to_pyarrow().to_pylist()[0]
    except Exception as exc:  # the driver's errors: no permission to read the table, a lost connection
        raise DatabaseUnreadable(source, f"cannot be read from {source.url}: {_reason(exc)}") from None
    return _digest_value(source, columns, types, int(row["rows"]), [row[f"sum{i}"] for i in range(len(_MODULI))]), \
        int(row["rows"])


# --------------------------------------------------------------------------- the local copy
def snapshot_folder(study: Study) -> Path:
    """data/processed/<study>/database/: the local copies (shared by the study's runs: a copy is
    named by its content's digest)."""
    return paths.published_dir(study.root) / "database"


def _write_batches(reader, target: Path) -> int:
    import pyarrow.parquet as pq

    fd, tmp = paths.temp_file_beside(target)
    os.close(fd)
    rows = 0
    try:
        writer = pq.ParquetWriter(tmp, _plain_schema(reader.schema), compression="zstd")
        try:
            for batch in reader:
                batch = _plain_batch(batch)
                writer.write_batch(batch)
                rows += batch.num_rows
        finally:
            writer.close()
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return rows


def _plain_schema(schema):
    """An Arrow schema without the driver's field metadata (the parquet file names plain types)."""
    import pyarrow as pa

    return pa.schema([pa.field(f.name, f.type) for f in schema])


def _plain_batch(batch):
    import pyarrow as pa

    return pa.RecordBatch.from_arrays(batch.columns, schema=_plain_schema(batch.schema))


def _adbc_copy(source: DatabaseTable, columns: list[str], folder: Path) -> tuple[str, int, Path]:
    """PostgreSQL: the digest and the rows in one read-only repeatable-read transaction, the rows
    through ADBC's binary COPY; returns (digest, rows, parquet path)."""
    try:
        import adbc_driver_postgresql.dbapi as adbc
    except ImportError:
        raise DatabaseUnreadable(source, "the PostgreSQL driver is not installed; install the postgres "
                                 "extra: pip install -e '.[postgres]'") from None
    con = _connect(source)
    digest_sql = con.compile(_digest_expr(source, columns))
    rows_sql = con.compile(_selection(source, columns))
    types = describe(source)
    uri = source.url
    password = _password(source)
    if password is not None:
        split = urllib.parse.urlsplit(uri)
        query = urllib.parse.urlencode([*urllib.parse.parse_qsl(split.query), ("password", password)])
        uri = urllib.parse.urlunsplit(split._replace(query=query))
    try:
        with adbc.connect(uri) as db, db.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cur.execute(digest_sql)
            n, *sums = cur.fetchone()
            value = _digest_value(source, columns, types, int(n), sums)
            target = folder / f"{_file_stem(source)}-{value}.parquet"
            if not target.exists():
                cur.execute(rows_sql)
                _write_batches(cur.fetch_record_batch(), target)
            db.rollback()
    except adbc.Error as exc:
        reason = _reason(exc)
        hint = f" ({_password_hint(source)})" if "password" in reason.lower() else ""
        raise DatabaseUnreadable(source, f"cannot be read from {source.url}: {reason}{hint}") from None
    return value, int(n), target


def _ibis_copy(source: DatabaseTable, columns: list[str], folder: Path) -> tuple[str, int, Path]:
    """Any other backend: the rows through Ibis, the digest before and after (a table that keeps
    changing while it is read is an error, after three tries)."""
    for _ in range(3):
        before, n = digest(source, columns)
        target = folder / f"{_file_stem(source)}-{before}.parquet"
        if target.exists():
            return before, n, target
        try:
            if source.backend in _WHOLE:
                import pyarrow as pa

                whole = _selection(source, columns).to_pyarrow()
                _write_batches(pa.RecordBatchReader.from_batches(whole.schema, whole.to_batches(_CHUNK_ROWS)), target)
            else:
                with _selection(source, columns).to_pyarrow_batches(chunk_size=_CHUNK_ROWS) as reader:
                    _write_batches(reader, target)
        except Exception as exc:  # the driver's errors
            raise DatabaseUnreadable(source, f"cannot be read from {source.url}: {_reason(exc)}") from None
        if digest(source, columns)[0] == before:
            return before, n, target
        target.unlink(missing_ok=True)
        time.sleep(1)
    raise DatabaseUnreadable(source, "the table changed while it was read, three times; read it when it "
                             "is not being written, or point study.yaml at a copy that does not change")


def _file_stem(source: DatabaseTable) -> str:
    name = f"{source.schema}.{source.table}" if source.schema else source.table
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def snapshot(study: Study, table: str, columns: list[str]) -> Snapshot:
    """The local copy of the database table ``table`` of the study, holding ``columns``: reused
    when the digest this loaded study remembers (or, without one, the database's digest now)
    names a copy already made; made otherwise. The digest of what the copy holds is remembered
    for the study, so its fingerprint names exactly that content."""
    source: DatabaseTable = study.tables[table]
    every = list(describe(source))
    left_out = [c for c in every if c not in columns and c not in source.order_by]
    folder = snapshot_folder(study)
    folder.mkdir(parents=True, exist_ok=True)
    known = remembered_digest(study, table)
    target = folder / f"{_file_stem(source)}-{known}.parquet" if known else None
    if target is not None and target.exists():
        import pyarrow.parquet as pq

        return Snapshot(target, known, pq.ParquetFile(target).metadata.num_rows, every, left_out)
    if source.backend in _ADBC:
        value, rows, target = _adbc_copy(source, columns, folder)
    else:
        value, rows, target = _ibis_copy(source, columns, folder)
    remember_digest(study, table, value)
    for old in folder.glob(f"{_file_stem(source)}-*.parquet"):
        if old != target:
            old.unlink(missing_ok=True)  # a copy of content the table no longer holds
    return Snapshot(target, value, rows, every, left_out)
