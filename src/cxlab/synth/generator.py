"""Write a complete synthetic study folder: study.yaml, the four tables, and the planted truths.

    write_study("data/raw/demo", **DEMO)

Customers are simulated in chunks (``chunk_customers`` at a time, one parquet row group each), so
memory stays flat at a million customers. Same arguments, byte-identical files.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import CxlabError
from . import catalog as C
from . import feedback
from . import text as T
from .simulate import Frame, simulate
from .studyfile import study_yaml, truth_document
from .truth import Tally

__all__ = ["write_study", "DEMO", "SynthError", "LARGE_CUSTOMERS", "SYNTH_FILES"]

DEMO = dict(customers=20_000, seed=7)
LARGE_CUSTOMERS = 200_000          # from here on customers, surveys and tickets are parquet
SYNTH_FILES = ["study.yaml", "customers.csv", "customers.parquet", "events.parquet", "surveys.csv",
               "surveys.parquet", "tickets.csv", "tickets.parquet", "truth.json", "truth_segments.parquet"]
PILOT_CUSTOMERS = 4000


class SynthError(CxlabError):
    """The synthetic generator cannot do what was asked (bad argument, occupied folder)."""


# ----------------------------------------------------------------------------- arguments
def _frame(start: str, months: int) -> tuple[pd.Timestamp, Frame]:
    try:
        t_start = pd.Timestamp(start).normalize()
    except (ValueError, TypeError):
        raise SynthError(f"start '{start}' is not a date; write YYYY-MM-DD") from None
    edges = [t_start + pd.DateOffset(months=i) for i in range(months + 1)]
    sec = np.array([(e - t_start).total_seconds() for e in edges])
    iv = t_start + pd.DateOffset(months=months // 2)
    frame = Frame(end=float(sec[-1]), intervention=float((iv - t_start).total_seconds()), month_edges=sec,
                  month_of_year=np.array([(t_start.month - 1 + i) % 12 for i in range(months)]))
    return t_start, frame


def _check(customers, seed, events_per_customer, months, chunk_customers):
    if not isinstance(customers, (int, np.integer)) or customers < 100:
        raise SynthError(f"customers must be a whole number of at least 100 (got {customers!r})")
    if customers > 99_999_999:
        raise SynthError("customers must be below 100 million")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SynthError(f"seed must be a non-negative whole number (got {seed!r})")
    if not isinstance(months, (int, np.integer)) or not 4 <= months <= 60:
        raise SynthError(f"months must be a whole number from 4 to 60 (got {months!r})")
    if events_per_customer is not None and not 4 <= float(events_per_customer) <= 200:
        raise SynthError(f"events_per_customer must be between 4 and 200 (got {events_per_customer!r})")
    if not isinstance(chunk_customers, (int, np.integer)) or chunk_customers < 1000:
        raise SynthError(f"chunk_customers must be at least 1000 (got {chunk_customers!r})")


def _calibrate(seed: int, frame: Frame, target: float, progress) -> float:
    """The intensity whose mean number of events per customer is ``target`` (pilot simulations)."""
    def mean_events(f: float) -> float:
        rng = np.random.default_rng([seed, 10**9, 0])
        return len(simulate(rng, PILOT_CUSTOMERS, replace(frame, intensity=f)).ev_tp) / PILOT_CUSTOMERS

    lo = mean_events(0.02)
    if lo > target * 1.05:
        raise SynthError(f"events_per_customer={target} is too low for this study: at least {lo:.1f} are needed")
    f1, m1, f2, m2 = 0.02, lo, 1.0, mean_events(1.0)
    f = f2
    for _ in range(6):
        f = float(np.clip(f1 + (target - m1) * (f2 - f1) / (m2 - m1), 0.02, 25.0))
        m = mean_events(f)
        if abs(m - target) <= 0.015 * target:
            break
        f1, m1, f2, m2 = f2, m2, f, m
    if progress:
        progress(f"intensity {f:.3f} gives {m:.2f} events per customer in a pilot (target {target})")
    return f


# ----------------------------------------------------------------------------- writing
class _Sink:
    """One output table written chunk by chunk, as CSV or parquet (one row group per chunk)."""

    def __init__(self, path: Path, schema: pa.Schema):
        if path.suffix == ".parquet":  # parquet has no second unit: store microseconds
            schema = pa.schema([pa.field(f.name, _TS) if pa.types.is_timestamp(f.type) else f for f in schema])
        self.path, self.schema, self.writer = path, schema, None

    def write(self, table: pa.Table) -> None:
        table = table.cast(self.schema)
        if self.path.suffix == ".csv":
            if self.writer is None:
                self.writer = pacsv.CSVWriter(str(self.path), self.schema,
                                              write_options=pacsv.WriteOptions(quoting_style="needed"))
        elif self.writer is None:
            self.writer = pq.ParquetWriter(str(self.path), self.schema, compression="zstd")
        if isinstance(self.writer, pq.ParquetWriter):
            self.writer.write_table(table, row_group_size=max(1, len(table)))
        else:
            self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is None:  # no rows at all: still write a header / an empty file
            self.write(self.schema.empty_table())
        self.writer.close()


def _ids(prefix: str, start: int, n: int, width: int) -> pa.Array:
    nums = pc.cast(pa.array(np.arange(start, start + n, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(nums, width, "0"), "")


_TS = pa.timestamp("us")
SCHEMAS = {
    "customers": pa.schema([("customer_id", pa.string()), ("age", pa.int64()), ("income", pa.int64()),
                            ("region", pa.string()), ("signup_date", pa.date32()), ("gender", pa.string())]),
    "events": pa.schema([("customer_id", pa.string()), ("timestamp", _TS), ("touchpoint", pa.string()),
                         ("channel", pa.string()), ("session_id", pa.string()), ("revenue", pa.float64())]),
    "surveys": pa.schema([("response_id", pa.string()), ("customer_id", pa.string()), ("timestamp", pa.timestamp("s")),
                          ("touchpoint", pa.string()), ("stage", pa.string()), ("nps", pa.int64()),
                          ("csat", pa.int64()), ("ces", pa.int64())]
                         + [(d, pa.int64()) for d in C.DRIVERS] + [("comment", pa.string())]),
    "tickets": pa.schema([("ticket_id", pa.string()), ("customer_id", pa.string()), ("opened_at", pa.timestamp("s")),
                          ("closed_at", pa.timestamp("s")), ("channel", pa.string()), ("category", pa.string()),
                          ("resolved", pa.bool_()), ("text", pa.string())]),
    "truth_segments": pa.schema([("customer_id", pa.string()), ("segment", pa.string())]),
}


def _seconds(start64, t, unit="s"):
    mult = 1 if unit == "s" else 1_000_000
    ints = np.rint(np.nan_to_num(t, nan=0.0) * mult).astype(np.int64)
    arr = start64.astype(f"datetime64[{unit}]") + ints.astype(f"timedelta64[{unit}]")
    return pa.array(arr, mask=np.isnan(t))


def _opt(values: np.ndarray) -> pa.Array:
    return pa.array(values, mask=values < 0, type=pa.int64())


def write_study(out: str | os.PathLike, *, customers: int = 20_000, seed: int = 7,
                events_per_customer: float | None = None, months: int = 12, start: str = "2025-01-01",
                chunk_customers: int = 200_000, progress: Callable[[str], None] | None = None) -> Path:
    """Write a complete study folder (study.yaml, customers.csv, events.parquet, surveys.csv,
    tickets.csv, truth.json, truth_segments.parquet) and return its path.

    From ``LARGE_CUSTOMERS`` customers on, customers, surveys and tickets are parquet files.
    ``events_per_customer`` scales the journeys (views, awareness and post-purchase touchpoints)
    so the mean number of events per customer is about that. An existing folder is only replaced
    when it is empty or a previous synth output (it holds a truth.json written by this module).
    """
    _check(customers, seed, events_per_customer, months, chunk_customers)
    out = Path(out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise SynthError(f"{out} is a file; give a folder for the synthetic study")
    if out.is_dir() and any(out.iterdir()) and not _is_synth_output(out):
        raise SynthError(f"{out} is not empty and is not a previous synth output (no truth.json from "
                         "cxlab.synth); choose an empty or new folder")
    t_start, frame = _frame(start, months)
    if events_per_customer is not None:
        frame = replace(frame, intensity=_calibrate(seed, frame, float(events_per_customer), progress))
    large = customers >= LARGE_CUSTOMERS
    ext = "parquet" if large else "csv"
    files = {"customers": f"customers.{ext}", "events": "events.parquet", "surveys": f"surveys.{ext}",
             "tickets": f"tickets.{ext}", "truth_segments": "truth_segments.parquet"}

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.synth-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        tally = _write_tables(tmp, files, customers, seed, frame, t_start, chunk_customers, progress)
        args = dict(customers=int(customers), seed=int(seed), events_per_customer=events_per_customer,
                    months=int(months), start=str(t_start.date()), chunk_customers=int(chunk_customers))
        (tmp / "study.yaml").write_text(study_yaml(files, t_start, frame, args), encoding="utf-8")
        doc = truth_document(tally, files, t_start, frame, args)
        (tmp / "truth.json").write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        out.mkdir(parents=True, exist_ok=True)
        for name in SYNTH_FILES:
            (out / name).unlink(missing_ok=True)
        for item in tmp.iterdir():
            os.replace(item, out / item.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if progress:
        c = tally.counts
        progress(f"wrote {out}: {c['customers']:,} customers, {c['events']:,} events, "
                 f"{c['surveys']:,} survey responses, {c['tickets']:,} tickets")
    return out


def _is_synth_output(folder: Path) -> bool:
    try:
        return json.loads((folder / "truth.json").read_text(encoding="utf-8")).get("generator") == "cxlab.synth"
    except (OSError, ValueError, AttributeError):
        return False


def _write_tables(tmp, files, customers, seed, frame, t_start, chunk_customers, progress) -> Tally:
    start_us = np.datetime64(t_start.to_datetime64(), "us")
    start_day = np.datetime64(t_start.date(), "D")
    width = max(7, len(str(customers)))
    sinks = {name: _Sink(tmp / path, SCHEMAS[name]) for name, path in files.items()}
    tally = Tally(frame)
    flags_c, flags_t = T.new_flags(), T.new_flags()
    sessions = responses = tickets = 0
    n_chunks = -(-customers // chunk_customers)
    tp_names, ch_names = pa.array(C.TP_NAMES), pa.array(C.CHANNELS)
    for i in range(n_chunks):
        first = i * chunk_customers
        n = min(chunk_customers, customers - first)
        ch = simulate(np.random.default_rng([seed, i, 1]), n, frame)
        ids = _ids("C", first + 1, n, width)
        sinks["customers"].write(pa.table({
            "customer_id": ids, "age": ch.age, "income": ch.income,
            "region": pa.array(C.REGIONS).take(pa.array(ch.region)),
            "signup_date": pa.array(start_day + ch.signup_day.astype("timedelta64[D]")),
            "gender": pa.array(["F", "M", "X"]).take(pa.array(ch.gender)),
        }))
        sinks["truth_segments"].write(pa.table({"customer_id": ids,
                                                "segment": pa.array(C.SEGMENTS).take(pa.array(ch.seg))}))
        # sessions: a new one at a customer's first event or after 30 minutes without events
        new = np.ones(len(ch.ev_cust), dtype=bool)
        new[1:] = (np.diff(ch.ev_cust) != 0) | (np.diff(ch.ev_time) > 1800)
        n_sessions = int(new.sum())
        session_ids = _ids("S", sessions + 1, n_sessions, 9).take(pa.array(np.cumsum(new) - 1))
        sessions += n_sessions
        sinks["events"].write(pa.table({
            "customer_id": ids.take(pa.array(ch.ev_cust)),
            "timestamp": _seconds(start_us, ch.ev_time, "us"),
            "touchpoint": tp_names.take(pa.array(ch.ev_tp)),
            "channel": ch_names.take(pa.array(ch.ev_channel)),
            "session_id": session_ids,
            "revenue": pa.array(ch.ev_revenue, from_pandas=True),
        }))
        sv = feedback.surveys(np.random.default_rng([seed, i, 2]), ch, frame, flags_c)
        m = len(sv["cust"])
        cols = {
            "response_id": _ids("R", responses + 1, m, 9), "customer_id": ids.take(pa.array(sv["cust"])),
            "timestamp": _seconds(start_us, sv["time"]), "touchpoint": tp_names.take(pa.array(sv["tp"])),
            "stage": pa.array(C.STAGES).take(pa.array(C.TP_STAGE[sv["tp"]])),
            "nps": _opt(sv["nps"]), "csat": _opt(sv["csat"]), "ces": _opt(sv["ces"]),
        }
        for j, d in enumerate(C.DRIVERS):
            cols[d] = _opt(sv["drivers"][:, j])
        cols["comment"] = pa.array(sv["comment"], type=pa.string())
        sinks["surveys"].write(pa.table(cols))
        responses += m
        tk = ch.tickets
        texts = feedback.ticket_texts(np.random.default_rng([seed, i, 3]), tk, flags_t)
        k = len(tk["cust"])
        sinks["tickets"].write(pa.table({
            "ticket_id": _ids("T", tickets + 1, k, 8), "customer_id": ids.take(pa.array(tk["cust"])),
            "opened_at": _seconds(start_us, tk["opened"]), "closed_at": _seconds(start_us, tk["closed"]),
            "channel": pa.array(C.TICKET_CHANNELS).take(pa.array(tk["channel"])),
            "category": pa.array(C.CATEGORIES).take(pa.array(tk["category"])),
            "resolved": pa.array(tk["resolved"]), "text": pa.array(texts, type=pa.string()),
        }))
        tickets += k
        tally.add(ch, sv, tk)
        if progress:
            progress(f"chunk {i + 1}/{n_chunks}: {first + n:,} customers, {tally.counts['events']:,} events")
    for sink in sinks.values():
        sink.close()
    tally.text = {"comments": flags_c, "tickets": flags_t}
    return tally
