"""Funnels: how many customers reach each step, in order, within a conversion window.

``funnel`` takes any touchpoints as steps, with the ordering modes known from product analytics;
``stage_funnel`` is the funnel over the study's stages. Both run in the engine; what comes back
is one row per step (and per segment or channel), and the distribution of the time to convert.

**The weakest step, and how firm it is.** The weakest step is the one that loses the largest
share of the customers at the step before (lowest step conversion). With ``n_resamples`` > 0
(200 by default) the log's customers are resampled (``cxlab.touchpoints.ranking``: customer-level,
seeded), the customers reaching each step counted again in each resample, and the steps ranked
by the share they lose: ``weakest`` (and per group ``weakest_by_group``) says in what share of
resamples each step is the weakest, its rank interval, and whether the two weakest can be told
apart.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import ibis
import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..results import Estimate
from ..stats import wilson
from ..stats.ranking import Ranking, check_resamples, ranking
from .. import journeys as J
from .ranking import DEFAULT_RESAMPLES, item_sums, log_customers

__all__ = ["Funnel", "funnel", "stage_funnel", "MODES"]

MODES = ("ordered", "strict", "any")
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


@dataclass
class Funnel:
    """A funnel's result.

    ``table``: one row per step — ``step`` (1, 2 …), ``label``, ``touchpoints``, ``customers``
    reaching it, ``share_of_start`` (of customers reaching step 1), ``conversion`` from the
    previous step with ``conversion_ci_low/high`` (Wilson), ``dropped`` (reached the previous
    step, not this one), ``median_hours_from_previous`` and ``median_hours_from_start``.
    ``by_group``: the same per segment or entry channel (column ``group``), when asked.
    ``time_to_convert``: customers completing the funnel per whole day from the window start
    (``day`` 0 = within 24 hours), with ``share`` and ``cumulative_share``;
    ``time_to_convert_quantiles``: hours at the 10/25/50/75/90th percentiles.
    ``excluded``: customers whose conversion an exclusion step dropped.

    With resamples (module doc), ``table`` and ``by_group`` also carry, from step 2 on,
    ``weakest_ranked_first`` (share of resamples in which the step loses the largest share),
    ``weakest_rank_low``/``weakest_rank_high`` (its rank interval, 1 = weakest); ``weakest`` and
    ``weakest_by_group`` hold the rankings (items: the step numbers as text).
    """

    table: pd.DataFrame
    mode: str
    window_days: float | None
    by: str | None = None
    by_group: pd.DataFrame | None = None
    time_to_convert: pd.DataFrame = field(default_factory=pd.DataFrame)
    time_to_convert_quantiles: pd.Series = field(default_factory=pd.Series)
    excluded: int = 0
    ci_level: float = 0.95
    weakest: Ranking | None = None
    weakest_by_group: dict[str, Ranking] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return self.table["label"].tolist()

    def step_names(self) -> dict[str, str]:
        """Step number (as text, the rankings' items) -> "the step into <label>"."""
        return {str(s): f"the step into {lab}" for s, lab in zip(self.table["step"], self.table["label"])}

    def weakest_firmness(self, group: str | None = None, compare: bool = True) -> str:
        """How firmly the weakest step (overall, or of ``group``) is the weakest, in a phrase:
        "the weakest in 98% of 200 resamples", with ", not told apart from the step into <label>"
        when the two weakest cannot be told apart (and ``compare``); '' without resamples."""
        r = self.weakest if group is None else self.weakest_by_group.get(group)
        if r is None or r.table.empty or not np.isfinite(r.row().ranked_first):
            return ""
        text = f"the weakest in {r.row().ranked_first:.0%} of {r.resamples:,} resamples"
        if compare and r.top is not None and not r.top.distinguishable:
            text += f", not told apart from {self.step_names().get(r.top.second, r.top.second)}"
        return text

    def weakest_sentence(self, group: str | None = None) -> str:
        """The comparison of the two weakest steps (``TopTwo.sentence``) when they cannot be told
        apart; '' otherwise."""
        r = self.weakest if group is None else self.weakest_by_group.get(group)
        if r is None or r.top is None or r.top.distinguishable:
            return ""
        return r.sentence(self.step_names())

    def display_table(self) -> pd.DataFrame:
        """The step table for a reader (``show_table``): customers, share of the start, step
        conversion with its Wilson interval, median hours from the previous step and, with
        resamples, how often the step is the weakest and its rank interval among the steps."""
        t = self.table
        out = t[["step", "label", "customers", "share_of_start", "conversion"]].copy()
        out["conversion interval"] = ["" if pd.isna(a) else f"{a:.1%}–{b:.1%}"
                                      for a, b in zip(t.conversion_ci_low, t.conversion_ci_high)]
        if self.weakest is not None:
            out["weakest in"] = ["" if pd.isna(v) else f"{v:.0%}" for v in t.weakest_ranked_first]
            out["weakness rank interval"] = [
                "" if pd.isna(a) else (f"{int(a)}" if a == b else f"{int(a)}–{int(b)}")
                for a, b in zip(t.weakest_rank_low, t.weakest_rank_high)]
        out["median_hours_from_previous"] = t["median_hours_from_previous"]
        out.attrs["formats"] = {"share_of_start": "pct", "conversion": "pct", "median_hours_from_previous": "num"}
        return out

    def conversion(self) -> Estimate:
        """Share of customers entering the funnel (step 1) who complete it, with a Wilson CI."""
        start = int(self.table["customers"].iloc[0])
        end = int(self.table["customers"].iloc[-1])
        if start == 0:
            return Estimate("funnel conversion", float("nan"), float("nan"), float("nan"), None, 0,
                            "Wilson score interval")
        lo, hi = wilson(end, start, self.ci_level)
        return Estimate(
            f"funnel conversion, {self.labels[0]} to {self.labels[-1]}", end / start, float(lo), float(hi),
            None, start, "Wilson score interval", self.ci_level,
        )

    def largest_drop(self) -> pd.Series | None:
        """The step transition losing the largest share of customers (lowest conversion); None
        when no step has a conversion (nobody reaches the step before any of them)."""
        rest = self.table.iloc[1:]
        rest = rest[rest["conversion"].notna()]
        return None if rest.empty else rest.loc[rest["conversion"].idxmin()]

    def summary(self) -> str:
        win = f"within {self.window_days:g} days of entering" if self.window_days else "with no time limit"
        lines = [f"{self.mode.capitalize()} funnel, {win}:"]
        for row in self.table.itertuples():
            if row.step == 1:
                lines.append(f"  {row.step}. {row.label}: {row.customers:,} customers")
            else:
                med = "" if pd.isna(row.median_hours_from_previous) else f", median {row.median_hours_from_previous:.1f} h after the previous step"
                lines.append(f"  {row.step}. {row.label}: {row.customers:,} ({row.conversion:.1%} of the previous step{med})")
        if self.excluded:
            lines.append(f"  {self.excluded:,} conversion(s) dropped by exclusion steps.")
        return "\n".join(lines)

    def plot(self, ax=None):
        """Bars of customers per step, each labelled with its conversion from the previous step."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        t = self.table
        ax.bar(range(len(t)), t["customers"], color="#4c72b0")
        ax.set_xticks(range(len(t)), [f"{s}. {lab}" for s, lab in zip(t["step"], t["label"])], rotation=20, ha="right")
        for i, (n, conv) in enumerate(zip(t["customers"], t["conversion"])):
            text = f"{n:,}" if i == 0 else f"{n:,}\n{conv:.0%}"
            ax.annotate(text, (i, n), ha="center", va="bottom", fontsize=9)
        ax.set_ylabel("Customers")
        return ax

    def plot_time_to_convert(self, ax=None):
        """Histogram of days from entering the funnel to completing it."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        d = self.time_to_convert
        ax.bar(d["day"], d["customers"], width=0.9, color="#55a868")
        ax.set_xlabel("Days from entering the funnel to its last step")
        ax.set_ylabel("Customers")
        return ax


# ----------------------------------------------------------------------------- engine work
def _window_seconds(window_days) -> int | None:
    if window_days is None:
        return None
    if not isinstance(window_days, (int, float)) or window_days <= 0:
        raise ParameterError(f"window_days={window_days!r}: give a positive number of days, or None for no limit.")
    return int(round(window_days * J.DAY))


def _parse_exclusions(exclusions, n_steps: int) -> list[tuple[list[str], int, int]]:
    out = []
    for ex in exclusions or []:
        if isinstance(ex, dict):
            tps, between = ex.get("touchpoint") or ex.get("touchpoints"), ex.get("between")
        else:
            try:
                tps, i, j = ex
                between = (i, j)
            except (TypeError, ValueError):
                raise ParameterError(
                    f"Exclusion {ex!r}: write (touchpoint, from_step, to_step) or "
                    "{'touchpoint': ..., 'between': (from_step, to_step)}."
                ) from None
        tps = [tps] if isinstance(tps, str) else list(tps or [])
        if not tps or not between or len(between) != 2:
            raise ParameterError(f"Exclusion {ex!r} needs touchpoint(s) and two steps it falls between.")
        i, j = int(between[0]), int(between[1])
        if not 1 <= i < j <= n_steps:
            raise ParameterError(
                f"Exclusion {ex!r}: steps must satisfy 1 <= from_step < to_step <= {n_steps} (steps count from 1)."
            )
        out.append((tps, i, j))
    return out


def _ordered_state(src, sets, window_s, exclusions, want_channel):
    """Greedy earliest chain: step 1 = first step-1 event; step k = first step-k event after the
    step k-1 event (in (timestamp, seq) order) and no later than window start + window.

    Positions come from the journey table (the whole log's order), so no window is needed. Each
    step is one left join of the customers' state with that step's events (the order and window
    conditions in the join) and one group-by, so the query grows linearly with the steps.
    """
    k_steps = len(sets)
    wanted = sorted({tp for s in sets for tp in s} | {tp for x, _, _ in exclusions for tp in x})
    j = J.journey_table(src)
    keep = ["customer_id", "touchpoint", "pos", "t"] + (["channel"] if want_channel else [])
    f = j.filter(j.touchpoint.isin(wanted)).select(*keep)
    s1 = f.filter(f.touchpoint.isin(sets[0]))
    aggs = {"p1": s1.pos.min(), "t1": s1.t.min()}
    if want_channel:
        aggs["entry"] = s1.channel.fill_null(J.UNKNOWN).argmin(s1.pos)
    state = s1.group_by("customer_id").agg(**aggs)
    for k in range(2, k_steps + 1):
        sk = f.filter(f.touchpoint.isin(sets[k - 1]))
        sk = sk.select(_cid=sk.customer_id, _pos=sk.pos, _t=sk.t)
        preds = [state.customer_id == sk._cid, sk._pos > state[f"p{k - 1}"]]
        if window_s is not None:
            preds.append(sk._t <= state.t1 + window_s)
        jn = state.left_join(sk, preds)
        carry = {c: jn[c].min() for c in state.columns if c not in ("customer_id", "entry")}
        if "entry" in state.columns:
            carry["entry"] = jn.entry.max()
        state = jn.group_by(jn.customer_id).agg(**carry, **{f"p{k}": jn._pos.min(), f"t{k}": jn._t.min()})
    cut = None
    for tps, i, jj in exclusions:
        x = f.filter(f.touchpoint.isin(tps))
        x = x.select(_cid=x.customer_id, _xpos=x.pos)
        jn = state.left_join(x, [state.customer_id == x._cid, x._xpos > state[f"p{i}"], x._xpos < state[f"p{jj}"]])
        carry = {c: (jn[c].max() if c == "entry" else jn[c].min()) for c in state.columns if c != "customer_id"}
        hit = ibis.ifelse(jn._xpos.count() > 0, ibis.literal(jj, type="int64"), ibis.null("int64"))
        state = jn.group_by(jn.customer_id).agg(**carry, **{f"_cut{i}_{jj}": hit})
    cut_cols = [c for c in state.columns if c.startswith("_cut")]
    cols = {"customer_id": state.customer_id, "t1": state.t1}
    if cut_cols:
        cut = ibis.least(*[state[c] for c in cut_cols]) if len(cut_cols) > 1 else state[cut_cols[0]]
    for k in range(2, k_steps + 1):
        tk = state[f"t{k}"]
        cols[f"t{k}"] = tk if cut is None else ibis.ifelse(cut.notnull() & (cut <= k), ibis.null("int64"), tk)
    cols["excluded"] = ibis.literal(False) if cut is None else cut.notnull()
    if want_channel:
        cols["entry"] = state.entry
    state = state.select(**cols)
    return state.mutate(t0=state.t1)


def _strict_state(ev, sets, window_s, want_channel):
    """Runs of consecutive events: a run starting at a step-1 event reaches step k when the
    next k-1 events of the full log are steps 2..k, all no later than window start + window."""
    k_steps = len(sets)
    keep = ("touchpoint", "channel") if want_channel else ("touchpoint",)
    o = J.ordered(ev, lead=k_steps - 1, lead_time=k_steps - 1, keep=keep)
    r = o.filter(o.touchpoint.isin(sets[0]))
    r = r.mutate(_start=r.t.min().over(ibis.window(group_by=r.customer_id)))
    ok = ibis.literal(True)
    aggs = {"t1": r._start.min()}
    if want_channel:
        aggs["entry"] = r.channel.fill_null(J.UNKNOWN).argmin(r.pos)
    for k in range(2, k_steps + 1):
        nxt, nxt_t = r[f"next{k - 1}"], r[f"next{k - 1}_t"]
        ok = ok & nxt.isin(sets[k - 1]).fill_null(False)
        if window_s is not None:
            ok = ok & (nxt_t <= r._start + window_s).fill_null(False)
        aggs[f"t{k}"] = nxt_t.min(where=ok)
    state = r.group_by("customer_id").agg(**aggs)
    return state.mutate(excluded=ibis.literal(False), t0=state.t1)


def _any_state(src, sets, window_s, want_channel):
    """Any order: the window opens at the customer's first event of any step; step k counts as
    reached when steps 1..k have each occurred inside the window, at the latest of their first
    occurrences."""
    k_steps = len(sets)
    wanted = sorted({tp for s in sets for tp in s})
    j = J.journey_table(src)
    f = j.filter(j.touchpoint.isin(wanted))
    aggs = {"t0": f.t.min(), **{f"f{i}": f.t.min(where=f.touchpoint.isin(s)) for i, s in enumerate(sets, 1)}}
    if want_channel:
        aggs["entry"] = f.channel.fill_null(J.UNKNOWN).argmin(f.pos)
    firsts = f.group_by("customer_id").agg(**aggs)
    cols = {"customer_id": firsts.customer_id, "t0": firsts.t0}
    reached = ibis.literal(True)
    latest = None
    for i in range(1, k_steps + 1):
        fi = firsts[f"f{i}"]
        inside = fi.notnull() if window_s is None else (fi <= firsts.t0 + window_s).fill_null(False)
        reached = reached & inside
        latest = fi if latest is None else ibis.greatest(latest, fi)
        cols[f"t{i}"] = ibis.ifelse(reached, latest, ibis.null("int64"))
    if want_channel:
        cols["entry"] = firsts.entry
    return firsts.select(**cols).mutate(excluded=ibis.literal(False))


def _aggregate_steps(state: ibis.Table, k_steps: int, grouped: bool) -> ibis.Table:
    aggs = {"excluded": state.excluded.cast("int64").sum()}
    if not grouped:  # the time-to-convert quantiles in the same pass
        last = state[f"t{k_steps}"]
        d = last - state.t0
        for q in QUANTILES:
            aggs[f"q{int(q * 100)}"] = d.quantile(q, where=last.notnull())
    for k in range(1, k_steps + 1):
        tk = state[f"t{k}"]
        aggs[f"n{k}"] = tk.count()
        aggs[f"start{k}"] = (tk - state.t0).median()
        if k > 1:
            aggs[f"prev{k}"] = (tk - state[f"t{k - 1}"]).median()
    s = state.filter(state.t1.notnull())
    return s.group_by("group").agg(**aggs) if grouped else s.aggregate(**aggs)


def _steps_frame(raw: pd.DataFrame, sets, labels, ci_level) -> pd.DataFrame:
    rows = []
    for rec in raw.to_dict("records"):
        prev_n = None
        for k in range(1, len(sets) + 1):
            n = int(rec[f"n{k}"] or 0)
            row = {"step": k, "label": labels[k - 1], "touchpoints": ", ".join(sets[k - 1]), "customers": n}
            if "group" in rec:
                row = {"group": rec["group"], **row}
            row["share_of_start"] = n / int(rec["n1"]) if rec["n1"] else np.nan
            row["conversion"] = n / prev_n if prev_n else np.nan
            if prev_n:
                lo, hi = (float(b) for b in wilson(n, prev_n, ci_level))
            else:
                lo = hi = np.nan
            row["conversion_ci_low"], row["conversion_ci_high"] = lo, hi
            row["dropped"] = (prev_n - n) if prev_n is not None else 0
            prev = rec.get(f"prev{k}")
            row["median_hours_from_previous"] = np.nan if prev is None or pd.isna(prev) else prev / J.HOUR
            st = rec.get(f"start{k}")
            row["median_hours_from_start"] = np.nan if st is None or pd.isna(st) else st / J.HOUR
            rows.append(row)
            prev_n = n
    return pd.DataFrame(rows)


def funnel(
    data,
    steps: Sequence,
    *,
    mode: str = "ordered",
    window_days: float | None = 30,
    exclusions=None,
    by: str | None = None,
    segments=None,
    goals=None,
    catalog: pd.DataFrame | None = None,
    ci_level: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Funnel:
    """Customers reaching each step of a funnel, in the engine.

    ``steps``: a list; each step is a touchpoint, a list of touchpoints (any of them counts), or
    ``{label: [touchpoints]}``. ``window_days``: the conversion window (None: no limit).
    ``exclusions``: ``(touchpoint(s), from_step, to_step)`` tuples (ordered mode only).
    ``by``: ``"segment"`` (needs ``segments``: a DataFrame or parquet path with customer_id,
    segment; a study's data/processed/<study>/segments.parquet is used when present) or
    ``"channel"`` (the channel of the event that opened the customer's window).

    Semantics, exactly:

    - **Order.** A customer's events are ordered by timestamp, then by ``seq`` (the row in the
      raw file): two events with the same timestamp count in the order the log recorded them.
      "After" always means later in this order, never "at the same time".
    - **Window.** It opens at the customer's first step-1 event (in ``any`` mode: the first
      event of any step) and closes ``window_days`` later, inclusive. It is never reset: a
      customer who repeats step 1 keeps the window of their first step-1 event.
    - **ordered** (default): step k is reached at the first step-k event after the event that
      reached step k-1, inside the window; other events may fall in between. A customer who
      repeats a step is counted once, at the earliest chain (every step as early as possible).
    - **strict**: step k must be the very next event of the full log (any touchpoint, catalogued
      or not) after the step k-1 event. Any step-1 event may start the run, but the window is the
      one opened by the first; step k is reached at the earliest time any run reaches it.
    - **any**: steps may happen in any order; step k counts as reached when steps 1..k have each
      occurred inside the window, at the latest of their first occurrences. So ``customers`` at
      step k is the number who did all of the first k steps.
    - **exclusions** (ordered only): if a touchpoint listed as excluded between steps i and j
      occurs after the customer's step-i event and before their step-j event, the conversion is
      dropped: the customer counts as having stopped at step j-1 (``excluded`` counts them).
    - **Time** from the previous step and from the start (window opening) are medians over the
      customers reaching the step, in hours; the time to convert runs from the window opening to
      the last step.

    Worked example (steps view → cart → buy, window 2 days):

    ====  =================  ====  =====  ===============================================
    cust  timestamp          seq   event  what happens
    ====  =================  ====  =====  ===============================================
    a     Jan 1 10:00        1     view   step 1: window opens, closes Jan 3 10:00
    a     Jan 2 09:00        2     view   a repeat: the window is not reset
    a     Jan 2 12:00        3     cart   step 2, 26 h after step 1
    a     Jan 3 11:00        4     buy    after the window closed: step 3 not reached
    b     Jan 1 10:00        5     cart   same time as the view, but recorded first ...
    b     Jan 1 10:00        6     view   ... so this view (step 1) comes after it
    b     Jan 1 12:00        7     buy    no cart after the view: b stays at step 1
    c     Jan 1 10:00        8     view   step 1
    c     Jan 1 10:05        9     ad     (in between: fine when ordered, breaks strict)
    c     Jan 1 10:10        10    cart   step 2 (ordered)
    c     Jan 1 10:20        11    buy    step 3 (ordered): converted after 20 minutes
    ====  =================  ====  =====  ===============================================

    Ordered: 3 customers reach step 1, 2 (a, c) step 2 and 1 (c) step 3; c's time to convert
    is 20 minutes. Strict: a's second view is directly followed by the cart, so a reaches step 2
    (the run may start at a repeat; the window stays the first view's), b's view is followed by
    the buy and c's by the ad, so 3, 1, 0. Any order: the window opens at the first event of any
    step; b did cart, view and buy inside it and c all three, a missed the buy: 3, 3, 2.

    ``n_resamples`` (200; 0: none) customer-level bootstrap resamples (``seed``) rank the steps
    by the share they lose (module doc).
    """
    n_resamples = check_resamples(n_resamples)
    if mode not in MODES:
        raise ParameterError(f"mode='{mode}': choose ordered, strict or any.")
    if by not in (None, "segment", "channel"):
        raise ParameterError(f"by='{by}': break a funnel down by 'segment' or 'channel' (or None).")
    src = J.resolve(data, goals=goals, catalog=catalog)
    sets, labels = J.step_sets(steps)
    if len(sets) < 2:
        raise ParameterError("A funnel needs at least two steps.")
    window_s = _window_seconds(window_days)
    excl = _parse_exclusions(exclusions, len(sets))
    if excl and mode != "ordered":
        raise ParameterError(
            "Exclusion steps apply to ordered funnels only (in a strict funnel nothing falls between "
            "two steps; in an any-order funnel 'between' is undefined)."
        )
    want_channel = by == "channel"
    if want_channel and "channel" not in src.events.columns:
        raise ParameterError("by='channel' needs a channel column in the events.")
    if mode == "ordered":
        state = _ordered_state(src, sets, window_s, excl, want_channel)
    elif mode == "strict":
        state = _strict_state(src.events, sets, window_s, want_channel)
    else:
        state = _any_state(src, sets, window_s, want_channel)

    groups = None
    if by == "segment":
        seg = segments if segments is not None else _default_segments(src)
        groups = J.segment_table(src, seg)
    if groups is not None:
        state = J.attach_group(state, groups)
    elif by == "channel":
        state = state.mutate(group=state.entry)

    k_steps = len(sets)
    with state.cache() as cached:
        overall = J.run(_aggregate_steps(cached, k_steps, grouped=False))
        by_group = J.run(_aggregate_steps(cached, k_steps, grouped=True)) if by is not None else None
        last_c = cached[f"t{k_steps}"]
        c = cached.filter(last_c.notnull())
        d = (c[f"t{k_steps}"] - c.t0)
        days = c.mutate(day=(d / J.DAY).floor().cast("int64"))
        dist = J.run(days.group_by("day").agg(customers=days.count()).order_by("day"))
        qs = overall
        reached = None
        if n_resamples:  # per customer entering: the steps reached (and the group)
            entered = cached.filter(cached.t1.notnull())
            flags = {f"r{k}": entered[f"t{k}"].notnull().cast("int64") for k in range(1, k_steps + 1)}
            extra = ["group"] if by is not None else []
            reached = J.run(entered.select("customer_id", *extra, **flags))
    table = _steps_frame(overall, sets, labels, ci_level)
    grouped = None
    if by_group is not None:
        grouped = _steps_frame(by_group.sort_values("group"), sets, labels, ci_level)
    total = int(dist["customers"].sum()) if len(dist) else 0
    if total:
        dist["share"] = dist["customers"] / total
        dist["cumulative_share"] = dist["share"].cumsum()
    quant = pd.Series(
        {f"p{int(q * 100)}": (qs.iloc[0][f"q{int(q * 100)}"] / J.HOUR if total else np.nan) for q in QUANTILES},
        name="hours to convert", dtype="float64",
    )
    excluded = int(overall["excluded"].iloc[0] or 0) if len(overall) else 0
    result = Funnel(table, mode, window_days, by, grouped, dist.reset_index(drop=True), quant, excluded, ci_level)
    if reached is not None:
        _rank_steps(result, reached, log_customers(src), n_resamples, seed)
    return result


def _rank_steps(f: Funnel, reached: pd.DataFrame, units, n_resamples: int, seed: int) -> None:
    """Rank the steps by the share of customers they lose, overall and per group, on resamples
    of the log's customers (``units``); adds the ``weakest_*`` columns and rankings to ``f``.
    One pass over the resamples counts every (group, step)."""
    k_steps = len(f.table)
    numbers = [str(k) for k in range(1, k_steps + 1)]
    long = reached.melt(id_vars=[c for c in reached.columns if not c.startswith("r")], var_name="step",
                        value_name="reached")
    long = long[long["reached"] > 0]
    long["step"] = long["step"].str[1:]
    groups = [] if f.by_group is None or f.by_group.empty else [str(g) for g in pd.unique(f.by_group["group"])]
    keys = list(numbers) + [f"{g}\x1f{k}" for g in groups for k in numbers]  # \x1f: no label holds it
    rows = [long[["customer_id", "step"]]]
    if groups:
        rows.append(pd.DataFrame({"customer_id": long["customer_id"],
                                  "step": long["group"].astype(str) + "\x1f" + long["step"]}))
    _, (n,) = item_sums(pd.concat(rows, ignore_index=True), keys, n_resamples, seed, item="step", units=units)

    def rank(counts: np.ndarray, table: pd.DataFrame) -> Ranking:
        with np.errstate(divide="ignore", invalid="ignore"):
            lost = np.where(counts[:, :-1] > 0, 1 - counts[:, 1:] / counts[:, :-1], np.nan)
        point = 1 - table["conversion"].to_numpy(float)[1:]
        return ranking(lost, point, numbers[1:], "share lost at the step", f.ci_level, fmt="{:.1%}",
                       missing_last=True)

    def with_columns(table: pd.DataFrame, r: Ranking) -> pd.DataFrame:
        ranks = r.table.set_index("item").reindex(table["step"].astype(str))
        for col in ("ranked_first", "rank_low", "rank_high"):
            table[f"weakest_{col}"] = ranks[col].to_numpy()
        return table

    f.weakest = rank(n[:, :k_steps], f.table)
    f.table = with_columns(f.table, f.weakest)
    if groups:
        parts = []
        for i, (g, rows_g) in enumerate(f.by_group.groupby("group", sort=False)):
            at = (1 + groups.index(str(g))) * k_steps
            r = rank(n[:, at:at + k_steps], rows_g)
            f.weakest_by_group[str(g)] = r
            parts.append(with_columns(rows_g.copy(), r))
        f.by_group = pd.concat(parts).loc[f.by_group.index]


def _default_segments(src: J.Source):
    if src.segments_default is not None and src.segments_default.exists():
        return src.segments_default
    raise ParameterError(
        "by='segment' needs segments: pass segments=DataFrame(customer_id, segment) or a parquet path, "
        "or run the segmentation stage first (it writes data/processed/<study>/segments.parquet)."
    )


def stage_funnel(
    data,
    *,
    window_days: float | None = 30,
    by: str | None = None,
    segments=None,
    stages: Sequence[str] | None = None,
    catalog: pd.DataFrame | None = None,
    ci_level: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Funnel:
    """Customers reaching each stage of the journey in order (an ordered funnel whose step k is
    any touchpoint of stage k in the catalog), within ``window_days`` of their first event in the
    first stage. Stages without a catalogued touchpoint are left out. See ``funnel`` for the
    exact semantics of order, window and repeats."""
    src = J.resolve(data, catalog=catalog, stages=stages)
    cat = src.catalog
    steps = []
    for stage in src.stages:
        tps = cat.loc[cat["stage"] == stage, "touchpoint"].astype(str).tolist()
        if tps:
            steps.append({stage: tps})
    if len(steps) < 2:
        raise ParameterError("A stage funnel needs at least two stages with catalogued touchpoints.")
    return funnel(src, steps, mode="ordered", window_days=window_days, by=by, segments=segments, ci_level=ci_level,
                  n_resamples=n_resamples, seed=seed)
