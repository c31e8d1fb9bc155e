"""Monte Carlo checks that the tests keep their promises: with no effect they reject at the
nominal rate, and their 95% intervals cover a planted effect 95% of the time.

Used by the test suite (small, seeded) and benchmarks/impact_simulation.py (larger)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .designs import did
from ..stats.twosample import two_proportions

__all__ = ["calibrate_two_proportions", "calibrate_did", "simulate_did_panel", "simulate_region_study",
           "calibrate_report_did"]


def _summary(rejections: np.ndarray, covered: np.ndarray, reps: int, **info) -> dict:
    return {**info, "reps": reps, "false_positive_rate": float(rejections.mean()),
            "coverage": float(covered.mean())}


def calibrate_two_proportions(
    reps: int = 1000, *, n1: int = 500, n2: int = 500, p: float = 0.3, effect: float = 0.05,
    alpha: float = 0.05, seed: int = 0,
) -> dict:
    """Share of ``reps`` null samples (both groups at rate ``p``) where ``two_proportions``
    rejects at ``alpha``, and share of samples with a planted difference ``effect`` whose
    interval covers it."""
    rng = np.random.default_rng(seed)
    x1 = rng.binomial(n1, p, reps)
    x2 = rng.binomial(n2, p, reps)
    rej = np.array([two_proportions(a, n1, b, n2).p_value < alpha for a, b in zip(x1, x2)])
    y1 = rng.binomial(n1, p + effect, reps)
    y2 = rng.binomial(n2, p, reps)
    cov = np.array([two_proportions(a, n1, b, n2, ci_level=1 - alpha).covers(effect) for a, b in zip(y1, y2)])
    return _summary(rej, cov, reps, design="two proportions", n=f"{n1} + {n2}", rate=p)


def simulate_did_panel(rng: np.random.Generator, *, units: int = 40, periods: int = 6, effect: float = 0.0,
                       rho: float = 0.6, sigma_unit: float = 1.0, sigma: float = 1.0) -> pd.DataFrame:
    """A unit x period panel: half the units treated from the middle period on, unit effects,
    a common time trend, and AR(1) errors within each unit (serial correlation, the reason
    DiD standard errors must be clustered by unit; Bertrand, Duflo & Mullainathan 2004)."""
    u = np.repeat(np.arange(units), periods)
    t = np.tile(np.arange(periods), units)
    treated = (u < units // 2).astype(int)
    post = (t >= periods // 2).astype(int)
    e = np.empty((units, periods))
    e[:, 0] = rng.normal(0, sigma / np.sqrt(1 - rho**2), units)
    for k in range(1, periods):
        e[:, k] = rho * e[:, k - 1] + rng.normal(0, sigma, units)
    y = rng.normal(0, sigma_unit, units)[u] + 0.1 * t + effect * treated * post + e.ravel()
    return pd.DataFrame({"unit": u, "period": t, "treated": treated, "post": post, "y": y})


def calibrate_did(
    reps: int = 500, *, units: int = 40, periods: int = 6, effect: float = 0.5, rho: float = 0.6,
    alpha: float = 0.05, seed: int = 0, cov_type: str = "auto",
) -> dict:
    """Rejection rate of ``did`` (two-way fixed effects, standard errors clustered by unit)
    on null panels, and coverage of a planted ``effect`` by its interval."""
    rng = np.random.default_rng(seed)
    rej, cov = np.empty(reps, bool), np.empty(reps, bool)
    for i in range(reps):
        d = simulate_did_panel(rng, units=units, periods=periods, effect=0.0, rho=rho)
        r = did(d, "y", "treated", "post", unit="unit", time="period", cov_type=cov_type, event_study=False)
        rej[i] = r.estimate.p_value < alpha
        d = simulate_did_panel(rng, units=units, periods=periods, effect=effect, rho=rho)
        r = did(d, "y", "treated", "post", unit="unit", time="period", cov_type=cov_type,
                event_study=False, ci_level=1 - alpha)
        cov[i] = r.estimate.covers(effect)
    return _summary(rej, cov, reps, design=f"DiD, {cov_type if cov_type != 'auto' else 'clustered'} SE",
                    n=f"{units} units x {periods} periods", rho=rho)


# --------------------------------------------------------------------------- the report's design
REGIONS = ("North", "South", "East", "West")


def simulate_region_study(rng: np.random.Generator, *, customers: int = 20_000, months: int = 12,
                          launch_month: int = 6, shock_sd: float = 0.02, effect: float = 0.0,
                          window_days: int = 30, base: float = 0.45, start: str = "2025-01-01") -> pd.DataFrame:
    """A conversion unit table of the demo's shape: new customers spread over ``months`` months
    (first touches up to ``window_days`` before the end, as the censoring rule keeps them) in
    four regions; the change launches in North at the start of month ``launch_month``.
    P(convert) = base + region offset + a common month trend + a region x month shock
    N(0, ``shock_sd``) shared by every customer of that region-month + ``effect`` for North
    customers first seen on or after the launch. Columns: customer_id, region, period (month
    start), window_start (first touch), window_end (+ window_days), conversion_rate (0/1)."""
    t0 = pd.Timestamp(start)
    end = t0 + pd.DateOffset(months=months)
    launch = t0 + pd.DateOffset(months=launch_month)
    span = (end - pd.Timedelta(days=window_days) - t0).total_seconds()
    first = t0 + pd.to_timedelta(np.sort(rng.uniform(0, span, customers)), unit="s")
    region = rng.integers(0, len(REGIONS), customers)
    month = (first.year - t0.year) * 12 + first.month - t0.month
    offset = np.array([-0.04, 0.02, 0.0, 0.03])
    trend = 0.01 * np.sin(np.arange(months) / 2.0)
    shock = rng.normal(0.0, shock_sd, (len(REGIONS), months))
    treated_post = (region == 0) & (first >= launch)
    p = base + offset[region] + trend[month] + shock[region, month] + effect * treated_post
    y = (rng.random(customers) < np.clip(p, 0, 1)).astype(int)
    return pd.DataFrame({"customer_id": np.arange(customers), "region": np.asarray(REGIONS)[region],
                         "period": first.to_period("M").to_timestamp(), "window_start": first,
                         "window_end": first + pd.Timedelta(days=window_days), "conversion_rate": y})


def calibrate_report_did(
    reps: int = 1000, *, customers: int = 20_000, shock_sd: float = 0.02, effect: float = 0.06,
    alpha: float = 0.05, seed: int = 0, did_inference: str = "assignment",
) -> dict:
    """The report's own DiD (``test_hypotheses`` on a hypothesis as the objectives stage
    registers it, ``did_inference`` as the impact stage runs it) on simulated studies of the
    demo's shape with common region x month shocks: the share of null studies where p < alpha
    (false positives), where the decision is "supported", where the design check fails, and
    the share of intervals that cover a planted ``effect``."""
    from .hypotheses import CHECK_FAILED, test_hypotheses

    h = {"id": "H1", "kpi": "conversion_rate", "direction": "increase", "alpha": alpha, "design": "did",
         "intervention": "new_checkout", "date": "2025-07-01",
         "treated": {"column": "region", "values": ["North"]}}
    rng = np.random.default_rng(seed)
    rej, sup, failed, cov, width = (np.empty(reps, bool), np.empty(reps, bool), np.empty(reps, bool),
                                    np.empty(reps, bool), np.empty(reps))
    for i in range(reps):
        null = simulate_region_study(rng, customers=customers, shock_sd=shock_sd)
        row = test_hypotheses([h], null, did_inference=did_inference).table.iloc[0]
        rej[i] = row.p_value < alpha
        sup[i] = row.decision == "supported"
        failed[i] = row.decision == CHECK_FAILED
        planted = simulate_region_study(rng, customers=customers, shock_sd=shock_sd, effect=effect)
        row = test_hypotheses([h], planted, did_inference=did_inference, ci_level=1 - alpha).table.iloc[0]
        cov[i] = row.ci_low <= effect <= row.ci_high
        width[i] = row.ci_high - row.ci_low
    design = ("report DiD, randomization inference (regions x periods)" if did_inference == "assignment"
              else "report DiD before issue 14 (customer-level robust SE)")
    out = _summary(rej, cov, reps, design=design, n=f"{customers:,} customers, 4 regions x 12 months",
                   shock=f"{100 * shock_sd:g} points")
    out.update(supported_when_null=float(sup.mean()), check_failed_when_null=float(failed.mean()),
               mean_ci_width=float(width.mean()))
    return out
