"""Transitions between touchpoints, paths around an anchor touchpoint, and their Sankey diagrams.

The most frequent transitions and the most common touchpoints right before and after the anchor
are rankings; with ``n_resamples`` > 0 (200 by default) a customer-level bootstrap of the log
(``cxlab.touchpoints.ranking``) says how firm they are.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd

from ..errors import ParameterError
from .. import journeys as J
from ..stats.ranking import Ranking, check_resamples, ranking
from .ranking import DEFAULT_RESAMPLES, item_sums, log_customers

__all__ = ["Transitions", "transitions", "AnchorPaths", "anchor_paths", "sankey_figure", "OTHER"]

OTHER = "(other)"
ARROW = " → "  # a transition's name: "source → target"
_SPECIAL_COLORS = {
    J.START: "rgba(120,120,120,0.9)",
    J.END: "rgba(196,78,82,0.9)",
    J.CONVERSION: "rgba(85,168,104,0.9)",
    OTHER: "rgba(180,180,180,0.9)",
}
_PALETTE = [
    "#4c72b0", "#dd8452", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd",
    "#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#2ca02c",
]


# ----------------------------------------------------------------------------- Sankey
def _lump(links: pd.DataFrame, top_nodes: int) -> pd.DataFrame:
    """Keep the ``top_nodes`` busiest touchpoints of each column; the rest become (other)."""
    keep: dict[int, set] = {}
    vol = pd.concat(
        [
            links.groupby(["step", "source"])["customers"].sum().rename_axis(["col", "node"]),
            links.assign(step=links["step"] + 1).groupby(["step", "target"])["customers"].sum().rename_axis(["col", "node"]),
        ]
    ).groupby(level=[0, 1]).max()
    for col, sub in vol.groupby(level=0):
        names = sub.droplevel(0).sort_values(ascending=False)
        ordinary = [n for n in names.index if n not in _SPECIAL_COLORS]
        keep[col] = set(ordinary[:top_nodes]) | {n for n in names.index if n in _SPECIAL_COLORS}
    out = links.copy()
    out["source"] = [s if s in keep.get(c, ()) else OTHER for s, c in zip(out["source"], out["step"])]
    out["target"] = [t if t in keep.get(c + 1, ()) else OTHER for t, c in zip(out["target"], out["step"])]
    return out.groupby(["step", "source", "target"], as_index=False)["customers"].sum()


def sankey_figure(
    links: pd.DataFrame,
    *,
    top_nodes: int = 8,
    column_labels: list[str] | None = None,
    title: str | None = None,
    height: int = 520,
):
    """A plotly Sankey of paths through columns.

    ``links`` has columns ``step`` (the column of the source node, 0 = leftmost), ``source``,
    ``target`` and ``customers``. Each column keeps its ``top_nodes`` busiest touchpoints; the
    rest are drawn as (other). Journey start, end and conversion keep their own colours.
    Returns a ``plotly.graph_objects.Figure``.
    """
    import plotly.graph_objects as go

    if links.empty:
        fig = go.Figure()
        fig.update_layout(title=title or "No paths to draw", height=200)
        return fig
    lumped = _lump(links, top_nodes)
    nodes: dict[tuple[int, str], int] = {}
    for c, s, t in zip(lumped["step"], lumped["source"], lumped["target"]):
        nodes.setdefault((int(c), s), len(nodes))
        nodes.setdefault((int(c) + 1, t), len(nodes))
    names = sorted({n for _, n in nodes if n not in _SPECIAL_COLORS})
    colour = {n: _PALETTE[i % len(_PALETTE)] for i, n in enumerate(names)}
    colour.update(_SPECIAL_COLORS)
    labels = [html.escape(str(n)) for (_, n) in nodes]  # touchpoint names are data, not markup
    names_raw = [n for (_, n) in nodes]
    n_cols = max(c for c, _ in nodes) + 1
    # fixed positions: columns by step, nodes stacked by volume (busiest on top)
    out_vol = lumped.groupby(["step", "source"])["customers"].sum()
    in_vol = lumped.assign(step=lumped["step"] + 1).groupby(["step", "target"])["customers"].sum()
    vol = {key: max(float(out_vol.get(key, 0)), float(in_vol.get(key, 0))) for key in nodes}
    xs, ys = [0.0] * len(nodes), [0.0] * len(nodes)
    for col in range(n_cols):
        keys = sorted((k for k in nodes if k[0] == col), key=lambda k: (k[1] in _SPECIAL_COLORS, -vol[k]))
        total = sum(vol[k] for k in keys) or 1.0
        gap = 0.04
        span = 1.0 - gap * max(len(keys) - 1, 0)
        y = 0.0
        for k in keys:
            h = span * vol[k] / total if span > 0 else 1.0 / len(keys)
            xs[nodes[k]] = 0.001 + 0.998 * col / max(n_cols - 1, 1)
            ys[nodes[k]] = min(max(y + h / 2, 0.001), 0.999)
            y += h + gap
    link_colour = [colour[s].replace("0.9)", "0.35)") if s in _SPECIAL_COLORS else _hex_alpha(colour[s]) for s in lumped["source"]]
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node=dict(label=labels, color=[colour[n] for n in names_raw], x=xs, y=ys, pad=12, thickness=14),
            link=dict(
                source=[nodes[(int(c), s)] for c, s in zip(lumped["step"], lumped["source"])],
                target=[nodes[(int(c) + 1, t)] for c, t in zip(lumped["step"], lumped["target"])],
                value=lumped["customers"].astype(float).tolist(),
                color=link_colour,
            ),
        )
    )
    annotations = []
    if column_labels:
        for i, text in enumerate(column_labels[:n_cols]):
            annotations.append(dict(x=i / max(n_cols - 1, 1), y=1.06, xref="paper", yref="paper", text=text,
                                    showarrow=False, font=dict(size=11)))
    fig.update_layout(title=title, height=height, font=dict(size=11), annotations=annotations,
                      margin=dict(l=10, r=10, t=70 if title else 40, b=10))
    return fig


def _hex_alpha(hex_colour: str, alpha: float = 0.35) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


# ----------------------------------------------------------------------------- transitions
@dataclass
class Transitions:
    """Touchpoint → next touchpoint.

    ``table``: ``source``, ``target``, ``transitions`` (how many times a journey went from
    source to target) and ``probability`` (share of the steps out of ``source`` that go to
    ``target``). Journeys begin at ``(start)`` and finish at ``(end)`` (or ``(conversion)`` when
    cut at the goal). ``paths``: the same counted per step of the journey for its first
    ``sankey_steps`` steps (``step`` 0 is the step out of (start)) — what the Sankey draws.
    ``ranking``: with resamples, how firm the order of the ``ranked`` most frequent transitions
    is (items "source → target"); ``top`` shows it.
    """

    table: pd.DataFrame
    paths: pd.DataFrame
    until_goal: bool
    collapse_repeats: bool
    ranking: Ranking | None = None

    def matrix(self) -> pd.DataFrame:
        """Transition probabilities as a source × target matrix."""
        return self.table.pivot_table(index="source", columns="target", values="probability", fill_value=0.0)

    def top(self, n: int = 15) -> pd.DataFrame:
        """The ``n`` most frequent transitions; with resamples (for those ranked), as text, the
        bootstrap interval of the count (``transitions interval``), the share of resamples in
        which it is the most frequent (``most frequent in``) and its rank interval."""
        out = self.table.nlargest(n, "transitions").reset_index(drop=True)
        if self.ranking is not None:
            ranks = self.ranking.table.set_index("item").reindex(out.source + ARROW + out.target)
            out["transitions interval"] = ["" if pd.isna(a) else f"{a:,.0f}–{b:,.0f}"
                                           for a, b in zip(ranks["ci_low"], ranks["ci_high"])]
            out["most frequent in"] = ["" if pd.isna(v) else f"{v:.0%}" for v in ranks["ranked_first"]]
            out["rank interval"] = ["" if pd.isna(a) else (f"{int(a)}" if a == b else f"{int(a)}–{int(b)}")
                                    for a, b in zip(ranks["rank_low"], ranks["rank_high"])]
        return out

    def next_after(self, touchpoint: str) -> pd.DataFrame:
        """Where journeys go right after ``touchpoint``, most likely first."""
        return self.table[self.table.source == touchpoint].sort_values("probability", ascending=False).reset_index(drop=True)

    def summary(self, n: int = 5) -> str:
        lines = [f"{len(self.table)} distinct transitions; the most frequent:"]
        for r in self.top(n).itertuples():
            lines.append(f"  {r.source} → {r.target}: {r.transitions:,} ({r.probability:.1%} of steps out of {r.source})")
        return "\n".join(lines)

    def sankey(self, top_nodes: int = 8, title: str | None = None):
        """A plotly Sankey of the journeys' first steps (see ``sankey_figure``)."""
        n = int(self.paths["step"].max()) + 2 if len(self.paths) else 0
        cols = ["start"] + [f"step {i}" for i in range(1, n)]
        return sankey_figure(self.paths, top_nodes=top_nodes, column_labels=cols, title=title)

    def plot(self, ax=None, n: int = 15):
        """A heat map of transition probabilities between the busiest states."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(9, 7))
        busiest = self.table.groupby("source")["transitions"].sum().nlargest(n).index
        m = self.matrix().reindex(index=busiest)
        m = m.loc[:, [c for c in m.columns if c in set(busiest) | {J.END, J.CONVERSION}]]
        im = ax.imshow(m.to_numpy(), cmap="Blues", vmin=0, vmax=1, aspect="auto")
        ax.set_yticks(range(len(m.index)), m.index)
        ax.set_xticks(range(len(m.columns)), m.columns, rotation=60, ha="right")
        ax.set_xlabel("next")
        ax.figure.colorbar(im, ax=ax, label="probability")
        return ax


def transitions(
    data,
    *,
    until_goal: bool = False,
    collapse_repeats: bool = False,
    sankey_steps: int = 5,
    goals=None,
    catalog: pd.DataFrame | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    ranked: int = 15,
    ci_level: float = 0.95,
) -> Transitions:
    """Counts and probabilities of moving from each touchpoint to the next, in the engine.

    A journey is one customer's events ordered by (timestamp, seq) and is not split by gaps; it
    begins in the state ``(start)`` and, after its last event, moves to ``(end)``. With
    ``until_goal`` the journey stops at the first goal event, which becomes ``(conversion)``.
    With ``collapse_repeats`` a touchpoint repeated back to back counts once (no self-loops).
    ``sankey_steps`` steps of every journey are also counted step by step for the Sankey.
    ``n_resamples`` (200; 0: none) customer-level bootstrap resamples (``seed``) rank the
    ``ranked`` most frequent transitions again in each resample.
    """
    if sankey_steps < 1:
        raise ParameterError("sankey_steps must be at least 1.")
    n_resamples = check_resamples(n_resamples)
    src = J.resolve(data, goals=goals, catalog=catalog)
    p = J.pairs(src, until_goal=until_goal, collapse_repeats=collapse_repeats)
    # one pass: counts per (step, source, target) with the steps beyond the Sankey pooled
    step = ibis.least(p.pos, sankey_steps + 1).name("pos")
    counts = J.run(p.group_by([step, p.source, p.target]).agg(customers=p.count()))
    table = counts.groupby(["source", "target"], as_index=False)["customers"].sum()
    table = table.rename(columns={"customers": "transitions"})
    paths = counts[counts["pos"] <= sankey_steps].copy()
    table["probability"] = table["transitions"] / table.groupby("source")["transitions"].transform("sum")
    table = table.sort_values(["source", "transitions", "target"], ascending=[True, False, True]).reset_index(drop=True)
    paths = paths.assign(step=paths.pop("pos") - 1)[["step", "source", "target", "customers"]]
    paths = paths.sort_values(["step", "customers", "source", "target"], ascending=[True, False, True, True]).reset_index(drop=True)
    order = None
    if n_resamples and len(table):
        top = table.nlargest(ranked, "transitions")
        names = (top.source + ARROW + top.target).tolist()
        # the same steps without renumbering them (the ranking needs no positions: one window less)
        q = J.pairs(src, until_goal=until_goal, collapse_repeats=collapse_repeats, renumber=False)
        q = q.mutate(move=q.source.concat(ARROW, q.target))
        moves = q.filter(q.move.isin(names))
        rows = J.run(moves.group_by(["customer_id", "move"]).agg(n=moves.count()))
        _, (counts,) = item_sums(rows, names, n_resamples, seed, item="move", values=("n",), units=log_customers(src))
        order = ranking(counts, top["transitions"].to_numpy(float), names, "transitions", ci_level, fmt="{:,.0f}")
    return Transitions(table, paths, until_goal, collapse_repeats, order)


# ----------------------------------------------------------------------------- anchor paths
@dataclass
class AnchorPaths:
    """What comes before and after an anchor touchpoint.

    ``positions``: ``position`` (-before … -1, 0 = the anchor, 1 … after), ``touchpoint``,
    ``customers`` and ``share`` (of the anchored journeys); ``(start)`` means the journey began
    there, ``(end)`` that it ended. ``paths``: the most common complete sequences, one column
    per position. ``links``: customers moving between adjacent positions (for the Sankey).
    ``rankings``: with resamples, how firm the order of the touchpoints right before (-1) and
    right after (1) the anchor is, by position.
    """

    anchor: str
    before: int
    after: int
    journeys: int
    positions: pd.DataFrame
    paths: pd.DataFrame
    links: pd.DataFrame
    occurrence: str = "first"
    rankings: dict[int, Ranking] = field(default_factory=dict)

    def firmness(self, position: int = 1) -> str:
        """How firmly the most common touchpoint at ``position`` leads: "the most common in 100%
        of 200 resamples", and the comparison of the top two when they cannot be told apart;
        '' without resamples."""
        r = self.rankings.get(position)
        if r is None or r.table.empty:
            return ""
        where = "next step" if position > 0 else "step before"
        text = f"the most common {where} in {r.row().ranked_first:.0%} of {r.resamples:,} resamples"
        if r.top is not None and not r.top.distinguishable:
            text += f"; {r.sentence()}"
        return text

    def at(self, position: int) -> pd.DataFrame:
        """The touchpoints at one position, most common first."""
        return self.positions[self.positions.position == position].reset_index(drop=True)

    def summary(self, n: int = 3) -> str:
        lines = [f"{self.journeys:,} journeys through {self.anchor} ({self.occurrence} occurrence per customer)."]
        if self.before:
            top = self.at(-1).head(n)
            lines.append("Right before: " + ", ".join(f"{r.touchpoint} {r.share:.0%}" for r in top.itertuples()))
        if self.after:
            top = self.at(1).head(n)
            lines.append("Right after: " + ", ".join(f"{r.touchpoint} {r.share:.0%}" for r in top.itertuples()))
        for position in sorted(self.rankings):  # how firm the most common step before and after is
            r = self.rankings[position]
            if len(r.table):
                lines.append(f"{r.first}: {self.firmness(position)}.")
        return "\n".join(lines)

    def sankey(self, top_nodes: int = 8, title: str | None = None):
        cols = [f"{p:+d}" if p else self.anchor for p in range(-self.before, self.after + 1)]
        return sankey_figure(self.links, top_nodes=top_nodes, column_labels=cols, title=title)

    def plot(self, ax=None, position: int = 1, n: int = 10):
        """Bars of the touchpoints at ``position`` (default: right after the anchor)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        d = self.at(position).head(n).iloc[::-1]
        ax.barh(d["touchpoint"], d["share"], color="#4c72b0")
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        ax.set_xlabel(f"share of journeys, position {position:+d} from {self.anchor}")
        return ax


def anchor_paths(
    data,
    anchor: str,
    *,
    before: int = 3,
    after: int = 3,
    occurrence: str = "first",
    collapse_repeats: bool = True,
    top_paths: int = 20,
    goals=None,
    catalog: pd.DataFrame | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    ci_level: float = 0.95,
) -> AnchorPaths:
    """The ``before`` touchpoints leading to ``anchor`` and the ``after`` touchpoints following
    it (what leads to a call to customer service, what follows a payment error), in the engine.

    ``occurrence``: ``"first"`` takes each customer's first occurrence of the anchor (counts
    are customers), ``"all"`` every occurrence. With ``collapse_repeats`` (default) back-to-back
    repeats of a touchpoint count once, so "view, view, view" is one step. Journeys are ordered
    by (timestamp, seq); before the first event sits ``(start)``, after the last ``(end)``.
    ``n_resamples`` (200; 0: none) customer-level bootstrap resamples (``seed``) rank the
    touchpoints right before and right after the anchor again in each resample (their share of
    the anchored journeys).
    """
    n_resamples = check_resamples(n_resamples)
    if occurrence not in ("first", "all"):
        raise ParameterError(f"occurrence='{occurrence}': choose 'first' or 'all'.")
    if before < 0 or after < 0 or before + after == 0:
        raise ParameterError("before and after are non-negative and at least one of them positive.")
    src = J.resolve(data, goals=goals, catalog=catalog)
    j = J.journey_table(src)
    # only customers who reach the anchor: the window below runs on them alone
    hits = j.filter(j.touchpoint == anchor)
    anchored = hits.group_by("customer_id").agg(_first=hits.pos.min())
    base = j.join(anchored, "customer_id")
    if collapse_repeats:  # back-to-back repeats count once
        base = base.filter(base.prev.isnull() | (base.prev != base.touchpoint))
    w = ibis.window(group_by=base.customer_id, order_by=base.pos)
    new = {}
    for k in range(1, after + 1):
        new[f"next{k}"] = base.touchpoint.lead(k).over(w)
    for k in range(1, before + 1):
        new[f"prev{k}"] = base.touchpoint.lag(k).over(w)
    o = base.mutate(**new)
    a = o.filter(o.touchpoint == anchor)
    if occurrence == "first":
        a = a.filter(a.pos == a._first)
    cols = {}
    for k in range(1, before + 1):
        v, inner = a[f"prev{k}"], (ibis.literal(True) if k == 1 else a[f"prev{k - 1}"].notnull())
        cols[f"p{-k}"] = ibis.cases((v.notnull(), v), (inner, ibis.literal(J.START)), else_=ibis.null("string"))
    cols["p0"] = a.touchpoint
    for k in range(1, after + 1):
        v, inner = a[f"next{k}"], (ibis.literal(True) if k == 1 else a[f"next{k - 1}"].notnull())
        cols[f"p{k}"] = ibis.cases((v.notnull(), v), (inner, ibis.literal(J.END)), else_=ibis.null("string"))
    seqs = a.select(**cols)
    order = [f"p{k}" for k in range(-before, after + 1)]
    parts = []
    for i, (s, t) in enumerate(zip(order[:-1], order[1:])):
        sub = seqs.filter(seqs[s].notnull() & seqs[t].notnull())
        part = sub.group_by([sub[s].name("source"), sub[t].name("target")]).agg(customers=sub.count())
        parts.append(part.mutate(step=ibis.literal(i, type="int64")))
    for i, col in enumerate(order):
        sub = seqs.filter(seqs[col].notnull())
        part = sub.group_by(sub[col].name("source")).agg(customers=sub.count())
        parts.append(part.mutate(target=ibis.null("string"), step=ibis.literal(-1 - i, type="int64")))
    both = J.run(ibis.union(*[p.select("step", "source", "target", "customers") for p in parts], distinct=False))
    grouped = seqs.group_by(order).agg(customers=seqs.count())
    top = J.run(grouped.order_by([ibis.desc("customers"), *order]).limit(top_paths))

    links = both[both.step >= 0].sort_values(["step", "customers", "source", "target"], ascending=[True, False, True, True])
    links = links.reset_index(drop=True)
    positions = both[both.step < 0].rename(columns={"source": "touchpoint"})
    positions = positions.assign(position=-1 - positions["step"] - before)[["position", "touchpoint", "customers"]]
    journeys = int(positions.loc[positions.position == 0, "customers"].sum())
    positions["share"] = positions["customers"] / journeys if journeys else np.nan
    positions = positions.sort_values(["position", "customers", "touchpoint"], ascending=[True, False, True]).reset_index(drop=True)
    top.columns = [f"{int(c[1:]):+d}" if c.startswith("p") and c != "p0" else (anchor if c == "p0" else c) for c in top.columns]
    top["share"] = top["customers"] / journeys if journeys else np.nan
    rankings = {}
    near = [k for k in (-1, 1) if (k < 0 and before) or (k > 0 and after)]
    if n_resamples and journeys and near:
        # per customer: how many anchored journeys, and the touchpoints right before and after
        side = a.select("customer_id", **{f"p{k}": cols[f"p{k}"] for k in near})
        rows = J.run(side.group_by(["customer_id", *[f"p{k}" for k in near]]).agg(n=side.count()))
        long = pd.concat([rows.assign(item="", position=0)[["customer_id", "item", "position", "n"]]]
                         + [rows.assign(item=rows[f"p{k}"], position=k)[["customer_id", "item", "position", "n"]]
                            for k in near], ignore_index=True)
        long["key"] = long["position"].astype(str) + "\x1f" + long["item"].astype(str)
        at = {k: positions[positions.position == k] for k in near}
        keys = ["0\x1f"] + [f"{k}\x1f{tp}" for k in near for tp in at[k].touchpoint]
        _, (counts,) = item_sums(long, keys, n_resamples, seed, item="key", values=("n",), units=log_customers(src))
        with np.errstate(divide="ignore", invalid="ignore"):
            shares = counts[:, 1:] / counts[:, :1]
        first = 0
        for k in near:
            n_k = len(at[k])
            rankings[k] = ranking(shares[:, first:first + n_k], at[k]["share"].to_numpy(float),
                                  at[k]["touchpoint"].tolist(), "share of the journeys", ci_level)
            first += n_k
    return AnchorPaths(anchor, before, after, journeys, positions, top.reset_index(drop=True), links, occurrence,
                       rankings)
