"""Friction signals: where in the journey customers fall through the cracks.

Every signal is computed in the engine (Ibis expressions on ``cxlab.engine.events``, so they run
on DuckDB and on PySpark alike); only per-touchpoint counts come back to pandas.

A customer's events are ordered by timestamp, ties broken by their row in the raw file (``seq``).
A *step* is the move from one event to the customer's next event. Steps from a goal event
(``goal_touchpoints``) are not counted (a goal ends a path), nor steps from a stage after the
goal's stage back into the path to the goal (from loyalty to awareness: a new cycle begins, not
a loop). The signals, per touchpoint (and summed per stage):

- **drop-off after the touchpoint**: the touchpoint is the customer's last event and the
  customer never reached a goal. ``dropoff_rate`` = such customers / customers who had the
  touchpoint at least once. This is the touchpoint inventory's definition and computation
  (``cxlab.inventory``, columns journey_ends and dropoff_rate), which also gives
  the conversion of customers who had the touchpoint against those who did not.
- **loop**: the next step goes back to an earlier stage of the catalog
  (a stage with a lower position in study.yaml ``stages``; uncatalogued events are ignored).
  Counted at the touchpoint the customer went back *from*. ``loop_rate`` = loops / events.
- **repeat within a session**: the touchpoint occurs again in the same session (its second,
  third … occurrence counts). Sessions are the core's (``cxlab.journeys.sessions``): the log's
  ``session_id`` where it has one; otherwise (and for events without one) a new session starts
  after ``session_gap_minutes`` (30) of inactivity of that customer. ``repeat_rate`` = repeats
  / events.
- **long wait before the next step**: the time from the touchpoint to the next step is long *for
  that touchpoint* — a loyalty e-mail is followed days later as a matter of course, a checkout
  within minutes, so one threshold for all would flag the slow touchpoints wholesale. Each
  touchpoint's waits are judged against their own typical spread: on the log of the wait (in
  seconds, at least 1), the threshold is ``median + z × 1.4826 × MAD`` with ``z`` the normal
  quantile of ``long_wait_quantile`` (0.9) — the 90th percentile of a log-normal fitted robustly
  to the touchpoint's waits. Median and MAD (median absolute deviation) ignore up to half the
  waits, so a touchpoint whose waits keep their usual spread has about 10% long waits, however
  long they are, and one with an excess of long waits (a stuck step) shows it. A touchpoint with
  fewer than ``long_wait_min_waits`` (30) waits, or with no spread (MAD 0), is judged against the
  ``long_wait_quantile`` of all waits in the log instead, and ``FrictionSignals.notes`` names it.
  ``long_wait_hours`` (per touchpoint: the threshold used) and ``long_wait_basis`` ('own' or
  'log-wide'); ``long_wait_rate`` = long waits / events with a next step; ``median_wait_hours``.
- **support contact within N days** (``repeat_contact_days``): the occurrence is followed, within
  N days, by a contact with support — an event at a support touchpoint or a ticket opened. For
  a support touchpoint itself this is a **repeat contact**. ``contact_rate`` = such occurrences
  / events.
- **tickets** (``ticket_signals``): per ticket category and channel, the share of tickets not
  resolved, and the share followed by another support contact within N days (repeat contacts).

Support touchpoints are named in study.yaml (``parameters.pain_points.support_touchpoints``);
when not named, the core's support rule picks them (``cxlab.journeys.support_touchpoints``:
the call-centre channel, or a name with support, chat, call, contact, complain, helpdesk or
hotline — not a help centre, which is self-service).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from .. import engine
from ..errors import ParameterError
from ..journeys import DAY, SESSION_GAP_MINUTES, seconds, sessions
from ..journeys import support_touchpoints as support_rule
from ..study import Study

__all__ = [
    "journey_steps",
    "contact_stream",
    "friction_by_touchpoint",
    "ticket_signals",
    "FrictionSignals",
    "friction_signals",
    "SIGNALS",
]


# signal -> (count column, rate column, words for people)
SIGNALS = {
    "dropoff": ("dropoffs", "dropoff_rate", "customers whose journey ends here without the goal"),
    "loop": ("loops", "loop_rate", "steps back to an earlier stage"),
    "repeat": ("repeats", "repeat_rate", "repeats of the touchpoint in the same session"),
    "long_wait": ("long_waits", "long_wait_rate", "unusually long waits before the next step"),
    "contact": ("contacts_after", "contact_rate", "support contacts within N days after"),
}


def _order(t):
    return [t.timestamp, t.seq]


def journey_steps(
    events: ibis.Table,
    goal_touchpoints: list[str],
    session_gap_minutes: float = SESSION_GAP_MINUTES,
    goal_stage_order: int | None = None,
    repeat_in_session: bool = True,
) -> ibis.Table:
    """The event log with, per event, what the friction signals need (an Ibis expression):

    is_goal; loop_after (the next step goes back to an earlier stage); wait_after (seconds to the
    next step, NULL when the event has no counted next step: the customer's last event, a goal,
    or a step from after the goal's stage (``goal_stage_order``) back into the path to it);
    session (the core's ``cxlab.journeys.sessions``: session_id, else the
    ``session_gap_minutes`` gap session); repeat_in_session (not the touchpoint's first
    occurrence in its session)."""
    if not goal_touchpoints:
        raise ParameterError("journey_steps needs the study's goal touchpoints")
    events = sessions(events, session_gap_minutes=session_gap_minutes)
    cust = ibis.window(group_by="customer_id", order_by=_order(events))
    t = events.mutate(
        _epoch=seconds(events.timestamp),
        is_goal=events.touchpoint.isin(list(goal_touchpoints)),
    )
    t = t.mutate(
        _next_epoch=t._epoch.lead().over(cust),
        _next_seq=t.seq.lead().over(cust),
        _next_stage_order=t.stage_order.lead().over(cust),
    )
    within = ~t.is_goal & t._next_seq.notnull()
    if goal_stage_order is not None:  # after-purchase stage -> funnel stage: a new cycle begins
        new_cycle = (t.stage_order > goal_stage_order) & t._next_stage_order.between(0, goal_stage_order)
        within = within & ~new_cycle.fill_null(False)
    t = t.mutate(
        loop_after=(
            within & (t.stage_order >= 0) & (t._next_stage_order >= 0)
            & (t._next_stage_order < t.stage_order)
        ).fill_null(False),
        wait_after=within.ifelse((t._next_epoch - t._epoch).cast("float64"), ibis.null("float64")),
    )
    if repeat_in_session:  # a second sort of the log: friction_by_touchpoint counts repeats without it
        in_session = ibis.window(group_by=[t.customer_id, t.session, t.touchpoint], order_by=_order(t))
        t = t.mutate(repeat_in_session=ibis.row_number().over(in_session) > 0)
    return t.drop("_epoch", "_next_epoch", "_next_seq", "_next_stage_order")


def contact_stream(
    events: ibis.Table, support: list[str], tickets: ibis.Table | None, days: float
) -> ibis.Table:
    """Events and tickets of each customer with ``contact_after``: the row is followed, more than
    0 seconds and at most ``days`` days later, by a support contact of the same customer (an
    event at a ``support`` touchpoint or a ticket opened). Times are compared in whole seconds.
    Ticket rows have ``source`` 'ticket' and their category, ticket_channel and resolved; event
    rows have ``source`` 'event' and their touchpoint."""
    e = events.select(
        customer_id=events.customer_id.cast("string"),
        timestamp=events.timestamp,
        source=ibis.literal("event"),
        touchpoint=events.touchpoint.cast("string"),
        category=ibis.null("string"),
        ticket_channel=ibis.null("string"),
        resolved=ibis.null("boolean"),
        is_contact=events.touchpoint.isin(list(support)) if support else ibis.literal(False),
    )
    parts = [e]
    if tickets is not None:
        cols = tickets.columns
        parts.append(tickets.select(
            customer_id=tickets.customer_id.cast("string"),
            timestamp=tickets.opened_at,
            source=ibis.literal("ticket"),
            touchpoint=ibis.null("string"),
            category=tickets.category.cast("string") if "category" in cols else ibis.null("string"),
            ticket_channel=tickets.channel.cast("string") if "channel" in cols else ibis.null("string"),
            resolved=tickets.resolved.cast("boolean") if "resolved" in cols else ibis.null("boolean"),
            is_contact=ibis.literal(True),
        ))
    s = ibis.union(*parts) if len(parts) > 1 else parts[0]
    s = s.mutate(_t=seconds(s.timestamp))
    ahead = ibis.window(group_by="customer_id", order_by=s._t, range=(1, int(round(days * DAY))))
    s = s.mutate(_n=s.is_contact.cast("int64").sum().over(ahead))
    s = s.mutate(contact_after=(s._n > 0).fill_null(False))
    return s.drop("_t", "_n")


def contacts_by_customer(stream: ibis.Table) -> pd.DataFrame:
    """Per customer and touchpoint of a ``contact_stream``'s events: ``events`` and
    ``contacts`` (those followed by a support contact)."""
    ev = stream.filter(stream.source == "event")
    return engine.to_pandas(ev.group_by(["customer_id", "touchpoint"]).aggregate(
        events=ev.count(), contacts=ev.contact_after.cast("int64").sum()))


OWN, LOG_WIDE = "own", "log-wide"
LONG_WAIT_MIN_WAITS = 30
MAD_TO_SD = 1.4826  # a normal distribution's standard deviation per unit of MAD


def _long_wait_threshold(steps: ibis.Table, quantile: float) -> float:
    """The ``quantile`` of all waits in the log, in seconds (NaN without waits)."""
    value = engine.to_pandas(steps.aggregate(q=steps.wait_after.quantile(quantile))).iloc[0, 0]
    return float(value) if value is not None and not pd.isna(value) else np.nan


def long_wait_thresholds(steps: ibis.Table, quantile: float, min_waits: int = LONG_WAIT_MIN_WAITS,
                         ) -> tuple[pd.DataFrame, float]:
    """Per touchpoint, the wait (seconds) above which a wait before the next step is long (see
    the module doc): ``touchpoint``, ``waits``, ``long_wait_seconds`` and ``long_wait_basis``
    ('own', or 'log-wide' for a touchpoint with fewer than ``min_waits`` waits or no spread).
    ``steps`` needs ``touchpoint`` and ``wait_after``. Returns (table, the log-wide threshold)."""
    overall = _long_wait_threshold(steps, quantile)
    w = steps.filter(steps.wait_after.notnull())
    w = w.mutate(log_wait=w.wait_after.clip(lower=1.0).ln())
    centre = w.group_by("touchpoint").aggregate(waits=w.count(), centre=w.log_wait.quantile(0.5))
    dev = w.join(centre, "touchpoint")
    spread = dev.group_by("touchpoint").aggregate(mad=(dev.log_wait - dev.centre).abs().quantile(0.5))
    t = engine.to_pandas(centre.join(spread, "touchpoint"))
    own = (t["waits"] >= min_waits) & (t["mad"] > 0)
    z = stats.norm.ppf(quantile)
    t["long_wait_seconds"] = np.where(own, np.exp(t["centre"] + z * MAD_TO_SD * t["mad"]), overall)
    t["long_wait_basis"] = np.where(own, OWN, LOG_WIDE)
    return t[["touchpoint", "waits", "long_wait_seconds", "long_wait_basis"]], overall


def friction_by_touchpoint(
    events: ibis.Table,
    goal_touchpoints: list[str],
    support: list[str] | None = None,
    tickets: ibis.Table | None = None,
    repeat_contact_days: float = 7.0,
    session_gap_minutes: float = SESSION_GAP_MINUTES,
    long_wait_quantile: float = 0.9,
    goal_stage_order: int | None = None,
    stream: ibis.Table | None = None,
    long_wait_min_waits: int = LONG_WAIT_MIN_WAITS,
) -> tuple[pd.DataFrame, float]:
    """Per touchpoint: events, customers and each friction signal (counts, customers and rates;
    see the module doc). Returns (table, the log-wide long-wait threshold in hours, used for
    touchpoints with fewer than ``long_wait_min_waits`` waits). ``stream``: the
    ``contact_stream`` of these events and tickets when the caller has it already."""
    if not 0 < long_wait_quantile < 1:
        raise ParameterError(f"long_wait_quantile must be between 0 and 1, got {long_wait_quantile}")
    if isinstance(long_wait_min_waits, bool) or not isinstance(long_wait_min_waits, int) or long_wait_min_waits < 2:
        raise ParameterError(f"long_wait_min_waits must be a whole number of at least 2, got {long_wait_min_waits!r}")
    if repeat_contact_days <= 0:
        raise ParameterError(f"repeat_contact_days must be positive, got {repeat_contact_days}")
    steps = journey_steps(events, goal_touchpoints, session_gap_minutes, goal_stage_order, repeat_in_session=False)
    # the windows over the whole log are computed once, then read by three aggregations
    with steps.select("customer_id", "touchpoint", "session", "loop_after", "wait_after").cache() as steps:
        limits, threshold = long_wait_thresholds(steps, long_wait_quantile, long_wait_min_waits)
        per_tp = steps
        if len(limits):  # each wait against its own touchpoint's threshold
            lim = ibis.memtable(limits[["touchpoint", "long_wait_seconds"]].astype({"long_wait_seconds": "float64"}))
            per_tp = steps.left_join(lim, "touchpoint").drop("touchpoint_right")
            long_wait = (per_tp.wait_after > per_tp.long_wait_seconds).fill_null(False)
        else:  # no wait anywhere: a column of False (a literal would aggregate to a scalar)
            long_wait = per_tp.wait_after.notnull() & ibis.literal(False)
        table = engine.to_pandas(per_tp.group_by("touchpoint").aggregate(
            events=per_tp.count(),
            customers=per_tp.customer_id.nunique(),
            loops=per_tp.loop_after.cast("int64").sum(),
            waits=per_tp.wait_after.count(),
            median_wait_seconds=per_tp.wait_after.quantile(0.5),
            long_waits=long_wait.cast("int64").sum(),
        ))
        # every occurrence of a touchpoint in a session after its first is a repeat: per
        # (customer, session, touchpoint) group of n events, n - 1 repeats
        groups = steps.group_by(["touchpoint", "customer_id", "session"]).aggregate(n=steps.count())
        repeats = engine.to_pandas(groups.group_by("touchpoint").aggregate(repeats=(groups.n - 1).sum()))
    table = table.merge(repeats, on="touchpoint", how="left")
    table = table.merge(limits[["touchpoint", "long_wait_seconds", "long_wait_basis"]], on="touchpoint", how="left")
    if stream is None:
        stream = contact_stream(events, support or [], tickets, repeat_contact_days)
    ev = stream.filter(stream.source == "event")
    contacts = engine.to_pandas(
        ev.group_by("touchpoint").aggregate(
            contacts_after=ev.contact_after.cast("int64").sum(),
        )
    )
    table = table.merge(contacts, on="touchpoint", how="left")
    counts = [c for c in table.columns if c not in ("touchpoint", "median_wait_seconds", "long_wait_seconds",
                                                   "long_wait_basis")]
    table[counts] = table[counts].fillna(0).astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        table["loop_rate"] = table.loops / table.events
        table["repeat_rate"] = table.repeats / table.events
        table["long_wait_rate"] = np.where(table.waits > 0, table.long_waits / table.waits.where(table.waits > 0), np.nan)
        table["contact_rate"] = table.contacts_after / table.events
    table["median_wait_hours"] = table.pop("median_wait_seconds").astype("float64") / 3600.0
    table["long_wait_hours"] = table.pop("long_wait_seconds").astype("float64") / 3600.0
    table["is_support"] = table.touchpoint.isin(support or [])
    return table, threshold / 3600.0 if not np.isnan(threshold) else np.nan


def ticket_signals(
    events: ibis.Table,
    tickets: ibis.Table,
    support: list[str] | None = None,
    repeat_contact_days: float = 7.0,
    by: str = "category",
    stream: ibis.Table | None = None,
) -> pd.DataFrame:
    """Per ticket ``by`` (category or ticket_channel): tickets, customers, unresolved tickets and
    their share, and repeat contacts (tickets followed by another support contact — ticket or
    support event — within ``repeat_contact_days`` days) and their share."""
    if by not in ("category", "ticket_channel"):
        raise ParameterError("ticket_signals: by must be 'category' or 'ticket_channel'")
    s = contact_stream(events, support or [], tickets, repeat_contact_days) if stream is None else stream
    t = s.filter(s.source == "ticket")
    unresolved = ~t.resolved.fill_null(False)
    out = engine.to_pandas(
        t.group_by(by).aggregate(
            tickets=t.count(),
            customers=t.customer_id.nunique(),
            unresolved=unresolved.cast("int64").sum(),
            unresolved_customers=t.customer_id.nunique(where=unresolved),
            repeat_contacts=t.contact_after.cast("int64").sum(),
        )
    )
    out[by] = out[by].fillna("(none)")
    out["unresolved_rate"] = out.unresolved / out.tickets
    out["repeat_contact_rate"] = out.repeat_contacts / out.tickets
    return out.sort_values("tickets", ascending=False).reset_index(drop=True)


@dataclass
class FrictionSignals:
    """Friction per touchpoint and per stage, and ticket signals (see the module doc).

    by_touchpoint: one row per touchpoint with stage, label, the counts and rates of each signal.
    by_stage: the same counts summed per stage (customers are counted once per stage).
    tickets: ticket signals by category (None without a tickets table).
    long_wait_hours: the log-wide long-wait threshold (the quantile of all waits), used for the
    touchpoints with too few waits of their own; each touchpoint's threshold is its
    ``long_wait_hours`` column. notes: which touchpoints use the log-wide threshold, and why.
    """

    by_touchpoint: pd.DataFrame
    by_stage: pd.DataFrame
    tickets: pd.DataFrame | None
    long_wait_hours: float
    parameters: dict
    notes: list[str] = field(default_factory=list)
    # per (customer_id, touchpoint): events and contacts_after, from the same contact stream;
    # kept only when asked (the register's bootstrap weighs customers one by one), never written
    by_customer: pd.DataFrame | None = None

    def long_wait_rule(self) -> str:
        """The long-wait rule in one sentence, for captions."""
        q = self.parameters.get("long_wait_quantile", 0.9)
        n = self.parameters.get("long_wait_min_waits", LONG_WAIT_MIN_WAITS)
        text = (f"A wait before the next step counts as long when it is longer than the touchpoint's own waits "
                f"usually are (the {q:.0%} point of their typical spread; touchpoints with fewer than {n} waits: "
                f"above {self.long_wait_hours:,.1f} hours, the {q:.0%} point of all waits).")
        return text

    def top(self, signal: str = "dropoff", n: int = 5, min_customers: int = 1) -> pd.DataFrame:
        """The ``n`` touchpoints with the highest rate of ``signal`` (dropoff, loop, repeat,
        long_wait, contact) among those with at least ``min_customers`` customers."""
        count, rate, _ = SIGNALS[signal]
        t = self.by_touchpoint[self.by_touchpoint.customers >= min_customers]
        return t.sort_values(rate, ascending=False).head(n)[["touchpoint", "stage", "customers", count, rate]]

    def summary(self) -> str:
        lines = [f"Friction over {len(self.by_touchpoint)} touchpoints. {self.long_wait_rule()}"]
        for signal, (count, rate, words) in SIGNALS.items():
            top = self.top(signal, 1)
            if len(top) and top[rate].iloc[0] > 0:
                r = top.iloc[0]
                lines.append(f"  highest {signal}: {r.touchpoint} ({r[rate]:.1%} — {words})")
        return "\n".join(lines + self.notes)

    def plot(self, ax=None, signals=("dropoff", "loop", "repeat", "long_wait", "contact"), min_customers: int = 1):
        """A heat map of each signal's rate by touchpoint (rows in journey order)."""
        import matplotlib.pyplot as plt

        t = self.by_touchpoint[self.by_touchpoint.customers >= min_customers]
        t = t.sort_values(["stage_order", "touchpoint"])
        cols = [SIGNALS[s][1] for s in signals]
        values = t[cols].to_numpy(dtype=float)
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 0.32 * len(t) + 1.5))
        if t.empty:  # a small study: no touchpoint reaches min_customers
            ax.text(0.5, 0.5, f"No touchpoint is reached by {min_customers:,} or more customers.", ha="center",
                    va="center", transform=ax.transAxes)
            ax.set_axis_off()
            return ax
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a signal missing for every touchpoint: all-NaN
            top = np.nanmax(values, axis=0)
        scaled = values / np.where(top > 0, top, 1)
        ax.imshow(np.nan_to_num(scaled), aspect="auto", cmap="Reds", vmin=0, vmax=1)
        ax.set_yticks(range(len(t)))
        names = t["label"] if "label" in t.columns else t.touchpoint  # the catalog's words, not the log's ids
        ax.set_yticklabels([f"{name} ({st})" for name, st in zip(names, t.stage)], fontsize=8)
        ax.set_xticks(range(len(cols)))
        ax.set_xticklabels([s.replace("_", " ") for s in signals], fontsize=9)
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                if not np.isnan(values[i, j]):
                    ax.text(j, i, f"{values[i, j]:.0%}", ha="center", va="center", fontsize=7,
                            color="white" if scaled[i, j] > 0.6 else "black")
        ax.grid(False)
        return ax


def _goal_stage_order(study: Study) -> int | None:
    orders = study.catalog.loc[study.catalog.touchpoint.isin(study.goal_touchpoints), "stage_order"]
    orders = orders[orders >= 0]
    return int(orders.max()) if len(orders) else None


def _by_stage(by_tp: pd.DataFrame, events: ibis.Table, study: Study) -> pd.DataFrame:
    reach = engine.to_pandas(events.group_by("stage").aggregate(stage_customers=events.customer_id.nunique()))
    counts = ["events", "dropoffs", "loops", "repeats", "waits", "long_waits", "contacts_after"]
    out = by_tp.groupby("stage", as_index=False)[counts].sum().merge(reach, on="stage", how="left")
    out = out.rename(columns={"stage_customers": "customers"})
    order = {s: i for i, s in enumerate(study.stages)}
    out["stage_order"] = out.stage.map(order).fillna(len(order)).astype(int)
    out["dropoff_rate"] = out.dropoffs / out.customers
    out["loop_rate"] = out.loops / out.events
    out["repeat_rate"] = out.repeats / out.events
    out["long_wait_rate"] = out.long_waits / out.waits.where(out.waits > 0)
    out["contact_rate"] = out.contacts_after / out.events
    return out.sort_values("stage_order").reset_index(drop=True)


def friction_signals(
    study: Study | str | os.PathLike,
    *,
    repeat_contact_days: float = 7.0,
    session_gap_minutes: float = SESSION_GAP_MINUTES,
    long_wait_quantile: float = 0.9,
    support_touchpoints: str | list[str] | None = None,
    long_wait_min_waits: int = LONG_WAIT_MIN_WAITS,
    by_customer: bool = False,
) -> FrictionSignals:
    """All friction signals of a study, per touchpoint and per stage (see the module doc).
    ``support_touchpoints``: the touchpoints that are contacts with support (a list or "a, b";
    default: the core's support rule, ``cxlab.journeys.support_touchpoints``);
    ``long_wait_min_waits``: the waits a touchpoint needs to be judged by its own waits;
    ``by_customer``: keep the events and contacts per customer and touchpoint as well
    (``FrictionSignals.by_customer``)."""
    from .. import data
    from ..inventory import inventory

    study = data.ensure_clean(study)
    events = engine.events(study)
    tickets = engine.table(study, "tickets") if "tickets" in study.tables else None
    support = support_rule(study, support_touchpoints)
    # the contact stream (a window over events and tickets) is read by the touchpoint and the
    # ticket signals: computed once
    stream = contact_stream(events, support, tickets, repeat_contact_days)
    stream = stream.select("source", "touchpoint", "customer_id", "category", "ticket_channel", "resolved",
                           "contact_after").cache()
    try:
        by_tp, threshold = friction_by_touchpoint(
            events, study.goal_touchpoints, support, tickets, repeat_contact_days, session_gap_minutes,
            long_wait_quantile, _goal_stage_order(study), stream=stream, long_wait_min_waits=long_wait_min_waits,
        )
        ticket_table = (
            ticket_signals(events, tickets, support, repeat_contact_days, stream=stream)
            if tickets is not None else None
        )
        per_customer = contacts_by_customer(stream) if by_customer else None
    finally:
        stream.release()
    # drop-off and conversion of touched/untouched customers: the touchpoint inventory's
    # definitions (cxlab.touchpoints), not a second implementation
    inv = inventory(study).table
    inv = inv[inv.status != "never seen"].rename(columns={"journey_ends": "dropoffs"})
    keep = ["touchpoint", "dropoffs", "dropoff_rate", "reach", "conv_touched", "conv_untouched",
            "conv_difference", "difference_ci_low", "difference_ci_high"]
    by_tp = by_tp.merge(inv[keep], on="touchpoint", how="left")
    by_tp["dropoffs"] = by_tp["dropoffs"].fillna(0).astype("int64")
    cat = study.catalog[["touchpoint", "stage", "stage_order", "label", "channel"]]
    by_tp = by_tp.merge(cat, on="touchpoint", how="left")
    by_tp["stage"] = by_tp["stage"].fillna("uncatalogued")
    by_tp["stage_order"] = by_tp["stage_order"].fillna(-1).astype(int)
    by_tp["label"] = by_tp["label"].fillna(by_tp["touchpoint"])
    by_tp["is_goal"] = by_tp.touchpoint.isin(study.goal_touchpoints)
    first = ["touchpoint", "label", "stage", "stage_order", "channel", "is_goal", "is_support",
             "events", "customers", "reach", "dropoffs", "dropoff_rate", "loops", "loop_rate",
             "repeats", "repeat_rate", "waits", "median_wait_hours", "long_wait_hours", "long_wait_basis",
             "long_waits", "long_wait_rate", "contacts_after", "contact_rate"]
    by_tp = by_tp[first + [c for c in by_tp.columns if c not in first]]
    by_tp = by_tp.sort_values(["stage_order", "touchpoint"]).reset_index(drop=True)
    by_stage = _by_stage(by_tp, events, study)
    params = {"repeat_contact_days": repeat_contact_days, "session_gap_minutes": session_gap_minutes,
              "long_wait_quantile": long_wait_quantile, "long_wait_min_waits": long_wait_min_waits,
              "support_touchpoints": support}
    hours = threshold  # friction_by_touchpoint gives hours
    wide = by_tp.loc[by_tp["long_wait_basis"] == LOG_WIDE, "touchpoint"].astype(str).tolist()
    notes = []
    if wide:
        notes.append(f"Long waits at {', '.join(wide)} are judged against all waits in the log (more than "
                     f"{hours:,.1f} h): fewer than {long_wait_min_waits} waits of their own, or no spread in them.")
    return FrictionSignals(by_tp, by_stage, ticket_table, hours, params, notes, per_customer)
