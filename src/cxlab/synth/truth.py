"""Planted truths: tallied chunk by chunk, written to truth.json with their exact definitions.

"Expected" values come from the generative probabilities of this very sample of customers and
responses (for instance the mean of every customer's conversion probability), so a sample
estimate's confidence interval should cover them; "sample" values are what the files hold.
"""
from __future__ import annotations

import numpy as np

from . import catalog as C
from .catalog import DAY
from .simulate import Chunk, Frame

_BIG = float(2**31)
_NTP = len(C.TP_NAMES)
_SUPPORT = np.array([C.TP[t] for t in C.SUPPORT_TPS])


def _gamma2_cdf(x, scale):
    z = np.maximum(x, 0) / scale
    return 1 - np.exp(-z) * (1 + z)


def _ph_by(L, delay, p_unresolved, prior=1):
    """P(next purchase before the end) for a ticket opened ``delay`` (uniform) days after a purchase."""
    lo, hi = delay
    d = lo + (np.arange(64) + 0.5) / 64 * (hi - lo)
    x = np.clip(L[:, None] - d[None, :], 0, None)
    r0 = C.HAZARD_BASELINE_PER_DAY * np.exp(C.HAZARD_COEF_PRIOR * prior)
    r1 = r0 * C.HAZARD_RATIO_UNRESOLVED
    return (p_unresolved * (1 - np.exp(-r1 * x)) + (1 - p_unresolved) * (1 - np.exp(-r0 * x))).mean(1)


def expected_repeat(first_purchase, seg, channel, end) -> np.ndarray:
    """P(a second purchase before the end | first purchase time, segment, channel)."""
    L = (end - first_purchase) / DAY
    e = np.where(channel < 2, C.PAYMENT_ERROR_CONVERTER, 0.0)
    p_mix = float((C.TICKET_CATEGORY_P * C.UNRESOLVED_P).sum())
    renew = C.REPEAT_CONTINUE[seg] * _gamma2_cdf(L, C.REPEAT_GAP_DAYS[seg] / C.REPEAT_GAP_SHAPE)
    after_error = C.TICKET_P_ERROR * _ph_by(L, C.TICKET_DELAY_ERROR_DAYS, C.UNRESOLVED_P[0]) \
        + (1 - C.TICKET_P_ERROR) * renew
    normal = C.TICKET_P * _ph_by(L, C.TICKET_DELAY_DAYS, p_mix) + (1 - C.TICKET_P) * renew
    return e * after_error + (1 - e) * normal


class Tally:
    """Sums over chunks; ``result()`` turns them into the truth.json sections."""

    def __init__(self, frame: Frame):
        self.frame = frame
        z = lambda *shape: np.zeros(shape)  # noqa: E731
        self.seg = z(4)
        self.conv = z(4, 2, 3)          # region x post x (n, sum p, sum converted)
        self.repeat = z(3)              # purchasers, sum expected, with >= 2 purchases
        self.score = {s: z(3) for s in ("csat", "ces", "nps")}   # n, sum expected, sum sample
        self.csat_cells = z(4, 2, 3)    # region x post x (n, sum expected, sum sample)
        self.csat_stage = z(5, 3)
        self.nps_stage = z(5, 3)
        self.dropoff = z(_NTP, 2)       # customers with the touchpoint, of them dropped after it
        self.contact = z(_NTP, 2)       # occurrences, followed by a support contact within 7 days
        self.hazard = z(4)              # units, unresolved units, events, unresolved events
        self.counts = {"customers": 0, "events": 0, "purchases": 0, "surveys": 0, "tickets": 0,
                       "comments": 0, "revenue": 0.0}
        self.topic_polarity = z(len(C.TOPICS), 3)
        self.tp_events = z(_NTP)

    def add(self, ch: Chunk, sv: dict, tk: dict) -> None:
        n = ch.n
        self.counts["customers"] += n
        self.seg += np.bincount(ch.seg, minlength=4)
        post = (ch.t0 >= self.frame.intervention).astype(int)
        for r in range(4):
            for p in range(2):
                m = (ch.region == r) & (post == p)
                self.conv[r, p] += [m.sum(), ch.p_convert[m].sum(), ch.converted[m].sum()]

        goal = np.isin(ch.ev_tp, C.GOAL_IDX)
        n_goal = np.bincount(ch.ev_cust[goal], minlength=n)
        buyer = n_goal > 0
        exp_rep = expected_repeat(ch.first_purchase[buyer], ch.seg[buyer], ch.first_channel[buyer], self.frame.end)
        self.repeat += [buyer.sum(), exp_rep.sum(), (n_goal >= 2).sum()]
        self.counts["events"] += len(ch.ev_tp)
        self.counts["purchases"] += int(goal.sum())
        self.counts["revenue"] += float(np.nansum(ch.ev_revenue))
        self.tp_events += np.bincount(ch.ev_tp, minlength=_NTP)

        # scores
        for s, e_key in (("csat", "e_csat"), ("ces", "e_ces"), ("nps", "e_nps_net")):
            m = sv[s] >= 0
            sample = sv[s][m] if s != "nps" else (sv["nps"][m] >= 9).astype(float) - (sv["nps"][m] <= 6)
            self.score[s] += [m.sum(), sv[e_key][m].sum(), sample.sum()]
        m = sv["csat"] >= 0
        stage = C.TP_STAGE[sv["tp"]]
        for r in range(4):
            for p in range(2):
                cell = m & (sv["region"] == r) & (sv["post"] == bool(p))
                self.csat_cells[r, p] += [cell.sum(), sv["e_csat"][cell].sum(), sv["csat"][cell].sum()]
        for s in range(5):
            cell = m & (stage == s)
            self.csat_stage[s] += [cell.sum(), sv["e_csat"][cell].sum(), sv["csat"][cell].sum()]
            cell = (sv["nps"] >= 0) & (stage == s)
            net = (sv["nps"][cell] >= 9).astype(float) - (sv["nps"][cell] <= 6)
            self.nps_stage[s] += [cell.sum(), sv["e_nps_net"][cell].sum(), net.sum()]
        self.counts["surveys"] += len(sv["cust"])
        has = sv["comment_topic"] >= 0
        np.add.at(self.topic_polarity, (sv["comment_topic"][has], sv["comment_polarity"][has]), 1)
        self.counts["comments"] += int(has.sum())

        # drop-off after each touchpoint (per customer)
        last = np.r_[np.nonzero(np.diff(ch.ev_cust))[0], len(ch.ev_cust) - 1]
        never = n_goal[ch.ev_cust[last]] == 0
        self.dropoff[:, 1] += np.bincount(ch.ev_tp[last][never], minlength=_NTP)
        seen = np.zeros((n, _NTP), dtype=bool)
        seen[ch.ev_cust, ch.ev_tp] = True
        self.dropoff[:, 0] += seen.sum(0)

        # support contact (chat, call or any ticket) within 7 days after each occurrence
        a_cust = np.concatenate([ch.ev_cust, tk["cust"]])
        a_time = np.concatenate([ch.ev_time, tk["opened"]])
        a_tp = np.concatenate([ch.ev_tp, np.full(len(tk["cust"]), -1)])
        is_contact = np.concatenate([np.isin(ch.ev_tp, _SUPPORT), np.ones(len(tk["cust"]), bool)])
        order = np.lexsort((a_time, a_cust))
        a_cust, a_time, a_tp, is_contact = a_cust[order], a_time[order], a_tp[order], is_contact[order]
        key = a_cust * _BIG + np.where(is_contact, a_time, _BIG - 1)
        nxt = np.append(np.minimum.accumulate(key[::-1])[::-1][1:], np.inf) - a_cust * _BIG
        followed = (nxt < _BIG - 1) & (nxt - a_time <= 7 * DAY)
        ev = a_tp >= 0
        self.contact[:, 0] += np.bincount(a_tp[ev], minlength=_NTP)
        self.contact[:, 1] += np.bincount(a_tp[ev & followed], minlength=_NTP)

        # hazard units: next goal event after the ticket
        self.counts["tickets"] += len(tk["cust"])
        unit = tk["unit"]
        g_key = ch.ev_cust[goal] * _BIG + ch.ev_time[goal]
        pos = np.searchsorted(g_key, tk["cust"][unit] * _BIG + tk["opened"][unit], side="right")
        pos_ok = pos < len(g_key)
        nxt_cust = np.where(pos_ok, ch.ev_cust[goal][np.minimum(pos, len(g_key) - 1)], -1)
        event = pos_ok & (nxt_cust == tk["cust"][unit])
        unres = ~tk["resolved"][unit]
        self.hazard += [unit.sum(), unres.sum(), event.sum(), (event & unres).sum()]

    # ------------------------------------------------------------------ result
    def result(self) -> dict:
        rate = lambda a, b: float(a / b) if b else None  # noqa: E731
        conv_n, conv_p, conv_s = (self.conv[..., i] for i in range(3))

        def did(cells):
            n, e, s = (cells[..., i] for i in range(3))
            treat, ctrl = C.TREATED_REGION, [r for r in range(4) if r != C.TREATED_REGION]
            mean = lambda v, r, p: v[r, p].sum() / n[r, p].sum()  # noqa: E731
            return {
                "expected_did": float(mean(e, treat, 1) - mean(e, treat, 0) - (mean(e, ctrl, 1) - mean(e, ctrl, 0))),
                "sample_did": float(mean(s, treat, 1) - mean(s, treat, 0) - (mean(s, ctrl, 1) - mean(s, ctrl, 0))),
                "cells": {
                    f"{C.REGIONS[r]}_{'post' if p else 'pre'}": {
                        "n": int(n[r, p]), "expected": rate(e[r, p], n[r, p]), "sample": rate(s[r, p], n[r, p])}
                    for r in range(4) for p in range(2)
                },
            }

        drop = {C.TP_NAMES[t]: rate(self.dropoff[t, 1], self.dropoff[t, 0]) for t in range(_NTP)
                if self.dropoff[t, 0]}
        contact = {C.TP_NAMES[t]: rate(self.contact[t, 1], self.contact[t, 0]) for t in range(_NTP)
                   if self.contact[t, 0] and C.TP_NAMES[t] not in C.SUPPORT_TPS}
        stage_exp = {C.STAGES[s]: rate(self.csat_stage[s, 1], self.csat_stage[s, 0]) for s in range(5)}
        stage_smp = {C.STAGES[s]: rate(self.csat_stage[s, 2], self.csat_stage[s, 0]) for s in range(5)}
        nps_stage = {C.STAGES[s]: (None if not self.nps_stage[s, 0] else 100 * rate(self.nps_stage[s, 1], self.nps_stage[s, 0]))
                     for s in range(5)}
        known = {k: v for k, v in stage_exp.items() if v is not None}
        sc = self.score
        nps_net = lambda i: 100 * rate(sc["nps"][i], sc["nps"][0])  # noqa: E731
        return {
            "segments_counts": {C.SEGMENTS[g]: int(self.seg[g]) for g in range(4)},
            "kpis": {
                "conversion_rate": {
                    "expected": rate(conv_p.sum(), conv_n.sum()), "sample": rate(conv_s.sum(), conv_n.sum()),
                    "n": int(conv_n.sum()),
                    "definition": "unit = customer; converted = a goal touchpoint (web_purchase, app_purchase, "
                                  "store_purchase) within 30 days of the customer's first event; every customer's "
                                  "first event is at least 30 days before the study end; expected = mean of each "
                                  "customer's planted conversion probability",
                },
                "repeat_purchase_rate": {
                    "expected": rate(self.repeat[1], self.repeat[0]), "sample": rate(self.repeat[2], self.repeat[0]),
                    "n": int(self.repeat[0]),
                    "definition": "share of purchasers (>= 1 goal event in the study) with >= 2 goal events in the "
                                  "study; expected = mean over purchasers of P(second purchase before the end | "
                                  "time, segment and channel of the first purchase)",
                },
                "nps": {"expected": nps_net(1), "sample": nps_net(2), "n": int(sc["nps"][0]),
                        "definition": "100 * (share of responses with nps 9-10 - share with nps 0-6), over responses "
                                      "with an nps; expected from the planted score distributions"},
                "csat_mean": {"expected": rate(sc["csat"][1], sc["csat"][0]), "sample": rate(sc["csat"][2], sc["csat"][0]),
                              "n": int(sc["csat"][0]), "definition": "mean csat (1-5) over responses with a csat"},
                "ces_mean": {"expected": rate(sc["ces"][1], sc["ces"][0]), "sample": rate(sc["ces"][2], sc["ces"][0]),
                             "n": int(sc["ces"][0]),
                             "definition": "mean ces (1-7, 7 = very easy; higher is better) over responses with a ces"},
            },
            "pain_point_sample": {
                "dropoff_rate": drop,
                "largest_dropoff": max(drop, key=drop.get),
                "support_contact_within_7d": contact,
                "highest_support_contact": max(contact, key=contact.get),
                "csat_by_stage": {"expected": stage_exp, "sample": stage_smp,
                                  "lowest": min(known, key=known.get) if known else None},
                "nps_by_stage_expected": nps_stage,
            },
            "conversion_did": did(self.conv),
            "csat_did": did(self.csat_cells),
            "hazard_sample": {"units": int(self.hazard[0]), "unresolved_units": int(self.hazard[1]),
                              "events": int(self.hazard[2]), "unresolved_events": int(self.hazard[3])},
            "comment_topics": {C.TOPICS[t]: {"negative": int(v[0]), "neutral": int(v[1]), "positive": int(v[2])}
                               for t, v in enumerate(self.topic_polarity) if v.sum()},
            "counts": dict(self.counts),
            "events_by_touchpoint": {C.TP_NAMES[t]: int(self.tp_events[t]) for t in range(_NTP)},
        }
