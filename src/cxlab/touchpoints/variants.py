"""Path variants: the most common journeys, with back-to-back repeats collapsed, and how firm
their order is (a customer-level bootstrap, ``cxlab.touchpoints.ranking``)."""
from __future__ import annotations

from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from ..errors import ParameterError
from .. import journeys as J
from ..stats import wilson
from ..stats.ranking import Ranking, check_resamples, ranking
from .ranking import DEFAULT_RESAMPLES, item_sums

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

    How firm the order is (with resamples): ``share_ci_low/high`` (bootstrap interval of the
    share), ``ranked_first`` (share of resamples in which the variant is the most common of the
    listed ones), ``rank_low``/``rank_high`` (its rank interval among them); ``ranking`` holds
    them with the top two compared and how many leading variants keep their order.
    """

    table: pd.DataFrame
    customers: int
    distinct_variants: int
    until_goal: bool
    ci_level: float = 0.95
    ranking: Ranking | None = None

    @property
    def coverage(self) -> float:
        """Share of all customers whose journey is one of the top variants."""
        return float(self.table["customers"].sum() / self.customers) if self.customers else float("nan")

    def firmness(self, n: int = 5) -> str:
        """The most common variant, its share with its interval and how often it ranks 1st, and
        whether the order of the top ``n`` is firm; '' without resamples or variants."""
        if self.ranking is None or self.table.empty:
            return ""
        r, top = self.ranking, self.table.iloc[0]
        first = r.row(top.variant)
        return (f"The most common path, {top.variant} ({top.share:.1%} of customers, {self.ci_level:.0%} interval "
                f"{r.interval(top.variant)}), comes first in {first.ranked_first:.0%} of {r.resamples:,} resamples. "
                + r.order_sentence(n, "paths"))

    def display_table(self, n: int | None = None) -> pd.DataFrame:
        """The columns a reader needs (``show_table``); with resamples, the share's interval, the
        share of resamples in which the path is the most common and its rank interval, as text."""
        t = self.table if n is None else self.table.head(n)
        out = t[["rank", "variant", "customers", "share"]].copy()
        if self.ranking is not None:
            out["share interval"] = [f"{a:.1%}–{b:.1%}" for a, b in zip(t.share_ci_low, t.share_ci_high)]
            out["most common in"] = [f"{v:.0%}" for v in t.ranked_first]
            out["rank interval"] = [self.ranking.rank_interval(v) for v in t.variant]
        out["cumulative_share"] = t["cumulative_share"]
        out["conversion"] = t["conversion"]
        out["conversion interval"] = [f"{a:.0%}–{b:.0%}" for a, b in zip(t.conversion_ci_low, t.conversion_ci_high)]
        out["median_days"] = t["median_days"]
        out.attrs["formats"] = {"share": "pct", "cumulative_share": "pct", "conversion": "pct", "median_days": "num"}
        return out

    def summary(self, n: int = 5) -> str:
        what = "path before the first goal" if self.until_goal else "whole journey"
        lines = [
            f"{self.distinct_variants:,} distinct variants ({what}, repeats collapsed) among {self.customers:,} "
            f"customers; the top {len(self.table)} cover {self.coverage:.1%}.",
        ]
        for r in self.table.head(n).itertuples():
            lines.append(f"  {r.rank}. {r.variant}: {r.customers:,} ({r.share:.1%}), conversion {r.conversion:.1%}, "
                         f"median {r.median_days:.1f} days")
        if self.ranking is not None:
            lines.append(self.firmness())
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
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
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

    ``n_resamples`` (200; 0: none) customer-level bootstrap resamples (``seed``) say how firm the
    order of the listed variants is: the customers of each listed variant are counted again in
    every resample (``cxlab.touchpoints.ranking``), among the customers of the log.
    """
    if top < 1:
        raise ParameterError("top must be at least 1.")
    n_resamples = check_resamples(n_resamples)
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
    members = None
    with cust.cache() as each:  # one row per customer, kept for the bootstrap's per-customer rows
        per = each.group_by(["variant", "steps"]).agg(
            customers=each.count(), converted=each.converted.sum(), median_seconds=each.duration.median()
        )
        with per.cache() as cached:
            table = J.run(cached.order_by([ibis.desc("customers"), "variant"]).limit(top))
            totals = J.run(cached.aggregate(customers=cached.customers.sum(), distinct=cached.count())).iloc[0]
        if n_resamples and len(table):
            # every customer, with their variant when it is one of the listed ones
            listed = each.variant.isin(table["variant"].tolist())
            members = J.run(each.select("customer_id", variant=ibis.ifelse(listed, each.variant, ibis.null("string"))))
    customers, distinct = int(totals["customers"] or 0), int(totals["distinct"] or 0)
    coded = table["variant"].tolist()

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
    table = table[cols].reset_index(drop=True)
    order = None
    if members is not None:
        # the share of each listed variant in every resample of the log's customers
        units, (counts,) = item_sums(members, coded, n_resamples, seed, item="variant")
        order = ranking(counts / len(units), table["share"].to_numpy(float), table["variant"].tolist(), "share",
                        ci_level, fmt="{:.1%}")
        ranks = order.table.set_index("item").loc[table["variant"]]
        table["share_ci_low"], table["share_ci_high"] = ranks["ci_low"].to_numpy(), ranks["ci_high"].to_numpy()
        for col in ("ranked_first", "rank_low", "rank_high"):
            table[col] = ranks[col].to_numpy()
    return Variants(table, customers, distinct, until_goal, ci_level, order)
