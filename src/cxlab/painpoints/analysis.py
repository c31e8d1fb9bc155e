"""The whole pain-point stage in one call, for the stage notebook and for scripts.

``analyze(study, ...)`` runs every part the study's data allows — friction signals (always),
voice of the customer (when there are comments or ticket texts), the emotion curve and key
drivers (when there are survey responses), churn after tickets (when there are tickets) — and
ranks the register. Parts that cannot run are listed in ``notes`` with the reason, instead of
failing the stage.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import pandas as pd

from .. import data
from ..errors import CxlabError
from ..study import Study
from .churn import ChurnAfterTicket, churn_after_tickets
from .drivers import KeyDrivers, key_drivers
from .emotion import EmotionCurve, emotion_curve
from .friction import FrictionSignals, friction_signals
from .register import PainPointRegister, build_register, write_outputs
from .text import VoiceOfCustomer, survey_responses, voice_of_customer

__all__ = ["PainPointAnalysis", "analyze"]


@dataclass
class PainPointAnalysis:
    """Everything the pain-point stage found (None for a part the data did not allow)."""

    study: Study
    friction: FrictionSignals
    register: PainPointRegister
    responses: pd.DataFrame
    voice: VoiceOfCustomer | None = None
    emotion: EmotionCurve | None = None
    drivers: KeyDrivers | None = None
    churn: ChurnAfterTicket | None = None
    notes: list[str] = field(default_factory=list)

    def headlines(self) -> list[str]:
        """Short sentences for the report's index."""
        out = []
        reg = self.register.table
        if len(reg):
            r = reg.iloc[0]
            out.append(f"Top pain point: {r.pain_point}, in the {r.stage} stage — {r.key_number}; "
                       f"{int(r.reach):,} customers ({r.reach_share:.1%}) meet it.")
            if len(reg) > 1:
                rest = ", ".join(reg.pain_point.iloc[1:3])
                out.append(f"Next in priority: {rest}.")
        if self.emotion is not None:
            low = self.emotion.lowest_stage("csat") or self.emotion.lowest_stage("sentiment")
            if low:
                out.append(f"Customers feel worst in the {low} stage (lowest mean CSAT).")
        if self.churn is not None:
            hr = self.churn.hazard_ratio
            out.append(
                f"After an unresolved ticket customers buy again at {hr.estimate:.2f}× the rate of "
                f"resolved ones [95% CI {hr.ci_low:.2f}–{hr.ci_high:.2f}]."
            )
        if self.drivers is not None:
            top = self.drivers.table.iloc[0]
            out.append(f"Strongest driver of {self.drivers.outcome.upper()}: {top.label} "
                       f"({top.share_of_r2:.0%} of the explained variance).")
        if self.voice is not None:
            topic = self.voice.top_complaint()
            if topic:
                out.append(f"Most frequent complaint topic: {topic}.")
        return out

    def metrics(self) -> dict[str, Any]:
        """Numbers later runs compare against (summary_pain_points.json)."""
        m: dict[str, Any] = {}
        reg = self.register.table
        if len(reg):
            m["top_pain_point"] = str(reg.iloc[0].touchpoint or reg.iloc[0].pain_point)
            m["top_pain_point_priority"] = float(reg.iloc[0].priority)
        if self.churn is not None:
            hr = self.churn.hazard_ratio
            m["unresolved_ticket_hazard_ratio"] = {"value": hr.estimate, "ci_low": hr.ci_low, "ci_high": hr.ci_high}
        if self.voice is not None and len(self.voice.feedback):
            m["mean_sentiment"] = float(self.voice.feedback.sentiment.mean())
            m["negative_share"] = float((self.voice.feedback.sentiment < -0.05).mean())
        if self.drivers is not None:
            m["key_driver_r2"] = self.drivers.r2
        return m

    def write(self) -> dict:
        """Write the register, emotion curve, friction table and key drivers for the journey map."""
        responses = self.responses if len(self.responses) else None
        return write_outputs(self.study, self.register, self.emotion, self.friction, self.drivers, responses)


def analyze(
    study: Study | str | os.PathLike,
    repeat_contact_days: float = 7,
    session_gap_minutes: float = 30,
    long_wait_quantile: float = 0.9,
    support_touchpoints: Iterable[str] | None = None,
    topics: Mapping[str, Iterable[str]] | None = None,
    n_topics: int = 8,
    max_fit_docs: int = 5000,
    driver_outcome: str = "csat",
    min_customers: int = 30,
    min_responses: int = 30,
    horizon_days: int = 90,
    seed: int = 0,
) -> PainPointAnalysis:
    """Run the pain-point stage on a study (see the module doc and each part's module)."""
    study = data.ensure_clean(study)
    notes: list[str] = []
    friction = friction_signals(study, repeat_contact_days, session_gap_minutes, long_wait_quantile,
                                list(support_touchpoints or []) or None)
    responses = survey_responses(study)
    voice = None
    fb_possible = ("surveys" in study.tables) or ("tickets" in study.tables)
    if fb_possible:
        voice = voice_of_customer(study, topics or None, n_topics=n_topics, max_fit_docs=max_fit_docs, seed=seed)
        if voice.feedback.empty:
            notes.append("no comments or ticket texts: no sentiment or topics")
            voice = None
    if not responses.empty:
        if voice is not None:
            s = voice.feedback.loc[voice.feedback.source == "survey", ["id", "sentiment"]]
            responses = responses.merge(s.rename(columns={"id": "response_id"}), on="response_id", how="left")
    emotion = None
    drivers = None
    if not responses.empty:
        emotion = emotion_curve(responses, study.stages)
        try:
            drivers = key_drivers(responses, driver_outcome)
        except CxlabError as exc:
            notes.append(f"key drivers not estimated: {exc}")
    else:
        notes.append("no survey responses: no emotion curve or key drivers")
    churn = None
    if "tickets" in study.tables:
        try:
            churn = churn_after_tickets(study, horizon_days=horizon_days)
        except CxlabError as exc:
            notes.append(f"churn after tickets not estimated: {exc}")
    register = build_register(study, friction, responses if not responses.empty else None, voice, churn,
                              min_customers=min_customers, min_responses=min_responses)
    return PainPointAnalysis(study, friction, register, responses, voice, emotion, drivers, churn,
                             notes + register.notes)
