"""The touchpoint stage in one call: what notebooks/03_touchpoints.ipynb shows and writes.

``analyze(study, ...)`` runs the inventory (per touchpoint and per channel), the stage funnel
(overall, by segment and by entry channel), the transitions, the paths around an anchor
touchpoint, the path variants (overall and per segment) and the attribution, all in the engine,
on the study's event log resolved once. ``result.write()`` saves the tables later stages read
(the registry, ``cxlab.stages.STAGES["touchpoints"]``, names the files) and the stage's record,
whose parameters state the conversion window actually used.

Every ranking the page prints carries how firm it is (``n_resamples`` customer-level bootstrap
resamples, 200 by default; ``cxlab.touchpoints.ranking``): the largest drop-off and each stage's
riskiest and most-reached touchpoint, the weakest funnel step (overall and per segment), the most
common paths (overall and per segment), each attribution model's leading touchpoint, the most
frequent transitions and the most common steps around the anchor — the share of resamples in
which an item ranks 1st, its rank interval, and a sentence when the top two cannot be told apart.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .. import journeys as J
from ..errors import ParameterError
from ..inventory import Inventory, inventory
from ..metrics import figure, in_segment, mark, whole_log
from ..stages import StageResult, not_computed, read_output, stage_analysis
from ..stats.ranking import Ranking, check_resamples
from ..study import Study
from .attribution import Attribution, attribution
from .ranking import DEFAULT_RESAMPLES, dropoff_rankings
from .funnels import Funnel, funnel, stage_funnel
from .transitions import AnchorPaths, Transitions, anchor_paths, transitions
from .variants import Variants, variants

__all__ = ["TouchpointStage", "analyze", "parse_funnel", "window_phrase"]


def window_phrase(window_days: float | None) -> str:
    """The conversion window in words: "within 30 days", or "with no time limit" (None)."""
    if window_days is None:
        return "with no time limit"
    return f"within {window_days:g} day" + ("" if window_days == 1 else "s")


@dataclass
class TouchpointStage(StageResult):
    """Everything the touchpoint stage computed for one study. ``window_days``: the conversion
    window the funnels used (the study's unless the call named one; None: no window)."""

    stage: ClassVar[str] = "touchpoints"
    window_days: float | None
    inventory: Inventory
    channels: Inventory
    funnel: Funnel | None  # None: fewer than two journey stages (see ``skipped``)
    funnel_by_channel: Funnel | None
    transitions: Transitions
    anchor: AnchorPaths | None
    variants: Variants
    attribution: Attribution
    funnel_by_segment: Funnel | None = None
    variants_by_segment: pd.DataFrame | None = None
    segments_source: str | None = None
    custom_funnel: Funnel | None = None
    # per segment, for the journey map's segment lanes (computed here, beside another stage,
    # rather than in the journey map, which runs alone at the end of a run)
    inventory_by_segment: pd.DataFrame | None = None
    transitions_by_segment: pd.DataFrame | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    # how firm the inventory's rankings are (None without resamples): drop-off rate and reach
    dropoff: Ranking | None = None
    reach_ranking: Ranking | None = None
    resamples: int = 0

    def note(self, *parts: str) -> str:
        """The line saying why the first of ``parts`` that was not computed is missing ('' when
        all were): 'funnel', 'anchor', 'segments', 'attribution'."""
        return next((self.skipped[p] for p in parts if p in self.skipped), "")

    # ------------------------------------------------------------------ words
    def window_phrase(self) -> str:
        """The window the funnels used, in words ("within 30 days")."""
        return window_phrase(self.window_days)

    def pre_goal_touchpoints(self) -> pd.DataFrame:
        """Inventory rows of touchpoints customers meet on the way to the goal (stages up to
        the goal's stage, goal touchpoints excluded) and reached by someone."""
        t = self.inventory.table
        goal_stage = t.loc[t.touchpoint.isin(self.study.goal_touchpoints), "stage_order"].max()
        keep = (t.customers > 0) & ~t.touchpoint.isin(self.study.goal_touchpoints)
        keep &= (t.stage_order <= goal_stage) & (t.stage_order >= 0)
        return t[keep]

    def headlines(self) -> list[str]:
        inv = self.inventory
        top = inv.largest_dropoff()
        f = self.funnel.table if self.funnel is not None else pd.DataFrame()
        whole = whole_log(self.study)  # every figure here is over the whole log (cxlab.metrics)
        lines = [
            f"{figure('bought_any_time', inv.conversion, period=whole)}: {inv.converted:,} of the "
            f"{inv.customers:,} customers reached a goal ({', '.join(self.study.goal_touchpoints)}) at any time "
            "(no conversion window; the conversion rate is on the objectives page).",
            self._dropoff_headline(top),
        ]
        worst = self.funnel.largest_drop() if len(f) > 1 else None
        if len(f) > 1 and worst is None:
            lines.append(f"Stage funnel ({self.window_phrase()}): no customer touches the first stage "
                         f"({f.label.iloc[0]}), so its steps cannot be compared.")
        if worst is not None:
            win = self.window_phrase()
            lines.append(
                f"Stage funnel ({win}): {int(f.customers.iloc[0]):,} enter at {f.label.iloc[0]}; the weakest step is "
                f"into {worst.label}: {mark(f'went_on_to_stage:{worst.label}', worst.conversion, period=whole)} "
                "of those at the previous stage reach it" + _bracket(self.funnel.weakest_firmness(compare=False)) + "."
                + _then(self.funnel.weakest_sentence())
            )
        v = self.variants
        lines.append(
            f"{v.distinct_variants:,} different paths lead up to the first purchase (or to the end of the journey); "
            f"the {len(v.table)} most common cover {v.coverage:.0%} of customers." + _then(v.firmness(5))
        )
        a = self.attribution.table
        labels = dict(zip(self.inventory.table.touchpoint, self.inventory.table.label))
        if len(a):
            best = a.iloc[0]
            lines.append(self._attribution_headline(best, labels))
            others = [self.attribution.leader(m, labels) for m in ("last_touch", "first_touch")]
            if all(others):
                lines.append(" ".join(others))
        if self.anchor is not None and self.anchor.journeys:
            after = self.anchor.at(1)
            if len(after):
                nxt = after.iloc[0]
                what = ("the journey ends there, without a purchase" if nxt.touchpoint == J.END
                        else f"the most common next step is {labels.get(nxt.touchpoint, nxt.touchpoint)}")
                firm = self.anchor.firmness(1)
                lines.append(
                    f"After {labels.get(self.anchor.anchor, self.anchor.anchor)}, {what} "
                    f"({nxt.share:.0%} of {self.anchor.journeys:,} customers" + (f"; {firm}" if firm else "") + ")."
                )
        if inv.uncatalogued:
            lines.append(f"Touchpoints in the log but not in the catalog: {', '.join(inv.uncatalogued)}.")
        return lines

    def _dropoff_headline(self, top: pd.Series) -> str:
        """The largest drop-off, its Wilson interval and how firmly it is the largest."""
        text = (f"Largest drop-off: {top.label} ({top.touchpoint}) — {top.dropoff_rate:.0%} of the "
                f"{int(top.customers):,} customers who reached it ended their journey there without buying")
        if pd.notna(top.get("dropoff_ci_low", np.nan)):
            text += f" ({self.inventory.ci_level:.0%} interval {_pct_range(top.dropoff_ci_low, top.dropoff_ci_high)})"
        text += "."
        if self.dropoff is not None and self.dropoff.top is not None:
            labels = dict(zip(self.inventory.table.touchpoint, self.inventory.table.label))
            text += " " + self.dropoff.sentence(labels)
        return text

    def _attribution_headline(self, best: pd.Series, labels: dict) -> str:
        """The touchpoint the Markov model credits most, with its interval and how firm the lead is."""
        name = labels.get(best.touchpoint, best.touchpoint)
        text = (f"The Markov model credits {name} with the largest share of purchases ({best.markov_share:.1%}"
                f"{self._interval('markov', best.touchpoint)}; last-touch attribution gives it "
                f"{best.last_touch_share:.0%})")
        r = self.attribution.rankings.get("markov")
        if r is None or r.top is None:
            return text + "."
        if r.top.distinguishable and r.first == best.touchpoint:
            return text + f"; it is ranked 1st in {r.row().ranked_first:.0%} of {r.resamples:,} resamples."
        return text + ". " + r.sentence(labels)

    def _interval(self, model: str, touchpoint: str) -> str:
        r = self.attribution.rankings.get(model)
        return "" if r is None else f", {r.ci_level:.0%} interval {r.interval(touchpoint, '{:.1%}')}"

    def ranked_inventory(self) -> pd.DataFrame:
        """The inventory table with, per touchpoint, the drop-off ranking (with resamples):
        ``dropoff_ranked_first`` (share of resamples in which it has the largest drop-off) and
        ``dropoff_rank_low``/``dropoff_rank_high`` (its rank interval); what the stage writes."""
        t = self.inventory.table.copy()
        if self.dropoff is not None:
            ranks = self.dropoff.table.set_index("item").reindex(t["touchpoint"].astype(str))
            for col in ("ranked_first", "rank_low", "rank_high"):
                t[f"dropoff_{col}"] = ranks[col].to_numpy()
        return t

    def inventory_table(self) -> pd.DataFrame:
        """The touchpoint inventory for a reader (``show_table``), in journey order: reach, use,
        position, time to the next step, journey ends and the drop-off rate with its Wilson
        interval; with resamples, the share of resamples in which the touchpoint has the largest
        drop-off and its rank interval among the touchpoints."""
        t = self.ranked_inventory()
        out = t[["stage", "label", "status", "customers", "reach", "events_per_customer", "median_position",
                 "median_hours_to_next", "journey_ends", "dropoff_rate"]].copy()
        out["drop-off interval"] = ["" if pd.isna(a) else _pct_range(a, b)
                                    for a, b in zip(t.dropoff_ci_low, t.dropoff_ci_high)]
        if "dropoff_ranked_first" in t:
            out["largest drop-off in"] = ["" if pd.isna(v) else f"{v:.0%}" for v in t.dropoff_ranked_first]
            out["drop-off rank interval"] = ["" if pd.isna(a) else (f"{int(a)}" if a == b else f"{int(a)}–{int(b)}")
                                             for a, b in zip(t.dropoff_rank_low, t.dropoff_rank_high)]
        out.attrs["formats"] = {"reach": "pct", "dropoff_rate": "pct", "events_per_customer": "num",
                                "median_position": "num", "median_hours_to_next": "num"}
        return out

    def segment_variants_table(self) -> pd.DataFrame | None:
        """The most common paths of each segment (``show_table``), with, under resamples, the share
        of resamples in which each comes first in its segment and its rank interval."""
        vs = self.variants_by_segment
        if vs is None:
            return None
        out = vs[["segment", "rank", "variant", "customers"]].copy()
        out["share_of_segment"] = vs["customers"] / vs["segment_customers"]
        if "ranked_first" in vs:
            out["most common in"] = [f"{v:.0%}" for v in vs.ranked_first]
            out["rank interval"] = [f"{int(a)}" if a == b else f"{int(a)}–{int(b)}"
                                    for a, b in zip(vs.rank_low, vs.rank_high)]
        out["conversion"] = vs["conversion"]
        out.attrs["formats"] = {"share_of_segment": "pct", "conversion": "pct"}
        return out

    def stage_sentences(self) -> list[str]:
        """One sentence per stage: customers reaching it in the funnel, its busiest touchpoint
        and the touchpoint there after which most journeys end without the goal."""
        t = self.inventory.table
        f = self.funnel.table.set_index("label") if self.funnel is not None else pd.DataFrame()
        whole = whole_log(self.study)
        out = []
        for stage in self.study.stages:
            rows = t[(t.stage == stage) & (t.customers > 0)]
            if rows.empty:
                out.append(f"{stage.capitalize()}: no touchpoint of this stage occurs in the log.")
                continue
            busiest = rows.loc[rows.customers.idxmax()]
            text = f"{stage.capitalize()}: "
            if stage in f.index:
                r = f.loc[stage]
                if r.step == 1:
                    text += f"{int(r.customers):,} customers start here; "
                elif pd.notna(r.conversion):
                    went_on = mark(f"went_on_to_stage:{stage}", r.conversion, period=whole)
                    text += f"{int(r.customers):,} customers get here ({went_on} of those at the stage before); "
            text += f"the touchpoint reaching most customers is {busiest.label} ({busiest.reach:.0%}"
            text += _within(self.reach_ranking, rows.touchpoint, busiest.touchpoint, "most reached") + ")"
            ends = rows[rows.journey_ends > 0]
            if len(ends):
                worst = ends.loc[ends.dropoff_rate.idxmax()]
                text += (f", and the riskiest is {worst.label}: {worst.dropoff_rate:.0%} of the customers who reach it "
                         f"leave without buying right after it"
                         + _bracket(_within(self.dropoff, ends.touchpoint, worst.touchpoint, "riskiest").lstrip("; "))
                         + ".")
            else:
                text += "; no journey ends here without the goal."
            out.append(text)
        return out

    def segment_sentences(self) -> list[str]:
        """Per segment: entering customers, how far they get, and their most common path."""
        if self.funnel_by_segment is None:
            return []
        g = self.funnel_by_segment.by_group
        whole = whole_log(self.study)
        out = []
        for seg, rows in g.groupby("group", sort=True):
            rows = rows.sort_values("step")
            start, end = int(rows.customers.iloc[0]), int(rows.customers.iloc[-1])
            if start == 0:
                continue
            worst = rows.iloc[1:].loc[rows.iloc[1:].conversion.idxmin()] if len(rows) > 1 else None
            last = rows.label.iloc[-1]
            reached = mark(f"reached_stage:{last}", end / start, period=whole,
                           population=in_segment("reached_stage", seg))
            text = f"{seg}: {start:,} customers enter; {reached} reach {last} {self.window_phrase()}"
            if worst is not None and pd.notna(worst.conversion):
                step = mark(f"went_on_to_stage:{worst.label}", worst.conversion, period=whole,
                            population=in_segment("went_on_to_stage", seg))
                firm = self.funnel_by_segment.weakest_firmness(str(seg))
                text += f"; their weakest step is into {worst.label} ({step}" + (f", {firm}" if firm else "") + ")"
            if self.variants_by_segment is not None:
                v = self.variants_by_segment[self.variants_by_segment.segment == seg]
                if len(v):
                    top = v.iloc[0]
                    text += f"; their most common path is {top.variant} ({top.customers / top.segment_customers:.0%}"
                    if "ranked_first" in v and pd.notna(top.ranked_first):
                        text += f", first in {top.ranked_first:.0%} of {self.resamples:,} resamples"
                    text += ")"
            out.append(text + ".")
        return out

    def record_extra(self) -> dict:
        """The days the log covers, the period of this stage's whole-log figures (ISO 8601), so
        the journey map marks the figures it repeats without reading the log (cxlab.metrics)."""
        return {"log_period": whole_log(self.study).iso}

    def metrics(self) -> dict:
        inv = self.inventory
        top = inv.largest_dropoff()
        out = {
            "customers": inv.customers,
            "conversion_rate": inv.conversion,
            "largest_dropoff_touchpoint": str(top.touchpoint),
            "largest_dropoff_rate": float(top.dropoff_rate),
            "distinct_variants": self.variants.distinct_variants,
            "top_variants_coverage": self.variants.coverage,
            "markov_conversion_probability": self.attribution.conversion_probability,
        }
        # how firm the rankings are: the share of resamples in which the leader ranks 1st
        if self.dropoff is not None:
            out["largest_dropoff_ranked_first"] = float(self.dropoff.row(str(top.touchpoint)).ranked_first)
            out["largest_dropoff_distinguishable"] = bool(self.dropoff.top is not None
                                                          and self.dropoff.top.distinguishable)
        markov = self.attribution.rankings.get("markov")
        if markov is not None and len(markov.table):
            out["markov_top_touchpoint"] = markov.first
            out["markov_top_ranked_first"] = float(markov.row().ranked_first)
        if self.funnel is not None and self.funnel.weakest is not None and len(self.funnel.weakest.table):
            out["weakest_step_ranked_first"] = float(self.funnel.weakest.row().ranked_first)
        if self.variants.ranking is not None and len(self.variants.table):
            out["top_variant_ranked_first"] = float(self.variants.ranking.row().ranked_first)
        if self.funnel is not None:
            f = self.funnel.conversion()
            out["stage_funnel_completion"] = {"value": f.estimate, "ci_low": f.ci_low, "ci_high": f.ci_high}
        return out

    def tables(self) -> dict[str, Any]:
        """The outputs later stages read (keys of the registry); the funnels carry their window
        (``window_days``, NaN for no window), so a reader never has to guess it."""
        window = np.nan if self.window_days is None else float(self.window_days)
        by_segment = None
        if self.funnel_by_segment is not None:
            by_segment = self.funnel_by_segment.by_group.rename(columns={"group": "segment"}).assign(window_days=window)
        funnel, by_channel = self.funnel, self.funnel_by_channel
        return {
            "inventory": self.ranked_inventory(),
            "channels": self.channels.table,
            "funnel": None if funnel is None else funnel.table.assign(window_days=window),
            "funnel_by_segment": by_segment,
            "funnel_by_channel": None if by_channel is None else by_channel.by_group.assign(window_days=window),
            "time_to_convert": None if funnel is None else funnel.time_to_convert,
            "transitions": self.transitions.table,
            "anchor": None if self.anchor is None else self.anchor.positions.assign(anchor=self.anchor.anchor),
            "variants": self.variants.table,
            "variants_by_segment": self.variants_by_segment,
            "inventory_by_segment": self.inventory_by_segment,
            "transitions_by_segment": self.transitions_by_segment,
            "attribution": self.attribution.table,
            "custom_funnel": None if self.custom_funnel is None else self.custom_funnel.table.assign(window_days=window),
        }


def _bracket(text: str) -> str:
    return f" ({text})" if text else ""


def _then(text: str) -> str:
    return f" {text}" if text else ""


def _pct_range(low: float, high: float) -> str:
    """An interval of shares: "48–52%", or "12.8–13.0%" when whole percents would not tell the
    ends apart."""
    lo, hi = f"{low:.0%}", f"{high:.0%}"
    if lo == hi:
        lo, hi = f"{low:.1%}", f"{high:.1%}"
    return f"{lo[:-1]}–{hi}"


def _within(order: Ranking | None, keys, item: str, word: str) -> str:
    """"; the <word> of the stage in 97% of 200 resamples": ``item`` ranked among ``keys`` only
    (the touchpoints of one journey stage); '' without resamples or with one touchpoint."""
    if order is None:
        return ""
    ranked = set(order.table["item"])
    keys = [k for k in keys if k in ranked]
    if len(keys) < 2 or item not in keys:
        return ""
    sub = order.subset(keys)
    return f"; the {word} of the stage in {sub.row(item).ranked_first:.0%} of {sub.resamples:,} resamples"


# ----------------------------------------------------------------------------- running
def parse_funnel(text: str) -> list:
    """Funnel steps from text: steps separated by '>', alternatives by '|'
    ("web_product_view|app_product_view > web_checkout > web_purchase")."""
    steps = []
    for part in str(text).split(">"):
        alts = [a.strip() for a in part.split("|") if a.strip()]
        if not alts:
            raise ParameterError(f"custom funnel '{text}': an empty step; write steps separated by '>'.")
        steps.append(alts if len(alts) > 1 else alts[0])
    return steps


def _segments(study: Study, segments_file: str | os.PathLike | None) -> tuple[pd.DataFrame | None, str | None]:
    """customer_id -> segment and where it came from: ``segments_file`` when given (a path
    relative to data/processed/<study>/ or to the study folder), else the segmentation stage's
    output (None before that stage ran)."""
    if segments_file:
        path = Path(segments_file)
        if not path.is_absolute():
            candidates = [study.processed_dir / path, study.root / path]
            path = next((c for c in candidates if c.exists()), candidates[0])
        if not path.exists():
            raise ParameterError(f"segments_file '{segments_file}' does not exist (looked in {study.processed_dir} "
                                 f"and {study.root}).")
        return pd.read_parquet(path), str(path)
    segments = read_output(study, "segmentation", "segments")
    return segments, (None if segments is None else "the segmentation stage")


@stage_analysis("touchpoints")
def analyze(
    study: Study,
    *,
    conversion_window_days: float | None = 0,
    top_variants: int = 20,
    anchor_touchpoint: str | None = None,
    anchor_steps: int = 3,
    sankey_steps: int = 5,
    segments_file: str | os.PathLike | None = None,
    custom_funnel: str | list | None = None,
    funnel_mode: str = "ordered",
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> TouchpointStage:
    """Run every touchpoint analysis of the stage on a study (see the module doc).

    ``conversion_window_days``: a customer counts as reaching a later stage of a funnel only
    within this many days of entering it, and as converting in the inventory's comparison of
    customers with and without a touchpoint only within this many days of their first touch
    (``cxlab.inventory``); 0 (default): the study's conversion window (study.yaml
    ``conversion_window_days``, 30 days unless set); None: no window. The window used is kept in
    ``result.parameters`` and written with the funnels. Segments: the
    segmentation stage's output unless ``segments_file`` names a customer_id, segment file.
    ``n_resamples`` (200; 0: none) customer-level bootstrap resamples, drawn with ``seed``, say
    how firm every ranking is (module doc)."""
    n_resamples = check_resamples(n_resamples)
    boot = {"n_resamples": n_resamples, "seed": seed}
    if conversion_window_days is not None and conversion_window_days < 0:
        raise ParameterError(f"conversion_window_days={conversion_window_days}: a number of days above 0, "
                             "0 for the study's window, or None for no window.")
    window = study.conversion_window_days if conversion_window_days == 0 else conversion_window_days
    window = None if window is None else float(window)
    src = J.resolve(study)  # the event log, opened once and shared by every analysis below
    skipped: dict[str, str] = {}
    # the inventory's conversion comparison uses the same window as the funnels
    inv = inventory(src, window_days=window)
    channels = inventory(src, by="channel", window_days=window)
    ranked = dropoff_rankings(src, inv, **boot)
    drop, reach = ranked if ranked is not None else (None, None)
    # one pass gives the overall funnel and its breakdown by entry channel
    funnel_stages = [s for s in study.stages if (study.catalog["stage"] == s).any()]
    sf_channel = sf = None
    if len(funnel_stages) >= 2:
        sf_channel = sf = stage_funnel(src, window_days=window, by="channel", **boot)
    else:
        skipped["funnel"] = not_computed(
            "stage funnel", f"at least two journey stages with catalogued touchpoints (the catalog has "
            f"{len(funnel_stages)}: {', '.join(funnel_stages) or 'none'})")
    tr = transitions(src, collapse_repeats=True, sankey_steps=sankey_steps, **boot)
    anchor = None
    if anchor_touchpoint:
        if anchor_touchpoint in set(inv.table.loc[inv.table.customers > 0, "touchpoint"]):
            anchor = anchor_paths(src, anchor_touchpoint, before=anchor_steps, after=anchor_steps, **boot)
        else:
            skipped["anchor"] = not_computed(
                f"paths around {anchor_touchpoint}", f"the anchor touchpoint '{anchor_touchpoint}' in the log "
                "(it does not occur)")
    var = variants(src, top=top_variants, **boot)
    att = attribution(src, **boot)

    segments, segments_source = _segments(study, segments_file)
    sf_seg = var_seg = inv_seg = tr_seg = None
    if segments is not None:
        if sf is not None:
            sf_seg = stage_funnel(src, window_days=window, by="segment", segments=segments, **boot)
        groups = segments["segment"].astype(str).unique()
        rows, inv_rows, tr_rows = [], [], []
        for g in sorted(groups):
            seg_events = J.for_segment(src, g, segments)
            v = variants(seg_events, top=min(top_variants, 5), **boot)
            rows.append(v.table.assign(segment=g, segment_customers=v.customers))
            inv_rows.append(inventory(seg_events, window_days=window).table.assign(segment=g))
            tr_rows.append(transitions(seg_events, n_resamples=0).table.assign(segment=g))
        var_seg = pd.concat(rows, ignore_index=True) if rows else None
        inv_seg = pd.concat(inv_rows, ignore_index=True) if inv_rows else None
        tr_seg = pd.concat(tr_rows, ignore_index=True) if tr_rows else None
    else:
        skipped["segments"] = not_computed(
            "breakdowns by segment", "the segmentation stage's segments (run it, or set segments_file)")
    cf = None
    if custom_funnel:
        steps = parse_funnel(custom_funnel) if isinstance(custom_funnel, str) else list(custom_funnel)
        cf = funnel(src, steps, mode=funnel_mode, window_days=window, **boot)
    return TouchpointStage(
        study, window, inv, channels, sf, sf_channel, tr, anchor, var, att, sf_seg, var_seg, segments_source, cf,
        inv_seg, tr_seg, skipped, drop, reach, n_resamples, notes=list(skipped.values()),
        parameters={"conversion_window_days": window, "n_resamples": n_resamples, "seed": seed},
    )
