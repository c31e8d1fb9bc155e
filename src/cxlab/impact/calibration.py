"""Monte Carlo checks that the tests keep their promises: with no effect they reject at the
nominal rate, and their 95% intervals cover a planted effect 95% of the time.

Used by the test suite (small, seeded) and benchmarks/impact_simulation.py (larger)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .designs import did
from ..stats.twosample import two_proportions

__all__ = ["calibrate_two_proportions", "calibrate_did", "simulate_did_panel"]


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
