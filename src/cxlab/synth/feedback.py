"""Survey responses after touchpoints: scores with planted expectations, drivers, comments.

Each response has a latent satisfaction ``y`` in 1..5 drawn from its touchpoint's distribution
and then shifted in mean by exactly ``delta`` = region offset + month trend + the intervention
effect (North, on or after the date): with probability ``delta / P(y < 5)`` a response moves up
one step (or down, for a negative delta, with probability ``-delta / P(y > 1)``). So
E[csat] = base mean + delta, additively, and the difference-in-differences of the expected
values is known exactly. CSAT reports ``y``; NPS and CES are drawn given ``y``; drivers are
``y`` plus noise; comments take their polarity from ``y`` and their topic from the touchpoint.
"""
from __future__ import annotations

import numpy as np

from . import catalog as C
from . import text as T
from .catalog import HOUR, choice_cum, pick
from .simulate import Chunk, Frame

SCORES = ("csat", "ces", "nps")


def shifted_probs(P: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 1..5 distribution after the mean shift, and the per-response move probability."""
    up = delta > 0
    pi = np.where(up, delta / (1 - P[:, 4]), -delta / (1 - P[:, 0]))
    if np.any(pi > 1):
        raise AssertionError("planted CSAT shift larger than the room on the scale")
    Pu = P * (1 - pi[:, None])
    Pu[:, 4] = P[:, 4]
    Pu[:, 1:] += P[:, :-1] * pi[:, None]
    Pd = P * (1 - pi[:, None])
    Pd[:, 0] = P[:, 0]
    Pd[:, :-1] += P[:, 1:] * pi[:, None]
    return np.where(up[:, None], Pu, Pd), pi


def csat_delta(region: np.ndarray, t: np.ndarray, frame: Frame) -> np.ndarray:
    treated_post = (region == C.TREATED_REGION) & (t >= frame.intervention)
    return C.CSAT_REGION_OFFSET[region] + C.CSAT_MONTH_TREND[frame.month(t)] + C.CSAT_EFFECT * treated_post


def surveys(rng: np.random.Generator, chunk: Chunk, frame: Frame, flags: dict) -> dict:
    """Responses of one chunk, sorted by customer then time; scores are -1 where absent."""
    take = rng.random(len(chunk.ev_tp)) < C.SURVEY_P[chunk.ev_tp]
    cust, tp = chunk.ev_cust[take], chunk.ev_tp[take]
    t = np.floor(chunk.ev_time[take] + 300 + rng.exponential(3 * HOUR, take.sum()))
    keep = t < frame.end
    cust, tp, t = cust[keep], tp[keep], t[keep]
    order = np.lexsort((t, cust))
    cust, tp, t = cust[order], tp[order], t[order]
    m = len(cust)
    region = chunk.region[cust]
    delta = csat_delta(region, t, frame)
    P = C.CSAT_P[tp]
    Pshift, pi = shifted_probs(P, delta)
    y0 = pick(rng, choice_cum(P)) + 1
    move = rng.random(m) < pi
    y = y0 + np.where((delta > 0) & move & (y0 < 5), 1, 0) - np.where((delta < 0) & move & (y0 > 1), 1, 0)

    transactional = C.TP_STAGE[tp] != C.STAGES.index("loyalty")
    present = {}
    for j, score in enumerate(SCORES):
        p_t, p_r = C.SCORE_PRESENT["transactional"][j], C.SCORE_PRESENT["relationship"][j]
        present[score] = rng.random(m) < np.where(transactional, p_t, p_r)
    present["csat"] |= ~(present["ces"] | present["nps"])
    nps = pick(rng, choice_cum(C.NPS_GIVEN_Y)[y - 1])
    ces = pick(rng, choice_cum(C.CES_GIVEN_Y)[y - 1]) + 1
    out = {
        "cust": cust, "time": t, "tp": tp, "region": region,
        "csat": np.where(present["csat"], y, -1),
        "ces": np.where(present["ces"], ces, -1),
        "nps": np.where(present["nps"], nps, -1),
        "e_csat": Pshift @ np.arange(1, 6),
        "e_ces": Pshift @ C.CES_MEAN_GIVEN_Y,
        "e_nps_net": Pshift @ C.NPS_PROMOTER_MINUS_DETRACTOR,
        "post": t >= frame.intervention,
    }
    answered = C.DRIVER_APPLIES[tp] & (transactional & present["csat"])[:, None]
    answered &= rng.random((m, len(C.DRIVERS))) < C.DRIVER_ANSWER_P
    noise = rng.normal(0, 1, (m, len(C.DRIVERS))) * C.DRIVER_NOISE_SD[None, :]
    drivers = np.clip(np.rint(y[:, None] + noise), 1, 5).astype(np.int64)
    out["drivers"] = np.where(answered, drivers, -1)

    has_comment = rng.random(m) < np.where(y <= 2, C.COMMENT_P_LOW, C.COMMENT_P)
    topic = pick(rng, choice_cum(C.TOPIC_P)[tp[has_comment]])
    polarity = T.polarity_of(y[has_comment], rng.random(has_comment.sum()))
    texts = T.comments(rng, topic, polarity, flags)
    comment = np.full(m, None, dtype=object)
    comment[has_comment] = texts
    out["comment"] = comment
    out["comment_topic"] = np.full(m, -1)
    out["comment_topic"][has_comment] = topic
    out["comment_polarity"] = np.full(m, -1)
    out["comment_polarity"][has_comment] = polarity
    return out


def ticket_texts(rng: np.random.Generator, tickets: dict, flags: dict) -> list[str]:
    return T.ticket_texts(rng, tickets["category"], tickets["followup"], flags)
