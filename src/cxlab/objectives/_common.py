"""Shared pieces of the objectives stage: time windows, calendar periods as integers, goal
(order) events, and intervals computed from grouped sufficient statistics."""
from __future__ import annotations

import math

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ParameterError
from ..study import Study

FREQS = ("day", "week", "month", "quarter")
Z95 = 1.959963984540054


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


def purchase_filter(ev: ibis.Table, study: Study):
    """Events that are orders: a goal touchpoint of the study (study.yaml goal_touchpoints)."""
    return ev.touchpoint.isin(list(study.goal_touchpoints))


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


# --------------------------------------------------------------------------- intervals
def wilson(successes, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion (vectorised); NaN where n = 0."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    z = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def t_interval(mean, sd, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Student-t interval for a mean; NaN where n < 2."""
    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(n > 1, n - 1, np.nan)
        half = stats.t.ppf(0.5 + level / 2, df) * sd / np.sqrt(n)
    return mean - half, mean + half


def nps_interval(promoters, detractors, n, level: float = 0.95):
    """NPS = share of promoters − share of detractors, with the normal interval from the
    multinomial variance var = (p_pro + p_det − (p_pro − p_det)²) / n (on the −1…1 scale)."""
    pro = np.asarray(promoters, dtype=float)
    det = np.asarray(detractors, dtype=float)
    n = np.asarray(n, dtype=float)
    z = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_pro, p_det = pro / n, det / n
        nps = p_pro - p_det
        se = np.sqrt((p_pro + p_det - nps**2) / n)
    return nps, np.clip(nps - z * se, -1, 1), np.clip(nps + z * se, -1, 1), se
