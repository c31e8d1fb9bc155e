"""Path variants: the most common journeys, with back-to-back repeats collapsed."""
from __future__ import annotations

from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from ..errors import ParameterError
from .. import journeys as J
from ..stats import wilson

__all__ = ["Variants", "variants", "SEP", "DIRECT"]

SEP = " > "
DIRECT = "(straight to the goal)"


@dataclass
class Variants:
    """The top path variants.

    ``table``: one row per variant, most common first — ``rank``, ``variant`` (touchpoints joined
    by " > "), ``steps``, ``customers``, ``share`` of all customers, ``cumulative_share`` (the
    coverage of the top variants so far), ``converted``, ``conversion`` with
    ``conversion_ci_low/high`` (Wilson) and ``median_days`` (median duration of the journey).
    ``customers`` and ``distinct_variants``: totals over all journeys.
    """

    table: pd.DataFrame
    customers: int
    distinct_variants: int
    until_goal: bool
    ci_level: float = 0.95

    @property
    def coverage(self) -> float:
        """Share of all customers whose journey is one of the top variants."""
        return float(self.table["customers"].sum() / self.customers) if self.customers else float("nan")

    def summary(self, n: int = 5) -> str:
        what = "path before the first goal" if self.until_goal else "whole journey"
        lines = [
            f"{self.distinct_variants:,} distinct variants ({what}, repeats collapsed) among {self.customers:,} "
            f"customers; the top {len(self.table)} cover {self.coverage:.1%}.",
        ]
        for r in self.table.head(n).itertuples():
            lines.append(f"  {r.rank}. {r.variant}: {r.customers:,} ({r.share:.1%}), conversion {r.conversion:.1%}, "
                         f"median {r.median_days:.1f} days")
        return "\n".join(lines)

    def plot(self, ax=None, n: int = 15):
        """Horizontal bars of the share of customers per variant, coloured by conversion."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(9, max(3, 0.35 * min(n, len(self.table)) + 1)))
        d = self.table.head(n).iloc[::-1]
        colours = plt.cm.RdYlGn(d["conversion"].fillna(0).to_numpy())
        ax.barh([_short(v) for v in d["variant"]], d["share"], color=colours)
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        ax.set_xlabel("share of customers (colour: conversion, red 0% to green 100%)")
        return ax


def _short(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def variants(
    data,
    *,
    top: int = 20,
    until_goal: bool = True,
    goals=None,
    catalog: pd.DataFrame | None = None,
    ci_level: float = 0.95,
) -> Variants:
    """The most common path variants, their coverage, conversion and duration, in the engine.

    A variant is the sequence of touchpoints of a journey (ordered by timestamp, then seq) with
    back-to-back repeats collapsed: "view, view, cart" is "view > cart".

    ``until_goal`` (default): the variant is the path *before* the customer's first goal event
    (the goal itself is left out), so customers who took the same path can be compared:
    ``conversion`` is the share of them who then reached the goal, and the duration runs from
    the first event to the goal (converted) or to the last event (not converted). A customer
    whose first event is a goal has the variant "(straight to the goal)". With
    ``until_goal=False`` the variant is the whole journey, goal and later events included;
    the duration runs from the first to the last event.
    """
    if top < 1:
        raise ParameterError("top must be at least 1.")
    src = J.resolve(data, goals=goals, catalog=catalog)
    src.require_goals("Path variants")
    ev = src.events
    # short codes keep the per-customer strings small; decoded after aggregation
    names = J.run(ev.select("touchpoint").distinct())["touchpoint"].astype(str).sort_values().tolist()
    codes = {n: format(i, "x") for i, n in enumerate(names)}
    decode = {c: n for n, c in codes.items()}

    o = J.journey_table(src)
    o = o.mutate(code=o.touchpoint.substitute(codes))
    new_step = o.prev.isnull() | (o.prev != o.touchpoint)
    keep = new_step & (o.goals_so_far == 0) if until_goal else new_step
    path = J.ordered_join(o, o.code, o.pos, where=keep)
    goal_t = o.t.min(where=o.is_goal == 1)
    cust = o.group_by("customer_id").agg(
        variant=path,
        steps=keep.cast("int64").sum(),
        converted=o.is_goal.max(),
        first_t=o.t.min(),
        last_t=o.t.max(),
        goal_t=goal_t,
    )
    end_t = ibis.ifelse(cust.goal_t.notnull(), cust.goal_t, cust.last_t) if until_goal else cust.last_t
    cust = cust.mutate(variant=cust.variant.fill_null(""), duration=end_t - cust.first_t)
    per = cust.group_by(["variant", "steps"]).agg(
        customers=cust.count(), converted=cust.converted.sum(), median_seconds=cust.duration.median()
    )
    with per.cache() as cached:
        table = J.run(cached.order_by([ibis.desc("customers"), "variant"]).limit(top))
        totals = J.run(cached.aggregate(customers=cached.customers.sum(), distinct=cached.count())).iloc[0]
    customers, distinct = int(totals["customers"] or 0), int(totals["distinct"] or 0)

    table["variant"] = [
        SEP.join(decode[c] for c in v.split(",")) if v else (DIRECT if until_goal else "") for v in table["variant"]
    ]
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table["share"] = table["customers"] / customers if customers else np.nan
    table["cumulative_share"] = table["share"].cumsum()
    table["converted"] = table["converted"].astype("int64")
    table["conversion"] = table["converted"] / table["customers"]
    lo, hi = wilson(table["converted"], table["customers"], ci_level)
    table["conversion_ci_low"], table["conversion_ci_high"] = lo, hi
    table["median_days"] = table.pop("median_seconds") / J.DAY
    cols = ["rank", "variant", "steps", "customers", "share", "cumulative_share", "converted", "conversion",
            "conversion_ci_low", "conversion_ci_high", "median_days"]
    return Variants(table[cols].reset_index(drop=True), customers, distinct, until_goal, ci_level)
