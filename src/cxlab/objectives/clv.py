"""Customer lifetime value: what customers have spent, and what they are expected to spend.

Historical value is read from the event log: revenue, orders and tenure per customer, summed
up per segment. Predictive value uses the two classic "buy till you die" models, fitted by
maximum likelihood with scipy:

- **BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while a
  customer is alive they buy at a Poisson rate λ ~ Gamma(r, α); after each purchase they drop
  out with probability p ~ Beta(a, b). From each customer's frequency (repeat purchases),
  recency (age at the last purchase) and T (age at the end of the data) it predicts purchases
  in the coming weeks and the probability the customer is still active.
- **Gamma-Gamma** (Fader, Hardie & Lee 2005, "RFM and CLV"; Fader & Hardie 2013): the value of
  a customer's repeat purchases varies around the customer's own mean, which varies across
  customers; it predicts each customer's average order value, shrunk toward the average.

CLV over a horizon = Σ over months of (expected purchases that month × expected order value),
discounted monthly, as in lifetimes' ``customer_lifetime_value``.

**Calibration and holdout.** The models are fitted on the orders up to a *calibration end* (a
day, included; by default the day of the last event), and every prediction is made as of that
day. Given a *holdout end* as well, the orders between the two days test the fit: each
calibration buyer's repeat purchases in the holdout (order days, as frequency counts them)
against what BG/NBD predicted for a holdout of that length (``HoldoutCheck``), as Fader, Hardie &
Lee (2005) test it on CDNOW (calibration to 30 Sep 1997, holdout to 30 Jun 1998). In a study:
``parameters.objectives: {clv_calibration_end: 1997-09-30, clv_holdout_end: 1998-06-30}``.

Why our own fit rather than a library: lifetimes 0.11.3 (unmaintained since 2020) fits under
pandas 3 but its ``customer_lifetime_value`` and ``calibration_and_holdout_data`` fail; btyd 0.1a1
does not import on Python 3.11 (its pinned autograd uses ``inspect.getargspec``); pymc-marketing
is maintained but pulls pymc, pytensor and numba (~40 packages) for a model whose likelihood is a
few lines. The fit here reproduces the published CDNOW parameters (tests/test_objectives_clv.py).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from .. import engine
from ..errors import DataError, ParameterError
from ..results import Estimate, estimates_frame
from ..study import Study
from ..units import fmt_money
from ..customers import UNIT_DAYS, end_of_observation, order_history, rfm_summary
from ..journeys import purchase_filter
from ..periods import window_filter

__all__ = [
    "historical_value",
    "value_by_segment",
    "rfm_summary",
    "BetaGeo",
    "GammaGamma",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "predict_clv",
    "CLVResult",
    "HoldoutCheck",
    "holdout_check",
    "log_days",
    "clv",
]

# time units per month for CLV, lifetimes' convention (30 days, 4.345 weeks)
_PER_MONTH = {"day": 30.0, "week": 4.345, "month": 1.0}


# --------------------------------------------------------------------------- historical value
def historical_value(
    study: Study | str | os.PathLike,
    start=None,
    end=None,
) -> pd.DataFrame:
    """Per customer: revenue, orders (goal-touchpoint events), first and last order, tenure in
    days (first to last order) and average order value, over the window [start, end] (dates,
    both inclusive; the whole log by default). Computed in the engine, one row per buyer."""
    study = Study.load(study)
    ev = window_filter(engine.events(study), start, end)
    orders = ev.filter(purchase_filter(ev, study))
    rev = orders.revenue.fill_null(0) if "revenue" in orders.columns else orders.seq * 0.0
    per = orders.group_by("customer_id").aggregate(
        revenue=rev.sum(),
        orders=orders.count(),
        first_order=orders.timestamp.min(),
        last_order=orders.timestamp.max(),
    )
    out = engine.to_pandas(per)
    out["revenue"] = out["revenue"].astype(float)
    out["tenure_days"] = (out["last_order"] - out["first_order"]).dt.total_seconds() / 86400
    out["average_order_value"] = out["revenue"] / out["orders"]
    return out.sort_values("revenue", ascending=False).reset_index(drop=True)


def value_by_segment(
    values: pd.DataFrame,
    segments: pd.DataFrame,
    by: str,
    value: str = "revenue",
    ci_level: float = 0.95,
) -> pd.DataFrame:
    """Value per segment: customers, buyers, total and mean ``value`` per customer (customers who
    never bought count as 0) with a t-interval, and each segment's share of the total.

    values: one row per customer with customer_id and ``value`` (historical_value or predict_clv).
    segments: customer_id and the ``by`` column (the customers table or a segment assignment).
    """
    if by not in segments.columns:
        raise ParameterError(f"No column '{by}' to group by; columns: {', '.join(segments.columns)}")
    if value not in values.columns:
        raise ParameterError(f"No column '{value}' in the value table; columns: {', '.join(values.columns)}")
    merged = segments[["customer_id", by]].merge(values[["customer_id", value]], on="customer_id", how="left")
    merged["_bought"] = merged[value].notna()
    merged[value] = merged[value].fillna(0.0).astype(float)
    g = merged.groupby(by, dropna=False, observed=True)
    out = g.agg(customers=("customer_id", "size"), buyers=("_bought", "sum"), total=(value, "sum"),
                mean=(value, "mean"), sd=(value, "std")).reset_index()
    se = out["sd"] / np.sqrt(out["customers"])
    tcrit = stats.t.ppf(0.5 + ci_level / 2, np.maximum(out["customers"] - 1, 1))
    out["ci_low"] = out["mean"] - tcrit * se
    out["ci_high"] = out["mean"] + tcrit * se
    out["share_of_total"] = out["total"] / out["total"].sum() if out["total"].sum() else np.nan
    out = out.drop(columns="sd").sort_values("total", ascending=False).reset_index(drop=True)
    out.attrs["formats"] = {c: "money" for c in ("total", "mean", "ci_low", "ci_high")}  # for show_table
    return out


# --------------------------------------------------------------------------- RFM summary
# ``rfm_summary`` (frequency, recency, T, monetary value per buyer, in lifetimes' conventions) is
# the core's ``cxlab.customers.rfm_summary``: one definition shared with the segmentation.


# --------------------------------------------------------------------------- fitting helpers
def _compress(frame: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, np.ndarray]:
    grouped = frame.groupby(cols, sort=False).size().reset_index(name="_w")
    return grouped[cols].to_numpy(dtype=float), grouped["_w"].to_numpy(dtype=float)


# Above this many distinct rows, Nelder-Mead searches on a random sample of the customers and
# BFGS then finds the maximum on all of them (each evaluation costs time linear in the rows).
_START_SAMPLE = 20_000
# Nelder-Mead only brings BFGS into the basin; on a flat ridge of the likelihood it would
# otherwise spend tens of thousands of evaluations for the same BFGS optimum (1M-event study:
# 40,000 evaluations, 165 s, against 2,000 and 7 s, identical parameters).
_NM_OPTIONS = {"xatol": 1e-10, "fatol": 1e-10, "maxiter": 20000, "maxfev": 2000}


def _start_sample(frame: pd.DataFrame, cols: list[str], distinct: int) -> tuple[np.ndarray, np.ndarray] | None:
    """A seeded random sample of customers (compressed) to search the start on, when there are
    many distinct rows; None when the full data are cheap enough."""
    if distinct <= _START_SAMPLE:
        return None
    return _compress(frame.sample(n=_START_SAMPLE, random_state=0), cols)


def _fit(negll, x0: np.ndarray, names: list[str], n: int, model: str,
         start_negll=None) -> tuple[dict, dict, float]:
    """Minimise the negative log-likelihood over log-parameters: Nelder-Mead for the start (on
    ``start_negll``, a sample's likelihood, when given), then BFGS on every row. Intervals are
    Wald intervals on the log scale (numerical Hessian), so they stay positive like the
    parameters."""
    from statsmodels.tools.numdiff import approx_hess3

    def on_log(z):
        return negll(np.exp(z))

    search = on_log if start_negll is None else (lambda z: start_negll(np.exp(z)))
    res = optimize.minimize(search, np.log(x0), method="Nelder-Mead", options=_NM_OPTIONS)
    res = optimize.minimize(on_log, res.x, method="BFGS", options={"gtol": 1e-8})
    theta = np.exp(res.x)
    try:
        cov = np.linalg.inv(approx_hess3(res.x, on_log))
        se = np.sqrt(np.clip(np.diag(cov), 0, None))
    except np.linalg.LinAlgError:
        se = np.full(len(theta), np.nan)
    z = stats.norm.ppf(0.975)
    params = dict(zip(names, theta))
    estimates = {
        k: Estimate(f"{model} {k}", float(v), float(v * np.exp(-z * s)), float(v * np.exp(z * s)), None, n,
                    "maximum likelihood, Wald interval on the log scale")
        for k, v, s in zip(names, theta, se)
    }
    return params, estimates, float(-res.fun)


# --------------------------------------------------------------------------- BG/NBD
@dataclass
class BetaGeo:
    """A fitted BG/NBD model: parameters r, alpha, a, b (``params``), each as an Estimate with a
    95% Wald interval (``estimates``), and the log-likelihood."""

    params: dict
    estimates: dict = field(default_factory=dict)
    log_likelihood: float = float("nan")
    n: int = 0
    unit: str = "week"

    def summary(self) -> str:
        p = self.params
        return (f"BG/NBD on {self.n:,} customers (time in {self.unit}s): r = {p['r']:.3f}, "
                f"alpha = {p['alpha']:.3f}, a = {p['a']:.3f}, b = {p['b']:.3f}; "
                f"log-likelihood {self.log_likelihood:,.2f}")

    def to_frame(self) -> pd.DataFrame:
        return estimates_frame(self.estimates.values())

    def expected_purchases(self, t) -> np.ndarray:
        """E[X(t)]: purchases a new customer is expected to make in their first t time units."""
        r, alpha, a, b = (self.params[k] for k in ("r", "alpha", "a", "b"))
        t = np.asarray(t, dtype=float)
        hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)

    def _odds_dead(self, x, t_x, T):
        r, alpha, a, b = (self.params[k] for k in ("r", "alpha", "a", "b"))
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_term = (np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                        + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
        return np.where(x > 0, np.exp(log_term), 0.0)

    def probability_alive(self, frequency, recency, T) -> np.ndarray:
        """P(the customer is still active | frequency, recency, T)."""
        return 1.0 / (1.0 + self._odds_dead(frequency, recency, T))

    def conditional_expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """Expected purchases in the next t time units for a customer with this history."""
        r, alpha, a, b = (self.params[k] for k in ("r", "alpha", "a", "b"))
        x, t_x, T_ = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        t = np.asarray(t, dtype=float)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T_ + t))
        first = (a + b + x - 1) / (a - 1)
        second = 1 - ((alpha + T_) / (alpha + T_ + t)) ** (r + x) * hyp
        return first * second / (1.0 + self._odds_dead(x, t_x, T_))


def _bgnbd_negll(data: np.ndarray, w: np.ndarray):
    x, t_x, T = data[:, 0], data[:, 1], data[:, 2]

    def negll(theta):
        r, alpha, a, b = theta
        a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
        a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
        a3 = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(
                x > 0,
                np.log(a) - np.log(np.where(x > 0, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
                -np.inf,
            )
        ll = a1 + a2 + np.logaddexp(a3, a4)
        value = -np.sum(w * ll)
        return value if np.isfinite(value) else 1e300

    return negll


def _check_summary(summary: pd.DataFrame, cols: list[str]) -> None:
    missing = [c for c in cols if c not in summary.columns]
    if missing:
        raise ParameterError(f"The summary table lacks {', '.join(missing)} (use rfm_summary).")
    if len(summary) == 0:
        raise DataError(["The summary table is empty: no customers to fit."])
    bad = summary[(summary["frequency"] < 0) | (summary["recency"] > summary["T"] + 1e-9)]
    if len(bad):
        raise DataError([f"{len(bad):,} customers have negative frequency or recency after T; "
                         f"first: {bad.head(3).to_dict('index')}"])


def fit_bgnbd(summary: pd.DataFrame, unit: str = "week", initial: tuple | None = None) -> BetaGeo:
    """Fit BG/NBD by maximum likelihood to a summary with columns frequency, recency, T
    (``rfm_summary``; the unit only labels the result)."""
    _check_summary(summary, ["frequency", "recency", "T"])
    cols = ["frequency", "recency", "T"]
    data_, w = _compress(summary, cols)
    sample = _start_sample(summary, cols, len(data_))
    x0 = np.array(initial if initial is not None else (1.0, 1.0, 1.0, 1.0), dtype=float)
    params, estimates, ll = _fit(_bgnbd_negll(data_, w), x0, ["r", "alpha", "a", "b"], len(summary), "BG/NBD",
                                 start_negll=_bgnbd_negll(*sample) if sample else None)
    return BetaGeo(params, estimates, ll, len(summary), unit)


# --------------------------------------------------------------------------- Gamma-Gamma
@dataclass
class GammaGamma:
    """A fitted Gamma-Gamma model of order value: parameters p, q, v."""

    params: dict
    estimates: dict = field(default_factory=dict)
    log_likelihood: float = float("nan")
    n: int = 0

    def summary(self) -> str:
        p = self.params
        return (f"Gamma-Gamma on {self.n:,} repeat buyers: p = {p['p']:.3f}, q = {p['q']:.3f}, "
                f"v = {p['v']:.3f}; mean order value in the population {self.population_mean():,.2f}")

    def to_frame(self) -> pd.DataFrame:
        return estimates_frame(self.estimates.values())

    def population_mean(self) -> float:
        p, q, v = (self.params[k] for k in ("p", "q", "v"))
        return p * v / (q - 1) if q > 1 else float("nan")

    def expected_order_value(self, frequency, monetary_value) -> np.ndarray:
        """E[M | x, m_x]: the customer's mean order value, their own average shrunk toward the
        population mean; customers without repeat orders get the population mean."""
        p, q, v = (self.params[k] for k in ("p", "q", "v"))
        x = np.asarray(frequency, dtype=float)
        m = np.asarray(monetary_value, dtype=float)
        own = p * (v + x * m) / (p * x + q - 1)
        return np.where(x > 0, own, self.population_mean())


def _gg_negll(data: np.ndarray, w: np.ndarray):
    x, m = data[:, 0], data[:, 1]

    def negll(theta):
        p, q, v = theta
        ll = (special.gammaln(p * x + q) - special.gammaln(p * x) - special.gammaln(q) + q * np.log(v)
              + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(v + x * m))
        value = -np.sum(w * ll)
        return value if np.isfinite(value) else 1e300

    return negll


def fit_gamma_gamma(summary: pd.DataFrame, initial: tuple | None = None) -> GammaGamma:
    """Fit Gamma-Gamma by maximum likelihood to the customers with at least one repeat purchase
    and positive monetary_value (columns frequency, monetary_value)."""
    _check_summary(summary.assign(recency=0, T=0) if "T" not in summary else summary,
                   ["frequency", "monetary_value"])
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    if len(repeat) < 10:
        raise DataError([f"Only {len(repeat)} customers have repeat purchases with revenue; "
                         "the Gamma-Gamma model needs more (at least 10)."])
    cols = ["frequency", "monetary_value"]
    data_, w = _compress(repeat, cols)
    sample = _start_sample(repeat, cols, len(data_))
    x0 = np.array(initial if initial is not None else (2.0, 3.0, float(repeat["monetary_value"].mean())))
    params, estimates, ll = _fit(_gg_negll(data_, w), x0, ["p", "q", "v"], len(repeat), "Gamma-Gamma",
                                 start_negll=_gg_negll(*sample) if sample else None)
    return GammaGamma(params, estimates, ll, len(repeat))


# --------------------------------------------------------------------------- CLV
def predict_clv(
    summary: pd.DataFrame,
    bgnbd: BetaGeo,
    gamma_gamma: GammaGamma,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
) -> pd.DataFrame:
    """Per customer: probability still active, expected purchases and value over the next
    ``months``, expected order value and discounted CLV
    (Σ_i E[purchases in month i] × E[order value] / (1 + d)^i)."""
    if months < 1:
        raise ParameterError("months must be at least 1")
    per_month = _PER_MONTH[bgnbd.unit]
    x, t_x, T = summary["frequency"], summary["recency"], summary["T"]
    value = gamma_gamma.expected_order_value(x, summary["monetary_value"])
    clv_ = np.zeros(len(summary))
    previous = np.zeros(len(summary))
    for i in range(1, months + 1):
        cumulative = bgnbd.conditional_expected_purchases(i * per_month, x, t_x, T)
        clv_ += (cumulative - previous) * value / (1 + monthly_discount_rate) ** i
        previous = cumulative
    out = pd.DataFrame(index=summary.index)
    out["probability_alive"] = bgnbd.probability_alive(x, t_x, T)
    out["expected_purchases"] = previous
    out["expected_order_value"] = value
    out["clv"] = clv_
    return out.reset_index()


def log_days(study: Study | str | os.PathLike) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The days of the study's first and last event."""
    ev = engine.events(Study.load(study))
    span = engine.to_pandas(ev.aggregate(first=ev.timestamp.min(), last=ev.timestamp.max()))
    return pd.Timestamp(span["first"].iloc[0]).normalize(), pd.Timestamp(span["last"].iloc[0]).normalize()


@dataclass
class HoldoutCheck:
    """Predicted against actual repeat purchases in the holdout, for every buyer of the
    calibration period: ``customers`` (customer_id, calibration ``frequency``, ``actual`` order
    days in the holdout, ``predicted`` by BG/NBD for a holdout of ``duration`` time units)."""

    calibration_end: pd.Timestamp
    holdout_end: pd.Timestamp
    unit: str
    duration: float
    customers: pd.DataFrame

    @property
    def actual(self) -> int:
        return int(self.customers["actual"].sum())

    @property
    def predicted(self) -> float:
        return float(self.customers["predicted"].sum())

    def summary(self) -> str:
        c = self.customers
        off = (self.predicted - self.actual) / self.actual if self.actual else float("nan")
        gap = f"{abs(off):.1%} {'above' if off > 0 else 'below'}" if np.isfinite(off) else "against none made"
        return (f"Holdout check: in the {self.duration:.4g} {self.unit}s from {self.calibration_end + pd.Timedelta(days=1):%d %b %Y} "
                f"to {self.holdout_end:%d %b %Y}, the {len(c):,} buyers of the calibration period made {self.actual:,} "
                f"repeat purchases; the model fitted up to {self.calibration_end:%d %b %Y} predicted {self.predicted:,.1f} "
                f"({gap}).")

    def caption(self) -> str:
        return (f"Repeat purchases in the holdout, {self.calibration_end + pd.Timedelta(days=1):%d %b %Y} to "
                f"{self.holdout_end:%d %b %Y}: actual and predicted by the model fitted up to "
                f"{self.calibration_end:%d %b %Y}, per customer and in total, by the customers' repeat purchases "
                "in the calibration period.")

    def table(self, top: int = 7) -> pd.DataFrame:
        """Customers grouped by their repeat purchases in the calibration period (0, 1, … ``top``
        or more): how many, and their repeat purchases in the holdout, actual and predicted (per
        customer, rounded to 3 decimals, and in total), with a last row for all of them."""
        c = self.customers
        group = np.minimum(c["frequency"].astype(int), top)
        labels = [str(g) if g < top else f"{top}+" for g in range(top + 1)]
        out = c.groupby(group).agg(customers=("customer_id", "size"), actual_mean=("actual", "mean"),
                                   predicted_mean=("predicted", "mean"), actual=("actual", "sum"),
                                   predicted=("predicted", "sum"))
        out.index = [labels[int(g)] for g in out.index]
        out.loc["all"] = [len(c), c["actual"].mean(), c["predicted"].mean(), c["actual"].sum(), c["predicted"].sum()]
        out = out.astype({"customers": int, "actual": int}).round({"actual_mean": 3, "predicted_mean": 3, "predicted": 1})
        out.columns = ["customers", "actual per customer", "predicted per customer", "actual in total",
                       "predicted in total"]
        return out.rename_axis("repeat purchases in calibration").reset_index()


def holdout_check(study: Study | str | os.PathLike, bgnbd: BetaGeo, summary: pd.DataFrame, calibration_end,
                  holdout_end) -> HoldoutCheck:
    """Each calibration buyer's repeat purchases in the holdout — order days after
    ``calibration_end`` up to ``holdout_end`` (both dates, the holdout end included) — against the
    purchases ``bgnbd`` (fitted on ``summary``, the calibration period's rfm_summary) predicts for
    a holdout of that length. Buyers whose first order falls in the holdout are not counted."""
    study = Study.load(study)
    cal, hold = pd.Timestamp(calibration_end).normalize(), pd.Timestamp(holdout_end).normalize()
    if hold <= cal:
        raise ParameterError(f"The holdout end {hold:%Y-%m-%d} must come after the calibration end {cal:%Y-%m-%d}.")
    ev = window_filter(engine.events(study), cal + pd.Timedelta(days=1), hold)
    later = engine.to_pandas(order_history(ev, study.goal_touchpoints)[["customer_id", "order_days"]])
    later["customer_id"] = later["customer_id"].astype(str)
    actual = later.set_index("customer_id")["order_days"].reindex(summary.index).fillna(0).astype(int)
    duration = (hold - cal).days / UNIT_DAYS[bgnbd.unit]
    x, t_x, T = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    customers = pd.DataFrame({
        "customer_id": summary.index.astype(str),
        "frequency": summary["frequency"].to_numpy(),
        "actual": actual.to_numpy(),
        "predicted": bgnbd.conditional_expected_purchases(duration, x, t_x, T),
    })
    return HoldoutCheck(cal, hold, bgnbd.unit, duration, customers)


@dataclass
class CLVResult:
    """Predictive CLV for a study: the summary, both fitted models, and per-customer values, as
    of ``calibration_end`` (the last day the models saw); ``holdout``: predicted against actual
    purchases after it (None without a holdout end)."""

    summary_table: pd.DataFrame
    bgnbd: BetaGeo
    gamma_gamma: GammaGamma
    customers: pd.DataFrame
    months: int
    calibration_end: pd.Timestamp | None = None
    holdout: HoldoutCheck | None = None

    def summary(self) -> str:
        c = self.customers
        as_of = f" as of {self.calibration_end:%d %b %Y}" if self.calibration_end is not None else ""
        return (f"Predicted {self.months}-month CLV{as_of} for {len(c):,} buyers: mean {fmt_money(c['clv'].mean())}, "
                f"total {fmt_money(c['clv'].sum())}; {(c['probability_alive'] >= 0.5).mean():.0%} likely still "
                f"active.\n{self.bgnbd.summary()}\n{self.gamma_gamma.summary()}")

    def plot(self, ax=None):
        """Distribution of predicted CLV across buyers (histogram)."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(7, 3.5))[1]
        ax.hist(self.customers["clv"], bins=40, color="#4C72B0")
        ax.set_xlabel(f"predicted {self.months}-month CLV")
        ax.set_ylabel("customers")
        return ax


def clv(study: Study | str | os.PathLike, months: int = 12, monthly_discount_rate: float = 0.01,
        unit: str = "week", observation_end=None, holdout_end=None) -> CLVResult:
    """Fit BG/NBD and Gamma-Gamma to the study's orders up to ``observation_end`` (the
    calibration end, a date; default: the day of the last event) and predict each buyer's CLV as
    of that day; with ``holdout_end``, also check the predicted purchases against the orders
    after the calibration end (``holdout_check``)."""
    study = Study.load(study)
    end = end_of_observation(study, observation_end)
    summary = rfm_summary(study, observation_end=end, unit=unit)
    bg = fit_bgnbd(summary, unit=unit)
    gg = fit_gamma_gamma(summary)
    customers = predict_clv(summary, bg, gg, months=months, monthly_discount_rate=monthly_discount_rate)
    check = None if holdout_end is None else holdout_check(study, bg, summary, end, holdout_end)
    return CLVResult(summary, bg, gg, customers, months, end, check)
