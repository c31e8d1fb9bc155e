"""The vectorized journey simulation of one chunk of customers.

A customer's life in the study, all drawn with numpy over the whole chunk at once (the only
Python loop runs over purchase rounds, never over customers or events):

1. acquisition: a first touch ``t0`` spread over the study (at least 30 days before its end),
   a segment, a region, and a conversion probability ``p`` (segment + region + month of ``t0`` +
   the intervention). Converters buy at the end of their first journey, at most 28 days after
   ``t0``; non-converters bounce, browse, abandon a checkout, or hit a payment error (and then
   maybe contact support and open a payment ticket). Some non-converters come back and buy
   later, always more than 30 days after ``t0``.
2. purchase rounds: after each purchase a ticket may be opened. The customer's first ticket after
   a purchase draws the time to the next purchase from the planted proportional-hazards model
   (unresolved and the number of purchases so far); otherwise the next purchase follows the
   segment's renewal process (continue with a probability, gamma gap).
3. decoration: every journey is a list of touchpoint roles (awareness, views, checkout, error,
   retry, purchase, support, and post-purchase tracking, returns, chat, call, review, loyalty app,
   referral) placed in time with the segment's pace; none of them is a goal touchpoint except
   the planned purchases, so the planted conversion and hazard definitions hold exactly.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import catalog as C
from .catalog import DAY, HOUR, MINUTE, TP, choice_cum, pick

ROLES = ["aware", "consider", "checkout", "error", "retry", "purchase", "support"] + C.POST_ROLES
R = {name: i for i, name in enumerate(ROLES)}
N_ROLES = len(ROLES)
_FIXED_ROLE_TP = {
    "track": TP["order_tracking"], "returns": TP["returns_portal"], "chat": TP["chat_support"],
    "call": TP["call_centre_call"], "review": TP["review_written"], "loyalty_app": TP["loyalty_app_open"],
    "referral": TP["referral_sent"], "error": TP["payment_error"],
}
_FLEX_CHANNEL_TPS = np.array([TP["payment_error"], TP["order_tracking"], TP["chat_support"]])


@dataclass
class Frame:
    """Study period and intensity shared by all chunks (times in seconds from the start)."""

    end: float
    intervention: float
    month_edges: np.ndarray          # start of each month, seconds from the start, plus the end
    month_of_year: np.ndarray        # calendar month (0-11) of each study month
    intensity: float = 1.0

    def month(self, t: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.month_edges, t, side="right") - 1
        return self.month_of_year[np.clip(idx, 0, len(self.month_of_year) - 1)]


@dataclass
class Chunk:
    """Everything one chunk produced, as numpy arrays (customer indices are chunk-local)."""

    n: int
    seg: np.ndarray
    region: np.ndarray
    age: np.ndarray
    income: np.ndarray
    gender: np.ndarray
    signup_day: np.ndarray
    t0: np.ndarray
    p_convert: np.ndarray
    converted: np.ndarray
    # events, sorted by customer then time
    ev_cust: np.ndarray = None
    ev_time: np.ndarray = None
    ev_tp: np.ndarray = None
    ev_channel: np.ndarray = None
    ev_revenue: np.ndarray = None
    # first purchase of each purchaser (for the expected repeat-purchase rate)
    first_purchase: np.ndarray = None
    first_channel: np.ndarray = None
    # tickets
    tickets: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- episodes
def _build(rng, cust, seg, ch, counts, anchor, max_span, from_end):
    """Place each episode's events in time. ``counts`` is episodes x roles (events in role order).

    An episode starts at ``anchor`` (or ends there when ``from_end``); its events keep the relative
    gaps drawn from the segment's pace and are squeezed to ``max_span`` seconds if longer.
    Returns event arrays (customer, time, role, episode) and each episode's end time.
    """
    n_ep = counts.sum(1)
    total = int(n_ep.sum())
    ep = np.repeat(np.arange(len(cust)), n_ep)
    role = np.repeat(np.tile(np.arange(N_ROLES), len(cust)), counts.ravel())
    g = seg[cust[ep]]
    starts = np.cumsum(n_ep) - n_ep
    first = np.zeros(total, dtype=bool)
    first[starts[n_ep > 0]] = True

    u = rng.random(total)
    session_gap = rng.exponential(1.0, total) * C.SESSION_GAP_DAYS[g] * DAY
    within_gap = 10.0 + rng.exponential(1.0, total) * C.WITHIN_GAP_MIN[g] * MINUTE
    block_gap = 20.0 + rng.exponential(90.0, total)
    post_gap = rng.exponential(1.0, total) * DAY * np.where(role == R["track"], C.POST_GAP_DAYS["track"],
                                                            C.POST_GAP_DAYS["default"])
    browse = np.where(u < C.P_NEW_SESSION[g], session_gap, within_gap)
    gap = np.where(role <= R["consider"], browse,
          np.where(role == R["checkout"], np.where(u < 0.3, session_gap, within_gap),
          np.where(role <= R["purchase"], block_gap, post_gap)))
    gap[first] = 0.0
    cs = np.cumsum(gap)
    has = n_ep > 0
    base = np.repeat(cs[starts[has]] - gap[starts[has]], n_ep[has])
    cum = cs - base
    ep_total = np.zeros(len(cust))
    ep_total[has] = cum[starts[has] + n_ep[has] - 1]
    span = np.minimum(ep_total, max_span)
    ep_start = np.where(from_end, anchor - span, anchor)
    frac = np.divide(cum, ep_total[ep], out=np.zeros(total), where=ep_total[ep] > 0)
    time = ep_start[ep] + span[ep] * frac
    return cust[ep], time, role, ep, ep_start + span


def _touchpoints(rng, role, seg, ch):
    """Touchpoint and event channel of each event from its role, segment and purchase channel."""
    n = len(role)
    tp = np.full(n, -1, dtype=np.int64)
    m = role == R["aware"]
    tp[m] = C.AWARE_TPS[pick(rng, choice_cum(C.AWARE_P)[seg[m]])]
    m = role == R["consider"]
    tp[m] = C.CONSIDER_TPS[pick(rng, choice_cum(C.CONSIDER_P)[seg[m], ch[m]])]
    m = (role == R["checkout"]) | (role == R["retry"])
    tp[m] = C.CHECKOUT_TP[ch[m]]
    m = role == R["purchase"]
    tp[m] = C.PURCHASE_TP[ch[m]]
    m = role == R["support"]
    call = rng.random(n) < C.SUPPORT_CALL_SHARE[seg]
    tp[m] = np.where(call[m], TP["call_centre_call"], TP["chat_support"])
    for name, idx in _FIXED_ROLE_TP.items():
        tp[role == R[name]] = idx
    channel = C.TP_CHANNEL[tp].copy()
    flex = np.isin(tp, _FLEX_CHANNEL_TPS)
    channel[flex] = np.where(ch[flex] == 1, C.APP, C.WEB)
    return tp, channel


_HOUR_CDF = np.r_[0.0, np.cumsum(C.ACQ_HOUR_WEIGHTS)] / C.ACQ_HOUR_WEIGHTS.sum()


def daytime(t: np.ndarray) -> np.ndarray:
    """Reshape the time of day to the daily activity profile (monotone within each day).

    The simulation draws gaps in continuous time, so times of day come out uniform; this maps
    each day onto itself, keeping the date and the order of everything, so planted definitions
    (30-day windows, before/after the intervention date, next purchase after a ticket) still hold.
    """
    day = np.floor(t / DAY)
    return (day + np.interp(t / DAY - day, _HOUR_CDF, np.arange(25) / 24)) * DAY


def _new_counts(n):
    return np.zeros((n, N_ROLES), dtype=np.int64)


# ----------------------------------------------------------------------------- the chunk
def simulate(rng: np.random.Generator, n: int, frame: Frame) -> Chunk:
    f = frame.intensity
    end = frame.end
    seg = rng.choice(len(C.SEGMENTS), size=n, p=C.SEGMENT_SHARES)
    region = rng.choice(len(C.REGIONS), size=n, p=C.REGION_SHARES)
    acq_days = int((end - 30 * DAY) // DAY)
    t0 = (rng.integers(0, acq_days, n) + rng.random(n)) * DAY
    age = np.clip(np.rint(rng.normal(C.AGE[seg, 0], C.AGE[seg, 1])), 18, 85).astype(np.int64)
    income = (np.rint(C.INCOME_MEDIAN[seg] * np.exp(rng.normal(0, 0.35, n)) / 100) * 100).astype(np.int64)
    gender = rng.choice(3, size=n, p=[0.49, 0.48, 0.03])
    earlier = rng.random(n) < 0.45
    signup_day = np.floor(t0 / DAY).astype(np.int64) - np.where(earlier, rng.integers(1, 900, n), 0)

    treated_post = (region == C.TREATED_REGION) & (t0 >= frame.intervention)
    p = (C.BASE_CONVERSION[seg] + C.CONVERSION_REGION_OFFSET[region] + C.CONVERSION_MONTH_TREND[frame.month(t0)]
         + C.CONVERSION_EFFECT * treated_post)
    p = np.clip(p, 0.01, 0.99)
    conv = rng.random(n) < p
    chunk = Chunk(n, seg, region, age, income, gender, signup_day, t0, p, conv)

    # --- acquisition journeys
    ch0 = pick(rng, choice_cum(C.PURCHASE_CHANNEL_P)[seg])
    online = ch0 < 2
    bounce = ~conv & (rng.random(n) < C.BOUNCE[seg])
    ending = np.where(online, pick(rng, np.tile(choice_cum(C.NONCONV_ENDING), (n, 1))), 0)
    ending = np.where(conv | bounce, -1, ending)
    err0 = conv & online & (rng.random(n) < C.PAYMENT_ERROR_CONVERTER)
    k = _new_counts(n)
    k[:, R["aware"]] = 1 + rng.poisson(np.where(bounce, 0.5, C.AWARE_EXTRA[seg]) * f)
    k[:, R["consider"]] = np.where(bounce, 0, 1 + rng.poisson((C.CONSIDER_MEAN[seg] - 1) * f))
    k[:, R["checkout"]] = online & (conv | (ending >= 1))
    k[:, R["error"]] = err0 | (ending == 2)
    k[:, R["retry"]] = err0
    k[:, R["purchase"]] = conv
    cust = np.arange(n)
    parts = [_build(rng, cust, seg, ch0, k, t0, np.full(n, 27.9 * DAY), np.zeros(n, bool)) + (ch0,)]
    acq_end = parts[0][4]

    # payment-error drop-offs: support contact and a payment ticket soon after
    dropped = ending == 2
    support = dropped & (rng.random(n) < C.SUPPORT_AFTER_ERROR)
    k = _new_counts(n)
    k[:, R["support"]] = support
    t_support = acq_end + rng.uniform(0.02, 6.5, n) * DAY
    parts.append(_build(rng, cust, seg, ch0, k, t_support, np.zeros(n), np.zeros(n, bool)) + (ch0,))
    drop_ticket = dropped & (rng.random(n) < C.TICKET_AFTER_ERROR_DROPOFF)
    t_drop_ticket = acq_end + rng.uniform(0.01, 5.0, n) * DAY

    # win-back: a later first purchase, always > 30 days after the first touch
    wb_p = C.WINBACK[seg] * np.where(dropped, C.WINBACK_AFTER_ERROR, 1.0)
    winback = ~conv & (rng.random(n) < wb_p)
    t_wb = t0 + (C.WINBACK_MIN_DAYS + rng.gamma(2.0, C.WINBACK_GAP_DAYS / 2, n)) * DAY
    winback &= t_wb < end
    ch_wb = pick(rng, choice_cum(C.PURCHASE_CHANNEL_P)[seg])
    err_wb = (ch_wb < 2) & (rng.random(n) < C.PAYMENT_ERROR_CONVERTER)

    # --- purchase rounds
    c_idx = np.concatenate([cust[conv], cust[winback]])
    c_P = np.concatenate([acq_end[conv], t_wb[winback]])
    c_ch = np.concatenate([ch0[conv], ch_wb[winback]])
    c_err = np.concatenate([err0[conv], err_wb[winback]])
    c_acq = np.concatenate([np.ones(conv.sum(), bool), np.zeros(winback.sum(), bool)])
    c_anchor = np.concatenate([t0[conv], t0[winback] + 30 * DAY])
    c_k = np.zeros(len(c_idx), dtype=np.int64)
    order = np.argsort(c_idx, kind="stable")
    c_idx, c_P, c_ch, c_err, c_acq, c_anchor = (a[order] for a in (c_idx, c_P, c_ch, c_err, c_acq, c_anchor))
    chunk.first_purchase = np.full(n, np.nan)
    chunk.first_purchase[c_idx] = c_P
    chunk.first_channel = np.full(n, -1)
    chunk.first_channel[c_idx] = c_ch

    ph_done = np.zeros(n, dtype=bool)
    rounds = []
    tk_parts = []
    cat_cum = np.tile(choice_cum(C.TICKET_CATEGORY_P), (1, 1))
    while len(c_idx):
        m = len(c_idx)
        rounds.append((c_idx, c_P, c_ch, c_err, c_acq, c_anchor))
        g = seg[c_idx]
        opened = rng.random(m) < np.where(c_err, C.TICKET_P_ERROR, C.TICKET_P)
        cat = np.where(c_err, 0, pick(rng, np.repeat(cat_cum, m, axis=0)))
        delay = np.where(c_err, rng.uniform(*C.TICKET_DELAY_ERROR_DAYS, m), rng.uniform(*C.TICKET_DELAY_DAYS, m))
        T = c_P + delay * DAY
        unresolved = rng.random(m) < C.UNRESOLVED_P[cat]
        unit = opened & ~ph_done[c_idx]
        ph_done[c_idx[unit]] = True
        rate = (C.HAZARD_BASELINE_PER_DAY * np.where(unresolved, C.HAZARD_RATIO_UNRESOLVED, 1.0)
                * np.exp(C.HAZARD_COEF_PRIOR * (c_k + 1)))
        t_hazard = T + rng.exponential(1.0, m) / rate * DAY
        cont = rng.random(m) < C.REPEAT_CONTINUE[g]
        t_renew = c_P + rng.gamma(C.REPEAT_GAP_SHAPE, C.REPEAT_GAP_DAYS[g] / C.REPEAT_GAP_SHAPE, m) * DAY
        nxt = np.where(unit, t_hazard, np.where(cont, t_renew, np.inf))
        tk_parts.append({"cust": c_idx[opened], "opened": T[opened], "category": cat[opened],
                         "unresolved": unresolved[opened], "unit": unit[opened],
                         "prior": (c_k + 1)[opened]})
        new_ch = pick(rng, choice_cum(C.PURCHASE_CHANNEL_P)[g])
        new_err = (new_ch < 2) & (rng.random(m) < C.PAYMENT_ERROR_CONVERTER)
        keep = nxt < end
        c_anchor = np.where(unit, T, c_P)[keep]
        c_idx, c_P, c_ch, c_err = c_idx[keep], nxt[keep], new_ch[keep], new_err[keep]
        c_k = c_k[keep] + 1
        c_acq = np.zeros(len(c_idx), bool)
    # all purchases
    p_idx, p_P, p_ch, p_err, p_acq, p_anchor = (np.concatenate([r[i] for r in rounds]) if rounds else
                                                np.zeros(0) for i in range(6))
    p_idx = p_idx.astype(np.int64)
    p_ch = p_ch.astype(np.int64)
    p_err = p_err.astype(bool)
    p_acq = p_acq.astype(bool)

    # repeat and win-back journeys before each purchase (the acquisition ones are built already)
    rep = ~p_acq
    r_idx, r_ch, r_err, r_seg = p_idx[rep], p_ch[rep], p_err[rep], seg[p_idx[rep]]
    first_buy = np.isnan(chunk.first_purchase[r_idx]) | (chunk.first_purchase[r_idx] == p_P[rep])
    wb = first_buy & ~conv[r_idx]
    k = _new_counts(len(r_idx))
    k[:, R["aware"]] = wb + rng.poisson(C.REPEAT_AWARE[r_seg] * f)
    k[:, R["consider"]] = wb + rng.poisson(C.REPEAT_CONSIDER[r_seg] * f)
    k[:, R["checkout"]] = r_ch < 2
    k[:, R["error"]] = r_err
    k[:, R["retry"]] = r_err
    k[:, R["purchase"]] = 1
    max_span = 0.8 * (p_P[rep] - p_anchor[rep])
    parts.append(_build(rng, r_idx, seg, r_ch, k, p_P[rep], max_span, np.ones(len(r_idx), bool)) + (r_ch,))

    # after each purchase: tracking, returns, chat, call, review, loyalty app, referral
    k = _new_counts(len(p_idx))
    means = C.POST_MEAN[seg[p_idx]] * f
    means[:, 0] *= p_ch < 2
    k[:, R["track"]:] = rng.poisson(means)
    start = p_P + 600 + rng.exponential(2 * HOUR, len(p_idx))
    parts.append(_build(rng, p_idx, seg, p_ch, k, start, np.full(len(p_idx), np.inf),
                        np.zeros(len(p_idx), bool)) + (p_ch,))

    # --- assemble the event log
    e_cust = np.concatenate([pt[0] for pt in parts])
    e_time = np.concatenate([pt[1] for pt in parts])
    e_role = np.concatenate([pt[2] for pt in parts])
    e_ch = np.concatenate([pt[5][pt[3]] for pt in parts])
    keep = e_time < end
    e_cust, e_time, e_role, e_ch = e_cust[keep], e_time[keep], e_role[keep], e_ch[keep]
    e_seg = seg[e_cust]
    tp, channel = _touchpoints(rng, e_role, e_seg, e_ch)
    revenue = np.full(len(tp), np.nan)
    buy = e_role == R["purchase"]
    value = C.ORDER_VALUE_MEDIAN[e_seg[buy]] * np.exp(rng.normal(0, C.ORDER_VALUE_SIGMA, buy.sum()))
    revenue[buy] = np.round(value, 2)
    e_time = np.floor(daytime(e_time) * 1e6) / 1e6
    order = np.lexsort((e_role, e_time, e_cust))
    chunk.ev_cust, chunk.ev_time, chunk.ev_tp = e_cust[order], e_time[order], tp[order]
    chunk.ev_channel, chunk.ev_revenue = channel[order], revenue[order]

    # --- tickets
    chunk.tickets = _tickets(rng, seg, tk_parts, cust[drop_ticket], t_drop_ticket[drop_ticket], end)
    return chunk


def _tickets(rng, seg, parts, drop_cust, drop_time, end) -> dict:
    """Ticket rows: post-purchase tickets, payment tickets after a drop-off, and follow-ups."""
    cols = {key: np.concatenate([p[key] for p in parts]) if parts else np.zeros(0)
            for key in ("cust", "opened", "category", "unresolved", "unit", "prior")}
    nd = len(drop_cust)
    cols = {
        "cust": np.concatenate([cols["cust"], drop_cust]).astype(np.int64),
        "opened": np.concatenate([cols["opened"], drop_time]),
        "category": np.concatenate([cols["category"], np.zeros(nd)]).astype(np.int64),
        "unresolved": np.concatenate([cols["unresolved"], rng.random(nd) < C.UNRESOLVED_P[0]]).astype(bool),
        "unit": np.concatenate([cols["unit"], np.zeros(nd, bool)]).astype(bool),
        "prior": np.concatenate([cols["prior"], np.zeros(nd)]).astype(np.int64),
        "followup": np.zeros(len(cols["cust"]) + nd, dtype=bool),
    }
    fu = cols["unresolved"] & (rng.random(len(cols["cust"])) < C.FOLLOWUP_P)
    extra = {key: val[fu] for key, val in cols.items()}
    extra["opened"] = extra["opened"] + rng.uniform(1.0, 7.0, fu.sum()) * DAY
    extra["unresolved"] = rng.random(fu.sum()) < 0.5
    extra["unit"] = np.zeros(fu.sum(), bool)
    extra["followup"] = np.ones(fu.sum(), bool)
    cols = {key: np.concatenate([cols[key], extra[key]]) for key in cols}
    cols["opened"] = np.floor(daytime(cols["opened"]))
    m = len(cols["cust"])
    closed = np.where(
        cols["unresolved"],
        np.where(rng.random(m) < 0.5, cols["opened"] + rng.uniform(3.0, 20.0, m) * DAY, np.nan),
        cols["opened"] + 600 + rng.gamma(2.0, C.RESOLVE_HOURS / 2, m) * HOUR,
    )
    closed = np.floor(closed)
    g = seg[cols["cust"]]
    pref = C.CHANNEL_PREF[g][:, [C.CALL, C.WEB, C.APP, C.EMAIL, C.STORE]] * np.array([5, 1, 1, 1, 0.5])
    cols["channel"] = pick(rng, choice_cum(pref / pref.sum(1, keepdims=True)))
    keep = cols["opened"] < end
    cols = {key: val[keep] for key, val in cols.items()}
    closed = closed[keep]
    still_open = ~(closed < end)              # NaN or after the end: open at the snapshot
    cols["closed"] = np.where(still_open, np.nan, closed)
    cols["resolved"] = ~cols["unresolved"] & ~still_open
    order = np.lexsort((cols["opened"], cols["cust"]))
    return {key: val[order] for key, val in cols.items()}
