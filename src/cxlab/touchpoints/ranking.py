"""How firm the touchpoint stage's rankings are: the customer-level bootstrap behind them.

Every ranking the touchpoint page prints — the largest drop-off (and the riskiest and the
most-reached touchpoint of each journey stage), the weakest funnel step, the most common paths,
the touchpoints credited by first touch, last touch and the Markov model, the most common step
after the anchor — comes with the bootstrap of ``cxlab.stats.ranking``: resample b draws N
customers with replacement out of the N customers of the log (sorted by customer_id as text;
``numpy.random.default_rng(seed).integers(0, N, size=(n_resamples, N))[b]``), and every count the
ranked quantity is made of is recomputed as a sum weighted by how often each customer was drawn.
Every ranking of a page uses the same customers and seed, so resample b is the same draw for all
of them. What comes back from the engine is one row per customer and item (a touchpoint, a path,
a step), never the events.

This module holds the pieces several analyses share — the log's customers, a count per customer
and item turned into resampled sums — and the drop-off ranking of the inventory (the inventory
itself is core, ``cxlab.inventory``, read by other stages too).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .. import journeys as J
from ..errors import ParameterError
from ..inventory import Inventory
from ..stats.ranking import Ranking, bootstrap_sums, check_resamples, ranking, unit_index, unit_positions

__all__ = ["log_customers", "item_sums", "dropoff_rankings", "DEFAULT_RESAMPLES"]

DEFAULT_RESAMPLES = 200  # as for the pain-point priorities


def log_customers(src: J.Source) -> np.ndarray:
    """Every customer of the (resolved) event log, as text, sorted: the resampling units. Kept on
    the Source (one fixed log), so the rankings of a stage ask the engine once."""
    units = getattr(src, "_resampling_units", None)
    if units is None:
        j = J.journey_table(src)
        units = unit_index(J.run(j.select("customer_id").distinct())["customer_id"])[0]
        src._resampling_units = units
    return units


def item_sums(rows: pd.DataFrame, items: Sequence, n_resamples: int, seed: int, *, item: str = "item",
              values: Sequence[str | None] = (None,), units: np.ndarray | None = None
              ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Resampled sums per item: ``rows`` hold one row per customer (``customer_id``) and item
    (column ``item``) with counts (columns ``values``; None counts the row as 1); rows whose item
    is not in ``items`` are left out. ``units``: the customers resampled (default: those of
    ``rows``). Returns the units and, per entry of ``values``, resamples × items — all from one
    pass over the resamples."""
    from scipy import sparse  # imported where it is used: importing cxlab should not pay for it (issue 18)

    if units is None:
        units, r = unit_index(rows["customer_id"])
    else:
        r = unit_positions(units, rows["customer_id"])
    col = pd.Index(list(items))
    c = col.get_indexer(rows[item])
    keep = c >= 0
    r, c = r[keep], c[keep]
    k = len(col)
    blocks = [sparse.csr_matrix((np.ones(len(r)) if v is None else rows[v].to_numpy(float)[keep], (r, c)),
                                shape=(len(units), k)) for v in values]
    sums = bootstrap_sums(sparse.hstack(blocks, format="csr"), n_resamples, seed)
    return units, [sums[:, i * k:(i + 1) * k] for i in range(len(values))]


def dropoff_rankings(src: J.Source, inv: Inventory, *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                     ci_level: float = 0.95) -> tuple[Ranking, Ranking] | None:
    """How firm the touchpoint inventory's rankings are: (drop-off, reach), over the touchpoints
    the log reaches, keyed by touchpoint; None without resamples.

    Drop-off rate (``Inventory.largest_dropoff``): of the customers reaching a touchpoint, the
    share whose journey ends there without the goal (their last event, and they never reached a
    goal). Reach: customers reaching it, of all customers in the log. A touchpoint nobody in a
    resample reaches has no drop-off rate there and ranks last in it."""
    n_resamples = check_resamples(n_resamples)
    if not n_resamples:
        return None
    if inv.by != "touchpoint":
        raise ParameterError(f"dropoff_rankings ranks touchpoints; this inventory is by {inv.by}.")
    t = inv.table[inv.table.customers > 0]
    keys = t["touchpoint"].astype(str).tolist()
    j = J.journey_table(src)
    cust = j.group_by("customer_id").agg(converted=(j.is_goal == 1).any())
    per = j.group_by(["customer_id", "touchpoint"]).agg(last=j.next_t.isnull().any())
    per = per.join(cust, "customer_id")
    rows = J.run(per.select("customer_id", "touchpoint", ends=(per["last"] & ~per.converted).cast("int64")))
    units, (reached, ends) = item_sums(rows, keys, n_resamples, seed, item="touchpoint", values=(None, "ends"))
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(reached > 0, ends / reached, np.nan)
    drop = ranking(rate, t["dropoff_rate"].to_numpy(float), keys, "drop-off rate", ci_level, missing_last=True)
    reach = ranking(reached / len(units), t["reach"].to_numpy(float), keys, "reach", ci_level)
    return drop, reach
