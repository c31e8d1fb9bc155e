"""Customers' order histories in the terms of "buy till you die" models: one definition for the
segmentation's features and the objectives' customer lifetime value.

**Orders** are the events at the study's goal touchpoints (study.yaml ``goal_touchpoints``);
their ``revenue`` is the money (missing revenue counts as 0). The summary follows lifetimes
(``summary_data_from_transaction_data``) and Fader, Hardie & Lee (2005), at the grain of
calendar days (UTC day of the timestamp):

- ``frequency``: repeat purchase days — days with an order, minus one;
- ``recency``: time from the first to the last order day;
- ``T``: time from the first order day to the end of observation (``observation_end``: the day
  of the last event unless given, ``end_of_observation``); events after that day are ignored;
- ``monetary_value``: mean revenue of the repeat order days (0 without repeat orders);

with times in ``unit`` (day, week = 7 days, month = 365.25 / 12 days). For example, orders of
10 and 5 on 1 January, 30 on 15 January and 20 on 29 January, observed until 26 February, give
frequency 2, recency 28 days (4 weeks), T 56 days (8 weeks) and monetary value 25.

The per-day work is an Ibis expression (``order_history``), so it runs in the engine (DuckDB or
Spark) and can be joined into a larger per-customer query; ``purchase_summary`` turns its columns
into the summary, ``rfm_summary`` does both for a study.
"""
from __future__ import annotations

import os
from typing import Sequence

import ibis
import numpy as np
import pandas as pd

from .errors import DataError, ParameterError
from .periods import period_index, window_filter
from .study import Study

__all__ = ["UNIT_DAYS", "check_unit", "end_of_observation", "day_number", "order_history", "purchase_summary",
           "rfm_summary", "SUMMARY_COLUMNS"]

UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}
SUMMARY_COLUMNS = ["frequency", "recency", "T", "monetary_value"]
_EPOCH = pd.Timestamp("1970-01-01")


def check_unit(unit: str) -> float:
    """Days in ``unit`` (day, week, month); a clear error for another unit."""
    if unit not in UNIT_DAYS:
        raise ParameterError(f"unit '{unit}' must be one of {', '.join(UNIT_DAYS)}")
    return UNIT_DAYS[unit]


def end_of_observation(study: Study | str | os.PathLike, end=None) -> pd.Timestamp:
    """The last day observed: ``end`` (a date) if given, else the day of the study's last event."""
    if end is not None:
        try:
            return pd.Timestamp(end).normalize()
        except (ValueError, TypeError):
            raise ParameterError(f"observation_end '{end}' is not a date (write YYYY-MM-DD)") from None
    from . import engine

    ev = engine.events(Study.load(study) if not isinstance(study, Study) else study)
    last = engine.to_pandas(ev.aggregate(t=ev.timestamp.max()))["t"].iloc[0]
    return pd.Timestamp(last).normalize()


def day_number(day: pd.Timestamp) -> int:
    """A calendar day as days since 1970-01-01 (the engine's day numbers, ``period_index``)."""
    return int((pd.Timestamp(day).normalize() - _EPOCH).days)


def order_history(events: ibis.Table, goal_touchpoints: Sequence[str]) -> ibis.Table:
    """Per customer with an order among ``events``: ``order_days``, ``first_order_day`` and
    ``last_order_day`` (days since 1970-01-01), ``order_revenue`` (all orders) and
    ``first_day_revenue`` (the orders of the first order day). An Ibis expression."""
    orders = events.filter(events.touchpoint.isin(list(goal_touchpoints)))
    rev = orders.revenue.cast("float64").fill_null(0.0) if "revenue" in orders.columns else ibis.literal(0.0)
    orders = orders.mutate(_day=period_index(orders.timestamp, "day"), _rev=rev)
    per_day = orders.group_by(["customer_id", "_day"]).aggregate(day_rev=orders._rev.sum())
    return per_day.group_by("customer_id").aggregate(
        order_days=per_day.count(),
        first_order_day=per_day._day.min(),
        last_order_day=per_day._day.max(),
        order_revenue=per_day.day_rev.sum(),
        first_day_revenue=per_day.day_rev.argmin(per_day._day),
    )


def purchase_summary(history: pd.DataFrame, end_day: int, unit: str = "day") -> pd.DataFrame:
    """``frequency``, ``recency``, ``T`` and ``monetary_value`` (see the module doc) from the
    columns of ``order_history`` (a row without orders, as after a left join, gets NaN), with
    the end of observation ``end_day`` (days since 1970-01-01). Same index as ``history``."""
    scale = check_unit(unit)
    days = pd.to_numeric(history["order_days"]).astype(float).fillna(0.0)
    buyer = days > 0
    first = pd.to_numeric(history["first_order_day"]).astype(float)
    last = pd.to_numeric(history["last_order_day"]).astype(float)
    frequency = np.where(buyer, days - 1, np.nan)
    repeat = pd.to_numeric(history["order_revenue"]).astype(float) - pd.to_numeric(
        history["first_day_revenue"]).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        monetary = np.where(buyer, np.where(frequency > 0, repeat / frequency, 0.0), np.nan)
    return pd.DataFrame({
        "frequency": frequency,
        "recency": (last - first) / scale,
        "T": (end_day - first) / scale,
        "monetary_value": monetary,
    }, index=history.index)


def rfm_summary(
    study: Study | str | os.PathLike,
    *,
    observation_end: object = None,
    unit: str = "week",
    start: object = None,
) -> pd.DataFrame:
    """The summary of every customer who ordered between ``start`` and ``observation_end``
    (dates, both days included; default: from the first event to the day of the last event):
    ``frequency`` (int), ``recency``, ``T``, ``monetary_value`` in ``unit``, indexed by
    ``customer_id`` in order. What the BG/NBD and Gamma-Gamma models read."""
    from . import engine

    check_unit(unit)
    study = Study.load(study)
    end = end_of_observation(study, observation_end)
    ev = window_filter(engine.events(study), start, end)
    out = engine.to_pandas(order_history(ev, study.goal_touchpoints))
    if out.empty:
        raise DataError([f"Study '{study.name}' has no orders (goal touchpoints {study.goal_touchpoints}) "
                         "before the observation end; there is nothing to model."])
    out["customer_id"] = out["customer_id"].astype(str)
    out = out.sort_values("customer_id").set_index("customer_id")
    summary = purchase_summary(out, day_number(end), unit)
    summary["frequency"] = summary["frequency"].astype("int64")
    return summary[SUMMARY_COLUMNS]
