"""The ranked pain-point register: what to fix first, with the evidence behind each item.

Each pain point is a touchpoint of the journey (and, when the study has tickets, "unresolved
support tickets"); a goal touchpoint (the purchase itself) is never one. For each:

- **reach**: customers who met it (``reach_share``: of all customers in the log);
- **impact on conversion**: conversion (within the conversion window) of customers who met the
  touchpoint before their outcome minus that of the others, with its interval (the touchpoint
  inventory's comparison, ``cxlab.inventory``: touches after the purchase do not count — an
  association, not a causal effect);
- **impact on satisfaction**: mean CSAT (else mean NPS score 0–10) of the survey responses given
  at the touchpoint minus that of all other responses, with a Welch interval; and the NPS of
  those responses minus the NPS of the others, in NPS points;
- **extra support contacts**: the touchpoint's rate of support contacts within N days after it
  (failure demand) minus the rate over all non-support touchpoints;
- the friction signals and the most frequent complaint topic of its comments, as evidence;
- **in their words**: one redacted customer quote, the typical complaint at the touchpoint (or
  of an unresolved ticket), from ``cxlab.painpoints.quotes``;
- the **segments most affected**: when the segmentation stage has written its segments
  (customer_id → segment, read with ``cxlab.stages.read_output``) or a segment table is given,
  the segments whose customers meet it most often relative to all customers (reach lift ≥ 1.2,
  at least 30 customers).

**Priority** (documented formula)::

    harm     = max(0, -impact on conversion)
             + max(0, -impact on satisfaction) / (scale maximum - scale minimum)   # CSAT: 4, NPS score: 10
             + max(0, extra support contacts)
    priority = 100 × reach_share × harm

Each term of ``harm`` is a share of the customers who meet the pain point — conversions lost,
satisfaction lost as a fraction of the scale, contacts with support caused — so the priority
reads as "percent of the whole customer base harmed here". Satisfaction differences rest on at
least ``min_responses`` responses (else they count as 0 and are shown as missing).

For "unresolved support tickets", reach is the customers with at least one unresolved ticket
and harm is the gap in the share who bought again, resolved minus unresolved at the churn
comparison's landmark (``churn_after_tickets``: tickets classified some days after opening, time
counted from then), with the hazard ratio as evidence.

**Only harm is ranked.** An item whose priority is 0 (no touchpoint harm, or nobody meets it)
is not a pain point and is left out; when nothing is left, the register is empty and says so
(``NO_PAIN_POINTS``) rather than naming a harmless touchpoint first.

**How firm the order is.** With ``n_resamples`` > 0 (200 by default) the priorities are
recomputed on customer-level bootstrap resamples (``cxlab.painpoints.uncertainty``): each item
gets ``priority_ci_low``/``priority_ci_high`` (percentile interval), ``ranked_first`` (share of
resamples in which it ranks 1st) and ``rank_low``/``rank_high`` (its rank interval); ``ranking``
compares the top two — they are *not distinguishable* when the interval of their difference in
priority includes 0.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import data, engine
from ..errors import ParameterError
from ..stages import not_computed, read_output
from ..stats import welch_t
from ..study import Study
from .churn import ChurnAfterTicket, unresolved_customers
from .friction import FrictionSignals
from .quotes import pain_point_quotes
from .text import VoiceOfCustomer
from .uncertainty import TopTwo, check_resamples, rank_table, register_inputs, register_priorities, top_two

__all__ = ["satisfaction_gaps", "segment_lift", "segment_frame", "PainPointRegister", "build_register",
           "REGISTER_COLUMNS", "NO_PAIN_POINTS"]

NO_PAIN_POINTS = ("No pain point found: no touchpoint met by at least {min_customers:,} customers goes with lower "
                  "conversion, lower satisfaction or extra support contacts, and no unresolved tickets cost "
                  "purchases.")

SCALES = {"csat": (1.0, 5.0), "nps": (0.0, 10.0)}
REGISTER_COLUMNS = [
    "rank", "pain_point", "kind", "touchpoint", "stage", "stage_order", "reach", "reach_share",
    "impact_conversion", "impact_conversion_ci_low", "impact_conversion_ci_high",
    "satisfaction_score", "satisfaction_here", "satisfaction_elsewhere", "impact_satisfaction",
    "impact_satisfaction_ci_low", "impact_satisfaction_ci_high", "impact_nps", "responses",
    "dropoff_rate", "contact_rate", "extra_contact_rate", "loop_rate", "repeat_rate",
    "long_wait_rate", "mean_sentiment", "top_topic", "top_topic_share", "harm_conversion",
    "harm_satisfaction", "harm_contact", "harm", "priority", "priority_ci_low", "priority_ci_high",
    "ranked_first", "rank_low", "rank_high", "key_number", "evidence", "quote", "segments_most_affected",
]


def _nps(x: np.ndarray) -> float:
    return 100.0 * (np.mean(x >= 9) - np.mean(x <= 6)) if len(x) else np.nan


def satisfaction_gaps(
    responses: pd.DataFrame, score: str | None = None, min_responses: int = 30, ci_level: float = 0.95
) -> tuple[pd.DataFrame, str | None]:
    """Per touchpoint of the survey responses: responses, mean ``score`` there and elsewhere,
    their difference with a Welch interval (``cxlab.stats.welch_t``), NPS there minus
    elsewhere, mean sentiment. ``score`` defaults to csat when the responses have it, else nps.
    Returns (table, score used)."""
    if responses is None or responses.empty or "touchpoint" not in responses:
        return pd.DataFrame(columns=["touchpoint"]), None
    if score is None:
        score = "csat" if "csat" in responses and responses["csat"].notna().any() else (
            "nps" if "nps" in responses and responses["nps"].notna().any() else None)
    rows = []
    for tp, here in responses.groupby("touchpoint"):
        row = {"touchpoint": tp, "responses": len(here)}
        if score is not None:
            a = here[score].dropna().to_numpy(float)
            b = responses.loc[responses.touchpoint != tp, score].dropna().to_numpy(float)
            row["satisfaction_here"] = a.mean() if len(a) else np.nan
            row["satisfaction_elsewhere"] = b.mean() if len(b) else np.nan
            if len(a) >= min_responses and len(b) >= 2:
                est = welch_t(a, b, ci_level=ci_level)
                d, lo, hi = est.estimate, est.ci_low, est.ci_high
            else:
                d = lo = hi = np.nan
            row.update(impact_satisfaction=d, impact_satisfaction_ci_low=lo, impact_satisfaction_ci_high=hi)
        if "nps" in responses:
            a = here["nps"].dropna().to_numpy(float)
            b = responses.loc[responses.touchpoint != tp, "nps"].dropna().to_numpy(float)
            row["impact_nps"] = _nps(a) - _nps(b) if len(a) >= min_responses and len(b) else np.nan
        if "sentiment" in responses:
            row["mean_sentiment"] = here["sentiment"].mean()
        rows.append(row)
    return pd.DataFrame(rows), score


def segment_frame(study: Study, segments: str | os.PathLike | pd.DataFrame | None = None) -> pd.DataFrame | None:
    """customer_id → segment (both as text): ``segments`` when given (a DataFrame, or a parquet
    file of the user's), else what the segmentation stage wrote (``read_output``); None when
    there are no segments."""
    if segments is None:
        segments = read_output(study, "segmentation", "segments")
        if segments is None:
            return None
    elif isinstance(segments, (str, os.PathLike)):
        path = Path(segments)
        if not path.exists():
            raise ParameterError(f"The segments file {path} does not exist (it needs customer_id and segment).")
        segments = pd.read_parquet(path)
    missing = [c for c in ("customer_id", "segment") if c not in segments.columns]
    if missing:
        raise ParameterError(f"The segment table lacks column(s) {', '.join(missing)}; it needs customer_id and segment.")
    return segments[["customer_id", "segment"]].astype({"customer_id": str, "segment": str})


def segment_lift(
    study: Study, segments: str | os.PathLike | pd.DataFrame | None = None, min_customers: int = 30,
    min_lift: float = 1.2, top: int = 2,
) -> pd.DataFrame:
    """Per touchpoint, the segments whose customers meet it most often relative to all
    customers: touchpoint, segments_most_affected ('segment (1.8×)', …). Computed in the engine
    (events joined to the segment table; ``segments`` as in ``segment_frame``). Empty when there
    is no segment table."""
    seg = segment_frame(study, segments)
    if seg is None:
        return pd.DataFrame(columns=["touchpoint", "segments_most_affected"])
    import ibis

    ev = engine.events(study)
    seg_t = ibis.memtable(seg)
    j = ev.select(customer_id=ev.customer_id.cast("string"), touchpoint=ev.touchpoint).join(seg_t, "customer_id")
    reached = engine.to_pandas(j.group_by(["touchpoint", "segment"]).aggregate(reached=j.customer_id.nunique()))
    active = engine.to_pandas(j.group_by("segment").aggregate(size=j.customer_id.nunique()))
    total = active["size"].sum()
    per_tp = reached.groupby("touchpoint")["reached"].sum().rename("tp_reached")
    t = reached.merge(active, on="segment").merge(per_tp, on="touchpoint")
    t["lift"] = (t.reached / t["size"]) / (t.tp_reached / total)
    rows = []
    for tp, g in t.groupby("touchpoint"):
        g = g[(g.reached >= min_customers) & (g.lift >= min_lift)].sort_values("lift", ascending=False).head(top)
        rows.append({"touchpoint": tp,
                     "segments_most_affected": ", ".join(f"{s} ({l:.1f}×)" for s, l in zip(g.segment, g.lift))})
    return pd.DataFrame(rows, columns=["touchpoint", "segments_most_affected"])


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _evidence(r: pd.Series, friction: pd.DataFrame, days: float, score: str | None) -> tuple[str, str]:
    """The evidence sentence and the key number of one touchpoint pain point."""
    parts = []
    med = friction[["loop_rate", "repeat_rate", "long_wait_rate"]].median()
    if r.dropoff_rate > 0:
        parts.append(f"{_pct(r.dropoff_rate)} of the {int(r.reach):,} customers who met it left without buying")
    if pd.notna(r.impact_conversion) and r.impact_conversion < 0:
        parts.append(f"they convert {abs(r.impact_conversion) * 100:.1f} points less than others")
    if pd.notna(r.impact_satisfaction) and r.impact_satisfaction < 0:
        parts.append(f"{score.upper()} {r.satisfaction_here:.1f} here against {r.satisfaction_elsewhere:.1f} elsewhere")
    if pd.notna(r.impact_nps) and r.impact_nps < 0:
        parts.append(f"NPS {abs(r.impact_nps):.0f} points lower")
    if r.extra_contact_rate > 0.01:
        parts.append(f"{_pct(r.contact_rate)} contact support within {days:g} days")
    for col, words in (("loop_rate", "go back to an earlier stage"), ("repeat_rate", "repeat it in the session"),
                       ("long_wait_rate", "wait unusually long for the next step")):
        if pd.notna(r[col]) and r[col] > 0.02 and r[col] > 2 * (med[col] or 0):
            parts.append(f"{_pct(r[col])} {words}")
    if isinstance(r.top_topic, str) and r.top_topic_share >= 0.2:
        parts.append(f"comments mostly about {r.top_topic} ({r.top_topic_share:.0%})")
    contributions = {
        "conversion": (r.harm_conversion, f"buy {abs(r.impact_conversion or 0) * 100:.0f} points less often"
                       if r.dropoff_rate <= 0 or -(r.impact_conversion or 0) > r.dropoff_rate
                       else f"{_pct(r.dropoff_rate)} drop off"),
        "satisfaction": (r.harm_satisfaction, f"{(score or '').upper()} {r.satisfaction_here:.1f} here, "
                         f"{r.satisfaction_elsewhere:.1f} elsewhere"),
        "contact": (r.harm_contact, f"{_pct(r.contact_rate)} contact support"),
    }
    key = max(contributions.values(), key=lambda v: v[0])
    key_number = key[1] if key[0] > 0 else (f"{_pct(r.dropoff_rate)} drop off" if r.dropoff_rate > 0 else "")
    return "; ".join(parts) + ("." if parts else ""), key_number


@dataclass
class PainPointRegister:
    """The ranked register (``table``, columns ``REGISTER_COLUMNS``, rank 1 = fix first; empty
    when nothing harms anyone). ``resamples``: bootstrap resamples behind the intervals and ranks
    (0: none); ``ranking``: the top two compared (None with fewer than two items or no resamples)."""

    table: pd.DataFrame
    satisfaction_score: str | None
    customers: int
    notes: list[str] = field(default_factory=list)
    resamples: int = 0
    ranking: TopTwo | None = None
    ci_level: float = 0.95
    min_customers: int = 30

    def top(self, n: int = 5) -> pd.DataFrame:
        return self.table.head(n)

    def first(self) -> str:
        return str(self.table.iloc[0]["pain_point"])

    def empty_note(self) -> str | None:
        """``NO_PAIN_POINTS`` when the register is empty, else None."""
        return NO_PAIN_POINTS.format(min_customers=self.min_customers) if self.table.empty else None

    def firmness(self, r: pd.Series | None = None) -> str:
        """How firmly an item (default: the first) holds its place: "priority 17.9 (95% interval
        16.8–19.0), ranked 1st in 100% of 200 resamples"; only the priority without resamples."""
        r = self.table.iloc[0] if r is None else r
        text = f"priority {r.priority:.1f}"
        if self.resamples and np.isfinite(r.priority_ci_low):
            text += (f" ({self.ci_level:.0%} interval {r.priority_ci_low:.1f}–{r.priority_ci_high:.1f}), ranked 1st "
                     f"in {r.ranked_first:.0%} of {self.resamples:,} resamples")
        return text

    def ranking_sentence(self) -> str | None:
        """Whether the first two can be told apart (``TopTwo.sentence``), or None."""
        return self.ranking.sentence("priority") if self.ranking is not None else None

    def display_table(self, n: int = 10) -> pd.DataFrame:
        """The columns a reader needs, for ``show_table``; with resamples, the priority's
        interval, the share of resamples ranking it 1st and its rank interval, as text."""
        t = self.table.head(n)
        out = t[["rank", "pain_point", "stage", "reach", "key_number", "priority"]].copy()
        if self.resamples:
            out["priority interval"] = [f"{a:.1f}–{b:.1f}" for a, b in zip(t.priority_ci_low, t.priority_ci_high)]
            out["ranked 1st"] = [f"{v:.0%}" for v in t.ranked_first]
            out["rank interval"] = [f"{int(a)}" if a == b else f"{int(a)}–{int(b)}"
                                    for a, b in zip(t.rank_low, t.rank_high)]
        out["evidence"] = t["evidence"]
        out["in their words"] = t["quote"].fillna("—")
        out["segments_most_affected"] = t["segments_most_affected"]
        return out

    def summary(self) -> str:
        if self.table.empty:
            return f"Pain-point register (0 items, {self.customers:,} customers): {self.empty_note()}"
        lines = [f"Pain-point register ({len(self.table)} items, {self.customers:,} customers):"]
        for _, r in self.table.head(5).iterrows():
            lines.append(f"  {r['rank']}. {r.pain_point} ({r.stage}) — {self.firmness(r)}: {r.key_number}")
        if self.ranking is not None:
            lines.append("  " + self.ranking_sentence())
        return "\n".join(lines)

    def plot(self, ax=None, n: int = 10):
        """Priority of the top ``n`` pain points, split into its conversion, satisfaction and
        support-contact parts."""
        import matplotlib.pyplot as plt

        t = self.table.head(n).iloc[::-1]
        if ax is None:
            _, ax = plt.subplots(figsize=(9, 0.45 * len(t) + 1.5))
        left = np.zeros(len(t))
        scale = 100 * t["reach_share"].to_numpy(float)
        for col, label, color in (("harm_conversion", "conversion lost", "#c44e52"),
                                  ("harm_satisfaction", "satisfaction lost", "#dd8452"),
                                  ("harm_contact", "extra support contacts", "#8172b2")):
            width = scale * t[col].fillna(0).to_numpy(float)
            ax.barh(t["pain_point"], width, left=left, color=color, label=label)
            left += width
        if self.resamples:
            p = t["priority"].to_numpy(float)
            err = np.vstack([p - t["priority_ci_low"].to_numpy(float), t["priority_ci_high"].to_numpy(float) - p])
            ax.errorbar(p, np.arange(len(t)), xerr=np.clip(err, 0, None), fmt="none", ecolor="#333333",
                        capsize=3, lw=1, label=f"{self.ci_level:.0%} bootstrap interval")
        ax.set_xlabel("Priority (% of customers harmed)")
        ax.legend(loc="lower right", fontsize=8)
        return ax


def build_register(
    study: Study,
    friction: FrictionSignals,
    responses: pd.DataFrame | None = None,
    voice: VoiceOfCustomer | None = None,
    churn: ChurnAfterTicket | None = None,
    segments: str | os.PathLike | pd.DataFrame | None = None,
    min_customers: int = 30,
    min_responses: int = 30,
    score: str | None = None,
    ci_level: float = 0.95,
    n_resamples: int = 200,
    seed: int = 0,
) -> PainPointRegister:
    """Rank the pain points of a study (see the module doc for every column and the formula).

    friction: from ``friction_signals``; responses: survey responses with touchpoint, csat/nps
    and sentiment (``text.survey_responses`` plus a sentiment column); voice: for the complaint
    topics per touchpoint; churn: for the unresolved-tickets item; segments: the segment table
    (a DataFrame or a parquet file; default: the segmentation stage's, when it has written one).
    n_resamples, seed: the customer-level bootstrap of the priorities (0: none)."""
    n_resamples = check_resamples(n_resamples)
    segments = segment_frame(study, segments)
    ft = friction.by_touchpoint.copy()
    customers = int(round((ft["customers"] / ft["reach"]).dropna().median())) if ft["reach"].notna().any() \
        else int(ft["customers"].max())
    days = float(friction.parameters.get("repeat_contact_days", 7))
    non_support = ft[~ft.is_support]
    base_contact = non_support.contacts_after.sum() / max(non_support.events.sum(), 1)
    sat, score = satisfaction_gaps(responses, score, min_responses, ci_level)
    t = ft.merge(sat, on="touchpoint", how="left") if len(sat) else ft.assign(
        responses=0, satisfaction_here=np.nan, satisfaction_elsewhere=np.nan, impact_satisfaction=np.nan,
        impact_satisfaction_ci_low=np.nan, impact_satisfaction_ci_high=np.nan, impact_nps=np.nan,
        mean_sentiment=np.nan)
    for col in ("impact_nps", "mean_sentiment", "impact_satisfaction", "impact_satisfaction_ci_low",
                "impact_satisfaction_ci_high", "satisfaction_here", "satisfaction_elsewhere"):
        if col not in t:
            t[col] = np.nan
    t["responses"] = t["responses"].fillna(0).astype("int64")
    t = t.drop(columns=["reach"]).rename(columns={"customers": "reach", "conv_difference": "impact_conversion",
                          "difference_ci_low": "impact_conversion_ci_low",
                          "difference_ci_high": "impact_conversion_ci_high"})
    t["reach_share"] = t["reach"] / customers
    t["extra_contact_rate"] = np.where(t.is_support, np.nan, t.contact_rate - base_contact)
    lo, hi = SCALES.get(score, (0.0, 1.0))
    t["harm_conversion"] = (-t["impact_conversion"]).clip(lower=0).fillna(0)
    t["harm_satisfaction"] = ((-t["impact_satisfaction"]).clip(lower=0) / (hi - lo)).fillna(0)
    t["harm_contact"] = t["extra_contact_rate"].clip(lower=0).fillna(0)
    t["harm"] = t.harm_conversion + t.harm_satisfaction + t.harm_contact
    t["priority"] = 100 * t.reach_share * t.harm
    t["satisfaction_score"] = score

    t["top_topic"], t["top_topic_share"] = None, np.nan
    if voice is not None and len(voice.by_touchpoint):
        bt = voice.by_touchpoint.set_index("touchpoint").drop(columns="texts")
        bt = bt[voice.by_touchpoint.set_index("touchpoint")["texts"] >= 10]
        if len(bt):
            top = bt.idxmax(axis=1)
            t["top_topic"] = t.touchpoint.map(top)
            t["top_topic_share"] = t.touchpoint.map(bt.max(axis=1))

    seg = segment_lift(study, segments, min_customers=min_customers)
    t = t.merge(seg, on="touchpoint", how="left")
    t["segments_most_affected"] = t["segments_most_affected"].fillna("")
    t["kind"] = "touchpoint"
    t["pain_point"] = t["label"]
    t = t[(t.reach >= min_customers) & ~t.is_goal.astype(bool)].copy()
    ev, key = zip(*(_evidence(r, ft, days, score) for _, r in t.iterrows())) if len(t) else ((), ())
    t["evidence"], t["key_number"] = list(ev), list(key)

    rows = [t]
    notes = []
    if churn is not None:
        rows.append(_ticket_item(study, churn, customers, friction, segments, min_customers))
    elif "tickets" in study.tables:
        notes.append(not_computed("unresolved tickets as a ranked pain point", "churn after tickets (not computed)"))
    table = pd.concat(rows, ignore_index=True)
    for col in REGISTER_COLUMNS:
        if col not in table:
            table[col] = np.nan
    # an item that harms nobody is no pain point (and is never ranked first)
    table = table[table.priority.fillna(0) > 0]
    table = table.sort_values(["priority", "reach"], ascending=[False, False], kind="stable").reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1)
    table["quote"] = pain_point_quotes(study, table)
    ranking = None
    if n_resamples and len(table):
        ranking = _bootstrap(study, friction, table, responses, score, churn, min_responses, n_resamples, seed,
                             ci_level)
    else:
        n_resamples = 0
    return PainPointRegister(table[REGISTER_COLUMNS], score, customers, notes, n_resamples, ranking, ci_level,
                             min_customers)


def _bootstrap(study, friction: FrictionSignals, table: pd.DataFrame, responses, score, churn, min_responses: int,
               n_resamples: int, seed: int, ci_level: float) -> TopTwo | None:
    """Add the bootstrap columns to ``table`` (in place) and compare its top two."""
    lo, hi = SCALES.get(score, (0.0, 1.0))
    affected = unresolved_customers(data.load(study, "tickets")) if churn is not None else None
    inputs = register_inputs(
        study, friction.by_touchpoint, friction.parameters.get("support_touchpoints") or [],
        float(friction.parameters.get("repeat_contact_days", 7)), responses, score, hi - lo, min_responses,
        affected, churn.table if churn is not None else None, friction.by_customer)
    items = [None if k == "support" else tp for k, tp in zip(table["kind"], table["touchpoint"])]
    draws = register_priorities(inputs, items, n_resamples, seed)
    ranks = rank_table(draws, table["pain_point"], ci_level)
    table["priority_ci_low"], table["priority_ci_high"] = ranks["ci_low"].to_numpy(), ranks["ci_high"].to_numpy()
    for col in ("ranked_first", "rank_low", "rank_high"):
        table[col] = ranks[col].to_numpy()
    return top_two(draws, table["priority"], table["pain_point"], ci_level)


def _ticket_item(study, churn: ChurnAfterTicket, customers: int, friction: FrictionSignals,
                 segments: pd.DataFrame | None, min_customers: int) -> pd.DataFrame:
    tickets = data.load(study, "tickets")
    affected = unresolved_customers(tickets)
    unresolved_share = len(tickets[~tickets["resolved"].fillna(False).astype(bool)]) / len(tickets) \
        if "resolved" in tickets and len(tickets) else 1.0
    g = churn.groups.set_index("group")
    gap = float(g.loc["resolved", "bought_again"] - g.loc["unresolved", "bought_again"])
    hr = churn.hazard_ratio
    support = friction.parameters.get("support_touchpoints") or []
    stages = study.catalog.loc[study.catalog.touchpoint.isin(support), "stage"]
    stage = stages.mode().iloc[0] if len(stages) else "service" if "service" in study.stages else study.stages[-1]
    share = len(affected) / customers if customers else np.nan
    days = f"{churn.landmark_days:g} days"
    evidence = (
        f"{len(affected):,} customers have an unresolved ticket ({unresolved_share:.0%} of tickets); of the customers "
        f"still without a purchase {days} after their first post-purchase ticket, "
        f"{g.loc['unresolved', 'bought_again']:.0%} of those whose ticket was unresolved by then bought again "
        f"against {g.loc['resolved', 'bought_again']:.0%} of those resolved; hazard ratio of buying again "
        f"{hr.estimate:.2f} [{hr.ci_low:.2f}, {hr.ci_high:.2f}]"
        + (" adjusted for prior purchases." if "adjusted for prior purchases" in hr.method else ".")
    )
    segs = ""
    if segments is not None:
        s = segments
        hit = s.customer_id.isin(set(affected))
        by = s.assign(hit=hit).groupby("segment")["hit"].agg(["sum", "mean"])
        by["lift"] = by["mean"] / hit.mean() if hit.mean() > 0 else np.nan
        by = by[(by["sum"] >= min_customers) & (by["lift"] >= 1.2)].sort_values("lift", ascending=False).head(2)
        segs = ", ".join(f"{k} ({v:.1f}×)" for k, v in by["lift"].items())
    return pd.DataFrame([{
        "pain_point": "Unresolved support tickets", "kind": "support", "touchpoint": None, "stage": stage,
        "stage_order": study.stages.index(stage) if stage in study.stages else -1,
        "reach": len(affected), "reach_share": share, "impact_conversion": -gap,
        "harm_conversion": max(gap, 0.0), "harm_satisfaction": 0.0, "harm_contact": 0.0, "harm": max(gap, 0.0),
        "priority": 100 * share * max(gap, 0.0),
        "key_number": f"buy again at {hr.estimate:.2f}× the rate when left unresolved", "evidence": evidence,
        "segments_most_affected": segs, "dropoff_rate": np.nan,
    }])
