"""Time windows and calendar periods, one definition for every stage.

A window is [start, end) in UTC; a date-only end includes that whole day, so
{start: 2025-01-01, end: 2025-03-31} is the first quarter. A period (day, ISO week starting
Monday, calendar month or quarter) is an integer, consecutive periods differing by 1, computed
in the engine (``period_index``) or in Python (``period_index_of``) with the same result."""
from __future__ import annotations

import math

import ibis
import numpy as np
import pandas as pd

from .errors import ParameterError

FREQS = ("day", "week", "month", "quarter")


# --------------------------------------------------------------------------- windows
def window_bounds(start=None, end=None) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """[start, end) as timestamps. A date-only ``end`` includes that whole day, so
    {start: 2025-01-01, end: 2025-03-31} is the first quarter."""
    lo = None if start is None or (isinstance(start, float) and math.isnan(start)) else pd.Timestamp(start)
    hi = None
    if end is not None and not (isinstance(end, float) and math.isnan(end)):
        hi = pd.Timestamp(end)
        if hi == hi.normalize():
            hi = hi + pd.Timedelta(days=1)
    if lo is not None and hi is not None and hi <= lo:
        raise ParameterError(f"The window ends ({end}) before it starts ({start}).")
    for v in (lo, hi):
        if v is not None and v.tzinfo is not None:
            raise ParameterError("Give window dates without a time zone (the log is in UTC).")
    return lo, hi


def window_filter(table: ibis.Table, start=None, end=None, column: str = "timestamp") -> ibis.Table:
    """Rows whose ``column`` falls in [start, end] (dates; end day inclusive)."""
    lo, hi = window_bounds(start, end)
    preds = []
    if lo is not None:
        preds.append(table[column] >= lo.to_pydatetime())
    if hi is not None:
        preds.append(table[column] < hi.to_pydatetime())
    return table.filter(*preds) if preds else table


# --------------------------------------------------------------------------- periods
_EPOCH = pd.Timestamp("1970-01-01")


def check_freq(freq: str) -> str:
    if freq not in FREQS:
        raise ParameterError(f"freq '{freq}' must be one of {', '.join(FREQS)}")
    return freq


def period_index(ts: ibis.Value, freq: str) -> ibis.Value:
    """A calendar period as an integer (consecutive periods differ by 1), computed in the
    engine: days since 1970-01-01, ISO weeks starting Monday, calendar months or quarters."""
    check_freq(freq)
    if freq in ("day", "week"):
        days = (ts.epoch_seconds() // 86400).cast("int64")
        return days if freq == "day" else ((days + 3) // 7).cast("int64")  # 1970-01-01 was a Thursday
    months = (ts.year().cast("int64") * 12 + ts.month().cast("int64") - 1)
    return months if freq == "month" else (months // 3).cast("int64")


def period_start(index, freq: str):
    """The first day of the integer period(s) made by ``period_index``: a Timestamp for one
    index, a Series of timestamps for an array."""
    check_freq(freq)
    scalar = np.isscalar(index)
    idx = pd.Series(np.atleast_1d(np.asarray(index, dtype="int64")))
    if freq == "day":
        out = _EPOCH + pd.to_timedelta(idx, unit="D")
    elif freq == "week":
        out = _EPOCH + pd.to_timedelta(idx * 7 - 3, unit="D")
    else:
        months = idx if freq == "month" else idx * 3
        out = pd.to_datetime(pd.DataFrame({"year": months // 12, "month": months % 12 + 1, "day": 1}))
    out = out.astype("datetime64[ns]")
    return out.iloc[0] if scalar else out


def period_index_of(ts, freq: str) -> int:
    """``period_index`` for one pandas timestamp (in Python)."""
    ts = pd.Timestamp(ts)
    if freq in ("day", "week"):
        days = (ts.normalize() - _EPOCH).days
        return days if freq == "day" else (days + 3) // 7
    months = ts.year * 12 + ts.month - 1
    return months if freq == "month" else months // 3


def period_label(start: pd.Timestamp, freq: str) -> str:
    if freq == "month":
        return start.strftime("%b %Y")
    if freq == "quarter":
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    if freq == "week":
        return "week of " + start.strftime("%d %b %Y")
    return start.strftime("%d %b %Y")
