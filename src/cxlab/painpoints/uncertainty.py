"""How firm is a ranking? Customer-level bootstrap intervals for the pain-point priority (and the
shared rank summary the key drivers use too).

Decisions are made on ranks — "fix the payment error first" — so the register gives, beside each
priority, how firmly the item holds its place.

**Resampling unit: the customer.** A customer's events, survey responses and tickets stay
together. Resample b (of ``n_resamples``) draws N customers with replacement out of the N in the
analysis (customers sorted by customer_id): the indices
``numpy.random.default_rng(seed).integers(0, N, size=(n_resamples, N))[b]``. Each number is then
recomputed as a sum weighted by how often each customer was drawn — the same as recomputing it on
the duplicated rows, at the cost of a few matrix products (resamples × customers weights times
customers × touchpoints counts), computed in blocks of resamples so memory stays bounded.

**What a resample recomputes** (``register_priorities``), exactly as the register does on the
whole data (``cxlab.painpoints.register``):

- reach share: customers meeting the touchpoint / customers in the log;
- impact on conversion: the touchpoint inventory's comparison (``cxlab.inventory``: conversion
  within the study's conversion window; "touched" = before the customer's outcome; only customers
  whose window lies inside the log are compared; no comparison for a goal touchpoint);
- impact on satisfaction: mean score of the responses at the touchpoint minus that of the other
  responses, counted only with at least ``min_responses`` responses there (and 2 elsewhere);
- extra support contacts: the touchpoint's rate of contacts within N days minus the rate over
  all non-support touchpoints (the friction signals' contact stream);
- the unresolved-ticket item: reach (customers with an unresolved ticket) and the gap in the share
  buying again, resolved minus unresolved, over the churn comparison's customers;
- harm and priority from these, with the register's formula.

The items are the register's (chosen on the whole data); the rank of an item in a resample is
1 + the number of items with a strictly larger priority there (ties share a rank).

**Per item** (``rank_table``): the percentile interval of its value at ``ci_level``; the share of
resamples in which it ranks 1st (``ranked_first``); and its rank interval — the ranks at the
α/2 and 1 − α/2 quantiles of its ranks (``rank_low``, ``rank_high``).

**When the top two cannot be told apart** (``top_two``): the items first and second on the whole
data are *not distinguishable* when the percentile interval of their difference (first minus
second, resample by resample) includes 0 — at 95%, roughly: the first beats the second in fewer
than 97.5% of resamples. The share of resamples in which the first ranks 1st is given beside it
(it can be lower, when a third item also competes).

The resample draws and the rank summaries (``resample_counts``, ``rank_table``, ``top_two``) live
in the core, ``cxlab.stats.ranking``, shared with the touchpoint stage's rankings; they are
re-exported here unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from .. import engine
from ..errors import ParameterError
from ..inventory import conversion_units
# the resamples and rank summaries live in the core, shared with the touchpoint stage's rankings
from ..stats.ranking import (MIN_RESAMPLES, RANK_COLUMNS, TopTwo, check_resamples, rank_table, resample_counts,
                             top_two)
from ..study import Study

__all__ = [
    "RANK_COLUMNS",
    "resample_counts",
    "rank_table",
    "TopTwo",
    "top_two",
    "RegisterInputs",
    "register_inputs",
    "register_priorities",
    "check_resamples",
    "MIN_RESAMPLES",
]


# --------------------------------------------------------------------------- the register's inputs
@dataclass
class RegisterInputs:
    """What the register's priority is made of, per customer (rows, ``customers`` sorted) and
    touchpoint (columns, ``touchpoints``): sparse counts to be weighted by a resample.

    in_log: the customer is in the event log (the reach denominator); reached, events, contacts:
    met the touchpoint, its events, those followed by a support contact within N days; compared,
    converted: in the conversion comparison, converted within the window; early, early_converted:
    touched before the outcome (and compared), and of those converted; score_count, score_sum:
    survey responses at the touchpoint with a score, and their sum; affected: has an unresolved
    ticket; resolved, resolved_bought, unresolved, unresolved_bought: the customer's unit in the
    churn comparison."""

    customers: np.ndarray
    touchpoints: list[str]
    in_log: np.ndarray
    reached: sparse.csr_matrix
    events: sparse.csr_matrix
    contacts: sparse.csr_matrix
    compared: np.ndarray
    converted: np.ndarray
    early: sparse.csr_matrix
    early_converted: sparse.csr_matrix
    is_support: np.ndarray
    is_goal: np.ndarray
    score_count: sparse.csr_matrix | None = None
    score_sum: sparse.csr_matrix | None = None
    score_scale: float = 1.0
    min_responses: int = 30
    tickets: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.customers)


def _sparse(rows: np.ndarray, cols: np.ndarray, values, shape) -> sparse.csr_matrix:
    return sparse.csr_matrix((np.asarray(values, dtype=np.float64), (rows, cols)), shape=shape)


def register_inputs(
    study: Study,
    by_touchpoint: pd.DataFrame,
    support: Sequence[str],
    repeat_contact_days: float,
    responses: pd.DataFrame | None = None,
    score: str | None = None,
    score_scale: float = 1.0,
    min_responses: int = 30,
    affected: Sequence[str] | None = None,
    churn_units: pd.DataFrame | None = None,
) -> RegisterInputs:
    """Gather, per customer, what the register's priority is computed from (see the module
    doc): the contact stream and the inventory's conversion comparison from the engine (one row
    per customer and touchpoint comes back), the survey ``responses`` (customer_id, touchpoint,
    ``score``), the customers with an unresolved ticket (``affected``) and the churn comparison's
    units (``churn_units``: customer_id, unresolved, event). ``by_touchpoint``: the friction
    table (touchpoint, is_support, is_goal), whose touchpoints are the columns."""
    from .friction import contact_stream

    events = engine.events(study)
    tickets = engine.table(study, "tickets") if "tickets" in study.tables else None
    stream = contact_stream(events, list(support), tickets, repeat_contact_days)
    ev = stream.filter(stream.source == "event")
    per_tp = engine.to_pandas(ev.group_by(["customer_id", "touchpoint"]).aggregate(
        events=ev.count(), contacts=ev.contact_after.cast("int64").sum()))
    conv_customers, early = conversion_units(study)  # the inventory's comparison, customer by customer
    per_tp = per_tp.merge(early.astype({"customer_id": str}), on=["customer_id", "touchpoint"], how="left")
    conv_customers["customer_id"] = conv_customers["customer_id"].astype(str)

    ids = [conv_customers["customer_id"], per_tp["customer_id"]]
    if responses is not None and score is not None and len(responses):
        responses = responses.loc[responses[score].notna(), ["customer_id", "touchpoint", score]].copy()
        responses["customer_id"] = responses["customer_id"].astype(str)
        ids.append(responses["customer_id"])
    else:
        responses = None
    units = None
    if churn_units is not None and len(churn_units):
        units = churn_units[["customer_id", "unresolved", "event"]].astype({"customer_id": str})
        ids.append(units["customer_id"])
    affected = pd.Series(list(affected or []), dtype=str)
    ids.append(affected)
    customers = np.unique(pd.concat(ids, ignore_index=True).astype(str).to_numpy())
    row = pd.Series(np.arange(len(customers)), index=customers)

    touchpoints = [str(t) for t in by_touchpoint["touchpoint"]]
    col = pd.Series(np.arange(len(touchpoints)), index=touchpoints)
    per_tp = per_tp[per_tp["touchpoint"].astype(str).isin(col.index)]
    r = row.loc[per_tp["customer_id"]].to_numpy()
    c = col.loc[per_tp["touchpoint"].astype(str)].to_numpy()
    shape = (len(customers), len(touchpoints))

    cust = conv_customers.set_index("customer_id").reindex(customers)
    compared = cust["compared"].fillna(False).astype(bool).to_numpy()
    converted = (cust["converted"].fillna(False).astype(bool).to_numpy() & compared)
    early_flag = per_tp["early"].fillna(False).astype(bool).to_numpy() & compared[r]
    in_log = np.zeros(len(customers))
    in_log[row.loc[conv_customers["customer_id"]].to_numpy()] = 1.0

    inputs = RegisterInputs(
        customers=customers, touchpoints=touchpoints, in_log=in_log,
        reached=_sparse(r, c, np.ones(len(r)), shape),
        events=_sparse(r, c, per_tp["events"], shape),
        contacts=_sparse(r, c, per_tp["contacts"], shape),
        compared=compared.astype(float), converted=converted.astype(float),
        early=_sparse(r, c, early_flag, shape),
        early_converted=_sparse(r, c, early_flag & converted[r], shape),
        is_support=by_touchpoint["is_support"].fillna(False).astype(bool).to_numpy(),
        is_goal=by_touchpoint["is_goal"].fillna(False).astype(bool).to_numpy(),
        score_scale=float(score_scale), min_responses=int(min_responses),
    )
    if responses is not None:
        # responses at touchpoints outside the friction table count only as "elsewhere": one
        # extra column holds them
        other = len(touchpoints)
        at = responses["touchpoint"]
        rc = at.where(at.isna(), at.astype(str)).map(col).fillna(other).astype(int).to_numpy()
        rr = row.loc[responses["customer_id"]].to_numpy()
        s_shape = (len(customers), len(touchpoints) + 1)
        inputs.score_count = _sparse(rr, rc, np.ones(len(rr)), s_shape)
        inputs.score_sum = _sparse(rr, rc, responses[score].astype(float), s_shape)
    t = {"affected": np.zeros(len(customers))}
    t["affected"][row.loc[affected.unique()].to_numpy()] = 1.0
    if units is not None:
        ur = row.loc[units["customer_id"]].to_numpy()
        unres = units["unresolved"].astype(bool).to_numpy()
        bought = units["event"].astype(bool).to_numpy()
        for name, mask in (("resolved", ~unres), ("resolved_bought", ~unres & bought),
                           ("unresolved", unres), ("unresolved_bought", unres & bought)):
            v = np.zeros(len(customers))
            np.add.at(v, ur[mask], 1.0)
            t[name] = v
    inputs.tickets = t
    return inputs


DENSE_CELLS = 20_000_000  # below this many customer × column cells the inputs are multiplied as a dense matrix


def _stacked(inputs: RegisterInputs) -> tuple[np.ndarray | sparse.csr_matrix, dict[str, slice]]:
    """Every per-customer input side by side (customers × columns), so that one matrix product
    per block of resamples gives every weighted sum; dense (BLAS) when small enough."""
    blocks = {"reached": inputs.reached, "events": inputs.events, "contacts": inputs.contacts,
              "early": inputs.early, "early_converted": inputs.early_converted}
    if inputs.score_count is not None:
        blocks.update(score_count=inputs.score_count, score_sum=inputs.score_sum)
    vectors = {"in_log": inputs.in_log, "compared": inputs.compared,
               "compared_converted": inputs.compared * inputs.converted, **inputs.tickets}
    for name, v in vectors.items():
        blocks[name] = sparse.csr_matrix(np.asarray(v, dtype=np.float64)[:, None])
    where, at = {}, 0
    for name, m in blocks.items():
        where[name] = slice(at, at + m.shape[1])
        at += m.shape[1]
    matrix = sparse.hstack(list(blocks.values()), format="csr")
    if matrix.shape[0] * matrix.shape[1] <= DENSE_CELLS:
        matrix = matrix.toarray()
    return matrix, where


def _priority_parts(inputs: RegisterInputs, counts: np.ndarray, stacked=None) -> dict[str, np.ndarray]:
    """Every touchpoint's reach share, impacts, harms and priority under each row of ``counts``
    (resamples × customers), and the unresolved-ticket item's; the register's formula."""
    matrix, where = stacked if stacked is not None else _stacked(inputs)
    sums = np.asarray(matrix.T @ counts.T).T if sparse.issparse(matrix) else counts @ matrix

    def w(name: str) -> np.ndarray:
        block = sums[:, where[name]]
        return block[:, 0] if block.shape[1] == 1 and name not in ("reached", "events") else block

    with np.errstate(divide="ignore", invalid="ignore"):
        n_log = w("in_log")
        reach_share = w("reached") / n_log[:, None]
        # conversion: customers who touched it before their outcome against the others compared
        n1, k1 = w("early"), w("early_converted")
        n0 = w("compared")[:, None] - n1
        k0 = w("compared_converted")[:, None] - k1
        has = (n1 > 0) & (n0 > 0) & ~inputs.is_goal[None, :]
        impact_conversion = np.where(has, k1 / n1 - k0 / n0, np.nan)
        # support contacts: the touchpoint's rate minus the rate over all non-support touchpoints
        ev, ct = w("events"), w("contacts")
        ns = ~inputs.is_support
        base = ct[:, ns].sum(axis=1) / np.maximum(ev[:, ns].sum(axis=1), 1)
        extra = np.where(inputs.is_support[None, :], np.nan, ct / ev - base[:, None])
        harm_satisfaction = np.zeros_like(reach_share)
        if inputs.score_count is not None:
            cnt, tot = sums[:, where["score_count"]], sums[:, where["score_sum"]]
            cnt_all, tot_all = cnt.sum(axis=1, keepdims=True), tot.sum(axis=1, keepdims=True)
            here = tot / cnt
            elsewhere = (tot_all - tot) / (cnt_all - cnt)
            ok = (cnt >= inputs.min_responses - 1e-9) & (cnt_all - cnt >= 2 - 1e-9)
            gap = np.where(ok, here - elsewhere, np.nan)[:, :-1]
            harm_satisfaction = np.nan_to_num(np.clip(-gap, 0, None) / inputs.score_scale)
        harm_conversion = np.nan_to_num(np.clip(-impact_conversion, 0, None))
        harm_contact = np.nan_to_num(np.clip(extra, 0, None))
        harm = harm_conversion + harm_satisfaction + harm_contact
        parts = {"reach_share": reach_share, "impact_conversion": impact_conversion, "extra_contact_rate": extra,
                 "harm_conversion": harm_conversion, "harm_satisfaction": harm_satisfaction,
                 "harm_contact": harm_contact, "priority": 100 * np.nan_to_num(reach_share) * harm}
        if "resolved" in inputs.tickets:
            share = w("affected") / n_log
            gap = w("resolved_bought") / w("resolved") - w("unresolved_bought") / w("unresolved")
            parts["ticket_priority"] = 100 * np.nan_to_num(share) * np.nan_to_num(np.clip(gap, 0, None))
    return parts


def register_priorities(
    inputs: RegisterInputs,
    items: Sequence[str | None],
    n_resamples: int = 200,
    seed: int = 0,
) -> np.ndarray:
    """The priority of each of ``items`` (a touchpoint, or None for the unresolved-ticket item)
    in each resample: an array resamples × items (see the module doc)."""
    col = {tp: i for i, tp in enumerate(inputs.touchpoints)}
    missing = [tp for tp in items if tp is not None and tp not in col]
    if missing:
        raise ParameterError(f"register_priorities: no inputs for touchpoint(s) {', '.join(map(str, missing))}")
    out = np.empty((n_resamples, len(items)))
    stacked = _stacked(inputs)
    for first, counts in resample_counts(inputs.n, n_resamples, seed):
        parts = _priority_parts(inputs, counts, stacked)
        for k, tp in enumerate(items):
            out[first:first + len(counts), k] = parts["ticket_priority"] if tp is None else \
                parts["priority"][:, col[tp]]
    return out

