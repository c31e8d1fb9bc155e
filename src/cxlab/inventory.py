"""The touchpoint inventory, shared by the touchpoint and pain-point stages: every touchpoint (or
channel), where it sits, how many customers it reaches, and how it relates to conversion and to
journeys that end without the goal.

**Conversion with and without a touchpoint (the "lift").** The comparison uses the study's
conversion, the conversion KPI's definition (``cxlab.kpis``): a customer *converts* when their
first goal event comes within the conversion window (study.yaml ``conversion_window_days``, 30
days unless set; None: no window) of their first event. A customer *touched* a touchpoint, for
this comparison, only when the touch came **before their outcome was decided**:

- for a customer who converts: before their first goal event (in journey order: timestamp,
  then seq; a touch recorded after the goal at the same second does not count);
- for a customer who does not: within their window (first event + window, inclusive, whole
  seconds); with no window, anywhere in their journey.

Touches after the purchase (order tracking, a review, the loyalty app) therefore never make a
customer a "toucher": a touchpoint met only after the goal has no comparison (``lift_note`` says
so) instead of a conversion of 100%. A goal touchpoint is never compared with itself: meeting it
*is* converting. As for the KPI, a customer whose window runs past the end of the log (observed
until the end of the day of its last event) is left out of the comparison: whether they convert
is not known yet. Without a window nobody is left out. One asymmetry stays: a buyer can meet a
touchpoint only until their purchase, a non-buyer during their whole window, so a touchpoint met
at random times leans towards non-buyers — read the difference as an association.

Worked example (window 30 days; the log ends on Feb 15, so every window below is observed;
``tests/test_lookahead.py`` holds it):

========  ====================================  ============================================
customer  events                                outcome
========  ====================================  ============================================
A         view Jan 1, buy Jan 3, review Jan 10  converts; touched view, not review
B         view Jan 1                            does not convert; touched view
C         view Jan 1, buy Feb 15                does not convert (45 days); touched view
D         ad Jan 2, buy Jan 4                   converts; touched ad
========  ====================================  ============================================

view: 1 of the 3 who touched it converts against 1 of 1 who did not (difference −67 points);
ad: 1 of 1 against 1 of 3; review: nobody met it before their outcome — no comparison (counting
every touch and every purchase gave it 1 of 1 against 2 of 3); buy: a goal — no comparison.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd

from .errors import ParameterError
from .stats import two_proportions, wilson
from .results import Estimate, estimates_frame
from .study import DEFAULT_CONVERSION_WINDOW_DAYS
from . import journeys as J

__all__ = ["Inventory", "inventory", "conversion_units"]

IN_BOTH, NOT_IN_CATALOG, NEVER_SEEN = "in catalog and log", "not in catalog", "never seen"
STUDY_WINDOW = "study"  # window_days: the study's conversion window

# why a key has no conversion comparison (``lift_note``); "" where it has one
GOAL_NOTE = "a goal touchpoint: meeting it is the conversion itself"
NOT_BEFORE_NOTE = ("no customer met it before their outcome (it comes only after the goal, or after "
                   "the conversion window)")
NOBODY_COMPARED_NOTE = "no customer's conversion window lies wholly inside the log"
EVERYONE_NOTE = "every customer compared met it before their outcome: nobody to compare with"
NEVER_SEEN_NOTE = "not in the log"


@dataclass
class Inventory:
    """The inventory table (one row per touchpoint or channel) and the totals it rests on.

    Columns of ``table``: the key (``touchpoint`` or ``channel``), ``label``, ``stage``,
    ``stage_order``, ``channel`` (touchpoint inventory) and ``status`` (in catalog and log /
    not in catalog / never seen); ``events``; ``customers`` reached and their ``reach`` (share of
    all customers in the log); ``events_per_customer`` (per reached customer);
    ``median_position`` (1 = a journey's first event); ``median_hours_to_next`` (to the
    customer's next event, any touchpoint); conversion of customers who touched it
    (``conv_touched`` with ``conv_touched_ci_low/high``) and of those who did not
    (``conv_untouched`` …), their difference ``conv_difference`` with ``difference_ci_low/high``
    and ``p_value`` — all on the customers in the comparison, with "touched" meaning touched
    before the outcome (module doc): ``touched_before_outcome`` customers, ``converted_touched``
    of them converting, and ``lift_note`` saying why a key has no comparison ('' where it has
    one); ``journey_ends`` (customers whose journey ends here without the goal),
    ``dropoff_rate`` (journey_ends / customers reached, with its Wilson interval
    ``dropoff_ci_low``/``dropoff_ci_high``) and ``share_of_dropoffs``
    (journey_ends / all customers who never reached the goal).

    ``customers`` and ``converted``: all customers in the log and those who ever reached a goal;
    ``compared`` and ``compared_converted``: the customers in the conversion comparison (window
    wholly observed) and those converting within the window; ``window_days``: that window (None:
    no window).
    """

    table: pd.DataFrame
    by: str
    customers: int
    converted: int
    goals: tuple[str, ...]
    ci_level: float = 0.95
    estimates: list[Estimate] = field(default_factory=list, repr=False)
    window_days: float | None = None
    compared: int = 0
    compared_converted: int = 0

    @property
    def conversion(self) -> float:
        return self.converted / self.customers if self.customers else float("nan")

    @property
    def uncatalogued(self) -> list[str]:
        """Keys in the log that the catalog lacks (kept, with stage 'uncatalogued')."""
        return self.table.loc[self.table.status == NOT_IN_CATALOG, self.by].tolist()

    @property
    def never_seen(self) -> list[str]:
        """Catalogued keys that never occur in the log."""
        return self.table.loc[self.table.status == NEVER_SEEN, self.by].tolist()

    def largest_dropoff(self, min_customers: int = 1) -> pd.Series:
        """The row with the highest drop-off rate among keys reaching ``min_customers``."""
        seen = self.table[self.table.customers >= max(min_customers, 1)]
        return seen.sort_values(["dropoff_rate", "customers"], ascending=[False, False]).iloc[0]

    def lift_estimates(self) -> pd.DataFrame:
        """Conversion of customers who touched the key before their outcome minus that of the
        other customers compared, one Estimate row per key that has a comparison."""
        return estimates_frame(self.estimates)

    def lift_phrase(self) -> str:
        """The comparison's definition in words, for captions."""
        window = ("with no time limit" if self.window_days is None
                  else f"within {self.window_days:g} day{'' if self.window_days == 1 else 's'} of the first touch")
        return (f"conversion = reaching a goal {window}; a touch counts only before the customer's first goal "
                f"event (or, without a purchase, inside the window); {self.compared:,} of {self.customers:,} "
                "customers compared (the others' window runs past the end of the log)")

    def summary(self) -> str:
        top = self.largest_dropoff()
        lines = [
            f"{len(self.table)} {self.by}s; {self.customers:,} customers, {self.converted:,} "
            f"({self.conversion:.1%}) reached a goal ({', '.join(self.goals) or 'none given'}).",
            f"Largest drop-off: {top[self.by]} — {top.dropoff_rate:.1%} of the {int(top.customers):,} "
            f"customers who reached it ended their journey there without the goal.",
        ]
        if self.uncatalogued:
            lines.append("In the log but not in the catalog: " + ", ".join(self.uncatalogued))
        if self.never_seen:
            lines.append("In the catalog but never seen: " + ", ".join(self.never_seen))
        return "\n".join(lines)

    def plot_conversion(self, ax=None, keys=None):
        """Conversion of customers who touched each key before their outcome against those who
        did not, with 95% intervals (dots and bars), for ``keys`` (default: every key with a
        comparison)."""
        import matplotlib.pyplot as plt

        t = self.table[self.table.conv_touched.notna()]
        if keys is not None:
            t = t[t[self.by].isin(list(keys))]
        t = t.iloc[::-1]
        if ax is None:
            _, ax = plt.subplots(figsize=(8, max(3, 0.32 * len(t) + 1)))
        y = np.arange(len(t))
        for col, off, colour, name in (("conv_touched", 0.15, "#4c72b0", "touched it"),
                                       ("conv_untouched", -0.15, "#8c8c8c", "did not")):
            est = t[col].to_numpy(float)
            err = np.vstack([est - t[f"{col}_ci_low"].to_numpy(float), t[f"{col}_ci_high"].to_numpy(float) - est])
            ax.errorbar(est, y + off, xerr=err, fmt="o", color=colour, label=name, markersize=4, capsize=2)
        ax.set_yticks(y, t["label"].astype(str))
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        ax.set_xlabel("conversion (reached a goal), 95% interval")
        ax.legend(loc="lower right")
        return ax

    def plot(self, ax=None, column: str = "dropoff_rate", top: int = 20):
        """Horizontal bars of ``column`` (default: drop-off rate) per key, largest first."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(8, max(3, 0.3 * min(top, len(self.table)) + 1)))
        shown = self.table[self.table.customers > 0].nlargest(top, column).iloc[::-1]
        ax.barh(shown[self.by].astype(str), shown[column], color="#c44e52" if column == "dropoff_rate" else "#4c72b0")
        ax.set_xlabel(column.replace("_", " "))
        if column in ("dropoff_rate", "reach", "conv_touched", "share_of_dropoffs"):
            ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        return ax


def _observed_until(src: J.Source) -> int:
    """Seconds since the epoch at which the log stops: the end of the day of its last event (the
    whole study's log, also for one segment's customers), as for the conversion KPI."""
    events = src.base_events if src.base_events is not None else src.events
    last = J.run(events.aggregate(t=J.seconds(events.timestamp).max()))["t"].iloc[0]
    return (int(last) // J.DAY + 1) * J.DAY


def _outcomes(src: J.Source, j: ibis.Table, window_s: int | None) -> ibis.Table:
    """One row per customer: ``first_t``, ``converted`` (ever reached a goal), ``win``
    (converted within the window) and ``compared`` (window wholly observed), as the module doc
    defines them."""
    is_goal = j.is_goal == 1
    cust = j.group_by("customer_id").agg(first_t=j.t.min(), first_goal_t=j.t.min(where=is_goal),
                                         converted=is_goal.any())
    if window_s is None:
        in_window = cust.first_goal_t.notnull()
        compared = ibis.literal(True)
    else:
        in_window = cust.first_goal_t.notnull() & (cust.first_goal_t <= cust.first_t + window_s)
        compared = cust.first_t + window_s <= _observed_until(src)
    return cust.mutate(win=in_window.fill_null(False), compared=compared).drop("first_goal_t")


def _early(pairs: ibis.Table, window_s: int | None) -> ibis.BooleanValue:
    """Whether a (key, customer) pair (``first_t_before_goal`` joined to ``_outcomes``) was
    touched before the customer's outcome: some event before their first goal event (journey
    order) and inside their window — the earliest such event decides."""
    before = pairs.first_t_before_goal.notnull()
    if window_s is not None:
        before = before & (pairs.first_t_before_goal <= pairs.first_t + window_s)
    return before.fill_null(False)


def _window_seconds(window: float | None) -> int | None:
    return None if window is None else int(round(window * J.DAY))


def conversion_units(
    data, *, by: str = "touchpoint", goals=None, catalog: pd.DataFrame | None = None,
    window_days: float | None | str = STUDY_WINDOW,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The customers behind the inventory's conversion comparison, for work that needs them one
    by one (a bootstrap of the register): per customer ``customer_id``, ``compared`` and
    ``converted`` (within the window); per customer and key (``by``: touchpoint or channel)
    ``customer_id``, the key and ``early`` (touched before the outcome). Summed, they give the
    inventory's ``touched_before_outcome`` and ``converted_touched`` (a goal touchpoint, never
    compared, aside). Computed in the engine; ``data``, ``goals``, ``catalog`` and
    ``window_days`` as for ``inventory``."""
    if by not in ("touchpoint", "channel"):
        raise ParameterError(f"by='{by}': the comparison is per 'touchpoint' or per 'channel'.")
    src = J.resolve(data, goals=goals, catalog=catalog)
    src.require_goals("The conversion comparison")
    window_s = _window_seconds(_window_days(src, window_days))
    j = J.journey_table(src)
    cust = _outcomes(src, j, window_s)
    key = j[by].fill_null(J.UNKNOWN) if by == "channel" else j[by]
    pairs = j.group_by(["customer_id", key.name(by)]).agg(
        first_t_before_goal=j.t.min(where=j.goals_so_far == 0))
    pairs = pairs.join(cust, "customer_id")
    pairs = pairs.select("customer_id", by, early=_early(pairs, window_s))
    customers = J.run(cust.select("customer_id", "compared", converted=cust.win))
    return customers, J.run(pairs)


def _aggregate(src: J.Source, by: str, window_s: int | None) -> tuple[pd.DataFrame, dict[str, int]]:
    """Per key: event-level counts and medians, then customer-level counts from one row per
    (key, customer) — cheaper than distinct counts over all events. ``window_s``: the conversion
    window in seconds (None: none); see the module doc for who is compared and what counts as
    touched."""
    j = J.journey_table(src)
    cust = _outcomes(src, j, window_s)

    key = j[by].fill_null(J.UNKNOWN) if by == "channel" else j[by]
    o = j.mutate(key=key, gap=(j.next_t - j.t), is_last=j.next_t.isnull().cast("int8"))
    per_event = o.group_by("key").agg(
        events=o.count(), median_position=o.pos.median(), median_seconds_to_next=o.gap.median()
    )
    # the (key, customer) pairs first, then each pair's customer outcome: joining the outcome
    # to every event before grouping carried the whole log through the join (at 10M events the
    # process peaked at 1.9 GB, 1.2 GB so)
    pairs = o.group_by(["key", "customer_id"]).agg(
        last=o.is_last.max(), first_t_before_goal=o.t.min(where=o.goals_so_far == 0))
    pairs = pairs.join(cust, "customer_id")
    early = _early(pairs, window_s) & pairs.compared
    per_customer = pairs.group_by("key").agg(
        customers=pairs.count(),
        touched_before_outcome=early.cast("int64").sum(),
        converted_touched=(early & pairs.win).cast("int64").sum(),
        journey_ends=((pairs["last"] == 1) & ~pairs.converted).cast("int64").sum(),
    )
    totals = cust.aggregate(
        customers=cust.count(), converted=cust.converted.cast("int64").sum(),
        compared=cust.compared.cast("int64").sum(),
        compared_converted=(cust.compared & cust.win).cast("int64").sum(),
    )
    # two queries, not one join of both: DuckDB would hold the events' medians and the pairs'
    # hash table at once (at 10M events 1.23 against 1.04 GB)
    table = J.run(per_event).merge(J.run(per_customer), on="key")
    tot = {k: int(v or 0) for k, v in J.run(totals).iloc[0].items()}
    return table.rename(columns={"key": by}), tot


def _window_days(src: J.Source, window_days) -> float | None:
    if isinstance(window_days, str) and window_days == STUDY_WINDOW:
        window_days = src.study.conversion_window_days if src.study is not None else DEFAULT_CONVERSION_WINDOW_DAYS
    if window_days is None:
        return None
    if isinstance(window_days, bool) or not isinstance(window_days, (int, float)) or not window_days > 0:
        raise ParameterError(f"window_days={window_days!r}: a number of days above 0, 'study' for the study's "
                             "conversion window, or None for no window.")
    return float(window_days)


def inventory(
    data,
    *,
    by: str = "touchpoint",
    goals=None,
    catalog: pd.DataFrame | None = None,
    ci_level: float = 0.95,
    window_days: float | None | str = STUDY_WINDOW,
) -> Inventory:
    """The touchpoint inventory of an event log, computed in the engine.

    ``data`` is a study (name, folder or Study), an Ibis table of events or a pandas DataFrame.
    ``by`` is ``"touchpoint"`` or ``"channel"`` (the event's channel). For each key:

    - its stage and channel from the catalog; touchpoints in the log but not in the catalog and
      catalogued touchpoints never seen are listed too (status column), not dropped;
    - events, customers reached, their share of all customers in the log, events per reached
      customer;
    - median position in the journey (1 = the customer's first event; journeys are ordered by
      timestamp, then by seq, the row in the raw file) and median hours to the customer's next
      event;
    - conversion (reaching a goal within the conversion window) of customers who touched it
      before their outcome versus the other customers compared, each with a Wilson interval,
      and their difference with its interval and p-value (``cxlab.stats.two_proportions``);
      who is compared and which touches count is the module doc's definition, so a touchpoint
      met only after the purchase, and a goal touchpoint, get no comparison (``lift_note``)
      rather than a conversion of 100%. This is an association, not an effect: customers who
      compare products are more interested to begin with;
    - how often it is the last touchpoint of a journey that ends without the goal: the customer's
      last event, for customers who never reached a goal touchpoint.

    ``window_days``: the conversion window in days; ``"study"`` (default): the study's
    ``conversion_window_days`` (30 days for a table that is not a study); None: no window.
    """
    if by not in ("touchpoint", "channel"):
        raise ParameterError(f"by='{by}': the inventory is per 'touchpoint' or per 'channel'.")
    src = J.resolve(data, goals=goals, catalog=catalog)
    src.require_goals("The inventory")
    if by == "channel" and "channel" not in src.events.columns:
        raise ParameterError("by='channel' needs a channel column in the events (or a catalog giving one).")
    window = _window_days(src, window_days)
    seen, totals = _aggregate(src, by, _window_seconds(window))
    customers, converted = totals["customers"], totals["converted"]
    seen["median_hours_to_next"] = seen.pop("median_seconds_to_next") / J.HOUR

    cat = src.catalog
    if by == "touchpoint":
        ref = cat[["touchpoint", "label", "stage", "stage_order", "channel"]].copy()
    else:
        ref = pd.DataFrame({"channel": pd.unique(cat["channel"].dropna())})
        ref["label"] = ref["channel"]
    table = ref.merge(seen, on=by, how="outer", indicator=True)
    table["status"] = table.pop("_merge").map({"both": IN_BOTH, "right_only": NOT_IN_CATALOG, "left_only": NEVER_SEEN}).astype(str)
    table["label"] = table["label"].fillna(table[by])
    if by == "touchpoint":
        table["stage"] = table["stage"].fillna("uncatalogued")
        table["stage_order"] = pd.to_numeric(table["stage_order"]).fillna(-1).astype(int)
    counts = ["events", "customers", "touched_before_outcome", "converted_touched", "journey_ends"]
    table[counts] = table[counts].fillna(0).astype("int64")

    reached = table["customers"].to_numpy(float)
    # the conversion comparison: customers compared who touched the key before their outcome
    compared, compared_converted = totals["compared"], totals["compared_converted"]
    n = table["touched_before_outcome"].to_numpy(float)
    k = table["converted_touched"].to_numpy(float)
    n0 = compared - n
    k0 = compared_converted - k
    # never a comparison for a goal touchpoint with itself
    is_goal = table[by].isin(src.goals).to_numpy() if by == "touchpoint" else np.zeros(len(table), bool)
    table["lift_note"] = np.select(
        [is_goal, reached == 0, compared == 0, n == 0, n0 == 0],
        [GOAL_NOTE, NEVER_SEEN_NOTE, NOBODY_COMPARED_NOTE, NOT_BEFORE_NOTE, EVERYONE_NOTE], "")
    # without a comparison both rates stay empty (not the overall rate beside an empty one)
    has = (table["lift_note"] == "").to_numpy()
    n, n0 = np.where(has, n, 0.0), np.where(has, n0, 0.0)
    k, k0 = np.where(has, k, 0.0), np.where(has, k0, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["reach"] = reached / customers if customers else np.nan
        table["events_per_customer"] = np.where(reached > 0, table["events"] / reached, np.nan)
        table["conv_touched"] = np.where(n > 0, k / n, np.nan)
        table["conv_untouched"] = np.where(n0 > 0, k0 / n0, np.nan)
        table["dropoff_rate"] = np.where(reached > 0, table["journey_ends"] / reached, np.nan)
        nonconv = customers - converted
        table["share_of_dropoffs"] = table["journey_ends"] / nonconv if nonconv else np.nan
    # the drop-off rate's Wilson interval (journey ends among the customers reached)
    lo, hi = wilson(table["journey_ends"], np.where(reached > 0, reached, 1), ci_level)
    table["dropoff_ci_low"], table["dropoff_ci_high"] = np.where(reached > 0, lo, np.nan), np.where(reached > 0, hi, np.nan)
    for prefix, kk, nn in (("conv_touched", k, n), ("conv_untouched", k0, n0)):
        lo, hi = wilson(kk, np.where(nn > 0, nn, 1), ci_level)
        table[f"{prefix}_ci_low"] = np.where(nn > 0, lo, np.nan)
        table[f"{prefix}_ci_high"] = np.where(nn > 0, hi, np.nan)

    estimates, diff, dlo, dhi, pv = [], [], [], [], []
    for row, k1, n1, k2, n2 in zip(table[by], k, n, k0, n0):
        if n1 > 0 and n2 > 0:
            est = two_proportions(
                int(k1), int(n1), int(k2), int(n2), ci_level=ci_level,
                label=f"conversion, touched {row} before the outcome minus not",
            )
            estimates.append(est)
            diff.append(est.estimate), dlo.append(est.ci_low), dhi.append(est.ci_high), pv.append(est.p_value)
        else:
            diff.append(np.nan), dlo.append(np.nan), dhi.append(np.nan), pv.append(np.nan)
    table["conv_difference"], table["difference_ci_low"] = diff, dlo
    table["difference_ci_high"], table["p_value"] = dhi, pv

    order = ["stage_order", "customers", by] if by == "touchpoint" else ["customers", by]
    asc = [True, False, True] if by == "touchpoint" else [False, True]
    if by == "touchpoint":  # uncatalogued touchpoints last
        table["_o"] = table["stage_order"].where(table["stage_order"] >= 0, 10**6)
        order[0] = "_o"
    table = table.sort_values(order, ascending=asc, kind="stable").drop(columns="_o", errors="ignore")
    lead = [by, "label"] + (["stage", "stage_order", "channel"] if by == "touchpoint" else []) + ["status"]
    cols = lead + [
        "events", "customers", "reach", "events_per_customer", "median_position",
        "median_hours_to_next", "touched_before_outcome", "converted_touched", "conv_touched",
        "conv_touched_ci_low", "conv_touched_ci_high", "conv_untouched", "conv_untouched_ci_low",
        "conv_untouched_ci_high", "conv_difference", "difference_ci_low", "difference_ci_high", "p_value",
        "lift_note", "journey_ends", "dropoff_rate", "dropoff_ci_low", "dropoff_ci_high", "share_of_dropoffs",
    ]
    return Inventory(
        table[cols].reset_index(drop=True), by, customers, converted, src.goals, ci_level, estimates,
        window, compared, compared_converted,
    )
