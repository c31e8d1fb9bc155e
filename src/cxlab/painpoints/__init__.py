"""Stage 4, pain points: where customers meet friction or dissatisfaction, why, and what to fix
first.

- ``friction``: signals from the event log per touchpoint and stage (drop-off, loops, repeats in
  a session, long waits, support contacts after a touchpoint, unresolved and repeat tickets);
- ``text``: voice of the customer — sentiment (the core's VADER, ``cxlab.sentiment``),
  keyword-taxonomy topics, discovered topics (TF-IDF + NMF) with redacted quotes, topics by
  touchpoint, stage and month;
- ``emotion``: the emotion curve (sentiment, CSAT, NPS by stage with intervals);
- ``drivers``: key drivers of CSAT or NPS (OLS with HC3 errors, LMG/Shapley importance);
- ``churn``: time to the next purchase after unresolved vs resolved tickets, classified at a
  landmark some days after the ticket so nothing later decides the group (Cox model, KM);
- ``register``: the ranked pain-point register written for the journey map;
- ``uncertainty``: customer-level bootstrap intervals and rank intervals of the register's
  priorities (and the rank summary the key drivers share);
- ``analysis``: ``analyze(study)`` runs them all (and the emotion curve and key drivers by
  segment); ``analyze(study).write()`` saves what the journey map reads.

Support touchpoints and sessions follow the core's rules (``cxlab.journeys.support_touchpoints``
and ``sessions``), the same as the segmentation's.
"""
from __future__ import annotations

from .analysis import PainPointAnalysis, analyze, by_segment
from .churn import (
    LANDMARK_DAYS,
    ChurnAfterTicket,
    churn_after_tickets,
    kaplan_meier,
    landmark_table,
    survival_table,
    unresolved_customers,
)
from .drivers import KeyDrivers, key_drivers, lmg, lmg_from_corr, share_draws
from .emotion import EmotionCurve, emotion_curve, mean_ci, nps_ci
from .friction import (
    FrictionSignals,
    contact_stream,
    friction_by_touchpoint,
    friction_signals,
    journey_steps,
    ticket_signals,
)
from .register import (
    NO_PAIN_POINTS,
    PainPointRegister,
    build_register,
    satisfaction_gaps,
    segment_frame,
    segment_lift,
)
from .text import (
    DEFAULT_TOPICS,
    DiscoveredTopics,
    VoiceOfCustomer,
    discover_topics,
    feedback,
    representative_quotes,
    sentiment,
    survey_responses,
    tag_topics,
    topics_by,
    voice_of_customer,
)
from .uncertainty import TopTwo, rank_table, register_inputs, register_priorities, resample_counts, top_two

__all__ = [
    "DEFAULT_TOPICS",
    "LANDMARK_DAYS",
    "NO_PAIN_POINTS",
    "TopTwo",
    "landmark_table",
    "lmg_from_corr",
    "rank_table",
    "register_inputs",
    "register_priorities",
    "resample_counts",
    "share_draws",
    "top_two",
    "unresolved_customers",
    "ChurnAfterTicket",
    "DiscoveredTopics",
    "EmotionCurve",
    "FrictionSignals",
    "KeyDrivers",
    "PainPointAnalysis",
    "PainPointRegister",
    "VoiceOfCustomer",
    "analyze",
    "build_register",
    "by_segment",
    "churn_after_tickets",
    "contact_stream",
    "discover_topics",
    "emotion_curve",
    "feedback",
    "friction_by_touchpoint",
    "friction_signals",
    "journey_steps",
    "kaplan_meier",
    "key_drivers",
    "lmg",
    "mean_ci",
    "nps_ci",
    "representative_quotes",
    "satisfaction_gaps",
    "segment_frame",
    "segment_lift",
    "sentiment",
    "survey_responses",
    "survival_table",
    "tag_topics",
    "ticket_signals",
    "topics_by",
    "voice_of_customer",
]
