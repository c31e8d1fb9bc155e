"""The KPI library: each KPI has a one-line definition, a unit, a better direction, and is
computed from the study's tables as an Estimate with a 95% confidence interval.

Every KPI is computed the same way, once, in the engine:

1. a *unit table* (Ibis) with one row per thing the KPI averages over — a customer for
   conversion, a customer-period for retention, an order for average order value, a survey
   response for NPS — carrying the customer, the time that places the unit in a window and a
   period, and the outcome y (0/1 for a rate, an amount or score for a mean, +1/0/−1 for NPS);
2. the units in the window, grouped by period (week, month …) and/or a customer attribute,
   reduced to sufficient statistics per group (units, customers, Σy, Σy², and per-customer sums
   for customers who contribute several units) — only these come back to pandas;
3. intervals from those statistics: Wilson for rates, Student t for means, the multinomial
   variance for NPS. Where a customer contributes several units (retention periods, orders,
   survey responses) the variance is clustered by customer, so loyal customers are not counted
   as independent evidence (rates then use Wilson at the design-effect sample size).

Equal follow-up: every unit's outcome is watched for the same time after the moment that places
it (the conversion window after a first touch, the repeat horizon after a first order, the next
period after an active one, the whole customer-month), so a KPI means the same in an early period
and a late one, and in a window of any length. Censoring: a unit whose follow-up runs past the
end of the log (a customer whose conversion window or repeat horizon is not over, a
customer-period whose next period is not complete, the month the log ends in) is left out, not
counted as a failure; ``complete_until`` and ``censoring_note`` say from when. The log is taken
to cover whole days: it is observed until the end of the day of its last event.

    >>> from cxlab.kpis import compute_kpi, kpi_estimate
    >>> kpi_estimate("demo", "conversion_rate", "2025-01-01", "2025-03-31")
    >>> compute_kpi("demo", "nps", freq="month")          # a trend
    >>> compute_kpi("demo", "csat_top2", by="region")      # a breakdown
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import ibis
import numpy as np
import pandas as pd

from .. import engine
from ..errors import ParameterError, StudyError
from ..results import ESTIMATE_COLUMNS, Estimate
from ..study import Study
from ..units import fmt_money
from ..periods import check_freq, period_start, window_bounds
from ..stats import nps_interval, t_interval, wilson, z_value
from .units import (
    PERIOD_INDEX,
    _Ctx,
    _units_ces_mean,
    _units_conversion,
    _units_csat_mean,
    _units_csat_top2,
    _units_nps,
    _units_order_value,
    _units_repeat_purchase,
    _units_retention,
    _units_revenue_per_customer,
    data_end,
)

__all__ = [
    "KPI",
    "KPIS",
    "get_kpi",
    "format_value",
    "kpi_definitions",
    "kpi_units",
    "kpi_stats",
    "compute_kpi",
    "kpi_estimate",
    "kpi_table",
    "estimates_from_stats",
    "data_end",
]


@dataclass(frozen=True)
class KPI:
    """A KPI: its name in study.yaml, a title and one-line definition for the report, its unit
    ('share', 'currency', 'NPS points', 'score 1–5' …), whether higher is better, and how its
    interval is made ('proportion', 'mean' or 'nps')."""

    name: str
    title: str
    definition: str
    unit: str
    higher_is_better: bool
    kind: str
    source: str  # events | surveys
    units: Callable
    scale: float = 1.0
    complement: bool = False  # churn = 1 − retention
    why: str = ""

    def format(self, value, signed: bool = False) -> str:
        """A value of this KPI for people: shares as percentages, NPS in points, money and
        scores with two decimals."""
        return format_value(self, value, signed=signed)

    @property
    def noun(self) -> str:
        """The KPI inside a sentence: 'the conversion rate', 'mean CSAT'."""
        return _NOUNS.get(self.name, "the " + self.title.lower())

    def format_change(self, value, units: bool = True) -> str:
        """A difference of two values: percentage points for shares, else signed units."""
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return "–"
        if self.unit == "share":
            return f"{value * 100:+.1f}" + (" points" if units else "")
        if self.kind == "nps":
            return f"{value:+.1f}" + (" NPS points" if units else "")
        if self.unit == "currency":
            return fmt_money(value, signed=True)
        return f"{value:+,.2f}"

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    @property
    def better(self) -> str:
        """The direction of improvement as study.yaml writes it: increase or decrease."""
        return "increase" if self.higher_is_better else "decrease"


_NOUNS = {
    "nps": "the Net Promoter Score (NPS)",
    "csat_top2": "the CSAT top-2-box share",
    "csat_mean": "mean CSAT",
    "ces_mean": "mean customer effort (CES)",
}


def format_value(kpi, value, signed: bool = False) -> str:
    """``kpi``'s value for people (see KPI.format)."""
    spec = get_kpi(kpi)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    sign = "+" if signed else ""
    if spec.unit == "share":
        return f"{value * 100:{sign}.1f}%"
    if spec.kind == "nps":
        return f"{value:{sign}.1f}"
    if spec.unit == "currency":
        return fmt_money(value, signed=signed)
    return f"{value:{sign},.2f}"



KPIS: dict[str, KPI] = {
    k.name: k
    for k in [
        KPI("conversion_rate", "Conversion rate",
            "Share of new customers who reach a goal touchpoint within the conversion window (30 days "
            "unless the study sets another) after their first touch, counted in the period of the first touch.",
            "share", True, "proportion", "events", _units_conversion,
            why='Conversion turns interest into revenue: each point is more customers buying from the same marketing effort.'),
        KPI("repeat_purchase_rate", "Repeat purchase rate",
            "Share of new buyers — customers whose first order falls in the period — who order again within "
            "the repeat horizon (90 days by default) after that first order; customers whose "
            "horizon is not over at the end of the data are left out.",
            "share", True, "proportion", "events", _units_repeat_purchase,
            why="Repeat buyers cost far less to win than new ones and carry most of a retailer's lifetime value."),
        KPI("retention_rate", "Retention rate",
            "Share of customers active in a month who are active again the next month "
            "(a month counts in the window that holds its 15th).",
            "share", True, "proportion", "events", _units_retention,
            why='Keeping active customers active is the cheapest growth there is; retention compounds month after month.'),
        KPI("churn_rate", "Churn rate",
            "Share of customers active in a month who are not active the next month (1 − retention).",
            "share", False, "proportion", "events", _units_retention, complement=True,
            why='Every customer who lapses must be replaced by a new one; churn is the leak in the bucket.'),
        KPI("revenue_per_customer", "Revenue per customer per month",
            "Mean revenue of a customer in a month in which they are active (any touchpoint), over the "
            "customer-months in the period (a month counts in the period that holds its 15th; only complete months).",
            "currency", True, "mean", "events", _units_revenue_per_customer,
            why='Revenue per customer combines how often customers buy and how much they spend.'),
        KPI("average_order_value", "Average order value",
            "Mean revenue of an order (a goal-touchpoint event with revenue) in the window.",
            "currency", True, "mean", "events", _units_order_value,
            why='A higher basket raises revenue without needing more orders.'),
        KPI("nps", "Net Promoter Score",
            "Share of promoters (9–10) minus share of detractors (0–6) among survey answers, in points.",
            "NPS points", True, "nps", "surveys", _units_nps, scale=100.0,
            why='Promoters recommend us and come back; detractors warn others off. NPS is the balance of the two.'),
        KPI("csat_top2", "CSAT (top-2-box)",
            "Share of satisfaction answers that are 4 or 5 on the 1–5 scale.",
            "share", True, "proportion", "surveys", _units_csat_top2,
            why='The share of clearly satisfied answers shows how often an interaction goes well.'),
        KPI("csat_mean", "CSAT (mean)",
            "Mean satisfaction score on the 1–5 scale.",
            "score 1–5", True, "mean", "surveys", _units_csat_mean,
            why='Satisfaction with each interaction drives whether customers come back.'),
        KPI("ces_mean", "Customer effort (mean)",
            "Mean customer effort score on the 1–7 scale (7 = very easy).",
            "score 1–7", True, "mean", "surveys", _units_ces_mean,
            why='Effort predicts disloyalty: customers who struggle to get things done leave.'),
    ]
}


def get_kpi(name: str) -> KPI:
    """The KPI registered under ``name`` (the names study.yaml objectives use)."""
    if isinstance(name, KPI):
        return name
    try:
        return KPIS[name]
    except KeyError:
        raise ParameterError(f"Unknown KPI '{name}'; known KPIs: {', '.join(KPIS)}") from None


def kpi_definitions(names=None) -> pd.DataFrame:
    """The KPI library as a table: kpi, title, definition, unit, direction."""
    rows = [
        {"kpi": k.name, "title": k.title, "definition": k.definition, "unit": k.unit, "direction": k.direction}
        for k in (get_kpi(n) for n in (names or KPIS))
    ]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- computation
def kpi_units(study: Study | str | os.PathLike, kpi: str, start=None, end=None, *, freq: str | None = None,
              **options) -> ibis.Table:
    """The KPI's unit table as an Ibis expression: customer_id, period_index (``PERIOD_INDEX``:
    the unit's period at ``freq`` as an integer, 0 without one; ``cxlab.periods.period_start``
    gives its first day) and y (the outcome per unit), for the units in [start, end]; see
    ``cxlab.kpis.units`` for the options. The impact stage uses it for unit-level tests;
    aggregate it before bringing it to pandas."""
    study = Study.load(study)
    spec = get_kpi(kpi)
    if freq is not None:
        check_freq(freq)
    ctx = _Ctx(study, start, end, freq, options)
    window_bounds(start, end)  # validates the window
    return spec.units(ctx)


def _attribute_groups(study: Study, by: str, groups: pd.DataFrame | None) -> tuple[ibis.Table, dict | None]:
    """customer_id → group label, from ``groups`` (a DataFrame) or the customers table; numeric
    attributes with bins in study.yaml are cut into those bins."""
    if groups is not None:
        if not {"customer_id", by} <= set(groups.columns):
            raise ParameterError(f"groups must have the columns customer_id and {by}")
        frame = groups[["customer_id", by]].copy()
        frame["customer_id"] = frame["customer_id"].astype(str)
        frame[by] = frame[by].astype(str)
        return ibis.memtable(frame), None
    cust = engine.table(study, "customers")
    if by not in cust.columns:
        raise ParameterError(
            f"The customers of study '{study.name}' have no attribute '{by}'; "
            f"attributes: {', '.join(c for c in cust.columns if c != 'customer_id')}"
        )
    spec = study.customer_attributes.get(by, {})
    bins = spec.get("bins")
    col = cust[by]
    if bins and spec.get("kind") == "numeric":
        bins = sorted(float(b) for b in bins)
        labels = {i: f"{bins[i]:g}–{bins[i + 1]:g}" for i in range(len(bins) - 1)}
        labels[-1] = f"< {bins[0]:g}"
        labels[len(bins) - 1] = f"≥ {bins[-1]:g}"
        col = col.cast("float64").bucket(bins, include_under=True, include_over=True, close_extreme=False)
        # ibis numbers the under bucket 0: shift so bucket i is [bins[i], bins[i+1])
        col = (col - 1).cast("int64")
        return cust.select("customer_id", **{by: col}), labels
    return cust.select("customer_id", **{by: col.cast("string")}), None


def kpi_stats(
    study: Study | str | os.PathLike,
    kpi: str,
    start=None,
    end=None,
    *,
    freq: str | None = None,
    by: str | None = None,
    groups: pd.DataFrame | None = None,
    **options,
) -> pd.DataFrame:
    """Sufficient statistics of a KPI per group, computed in one engine query: n (units),
    customers, sum and sum_sq of the outcome, the customer-level sums for the clustered variance
    (c_ss = Σ S_c², c_ns = Σ n_c·S_c, c_nn = Σ n_c²), and for NPS promoters and detractors."""
    study = Study.load(study)
    spec = get_kpi(kpi)
    units = kpi_units(study, kpi, start, end, freq=freq, **options)
    keys = [PERIOD_INDEX] if freq else []
    labels = None
    if by is not None:
        attr, labels = _attribute_groups(study, by, groups)
        units = units.inner_join(attr, "customer_id")
        keys.append(by)
    y = units.y
    units = units.mutate(_one=ibis.literal(1, type="int64"), _pro=(y > 0.5).cast("int64"),
                         _det=(y < -0.5).cast("int64"))
    per_c = units.group_by(keys + ["customer_id"]).aggregate(
        n_c=units._one.sum(), s_c=units.y.sum(), q_c=(units.y * units.y).sum(),
        pro_c=units._pro.sum(), det_c=units._det.sum(),
    )
    aggs = dict(
        n=per_c.n_c.sum(), customers=per_c.count(), sum=per_c.s_c.sum(), sum_sq=per_c.q_c.sum(),
        c_ss=(per_c.s_c * per_c.s_c).sum(), c_ns=(per_c.n_c * per_c.s_c).sum(),
        c_nn=(per_c.n_c * per_c.n_c).sum(), promoters=per_c.pro_c.sum(), detractors=per_c.det_c.sum(),
    )
    expr = per_c.group_by(keys).aggregate(**aggs) if keys else per_c.aggregate(**aggs)
    out = engine.to_pandas(expr)
    if not keys:
        out = out.fillna({"n": 0, "customers": 0})
    for col in ("n", "customers", "promoters", "detractors"):
        out[col] = out[col].fillna(0).astype("int64")
    for col in ("sum", "sum_sq", "c_ss", "c_ns", "c_nn"):
        out[col] = out[col].astype(float)
    if freq:
        out["period"] = period_start(out[PERIOD_INDEX].to_numpy(), freq).to_numpy()
        out = out.drop(columns=PERIOD_INDEX)
    if by is not None and labels is not None:
        out[by] = out[by].map(labels)
    order = (["period"] if freq else []) + ([by] if by else [])
    out.insert(0, "kpi", spec.name)
    out = out[["kpi", *order, *[c for c in out.columns if c not in order and c != "kpi"]]]
    return out.sort_values(order).reset_index(drop=True) if order else out


def estimates_from_stats(stats_: pd.DataFrame, kpi: str, label: str = "", ci_level: float = 0.95) -> pd.DataFrame:
    """Turn kpi_stats' sufficient statistics into Estimate columns (estimate, ci_low, ci_high,
    p_value, n, method), one row per group, keeping the group columns."""
    spec = get_kpi(kpi)
    s = stats_
    n = s["n"].to_numpy(dtype=float)
    g = s["customers"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s["sum"].to_numpy() / n
        # variance of the mean with customers as clusters (Σ_c (S_c − n_c·ȳ)² · G/(G−1) / n²)
        resid = s["c_ss"].to_numpy() - 2 * mean * s["c_ns"].to_numpy() + mean**2 * s["c_nn"].to_numpy()
        var_cl = np.where(g > 1, g / (g - 1) * np.maximum(resid, 0) / n**2, np.nan)
        repeated = n > g
    if spec.kind == "proportion":
        p = mean
        var_iid = p * (1 - p) / n
        with np.errstate(divide="ignore", invalid="ignore"):
            n_eff = np.where(repeated & (var_cl > 0), np.minimum(n, p * (1 - p) / var_cl), n)
        lo, hi = wilson(p * n_eff, n_eff, ci_level)
        if spec.complement:
            p, lo, hi = 1 - p, 1 - hi, 1 - lo
        method = np.where(repeated, "Wilson score interval at the design-effect sample size "
                                    "(customers as clusters)", "Wilson score interval")
        est = p
        del var_iid
    elif spec.kind == "mean":
        sd = np.sqrt(np.maximum(s["sum_sq"].to_numpy() - n * mean**2, 0) / np.maximum(n - 1, 1))
        lo, hi = t_interval(mean, sd, n, ci_level)
        from scipy import stats  # imported where it is used: importing cxlab should not pay for it (issue 18)

        tq = stats.t.ppf(0.5 + ci_level / 2, np.where(g > 1, g - 1, np.nan))
        lo = np.where(repeated, mean - tq * np.sqrt(var_cl), lo)
        hi = np.where(repeated, mean + tq * np.sqrt(var_cl), hi)
        method = np.where(repeated, "Student t interval, standard error clustered by customer",
                          "Student t interval")
        est = mean
    elif spec.kind == "nps":
        est, lo, hi, se = nps_interval(s["promoters"], s["detractors"], n, ci_level)
        z = z_value(ci_level)
        se_cl = np.sqrt(var_cl)
        lo = np.where(repeated, np.clip(est - z * se_cl, -1, 1), lo)
        hi = np.where(repeated, np.clip(est + z * se_cl, -1, 1), hi)
        method = np.where(repeated, "normal interval, variance clustered by customer",
                          "normal interval, multinomial variance")
        est, lo, hi = est * spec.scale, lo * spec.scale, hi * spec.scale
    else:  # pragma: no cover - registry is fixed
        raise ValueError(spec.kind)
    group_cols = [c for c in s.columns if c in ("period",) or c not in _STAT_COLUMNS]
    out = s[group_cols].copy()
    labels = []
    for _, row in s.iterrows():
        parts = [spec.title]
        if label:
            parts.append(label)
        if "period" in s.columns:
            parts.append(str(pd.Timestamp(row["period"]).date()))
        for c in group_cols:
            if c not in ("kpi", "period"):
                parts.append(f"{c} = {row[c]}")
        labels.append(", ".join(parts))
    out["label"] = labels
    out["estimate"] = np.asarray(est, dtype=float)
    out["ci_low"] = np.asarray(lo, dtype=float)
    out["ci_high"] = np.asarray(hi, dtype=float)
    out["p_value"] = None
    out["n"] = s["n"].astype("int64").to_numpy()
    out["method"] = np.asarray(method, dtype=object)
    out["customers"] = s["customers"].to_numpy()
    return out


_STAT_COLUMNS = {"n", "customers", "sum", "sum_sq", "c_ss", "c_ns", "c_nn", "promoters", "detractors"}


def compute_kpi(
    study: Study | str | os.PathLike,
    kpi: str,
    start=None,
    end=None,
    *,
    freq: str | None = None,
    by: str | None = None,
    groups: pd.DataFrame | None = None,
    label: str = "",
    **options,
) -> pd.DataFrame:
    """A KPI over the window [start, end] (dates, end day included; the whole log by default),
    as Estimate columns — per period when ``freq`` is week/month/quarter (a trend), per value of
    the customer attribute ``by`` (a breakdown; or of the column ``by`` of ``groups``, a
    customer_id → group table such as a segment assignment), or both.

    Options: window_days (conversion; absent: the study's conversion_window_days, 30 unless
    study.yaml sets another; None: no window), retention_period (month) and activity ('any' or
    'purchase') for retention and churn, touchpoint / stage to restrict survey KPIs.
    Returns columns kpi, [period], [by], label, estimate, ci_low, ci_high, p_value, n, method,
    customers.
    """
    s = kpi_stats(study, kpi, start, end, freq=freq, by=by, groups=groups, **options)
    return estimates_from_stats(s, kpi, label=label)


def kpi_estimate(study: Study | str | os.PathLike, kpi: str, start=None, end=None, *, label: str = "",
                 **options) -> Estimate:
    """One KPI over one window as an Estimate (a proportion's estimate is a share, NPS in points)."""
    row = compute_kpi(study, kpi, start, end, label=label, **options).iloc[0]
    return Estimate(
        label=row["label"], estimate=float(row["estimate"]), ci_low=float(row["ci_low"]),
        ci_high=float(row["ci_high"]), p_value=None, n=int(row["n"]), method=str(row["method"]),
        extra={"kpi": get_kpi(kpi).name, "customers": int(row["customers"]), "start": start, "end": end},
    )


def kpi_table(study: Study | str | os.PathLike, kpis=None, start=None, end=None, *, skip_missing: bool = True,
              **options) -> pd.DataFrame:
    """Several KPIs over one window: one row each with the definition, unit and Estimate
    columns. KPIs whose table the study lacks (no surveys) are skipped when ``skip_missing``."""
    study = Study.load(study)
    rows = []
    for name in kpis or KPIS:
        spec = get_kpi(name)
        try:
            est = kpi_estimate(study, name, start, end, **options)
        except StudyError:
            if skip_missing:
                continue
            raise
        rows.append({"kpi": spec.name, "title": spec.title, "definition": spec.definition, "unit": spec.unit,
                     "direction": spec.direction, **est.to_dict()})
    return pd.DataFrame(rows, columns=["kpi", "title", "definition", "unit", "direction", *ESTIMATE_COLUMNS,
                                       "ci_level"]).drop(columns="ci_level")
