"""How firm the pain-point ranking is: the customer-level bootstrap of the register's priorities
and of the key drivers' shares, against an independent bootstrap written here (the same resample
indices, every number recomputed by hand from the planted tables with pandas, or by statsmodels
fits for the drivers); and planted cases — two pain points equal in truth cannot be told apart,
a dominant one ranks 1st in at least 95% of resamples, nothing harmful means no pain point."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from cxlab import data, painpoints
from cxlab.painpoints import (
    NO_PAIN_POINTS,
    build_register,
    churn_after_tickets,
    friction_signals,
    key_drivers,
    rank_table,
    resample_counts,
    share_draws,
    survey_responses,
    top_two,
)
from cxlab.painpoints.register import SCALES

DAY = 86400
START = pd.Timestamp("2025-01-01")
SUPPORT = ["call"]
CONTACT_DAYS = 7
WINDOW_DAYS = 30
MIN_RESPONSES = 5


# --------------------------------------------------------------------------- the resample draws
def test_resample_counts_are_the_documented_draws_whatever_the_blocking():
    idx = np.random.default_rng(3).integers(0, 50, size=(40, 50))
    expected = np.stack([np.bincount(row, minlength=50) for row in idx])
    for block_cells in (50, 7 * 50, 10**6):  # one resample a block, seven, all at once
        got = np.vstack([c for _, c in resample_counts(50, 40, 3, block_cells=block_cells)])
        assert (got == expected).all()


def test_rank_table_and_top_two_on_hand_made_draws():
    # four resamples of three items: a leads in three, b in one; c is last but once
    draws = np.array([[5.0, 4.0, 1.0], [6.0, 2.0, 3.0], [3.0, 4.0, 0.0], [7.0, 1.0, 2.0]])
    t = rank_table(draws, ["a", "b", "c"], ci_level=0.5).set_index("item")
    assert t.loc["a", "ranked_first"] == 0.75 and t.loc["b", "ranked_first"] == 0.25 and t.loc["c", "ranked_first"] == 0
    # ranks of b: 2, 3, 1, 3 — the 25% and 75% quantiles, taken at observed ranks
    assert (t.loc["b", "rank_low"], t.loc["b", "rank_high"]) == (np.quantile([2, 3, 1, 3], 0.25, method="lower"),
                                                                 np.quantile([2, 3, 1, 3], 0.75, method="higher"))
    assert t.loc["a", "ci_low"] == pytest.approx(np.quantile([5, 6, 3, 7], 0.25))
    tt = top_two(draws, [5.2, 2.8, 1.5], ["a", "b", "c"], ci_level=0.5)
    assert (tt.first, tt.second, tt.first_ranked_first) == ("a", "b", 0.75)
    assert tt.ci_low == pytest.approx(np.quantile([1, 4, -1, 6], 0.25)) and tt.distinguishable
    # at 95% the difference's interval includes 0 (b led once): not distinguishable
    assert not top_two(draws, [5.2, 2.8, 1.5], ["a", "b", "c"]).distinguishable
    assert "cannot be told apart" in top_two(draws, [5.2, 2.8, 1.5], ["a", "b", "c"]).sentence()


# --------------------------------------------------------------------------- a planted study
def _planted_tables(n: int = 240, seed: int = 21):
    """Customers over 100 days: ad, view, sometimes cart and a payment error, a purchase (less
    often after the error; some later than the 30-day window), calls to support after views and
    errors, surveys at view, pay_error and buy, tickets after purchases and repeat purchases."""
    rng = np.random.default_rng(seed)
    events, surveys, tickets = [], [], []

    def ev(c, t, tp):
        events.append({"customer_id": c, "timestamp": str(START + pd.Timedelta(seconds=int(t))), "touchpoint": tp})

    for i in range(n):
        c = f"c{i:03d}"
        t0 = rng.uniform(0, 100) * DAY
        ev(c, t0, "ad")
        t = t0 + rng.uniform(1, 48) * 3600
        ev(c, t, "view")
        if rng.random() < 0.3:
            ev(c, t + rng.uniform(0, 5) * DAY, "call")
        if rng.random() < 0.4:
            surveys.append((c, t + 3600, "view", int(rng.integers(3, 6))))
        error = False
        if rng.random() < 0.6:
            t += rng.uniform(1, 12) * 3600
            ev(c, t, "cart")
            if rng.random() < 0.35:
                error = True
                t += 600
                ev(c, t, "pay_error")
                if rng.random() < 0.5:
                    ev(c, t + rng.uniform(0, 2) * DAY, "call")
                if rng.random() < 0.8:
                    surveys.append((c, t + 3600, "pay_error", int(rng.integers(1, 3))))
        if rng.random() < (0.3 if error else 0.7):
            t += (rng.uniform(35, 50) if rng.random() < 0.2 else rng.uniform(0.5, 10)) * DAY
            ev(c, t, "buy")
            if rng.random() < 0.4:
                surveys.append((c, t + 3600, "buy", int(rng.integers(4, 6))))
            if rng.random() < 0.6:
                opened = t + rng.uniform(1, 3) * DAY
                resolved = rng.random() < 0.5
                tickets.append({"ticket_id": f"t{i}", "customer_id": c,
                                "opened_at": str(START + pd.Timedelta(seconds=int(opened))),
                                "closed_at": str(START + pd.Timedelta(seconds=int(opened + DAY))) if resolved else None,
                                "resolved": resolved})
                if rng.random() < (0.8 if resolved else 0.4):
                    ev(c, opened + rng.uniform(8, 60) * DAY, "buy")
            if rng.random() < 0.3:
                ev(c, t + 5 * DAY, "review")
    surveys = pd.DataFrame([{"response_id": f"r{k}", "customer_id": c,
                             "timestamp": str(START + pd.Timedelta(seconds=int(t))), "touchpoint": tp, "csat": s}
                            for k, (c, t, tp, s) in enumerate(surveys)])
    return pd.DataFrame(events), surveys, pd.DataFrame(tickets)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    from conftest import write_study

    events, surveys, tickets = _planted_tables()
    with pytest.MonkeyPatch.context() as mp:  # module scope: outputs under a temporary home too
        mp.setenv("CXLAB_HOME", str(tmp_path_factory.mktemp("home")))
        folder = write_study(tmp_path_factory.mktemp("raw") / "planted", events=events, surveys=surveys,
                             tickets=tickets, conversion_window_days=WINDOW_DAYS)
        study = data.ensure_clean(folder)
        friction = friction_signals(study, support_touchpoints=SUPPORT, repeat_contact_days=CONTACT_DAYS)
        responses = survey_responses(study)
        churn = churn_after_tickets(study)
        yield study, friction, responses, churn, (events, surveys, tickets)


def _seconds(values) -> np.ndarray:
    return (pd.to_datetime(pd.Series(values)) - pd.Timestamp("1970-01-01")).dt.total_seconds().to_numpy() // 1


def _by_hand(events: pd.DataFrame, surveys: pd.DataFrame, tickets: pd.DataFrame, churn_units: pd.DataFrame):
    """Per customer, what the priority is made of, computed from the raw tables with pandas:
    (customer facts, per customer-and-touchpoint facts, responses, customers with an unresolved
    ticket)."""
    ev = events.reset_index(names="seq").assign(t=lambda d: _seconds(d.timestamp))
    ev = ev.sort_values(["customer_id", "t", "seq"])
    observed_until = (ev.t.max() // DAY + 1) * DAY
    cust = ev.groupby("customer_id").agg(first_t=("t", "min"))
    cust["first_goal_t"] = ev[ev.touchpoint == "buy"].groupby("customer_id").t.min()
    w = WINDOW_DAYS * DAY
    cust["converted"] = cust.first_goal_t.notna() & (cust.first_goal_t <= cust.first_t + w)
    cust["compared"] = cust.first_t + w <= observed_until
    # before the outcome: before the customer's first goal event (in order) and inside the window
    ev["goals_so_far"] = (ev.touchpoint == "buy").astype(int).groupby(ev.customer_id).cumsum()
    ev["early"] = (ev.goals_so_far == 0) & (ev.t <= ev.customer_id.map(cust.first_t) + w)
    # a support contact (a call or a ticket) more than 0 s and at most 7 days after the event
    contacts = pd.concat([ev.loc[ev.touchpoint.isin(SUPPORT), ["customer_id", "t"]],
                          pd.DataFrame({"customer_id": tickets.customer_id, "t": _seconds(tickets.opened_at)})])
    times = contacts.groupby("customer_id").t.apply(np.array)
    ev["contact_after"] = [bool(((times.get(c, np.array([])) - t >= 1) & (times.get(c, np.array([])) - t <= CONTACT_DAYS * DAY)).any())
                           for c, t in zip(ev.customer_id, ev.t)]
    pairs = ev.groupby(["customer_id", "touchpoint"]).agg(events=("t", "size"), contacts=("contact_after", "sum"),
                                                         early=("early", "any")).reset_index()
    affected = set(tickets.loc[tickets.resolved != True, "customer_id"])  # noqa: E712 (None is unresolved too)
    return cust, pairs, surveys, affected, churn_units.set_index("customer_id")[["unresolved", "event"]]


def _priorities_of_a_draw(facts, draw: np.ndarray, customers: np.ndarray, items: list) -> list[float]:
    """The register's priority of each item on the customers ``customers[draw]`` (a customer drawn
    twice counts twice), the formula written out again."""
    cust, pairs, surveys, affected, units = facts
    drawn = pd.DataFrame({"customer_id": customers[draw]})
    n_log = drawn.customer_id.isin(cust.index).sum()
    c = drawn.join(cust, on="customer_id")
    p = drawn.merge(pairs, on="customer_id")
    s = drawn.merge(surveys, on="customer_id")
    non_support = p[~p.touchpoint.isin(SUPPORT)]
    base = non_support.contacts.sum() / max(non_support.events.sum(), 1)
    out = []
    for tp in items:
        if tp is None:  # unresolved tickets: reach, and the gap in buying again at the landmark
            u = drawn.join(units, on="customer_id", how="inner")
            gap = u[~u.unresolved].event.mean() - u[u.unresolved].event.mean()
            out.append(100 * drawn.customer_id.isin(affected).sum() / n_log * max(gap, 0.0))
            continue
        here = p[p.touchpoint == tp]
        reach = len(here)
        early = here[here.early].join(cust, on="customer_id")
        early = early[early.compared]
        compared = c[c.compared]
        n1, k1 = len(early), early.converted.sum()
        n0, k0 = len(compared) - n1, compared.converted.sum() - k1
        conv = k1 / n1 - k0 / n0 if n1 and n0 and tp != "buy" else np.nan
        rate = here.contacts.sum() / here.events.sum()
        extra = np.nan if tp in SUPPORT else rate - base
        a, b = s[s.touchpoint == tp].csat, s[s.touchpoint != tp].csat
        sat = a.mean() - b.mean() if len(a) >= MIN_RESPONSES and len(b) >= 2 else np.nan
        lo, hi = SCALES["csat"]
        harm = (max(0.0, -conv) if conv == conv else 0.0) + (max(0.0, -sat) / (hi - lo) if sat == sat else 0.0) \
            + (max(0.0, extra) if extra == extra else 0.0)
        out.append(100 * reach / n_log * harm)
    return out


def test_the_register_bootstrap_equals_an_independent_bootstrap_of_the_planted_study(planted):
    study, friction, responses, churn, raw = planted
    n_resamples, seed = 40, 17
    reg = build_register(study, friction, responses, churn=churn, min_customers=5, min_responses=MIN_RESPONSES,
                         n_resamples=n_resamples, seed=seed)
    t = reg.table
    items = [None if k == "support" else tp for k, tp in zip(t.kind, t.touchpoint)]
    assert None in items and "pay_error" in items and "buy" not in items  # a goal is never a pain point
    facts = _by_hand(*raw, churn.table)
    customers = np.array(sorted(raw[0].customer_id.unique()))
    # the whole data: the hand computation gives the register's own priorities
    assert _priorities_of_a_draw(facts, np.arange(len(customers)), customers, items) == pytest.approx(
        t.priority.tolist(), rel=1e-9)
    # each resample: the documented indices, every number recomputed by hand
    draws = np.random.default_rng(seed).integers(0, len(customers), size=(n_resamples, len(customers)))
    by_hand = np.array([_priorities_of_a_draw(facts, d, customers, items) for d in draws])
    lo, hi = np.quantile(by_hand, [0.025, 0.975], axis=0)
    assert t.priority_ci_low.to_numpy() == pytest.approx(lo, rel=1e-9, abs=1e-12)
    assert t.priority_ci_high.to_numpy() == pytest.approx(hi, rel=1e-9, abs=1e-12)
    ranks = np.array([pd.Series(-row).rank(method="min").to_numpy() for row in by_hand])
    assert t.ranked_first.to_numpy() == pytest.approx((ranks == 1).mean(axis=0))
    assert t.rank_low.to_numpy() == pytest.approx(np.quantile(ranks, 0.025, axis=0, method="lower"))
    assert t.rank_high.to_numpy() == pytest.approx(np.quantile(ranks, 0.975, axis=0, method="higher"))
    diff = by_hand[:, 0] - by_hand[:, 1]
    assert reg.ranking.ci_low == pytest.approx(np.quantile(diff, 0.025), rel=1e-9, abs=1e-12)
    assert reg.ranking.distinguishable == (np.quantile(diff, 0.025) > 0)


def test_the_friction_signals_kept_per_customer_are_the_hand_counts_and_give_the_same_register(planted):
    """The pain-point stage keeps the friction signals' per-customer contacts for the bootstrap
    (``by_customer=True``) instead of computing the contact stream a second time."""
    study, friction, responses, churn, raw = planted
    kept = friction_signals(study, support_touchpoints=SUPPORT, repeat_contact_days=CONTACT_DAYS, by_customer=True)
    assert friction.by_customer is None  # only when asked
    _, pairs, *_ = _by_hand(*raw, churn.table)
    keys = ["customer_id", "touchpoint"]
    got = kept.by_customer.astype({"customer_id": str, "touchpoint": str}).sort_values(keys, ignore_index=True)
    want = pairs.sort_values(keys, ignore_index=True)
    assert got[keys].equals(want[keys].astype(str))
    assert got.events.tolist() == want.events.tolist() and got.contacts.tolist() == want.contacts.tolist()
    assert got.contacts.sum() > 0
    args = dict(churn=churn, min_customers=5, min_responses=MIN_RESPONSES, n_resamples=40, seed=17)
    pd.testing.assert_frame_equal(build_register(study, kept, responses, **args).table,
                                  build_register(study, friction, responses, **args).table)


# --------------------------------------------------------------------------- planted rankings
def _two_pain_points(n: int, x_share: float, x_conv: float, y_share: float, y_conv: float) -> pd.DataFrame:
    """Everyone sees the ad; the first ``x_share`` of the customers meet view (x), the next
    ``y_share`` pay_error (y); each group converts at exactly its rate (every k-th customer in
    ten), the others at 60%."""
    rows = []
    for i in range(n):
        c = f"c{i:04d}"
        rows.append((c, "2025-01-01 10:00", "ad"))
        tp, conv = ("view", x_conv) if i < x_share * n else ("pay_error", y_conv) if i < (x_share + y_share) * n \
            else (None, 0.6)
        if tp:
            rows.append((c, "2025-01-01 10:05", tp))
        if i % 10 < round(10 * conv):
            rows.append((c, "2025-01-01 10:10", "buy"))
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "touchpoint"])


def test_two_pain_points_equal_in_truth_cannot_be_told_apart(make_study):
    study = make_study(events=_two_pain_points(3000, 0.25, 0.3, 0.25, 0.3), conversion_window_days=None)
    result = painpoints.analyze(study, n_resamples=200, seed=0)
    reg = result.register
    assert set(reg.table.touchpoint) == {"view", "pay_error"}
    assert reg.table.priority.iloc[0] == pytest.approx(reg.table.priority.iloc[1])  # equal in the sample too
    assert not reg.ranking.distinguishable and reg.ranking.ci_low < 0 < reg.ranking.ci_high
    assert 0.1 < reg.table.ranked_first.iloc[0] < 0.9 and (reg.table.rank_high == 2).all()
    assert "cannot be told apart" in result.headlines()[1] and reg.ranking.first in result.headlines()[1]


def test_a_dominant_pain_point_ranks_first_in_at_least_95_percent_of_resamples(make_study):
    study = make_study(events=_two_pain_points(3000, 0.4, 0.1, 0.1, 0.2), conversion_window_days=None)
    result = painpoints.analyze(study, n_resamples=200, seed=0)
    reg = result.register
    top = reg.table.iloc[0]
    assert top.touchpoint == "view" and top.ranked_first >= 0.95 and (top.rank_low, top.rank_high) == (1, 1)
    assert reg.ranking.distinguishable
    assert top.priority_ci_low < top.priority < top.priority_ci_high
    head = result.headlines()[0]
    assert head.startswith("Top pain point: View, in the consideration stage") and f"ranked 1st in {top.ranked_first:.0%} of 200 resamples" in head
    assert result.metrics()["top_pain_point_ranked_first"] == top.ranked_first


def test_without_harm_no_pain_point_is_ranked_and_the_headline_says_so(make_study):
    # everyone meets touchpoints "1" and "2" (no comparison) and buys 10 days later, then calls
    # support: only the purchase is followed by contacts — and a goal is never a pain point
    rows = []
    for i in range(60):
        c, day = f"c{i:02d}", START + pd.Timedelta(days=i % 20)
        rows += [(c, str(day), "1"), (c, str(day + pd.Timedelta(hours=1)), "2"),
                 (c, str(day + pd.Timedelta(days=10)), "buy"), (c, str(day + pd.Timedelta(days=10, hours=2)), "call")]
    study = make_study(events=pd.DataFrame(rows, columns=["customer_id", "timestamp", "touchpoint"]),
                       conversion_window_days=None)
    result = painpoints.analyze(study, support_touchpoints=SUPPORT, n_resamples=50)
    ft = result.friction.by_touchpoint.set_index("touchpoint")
    assert ft.loc["buy", "contact_rate"] == 1.0 and ft.loc["1", "contact_rate"] == 0.0
    assert result.register.table.empty
    assert result.headlines()[0] == NO_PAIN_POINTS.format(min_customers=30)
    assert "top_pain_point" not in result.metrics() and result.metrics()["pain_points_ranked"] == 0
    assert pd.read_parquet(result.write()["pain_points"]).empty


# --------------------------------------------------------------------------- key drivers
def _lmg_share_by_fits(frame: pd.DataFrame, outcome: str, drivers: list[str]) -> np.ndarray:
    """Each driver's share of R²: its R² gain averaged over every order of entry, from
    statsmodels OLS fits on the rows as given."""
    y = frame[outcome].to_numpy(float)

    def r2(cols) -> float:
        return sm.OLS(y, sm.add_constant(frame[list(cols)].to_numpy(float))).fit().rsquared if cols else 0.0

    gains = np.zeros(len(drivers))
    orders = list(itertools.permutations(range(len(drivers))))
    for order in orders:
        before = 0.0
        for k, j in enumerate(order):
            after = r2([drivers[i] for i in sorted(order[: k + 1])])
            gains[j] += after - before
            before = after
    gains /= len(orders)
    return gains / r2(drivers)


def test_driver_shares_equal_an_independent_bootstrap_over_statsmodels_fits():
    rng = np.random.default_rng(6)
    rows = []
    for i in range(70):
        for _ in range(rng.integers(1, 4)):  # one to three responses per customer
            a, b, c = rng.integers(1, 6, size=3)
            csat = float(np.clip(round(0.6 * a + 0.3 * b + 0.1 * c + rng.normal(0, 0.6)), 1, 5))
            rows.append({"customer_id": f"c{i:02d}", "csat": csat, "driver_a": a, "driver_b": b, "driver_c": c})
    frame = pd.DataFrame(rows).astype({f"driver_{k}": float for k in "abc"})
    drivers = ["driver_a", "driver_b", "driver_c"]
    n_resamples, seed = 25, 4
    got = share_draws(frame[drivers], frame["csat"], frame["customer_id"], n_resamples, seed)
    customers = np.array(sorted(frame.customer_id.unique()))
    draws = np.random.default_rng(seed).integers(0, len(customers), size=(n_resamples, len(customers)))
    by_hand = np.array([
        _lmg_share_by_fits(pd.concat([frame[frame.customer_id == customers[k]] for k in d]), "csat", drivers)
        for d in draws])
    assert got == pytest.approx(by_hand, rel=1e-8)
    kd = key_drivers(frame, "csat", min_responses=30, n_resamples=n_resamples, seed=seed)
    t = kd.table.set_index("driver").loc[drivers]
    assert t.share_ci_low.to_numpy() == pytest.approx(np.quantile(by_hand, 0.025, axis=0), rel=1e-8)
    assert t.share_ci_high.to_numpy() == pytest.approx(np.quantile(by_hand, 0.975, axis=0), rel=1e-8)
    first = (by_hand == by_hand.max(axis=1, keepdims=True)).mean(axis=0)
    assert t.ranked_first.to_numpy() == pytest.approx(first)
    assert kd.top() == "driver_a" and t.loc["driver_a", "ranked_first"] >= 0.95 and kd.ranking.distinguishable
    assert "ranked 1st in" in kd.top_sentence()
