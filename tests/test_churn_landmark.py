"""Churn after tickets without looking into the future: a planted log where tickets are closed as
resolved when the customer comes back (so "resolved at the snapshot" partly means "bought
again"). The landmark comparison recovers the planted hazard ratio — 1 where resolution makes no
difference, 0.5 where it halves the rate — while the snapshot rule, computed here beside it, finds
an effect that is not there. Reference: lifelines (CoxPHFitter, Efron ties; KaplanMeierFitter) on a
landmark table built in the test from the planted arrays."""
from __future__ import annotations

import math

import lifelines  # the reference: a dev dependency (pyproject.toml)
import numpy as np
import pandas as pd
import pytest

from cxlab.errors import NotEnoughData
from cxlab.painpoints import churn_after_tickets

DAY = 86400
LANDMARK = 7
START = pd.Timestamp("2025-01-01")
END_DAY = 300  # the log's last event: observation ends here


def _ts(seconds: float) -> str:
    return str(START + pd.Timedelta(seconds=int(seconds)))


def planted(n: int = 3000, hr_after_landmark: float = 1.0, seed: int = 5) -> dict:
    """Customers with 1-3 purchases, then a ticket. Half the tickets are resolved within 3 days;
    the others would take 30-600 days (many are still open at the end of the data) — unless the
    customer buys again first: then 90% of them are closed as resolved two hours after that
    purchase (the look-ahead the snapshot rule falls for). The next purchase comes at a rate of
    exp(0.1 × prior purchases) / 120 a day, times ``hr_after_landmark`` after the landmark for
    tickets not resolved by then."""
    rng = np.random.default_rng(seed)
    prior = rng.integers(1, 4, n)
    first = rng.uniform(0, 120, n) * DAY
    opened = np.floor(first + prior * DAY + 3600)
    quick = rng.random(n) < 0.5
    resolve_at = opened + np.where(quick, rng.uniform(0.2, 3, n), rng.uniform(30, 600, n)) * DAY
    rate = np.exp(0.1 * prior) / 120
    early = rng.exponential(1 / rate)
    unresolved_at_landmark = ~quick  # slow tickets are never resolved within 7 days (nor by a purchase before it)
    late = LANDMARK + rng.exponential(1 / (rate * np.where(unresolved_at_landmark, hr_after_landmark, 1.0)))
    buy_at = np.floor(opened + np.where(early < LANDMARK, early, late) * DAY)
    end = END_DAY * DAY
    bought = buy_at < end
    closed_by_purchase = ~quick & bought & (buy_at < resolve_at) & (rng.random(n) < 0.9)
    closed = np.floor(np.where(closed_by_purchase, buy_at + 7200, resolve_at))
    closed_known = closed < end
    return {"n": n, "prior": prior, "first": first, "opened": opened, "buy_at": buy_at, "bought": bought,
            "closed": np.where(closed_known, closed, np.nan), "resolved": closed_known, "end": end}


def frames(p: dict, closed_at: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The planted customers as an event log (purchases, and one event at the end of
    observation) and a tickets table."""
    rows = []
    for i in range(p["n"]):
        c = f"c{i:05d}"
        rows += [{"customer_id": c, "timestamp": _ts(p["first"][i] + k * DAY), "touchpoint": "buy", "revenue": 10.0}
                 for k in range(p["prior"][i])]
        if p["bought"][i]:
            rows.append({"customer_id": c, "timestamp": _ts(p["buy_at"][i]), "touchpoint": "buy", "revenue": 10.0})
    rows.append({"customer_id": "zz_end", "timestamp": _ts(p["end"]), "touchpoint": "ad", "revenue": None})
    tickets = pd.DataFrame({
        "ticket_id": [f"t{i}" for i in range(p["n"])], "customer_id": [f"c{i:05d}" for i in range(p["n"])],
        "opened_at": [_ts(t) for t in p["opened"]],
        "closed_at": [_ts(t) if np.isfinite(t) else None for t in p["closed"]],
        "resolved": p["resolved"],
    })
    return pd.DataFrame(rows), tickets if closed_at else tickets.drop(columns="closed_at")


def write(make_study, p: dict, name: str, closed_at: bool = True):
    events, tickets = frames(p, closed_at)
    return make_study(name=name, events=events, tickets=tickets)


def reference_tables(p: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(snapshot table from the ticket, landmark table) built from the planted arrays."""
    days = (np.where(p["bought"], p["buy_at"], p["end"]) - p["opened"]) / DAY
    snap = pd.DataFrame({"days": days, "event": p["bought"].astype(int), "unresolved": (~p["resolved"]).astype(int),
                         "prior_purchases": p["prior"]})
    resolved_by = p["resolved"] & (p["closed"] - p["opened"] <= LANDMARK * DAY)
    at_risk = days > LANDMARK
    land = pd.DataFrame({"days": days - LANDMARK, "event": p["bought"].astype(int),
                         "unresolved": (~resolved_by).astype(int), "prior_purchases": p["prior"]})[at_risk]
    snap["day"] = np.ceil(snap["days"])
    land["day"] = np.ceil(land["days"])
    return snap, land.reset_index(drop=True)


def lifelines_hr(table: pd.DataFrame) -> tuple[float, float, float]:
    fit = lifelines.CoxPHFitter().fit(table[["day", "event", "unresolved", "prior_purchases"]], "day", "event")
    lo, hi = np.exp(fit.confidence_intervals_.loc["unresolved"].to_numpy())
    return float(fit.hazard_ratios_["unresolved"]), float(lo), float(hi)


@pytest.fixture(scope="module")
def null_case(tmp_path_factory):
    from conftest import write_study

    p = planted(hr_after_landmark=1.0)
    events, tickets = frames(p)
    with pytest.MonkeyPatch.context() as mp:  # module scope: outputs under a temporary home too
        mp.setenv("CXLAB_HOME", str(tmp_path_factory.mktemp("home")))
        folder = write_study(tmp_path_factory.mktemp("raw") / "null", events=events, tickets=tickets)
        yield p, churn_after_tickets(folder, landmark_days=LANDMARK)


def test_with_no_true_effect_the_landmark_finds_none_while_the_snapshot_rule_does(null_case):
    p, result = null_case
    snap, land = reference_tables(p)
    # the snapshot rule (what the stage did before): resolution read at the end of the data
    old, old_lo, old_hi = lifelines_hr(snap)
    # tickets still open at the end are those of customers who never came back: a spurious effect
    assert old_hi < 0.5, f"the snapshot rule should show a spurious effect here, got {old:.2f} [{old_lo:.2f}, {old_hi:.2f}]"
    hr = result.hazard_ratio
    assert hr.covers(1.0) and 0.85 < hr.estimate < 1.15, hr.summary()
    # the same number as lifelines on the landmark table built from the planted arrays
    ref, lo, hi = lifelines_hr(land)
    assert hr.estimate == pytest.approx(ref, rel=1e-5)
    assert (hr.ci_low, hr.ci_high) == (pytest.approx(lo, rel=1e-4), pytest.approx(hi, rel=1e-4))
    assert hr.n == len(land) and int(result.table.unresolved.sum()) == int(land.unresolved.sum())
    # the units left out: bought again, or observation ended, within the 7 days
    days = (np.where(p["bought"], p["buy_at"], p["end"]) - p["opened"]) / DAY
    assert result.table.attrs["bought_before"] == int(((days <= LANDMARK) & p["bought"]).sum())
    assert result.table.attrs["bought_before"] + len(result.table) + result.table.attrs["censored_before"] == p["n"]
    # the snapshot's reading is kept beside the landmark's, for comparison
    assert len(result.units) == p["n"] and int(result.units.unresolved.sum()) == int((~p["resolved"]).sum())


def test_the_kaplan_meier_groups_are_lifelines_on_the_landmark_table(null_case):
    p, result = null_case
    _, land = reference_tables(p)
    groups = result.groups.set_index("group")
    for name, flag in (("resolved", 0), ("unresolved", 1)):
        g = land[land.unresolved == flag]
        km = lifelines.KaplanMeierFitter().fit(g["days"], g["event"])
        assert groups.loc[name, "customers"] == len(g)
        assert groups.loc[name, "bought_again"] == pytest.approx(g.event.mean())
        assert groups.loc[name, "median_days_to_next_purchase"] == pytest.approx(km.median_survival_time_, rel=1e-6)
        assert groups.loc[name, "not_returned_at_horizon"] == pytest.approx(
            float(km.survival_function_at_times(result.horizon_days).iloc[0]), rel=1e-9)


def test_a_planted_hazard_ratio_of_one_half_is_recovered(make_study):
    p = planted(hr_after_landmark=0.5, seed=8)
    result = churn_after_tickets(write(make_study, p, "half"), landmark_days=LANDMARK)
    _, land = reference_tables(p)
    ref, _, _ = lifelines_hr(land)
    assert result.hazard_ratio.estimate == pytest.approx(ref, rel=1e-5)
    assert result.hazard_ratio.covers(0.5) and not result.hazard_ratio.covers(1.0)
    assert math.isclose(result.prior_purchase_ratio.estimate, math.exp(0.1), rel_tol=0.15)


def test_resolved_without_a_closing_time_is_left_out_and_no_closing_times_is_a_named_skip(make_study):
    p = planted(n=400, seed=9)
    p["closed"][:50] = np.nan  # marked resolved, closing time lost
    unknown_at_risk = int((p["resolved"][:50] & ((np.where(p["bought"], p["buy_at"], p["end"]) - p["opened"])[:50]
                                                  > LANDMARK * DAY)).sum())
    result = churn_after_tickets(write(make_study, p, "lost"), landmark_days=LANDMARK)
    assert result.table.attrs["resolution_unknown"] == unknown_at_risk > 0
    assert not set(result.table.customer_id) & {f"c{i:05d}" for i in range(50) if p["resolved"][i]}
    with pytest.raises(NotEnoughData) as info:
        churn_after_tickets(write(make_study, p, "no_closed_at", closed_at=False))
    assert "closed_at" in info.value.needs
