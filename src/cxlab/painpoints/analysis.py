"""The whole pain-point stage in one call, for the stage notebook and for scripts.

``analyze(study, ...)`` runs every part the study's data allows — friction signals (always),
voice of the customer (when there are comments or ticket texts), the emotion curve and key
drivers (when there are survey responses), churn after tickets (when there are tickets) — and
ranks the register. Parts that cannot run are listed in ``notes`` with the reason, instead of
failing the stage.

**By segment.** When the segmentation stage has written its segments (``read_output(study,
"segmentation", "segments")``), the emotion curve and the key drivers are also computed for
each segment's survey responses (``emotion_by_segment``, ``drivers_by_segment``: the same
tables with a ``segment`` column), so the journey map of a segment reads its emotion lane and
its drivers from what this stage wrote. A segment whose responses are too few for key drivers
is named in ``notes``.

**How firm the rankings are.** The register's priorities and the key drivers' shares carry
customer-level bootstrap intervals (``n_resamples``, 200 by default; ``seed``), the share of
resamples in which each item ranks 1st and its rank interval; the headlines say how often the top
pain point and the strongest driver rank 1st, and when the top two cannot be told apart
(``cxlab.painpoints.uncertainty``); the key drivers of each segment carry the same columns.

``result.write()`` writes the register, friction, emotion curve, key drivers, survey scores and
the tables by segment (``cxlab.stages.STAGES["pain_points"]``) and summary_pain_points.json.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Mapping, Sequence

import pandas as pd

from ..errors import NotEnoughData
from ..journeys import SESSION_GAP_MINUTES, name_list
from ..journeys import support_touchpoints as support_rule
from ..metrics import figure, population_of, whole_log
from ..stages import StageResult, not_computed, stage_analysis
from ..study import Study
from .churn import LANDMARK_DAYS, ChurnAfterTicket, churn_after_tickets
from .drivers import KeyDrivers, key_drivers
from .emotion import EmotionCurve, emotion_curve
from .friction import FrictionSignals, friction_signals
from .register import PainPointRegister, build_register, segment_frame
from .text import DEFAULT_TOPICS, VoiceOfCustomer, survey_responses, voice_of_customer
from .uncertainty import check_resamples

__all__ = ["PainPointAnalysis", "analyze", "by_segment", "SCORE_COLUMNS"]

# what survey_scores.parquet keeps of each response (never the comment itself), besides driver_*
SCORE_COLUMNS = ("response_id", "customer_id", "timestamp", "touchpoint", "stage", "stage_order", "nps", "csat",
                 "ces", "sentiment")


@dataclass
class PainPointAnalysis(StageResult):
    """Everything the pain-point stage found (None for a part the data did not allow);
    ``emotion_by_segment`` and ``drivers_by_segment`` when the study has segments."""

    stage: ClassVar[str] = "pain_points"
    friction: FrictionSignals
    register: PainPointRegister
    responses: pd.DataFrame
    voice: VoiceOfCustomer | None = None
    emotion: EmotionCurve | None = None
    drivers: KeyDrivers | None = None
    churn: ChurnAfterTicket | None = None
    emotion_by_segment: pd.DataFrame | None = None
    drivers_by_segment: pd.DataFrame | None = None

    def headlines(self) -> list[str]:
        """Short sentences for the report's index."""
        out = []
        reg = self.register.table
        if len(reg):
            r = reg.iloc[0]
            key = f" ({r.key_number})" if r.key_number else ""
            out.append(f"Top pain point: {r.pain_point}, in the {r.stage} stage{key} — "
                       f"{self.register.firmness()}; {int(r.reach):,} customers ({r.reach_share:.1%}) meet it.")
            ranking = self.register.ranking
            if ranking is not None and not ranking.distinguishable:
                out.append(self.register.ranking_sentence())
            if len(reg) > 1:
                rest = ", ".join(reg.pain_point.iloc[1:3])
                out.append(f"Next in priority: {rest}.")
        else:
            out.append(self.register.empty_note())
        if self.emotion is not None:
            low = self.emotion.lowest_stage("csat")
            if low:  # the figure as the metric dictionary names it, with whom and when (cxlab.metrics)
                value = self.emotion.metric("csat").set_index("stage").loc[low, "estimate"]
                lowest = figure("csat_mean", value, population=population_of("csat_mean", stage=low),
                                period=whole_log(self.study))
                out.append(f"Customers feel worst in the {low} stage: the lowest {lowest}.")
            elif low := self.emotion.lowest_stage("sentiment"):
                out.append(f"Customers feel worst in the {low} stage (lowest mean comment sentiment).")
        if self.churn is not None:
            hr = self.churn.hazard_ratio
            out.append(
                f"Customers whose ticket is still unresolved {self.churn.landmark_days:g} days after opening buy "
                f"again at {hr.estimate:.2f}× the rate of those resolved by then "
                f"[{hr.ci_level:.0%} CI {hr.ci_low:.2f}–{hr.ci_high:.2f}]."
            )
        if self.drivers is not None:
            out.append(self.drivers.top_sentence())
        if self.voice is not None:
            topic = self.voice.top_complaint()
            if topic:
                out.append(f"Most frequent complaint topic: {topic}.")
        return out

    def record_extra(self) -> dict:
        """The days the log covers, the period of this stage's whole-log figures (ISO 8601), so
        the journey map marks the figures it repeats without reading the log (cxlab.metrics)."""
        return {"log_period": whole_log(self.study).iso}

    def metrics(self) -> dict[str, Any]:
        """Numbers later runs compare against (summary_pain_points.json)."""
        m: dict[str, Any] = {}
        reg = self.register.table
        if len(reg):
            top = reg.iloc[0]
            m["top_pain_point"] = str(top.touchpoint or top.pain_point)
            m["top_pain_point_priority"] = float(top.priority)
            if self.register.resamples:
                m["top_pain_point_priority_interval"] = [float(top.priority_ci_low), float(top.priority_ci_high)]
                m["top_pain_point_ranked_first"] = float(top.ranked_first)
        m["pain_points_ranked"] = int(len(reg))
        if self.churn is not None:
            hr = self.churn.hazard_ratio
            m["unresolved_ticket_hazard_ratio"] = {"value": hr.estimate, "ci_low": hr.ci_low, "ci_high": hr.ci_high}
        if self.voice is not None and len(self.voice.feedback):
            m["mean_sentiment"] = float(self.voice.feedback.sentiment.mean())
            m["negative_share"] = float((self.voice.feedback.sentiment < -0.05).mean())
        if self.drivers is not None:
            m["key_driver_r2"] = self.drivers.r2
            if self.drivers.resamples:
                m["key_driver_ranked_first"] = float(self.drivers.table.iloc[0].ranked_first)
        return m

    def survey_scores(self) -> pd.DataFrame | None:
        """Each survey response's stage, scores, driver ratings and comment sentiment (not the
        comment itself); None without responses."""
        if self.responses is None or not len(self.responses):
            return None
        keep = [c for c in self.responses.columns if c in SCORE_COLUMNS or str(c).startswith("driver_")]
        scores = self.responses[keep].copy()
        scores["customer_id"] = scores["customer_id"].astype(str)
        return scores

    def segment_emotion(self, metric: str = "csat") -> pd.DataFrame | None:
        """``metric`` of the emotion curve by segment (rows) and stage (columns, in journey
        order), for display; None without segments or without that metric."""
        t = self.emotion_by_segment
        if t is None or metric not in set(t.metric):
            return None
        wide = t[t.metric == metric].pivot(index="segment", columns="stage", values="estimate")
        return wide[[s for s in self.study.stages if s in wide.columns]]

    def tables(self) -> dict[str, Any]:
        """What the journey map reads (``cxlab.stages.STAGES["pain_points"]``)."""
        return {
            "pain_points": self.register.table,
            "friction": self.friction.by_touchpoint,
            "emotion": self.emotion.table if self.emotion is not None else None,
            "emotion_by_segment": self.emotion_by_segment,
            "drivers": self.drivers.table.assign(outcome=self.drivers.outcome) if self.drivers is not None else None,
            "drivers_by_segment": self.drivers_by_segment,
            "responses": self.survey_scores(),
        }


def by_segment(
    responses: pd.DataFrame,
    segments: pd.DataFrame,
    stages: Sequence[str],
    *,
    driver_outcome: str = "csat",
    drivers: bool = True,
    n_resamples: int = 200,
    seed: int = 0,
) -> tuple[pd.DataFrame | None, pd.DataFrame | None, list[str]]:
    """The emotion curve and the key drivers of each segment's survey responses: (emotion table
    with a ``segment`` column, key-driver table with ``outcome`` and ``segment`` columns, notes).
    ``responses``: scored survey responses (customer_id, stage, scores, sentiment, driver_*);
    ``segments``: customer_id → segment. A segment without responses has no rows; one whose
    responses are too few for key drivers (``key_drivers``) is named in the notes. ``n_resamples``,
    ``seed``: the bootstrap of each segment's driver shares (as ``key_drivers``)."""
    r = responses.assign(customer_id=responses["customer_id"].astype(str))
    r = r.merge(segments[["customer_id", "segment"]].astype(str), on="customer_id", how="inner")
    emotion_rows, driver_rows, skipped = [], [], []
    for segment, part in r.groupby("segment", sort=True):
        emotion_rows.append(emotion_curve(part, list(stages)).table.assign(segment=segment))
        if drivers:
            try:
                kd = key_drivers(part, driver_outcome, n_resamples=n_resamples, seed=seed)
            except NotEnoughData as exc:
                skipped.append(not_computed(f"key drivers of {driver_outcome.upper()} in segment {segment}", exc.needs))
                continue
            driver_rows.append(kd.table.assign(outcome=kd.outcome, segment=segment))
    notes = skipped

    def stack(rows: list[pd.DataFrame]) -> pd.DataFrame | None:
        if not rows:
            return None
        out = pd.concat(rows, ignore_index=True)
        return out[["segment"] + [c for c in out.columns if c != "segment"]]

    return stack(emotion_rows), stack(driver_rows), notes


@stage_analysis("pain_points")
def analyze(
    study: Study | str | os.PathLike,
    *,
    repeat_contact_days: float = 7,
    session_gap_minutes: float = SESSION_GAP_MINUTES,
    long_wait_quantile: float = 0.9,
    support_touchpoints: str | Sequence[str] = "",
    topics: Mapping[str, Iterable[str]] | None = None,
    n_topics: int = 8,
    max_fit_docs: int = 5000,
    driver_outcome: str = "csat",
    min_customers: int = 30,
    min_responses: int = 30,
    horizon_days: int = 90,
    landmark_days: float = LANDMARK_DAYS,
    n_resamples: int = 200,
    seed: int = 0,
) -> PainPointAnalysis:
    """Run the pain-point stage on a study (see the module doc and each part's module).

    ``support_touchpoints``: the touchpoints that are contacts with support (a list or "a, b";
    empty: the study's ``parameters.pain_points.support_touchpoints``, else the core's support
    rule, ``cxlab.journeys.support_touchpoints``); ``topics``: the complaint taxonomy {topic:
    [keywords]} (empty: the study's ``parameters.pain_points.topics``, else ``DEFAULT_TOPICS``).
    The lists and the taxonomy actually used are recorded with the result's parameters.
    ``landmark_days``: churn after tickets classifies each ticket as resolved or not this many
    days after it was opened (``churn``); ``n_resamples``: customer-level bootstrap resamples
    for the register's and the key drivers' intervals and ranks (0: none); ``seed``: the topic
    model's sample and the resamples."""
    n_resamples = check_resamples(n_resamples)
    own = study.stage_parameters("pain_points")
    support = support_rule(study, name_list(support_touchpoints) or own.get("support_touchpoints"))
    taxonomy = dict(topics or own.get("topics") or {}) or None
    notes: list[str] = []
    friction = friction_signals(study, repeat_contact_days=repeat_contact_days,
                                session_gap_minutes=session_gap_minutes, long_wait_quantile=long_wait_quantile,
                                support_touchpoints=support, by_customer=n_resamples > 0)
    responses = survey_responses(study)
    voice = None
    fb_possible = ("surveys" in study.tables) or ("tickets" in study.tables)
    if fb_possible:
        voice = voice_of_customer(study, taxonomy, n_topics=n_topics, max_fit_docs=max_fit_docs, seed=seed)
        if voice.feedback.empty:
            voice = None
    if voice is None:
        notes.append(not_computed("sentiment and complaint topics", "survey comments or ticket texts"))
    if not responses.empty:
        if voice is not None:
            s = voice.feedback.loc[voice.feedback.source == "survey", ["id", "sentiment"]]
            responses = responses.merge(s.rename(columns={"id": "response_id"}), on="response_id", how="left")
    emotion = None
    drivers = None
    if not responses.empty:
        emotion = emotion_curve(responses, study.stages)
        try:
            drivers = key_drivers(responses, driver_outcome, n_resamples=n_resamples, seed=seed)
        except NotEnoughData as exc:
            notes.append(not_computed(f"key drivers of {driver_outcome.upper()}", exc.needs))
    else:
        notes.append(not_computed("emotion curve and key drivers", "survey responses (a surveys table)"))
    churn = None
    try:
        churn = churn_after_tickets(study, horizon_days=horizon_days, landmark_days=landmark_days)
    except NotEnoughData as exc:
        notes.append(not_computed("churn after tickets", exc.needs))
    segments = segment_frame(study)
    register = build_register(study, friction, responses if not responses.empty else None, voice, churn,
                              segments=segments, min_customers=min_customers, min_responses=min_responses,
                              n_resamples=n_resamples, seed=seed)
    emotion_seg = drivers_seg = None
    if segments is not None and not responses.empty:
        emotion_seg, drivers_seg, seg_notes = by_segment(responses, segments, study.stages,
                                                         driver_outcome=driver_outcome, drivers=drivers is not None,
                                                         n_resamples=n_resamples, seed=seed)
        notes += seg_notes
    elif segments is None:
        notes.append(not_computed("emotion curve and key drivers by segment", "the segmentation stage's segments"))
    result = PainPointAnalysis(study, friction, register, responses, voice, emotion, drivers, churn,
                               emotion_seg, drivers_seg, notes=notes + register.notes)
    result.parameters = {"support_touchpoints": support, "topics": taxonomy or DEFAULT_TOPICS}
    return result
