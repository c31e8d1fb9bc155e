"""How firm is a ranking? Customer-level bootstrap intervals for the pain-point priority (and the
shared rank summary the key drivers use too).

Decisions are made on ranks — "fix the payment error first" — so the register gives, beside each
priority, how firmly the item holds its place.

**Resampling unit: the customer.** A customer's events, survey responses and tickets stay
together. Resample b (of ``n_resamples``) draws N customers with replacement out of the N in the
analysis (customers sorted by customer_id): the indices
``numpy.random.default_rng(seed).integers(0, N, size=(n_resamples, N))[b]``. Each number is then
recomputed as a sum weighted by how often each customer was drawn — the same as recomputing it on
the duplicated rows, at the cost of one matrix product (resamples × customers weights times
customers × touchpoints counts), computed in blocks of customers so memory stays bounded
(``cxlab.stats.ranking.bootstrap_sums``).

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
from ..stats.ranking import (MIN_RESAMPLES, RANK_COLUMNS, TopTwo, bootstrap_sums, check_resamples, rank_table,
                             resample_counts, top_two, unit_index, unit_positions)
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


def _touchpoint_columns(touchpoints: list[str], values) -> np.ndarray:
    """The column of each of ``values`` among ``touchpoints`` (-1: none, or missing)."""
    codes, uniques = pd.factorize(pd.Series(values))  # each distinct touchpoint looked up once
    at = pd.Index(touchpoints).get_indexer([str(u) for u in uniques])
    return np.where(codes >= 0, at[codes] if len(at) else -1, -1)


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
    by_customer: pd.DataFrame | None = None,
) -> RegisterInputs:
    """Gather, per customer, what the register's priority is computed from (see the module
    doc): the contact stream and the inventory's conversion comparison from the engine (one row
    per customer and touchpoint comes back), the survey ``responses`` (customer_id, touchpoint,
    ``score``), the customers with an unresolved ticket (``affected``) and the churn comparison's
    units (``churn_units``: customer_id, unresolved, event). ``by_touchpoint``: the friction
    table (touchpoint, is_support, is_goal), whose touchpoints are the columns; ``by_customer``:
    the friction signals' events and contacts per customer and touchpoint, when they kept them
    (``friction_signals(by_customer=True)``; otherwise the contact stream is computed here)."""
    if by_customer is None:
        from .friction import contact_stream, contacts_by_customer

        tickets = engine.table(study, "tickets") if "tickets" in study.tables else None
        by_customer = contacts_by_customer(contact_stream(engine.events(study), list(support), tickets,
                                                          repeat_contact_days))
    per_tp = by_customer
    conv_customers, early = conversion_units(study)  # the inventory's comparison, customer by customer

    ids = [conv_customers["customer_id"], per_tp["customer_id"]]
    if responses is not None and score is not None and len(responses):
        responses = responses.loc[responses[score].notna(), ["customer_id", "touchpoint", score]]
        ids.append(responses["customer_id"])
    else:
        responses = None
    units = None
    if churn_units is not None and len(churn_units):
        units = churn_units[["customer_id", "unresolved", "event"]]
        ids.append(units["customer_id"])
    affected = pd.Series(list(affected or []), dtype=str).unique()
    ids.append(pd.Series(affected, dtype=object))
    # factorized, not np.unique and .loc on text: at 1M customers those took about 45 CPU-s
    customers = unit_index(pd.concat([pd.Series(i, dtype=object).astype(str) for i in ids], ignore_index=True))[0]

    def rows(customer_ids) -> np.ndarray:
        return unit_positions(customers, customer_ids)

    touchpoints = [str(t) for t in by_touchpoint["touchpoint"]]
    shape = (len(customers), len(touchpoints))
    c = _touchpoint_columns(touchpoints, per_tp["touchpoint"])
    per_tp = per_tp[c >= 0]
    r, c = rows(per_tp["customer_id"]), c[c >= 0]

    at = rows(conv_customers["customer_id"])
    compared, converted, in_log = np.zeros(len(customers), bool), np.zeros(len(customers), bool), np.zeros(len(customers))
    compared[at] = conv_customers["compared"].fillna(False).astype(bool).to_numpy()
    converted[at] = conv_customers["converted"].fillna(False).astype(bool).to_numpy()
    converted &= compared
    in_log[at] = 1.0
    # touched before the outcome, where the contact stream has the customer at the touchpoint
    ec = _touchpoint_columns(touchpoints, early["touchpoint"])
    er = rows(early["customer_id"])
    flag = early["early"].fillna(False).astype(bool).to_numpy() & (ec >= 0)
    er, ec = er[flag], ec[flag]
    er, ec = er[compared[er]], ec[compared[er]]
    reached = _sparse(r, c, np.ones(len(r)), shape)
    early_m = _sparse(er, ec, np.ones(len(er)), shape).multiply(reached > 0).tocsr()

    inputs = RegisterInputs(
        customers=customers, touchpoints=touchpoints, in_log=in_log,
        reached=reached,
        events=_sparse(r, c, per_tp["events"], shape),
        contacts=_sparse(r, c, per_tp["contacts"], shape),
        compared=compared.astype(float), converted=converted.astype(float),
        early=early_m,
        early_converted=early_m.multiply(converted[:, None].astype(float)).tocsr(),
        is_support=by_touchpoint["is_support"].fillna(False).astype(bool).to_numpy(),
        is_goal=by_touchpoint["is_goal"].fillna(False).astype(bool).to_numpy(),
        score_scale=float(score_scale), min_responses=int(min_responses),
    )
    if responses is not None:
        # responses at touchpoints outside the friction table count only as "elsewhere": one
        # extra column holds them
        rc = _touchpoint_columns(touchpoints, responses["touchpoint"])
        rc[rc < 0] = len(touchpoints)
        rr = rows(responses["customer_id"])
        s_shape = (len(customers), len(touchpoints) + 1)
        inputs.score_count = _sparse(rr, rc, np.ones(len(rr)), s_shape)
        inputs.score_sum = _sparse(rr, rc, responses[score].astype(float), s_shape)
    t = {"affected": np.zeros(len(customers))}
    t["affected"][rows(affected)] = 1.0
    if units is not None:
        ur = rows(units["customer_id"])
        unres = units["unresolved"].astype(bool).to_numpy()
        bought = units["event"].astype(bool).to_numpy()
        for name, mask in (("resolved", ~unres), ("resolved_bought", ~unres & bought),
                           ("unresolved", unres), ("unresolved_bought", unres & bought)):
            t[name] = np.bincount(ur[mask], minlength=len(customers)).astype(float)
    inputs.tickets = t
    return inputs


def _stacked(inputs: RegisterInputs) -> tuple[sparse.csr_matrix, dict[str, slice]]:
    """Every per-customer input side by side (customers × columns), so that one pass of
    ``bootstrap_sums`` gives every weighted sum in every resample."""
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
    return sparse.hstack(list(blocks.values()), format="csr"), where


def _priority_parts(inputs: RegisterInputs, sums: np.ndarray, where: dict[str, slice]) -> dict[str, np.ndarray]:
    """Every touchpoint's reach share, impacts, harms and priority in each resample, and the
    unresolved-ticket item's, from the resampled ``sums`` of the ``_stacked`` columns (resamples ×
    columns, placed by ``where``); the register's formula."""

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
    matrix, where = _stacked(inputs)
    parts = _priority_parts(inputs, bootstrap_sums(matrix, n_resamples, seed), where)
    return np.column_stack([parts["ticket_priority"] if tp is None else parts["priority"][:, col[tp]]
                            for tp in items]) if items else np.empty((n_resamples, 0))

