"""The event-log engine: Ibis expressions on DuckDB by default, on PySpark when a study says so.

Stages build Ibis expressions on ``events(study)`` and bring back only aggregates, so a log of
tens of millions of events is never loaded into pandas. The clean tables written by
``cxlab.data`` are read straight from parquet.

study.yaml chooses the backend:

    engine: {backend: duckdb}                                      # the default
    engine: {backend: duckdb, threads: 4, memory_limit: 8GB, temp_directory: /scratch}
    engine: {backend: pyspark, master: "local[2]"}                 # or spark://host:7077, yarn …

DuckDB defaults: every core, ``memory_limit`` 3 GiB (or half the machine's memory if that is
less), so a stage kernel stays within a laptop's means and larger work spills to disk instead,
in ``temp_directory`` (default: <system temp>/cxlab-duckdb, never the report folder a notebook
runs in).

A PySpark study needs the ``spark`` extra (``pip install -e '.[spark]'``) and Java 17.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Any

import ibis
import pandas as pd

from . import data
from .errors import StudyError
from .study import Study

__all__ = ["connect", "events", "table", "to_pandas", "backend_name", "reset", "cached", "set_threads", "configured_threads"]

_CONNECTIONS: dict[tuple, Any] = {}
_CACHED: dict[tuple, ibis.Table] = {}
_TABLES: dict[tuple, ibis.Table] = {}  # the clean tables' views (``table``)
# DuckDB threads for connections opened from now on in this process (None: the user's
# CXLAB_DUCKDB_THREADS, else DuckDB's default of every core); the runner sets it per stage.
_THREADS: list[int | None] = [None]


def set_threads(threads: int | None) -> None:
    """DuckDB threads for the connections this process opens next (study.yaml's
    ``engine.threads`` still wins). The runner gives each stage its share of the cores."""
    _THREADS[0] = None if threads is None else int(threads)


def configured_threads() -> int | None:
    """The DuckDB threads ``set_threads`` gave this process (None: not set)."""
    return _THREADS[0]


def _engine_key(study: Study) -> tuple:
    engine = study.engine
    return tuple(sorted((k, str(v)) for k, v in engine.items()))


def backend_name(study: Study) -> str:
    return str(study.engine.get("backend", "duckdb"))


def connect(study: Study | str | os.PathLike) -> Any:
    """The Ibis backend for this study, opened once per process and shared."""
    study = Study.load(study)
    key = _engine_key(study)
    if key in _CONNECTIONS:
        return _CONNECTIONS[key]
    backend = backend_name(study)
    if backend == "duckdb":
        options = {"memory_limit": _default_memory_limit(),
                   "temp_directory": os.path.join(tempfile.gettempdir(), "cxlab-duckdb")}
        if "threads" in study.engine:
            options["threads"] = int(study.engine["threads"])
        elif _THREADS[0] is not None:
            options["threads"] = _THREADS[0]
        elif os.environ.get("CXLAB_DUCKDB_THREADS", "").strip():
            options["threads"] = int(os.environ["CXLAB_DUCKDB_THREADS"])
        for setting in ("memory_limit", "temp_directory"):
            if setting in study.engine:
                options[setting] = str(study.engine[setting])
        con = ibis.duckdb.connect(**options)
        con.raw_sql("SET timezone = 'UTC'")
    elif backend == "pyspark":
        con = _spark_connect(study.engine)
    else:  # Study validates this already; kept for callers that build engine dicts by hand
        raise StudyError(f"engine.backend '{backend}' is not supported (duckdb or pyspark)")
    _CONNECTIONS[key] = con
    return con


def _default_memory_limit() -> str:
    """3GB, or half the machine's memory where that is less."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "3GiB"
    return f"{max(256, min(3 * 1024, total // 2**21))}MiB"


def _spark_connect(engine: dict) -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise StudyError(
            "This study names engine.backend: pyspark, but PySpark is not installed. "
            "Install the spark extra: pip install -e '.[spark]' (Java 17 is needed too)."
        ) from None
    builder = (
        SparkSession.builder.master(str(engine.get("master", "local[2]")))
        .appName(str(engine.get("app_name", "cxlab")))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(engine.get("shuffle_partitions", 8)))
    )
    for key, value in (engine.get("conf") or {}).items():
        builder = builder.config(str(key), str(value))
    session = builder.getOrCreate()
    return ibis.pyspark.connect(session)


def table(study: Study | str | os.PathLike, name: str) -> ibis.Table:
    """A clean table of the study (validated first if needed) as an Ibis table."""
    study = data.ensure_clean(study)
    if name not in data.clean_tables(study):
        raise StudyError(f"Study '{study.name}' has no '{name}' table (study.yaml, tables).")
    con = connect(study)
    path = data.clean_path(study, name)
    fingerprint = data.clean_fingerprint(study) or ""
    # one view per connection, clean file and input fingerprint (a stage asks a hundred times;
    # each view costs a round of DuckDB catalog work)
    key = (_engine_key(study), str(path), fingerprint)
    if key not in _TABLES:
        # the view's name carries the input fingerprint: Ibis caches results by expression, so a
        # table read from rewritten clean tables must not look like the one read before; and the
        # file's place, so another study's view (same name, same inputs) never replaces this one
        place = hashlib.sha256(str(path).encode("utf-8")).hexdigest()[:6]
        view = f"{study.name}_{name}_{fingerprint[:8]}_{place}".replace("-", "_")
        _TABLES[key] = con.read_parquet(str(path), table_name=view)
    return _TABLES[key]


def events(study: Study | str | os.PathLike) -> ibis.Table:
    """The clean event log: seq, customer_id, timestamp, touchpoint, revenue, channel,
    session_id (where the log has it), stage, stage_order (-1 for uncatalogued touchpoints)."""
    return table(study, "events")


def to_pandas(expr: ibis.Expr) -> pd.DataFrame:
    """Run an expression and return the (aggregated) result as pandas."""
    backend = expr._find_backend(use_default=True)  # a memtable alone: Ibis's default backend, as execute
    result = _duckdb_to_pandas(backend, expr) if backend.name == "duckdb" else expr.to_pandas()
    return result if isinstance(result, pd.DataFrame) else pd.DataFrame(result)


def _duckdb_to_pandas(backend, expr: ibis.Expr):
    """Ibis's DuckDB ``execute`` with one change: it turns every column holding a null into a
    Python list and back (its guard for DuckDB's all-null literal columns), about 20 of the
    segmentation stage's 92 CPU-seconds at 10M events (profiled; 1M customers, left joins full
    of nulls). Here only nested, dictionary and wholly null columns go through Python, so the
    frame is the one Ibis returns (same values, same dtypes: tests/test_engine_frames.py, which
    also catches a change of the Ibis internals used here; Ibis is pinned in pyproject.toml)."""
    import pyarrow.types as pat
    from ibis.backends.duckdb.converter import DuckDBPandasData

    table = backend._to_duckdb_relation(expr).to_arrow_table()
    columns = {}
    for name, col in zip(table.column_names, table.columns):
        through_python = (pat.is_nested(col.type) or pat.is_dictionary(col.type)
                          or (len(col) > 0 and col.null_count == len(col)))
        columns[name] = col.to_pylist() if through_python else col.to_pandas()
    frame = DuckDBPandasData.convert_table(pd.DataFrame(columns), expr.as_table().schema())
    return expr.__pandas_result__(frame)


def cached(study: Study, key: tuple, build) -> ibis.Table:
    """``build()`` (an Ibis expression on the study's clean tables) computed once per process and
    kept in the engine (a DuckDB temporary table, a cached Spark DataFrame): for intermediate
    tables that several analyses of a stage read (a KPI's per-customer units under many
    windows). Keyed, like every cache of derived tables, by the fingerprint of the inputs the
    clean tables were made from (``data.clean_fingerprint``): recomputed when they are rewritten
    from other data; forgotten by ``reset``."""
    study = data.ensure_clean(study)
    full_key = (_engine_key(study), str(study.processed_dir), data.clean_fingerprint(study), key)
    if full_key not in _CACHED:
        _CACHED[full_key] = build().cache()
    return _CACHED[full_key]


def reset() -> None:
    """Forget open connections (tests, between stages of a run, or after changing a study's
    engine settings). DuckDB connections are closed (their memory freed); a Spark session is
    left running for the next connection to reuse."""
    _CACHED.clear()
    _TABLES.clear()
    for con in _CONNECTIONS.values():
        if getattr(con, "name", "") == "duckdb":
            try:
                con.disconnect()
            except Exception:  # already closed
                pass
    _CONNECTIONS.clear()
