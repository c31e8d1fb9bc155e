"""A study: one journey-mapping project, described by its study.yaml.

A study folder holds ``study.yaml`` and the input tables it names. The file is read with
safe YAML only (UTF-8, no duplicate keys, no alias bombs), every value checked against the
shape its key takes (``cxlab.schema``), then validated here; every problem is reported at once,
naming the key.

    name: demo                          # optional; the folder name is used for outputs
    title: Demo retail study
    tables:                             # paths relative to the study folder: .csv, .csv.gz,
      customers: customers.csv          #   .csv.zst, .parquet, or a folder of parquet files;
                                        #   optional: without it, the log's customer ids
      events:                           # or a mapping: the file and the export's column names
        file: export.csv.gz
        columns: {customer_id: user_id, touchpoint: event, timestamp: ts}   # contract: export
        encoding: latin-1               # optional, CSV only: utf-8 (default), utf-16, latin-1
        epoch: s                        # optional: timestamps are Unix epoch s | ms | us
      surveys: surveys.csv              # optional
      tickets: tickets.csv              # optional
      # or a table in a database, through Ibis (README: "Tables in a database"); the URL carries
      # no password (PGPASSWORD, ~/.pgpass, or password_env: <environment variable>)
      # events: {backend: postgres, url: "postgresql://analyst@db:5432/cx", table: events,
      #          schema: web, order_by: [event_id], columns: {customer_id: user_id}}
    study_period: {start: 2025-01-01, end: 2025-12-31}   # optional: events outside are errors
    stages: [awareness, consideration, purchase, service, loyalty]   # in journey order
    touchpoints:                        # the catalog: touchpoint -> stage, channel
      web_visit: {stage: awareness, channel: web, label: Website visit}
    goal_touchpoints: [web_purchase]    # reaching one of these is a conversion
    customer_attributes:                # attributes the segmentation stage may use
      age: {kind: numeric, bins: [18, 25, 35, 50, 65, 100]}
      region: {kind: category}
    objectives:
      - id: grow_conversion
        goal: Grow online sales
        kpi: conversion_rate
        baseline: {start: 2025-01-01, end: 2025-03-31}
        target: {relative: 0.10}        # or {absolute: 0.35}
        intervention: new_checkout      # optional: makes this objective a hypothesis
    interventions:
      - id: new_checkout
        date: 2025-07-01
        design: did                     # ab | pre_post | did | its
        treated: {column: region, values: [North]}
        kpis: [conversion_rate, csat_mean]
        alpha: 0.05
        min_effect: {conversion_rate: 0.02}
    parameters:                         # per-stage notebook parameters
      touchpoints: {conversion_window_days: 30}
    engine: {backend: duckdb}           # or {backend: pyspark, master: "local[2]"}
"""
from __future__ import annotations

import copy
import datetime as dt
import os
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import paths, schema
from .errors import StudyError
from .paths import inside, resolve_study_dir

__all__ = ["Study", "Objective", "Intervention", "TABLE_NAMES", "DESIGNS", "TABLE_SUFFIXES", "table_format",
           "ENCODINGS", "EPOCH_UNITS", "DatabaseTable"]

TABLE_NAMES = ("customers", "events", "surveys", "tickets")
# the files a table may be: CSV (plain or compressed, read by DuckDB as they are), parquet, or a
# folder of parquet files (a partitioned export, hive-style key=value folders included)
TABLE_SUFFIXES = (".csv", ".csv.gz", ".csv.zst", ".parquet")
TABLE_KEYS = ("file", "columns", "encoding", "epoch")
# a table in a database (cxlab.warehouse): backend, url and table are required
DATABASE_KEYS = ("backend", "url", "table", "schema", "order_by", "password_env", "columns", "epoch")
# the encodings DuckDB reads without an extension; a name from the left is read as the right
ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "utf-16": "utf-16", "utf16": "utf-16", "latin-1": "latin-1",
             "latin1": "latin-1", "iso-8859-1": "latin-1", "iso8859-1": "latin-1"}
EPOCH_UNITS = ("s", "ms", "us")
# only the event log is required: without a customers table the customers are the log's ids
# (data.write_clean_tables writes that table), with no attributes
REQUIRED_TABLES = ("events",)
DESIGNS = ("ab", "pre_post", "did", "its")
DEFAULT_CONVERSION_WINDOW_DAYS = 30
# money in the report is shown in this currency unless study.yaml names another (currency: USD)
DEFAULT_CURRENCY = "EUR"
CHANNELS_HINT = "web, app, email, store, call_centre"
# study.yaml's content by its bytes (``_read_config``); a few studies per process
_CONFIGS: dict[bytes, Any] = {}
_CONFIGS_KEPT = 64


def _read_config(file: Path) -> Any:
    """``schema.read_study_yaml(file)``, parsed once per process for the same bytes (a stage loads
    its study several times, and the safe reader takes milliseconds); each caller gets a copy."""
    try:
        raw = file.read_bytes()
    except OSError:
        return schema.read_study_yaml(file)  # which names the problem
    if raw not in _CONFIGS:
        config = schema.read_study_yaml(file)
        try:
            unchanged = file.read_bytes() == raw  # not rewritten while it was parsed
        except OSError:
            unchanged = False
        if not unchanged:
            return config
        if len(_CONFIGS) >= _CONFIGS_KEPT:
            _CONFIGS.clear()
        _CONFIGS[raw] = config
    return copy.deepcopy(_CONFIGS[raw])


@dataclass(frozen=True)
class Objective:
    """Business goal -> KPI -> baseline window -> target."""

    id: str
    goal: str
    kpi: str
    baseline_start: pd.Timestamp | None
    baseline_end: pd.Timestamp | None
    target_absolute: float | None = None
    target_relative: float | None = None
    direction: str = "increase"
    intervention: str | None = None
    raw: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Intervention:
    """A change whose effect the impact stage tests."""

    id: str
    date: pd.Timestamp
    design: str
    treated_column: str | None
    treated_values: tuple
    kpis: tuple
    alpha: float = 0.05
    min_effect: dict = field(default_factory=dict)
    description: str = ""
    raw: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class DatabaseTable:
    """A table in a database, read through Ibis (``cxlab.warehouse``): the Ibis backend
    (postgres, duckdb, …), a URL Ibis connects to (never with a password), the table and its
    schema, the columns that give its rows their order, and the environment variable holding the
    password (None: the driver's own, e.g. PGPASSWORD or ~/.pgpass)."""

    backend: str
    url: str
    table: str
    schema: str | None = None
    order_by: tuple[str, ...] = ()
    password_env: str | None = None

    @property
    def name(self) -> str:
        """How messages name it: "postgres table web.events"."""
        return f"{self.backend} table {self.schema + '.' if self.schema else ''}{self.table}"

    def __str__(self) -> str:
        return f"{self.name} at {self.url}"


def _ibis_backends() -> set[str]:
    """The backends Ibis knows (installed or not: a missing driver is named when connecting)."""
    from importlib.metadata import entry_points

    return {e.name for e in entry_points(group="ibis.backends")}


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _database_table(key: str, spec: dict, problems: "_Problems") -> DatabaseTable | None:
    """``tables.<name>`` as a database table; a password in the URL is refused."""
    missing = [k for k in ("backend", "url", "table") if not str(spec.get(k) or "").strip()]
    for k in missing:
        problems.add(f"{key}.{k}", "is required for a table in a database: {backend: postgres, "
                                   "url: postgresql://user@host:5432/database, table: events}")
    if missing:
        return None
    backend, url, table = str(spec["backend"]).strip(), str(spec["url"]).strip(), str(spec["table"]).strip()
    ok = True
    known = _ibis_backends()
    if known and backend not in known:
        problems.add(f"{key}.backend", f"'{backend}' is not an Ibis backend (postgres, duckdb, sqlite, mysql, "
                                       "snowflake, bigquery …)")
        ok = False
    try:
        split = urllib.parse.urlsplit(url)
        has_password = split.password is not None
    except ValueError as exc:
        problems.add(f"{key}.url", f"is not a URL ({exc})")
        return None
    secret_params = [k for k, _ in urllib.parse.parse_qsl(split.query) if "password" in k.lower()]
    if has_password or secret_params:
        where = "after the user name" if has_password else f"as ?{secret_params[0]}="
        env = "PGPASSWORD or ~/.pgpass, or " if backend == "postgres" else ""
        problems.add(f"{key}.url", f"holds a password ({where}); study.yaml is kept and shared with the study, "
                                   "so cxlab refuses it: remove it from the URL and give it through the "
                                   f"environment ({env}password_env: <name of an environment variable>)")
        ok = False
    scheme = split.scheme.replace("postgresql", "postgres")
    if ok and scheme != backend:
        problems.add(f"{key}.url", f"is a {split.scheme or 'scheme-less'} URL, and the backend is {backend}: "
                                   f"write a URL of the form {backend}://…")
        ok = False
    if ok and backend == "postgres" and "/" in split.path.strip("/"):
        # Ibis would read postgresql://host/db/web as schema web, the driver that copies the table as database db/web
        problems.add(f"{key}.url", f"names a database and a schema ({split.path.strip('/')}); the URL names the "
                                   "database only: give the schema as schema: <name>")
        ok = False
    env_name = spec.get("password_env")
    if env_name is not None and not _ENV_NAME.fullmatch(str(env_name)):
        problems.add(f"{key}.password_env", f"'{env_name}' is not the name of an environment variable "
                                            "(letters, digits and _), e.g. CX_DB_PASSWORD")
        ok = False
    order_by = spec.get("order_by") or []
    order_by = [order_by] if isinstance(order_by, str) else order_by
    if spec.get("encoding") is not None:
        problems.add(f"{key}.encoding", "applies to CSV files only, and this table is in a database")
        ok = False
    if not ok:
        return None
    return DatabaseTable(backend=backend, url=url, table=table,
                         schema=str(spec["schema"]) if spec.get("schema") is not None else None,
                         order_by=tuple(str(c) for c in order_by),
                         password_env=str(env_name) if env_name is not None else None)


def table_format(path: Path) -> str | None:
    """How a table file is read: 'csv' (.csv, .csv.gz, .csv.zst), 'parquet', 'folder' (an existing
    folder: a partitioned parquet export), or None (not a table file)."""
    path = Path(path)
    if path.is_dir():
        return "folder"
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if any(name.endswith(s) for s in TABLE_SUFFIXES if s.startswith(".csv")):
        return "csv"
    return None


class _Problems:
    def __init__(self, file: Path):
        self.file = file
        self.items: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.items.append(f"{self.file}: '{key}': {message}")

    def raise_if_any(self) -> None:
        if self.items:
            raise StudyError(
                f"{len(self.items)} problem(s) in {self.file}:\n  - " + "\n  - ".join(self.items)
            )


def _date(value: Any, key: str, problems: _Problems) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        if isinstance(value, (dt.date, dt.datetime)):
            return pd.Timestamp(value)
        return pd.Timestamp(str(value))
    except (ValueError, TypeError):
        problems.add(key, f"'{value}' is not a date (write YYYY-MM-DD)")
        return None


_SUFFIX_WORDS = ".csv, .csv.gz, .csv.zst or .parquet file, or a folder of parquet files"


def _table_spec(name: str, spec: Any, problems: _Problems) -> tuple[str | DatabaseTable, dict, dict] | None:
    """(file or DatabaseTable, {contract column: export column}, options) of ``tables.<name>``: a
    file name, a mapping {file, columns, encoding, epoch}, or a table in a database {backend, url,
    table, schema, order_by, password_env, columns, epoch}."""
    key = f"tables.{name}"
    if isinstance(spec, (str, os.PathLike)):
        return str(spec), {}, {}
    if not isinstance(spec, dict):
        problems.add(key, "give a file name, or {file: ..., columns: {contract column: export column}}")
        return None
    in_database = "file" not in spec and bool({"backend", "url", "table"} & set(spec))
    allowed = DATABASE_KEYS if in_database else TABLE_KEYS
    for extra in spec:
        if extra not in allowed and not (in_database and extra == "encoding"):
            problems.add(f"{key}.{extra}", f"unknown key; a table {'in a database ' if in_database else ''}takes "
                                           f"{', '.join(allowed)}")
    if in_database:
        rel = _database_table(key, spec, problems)
        if rel is None:
            return None
    else:
        rel = spec.get("file")
    if not in_database and (not isinstance(rel, str) or not rel.strip()):
        problems.add(f"{key}.file", "is required: the table's file, relative to the study folder (or, for a table "
                                    "in a database, give backend, url and table)")
        return None
    columns: dict[str, str] = {}
    raw = spec.get("columns") or {}
    if not isinstance(raw, dict):
        problems.add(f"{key}.columns", "must map contract columns to the export's columns, "
                                       "e.g. {customer_id: user_id, timestamp: ts}")
        raw = {}
    seen: dict[str, str] = {}
    for contract, export in raw.items():
        if not isinstance(export, (str, int)) or isinstance(export, bool) or not str(export).strip():
            problems.add(f"{key}.columns.{contract}", f"must name a column of the export (got {export!r})")
            continue
        export = str(export)
        if export in seen:
            problems.add(f"{key}.columns.{contract}",
                         f"'{export}' is already mapped to {seen[export]}; one export column feeds one contract column")
            continue
        seen[export] = str(contract)
        columns[str(contract)] = export
    options: dict[str, str] = {}
    encoding = spec.get("encoding")
    if encoding is not None:
        if str(encoding).lower() not in ENCODINGS:
            problems.add(f"{key}.encoding", f"'{encoding}' is not one of utf-8, utf-16, latin-1 "
                                            "(convert other encodings to UTF-8 first)")
        else:
            options["encoding"] = ENCODINGS[str(encoding).lower()]
    epoch = spec.get("epoch")
    if epoch is not None:
        if str(epoch) not in EPOCH_UNITS:
            problems.add(f"{key}.epoch", f"'{epoch}' must be s, ms or us (Unix epoch seconds, milliseconds "
                                         "or microseconds)")
        else:
            options["epoch"] = str(epoch)
    return rel, columns, options


def _study_period(spec: Any, problems: _Problems) -> tuple[pd.Timestamp | None, pd.Timestamp | None] | None:
    """study_period: {start: first day, end: last day} (either may be left out)."""
    if spec is None:
        return None
    if not isinstance(spec, dict) or not ({"start", "end"} & set(spec)) or set(spec) - {"start", "end"}:
        problems.add("study_period", "write {start: YYYY-MM-DD, end: YYYY-MM-DD} (the first and the last day)")
        return None
    start, end = (_date(spec.get(k), f"study_period.{k}", problems) for k in ("start", "end"))
    start, end = (t.tz_convert("UTC").tz_localize(None) if t is not None and t.tzinfo else t for t in (start, end))
    if start is not None and end is not None and end < start:
        problems.add("study_period", f"ends ({end.date()}) before it starts ({start.date()})")
    return start, end


@dataclass
class Study:
    """A loaded, validated study. Use ``Study.load(path_or_name)``."""

    root: Path
    name: str
    title: str
    description: str
    tables: dict[str, Path | DatabaseTable]  # a file, or a table in a database
    stages: list[str]
    catalog: pd.DataFrame  # touchpoint, stage, channel, label, stage_order
    goal_touchpoints: list[str]
    customer_attributes: dict[str, dict]
    objectives: list[Objective]
    interventions: list[Intervention]
    parameters: dict[str, dict]
    engine: dict
    config: dict
    # days after a customer's first touch in which reaching a goal counts as converting (None: no
    # limit); the default of every stage that counts conversions (KPIs, funnels), which records
    # the window it used with its outputs
    conversion_window_days: float | None = 30.0
    # table -> {contract column: the export's column} (study.yaml: tables.<table>.columns)
    column_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    # table -> {encoding: latin-1, epoch: s} where study.yaml gives them
    table_options: dict[str, dict] = field(default_factory=dict)
    # (first day, last day) of study_period in study.yaml, either may be None; None: not set
    study_period: tuple[pd.Timestamp | None, pd.Timestamp | None] | None = None

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, study: "str | os.PathLike | Study") -> "Study":
        """Read and validate ``study.yaml`` from a study folder or a study name under data/raw/."""
        if isinstance(study, Study):
            return study
        root = resolve_study_dir(study)
        file = root / "study.yaml"
        # UTF-8, safe YAML, no duplicate keys, no alias bombs (cxlab.schema)
        config = _read_config(file)
        if not isinstance(config, dict):
            raise StudyError(f"{file} must hold a mapping of keys (tables, stages, touchpoints …).")
        return cls._from_config(root, config)

    @classmethod
    def _from_config(cls, root: Path, config: dict) -> "Study":
        file = root / "study.yaml"
        problems = _Problems(file)
        # every value of the shape its key takes (cxlab.schema), before anything reads one
        for key, message in schema.shape_problems(config):
            problems.add(key, message)
        problems.raise_if_any()
        for key, message in schema.reference_problems(config):
            problems.add(key, message)

        tables: dict[str, Path] = {}
        raw_tables = config.get("tables") or {}
        if not isinstance(raw_tables, dict):
            problems.add("tables", "must map table names to files")
            raw_tables = {}
        for name in raw_tables:
            if name not in TABLE_NAMES:
                problems.add(f"tables.{name}", f"unknown table; known tables: {', '.join(TABLE_NAMES)}")
        column_maps: dict[str, dict[str, str]] = {}
        table_options: dict[str, dict] = {}
        for name in TABLE_NAMES:
            spec = raw_tables.get(name)
            if spec is None:
                if name in REQUIRED_TABLES:
                    problems.add(f"tables.{name}", "is required (a CSV or parquet file in the study folder)")
                continue
            parsed = _table_spec(name, spec, problems)
            if parsed is None:
                continue
            rel, columns, options = parsed
            if isinstance(rel, DatabaseTable):
                tables[name] = rel
                if columns:
                    column_maps[name] = columns
                if options:
                    table_options[name] = options
                continue
            try:
                path = inside(root, rel, what=f"file of table '{name}'")
            except Exception as exc:  # ParameterError: reported with the rest
                problems.add(f"tables.{name}", str(exc))
                continue
            fmt = table_format(path)
            if not path.exists():
                if fmt is None:
                    problems.add(f"tables.{name}", f"'{rel}' must be a {_SUFFIX_WORDS}")
                else:
                    problems.add(f"tables.{name}", f"file '{rel}' does not exist in {root}")
            elif fmt is None:
                problems.add(f"tables.{name}", f"'{rel}' must be a {_SUFFIX_WORDS}")
            elif options.get("encoding") and fmt != "csv":
                problems.add(f"tables.{name}.encoding", f"applies to CSV files only, and '{rel}' is not one")
            tables[name] = path
            if columns:
                column_maps[name] = columns
            if options:
                table_options[name] = options

        stages = config.get("stages") or []
        if not isinstance(stages, list) or not stages or not all(isinstance(s, str) for s in stages):
            problems.add("stages", "must be a non-empty list of stage names, in journey order")
            stages = []
        elif len(set(stages)) != len(stages):
            problems.add("stages", "lists a stage twice")

        rows = []
        raw_catalog = config.get("touchpoints") or {}
        if not isinstance(raw_catalog, dict) or not raw_catalog:
            problems.add("touchpoints", "must map each touchpoint to {stage, channel}")
            raw_catalog = {}
        for tp, spec in raw_catalog.items():
            spec = spec or {}
            if not isinstance(spec, dict):
                problems.add(f"touchpoints.{tp}", "must be a mapping with stage and channel")
                continue
            stage = spec.get("stage")
            if stage not in stages:
                problems.add(f"touchpoints.{tp}.stage", f"'{stage}' is not one of the stages {stages}")
            channel = spec.get("channel")
            if not channel:
                problems.add(f"touchpoints.{tp}.channel", f"is missing (for instance {CHANNELS_HINT})")
            rows.append(
                {
                    "touchpoint": str(tp),
                    "stage": stage,
                    "channel": channel,
                    "label": spec.get("label") or str(tp).replace("_", " ").capitalize(),
                    "stage_order": stages.index(stage) if stage in stages else -1,
                }
            )
        catalog = pd.DataFrame(rows, columns=["touchpoint", "stage", "channel", "label", "stage_order"])

        goals = config.get("goal_touchpoints") or []
        if not isinstance(goals, list):
            goals = [goals]  # goal_touchpoints: web_purchase is [web_purchase]
        if not goals:
            problems.add("goal_touchpoints", "name at least one touchpoint that counts as reaching the goal")
        for g in goals:
            if g not in raw_catalog:
                problems.add("goal_touchpoints", f"'{g}' is not in the touchpoint catalog")

        attributes = config.get("customer_attributes") or {}
        if not isinstance(attributes, dict):
            problems.add("customer_attributes", "must map attribute names to {kind: numeric|category|date}")
            attributes = {}
        for attr, spec in attributes.items():
            kind = (spec or {}).get("kind", "category")
            if kind not in ("numeric", "category", "date"):
                problems.add(f"customer_attributes.{attr}.kind", f"'{kind}' must be numeric, category or date")

        interventions = []
        for i, spec in enumerate(config.get("interventions") or []):
            key = f"interventions[{i}]"
            if not isinstance(spec, dict) or "id" not in spec:
                problems.add(key, "needs an id, a date and a design")
                continue
            key = f"interventions.{spec['id']}"
            date = _date(spec.get("date"), f"{key}.date", problems)
            if date is None and "date" not in spec:
                problems.add(f"{key}.date", "is required")
            design = spec.get("design", "pre_post")
            if design not in DESIGNS:
                problems.add(f"{key}.design", f"'{design}' must be one of {', '.join(DESIGNS)}")
            treated = dict(spec.get("treated") or {})
            if treated.get("values") is not None and not isinstance(treated["values"], list):
                treated["values"] = [treated["values"]]  # values: North is values: [North]
            alpha = spec.get("alpha", 0.05)
            if not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
                problems.add(f"{key}.alpha", f"'{alpha}' must be a number between 0 and 1")
                alpha = 0.05
            if design in ("ab", "did") and not treated.get("column"):
                problems.add(f"{key}.treated", f"a '{design}' design needs treated: {{column, values}}")
            kpis = spec.get("kpis") or []
            if not isinstance(kpis, list):
                kpis = [kpis]  # kpis: nps is kpis: [nps]
            if not kpis:
                problems.add(f"{key}.kpis", "name the KPIs the intervention should move")
            interventions.append(
                Intervention(
                    id=str(spec["id"]),
                    date=date if date is not None else pd.NaT,
                    design=design,
                    treated_column=treated.get("column"),
                    treated_values=tuple(treated.get("values") or ()),
                    kpis=tuple(kpis),
                    alpha=float(alpha),
                    min_effect=dict(spec.get("min_effect") or {}),
                    description=str(spec.get("description", "")),
                    raw=spec,
                )
            )
        intervention_ids = {iv.id for iv in interventions}

        objectives = []
        for i, spec in enumerate(config.get("objectives") or []):
            key = f"objectives[{i}]"
            if not isinstance(spec, dict) or "id" not in spec or "kpi" not in spec:
                problems.add(key, "needs an id, a goal, a kpi, a baseline window and a target")
                continue
            key = f"objectives.{spec['id']}"
            baseline = spec.get("baseline") or {}
            target = spec.get("target") or {}
            if not isinstance(target, dict) or not ({"absolute", "relative"} & set(target)):
                problems.add(f"{key}.target", "write {absolute: value} or {relative: 0.10} (a 10% lift)")
                target = {}
            iv = spec.get("intervention")
            if iv is not None and iv not in intervention_ids:
                problems.add(f"{key}.intervention", f"'{iv}' is not an intervention id")
            direction = spec.get("direction", "increase")
            if direction not in ("increase", "decrease"):
                problems.add(f"{key}.direction", "must be increase or decrease")
            objectives.append(
                Objective(
                    id=str(spec["id"]),
                    goal=str(spec.get("goal", spec["id"])),
                    kpi=str(spec["kpi"]),
                    baseline_start=_date(baseline.get("start"), f"{key}.baseline.start", problems),
                    baseline_end=_date(baseline.get("end"), f"{key}.baseline.end", problems),
                    target_absolute=target.get("absolute"),
                    target_relative=target.get("relative"),
                    direction=direction,
                    intervention=iv,
                    raw=spec,
                )
            )

        parameters = config.get("parameters") or {}
        if not isinstance(parameters, dict) or not all(isinstance(v, dict) for v in parameters.values()):
            problems.add("parameters", "must map stage names to {parameter: value}")
            parameters = {}

        window = config.get("conversion_window_days", DEFAULT_CONVERSION_WINDOW_DAYS)
        if window is not None and (isinstance(window, bool) or not isinstance(window, (int, float)) or window <= 0):
            problems.add("conversion_window_days", f"must be a number of days above 0, or null for no window (got {window!r})")
            window = DEFAULT_CONVERSION_WINDOW_DAYS

        study_period = _study_period(config.get("study_period"), problems)

        engine = config.get("engine") or {"backend": "duckdb"}
        if engine.get("backend", "duckdb") not in ("duckdb", "pyspark"):
            problems.add("engine.backend", f"'{engine.get('backend')}' must be duckdb or pyspark")

        problems.raise_if_any()
        return cls(
            root=root,
            name=root.name,
            title=str(config.get("title") or config.get("name") or root.name),
            description=str(config.get("description", "")),
            tables=tables,
            stages=list(stages),
            catalog=catalog,
            goal_touchpoints=[str(g) for g in goals],
            customer_attributes={k: dict(v or {}) for k, v in attributes.items()},
            objectives=objectives,
            interventions=interventions,
            parameters={k: dict(v) for k, v in parameters.items()},
            engine=dict(engine),
            config=config,
            conversion_window_days=None if window is None else float(window),
            column_maps=column_maps,
            table_options=table_options,
            study_period=study_period,
        )

    # ------------------------------------------------------------------ places
    @property
    def processed_dir(self) -> Path:
        """data/processed/<identity>/ of the project: what stages write for later stages (inside
        a run, the run's workspace; ``cxlab.paths`` says how a study's identity is made)."""
        return paths.processed_dir(self.root)

    @property
    def reports_dir(self) -> Path:
        """reports/<identity>/ of the project: one folder per run."""
        return paths.reports_dir(self.root)

    def path(self, relative: str | os.PathLike) -> Path:
        """A path inside the study folder; anything escaping it is refused."""
        return inside(self.root, relative)

    def processed(self, filename: str) -> Path:
        """A file in this study's processed folder (created on demand)."""
        self.processed_dir.mkdir(parents=True, exist_ok=True)
        return inside(self.processed_dir, filename, what="processed file")

    # ------------------------------------------------------------------ catalog
    @property
    def currency(self) -> str:
        """The currency amounts (revenue, order values, CLV) are in: study.yaml's ``currency``, an
        ISO code such as EUR or a sign such as €; EUR when the study does not say."""
        return str(self.config.get("currency") or DEFAULT_CURRENCY).strip()

    def stage_of(self, touchpoint: str) -> str | None:
        hit = self.catalog.loc[self.catalog.touchpoint == touchpoint, "stage"]
        return None if hit.empty else hit.iloc[0]

    def stage_parameters(self, stage: str) -> dict:
        return dict(self.parameters.get(stage, {}))

    def intervention(self, intervention_id: str) -> Intervention:
        for iv in self.interventions:
            if iv.id == intervention_id:
                return iv
        raise StudyError(f"{self.root / 'study.yaml'}: no intervention '{intervention_id}'")

    def __repr__(self) -> str:
        return (
            f"Study({self.name!r}, {len(self.stages)} stages, {len(self.catalog)} touchpoints, "
            f"tables: {', '.join(self.tables)})"
        )
