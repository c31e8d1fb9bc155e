"""Journeys: the building blocks every touchpoint analysis shares.

**What a journey is.** One customer's events in order of (timestamp, seq). ``seq`` is the
event's row in the raw file, so two events with the same timestamp keep the order in which the
log recorded them. A journey is the customer's whole observed log: it is *not* split at gaps of
inactivity. The study's KPIs (conversion within a window from the first touch, repeat purchase,
churn) are per customer, and cutting a journey at a gap would turn "came back five weeks later
and bought" into a drop-off plus a separate success. Where time matters, a conversion window
bounds it (funnels); where an analysis needs "the path to the goal" (variants, attribution), the
journey is cut at the customer's first goal event.

**The goal.** A customer converts when they reach a goal touchpoint (``study.goal_touchpoints``).
A journey *ends without the goal* at the customer's last event when the customer never reached a
goal touchpoint.

Everything here builds Ibis expressions (windows over ``customer_id`` ordered by
``timestamp, seq``, group-bys and joins) and never loads events into pandas, so the same code
runs on DuckDB and on PySpark. Times are compared in whole seconds since the epoch.
"""
from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import ibis
import pandas as pd

from .errors import ParameterError
from .stages import output_path
from .study import Study

START = "(start)"
END = "(end)"
CONVERSION = "(conversion)"
NO_CONVERSION = "(no conversion)"
NO_SEGMENT = "(no segment)"
UNKNOWN = "(unknown)"
# the segment of customers with no event in the log (the segmentation stage names them so): they
# have no journey, so no funnel, path or journey map of their own
NO_ACTIVITY = "no recorded activity"

DAY = 86400
HOUR = 3600

REQUIRED_COLUMNS = ("customer_id", "timestamp", "touchpoint")


@dataclass
class Source:
    """An event log ready for analysis: the Ibis table, the goal touchpoints and the catalog."""

    events: ibis.Table
    goals: tuple[str, ...]
    catalog: pd.DataFrame
    stages: list[str]
    study: Study | None = None
    segments_default: Path | None = field(default=None, repr=False)
    members: ibis.Table | None = field(default=None, repr=False)  # customers kept (for_segment)
    base_events: ibis.Table | None = field(default=None, repr=False)  # the study's whole log

    def require_goals(self, what: str) -> None:
        if not self.goals:
            raise ParameterError(
                f"{what} needs the goal touchpoints: pass goals=[...] (touchpoints that count as "
                "a conversion), or pass a study, whose goal_touchpoints are used."
            )


def _catalog_frame(catalog) -> pd.DataFrame:
    cols = ["touchpoint", "stage", "channel", "label", "stage_order"]
    if catalog is None:
        return pd.DataFrame(columns=cols)
    frame = pd.DataFrame(catalog).copy()
    if "touchpoint" not in frame.columns:
        raise ParameterError("catalog needs a 'touchpoint' column (and stage, channel).")
    for col in cols:
        if col not in frame.columns:
            frame[col] = -1 if col == "stage_order" else None
    frame["label"] = frame["label"].fillna(frame["touchpoint"].astype(str))
    return frame[cols]


def _from_frame(frame: pd.DataFrame, catalog: pd.DataFrame) -> ibis.Table:
    """A pandas event log as an in-memory Ibis table with the clean-table columns."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ParameterError(
            f"The event table lacks column(s) {', '.join(missing)}; an event log needs "
            "customer_id, timestamp and touchpoint (optional: seq, channel, session_id, revenue)."
        )
    df = frame.copy()
    if "seq" not in df.columns:  # the row order is the tie-breaker, as for a raw file
        df.insert(0, "seq", range(1, len(df) + 1))
    df["seq"] = df["seq"].astype("int64")
    df["customer_id"] = df["customer_id"].astype(str)
    df["touchpoint"] = df["touchpoint"].astype(str)
    df["timestamp"] = pd.to_datetime(df["timestamp"]).astype("datetime64[us]")
    cat = catalog.set_index("touchpoint")
    if "channel" not in df.columns:
        df["channel"] = df["touchpoint"].map(cat["channel"]) if len(cat) else None
    if "stage" not in df.columns:
        df["stage"] = df["touchpoint"].map(cat["stage"]).fillna("uncatalogued") if len(cat) else "uncatalogued"
    if "stage_order" not in df.columns:
        so = df["touchpoint"].map(cat["stage_order"]) if len(cat) else pd.Series(-1, index=df.index)
        df["stage_order"] = pd.to_numeric(so).fillna(-1).astype("int32")
    for col in ("channel", "stage"):
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    return ibis.memtable(df)


def resolve(
    data,
    *,
    goals: Iterable[str] | None = None,
    catalog: pd.DataFrame | None = None,
    stages: Sequence[str] | None = None,
) -> Source:
    """Turn what the user gave into a Source.

    ``data`` is a study (a Study, its name under data/raw/, or its folder), an Ibis table of
    events, or a pandas DataFrame of events. With a study, its clean event log, goal touchpoints,
    catalog and stages are used (``goals``/``catalog``/``stages`` override them).
    """
    if isinstance(data, Source):
        return data
    study = None
    if isinstance(data, (Study, str, os.PathLike)):
        from . import engine  # imported here: engine imports data, which is heavier

        study = Study.load(data)
        events = engine.events(study)
        cat = _catalog_frame(study.catalog if catalog is None else catalog)
        goal_list = tuple(study.goal_touchpoints if goals is None else goals)
        stage_list = list(study.stages if stages is None else stages)
        seg = output_path(study, "segmentation", "segments")  # the registry names the file
        return Source(events, goal_list, cat, stage_list, study, seg, None, events)
    cat = _catalog_frame(catalog)
    if isinstance(data, pd.DataFrame):
        events = _from_frame(data, cat)
    elif isinstance(data, ibis.Table):
        events = data
        missing = [c for c in (*REQUIRED_COLUMNS, "seq") if c not in events.columns]
        if missing:
            raise ParameterError(
                f"The event table lacks column(s) {', '.join(missing)}; use cxlab.engine.events(study) "
                "or a table with customer_id, timestamp, touchpoint and seq (the row in the raw file)."
            )
    else:
        raise ParameterError(
            f"Expected a study, an Ibis table or a pandas DataFrame of events, got {type(data).__name__}."
        )
    if stages is None:
        known = cat.dropna(subset=["stage"]).sort_values("stage_order")
        stages = list(dict.fromkeys(known["stage"]))
    return Source(events, tuple(goals or ()), cat, list(stages), None, None)


# ----------------------------------------------------------------------------- expressions
def seconds(ts: ibis.TimestampValue) -> ibis.IntegerValue:
    """Whole seconds since the epoch (the same number on DuckDB and Spark)."""
    return ts.epoch_seconds().floor().cast("int64")


def journey_window(ev: ibis.Table, **kwargs):
    """The window of one customer's journey, in order of (timestamp, seq)."""
    return ibis.window(group_by=ev.customer_id, order_by=[ev.timestamp, ev.seq], **kwargs)


def ordered(
    ev: ibis.Table,
    *,
    lead: int = 0,
    lag: int = 0,
    lead_time: int = 0,
    keep: Sequence[str] = ("touchpoint",),
) -> ibis.Table:
    """Events with their place in the journey.

    Adds ``pos`` (1 = the customer's first event), ``t`` (seconds since the epoch), the next
    ``lead`` touchpoints as ``next1, next2 …`` and their times ``next1_t …`` (``lead_time`` of
    them), and the previous ``lag`` touchpoints as ``prev1, prev2 …`` (null where the journey
    has no such event). Only ``customer_id``, ``seq``, ``timestamp`` and ``keep`` columns are
    carried, so the window sorts as little as possible.
    """
    cols = list(dict.fromkeys(["customer_id", "seq", "timestamp", *keep]))
    base = ev.select(*cols)
    w = journey_window(base)
    t = seconds(base.timestamp)
    new = {"pos": ibis.row_number().over(w) + 1, "t": t}
    for k in range(1, lead + 1):
        new[f"next{k}"] = base.touchpoint.lead(k).over(w)
    for k in range(1, lead_time + 1):
        new[f"next{k}_t"] = t.lead(k).over(w)
    for k in range(1, lag + 1):
        new[f"prev{k}"] = base.touchpoint.lag(k).over(w)
    return base.mutate(**new)


def purchase_filter(ev: ibis.Table, study: Study):
    """Events that are orders: a goal touchpoint of the study (study.yaml goal_touchpoints)."""
    return ev.touchpoint.isin(list(study.goal_touchpoints))


# ----------------------------------------------------------------------------- segments
def segment_table(src: Source, segments, *, column: str = "segment") -> ibis.Table | None:
    """The customer -> segment table on the events' backend, or None.

    ``segments`` is a DataFrame (customer_id, segment), a path to a parquet file with those
    columns (data/processed/<study>/segments.parquet is what the segmentation stage writes),
    an Ibis table, or None.
    """
    if segments is None:
        return None
    if isinstance(segments, ibis.Table):
        table = segments
    elif isinstance(segments, pd.DataFrame):
        table = ibis.memtable(_check_segments(segments, "the segments table", column))
    elif isinstance(segments, (str, os.PathLike)):
        path = Path(segments)
        if not path.is_absolute() and src.study is not None:
            candidate = src.study.processed_dir / path
            path = candidate if candidate.exists() else path
        if not path.exists():
            raise ParameterError(
                f"The segments file {path} does not exist; run the segmentation stage first "
                "(it writes data/processed/<study>/segments.parquet) or pass a DataFrame."
            )
        frame = pd.read_parquet(path, columns=None)
        table = ibis.memtable(_check_segments(frame, str(path), column))
    else:
        raise ParameterError(
            f"segments must be a DataFrame, a parquet path or an Ibis table, not {type(segments).__name__}."
        )
    missing = [c for c in ("customer_id", column) if c not in table.columns]
    if missing:
        raise ParameterError(f"The segments table lacks column(s) {', '.join(missing)}.")
    return table.select(
        customer_id=table.customer_id.cast("string"), group=table[column].cast("string")
    )


def _check_segments(frame: pd.DataFrame, where: str, column: str) -> pd.DataFrame:
    missing = [c for c in ("customer_id", column) if c not in frame.columns]
    if missing:
        raise ParameterError(
            f"{where} lacks column(s) {', '.join(missing)}; it needs customer_id and {column}."
        )
    out = frame[["customer_id", column]].copy()
    out["customer_id"] = out["customer_id"].astype(str)
    out[column] = out[column].astype(str)
    if out["customer_id"].duplicated().any():
        dup = out.loc[out["customer_id"].duplicated(), "customer_id"].head(5).tolist()
        raise ParameterError(f"{where} names some customers twice (for instance {dup}); one segment each.")
    return out


def attach_group(customers: ibis.Table, groups: ibis.Table | None) -> ibis.Table:
    """Add a ``group`` column to a per-customer table (``(no segment)`` where unknown)."""
    if groups is None:
        return customers.mutate(group=ibis.literal("all", type="string"))
    joined = customers.left_join(groups, customers.customer_id == groups.customer_id)
    keep = [c for c in customers.columns]
    return joined.select(*keep, group=joined.group.fill_null(NO_SEGMENT))


def step_sets(steps, catalog: pd.DataFrame | None = None) -> tuple[list[list[str]], list[str]]:
    """Normalise funnel steps: each step is a touchpoint or a list of touchpoints (any of them
    counts). Returns the touchpoint lists and a label per step."""
    if isinstance(steps, (str, bytes)) or not isinstance(steps, (list, tuple)):
        raise ParameterError("steps must be a list: each step a touchpoint or a list of touchpoints.")
    sets, labels = [], []
    for i, step in enumerate(steps, start=1):
        if isinstance(step, dict):  # {"label": [...touchpoints]}
            if len(step) != 1:
                raise ParameterError(f"Step {i}: a named step is {{label: [touchpoints]}}.")
            (label, tps), = step.items()
            tps = [tps] if isinstance(tps, str) else list(tps)
        else:
            tps = [step] if isinstance(step, str) else list(step)
            label = " | ".join(tps)
        if not tps or not all(isinstance(t, str) and t for t in tps):
            raise ParameterError(f"Step {i} names no touchpoint; give a touchpoint or a list of them.")
        sets.append(tps)
        labels.append(str(label))
    return sets, labels


def run(expr) -> pd.DataFrame:
    """Execute an (aggregated) expression on its backend and return pandas."""
    from . import engine

    return engine.to_pandas(expr)


def pairs(src: Source, *, until_goal: bool = False, collapse_repeats: bool = False, renumber: bool = True) -> ibis.Table:
    """Every step of every journey as a pair of states: ``customer_id``, ``pos`` (1 for the step
    out of ``(start)``), ``source``, ``target``.

    Each event gives the pair (previous touchpoint, or ``(start)`` for the first event → this
    touchpoint), and the last event gives (touchpoint → ``(end)``). With ``until_goal`` the
    journey stops at the customer's first goal event, which becomes the state ``(conversion)``;
    later events are ignored. With ``collapse_repeats`` a touchpoint repeated back to back counts
    once (the pairs from a touchpoint to itself are dropped; with ``renumber`` ``pos`` then
    counts the remaining steps, which costs one more window).
    """
    if until_goal:
        src.require_goals("Cutting journeys at the goal")
    o = journey_table(src)
    if until_goal:
        # keep events up to and including the first goal event
        o = o.filter((o.goals_so_far == 0) | ((o.goals_so_far == 1) & (o.is_goal == 1)))
        target = ibis.ifelse(o.is_goal == 1, ibis.literal(CONVERSION), o.touchpoint)
        is_last = o.next_t.isnull() & (o.is_goal == 0)
    else:
        target = o.touchpoint
        is_last = o.next_t.isnull()
    steps = o.select("customer_id", pos=o.pos.cast("int64"), source=o.prev.fill_null(START), target=target)
    ends = o.filter(is_last)
    ends = ends.select("customer_id", pos=(ends.pos + 1).cast("int64"), source=ends.touchpoint,
                       target=ibis.literal(END))
    out = ibis.union(steps, ends, distinct=False)
    if collapse_repeats:
        out = out.filter(out.source != out.target)
        if renumber:
            out = out.mutate(pos=ibis.row_number().over(ibis.window(group_by=out.customer_id, order_by=out.pos)) + 1)
    return out


# ----------------------------------------------------------------------------- the journey table
JOURNEY_VERSION = 1
_SPARK_JOURNEYS: dict[tuple, ibis.Table] = {}
_BUILDS = itertools.count(1)  # names of the DuckDB objects of one journey-table build


def _journey_expr(events: ibis.Table, goals: Sequence[str]) -> ibis.Table:
    cols = ["customer_id", "seq", "timestamp", "touchpoint"] + (["channel"] if "channel" in events.columns else [])
    base = events.select(*cols)
    w = journey_window(base)
    t = seconds(base.timestamp)
    goal = base.touchpoint.isin(list(goals)) if goals else ibis.literal(False)
    is_goal = goal.cast("int64")
    out = base.mutate(
        t=t,
        pos=(ibis.row_number().over(w) + 1).cast("int64"),
        prev=base.touchpoint.lag().over(w),
        next_t=t.lead().over(w).cast("int64"),
        is_goal=is_goal,
        # a count, not a sum: DuckDB sums integers as 128-bit, which the file then held as DOUBLE
        goals_so_far=base.touchpoint.count(where=goal).over(journey_window(base, rows=(None, 0))),
    )
    keep = ["customer_id", "touchpoint"] + (["channel"] if "channel" in cols else [])
    return out.select(*keep, "t", "pos", "prev", "next_t", "is_goal", "goals_so_far")


def journey_table(src: Source) -> ibis.Table:
    """The event log in journey order, one row per event, computed with one window pass:
    ``customer_id``, ``touchpoint``, ``channel``, ``t`` (seconds), ``pos`` (1 = first event),
    ``prev`` (the previous touchpoint), ``next_t`` (time of the next event; null for the last),
    ``is_goal`` (1/0) and ``goals_so_far`` (goal events up to and including this one).

    For a study (with its own goal touchpoints) the table is built once and reused by every
    analysis: on DuckDB it is written to data/processed/<study>/journeys.parquet (rebuilt when
    the clean events change), on Spark it is cached in the session. Otherwise it is an
    expression computed with the query that uses it.
    """
    study = src.study
    cacheable = study is not None and src.base_events is not None and tuple(src.goals) == tuple(study.goal_touchpoints)
    if not cacheable:
        return _journey_expr(src.events, src.goals)
    backend = backend_name(src.base_events)
    expr = _journey_expr(src.base_events, src.goals)
    if backend == "duckdb":
        table = _duckdb_journeys(src, expr)
    elif backend == "pyspark":
        from . import data

        key = (str(study.processed_dir), data.clean_fingerprint(study), tuple(src.goals), JOURNEY_VERSION)
        if key not in _SPARK_JOURNEYS:
            _SPARK_JOURNEYS[key] = expr.cache()
        table = _SPARK_JOURNEYS[key]
    else:
        return _journey_expr(src.events, src.goals)
    if src.members is not None:
        table = table.semi_join(src.members, "customer_id")
    return table


def _duckdb_journeys(src: Source, expr: ibis.Table) -> ibis.Table:
    import json

    from . import data

    study = src.study
    # keyed, like every table derived from the clean tables, by the inputs they were made from
    meta = {"version": JOURNEY_VERSION, "inputs": data.clean_fingerprint(study), "goals": list(src.goals)}
    target = study.processed("journeys.parquet")
    marker = study.processed("journeys.json")
    con = src.base_events.get_backend()
    fresh = False
    if target.exists() and marker.exists():
        try:
            fresh = json.loads(marker.read_text()) == meta
        except (OSError, ValueError):
            fresh = False
    if not fresh:
        tmp = target.with_name(f".{target.name}.{os.getpid()}")
        try:
            _write_encoded(con, src, tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        data.write_json(meta, marker)
    return con.read_parquet(str(target), table_name=f"{study.name}_journeys".replace("-", "_"))


def _write_encoded(con, src: Source, path: Path) -> None:
    """Write the journey table of ``src`` to ``path`` with its text columns as DuckDB ENUMs
    (one byte per row) while the window sorts: the sort then carries codes instead of strings,
    which at 10M events takes about a seventh less CPU and a quarter less memory (issue 18,
    benchmarks/foreign_bench.py). The file holds plain strings (parquet dictionary pages): the
    same table, with the same types, as ``_journey_expr`` on the events themselves."""
    events = src.base_events
    try:
        source = events.get_name()  # the clean events' view (engine.table)
    except Exception:  # an expression, not a named table: nothing to encode
        con.to_parquet(_journey_expr(events, src.goals), path, compression="lz4_raw")
        return
    token = f"{os.getpid()}_{next(_BUILDS)}"
    view = f"_cx_journey_input_{token}"
    types = {c: f"_cx_{c}_{token}" for c in ("touchpoint", "channel") if c in events.columns}
    try:
        for col, type_name in types.items():
            con.raw_sql(f"CREATE TYPE {_ident(type_name)} AS ENUM (SELECT DISTINCT {_ident(col)} "
                        f"FROM {_ident(source)} WHERE {_ident(col)} IS NOT NULL ORDER BY 1)")
        replace = ", ".join(f"CAST({_ident(c)} AS {_ident(t)}) AS {_ident(c)}" for c, t in types.items())
        con.raw_sql(f"CREATE TEMP VIEW {_ident(view)} AS SELECT * REPLACE ({replace}) FROM {_ident(source)}")
        con.to_parquet(_journey_expr(con.table(view), src.goals), path, compression="lz4_raw")
    finally:
        con.raw_sql(f"DROP VIEW IF EXISTS {_ident(view)}")
        for type_name in types.values():
            con.raw_sql(f"DROP TYPE IF EXISTS {_ident(type_name)}")


def _ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def clear_journey_cache(study=None) -> None:
    """Forget built journey tables (the Spark cache; and the study's journeys.parquet)."""
    _SPARK_JOURNEYS.clear()
    if study is not None:
        study = Study.load(study)
        for name in ("journeys.parquet", "journeys.json"):
            (study.processed_dir / name).unlink(missing_ok=True)


def for_segment(data, segment: str, segments=None, *, goals=None, catalog=None) -> Source:
    """The event log of one segment's customers, ready for any touchpoint analysis.

    ``segments`` as in ``segment_table`` (default: the study's
    data/processed/<study>/segments.parquet). The join happens in the engine.
    """
    src = resolve(data, goals=goals, catalog=catalog)
    if segments is None:
        if src.segments_default is None or not src.segments_default.exists():
            raise ParameterError(
                "No segments given: pass segments=DataFrame(customer_id, segment) or a parquet path, "
                "or run the segmentation stage first (data/processed/<study>/segments.parquet)."
            )
        segments = src.segments_default
    groups = segment_table(src, segments)
    members = groups.filter(groups.group == str(segment)).select("customer_id")
    if src.members is not None:
        members = members.semi_join(src.members, "customer_id")
    events = src.events.semi_join(members, "customer_id")
    return Source(events, src.goals, src.catalog, src.stages, src.study, src.segments_default, members,
                  src.base_events)


def backend_name(table: ibis.Table) -> str:
    """The name of the backend an expression runs on ('duckdb', 'pyspark' …)."""
    try:
        return table.get_backend().name
    except Exception:  # an unbound expression: Ibis's default backend
        return "duckdb"


def ordered_join(table: ibis.Table, value, key, *, where=None, sep: str = ",") -> ibis.StringValue:
    """An aggregate joining ``value`` (strings) in the order of ``key``, as one string.

    DuckDB aggregates in order directly; PySpark cannot order inside an aggregate, so there the
    pairs are collected, sorted by key and the values extracted (same result).
    """
    if backend_name(table) == "pyspark":
        pairs = ibis.struct({"k": key, "v": value}).collect(where=where)
        return pairs.sort().map(lambda s: s.v).join(sep)
    return value.collect(where=where, order_by=key).join(sep)


# ----------------------------------------------------------------------------- support, sessions
# (one rule each for every stage: the segmentation's support contacts and sessions, the pain
# points' support contacts and repeats within a session)
import re as _re  # noqa: E402  (kept with the functions that use it)

SUPPORT_CHANNELS = ("call_centre",)
SUPPORT_WORDS = ("support", "chat", "call", "contact", "complain", "helpdesk", "help_desk", "help-desk", "hotline")
_SUPPORT_NAME = _re.compile("|".join(_re.escape(w) for w in SUPPORT_WORDS), _re.IGNORECASE)
SESSION_GAP_MINUTES = 30


def name_list(value) -> list[str] | None:
    """A list of names from a parameter: a list, ``"a, b"`` or ``"['a', 'b']"``; None when
    empty (meaning: use the default)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.startswith("["):
            import yaml

            value = yaml.safe_load(text) or []
        else:
            return [v.strip() for v in text.split(",") if v.strip()] or None
    return [str(v) for v in value] or None


def is_support(touchpoint: str, channel: str | None = None) -> bool:
    """Whether one touchpoint is a contact with support, by the rule of ``support_touchpoints``."""
    return str(channel) in SUPPORT_CHANNELS or bool(_SUPPORT_NAME.search(str(touchpoint)))


def support_touchpoints(catalog_or_study, named=None) -> list[str]:
    """The touchpoints that are contacts with support, for every stage that counts them.

    **The rule** (when ``named`` is empty): a catalogued touchpoint is a support contact when
    its channel is ``call_centre``, or its name contains (any case) one of *support, chat,
    call, contact, complain, helpdesk, help_desk, help-desk, hotline*. A help centre, FAQ or
    help article is self-service, not a contact with support: ``help`` alone does not make a
    touchpoint support. For example:

    ==================  ========  ===================================
    touchpoint          support?  why
    ==================  ========  ===================================
    chat_support        yes       "support", "chat"
    call_centre_call    yes       "call" (and its call_centre channel)
    helpdesk            yes       "helpdesk"
    contact_form        yes       "contact"
    complaint_form      yes       "complain"
    help_centre         no        self-service; "help" alone is not support
    faq_page            no        self-service
    ivr_menu            yes       only when its channel is call_centre
    ==================  ========  ===================================

    The words are matched anywhere in the name ("contactless_payment" would count): a study
    whose names mislead the rule names its support touchpoints.

    ``catalog_or_study``: a Study (or its name or folder), a ``Source``, or a catalog DataFrame
    (touchpoint, channel). ``named``: the touchpoints to take instead — a list, ``"a, b"`` or
    ``"['a', 'b']"``; every name must be in the catalog. Returns touchpoint names in catalog
    order (``named`` as given).
    """
    catalog, where = _support_catalog(catalog_or_study)
    names = name_list(named)
    if names:
        unknown = [t for t in names if t not in set(catalog["touchpoint"].astype(str))]
        if unknown:
            raise ParameterError(f"support_touchpoints: {', '.join(unknown)} not in the touchpoint catalog{where}")
        return names
    if catalog.empty:
        return []
    channel = catalog["channel"] if "channel" in catalog.columns else pd.Series(None, index=catalog.index)
    hit = [is_support(t, c) for t, c in zip(catalog["touchpoint"].astype(str), channel)]
    return catalog.loc[hit, "touchpoint"].astype(str).tolist()


def _support_catalog(catalog_or_study) -> tuple[pd.DataFrame, str]:
    if isinstance(catalog_or_study, Source):
        study = catalog_or_study.study
        return catalog_or_study.catalog, f" of {study.root / 'study.yaml'}" if study is not None else ""
    if isinstance(catalog_or_study, pd.DataFrame):
        if "touchpoint" not in catalog_or_study.columns:
            raise ParameterError("support_touchpoints: the catalog needs a 'touchpoint' column (and channel).")
        return catalog_or_study, ""
    study = Study.load(catalog_or_study)
    return study.catalog, f" of {study.root / 'study.yaml'}"


def session_starts(events: ibis.Table, *, session_gap_minutes: float = SESSION_GAP_MINUTES) -> ibis.IntegerValue:
    """1 where an event starts a gap session (``sessions``: the customer's first event, or more
    than ``session_gap_minutes`` after their previous one), else 0. Summed per customer, the
    number of gap sessions, without naming them (``sessions``) and counting distinct names."""
    if session_gap_minutes is None or not session_gap_minutes > 0:
        raise ParameterError(f"session_gap_minutes must be positive, got {session_gap_minutes}")
    t = seconds(events.timestamp)
    prev = t.lag().over(journey_window(events))
    return (prev.isnull() | ((t - prev) > session_gap_minutes * 60.0)).cast("int64")


def sessions(events: ibis.Table, *, session_gap_minutes: float = SESSION_GAP_MINUTES) -> ibis.Table:
    """The events with ``session``: the session each event belongs to (a string, unique within
    the customer).

    **A session** is the log's ``session_id`` where the event has one. Where the log has no
    session ids (or for an event without one), a customer's session ends after
    ``session_gap_minutes`` (default 30) of inactivity: in journey order (timestamp, seq), an
    event starts a new session when it is the customer's first event or comes more than
    ``session_gap_minutes`` after the customer's previous event (whole seconds; a gap of exactly
    30 minutes stays in the session). These sessions are named ``gap-1``, ``gap-2`` … per
    customer. For example, events at 10:00, 10:10, 11:00 and 11:20 are two sessions with a
    30-minute gap (``gap-1``: 10:00, 10:10; ``gap-2``: 11:00, 11:20) and one with a 60-minute
    gap. Needs ``customer_id``, ``timestamp`` and ``seq``; an Ibis expression (DuckDB, Spark).
    """
    out = events.mutate(_new_session=session_starts(events, session_gap_minutes=session_gap_minutes))
    out = out.mutate(_gap_session=out._new_session.cumsum(group_by="customer_id", order_by=[out.timestamp, out.seq]))
    gap = ibis.literal("gap-") + out._gap_session.cast("string")
    session = out.session_id.cast("string").fill_null(gap) if "session_id" in out.columns else gap
    return out.mutate(session=session).drop("_new_session", "_gap_session")
