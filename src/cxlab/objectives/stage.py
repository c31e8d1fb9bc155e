"""The objectives stage in one call: ``analyze(study, **parameters) -> ObjectivesStage``.

It computes everything the objectives page shows, once: the KPI table over the whole log, the
objectives against their targets, each objective's KPI trend and its breakdown by customer
attribute, retention by cohort (first-time and recurring) and the lifecycle of the active base,
historical and predicted customer value, and the registration of the hypotheses the impact stage
tests. ``write()`` writes the stage's outputs (kpis, objectives, clv, hypotheses) and its record.

Every part runs on what the study has: without objectives there are no targets, trends or
breakdowns; without repeat buyers with revenue no lifetime value is predicted; without a complete
period no cohort retention. Such a part is None and ``skipped`` (and the record's notes) say why.

The conversion window of every conversion KPI here is the study's (study.yaml
``conversion_window_days``, 30 days unless the study sets another) unless the call gives one;
the record's parameters state the window actually used. The repeat purchase KPI follows each new
buyer for ``repeat_horizon_days`` (90) after the first order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd

from .. import data
from ..errors import DataError, ParameterError
from ..kpis import conversion_window_days as resolve_window
from ..kpis import KPIS, censoring_note, format_value, kpi_table, repeat_phrase, window_phrase
from ..metrics import mark, whole_log
from ..periods import check_freq
from ..stages import StageResult, not_computed, stage_analysis
from ..study import Study
from ..units import fmt_money
from .clv import CLVResult, clv, historical_value, log_days, value_by_segment
from .cohorts import Lifecycle, RetentionTable, lifecycle, retention_table
from .hypotheses import register_hypotheses
from .targets import KPIBreakdown, KPITrend, ObjectivesResult, kpi_breakdown, kpi_trend, objectives_table

__all__ = ["ObjectivesStage", "analyze"]


@dataclass
class ObjectivesStage(StageResult):
    """What the objectives stage computed for one study (see the module docstring).

    objectives: the objectives table with its Estimates (None: the study defines none);
    kpis: every KPI over the whole log; conversion_window: the window (days, None = no window)
    the conversion KPIs used; trends: objective id -> its KPI per ``trend_freq``; breakdowns:
    (objective id, attribute) -> its KPI in the current period per value of the attribute;
    retention / recurring: first-time and recurring cohort retention; lifecycle: states of the
    active base; history: revenue per buyer so far; value: predicted CLV (None when it cannot
    be fitted); value_by: attribute -> predicted value per group; registration: the
    pre-registered hypotheses; skipped: part -> why it is missing."""

    stage: ClassVar[str] = "objectives"
    objectives: ObjectivesResult | None = None
    kpis: pd.DataFrame = field(default_factory=pd.DataFrame)
    conversion_window: float | None = None
    repeat_horizon: float = 90
    trend_freq: str = "month"
    trends: dict[str, KPITrend] = field(default_factory=dict)
    attributes: list[str] = field(default_factory=list)
    breakdowns: dict[tuple[str, str], KPIBreakdown] = field(default_factory=dict)
    retention: RetentionTable | None = None
    recurring: RetentionTable | None = None
    lifecycle: Lifecycle | None = None
    history: pd.DataFrame | None = None
    value: CLVResult | None = None
    value_by: dict[str, pd.DataFrame] = field(default_factory=dict)
    clv_months: int = 12
    registration: dict = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ the record
    def summary(self) -> str:
        if self.objectives is None:
            return self.skipped.get("objectives", "The study defines no objectives.")
        return self.objectives.summary()

    def headlines(self) -> list[str]:
        return [self.summary()] + (self.objectives.headlines() if self.objectives is not None else [])

    def glance(self) -> list[str]:
        return [self.summary()]

    def metrics(self) -> dict[str, Any]:
        return self.objectives.metrics() if self.objectives is not None else {}

    def tables(self) -> dict[str, Any]:
        return {
            "kpis": self.kpis,
            "objectives": None if self.objectives is None else self.objectives.table,
            "clv": None if self.value is None else self.value.customers,
            "hypotheses": self.registration,
        }

    def record_extra(self) -> dict[str, Any]:
        return {"hypotheses": len(self.registration.get("hypotheses", []))}

    # ------------------------------------------------------------------ for the page
    def note(self, *parts: str) -> str:
        """Why the first of ``parts`` that is missing is missing ('' when none is)."""
        return next((self.skipped[p] for p in parts if p in self.skipped), "")

    @property
    def rows(self) -> pd.DataFrame:
        """The objectives table (empty without objectives)."""
        return self.objectives.table if self.objectives is not None else pd.DataFrame()

    def window_text(self) -> str:
        """The conversion window the KPIs used, in words: 'conversion within 30 days of the first touch'."""
        return "conversion " + window_phrase(self.conversion_window)

    def kpi_display(self) -> pd.DataFrame:
        """The KPI table for the page: title, definition, value, interval, n, direction."""
        k = self.kpis
        whole = whole_log(self.study)  # the period of every value here, marked as such (cxlab.metrics)
        shown = k.assign(
            value=[mark(n, v, period=whole) for n, v in zip(k.kpi, k.estimate)],
            interval=[f"{format_value(n, lo)} to {format_value(n, hi)}" for n, lo, hi in zip(k.kpi, k.ci_low, k.ci_high)],
        )
        return shown[["title", "definition", "value", "interval", "n", "direction"]]

    def kpi_caption(self) -> str:
        left_out = [censoring_note(self.study, k, window_days=self.conversion_window,
                                   repeat_horizon_days=self.repeat_horizon) for k in ("conversion_rate", "repeat_purchase_rate")]
        return (f"KPI definitions and their values over the whole log, {whole_log(self.study).words} (95% interval; "
                "n = customers, customer-months, "
                f"orders or survey answers). Conversion counts a goal touchpoint {window_phrase(self.conversion_window)}. "
                f"A repeat purchase is a second order {repeat_phrase(self.repeat_horizon)}. "
                + " ".join(n for n in left_out if n))

    def trend_figure(self):
        """Each objective's KPI per period with its 95% band, the baseline window, the target, the
        intervention's start and, for a target with a date, the fitted trend carried on to that
        date; None without objectives."""
        if not self.trends:
            return None
        import matplotlib.pyplot as plt

        rows = self.rows[self.rows["id"].isin(self.trends)]
        fig, axes = plt.subplots(len(rows), 1, figsize=(9, 3.2 * len(rows)), squeeze=False)
        for ax, (_, r) in zip(axes[:, 0], rows.iterrows()):
            marker = self.study.intervention(r["intervention"]).date if r["intervention"] else None
            self.trends[r["id"]].plot(ax=ax, target=r["target"], baseline=(r["baseline_start"], r["baseline_end"]),
                                      marker=marker,
                                      marker_label=f"{r['intervention']} starts" if marker is not None else "",
                                      projection=self.objectives.estimates[r["id"]]["projection"],
                                      target_date=None if pd.isna(r["target_date"]) else r["target_date"])
            ax.set_title(r["goal"], loc="left", fontsize=10)
        fig.tight_layout()
        return fig

    def breakdown_figure(self):
        """Each objective's KPI in the current period by customer attribute (objectives down,
        attributes across); None without objectives or attributes."""
        if not self.breakdowns:
            return None
        import matplotlib.pyplot as plt

        rows = self.rows[self.rows["id"].isin({i for i, _ in self.breakdowns})]
        attrs = self.attributes
        fig, axes = plt.subplots(len(rows), len(attrs), figsize=(4.6 * len(attrs), 2.6 * len(rows)), squeeze=False)
        for i, (_, r) in enumerate(rows.iterrows()):
            for j, attr in enumerate(attrs):
                self.breakdowns[(r["id"], attr)].plot(ax=axes[i, j])
                axes[i, j].set_title(f"{r['title']} by {attr}", loc="left", fontsize=9)
        fig.tight_layout()
        return fig

    def breakdown_findings(self) -> list[str]:
        return [b.summary() for b in self.breakdowns.values()]

    def value_findings(self) -> list[str]:
        """What customers are worth: the predicted value and what buyers spent so far."""
        lines = [self.value.summary().splitlines()[0]] if self.value is not None else []
        h = self.history
        total = float(h["revenue"].sum()) if h is not None and len(h) else 0.0
        if total > 0:
            top = h["revenue"].nlargest(max(1, len(h) // 10)).sum() / total
            lines.append(f"So far {len(h):,} buyers spent {fmt_money(total)} in total; the top 10% of them "
                         f"account for {top:.0%}.")
        elif h is not None:
            lines.append(f"So far {len(h):,} buyers ordered; the log records no revenue for their orders.")
        if self.value is not None and self.value.holdout is not None:
            lines.append(self.value.holdout.summary())
        return lines

    def holdout_table(self) -> pd.DataFrame | None:
        """Repeat purchases in the CLV holdout, actual against predicted, by the customers' repeat
        purchases in the calibration period (None without a holdout end)."""
        if self.value is None or self.value.holdout is None:
            return None
        return self.value.holdout.table()

    def model_parameters(self) -> pd.DataFrame | None:
        """The fitted BG/NBD and Gamma-Gamma parameters with 95% intervals (None without CLV)."""
        if self.value is None:
            return None
        return pd.concat([self.value.bgnbd.to_frame(), self.value.gamma_gamma.to_frame()]).drop(columns="p_value")


def _attributes(study: Study, breakdown_by: str) -> list[str]:
    named = [a.strip() for a in breakdown_by.split(",") if a.strip()]
    return named or [a for a, spec in study.customer_attributes.items() if spec.get("kind", "category") == "category"]


def _missing_kpis(study: Study, kpis: pd.DataFrame) -> dict[str, str]:
    """The skip lines of the KPIs the study's data cannot give: revenue KPIs without revenue in
    the log, survey KPIs without surveys or without the score."""
    missing = [k for k in KPIS.values() if k.name not in set(kpis["kpi"])]
    out = {}
    revenue = [k for k in missing if k.source == "events"]
    if revenue:
        out["revenue_kpis"] = not_computed(f"the KPIs {', '.join(k.title.lower() for k in revenue)}",
                                           "revenue in the event log")
    survey = [k for k in missing if k.source == "surveys"]
    if survey:
        needs = ("survey responses (a surveys table)" if "surveys" not in study.tables else
                 "their scores in the surveys (columns nps, csat, ces)")
        out["survey_kpis"] = not_computed(f"the KPIs {', '.join(k.title for k in survey)}", needs)
    return out


def _clv_dates(study: Study, calibration_end, holdout_end) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """The CLV calibration and holdout ends as days (None where not given), checked against the
    log: the calibration end within it, the holdout end after the calibration end and no later
    than the log's last day (a holdout past the data would count purchases nobody could make)."""
    days = {}
    for name, value in (("clv_calibration_end", calibration_end), ("clv_holdout_end", holdout_end)):
        if value is None or str(value).strip() == "":
            days[name] = None
            continue
        try:
            day = pd.to_datetime(str(value).strip(), format="ISO8601")
            days[name] = (day.tz_convert("UTC").tz_localize(None) if day.tzinfo else day).normalize()
        except (ValueError, TypeError):
            raise ParameterError(f"{name} '{value}' is not a date (write YYYY-MM-DD)") from None
    cal, hold = days["clv_calibration_end"], days["clv_holdout_end"]
    if cal is None and hold is None:
        return None, None
    if cal is None:
        raise ParameterError("clv_holdout_end needs clv_calibration_end: the holdout starts the day after it")
    first, last = log_days(study)
    if not first <= cal < last:
        raise ParameterError(f"clv_calibration_end {cal:%Y-%m-%d} must fall within the log, from {first:%Y-%m-%d} "
                             f"to the day before its last day, {last:%Y-%m-%d}")
    if hold is not None and not cal < hold <= last:
        raise ParameterError(f"clv_holdout_end {hold:%Y-%m-%d} must come after clv_calibration_end "
                             f"{cal:%Y-%m-%d} and no later than the log's last day, {last:%Y-%m-%d}")
    return cal, hold


def _check(retention_period: str, activity: str, trend_freq: str, cohort_by: str) -> None:
    if retention_period not in ("week", "month"):
        raise ParameterError(f"retention_period '{retention_period}' must be week or month")
    if activity not in ("any", "purchase"):
        raise ParameterError(f"activity '{activity}' must be 'any' (any touchpoint) or 'purchase' (a goal touchpoint)")
    if cohort_by not in ("first_touch", "first_purchase"):
        raise ParameterError(f"cohort_by '{cohort_by}' must be first_touch or first_purchase")
    check_freq(trend_freq)


@stage_analysis("objectives")
def analyze(
    study: Study,
    *,
    current_start: str = "",
    current_end: str = "",
    conversion_window_days: int | None = 0,
    repeat_horizon_days: int = 90,
    retention_period: str = "month",
    activity: str = "any",
    trend_freq: str = "month",
    breakdown_by: str = "",
    cohort_by: str = "first_touch",
    clv_months: int = 12,
    discount_rate: float = 0.01,
    clv_calibration_end: str = "",
    clv_holdout_end: str = "",
) -> ObjectivesStage:
    """The objectives stage for ``study`` (see the module docstring).

    current_start, current_end: the current period of every objective (dates; empty: the study's
    one current period, ``cxlab.metrics.current_period``). conversion_window_days:
    days after the first touch in which a goal counts as a conversion (0: the study's window,
    study.yaml ``conversion_window_days``; None: no window). repeat_horizon_days: days after a
    customer's first order in which a second order counts as a repeat purchase. retention_period ('week' or
    'month') and activity ('any' touchpoint or 'purchase'): what retention, churn, the cohorts and
    the lifecycle count. trend_freq: the period of the trends. breakdown_by: customer attributes,
    comma-separated (empty: every category attribute in study.yaml). cohort_by: what starts a
    cohort ('first_touch' or 'first_purchase'). clv_months, discount_rate: horizon and monthly
    discount rate of the predicted lifetime value. clv_calibration_end: the last day (YYYY-MM-DD)
    of the orders the CLV models are fitted on, and the day their predictions start from (empty:
    the last day of the log); clv_holdout_end: with it, the orders after the calibration end up to
    this day test the predicted purchases (empty: no holdout)."""
    _check(retention_period, activity, trend_freq, cohort_by)
    calibration_end, holdout_end = _clv_dates(study, clv_calibration_end, clv_holdout_end)
    window = resolve_window(study) if conversion_window_days == 0 else resolve_window(
        study, window_days=conversion_window_days)
    options = {"window_days": window, "repeat_horizon_days": repeat_horizon_days,
               "retention_period": retention_period, "activity": activity}
    current = (current_start or None, current_end or None) if (current_start or current_end) else None
    skipped: dict[str, str] = {}

    objectives = trends = breakdowns = None
    attributes = _attributes(study, breakdown_by)
    if study.objectives:
        objectives = objectives_table(study, current=current, trend_freq=trend_freq, **options)
        trends, breakdowns, by_kpi = {}, {}, {}
        for _, r in objectives.table.iterrows():
            if r["kpi"] not in by_kpi:  # the same KPI's trend once, whichever objectives share it
                by_kpi[r["kpi"]] = kpi_trend(study, r["kpi"], trend_freq, **options)
            trends[r["id"]] = by_kpi[r["kpi"]]
            for attr in attributes:
                breakdowns[(r["id"], attr)] = kpi_breakdown(study, r["kpi"], attr, r["current_start"],
                                                            r["current_end"], **options)
    else:
        skipped["objectives"] = not_computed("objectives against targets, their KPI trends and breakdowns",
                                             "objectives in study.yaml (`objectives:`); the study defines none")
    if study.objectives and not attributes:
        skipped["breakdowns"] = not_computed("KPI breakdowns by customer group", "category attributes of the "
                                             "customers (customer_attributes in study.yaml)")

    retention = recurring = None
    try:
        retention = retention_table(study, retention_period, cohort_by=cohort_by, activity=activity)
        recurring = retention_table(study, retention_period, mode="recurring", activity=activity)
    except ParameterError:  # no cohort with a complete period yet
        skipped["retention"] = not_computed("retention by cohort",
                                            f"a cohort of customers with a complete {retention_period} of data")

    history = historical_value(study)
    value, value_by = None, {}
    if history.empty:
        skipped["clv"] = not_computed("customer lifetime value", "orders: customers who reached a goal touchpoint")
    elif not (history["revenue"] > 0).any():
        skipped["clv"] = not_computed("customer lifetime value", "revenue in the event log")
    else:
        try:
            value = clv(study, months=clv_months, monthly_discount_rate=discount_rate,
                        observation_end=calibration_end, holdout_end=holdout_end)
        except DataError as exc:  # too few repeat buyers with revenue to fit the models
            skipped["clv"] = not_computed("customer lifetime value",
                                          f"enough repeat buyers with revenue to fit the models ({exc})")
    if value is not None and attributes:
        customers = data.load(study, "customers")
        value_by = {attr: value_by_segment(value.customers, customers, attr, value="clv") for attr in attributes}

    kpis = kpi_table(study, **options)
    skipped.update(_missing_kpis(study, kpis))
    result = ObjectivesStage(
        study,
        objectives=objectives,
        kpis=kpis,
        conversion_window=window,
        repeat_horizon=repeat_horizon_days,
        trend_freq=trend_freq,
        trends=trends or {},
        attributes=attributes,
        breakdowns=breakdowns or {},
        retention=retention,
        recurring=recurring,
        lifecycle=lifecycle(study, retention_period, activity=activity),
        history=history,
        value=value,
        value_by=value_by,
        clv_months=clv_months,
        registration=register_hypotheses(study, **options),
        skipped=skipped,
        notes=list(skipped.values()),
    )
    # the window used, not 0 for "the study's"; the CLV dates as days (study.yaml may give dates)
    result.parameters = {"conversion_window_days": window,
                         "clv_calibration_end": "" if calibration_end is None else f"{calibration_end:%Y-%m-%d}",
                         "clv_holdout_end": "" if holdout_end is None else f"{holdout_end:%Y-%m-%d}"}
    return result

