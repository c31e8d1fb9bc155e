"""Unit tables of the KPIs: one row per thing a KPI averages over, built as Ibis expressions.

Each builder takes a context (study, window, period, options) and returns an Ibis table with
three public columns:

- ``customer_id``: the customer the unit belongs to;
- ``period_index`` (``PERIOD_INDEX``): the unit's calendar period at the requested frequency as
  an integer (``cxlab.periods.period_index``: consecutive periods differ by 1; 0 when no
  frequency is asked for); ``cxlab.periods.period_start`` turns it into the period's first day;
- ``y``: the unit's outcome (0/1 for a rate, an amount or score for a mean, +1/0/−1 for NPS).

The window decides which units count, by the time that places each unit (first touch for
conversion, the middle of the month for retention, the answer's time for a survey KPI …).

How a KPI is computed beyond the window is set by options passed with the call, never read from
another stage's parameters: ``window_days`` (conversion; absent: the study's
``conversion_window_days``, study.yaml top level, 30 unless the study sets another; None: no
window), ``repeat_horizon_days`` (repeat purchase, 90 unless the call gives another),
``retention_period`` (month) and ``activity`` ('any' or 'purchase') for retention and churn,
``touchpoint`` / ``stage`` to restrict survey KPIs.

Equal follow-up. A KPI compares like with like across periods only when every unit, early or
late, is watched for the same time after the moment that places it, and when no unit is chosen
for what it does later. So each outcome is observed over a fixed follow-up — conversion the
conversion window after the first touch, a repeat purchase the repeat horizon after the first
order, retention the next period, revenue the customer-month itself — and a unit whose
follow-up runs past the end of the log is left out, not counted as a failure.
``complete_until`` gives the last day whose units are all fully followed, ``censoring_note``
says in words which units are left out.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import ibis
import pandas as pd

from .. import data, engine
from ..errors import ParameterError, StudyError
from ..study import Study
from ..journeys import purchase_filter
from ..periods import check_freq, period_index, period_index_of, period_start, window_filter

__all__ = ["data_end", "PERIOD_INDEX", "conversion_window_days", "window_phrase", "kpi_settings",
           "REPEAT_HORIZON_DAYS", "repeat_horizon_days", "repeat_phrase", "complete_until", "censoring_note"]

#: The unit tables' column holding the unit's period as an integer (see the module docstring).
PERIOD_INDEX = "period_index"

#: Days after a customer's first order in which a second order counts as a repeat purchase.
REPEAT_HORIZON_DAYS = 90


# --------------------------------------------------------------------------- context
@dataclass
class _Ctx:
    study: Study
    start: object
    end: object
    freq: str | None
    options: dict
    _data_end: pd.Timestamp | None = None

    def option(self, name: str, default):
        """An option as given in the call, else ``default``."""
        value = self.options.get(name)
        return default if value is None else value

    @property
    def data_end(self) -> pd.Timestamp:
        if self._data_end is None:
            self._data_end = data_end(self.study)
        return self._data_end

    @property
    def observed_until(self) -> pd.Timestamp:
        """The log is taken to cover whole days: observed until the end of its last event's day."""
        return self.data_end.normalize() + pd.Timedelta(days=1)

    def events(self) -> ibis.Table:
        return engine.events(self.study)

    def place(self, units: ibis.Table, when: str) -> ibis.Table:
        """Keep the units whose time falls in the window; give each its period."""
        units = window_filter(units, self.start, self.end, column=when)
        bucket = period_index(units[when], self.freq) if self.freq else ibis.literal(0, type="int64")
        return units.mutate(**{PERIOD_INDEX: bucket})

    def bucketed_events(self) -> ibis.Table:
        """Events in the window with their period, for KPIs that sum over a window."""
        ev = window_filter(self.events(), self.start, self.end)
        bucket = period_index(ev.timestamp, self.freq) if self.freq else ibis.literal(0, type="int64")
        return ev.mutate(**{PERIOD_INDEX: bucket})



# data_end's answers, per clean event log: a study's KPIs, their windows, trends and censoring
# notes ask for it dozens of times per stage, each time the same query
_DATA_ENDS: dict[tuple, pd.Timestamp] = {}


def data_end(study: Study | str | os.PathLike) -> pd.Timestamp:
    """The time of the last event in the log (where censoring starts).

    Computed once per process for each state of the clean event log: keyed, like every cache of
    what is derived from the clean tables (``engine.cached``), by the fingerprint of the inputs
    they were made from (``data.clean_fingerprint``), and by the clean events file itself (its
    place, inode, size and modification time). Clean tables made again from changed inputs, or
    the file rewritten, give another key and so a new query, never the value of the log before."""
    study = data.ensure_clean(study)
    key = _data_end_key(study)
    if key is not None and key in _DATA_ENDS:
        return _DATA_ENDS[key]
    ev = engine.events(study)
    end = pd.Timestamp(engine.to_pandas(ev.aggregate(t=ev.timestamp.max()))["t"].iloc[0])
    if key is not None and _data_end_key(study) == key:  # the log was not replaced while it was read
        data.remember(_DATA_ENDS, key, end)
    return end


def _data_end_key(study: Study) -> tuple | None:
    """What ``data_end`` is remembered by: the backend, the clean events file, the fingerprint of
    the inputs the clean tables were made from, the file's state (``data.file_state``); None
    (not remembered) without clean.json or the file."""
    path = data.clean_path(study, "events")
    fingerprint = data.clean_fingerprint(study)
    state = data.file_state(path)
    if state is None or not fingerprint:
        return None
    return engine.backend_name(study), str(path), fingerprint, *state


def conversion_window_days(study: Study, **options) -> int | float | None:
    """The conversion window, in days, of the conversion KPI: ``window_days`` when the call gives
    it (None: no window, any goal touchpoint after the first touch counts), else the study's
    ``conversion_window_days`` (study.yaml, top level; 30 unless the study sets another, null
    for no window). Whole days come back as an int."""
    days = options["window_days"] if "window_days" in options else study.conversion_window_days
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, (int, float)) or days <= 0:
        raise ParameterError(f"The conversion window must be a positive number of days, not {days!r}.")
    return int(days) if float(days).is_integer() else float(days)


def window_phrase(days: int | float | None) -> str:
    """The conversion window in words: 'within 30 days of the first touch', or 'at any time
    after the first touch' without a window."""
    if days is None:
        return "at any time after the first touch (no conversion window)"
    return f"within {days:g} day{'' if days == 1 else 's'} of the first touch"


def repeat_horizon_days(**options) -> int | float:
    """The follow-up of the repeat purchase KPI, in days after the first order:
    ``repeat_horizon_days`` when the call gives it, else 90 (``REPEAT_HORIZON_DAYS``)."""
    days = options.get("repeat_horizon_days")
    days = REPEAT_HORIZON_DAYS if days is None else days
    if isinstance(days, bool) or not isinstance(days, (int, float)) or days <= 0:
        raise ParameterError(f"The repeat purchase horizon must be a positive number of days, not {days!r}.")
    return int(days) if float(days).is_integer() else float(days)


def repeat_phrase(days: int | float) -> str:
    """The repeat purchase horizon in words: 'within 90 days of the first order'."""
    return f"within {days:g} day{'' if days == 1 else 's'} of the first order"


def kpi_settings(study: Study, kpi, **options) -> dict:
    """The settings that define how ``kpi`` is computed for this study with these options, as
    plain values to freeze into a record or a registration and pass back as options: the
    conversion window for conversion, the horizon for repeat purchase, the retention period and
    activity for retention and churn, nothing for the others."""
    name = getattr(kpi, "name", kpi)
    ctx = _Ctx(study, None, None, None, dict(options))
    if name == "conversion_rate":
        return {"window_days": conversion_window_days(study, **options)}
    if name == "repeat_purchase_rate":
        return {"repeat_horizon_days": repeat_horizon_days(**options)}
    if name in ("retention_rate", "churn_rate"):
        return {"retention_period": ctx.option("retention_period", "month"),
                "activity": ctx.option("activity", "any")}
    return {}


def _last_day_of_period(index: int, period: str) -> pd.Timestamp:
    return pd.Timestamp(period_start(index + 1, period)) - pd.Timedelta(days=1)


def complete_until(study: Study | str | os.PathLike, kpi, **options) -> pd.Timestamp:
    """The last day whose units of ``kpi`` are all fully followed in the log (a window ending
    later holds no more units, only fewer complete ones): the last day of the log, less the
    conversion window (conversion) or the repeat horizon (repeat purchase); the last day of the
    last period whose next period is complete (retention, churn); the last day of the last
    complete month (revenue per customer). Survey KPIs and order values need no follow-up."""
    study = Study.load(study)
    name = getattr(kpi, "name", kpi)
    end = data_end(study)
    observed_until = end.normalize() + pd.Timedelta(days=1)

    def less(days):  # the last day D with D + 1 day + follow-up <= observed_until
        return (observed_until - pd.Timedelta(days=1) - pd.Timedelta(days=float(days))).floor("D")

    if name == "conversion_rate":
        days = conversion_window_days(study, **options)
        return end.normalize() if days is None else less(days)
    if name == "repeat_purchase_rate":
        return less(repeat_horizon_days(**options))
    if name in ("retention_rate", "churn_rate"):
        period = options.get("retention_period") or "month"
        last_complete = period_index_of(observed_until, period) - 1
        return _last_day_of_period(last_complete - 1, period)
    if name == "revenue_per_customer":
        return _last_day_of_period(period_index_of(observed_until, "month") - 1, "month")
    return end.normalize()


def censoring_note(study: Study | str | os.PathLike, kpi, **options) -> str:
    """Which units of ``kpi`` the end of the log leaves out, in one sentence ('' when none is
    left out), so a page can say why its latest periods hold fewer or no units."""
    study = Study.load(study)
    name = getattr(kpi, "name", kpi)
    last = complete_until(study, kpi, **options)
    end = data_end(study).normalize()
    day = lambda t: f"{t:%-d %b %Y}"  # noqa: E731
    if name == "conversion_rate":
        days = conversion_window_days(study, **options)
        if days is None:
            return ("Without a conversion window, earlier customers have had longer to convert than later ones: "
                    "conversion in different periods is not measured over the same follow-up.")
        return (f"Customers first seen after {day(last)} are left out: their {days:g}-day conversion window is "
                f"not over by the end of the data ({day(end)}).")
    if name == "repeat_purchase_rate":
        days = repeat_horizon_days(**options)
        return (f"Customers whose first order is after {day(last)} are left out: their {days:g} days of "
                f"follow-up are not over by the end of the data ({day(end)}).")
    if name in ("retention_rate", "churn_rate"):
        period = options.get("retention_period") or "month"
        if last >= end:
            return ""
        return (f"Customers active after {day(last)} are left out: the {period} after theirs is not complete by "
                f"the end of the data ({day(end)}).")
    if name == "revenue_per_customer" and last < end:
        return f"The month after {day(last)} is left out: it is not complete by the end of the data ({day(end)})."
    return ""


def _window_interval(days: int | float) -> ibis.Value:
    if float(days).is_integer():
        return ibis.interval(days=int(days))
    return ibis.interval(seconds=round(days * 86400))


# --------------------------------------------------------------------------- unit tables
def _units_conversion(ctx: _Ctx) -> ibis.Table:
    days = conversion_window_days(ctx.study, **ctx.options)

    def per_customer() -> ibis.Table:
        ev = ctx.events()
        first = ev.group_by("customer_id").aggregate(first_touch=ev.timestamp.min())
        goals = ev.filter(purchase_filter(ev, ctx.study))
        joined = first.left_join(goals.select("customer_id", goal_ts="timestamp"), "customer_id")
        within = joined.goal_ts.notnull()
        if days is not None:
            within = within & (joined.goal_ts <= joined.first_touch + _window_interval(days))
        return joined.group_by(["customer_id", "first_touch"]).aggregate(y=within.cast("int64").max())

    # one row per customer whatever the window: built once, then windowed many times (the
    # objectives, their trends and breakdowns, the KPI table)
    goals = tuple(ctx.study.goal_touchpoints)
    per = engine.cached(ctx.study, ("conversion", days, goals), per_customer)
    # censoring: the whole window after the first touch must lie inside the log (without a
    # window nobody is censored: a goal at any later time counts)
    if days is not None:
        per = per.filter(per.first_touch + _window_interval(days) <= ctx.observed_until.to_pydatetime())
    return ctx.place(per.mutate(y=per.y.cast("float64")), "first_touch")


def _orders(ctx: _Ctx) -> ibis.Table:
    ev = ctx.bucketed_events()
    return ev.filter(purchase_filter(ev, ctx.study))


def _units_repeat_purchase(ctx: _Ctx) -> ibis.Table:
    """A customer per first order (the first goal-touchpoint event in the log), placed at that
    order; y = 1 when a later order follows within the horizon. Every customer is followed for
    the same horizon, whatever the period: a customer is never chosen for buying later, and one
    whose horizon runs past the end of the log is left out (not counted as 'no repeat')."""
    days = repeat_horizon_days(**ctx.options)

    def per_customer() -> ibis.Table:
        ev = ctx.events()
        orders = ev.filter(purchase_filter(ev, ctx.study)).select("customer_id", "timestamp")
        first = orders.group_by("customer_id").aggregate(first_order=orders.timestamp.min())
        later = orders.select(_cid="customer_id", later_ts="timestamp")
        joined = first.left_join(later, [first.customer_id == later._cid,
                                         later.later_ts > first.first_order,
                                         later.later_ts <= first.first_order + _window_interval(days)])
        return joined.group_by(["customer_id", "first_order"]).aggregate(
            y=joined.later_ts.notnull().cast("int64").max())

    per = engine.cached(ctx.study, ("repeat", days, tuple(ctx.study.goal_touchpoints)), per_customer)
    per = per.filter(per.first_order + _window_interval(days) <= ctx.observed_until.to_pydatetime())
    return ctx.place(per.mutate(y=per.y.cast("float64")), "first_order")


def _activity(ctx: _Ctx) -> ibis.Table:
    """Distinct (customer, period index) pairs of activity at the retention period."""
    period = ctx.option("retention_period", "month")
    check_freq(period)
    activity = ctx.option("activity", "any")
    if activity not in ("any", "purchase"):
        raise ParameterError(f"activity '{activity}' must be 'any' (any touchpoint) or 'purchase'")

    def pairs() -> ibis.Table:
        ev = ctx.events()
        if activity == "purchase":
            ev = ev.filter(purchase_filter(ev, ctx.study))
        return ev.mutate(p=period_index(ev.timestamp, period)).select("customer_id", "p").distinct()

    key = ("activity", period, activity, tuple(ctx.study.goal_touchpoints))
    return engine.cached(ctx.study, key, pairs), period


def _units_retention(ctx: _Ctx) -> ibis.Table:
    act, period = _activity(ctx)
    nxt = act.select(customer_id=act.customer_id, p_next=act.p - 1, flag=ibis.literal(1, type="int64"))
    pairs = act.left_join(nxt, [act.customer_id == nxt.customer_id, act.p == nxt.p_next])
    pairs = pairs.select(customer_id=act.customer_id, p=act.p, y=pairs.flag.fill_null(0).cast("float64"))
    # censoring: period n + 1 must be complete in the log
    last_complete = period_index_of(ctx.data_end.normalize() + pd.Timedelta(days=1), period) - 1
    pairs = pairs.filter(pairs.p + 1 <= last_complete)
    # a period belongs to the window that holds its middle (a month its 15th, a week its Thursday)
    middle = _period_start_expr(pairs.p, period) + ibis.interval(days=_MIDDLE_DAYS[period])
    return ctx.place(pairs.mutate(period_middle=middle), "period_middle")


_MIDDLE_DAYS = {"day": 0, "week": 3, "month": 14, "quarter": 45}


def _period_start_expr(p: ibis.Value, period: str) -> ibis.Value:
    """The start of integer period p as a timestamp, in the engine."""
    epoch = ibis.timestamp("1970-01-01 00:00:00")
    if period == "day":
        return epoch + p.as_interval("D")
    if period == "week":
        return epoch + (p * 7 - 3).as_interval("D")
    months = p if period == "month" else p * 3
    return ibis.date((months // 12).cast("int32"), (months % 12 + 1).cast("int32"), 1).cast("timestamp")


def _require_revenue(ctx: _Ctx, ev: ibis.Table) -> None:
    """A log without a revenue column has no revenue KPIs (not a revenue of 0)."""
    if "revenue" not in ev.columns:
        raise StudyError(f"Study '{ctx.study.name}' has no revenue column in its events: "
                         "average order value and revenue per customer need one.")


def _units_revenue_per_customer(ctx: _Ctx) -> ibis.Table:
    """A customer-month per month in which the customer did anything, y = the revenue of that
    month (0 without an order): every unit is one whole month, so a quarter's value and a
    month's are the same quantity and windows of any length compare. A month belongs to the
    window that holds its 15th; the month the log ends in counts only once complete."""
    _require_revenue(ctx, ctx.events())

    def per_month() -> ibis.Table:
        ev = ctx.events()
        ev = ev.mutate(p=period_index(ev.timestamp, "month"), _r=ev.revenue.fill_null(0.0).cast("float64"))
        return ev.group_by(["customer_id", "p"]).aggregate(y=lambda t: t._r.sum())

    per = engine.cached(ctx.study, ("revenue_month",), per_month)
    last_complete = period_index_of(ctx.observed_until, "month") - 1
    per = per.filter(per.p <= last_complete)
    middle = _period_start_expr(per.p, "month") + ibis.interval(days=_MIDDLE_DAYS["month"])
    return ctx.place(per.mutate(month_middle=middle), "month_middle")


def _units_order_value(ctx: _Ctx) -> ibis.Table:
    orders = _orders(ctx)
    _require_revenue(ctx, orders)
    orders = orders.filter(orders.revenue.notnull())
    return orders.select("customer_id", PERIOD_INDEX, y=orders.revenue.cast("float64"))


def _surveys(ctx: _Ctx, column: str) -> ibis.Table:
    study = ctx.study
    if "surveys" not in study.tables:
        raise StudyError(f"Study '{study.name}' has no surveys table (study.yaml, tables.surveys); "
                         f"'{column}' KPIs need one.")
    s = engine.table(study, "surveys")
    if column not in s.columns:
        raise StudyError(f"The surveys of study '{study.name}' have no '{column}' column.")
    s = s.filter(s[column].notnull())
    for key in ("touchpoint", "stage"):
        value = ctx.options.get(key)
        if value is not None:
            if key not in s.columns:
                raise ParameterError(f"The surveys have no '{key}' column to filter on.")
            values = [value] if isinstance(value, str) else list(value)
            s = s.filter(s[key].isin(values))
    return ctx.place(s, "timestamp")


def _units_nps(ctx: _Ctx) -> ibis.Table:
    s = _surveys(ctx, "nps")
    y = ibis.cases((s.nps >= 9, 1.0), (s.nps <= 6, -1.0), else_=0.0)
    return s.select("customer_id", PERIOD_INDEX, y=y)


def _units_csat_top2(ctx: _Ctx) -> ibis.Table:
    s = _surveys(ctx, "csat")
    return s.select("customer_id", PERIOD_INDEX, y=(s.csat >= 4).cast("float64"))


def _units_csat_mean(ctx: _Ctx) -> ibis.Table:
    s = _surveys(ctx, "csat")
    return s.select("customer_id", PERIOD_INDEX, y=s.csat.cast("float64"))


def _units_ces_mean(ctx: _Ctx) -> ibis.Table:
    s = _surveys(ctx, "ces")
    return s.select("customer_id", PERIOD_INDEX, y=s.ces.cast("float64"))
