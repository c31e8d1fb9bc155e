"""The touchpoint inventory, shared by the touchpoint and pain-point stages: every touchpoint (or
channel), where it sits, how many customers it reaches, and how it relates to conversion and to
journeys that end without the goal."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import ParameterError
from .stats import two_proportions, wilson
from .results import Estimate, estimates_frame
from . import journeys as J

__all__ = ["Inventory", "inventory"]

IN_BOTH, NOT_IN_CATALOG, NEVER_SEEN = "in catalog and log", "not in catalog", "never seen"


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
    and ``p_value``; ``journey_ends`` (customers whose journey ends here without the goal),
    ``dropoff_rate`` (journey_ends / customers reached) and ``share_of_dropoffs``
    (journey_ends / all customers who never reached the goal).
    """

    table: pd.DataFrame
    by: str
    customers: int
    converted: int
    goals: tuple[str, ...]
    ci_level: float = 0.95
    estimates: list[Estimate] = field(default_factory=list, repr=False)

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
        """Conversion of touchers minus non-touchers, one Estimate row per key."""
        return estimates_frame(self.estimates)

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
        """Conversion of customers who touched each key against those who did not, with 95%
        intervals (dots and bars), for ``keys`` (default: every key reached by someone)."""
        import matplotlib.pyplot as plt

        t = self.table[self.table.customers > 0]
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


def _aggregate(src: J.Source, by: str) -> tuple[pd.DataFrame, int, int]:
    """Per key: event-level counts and medians, then customer-level counts from one row per
    (key, customer) — cheaper than distinct counts over all events."""
    j = J.journey_table(src)
    key = j[by].fill_null(J.UNKNOWN) if by == "channel" else j[by]
    o = j.mutate(key=key, gap=(j.next_t - j.t), is_last=j.next_t.isnull().cast("int8"))
    per_event = o.group_by("key").agg(
        events=o.count(), median_position=o.pos.median(), median_seconds_to_next=o.gap.median()
    )
    pairs = o.group_by(["key", "customer_id"]).agg(last=o.is_last.max())
    # the customer's last event carries their number of goal events
    lasts = j.filter(j.next_t.isnull())
    cust = lasts.select("customer_id", converted=lasts.goals_so_far > 0)
    pairs = pairs.join(cust, "customer_id")
    per_customer = pairs.group_by("key").agg(
        customers=pairs.count(),
        converted_touched=pairs.converted.cast("int64").sum(),
        journey_ends=((pairs["last"] == 1) & ~pairs.converted).cast("int64").sum(),
    )
    per_key = per_event.join(per_customer, "key")
    totals = cust.aggregate(customers=cust.count(), converted=cust.converted.cast("int64").sum())
    table = J.run(per_key)
    tot = J.run(totals).iloc[0]
    return table.rename(columns={"key": by}), int(tot["customers"]), int(tot["converted"] or 0)


def inventory(
    data,
    *,
    by: str = "touchpoint",
    goals=None,
    catalog: pd.DataFrame | None = None,
    ci_level: float = 0.95,
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
    - conversion (ever reaching a goal touchpoint) of customers who touched it versus those who
      did not, each with a Wilson interval, and their difference with its interval and p-value
      (``cxlab.stats.two_proportions``). This is an association, not an effect: touchpoints
      that only buyers see (order tracking) convert at 100% by construction;
    - how often it is the last touchpoint of a journey that ends without the goal: the customer's
      last event, for customers who never reached a goal touchpoint.
    """
    if by not in ("touchpoint", "channel"):
        raise ParameterError(f"by='{by}': the inventory is per 'touchpoint' or per 'channel'.")
    src = J.resolve(data, goals=goals, catalog=catalog)
    src.require_goals("The inventory")
    if by == "channel" and "channel" not in src.events.columns:
        raise ParameterError("by='channel' needs a channel column in the events (or a catalog giving one).")
    seen, customers, converted = _aggregate(src, by)
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
    counts = ["events", "customers", "converted_touched", "journey_ends"]
    table[counts] = table[counts].fillna(0).astype("int64")

    n = table["customers"].to_numpy(float)
    k = table["converted_touched"].to_numpy(float)
    n0 = customers - n
    k0 = converted - k
    with np.errstate(divide="ignore", invalid="ignore"):
        table["reach"] = n / customers if customers else np.nan
        table["events_per_customer"] = np.where(n > 0, table["events"] / n, np.nan)
        table["conv_touched"] = np.where(n > 0, k / n, np.nan)
        table["conv_untouched"] = np.where(n0 > 0, k0 / n0, np.nan)
        table["dropoff_rate"] = np.where(n > 0, table["journey_ends"] / n, np.nan)
        nonconv = customers - converted
        table["share_of_dropoffs"] = table["journey_ends"] / nonconv if nonconv else np.nan
    for prefix, kk, nn in (("conv_touched", k, n), ("conv_untouched", k0, n0)):
        lo, hi = wilson(kk, np.where(nn > 0, nn, 1), ci_level)
        table[f"{prefix}_ci_low"] = np.where(nn > 0, lo, np.nan)
        table[f"{prefix}_ci_high"] = np.where(nn > 0, hi, np.nan)

    estimates, diff, dlo, dhi, pv = [], [], [], [], []
    for row, k1, n1, k2, n2 in zip(table[by], k, n, k0, n0):
        if n1 > 0 and n2 > 0:
            est = two_proportions(
                int(k1), int(n1), int(k2), int(n2), ci_level=ci_level,
                label=f"conversion, touched {row} minus not touched",
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
        "median_hours_to_next", "converted_touched", "conv_touched", "conv_touched_ci_low",
        "conv_touched_ci_high", "conv_untouched", "conv_untouched_ci_low", "conv_untouched_ci_high",
        "conv_difference", "difference_ci_low", "difference_ci_high", "p_value", "journey_ends",
        "dropoff_rate", "share_of_dropoffs",
    ]
    return Inventory(
        table[cols].reset_index(drop=True), by, customers, converted, src.goals, ci_level, estimates
    )
