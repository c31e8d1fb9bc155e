"""Behavioral features per customer, computed in the event-log engine in one query.

One row per customer of the customers table (customers without events get zeros), built from
Ibis expressions on the clean event log, tickets and surveys; only the per-customer aggregates
come back to pandas, so the event log itself is never loaded (10 million events stay in DuckDB,
or in Spark). The expression uses only portable operations (group-by aggregates with filters,
count distinct, min/max, first-by-order, one window lag when the log has no session ids), so it
runs on the PySpark backend as it does on DuckDB.

Orders are the events at the study's goal touchpoints (study.yaml ``goal_touchpoints``); their
``revenue`` is the money. The purchase-history columns ``frequency``, ``recency``, ``T`` and
``monetary_value`` are lifetimes' summary at the grain of calendar days, as the core defines it
for every stage (``cxlab.customers``: the same numbers as the objectives' customer lifetime
value); customers without orders have NaN there. Support contacts follow the core's support rule
and sessions the core's sessions (``cxlab.journeys.support_touchpoints`` and ``sessions``), and
the comment sentiment is the core's VADER score kept for the study (``cxlab.sentiment``), so
these features mean what the pain-point stage means by the same words.
"""
from __future__ import annotations

import os
import re
from typing import Callable, Iterable

import ibis
import numpy as np
import pandas as pd

from .. import data, engine
from ..customers import UNIT_DAYS, check_unit, day_number, end_of_observation, order_history, purchase_summary
from ..journeys import SESSION_GAP_MINUTES, journey_window, session_starts, sessions
from ..journeys import support_touchpoints as support_rule
from ..periods import period_index, window_filter
from ..sentiment import comment_scores
from ..study import Study

__all__ = [
    "customer_features",
    "comment_sentiment",
    "observation_end",
    "FEATURE_DESCRIPTIONS",
    "UNITS",
]

UNITS = UNIT_DAYS

# feature -> words for the report (used by the persona cards too)
FEATURE_DESCRIPTIONS = {
    "events": "events in the log",
    "active_days": "days with any activity",
    "sessions": "sessions",
    "events_per_active_day": "events per active day (pace)",
    "channels_used": "channels used",
    "orders": "orders (goal-touchpoint events)",
    "order_days": "days with an order",
    "revenue": "revenue",
    "avg_order_value": "mean order value",
    "frequency": "repeat purchase days",
    "recency": "time from first to last order",
    "T": "time since first order",
    "monetary_value": "mean repeat-order revenue",
    "days_since_last_order": "days since the last order",
    "days_since_last_event": "days since the last event",
    "tenure_days": "days since the first event",
    "reached_goal": "reached the goal",
    "days_to_convert": "days from first touch to first order",
    "support_contacts": "support contacts",
    "tickets": "support tickets",
    "unresolved_tickets": "unresolved tickets",
    "surveys": "survey responses",
    "nps_latest": "latest NPS score",
    "nps_class": "latest NPS class",
    "csat_mean": "mean CSAT",
    "ces_mean": "mean effort score",
    "sentiment_mean": "comment sentiment",
}


def observation_end(study: Study | str | os.PathLike, end=None) -> pd.Timestamp:
    """The last day observed: ``end`` (a date) if given, else the day of the last event."""
    return end_of_observation(study, end)


def _safe(name: object) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", str(name)).strip("_").lower() or "blank"


def _channel_list(ev: ibis.Table, limit: int = 12) -> list[str]:
    known = ev.filter(ev.channel.notnull())
    counts = engine.to_pandas(known.group_by("channel").aggregate(n=known.count()))
    return counts.sort_values(["n", "channel"], ascending=[False, True]).channel.astype(str).head(limit).tolist()


def customer_features(
    study: Study | str | os.PathLike,
    observation_end: object = None,
    unit: str = "day",
    support_touchpoints: str | Iterable[str] | None = None,
    session_gap_minutes: float = SESSION_GAP_MINUTES,
    sentiment: Callable[[pd.Series], pd.Series] | bool | None = None,
) -> pd.DataFrame:
    """Per customer, from the event log (through the engine), tickets and surveys:

    engagement — ``events``, ``active_days``, ``sessions`` (the core's sessions: the log's
    session ids, else runs of events at most ``session_gap_minutes`` apart), ``events_per_active_day``,
    ``channels_used``, ``share_channel_<c>`` and ``share_stage_<s>`` (shares of the customer's
    events), ``tenure_days`` (first event to observation end), ``days_since_last_event``;

    purchases — ``orders``, ``order_days``, ``revenue``, ``avg_order_value``, and the lifetimes
    columns ``frequency``, ``recency``, ``T``, ``monetary_value`` (see the module doc), plus
    ``days_since_last_order`` (for RFM scores);

    journey — ``reached_goal`` (0/1), ``days_to_convert`` (first event to first order, days),
    ``support_contacts`` (events at ``support_touchpoints``: a list or "a, b"; default the core's
    support rule, ``cxlab.journeys.support_touchpoints``), ``tickets``, ``unresolved_tickets``
    (resolved is false, or not closed when the table has no resolved column);

    surveys — ``surveys`` (responses), ``nps_latest`` and ``nps_class`` (promoter 9–10, passive
    7–8, detractor 0–6, from the latest response with a score), ``csat_mean``, ``ces_mean`` and,
    when a sentiment scorer is given (``sentiment``: True for VADER, or a function mapping a
    Series of comments to scores in −1…1), ``sentiment_mean`` of the customer's comments.

    Events after the ``observation_end`` day are ignored. Returns a DataFrame indexed by nothing,
    with ``customer_id`` first; the list of share columns is in ``df.attrs``.
    """
    check_unit(unit)
    study = data.ensure_clean(study)
    end = end_of_observation(study, observation_end)
    end_day = day_number(end)
    support = support_rule(study, support_touchpoints)

    ev = window_filter(engine.events(study), None, end)
    channels = _channel_list(ev)
    stages = list(study.stages) + ["uncatalogued"]
    goal = ev.touchpoint.isin(list(study.goal_touchpoints))
    rev = ev.revenue.cast("float64").fill_null(0.0) if "revenue" in ev.columns else ibis.literal(0.0)
    # purchase history at the grain of calendar days (lifetimes' freq='D'): the core's definition
    per_order = order_history(ev, study.goal_touchpoints)
    # days_to_convert is a duration to the fraction of a second: epoch seconds, not rounded down
    ev = ev.mutate(_day=period_index(ev.timestamp, "day"), _t=ev.timestamp.epoch_seconds(), _goal=goal,
                   _rev=ibis.ifelse(goal, rev, 0.0),
                   _support=ev.touchpoint.isin(support) if support else ibis.literal(False))
    # only what the counts read goes through the journey window's sort (at 10M events every
    # column of the log carried through it was most of the stage's memory)
    ev = ev.select("customer_id", "timestamp", "seq", "channel", "stage", "_day", "_t", "_goal", "_rev", "_support",
                   *(["session_id"] if "session_id" in ev.columns else []))
    # no distinct counts over the log (per-customer hash sets of days, channels and session
    # names held 3.3 GB at 10M events): days and gap sessions are counted where they start, in
    # journey order (days never go back in it), channels from the per-channel counts below
    previous_day = ev._day.lag().over(journey_window(ev))
    ev = ev.mutate(_new_day=(previous_day.isnull() | (ev._day != previous_day)).cast("int64"))
    if "session_id" in ev.columns:  # the log's own session ids: names, counted as such
        ev = sessions(ev, session_gap_minutes=session_gap_minutes)
        session_count = ev.session.nunique()
    else:
        ev = ev.mutate(_new_session=session_starts(ev, session_gap_minutes=session_gap_minutes))
        session_count = ev._new_session.sum()

    aggs = {
        "events": ev.count(),
        "active_days": ev._new_day.sum(),
        "first_day": ev._day.min(),
        "last_day": ev._day.max(),
        "first_event_s": ev._t.min(),
        "first_order_s": ev._t.min(where=ev._goal),
        "orders": ev._goal.cast("int64").sum(),
        "revenue": ev._rev.sum(),
        "support_contacts": ev._support.cast("int64").sum(),
        "sessions": session_count,
    }
    for c in channels:
        aggs[f"n_channel_{_safe(c)}"] = (ev.channel == c).cast("int64").sum()
    for s in stages:
        aggs[f"n_stage_{_safe(s)}"] = (ev.stage == s).cast("int64").sum()
    per_event = ev.group_by("customer_id").aggregate(**aggs)
    used = [(per_event[f"n_channel_{_safe(c)}"] > 0).cast("int64") for c in channels]
    per_event = per_event.mutate(channels_used=sum(used[1:], used[0]) if used else ibis.literal(0, "int64"))
    order = ["customer_id", "events", "active_days", "channels_used"]  # the columns' order as before
    per_event = per_event.select(*order, *[c for c in per_event.columns if c not in order])
    cust = engine.table(study, "customers").select("customer_id")
    joined = cust.left_join(per_event, "customer_id").left_join(per_order, "customer_id")
    extra: list[tuple[ibis.Table, list[str]]] = []
    if "tickets" in study.tables:
        tk = window_filter(engine.table(study, "tickets"), None, end, column="opened_at")
        if "resolved" in tk.columns:
            unresolved = tk.resolved.notnull() & ~tk.resolved.fill_null(True)
        elif "closed_at" in tk.columns:
            unresolved = tk.closed_at.isnull()
        else:
            unresolved = None
        t_aggs = {"tickets": tk.count()}
        if unresolved is not None:
            t_aggs["unresolved_tickets"] = unresolved.cast("int64").sum()
        extra.append((tk.group_by("customer_id").aggregate(**t_aggs), list(t_aggs)))
    if "surveys" in study.tables:
        sv = window_filter(engine.table(study, "surveys"), None, end)
        s_aggs = {"surveys": sv.count()}
        for col in ("csat", "ces"):
            if col in sv.columns:
                s_aggs[f"{col}_mean"] = sv[col].cast("float64").mean()
        extra.append((sv.group_by("customer_id").aggregate(**s_aggs), list(s_aggs)))
        if "nps" in sv.columns:
            scored = sv.filter(sv.nps.notnull())
            latest = scored.group_by("customer_id").aggregate(
                nps_latest=scored.nps.argmax(scored.timestamp)
            )
            extra.append((latest, ["nps_latest"]))
    for tbl, _ in extra:
        joined = joined.left_join(tbl, "customer_id")
    history = [c for c in per_order.columns if c != "customer_id"]
    keep = ["customer_id"] + [c for c in per_event.columns if c != "customer_id"] + history + [
        c for _, cols in extra for c in cols]
    out = engine.to_pandas(joined.select(*keep))
    return _finish(out, study, channels, stages, end_day, unit, sentiment)


def _finish(out: pd.DataFrame, study: Study, channels: list[str], stages: list[str], end_day: int,
            unit: str, sentiment) -> pd.DataFrame:
    out["customer_id"] = out["customer_id"].astype(str)
    counts = ["events", "active_days", "channels_used", "orders", "support_contacts", "sessions", "order_days"]
    counts += [c for c in out.columns if c.startswith(("n_channel_", "n_stage_"))]
    counts += [c for c in ("tickets", "unresolved_tickets", "surveys") if c in out.columns]
    for c in counts:
        out[c] = out[c].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].astype(float).fillna(0.0)
    events = out["events"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        for c in channels:
            out[f"share_channel_{_safe(c)}"] = np.where(events > 0, out.pop(f"n_channel_{_safe(c)}") / events, 0.0)
        for s in stages:
            out[f"share_stage_{_safe(s)}"] = np.where(events > 0, out.pop(f"n_stage_{_safe(s)}") / events, 0.0)
        out["events_per_active_day"] = np.where(out.active_days > 0, events / out.active_days, 0.0)
        out["avg_order_value"] = np.where(out.orders > 0, out.revenue / out.orders, np.nan)
    seen = out["first_day"].notna()
    out["tenure_days"] = np.where(seen, end_day - out["first_day"].astype(float), np.nan)
    out["days_since_last_event"] = np.where(seen, end_day - out["last_day"].astype(float), np.nan)
    out["reached_goal"] = (out["orders"] > 0).astype("int64")
    out["days_to_convert"] = (out.pop("first_order_s").astype(float) - out.pop("first_event_s").astype(float)) / 86400.0

    summary = purchase_summary(out, end_day, unit)
    for col in summary.columns:
        out[col] = summary[col]
    out["days_since_last_order"] = end_day - out["last_order_day"].astype(float)
    out = out.drop(columns=["first_day", "last_day", "first_order_day", "last_order_day", "order_revenue",
                            "first_day_revenue"])

    if "nps_latest" in out.columns:
        nps = out["nps_latest"].astype(float)
        out["nps_latest"] = nps
        out["nps_class"] = pd.Series(
            np.select([nps >= 9, nps >= 7, nps >= 0], ["promoter", "passive", "detractor"], default=""),
            index=out.index,
        ).replace("", pd.NA)
    if sentiment and "surveys" in study.tables:
        out = out.merge(comment_sentiment(study, sentiment, end_day), on="customer_id", how="left")
    out = out.sort_values("customer_id", kind="stable").reset_index(drop=True)
    out.attrs["channels"] = [_safe(c) for c in channels]
    out.attrs["stages"] = [_safe(s) for s in stages]
    out.attrs["unit"] = unit
    out.attrs["observation_end"] = str(pd.Timestamp("1970-01-01") + pd.Timedelta(days=end_day))[:10]
    return out


def comment_sentiment(study: Study, sentiment=True, end_day: int | None = None) -> pd.DataFrame:
    """customer_id → ``sentiment_mean``: the mean sentiment (−1…1) of the customer's survey
    comments up to the ``end_day`` (days since 1970-01-01). ``sentiment``: True for the core's
    VADER scores, kept for the study and shared with the other stages
    (``cxlab.sentiment.comment_scores``), or a function of a Series of texts."""
    scored = comment_scores(study, None if sentiment is True else sentiment)
    if end_day is not None and len(scored):
        day = (pd.to_datetime(scored["timestamp"]) - pd.Timestamp("1970-01-01")).dt.days
        scored = scored[day <= end_day]
    return scored.groupby("customer_id", as_index=False).agg(sentiment_mean=("sentiment", "mean"))
