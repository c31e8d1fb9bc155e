"""Attribution of conversions to touchpoints: first touch, last touch and the Markov-chain
removal effect (Anderl, Becker, von Wangenheim & Schumann 2016, "Mapping the customer journey:
lessons learned from graph-based online attribution modeling", IJRM 33(3))."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import journeys as J

__all__ = ["Attribution", "attribution", "removal_effects"]

DIRECT = "(direct)"


@dataclass
class Attribution:
    """Conversions credited to touchpoints by three models.

    ``table``: per touchpoint — ``first_touch`` and ``last_touch`` (conversions whose path to
    the goal began / ended with it), ``removal_effect`` (the share of conversions that would be
    lost if the touchpoint were removed from the journeys, by the Markov chain), ``markov``
    (conversions credited in proportion to the removal effects) and each model's share of all
    conversions (``*_share``). A conversion whose first event is the goal itself is credited to
    ``(direct)`` by first and last touch. ``transitions``: the counts the chain was fitted on.
    """

    table: pd.DataFrame
    conversions: int
    journeys: int
    conversion_probability: float
    transitions: pd.DataFrame

    def summary(self, n: int = 5) -> str:
        lines = [
            f"{self.conversions:,} conversions from {self.journeys:,} journeys "
            f"(Markov chain conversion probability {self.conversion_probability:.1%}).",
            "Largest removal effects: " + ", ".join(
                f"{r.touchpoint} {r.removal_effect:.0%}" for r in self.table.nlargest(n, "removal_effect").itertuples()
            ),
        ]
        return "\n".join(lines)

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


def attribution(data, *, goals=None, catalog: pd.DataFrame | None = None) -> Attribution:
    """Which touchpoints carry the journeys to the goal: first-touch, last-touch and Markov
    removal-effect attribution, side by side.

    Each customer's journey (ordered by timestamp, then seq) runs from ``(start)`` to their
    first goal event, ``(conversion)``, or, for customers who never reach the goal, to
    ``(end)``; back-to-back repeats count once. First touch credits a conversion to the first
    touchpoint of that path, last touch to the touchpoint right before the goal. The Markov
    model (first order) is fitted on all paths, converting or not, and credits the conversions
    in proportion to each touchpoint's removal effect (see ``removal_effects``). Goal
    touchpoints end the path, so they receive no credit themselves.
    """
    src = J.resolve(data, goals=goals, catalog=catalog)
    src.require_goals("Attribution")
    p = J.pairs(src, until_goal=True, collapse_repeats=True, renumber=False)
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
    return Attribution(table[cols], conversions, journeys, base, counts)
