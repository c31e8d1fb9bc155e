"""`cxlab init`: a draft study.yaml from a folder of exports, for the user to read and settle.

The draft is made from what the files hold, read with DuckDB (a sample of each file for the
roles of its columns, the whole event log for the touchpoints):

- **tables**: surveys are the file with NPS/CSAT/CES-like columns; tickets the file named like
  tickets or cases, or holding ticket-like columns; events the file with a timestamp-like column,
  a repeated customer id and a categorical event column (the largest, if several); customers
  the file whose customer id is unique. Without a customers file, the distinct customer ids
  of the log are written to ``customers.csv`` (a new file; no export is changed), with the log's
  columns that hold one value per customer (an acquisition channel, a cohort) as attributes.
- **columns**: the role of each column (customer id, timestamp, touchpoint, revenue, channel,
  session, survey scores, text …) from its name and its values; where the export's name is not
  the contract's, the table gets a column mapping (``columns: {customer_id: user_id}``).
  Timestamps held as Unix epoch numbers get ``epoch: s|ms|us``; a column of dates written as
  yyyymmdd numbers (19970101), which the contract does not read, is named in the notes with what
  to do (and in the error when no event log is found).
- **touchpoints**: every touchpoint of the log with its event count as a comment, listed by its
  median position in the sessions, where the log has a session column, else in the customers'
  journeys (0 = the first event, 1 = the last; computed in DuckDB over sessions or journeys
  with two events or more).
- **goal touchpoints**: those named like a purchase (purchase, order, checkout_complete, buy,
  transaction …), else those that carry revenue, else the touchpoint most often last.
- **journey stages**: the touchpoints whose median position comes before the goal's are split
  into awareness and consideration at the widest gap between neighbouring positions; the goal
  stage (purchase) holds the goals, service the touchpoints after them.

Every choice a person has to make is marked ``# DECIDE:``. The draft is written only where no
study.yaml exists; it is then checked with ``cxlab.data.validate``.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from . import data
from .errors import StudyError
from .study import TABLE_NAMES, Study, table_format

__all__ = ["Draft", "ColumnProfile", "FileProfile", "draft_study", "profile_file", "find_tables"]

SAMPLE_ROWS = 200_000
MAX_CATALOG = 300
GOAL_TOKENS = {"purchase", "purchased", "buy", "bought", "transaction", "conversion", "converted", "paid",
               "checkout_complete", "checkout_completed", "checkout_success", "order_placed", "order_completed",
               "order_complete", "order_confirmed"}
GOAL_NAMES = re.compile(r"^(orders?|purchases?|sales?|buy|buys)$")
SCORE_RANGES = data.SCORE_RANGES


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")


def _tokens(name: str) -> set[str]:
    return set(_norm(name).split("_")) - {""}


# --------------------------------------------------------------------------- profiles
@dataclass
class ColumnProfile:
    """What a sample of a column holds: how many values, how many distinct, which share parse as
    timestamps and as numbers, their range and the mean length of their text."""

    name: str
    type: str
    values: int
    distinct: int
    timestamps: float
    numbers: float
    integers: float
    low: float | None
    high: float | None
    length: float
    compact_dates: float = 0.0  # share of values that are dates written as yyyymmdd (19970101)

    @property
    def key(self) -> str:
        return _norm(self.name)

    @property
    def is_time(self) -> bool:
        return self.values > 0 and self.timestamps >= 0.98

    @property
    def is_number(self) -> bool:
        return self.values > 0 and self.numbers >= 0.98

    def epoch_unit(self) -> str | None:
        """s, ms or us when the whole numbers look like Unix epoch times of 1990–2100."""
        if not self.is_number or self.integers < 0.98 or self.low is None or self.high is None:
            return None
        for unit, scale in (("s", 1), ("ms", 1e3), ("us", 1e6)):
            if 631_152_000 * scale <= self.low and self.high <= 4_102_444_800 * scale:
                return unit
        return None


@dataclass
class FileProfile:
    path: Path
    rows: int
    columns: dict[str, ColumnProfile]
    sampled: int

    @property
    def name(self) -> str:
        return self.path.name + ("/" if self.path.is_dir() else "")


def profile_file(con: duckdb.DuckDBPyConnection, path: Path) -> FileProfile:
    """Profile the first SAMPLE_ROWS rows of a table file (every column), and count its rows."""
    rel = f"({data.source_sql(path)})"
    rows = con.execute(f"SELECT count(*) FROM {rel}").fetchall()[0][0]
    con.execute(f"CREATE OR REPLACE TEMP TABLE _sample AS SELECT * FROM {rel} ORDER BY _row LIMIT {SAMPLE_ROWS}")
    described = [(r[0], str(r[1])) for r in con.execute("DESCRIBE _sample").fetchall()
                 if r[0] not in ("_row", "_file", "_file_row")]
    columns = {}
    for name, typed in described:
        c = data.quote(name)
        text = f"NULLIF(TRIM(CAST({c} AS VARCHAR)), '')"
        ts = data.cast_sql(name, "timestamp", typed)
        num = f"TRY_CAST({text} AS DOUBLE)"
        compact = (f"CASE WHEN regexp_full_match({text}, '(19|20)[0-9]{{6}}') "
                   f"THEN try_strptime({text}, '%Y%m%d') END")
        row = con.execute(
            f"SELECT count({text}), count(DISTINCT {text}), count({ts}), count({num}), "
            f"count(CASE WHEN {num} = floor({num}) THEN 1 END), min({num}), max({num}), "
            f"coalesce(avg(length({text})), 0), count({compact}) FROM _sample"
        ).fetchall()[0]
        n = row[0] or 0
        columns[name] = ColumnProfile(
            name=name, type=typed, values=n, distinct=row[1] or 0,
            timestamps=(row[2] / n) if n else 0.0, numbers=(row[3] / n) if n else 0.0,
            integers=(row[4] / n) if n else 0.0,
            low=None if row[5] is None else float(row[5]), high=None if row[6] is None else float(row[6]),
            length=float(row[7]), compact_dates=(row[8] / n) if n else 0.0,
        )
    sampled = con.execute("SELECT count(*) FROM _sample").fetchall()[0][0]
    return FileProfile(path=path, rows=rows, columns=columns, sampled=sampled)


# --------------------------------------------------------------------------- column roles
_CUSTOMER = {"customer_id", "customerid", "customer", "cust_id", "client_id", "clientid", "client", "user_id",
             "userid", "user", "visitor_id", "visitorid", "member_id", "account_id", "person_id", "buyer_id",
             "uid", "user_pseudo_id", "shopper_id", "contact_id"}
_TIME = ("timestamp", "event_time", "event_timestamp", "time", "ts", "datetime", "date_time", "event_date",
         "occurred_at", "created_at", "date", "at", "when", "eventtime")
_EVENT = ("touchpoint", "event", "event_name", "event_type", "eventname", "eventtype", "action", "activity",
          "interaction", "page_type", "step", "type", "name")
_REVENUE = ("revenue", "amount", "order_value", "purchase_value", "sales", "total", "spend", "value")
_CHANNEL = ("channel", "medium", "source", "platform", "device", "device_type", "device_category")
_SESSION = ("session_id", "session", "user_session", "sessionid", "visit_id")
_TEXT = ("comment", "comments", "text", "feedback", "verbatim", "review", "review_text", "message", "body",
         "description", "free_text", "remarks", "subject")
_SCORES = {
    "nps": ("nps", "recommend", "likelihood_to_recommend", "ltr", "nps_score"),
    "csat": ("csat", "satisfaction", "csat_score", "satisfied"),
    "ces": ("ces", "effort", "customer_effort", "ces_score"),
}
_TICKET = {
    "ticket_id": ("ticket_id", "ticketid", "case_id", "caseid", "ticket", "case", "issue_id", "id"),
    "opened_at": ("opened_at", "created_at", "opened", "created", "open_time", "open_date", "start_time",
                  "reported_at", "timestamp", "date"),
    "closed_at": ("closed_at", "resolved_at", "closed", "close_time", "closed_date", "end_time", "solved_at"),
    "category": ("category", "topic", "reason", "issue_type", "type", "subject_category"),
    "resolved": ("resolved", "is_resolved", "solved", "is_solved"),
}
_RESPONSE = ("response_id", "responseid", "answer_id", "survey_response_id", "submission_id", "response", "id")


def _named(profile: FileProfile, names, *, exclude=()) -> str | None:
    """The first column whose normalised name is one of ``names`` (in the order of ``names``),
    else one whose name holds one of them as a word."""
    by_key = {c.key: c.name for c in profile.columns.values() if c.name not in exclude}
    for n in names:
        if n in by_key:
            return by_key[n]
    for n in names:
        for key, col in by_key.items():
            if len(n) > 2 and n in key.split("_"):
                return col
    return None


def _customer_column(profile: FileProfile) -> str | None:
    col = _named(profile, tuple(sorted(_CUSTOMER, key=lambda n: (n != "customer_id", n != "user_id", n))))
    if col:
        return col
    for c in profile.columns.values():  # a column like crm_customer_no
        if {"customer", "user", "client"} & set(c.key.split("_")):
            return c.name
    return None


def _time_column(profile: FileProfile, *, exclude=()) -> tuple[str | None, str | None]:
    """(column, epoch unit or None) of the table's timestamp."""
    named = [c for c in profile.columns.values() if c.name not in exclude]
    times = [c for c in named if c.is_time]
    for n in _TIME:
        for c in times:
            if c.key == n:
                return c.name, None
    if times:
        return times[0].name, None
    for c in named:  # whole numbers named like a time, in the range of epoch times
        if c.epoch_unit() and (set(c.key.split("_")) & {"time", "timestamp", "ts", "date", "epoch", "at"}):
            return c.name, c.epoch_unit()
    return None, None


def _event_column(profile: FileProfile, *, exclude=()) -> str | None:
    """The categorical column naming what happened: by name, else the text column with the
    fewest distinct values above one (not a number, not a time)."""
    col = _named(profile, _EVENT, exclude=exclude)
    if col and not profile.columns[col].is_time and profile.columns[col].distinct >= 1:
        return col
    cands = [c for c in profile.columns.values()
             if c.name not in exclude and c.distinct >= 2 and not c.is_number and not c.is_time
             and c.distinct <= max(50, 0.05 * c.values)]
    if not cands:
        cands = [c for c in profile.columns.values()
                 if c.name not in exclude and c.distinct >= 2 and not c.is_time and c.distinct <= max(50, 0.05 * c.values)]
    return min(cands, key=lambda c: (c.distinct, c.name)).name if cands else None


def _score_columns(profile: FileProfile) -> dict[str, str]:
    found = {}
    for score, names in _SCORES.items():
        col = _named(profile, names, exclude=set(found.values()))
        if col and profile.columns[col].is_number:
            found[score] = col
    return found


def _text_column(profile: FileProfile, *, exclude=()) -> str | None:
    col = _named(profile, _TEXT, exclude=exclude)
    if col:
        return col
    cands = [c for c in profile.columns.values()
             if c.name not in exclude and not c.is_number and not c.is_time and c.length >= 25]
    return max(cands, key=lambda c: c.length).name if cands else None


# --------------------------------------------------------------------------- tables
@dataclass
class TableDraft:
    """One table of the draft: its file, the contract column -> export column of every role
    found, options (epoch), the columns the draft leaves unused and what to decide."""

    table: str
    profile: FileProfile
    roles: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    decide: list[str] = field(default_factory=list)
    usable: bool = True


def _unique(profile: FileProfile, col: str) -> bool:
    c = profile.columns[col]
    return c.values == profile.sampled and c.distinct == c.values


def _events_draft(p: FileProfile) -> TableDraft | None:
    cid = _customer_column(p)
    ts, epoch = _time_column(p, exclude={cid} if cid else ())
    if cid is None or ts is None:
        return None
    cust = p.columns[cid]
    if cust.distinct >= cust.values:  # one row per customer: not an event log
        return None
    tp = _event_column(p, exclude={cid, ts})
    if tp is None:
        return None
    t = TableDraft("events", p, {"customer_id": cid, "timestamp": ts, "touchpoint": tp})
    if epoch:
        t.options["epoch"] = epoch
    used = {cid, ts, tp}
    for role, names in (("session_id", _SESSION), ("channel", _CHANNEL)):
        col = _named(p, names, exclude=used)
        if col:
            t.roles[role] = col
            used.add(col)
    rev = _named(p, _REVENUE, exclude=used)
    if rev and p.columns[rev].is_number and (p.columns[rev].low or 0) >= 0:
        t.roles["revenue"] = rev
    elif rev:
        t.decide.append(f"'{rev}' looks like revenue but is not a non-negative number; map it as "
                        "revenue under columns if it is one")
    price = _named(p, ("price", "unit_price", "product_price"), exclude=set(t.roles.values()))
    if price and "revenue" not in t.roles:
        t.decide.append(f"'{price}' may be a product's price on every event rather than what a customer paid; "
                        f"if it is revenue (paid on purchases only), add revenue: {price} under columns")
    if p.columns[tp].is_number:
        t.decide.append(f"the export has no column naming what happened, so touchpoint is read from '{tp}', a "
                        f"column of numbers ({p.columns[tp].distinct:,} values in the sample, each a touchpoint): "
                        "check that it names what happened; a log of one kind of event (orders only) needs a "
                        "column saying so, the same value on every row (e.g. event: purchase)")
    alternatives = [c.name for c in p.columns.values() if c.name not in used and not c.is_number
                    and not c.is_time and 2 <= c.distinct <= 500][:4]
    if alternatives:
        t.decide.append(f"touchpoint is read from '{tp}' ({p.columns[tp].distinct:,} distinct values in the "
                        f"sample); other categorical columns: {', '.join(alternatives)}")
    return t


def _surveys_draft(p: FileProfile) -> TableDraft | None:
    scores = _score_columns(p)
    if not scores:
        return None
    t = TableDraft("surveys", p, dict(scores))
    for score, col in scores.items():
        lo, hi = SCORE_RANGES[score]
        c = p.columns[col]
        if c.low is not None and (c.low < lo or c.high > hi):
            del t.roles[score]
            t.decide.append(f"'{col}' looks like {score} but holds {c.low:g} to {c.high:g}, not {lo} to {hi}: "
                            f"rescale it, then map it as {score}")
    if not {"nps", "csat", "ces"} & set(t.roles):
        t.usable = False
    cid = _customer_column(p)
    ts, epoch = _time_column(p, exclude={cid} if cid else ())
    rid = _named(p, _RESPONSE, exclude={cid, ts})
    if rid is None or not _unique(p, rid):
        t.usable = False
        t.decide.append("surveys need a response_id column, unique per answer; none found"
                        + (f" ('{rid}' repeats)" if rid else ""))
    else:
        t.roles["response_id"] = rid
    for role, col in (("customer_id", cid), ("timestamp", ts)):
        if col is None:
            t.usable = False
            t.decide.append(f"surveys need a {role} column; none found")
        else:
            t.roles[role] = col
    if epoch:
        t.options["epoch"] = epoch
    used = set(t.roles.values())
    comment = _text_column(p, exclude=used)
    if comment:
        t.roles["comment"] = comment
        used.add(comment)
    for role in ("touchpoint", "stage"):
        col = _named(p, (role,), exclude=used)
        if col:
            t.roles[role] = col
    for c in p.columns.values():
        if c.name not in t.roles.values() and c.key.startswith("driver_") and c.is_number:
            t.roles[c.key] = c.name
    return t


def _tickets_draft(p: FileProfile) -> TableDraft | None:
    named_like = {"ticket", "tickets", "case", "cases", "support", "complaints", "complaint"} & _tokens(p.path.name)
    tid = _named(p, _TICKET["ticket_id"][:-1])  # a column named exactly like a ticket id
    if not named_like and tid is None:
        return None
    t = TableDraft("tickets", p)
    cid = _customer_column(p)
    tid = tid or _named(p, ("id",), exclude={cid})
    opened, epoch = None, None
    col = _named(p, _TICKET["opened_at"], exclude={cid, tid})
    if col and (p.columns[col].is_time or p.columns[col].epoch_unit()):
        opened, epoch = col, (None if p.columns[col].is_time else p.columns[col].epoch_unit())
    else:
        opened, epoch = _time_column(p, exclude={cid, tid})
    for role, col in (("ticket_id", tid), ("customer_id", cid), ("opened_at", opened)):
        if col is None:
            t.usable = False
            t.decide.append(f"tickets need a {role} column; none found")
        else:
            t.roles[role] = col
    if tid and not _unique(p, tid):
        t.usable = False
        t.decide.append(f"tickets need a ticket_id unique per ticket; '{tid}' repeats")
    if epoch:
        t.options["epoch"] = epoch
    used = set(t.roles.values())
    for role in ("closed_at", "category", "resolved"):
        col = _named(p, _TICKET[role], exclude=used)
        if col and (role != "closed_at" or p.columns[col].is_time):
            t.roles[role] = col
            used.add(col)
    col = _named(p, _CHANNEL, exclude=used)
    if col:
        t.roles["channel"] = col
        used.add(col)
    text = _text_column(p, exclude=used)
    if text:
        t.roles["text"] = text
    return t


def _customers_draft(p: FileProfile) -> TableDraft | None:
    cid = _customer_column(p)
    if cid is None or not _unique(p, cid):
        return None
    t = TableDraft("customers", p, {"customer_id": cid})
    return t


_CODE = {"zip", "zipcode", "postcode", "postal", "plz", "phone", "tel", "mobile", "id", "code", "number", "no"}


def _attributes(t: TableDraft) -> tuple[dict[str, dict], list[str]]:
    """Customer attributes proposed from the customers file: numbers (every value a number, the
    column not named like a code: zip, postcode, phone, id), dates, and text with few distinct
    values; text with many (names, e-mails, zip codes) is left out."""
    attrs, skipped = {}, []
    for c in t.profile.columns.values():
        if c.name == t.roles.get("customer_id") or c.values == 0:
            continue
        code = bool(_CODE & set(c.key.split("_")))  # a zip code or phone number is not a quantity
        if c.is_number and c.numbers == 1.0 and c.distinct > 12 and not code:
            attrs[c.name] = {"kind": "numeric"}
        elif c.is_time:
            attrs[c.name] = {"kind": "date"}
        elif c.distinct <= max(30, 0.02 * c.values):
            attrs[c.name] = {"kind": "category"}
        else:
            skipped.append(c.name)
    return attrs, skipped


def _candidates(folder: Path) -> list[Path]:
    out = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith((".", "_")) or p.name == "study.yaml":
            continue
        fmt = table_format(p)
        if fmt in ("csv", "parquet") and p.is_file() and p.stat().st_size > 0:
            out.append(p)
        elif fmt == "folder" and data.folder_files(p):
            out.append(p)
    return out


def find_tables(folder: Path, con: duckdb.DuckDBPyConnection) -> tuple[dict[str, TableDraft], list[str]]:
    """Which file is which table; the notes list files that could not be read or placed."""
    profiles, notes = [], []
    for path in _candidates(folder):
        try:
            profiles.append(profile_file(con, path))
        except duckdb.Error as exc:
            notes.append(f"{path.name}: not read ({data.duckdb_reason(exc)})")
    tables: dict[str, TableDraft] = {}
    left = list(profiles)

    def take(table: str, make) -> None:
        found = [t for t in (make(p) for p in left) if t is not None]
        if not found:
            return
        best = max(found, key=lambda t: (t.usable, t.profile.rows))
        tables[table] = best
        left.remove(best.profile)

    take("surveys", _surveys_draft)
    take("tickets", _tickets_draft)
    take("events", _events_draft)
    take("customers", _customers_draft)
    for p in left:
        notes.append(f"{p.name}: not used ({p.rows:,} rows; columns {', '.join(list(p.columns)[:8])})")
        notes += _compact_date_notes(p)
    return tables, notes


def _compact_date_notes(p: FileProfile) -> list[str]:
    """A note for each column of dates written as yyyymmdd numbers (19970101), which the data
    contract does not read as timestamps."""
    return [f"{p.name}: column '{c.name}' holds dates written as yyyymmdd numbers ({c.low:.0f} to {c.high:.0f}), "
            "which cxlab does not read as timestamps: convert the column to ISO dates (1997-01-01) or "
            "timestamps (1997-01-01 10:00:00) and run cxlab init again"
            for c in p.columns.values() if c.values and c.compact_dates >= 0.98 and not c.is_time]


# --------------------------------------------------------------------------- the journey
def _touchpoints(con, events: TableDraft) -> list[dict]:
    """Every touchpoint of the whole log: events, median position (0 first, 1 last) in the
    sessions where the log has a session column, else in the customers' journeys (sessions or
    journeys with two events or more), how often it is a journey's last event, the share of its
    events with revenue, and its most frequent channel in the log.

    Sessions, where there are any: a journey over months is many visits, and a touchpoint's
    place in its visit (home page first, payment last) says more about its journey stage than
    its place among months of visits (every touchpoint near the middle)."""
    p, r = events.profile, events.roles
    types = {n: c.type for n, c in p.columns.items()}
    epoch = events.options.get("epoch")
    cid = data.cast_sql(r["customer_id"], "id", types[r["customer_id"]])
    ts = data.cast_sql(r["timestamp"], "timestamp", types[r["timestamp"]], epoch=epoch)
    tp = data.cast_sql(r["touchpoint"], "id", types[r["touchpoint"]])
    rev = f"TRY_CAST({data.quote(r['revenue'])} AS DOUBLE)" if "revenue" in r else "CAST(NULL AS DOUBLE)"
    ch = data.cast_sql(r["channel"], "text", types[r["channel"]]) if "channel" in r else "CAST(NULL AS VARCHAR)"
    session = data.cast_sql(r["session_id"], "id", types[r["session_id"]]) if "session_id" in r else "NULL"
    rows = con.execute(f"""
        WITH ev AS (
            SELECT {cid} AS customer_id, {ts} AS ts, {tp} AS touchpoint, {rev} AS revenue, {ch} AS channel,
                   {session} AS session, _row
            FROM ({data.source_sql(p.path)})
        ), placed AS (
            SELECT touchpoint, revenue, channel,
                   row_number() OVER (PARTITION BY customer_id, session ORDER BY ts, _row) - 1 AS pos,
                   count(*) OVER (PARTITION BY customer_id, session) AS n,
                   row_number() OVER (PARTITION BY customer_id ORDER BY ts DESC, _row DESC) = 1 AS final,
                   count(*) OVER (PARTITION BY customer_id) AS journey
            FROM ev WHERE customer_id IS NOT NULL AND ts IS NOT NULL AND touchpoint IS NOT NULL
        ), spots AS (
            SELECT touchpoint, median(CASE WHEN n > 1 THEN pos / (n - 1) END) AS position,
                   count(CASE WHEN final AND journey > 1 THEN 1 END) AS last
            FROM placed GROUP BY touchpoint
        ), channels AS (
            SELECT touchpoint, channel, row_number() OVER (PARTITION BY touchpoint ORDER BY count(*) DESC, channel)
                   AS rank
            FROM ev WHERE touchpoint IS NOT NULL AND channel IS NOT NULL GROUP BY touchpoint, channel
        ), counts AS (
            SELECT touchpoint, count(*) AS events, avg(CASE WHEN revenue > 0 THEN 1.0 ELSE 0.0 END) AS with_revenue,
                   any_value(k.channel) AS channel
            FROM ev LEFT JOIN (SELECT touchpoint, channel FROM channels WHERE rank = 1) k USING (touchpoint)
            WHERE touchpoint IS NOT NULL GROUP BY touchpoint
        )
        SELECT c.touchpoint, c.events, s.position, coalesce(s.last, 0), c.with_revenue, c.channel
        FROM counts c LEFT JOIN spots s USING (touchpoint)
        ORDER BY s.position NULLS LAST, c.events DESC, c.touchpoint
    """).fetchall()
    return [{"touchpoint": t, "events": int(n), "position": None if pos is None else float(pos), "last": int(last),
             "with_revenue": float(wr or 0), "channel": chan} for t, n, pos, last, wr, chan in rows]


def _goal_like(name: str) -> bool:
    key = _norm(name)
    return bool(GOAL_TOKENS & (set(key.split("_")) | {key})) or bool(GOAL_NAMES.match(key)) or any(
        key.endswith(g) for g in ("checkout_complete", "checkout_completed", "order_placed", "order_completed"))


def _goals(tps: list[dict]) -> tuple[list[str], str]:
    named = [t["touchpoint"] for t in tps if _goal_like(t["touchpoint"])]
    if named:
        return named, "are named like a purchase"
    paying = [t["touchpoint"] for t in tps if t["with_revenue"] >= 0.5]
    if paying:
        return paying, "carry revenue on most of their events"
    last = max(tps, key=lambda t: (t["last"], t["events"]))
    return [last["touchpoint"]], "are most often the last event of a journey"


def _stages(tps: list[dict], goals: list[str], goal_stage: str) -> dict[str, str]:
    """touchpoint -> proposed journey stage, from the median positions."""
    goal_pos = sorted(t["position"] for t in tps if t["touchpoint"] in goals and t["position"] is not None)
    g = goal_pos[len(goal_pos) // 2] if goal_pos else 1.0
    before = [t for t in tps if t["touchpoint"] not in goals and t["position"] is not None and t["position"] < g]
    stage = {}
    # awareness | consideration: at the widest gap between neighbouring median positions
    cut = 0
    if len(before) >= 2:
        gaps = [before[i + 1]["position"] - before[i]["position"] for i in range(len(before) - 1)]
        cut = gaps.index(max(gaps)) + 1
    for i, t in enumerate(before):  # tps are sorted by position already
        stage[t["touchpoint"]] = "awareness" if i < cut else "consideration"
    for t in tps:
        if t["touchpoint"] in goals:
            stage[t["touchpoint"]] = goal_stage
        elif t["touchpoint"] not in stage:
            stage[t["touchpoint"]] = "service"
    return stage


# --------------------------------------------------------------------------- writing
def _y(value: Any) -> str:
    """A value as inline YAML (quoted where YAML would read it as something else)."""
    return yaml.safe_dump([value], default_flow_style=True, allow_unicode=True, width=10_000).strip()[1:-1]


def _flow(mapping: dict) -> str:
    return "{" + ", ".join(f"{_y(k)}: {_y(v)}" for k, v in mapping.items()) + "}"


@dataclass
class Draft:
    """What ``draft_study`` wrote: the file, the tables found, the goals, the decisions left,
    and the validation of the draft."""

    path: Path
    tables: dict[str, str]
    goal_touchpoints: list[str]
    touchpoints: list[dict]
    decisions: list[str]
    notes: list[str]
    report: data.ValidationReport | None = None

    def summary(self) -> str:
        lines = [f"Draft written to {self.path}"]
        lines += [f"  {t:<10} {f}" for t, f in self.tables.items()]
        lines.append(f"  {len(self.touchpoints)} touchpoints; goal: {', '.join(self.goal_touchpoints)}")
        lines += [f"  note: {n}" for n in self.notes]
        lines.append(f"{len(self.decisions)} decision(s) marked '# DECIDE:' in the draft:")
        lines += [f"  - {d}" for d in self.decisions]
        if self.report is not None:
            verdict = "passes" if self.report.ok else f"finds {len(self.report.errors)} error(s)"
            lines.append(f"cxlab validate on the draft {verdict} ({len(self.report.warnings)} warning(s)).")
            lines += [f"  ERROR   {p}" for p in self.report.errors]
        return "\n".join(lines)


def draft_study(folder: str | os.PathLike, *, title: str | None = None) -> Draft:
    """Write ``<folder>/study.yaml``, a draft made from the exports in ``folder``, and return
    what was found. Refuses to overwrite an existing study.yaml (StudyError)."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise StudyError(f"{folder} is not a folder; give the folder that holds the exports")
    target = folder / "study.yaml"
    if target.exists():
        raise StudyError(f"{target} exists already; cxlab init never overwrites it (move it away to draft anew)")
    con = duckdb.connect()
    con.execute("SET timezone = 'UTC'")
    try:
        tables, notes = find_tables(folder, con)
        if "events" not in tables:
            raise StudyError(
                f"No event log found in {folder}: none of its files "
                f"({', '.join(p.name for p in _candidates(folder)) or 'no CSV or parquet files'}) has a "
                "timestamp column, a customer id repeated over rows and a column naming the event"
                + "".join(f"\n  {n}" for n in notes))
        events = tables["events"]
        tps = _touchpoints(con, events)
        customers_file, per_customer = None, []
        if "customers" not in tables:
            customers_file, per_customer = _write_customers(con, folder, events)
        text, decisions, goals = _render(folder, title, tables, tps, customers_file, notes, per_customer)
    finally:
        con.close()
    tmp = target.with_name(".study.yaml.draft")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    listed = {t: tables[t].profile.name for t in TABLE_NAMES if t in tables and tables[t].usable}
    if customers_file:
        listed = {"customers": customers_file.name, **listed}
    draft = Draft(target, listed, goals, tps, decisions, notes)
    try:
        draft.report = data.validate(Study.load(folder))
    except StudyError as exc:
        draft.decisions.append(f"study.yaml does not load yet: {exc}")
    return draft


def _per_customer_columns(con, events: TableDraft, cid: str) -> list[str]:
    """The log's unused columns that hold one value per customer, with 2 to 30 distinct values
    in all (an acquisition channel, a signup cohort): attributes of the customer, not of the event."""
    p = events.profile
    used = set(events.roles.values())
    cands = [c for c in p.columns.values() if c.name not in used and c.key != "customer_id"
             and 2 <= c.distinct <= 30 and c.values == p.sampled]
    if not cands:
        return []
    counts = ", ".join(f"max(n{i})" for i in range(len(cands)))
    inner = ", ".join(f"count(DISTINCT {data.quote(c.name)}) AS n{i}" for i, c in enumerate(cands))
    row = con.execute(f"SELECT {counts} FROM (SELECT {inner} FROM ({data.source_sql(p.path)}) "
                      f"WHERE {cid} IS NOT NULL GROUP BY {cid})").fetchall()[0]
    return [c.name for c, most in zip(cands, row) if most == 1]


def _write_customers(con, folder: Path, events: TableDraft) -> tuple[Path, list[str]]:
    """customers.csv with the distinct customer ids of the log (the export had no customers) and
    the log's columns that hold one value per customer (``_per_customer_columns``), which become
    customer attributes; returns the file and those columns."""
    path = folder / "customers.csv"
    if path.exists():
        path = folder / "customers_from_events.csv"
    if path.exists():
        raise StudyError(f"No customers file was recognised, and {path.name} exists already: name the "
                         "customers file in study.yaml by hand")
    col = events.roles["customer_id"]
    cid = data.cast_sql(col, "id", events.profile.columns[col].type)
    extra = _per_customer_columns(con, events, cid)
    picked = "".join(f", any_value({data.quote(c)}) AS {data.quote(c)}" for c in extra)
    con.execute(
        f"COPY (SELECT {cid} AS customer_id{picked} FROM ({data.source_sql(events.profile.path)}) "
        f"WHERE {cid} IS NOT NULL GROUP BY 1 ORDER BY 1) TO {data.literal(path)} (FORMAT csv, HEADER true)"
    )
    return path, extra


_ORDER = {
    "events": ("customer_id", "timestamp", "touchpoint", "channel", "session_id", "revenue"),
    "surveys": ("response_id", "customer_id", "timestamp", "touchpoint", "stage", "nps", "csat", "ces", "comment"),
    "tickets": ("ticket_id", "customer_id", "opened_at", "closed_at", "channel", "category", "resolved", "text"),
    "customers": ("customer_id",),
}


def _table_lines(t: TableDraft) -> list[str]:
    mapping = {k: v for k, v in sorted(t.roles.items(), key=lambda kv: (
        _ORDER[t.table].index(kv[0]) if kv[0] in _ORDER[t.table] else 99, kv[0])) if k != v}
    used = ", ".join(f"{k}" + (f" ← {v}" if k != v else "") for k, v in t.roles.items())
    file = t.profile.name.rstrip("/") + ("/" if t.profile.path.is_dir() else "")
    prefix = "" if t.usable else "# "
    if not mapping and not t.options:
        return [f"  {prefix}{t.table}: {_y(file)}   # {t.profile.rows:,} rows; {used}"]
    lines = [f"  {prefix}{t.table}:   # {t.profile.rows:,} rows",
             f"  {prefix}  file: {_y(file)}"]
    if mapping:
        lines.append(f"  {prefix}  columns: {_flow(mapping)}   # contract column: the export's column")
    if "epoch" in t.options:
        lines.append(f"  {prefix}  epoch: {t.options['epoch']}   # the timestamps are Unix epoch numbers")
    return lines


def _render(folder: Path, title: str | None, tables: dict[str, TableDraft], tps: list[dict],
            customers_file: Path | None, notes: list[str],
            per_customer: list[str] = ()) -> tuple[str, list[str], list[str]]:
    decisions: list[str] = []

    def decide(text: str) -> str:
        decisions.append(text)
        return f"# DECIDE: {text}"

    goals, why = _goals(tps)
    purchase_like = "last event" not in why
    goal_stage = "purchase" if purchase_like else "goal"
    stage_of = _stages(tps, goals, goal_stage)
    stages = [s for s in ("awareness", "consideration", goal_stage, "service") if s in stage_of.values()]
    events = tables["events"]
    has_channel = "channel" in events.roles
    lines = [
        f"# Draft study.yaml written by `cxlab init` on {dt.date.today():%Y-%m-%d} from the exports in this folder.",
        "# Read it, settle every '# DECIDE:' line, then `cxlab validate <folder>` and `cxlab run <folder>`.",
        f"title: {_y(title or folder.name.replace('_', ' ').replace('-', ' ').capitalize())}",
        "description: ''",
        "",
        "tables:",
    ]
    if customers_file is not None:
        kept = f", with the log's columns that hold one value per customer: {', '.join(per_customer)}" if per_customer else ""
        lines.append(f"  customers: {_y(customers_file.name)}   # written by cxlab init: the distinct customer ids "
                     f"of the log (no customers file was found){kept}")
        holds = f"the ids and {', '.join(per_customer)}" if per_customer else "only ids"
        lines.append("  " + decide(f"{customers_file.name} holds {holds}; give a customers export with attributes "
                                   "(age, region …) to segment by them"))
    for name in ("customers", "events", "surveys", "tickets"):
        if name in tables:
            t = tables[name]
            lines += _table_lines(t)
            for d in t.decide:
                lines.append("  " + decide(f"{name}: {d}"))
            if not t.usable:
                lines.append("  " + decide(f"{name} is left out (commented) until the above is settled"))
    for n in notes:
        lines.append(f"  # {n}")
    lines.append("")
    within = "sessions" if "session_id" in events.roles else "journeys"
    lines.append(f"stages: {_flow_list(stages)}   " + decide(
        f"journey stages in order, proposed from each touchpoint's median position in the {within}: "
        "before the goal's, awareness and consideration (split at the widest gap), the goals in "
        f"'{goal_stage}', after it service; rename, split or merge them and move touchpoints"))
    lines.append("")
    first = "a session's" if within == "sessions" else "a customer's"
    lines.append(f"touchpoints:   # every touchpoint of the log, by median position in the {within} "
                 f"(0 = {first} first event, 1 = the last)")
    if not has_channel:
        lines.append("  " + decide("the log has no channel column: give each touchpoint its channel "
                                   "(web, app, email, store, call_centre …)"))
    else:
        lines.append("  # channel: the one most events of the touchpoint carry; an event's own channel wins over "
                     "the catalog's, which fills events without one")
    shown = tps[:MAX_CATALOG]
    for t in shown:
        spec = {"stage": stage_of[t["touchpoint"]], "channel": t["channel"] or "unknown"}
        pos = "n/a" if t["position"] is None else f"{t['position']:.2f}"
        lines.append(f"  {_y(str(t['touchpoint']))}: {_flow(spec)}   # {t['events']:,} events, median position {pos}")
    if len(tps) > len(shown):
        rest = sum(t["events"] for t in tps[len(shown):])
        lines.append("  " + decide(f"{len(tps) - len(shown):,} more touchpoints ({rest:,} events) are not listed; "
                                   "their events are kept as 'uncatalogued' — add the ones that matter"))
    lines.append("")
    lines.append(f"goal_touchpoints: {_flow_list(goals)}   " + decide(
        f"reaching one of these counts as converting; proposed because they {why}"))
    lines.append("conversion_window_days: 30   " + decide(
        "days after a customer's first touch in which reaching a goal counts (null: no limit)"))
    lines.append("currency: EUR   " + decide("the currency of revenue, shown with every amount (an ISO code: USD, GBP …)"))
    first_last = _period(events)
    if first_last:
        lines.append(f"# study_period: {{start: {first_last[0]}, end: {first_last[1]}}}   " + decide(
            "uncomment to make events outside the study period an error (the log spans these days)"))
    lines.append("")
    if "customers" in tables:
        attrs, skipped = _attributes(tables["customers"])
        if attrs:
            lines.append("customer_attributes:   # what segmentation may use")
            for a, spec in attrs.items():
                lines.append(f"  {_y(a)}: {_flow(spec)}")
            lines.append("  " + decide("numeric attributes may take bins: [18, 25, 35, 50, 65, 100]"))
        if skipped:
            lines.append(f"# not proposed as attributes (too many distinct values): {', '.join(skipped)}")
        lines.append("")
    elif per_customer:
        lines.append("customer_attributes:   # what segmentation may use: columns of the log with one value per customer")
        for a in per_customer:
            lines.append(f"  {_y(a)}: {{kind: category}}")
        lines.append("")
    lines.append("# objectives:   " + decide(
        "business goals -> KPI -> baseline -> target (`cxlab kpis` lists the KPI ids), for instance"))
    lines.append("#   - {id: grow_conversion, goal: Grow online sales, kpi: conversion_rate,")
    lines.append("#      baseline: {start: 2025-01-01, end: 2025-03-31}, target: {relative: 0.10}}")
    lines.append("# interventions: changes whose effect to test, e.g. "
                 "- {id: new_checkout, date: 2025-07-01, design: pre_post, kpis: [conversion_rate]}")
    return "\n".join(lines) + "\n", decisions, goals


def _flow_list(values: list) -> str:
    return "[" + ", ".join(_y(v) for v in values) + "]"


def _period(events: TableDraft) -> tuple[str, str] | None:
    con = duckdb.connect()
    con.execute("SET timezone = 'UTC'")
    try:
        col = events.roles["timestamp"]
        ts = data.cast_sql(col, "timestamp", events.profile.columns[col].type, epoch=events.options.get("epoch"))
        row = con.execute(f"SELECT CAST(min({ts}) AS DATE), CAST(max({ts}) AS DATE) "
                          f"FROM ({data.source_sql(events.profile.path)})").fetchall()[0]
    except duckdb.Error:
        return None
    finally:
        con.close()
    return (str(row[0]), str(row[1])) if row[0] is not None else None
