"""Attribution of conversions to touchpoints: first touch, last touch and the Markov-chain
removal effect (Anderl, Becker, von Wangenheim & Schumann 2016, "Mapping the customer journey:
lessons learned from graph-based online attribution modeling", IJRM 33(3)).

**How firm each model's order is.** With ``n_resamples`` > 0 (200 by default) the customers'
paths are resampled (``cxlab.touchpoints.ranking``: customer-level, seeded) and every model is
refitted on each resample: first and last touch count the resampled converting paths again, and
the Markov chain is refitted on the resampled transition counts. The refit solves each resample's
chain once: with N = (I − Q)⁻¹ the fundamental matrix of its transient states and x the
probability of converting from each state, removing state s leaves the conversion probability
x_start − N[start, s] / N[s, s] · x_s (the paths that never visit s; N[start, s] / N[s, s] is the
probability of ever visiting s), which equals what ``removal_effects`` solves state by state — on
the whole data the two agree to rounding (``tests/test_ranking_uncertainty.py``), and the table's
numbers stay the exact solver's.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import journeys as J
from ..stats.ranking import Ranking, bootstrap_sums, check_resamples, ranking, unit_index
from .ranking import DEFAULT_RESAMPLES

__all__ = ["Attribution", "attribution", "removal_effects", "removal_effects_batch", "MODELS"]

DIRECT = "(direct)"
# the three models, as named in the table's columns and in words
MODELS = {"first_touch": "first-touch share", "last_touch": "last-touch share", "markov": "Markov share"}


@dataclass
class Attribution:
    """Conversions credited to touchpoints by three models.

    ``table``: per touchpoint — ``first_touch`` and ``last_touch`` (conversions whose path to
    the goal began / ended with it), ``removal_effect`` (the share of conversions that would be
    lost if the touchpoint were removed from the journeys, by the Markov chain), ``markov``
    (conversions credited in proportion to the removal effects) and each model's share of all
    conversions (``*_share``). A conversion whose first event is the goal itself is credited to
    ``(direct)`` by first and last touch. ``transitions``: the counts the chain was fitted on.

    With resamples, per model (``first_touch``, ``last_touch``, ``markov``): ``<model>_share_ci_low``
    and ``_ci_high`` (bootstrap interval of its share), ``<model>_ranked_first`` (share of
    resamples in which the touchpoint gets the model's largest share), ``<model>_rank_low`` and
    ``_rank_high`` (its rank interval); ``rankings`` holds each model's ``Ranking``.
    """

    table: pd.DataFrame
    conversions: int
    journeys: int
    conversion_probability: float
    transitions: pd.DataFrame
    rankings: dict[str, Ranking] = field(default_factory=dict)
    resamples: int = 0
    ci_level: float = 0.95

    def summary(self, n: int = 5) -> str:
        lines = [
            f"{self.conversions:,} conversions from {self.journeys:,} journeys "
            f"(Markov chain conversion probability {self.conversion_probability:.1%}).",
            "Largest removal effects: " + ", ".join(
                f"{r.touchpoint} {r.removal_effect:.0%}" for r in self.table.nlargest(n, "removal_effect").itertuples()
            ),
        ]
        lines += [self.leader(m) for m in self.rankings]
        return "\n".join(lines)

    def leader(self, model: str, labels: dict | None = None) -> str:
        """The touchpoint a model credits most, with its share, interval and how firm its lead is:
        "Last-touch share: Checkout (app) 36% (95% interval 35–37%), ranked 1st in 100% of 200
        resamples.", or the sentence saying the first two cannot be told apart; '' without
        resamples."""
        r = self.rankings.get(model)
        if r is None or r.table.empty:
            return ""
        labels = labels or {}
        best = r.row()
        name = labels.get(best["item"], best["item"])
        text = f"{MODELS[model].capitalize()}: {name} {best.value:.0%} ({self.ci_level:.0%} interval {r.interval()})"
        if r.top is not None and not r.top.distinguishable:
            return f"{text}. {r.sentence(labels)}"
        return f"{text}, {r.firmness()}."

    def display_table(self, labels: dict | None = None) -> pd.DataFrame:
        """The table for a reader (``show_table``): per touchpoint the credited purchases, the
        removal effect and, per model, its share; with resamples the share's interval and the
        model's rank as "1 (1–2), 1st in 64%" (rank, rank interval, share of resamples ranked 1st)."""
        t = self.table
        out = pd.DataFrame({"touchpoint": [(labels or {}).get(v, v) for v in t.touchpoint]})
        out["removal_effect"] = t["removal_effect"].to_numpy()
        for model, words in MODELS.items():
            share = t[f"{model}_share"]
            if model in self.rankings:
                lo, hi = t[f"{model}_share_ci_low"], t[f"{model}_share_ci_high"]
                out[words] = ["0%" if not v > 0 and not b > 0 else f"{v:.1%} ({a:.1%}–{b:.1%})"
                              for v, a, b in zip(share, lo, hi)]
                r = self.rankings[model]
                out[f"{words.replace(' share', '')} rank"] = [
                    "–" if not v > 0 else f"{_rank(r, tp)}{_interval_if_wider(r, tp)}, 1st in {f:.0%}"
                    for tp, v, f in zip(t.touchpoint, share, t[f"{model}_ranked_first"])]
            else:
                out[words] = share.to_numpy()
        out.attrs["formats"] = {"removal_effect": "pct",
                                **{w: "pct" for m, w in MODELS.items() if m not in self.rankings}}
        return out

    def plot(self, ax=None, n: int = 15):
        """Grouped bars of each model's share of conversions per touchpoint."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(9, max(3.5, 0.4 * min(n, len(self.table)) + 1)))
        d = self.table.nlargest(n, "markov_share").iloc[::-1]
        y = np.arange(len(d))
        h = 0.27
        ax.barh(y - h, d["first_touch_share"], h, label="first touch", color="#8c8c8c")
        ax.barh(y, d["last_touch_share"], h, label="last touch", color="#ccb974")
        ax.barh(y + h, d["markov_share"], h, label="Markov removal effect", color="#4c72b0")
        ax.set_yticks(y, d["touchpoint"])
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        ax.set_xlabel("share of conversions credited")
        ax.legend(loc="lower right")
        return ax


def _conversion_probability(states: list[str], P: np.ndarray, start: int, conv: int) -> float:
    """Probability of absorption in ``conv`` from ``start`` for a chain whose absorbing states
    have rows of zeros (other than themselves)."""
    n = len(states)
    transient = [i for i in range(n) if P[i].sum() > 0 and P[i, i] < 1]
    idx = {s: k for k, s in enumerate(transient)}
    Q = P[np.ix_(transient, transient)]
    b = P[transient, conv]
    x = np.linalg.solve(np.eye(len(transient)) - Q, b)
    return float(x[idx[start]]) if start in idx else 0.0


def _rank(r: Ranking, item: str) -> str:
    """An item's rank on the whole data (1 + items with a larger value; ties share it)."""
    values = r.table["value"].to_numpy(float)
    return str(1 + int((values > float(r.row(item).value)).sum()))


def _interval_if_wider(r: Ranking, item: str) -> str:
    interval = r.rank_interval(item)
    return f" ({interval})" if "–" in interval else ""


def removal_effects_batch(counts: np.ndarray, states: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Conversion probability and removal effect of every state of many chains at once (the
    module doc's formula): ``counts`` resamples × states × states transition counts over
    ``states`` (which include ``(start)``, ``(conversion)`` and ``(end)``). Returns (conversion
    probability per chain, removal effects chains × states; 0 for the three named states, and
    every effect 0 where the chain never converts). Chains go in blocks, so memory stays small."""
    k = {s: i for i, s in enumerate(states)}
    conv, end, start = k[J.CONVERSION], k[J.END], k[J.START]
    transient = [i for i in range(len(states)) if i not in (conv, end)]
    s0 = transient.index(start)
    n = len(transient)
    base = np.empty(len(counts))
    effects = np.zeros((len(counts), len(states)))
    per_block = max(1, 2_000_000 // max(n * n, 1))
    for first in range(0, len(counts), per_block):
        c = np.asarray(counts[first:first + per_block], dtype=float)
        rows = c.sum(axis=2, keepdims=True)
        p = np.divide(c, rows, out=np.zeros_like(c), where=rows > 0)
        q = p[:, transient][:, :, transient]
        fundamental = np.linalg.inv(np.eye(n) - q)  # expected visits; its rows see every removal
        x = fundamental @ p[:, transient, conv][..., None]
        x = x[..., 0]
        b = x[:, s0]
        visit = fundamental[:, s0, :] / np.diagonal(fundamental, axis1=1, axis2=2)  # P(ever at s | start)
        without = b[:, None] - visit * x
        with np.errstate(divide="ignore", invalid="ignore"):
            eff = np.where(b[:, None] > 0, 1 - without / b[:, None], 0.0)
        eff[:, s0] = 0.0
        base[first:first + len(c)] = b
        effects[first:first + len(c)][:, transient] = eff
    return base, effects


def removal_effects(counts: pd.DataFrame) -> tuple[float, pd.Series]:
    """Markov-chain conversion probability and removal effect per touchpoint.

    ``counts``: ``source``, ``target``, ``transitions`` with journeys starting at ``(start)``
    and ending at ``(conversion)`` or ``(end)``. The chain's transition probabilities are the
    row-normalised counts. Removing a touchpoint sends every journey reaching it to ``(end)``;
    its removal effect is 1 - P(conversion without it) / P(conversion).
    """
    states = sorted(set(counts["source"]) | set(counts["target"]) | {J.START, J.CONVERSION, J.END})
    k = {s: i for i, s in enumerate(states)}
    C = np.zeros((len(states), len(states)))
    for s, t, n in zip(counts["source"], counts["target"], counts["transitions"]):
        C[k[s], k[t]] += n
    rows = C.sum(1, keepdims=True)
    P = np.divide(C, rows, out=np.zeros_like(C), where=rows > 0)
    for absorbing in (J.CONVERSION, J.END):
        P[k[absorbing]] = 0.0
    start, conv, end = k[J.START], k[J.CONVERSION], k[J.END]
    base = _conversion_probability(states, P, start, conv)
    effects = {}
    for s in states:
        if s in (J.START, J.CONVERSION, J.END):
            continue
        R = P.copy()
        R[k[s]] = 0.0
        R[k[s], end] = 1.0  # everything reaching s now ends without converting
        p = _conversion_probability(states, R, start, conv)
        effects[s] = 1 - p / base if base > 0 else 0.0
    return base, pd.Series(effects, name="removal_effect", dtype="float64")


def attribution(data, *, goals=None, catalog: pd.DataFrame | None = None, n_resamples: int = DEFAULT_RESAMPLES,
                seed: int = 0, ci_level: float = 0.95) -> Attribution:
    """Which touchpoints carry the journeys to the goal: first-touch, last-touch and Markov
    removal-effect attribution, side by side.

    Each customer's journey (ordered by timestamp, then seq) runs from ``(start)`` to their
    first goal event, ``(conversion)``, or, for customers who never reach the goal, to
    ``(end)``; back-to-back repeats count once. First touch credits a conversion to the first
    touchpoint of that path, last touch to the touchpoint right before the goal. The Markov
    model (first order) is fitted on all paths, converting or not, and credits the conversions
    in proportion to each touchpoint's removal effect (see ``removal_effects``). Goal
    touchpoints end the path, so they receive no credit themselves.

    ``n_resamples`` (200; 0: none) customer-level bootstrap resamples (``seed``) give each
    model's shares their interval and order its firmness (module doc).
    """
    n_resamples = check_resamples(n_resamples)
    src = J.resolve(data, goals=goals, catalog=catalog)
    src.require_goals("Attribution")
    p = J.pairs(src, until_goal=True, collapse_repeats=True, renumber=False)
    per_customer = None
    if n_resamples:
        # one row per customer and step kind: what the bootstrap refits every model from
        per_customer = J.run(p.group_by(["customer_id", "source", "target"]).agg(transitions=p.count()))
        counts = per_customer.groupby(["source", "target"], as_index=False)["transitions"].sum()
    else:
        counts = J.run(p.group_by(["source", "target"]).agg(transitions=p.count()))
    # first touch: the step out of (start) of converting journeys; last touch: the step into
    # (conversion).
    conv_customers = p.filter(p.target == J.CONVERSION).select("customer_id")
    firsts = p.filter(p.source == J.START).join(conv_customers, "customer_id")
    first_touch = J.run(firsts.group_by(firsts.target.name("touchpoint")).agg(first_touch=firsts.count()))
    lasts = p.filter(p.target == J.CONVERSION)
    last_touch = J.run(lasts.group_by(lasts.source.name("touchpoint")).agg(last_touch=lasts.count()))
    first_touch["touchpoint"] = first_touch["touchpoint"].replace({J.CONVERSION: DIRECT})
    last_touch["touchpoint"] = last_touch["touchpoint"].replace({J.START: DIRECT})

    conversions = int(counts.loc[counts.target == J.CONVERSION, "transitions"].sum())
    journeys = int(counts.loc[counts.source == J.START, "transitions"].sum())
    base, effects = removal_effects(counts)
    table = effects.rename_axis("touchpoint").reset_index()
    table = table.merge(first_touch, on="touchpoint", how="outer").merge(last_touch, on="touchpoint", how="outer")
    table[["first_touch", "last_touch"]] = table[["first_touch", "last_touch"]].fillna(0).astype("int64")
    table["removal_effect"] = table["removal_effect"].fillna(0.0)
    total_effect = table["removal_effect"].clip(lower=0).sum()
    table["markov"] = conversions * table["removal_effect"].clip(lower=0) / total_effect if total_effect > 0 else 0.0
    for col in ("first_touch", "last_touch", "markov"):
        table[f"{col}_share"] = table[col] / conversions if conversions else np.nan
    table = table.sort_values(["markov", "last_touch", "touchpoint"], ascending=[False, False, True]).reset_index(drop=True)
    cols = ["touchpoint", "first_touch", "last_touch", "markov", "removal_effect", "first_touch_share",
            "last_touch_share", "markov_share"]
    counts = counts.sort_values(["source", "target"]).reset_index(drop=True)
    table = table[cols].reset_index(drop=True)
    rankings = {} if per_customer is None else _rankings(per_customer, table, n_resamples, seed, ci_level)
    for model, r in rankings.items():
        ranks = r.table.set_index("item").loc[table["touchpoint"]]
        names = {"ci_low": f"{model}_share_ci_low", "ci_high": f"{model}_share_ci_high",
                 "ranked_first": f"{model}_ranked_first", "rank_low": f"{model}_rank_low",
                 "rank_high": f"{model}_rank_high"}
        for col, name in names.items():
            table[name] = ranks[col].to_numpy()
    return Attribution(table, conversions, journeys, base, counts, rankings, n_resamples, ci_level)


def _rankings(per_customer: pd.DataFrame, table: pd.DataFrame, n_resamples: int, seed: int, ci_level: float
              ) -> dict[str, Ranking]:
    """Each model refitted on every resample of the customers' paths (module doc): first- and
    last-touch shares from the resampled converting paths, Markov shares from the chain refitted
    on the resampled transitions."""
    from scipy import sparse  # imported where it is used: importing cxlab should not pay for it (issue 18)

    units, row = unit_index(per_customer["customer_id"])
    src, tgt = per_customer["source"].astype(str).to_numpy(), per_customer["target"].astype(str).to_numpy()
    states = sorted(set(pd.unique(src)) | set(pd.unique(tgt)) | {J.START, J.CONVERSION, J.END})
    k = {s: i for i, s in enumerate(states)}
    m = len(states)
    state_index = pd.Index(states)
    items = table["touchpoint"].tolist()
    item = {tp: i for i, tp in enumerate(items)}
    n_items = len(items)
    # columns: transitions (source × target) | first touch per item | last touch per item | converted
    cells = [(row, state_index.get_indexer(src) * m + state_index.get_indexer(tgt), per_customer["transitions"].to_numpy(float))]
    firsts = (src == J.START) & np.isin(row, row[tgt == J.CONVERSION])  # the first step of a converting path
    first_tp = np.where(tgt[firsts] == J.CONVERSION, DIRECT, tgt[firsts])
    cells.append((row[firsts], m * m + np.array([item[t] for t in first_tp], dtype=int), np.ones(firsts.sum())))
    lasts = tgt == J.CONVERSION
    last_tp = np.where(src[lasts] == J.START, DIRECT, src[lasts])
    cells.append((row[lasts], m * m + n_items + np.array([item[t] for t in last_tp], dtype=int), np.ones(lasts.sum())))
    cells.append((row[lasts], np.full(lasts.sum(), m * m + 2 * n_items), np.ones(lasts.sum())))
    r, c, v = (np.concatenate(x) for x in zip(*cells))
    matrix = sparse.csr_matrix((v, (r, c)), shape=(len(units), m * m + 2 * n_items + 1))
    sums = bootstrap_sums(matrix, n_resamples, seed)
    conversions = sums[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        draws = {"first_touch": sums[:, m * m:m * m + n_items] / conversions,
                 "last_touch": sums[:, m * m + n_items:m * m + 2 * n_items] / conversions}
        _, effects = removal_effects_batch(sums[:, :m * m].reshape(-1, m, m), states)
        positive = np.clip(effects, 0, None)
        share = positive / positive.sum(axis=1, keepdims=True)
    at = [k.get(tp) for tp in items]  # (direct) is no state: no Markov credit
    draws["markov"] = np.column_stack([share[:, i] if i is not None else np.zeros(len(share)) for i in at])
    return {model: ranking(draws[model], table[f"{model}_share"].to_numpy(float), items, MODELS[model], ci_level)
            for model in MODELS}
