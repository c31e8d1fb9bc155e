"""Persona cards: each behavioural cluster described in words.

A card says who the segment is from what sets it apart most — the cluster's mean z-scores on the
clustered features — and what it is worth: its size and share of customers, its share of
revenue, the touchpoints and channels it uses most (with an index against all customers:
1.5 = used 1.5 times as much), its KPIs, and two or three things its customers wrote. The
quotes come from the customers nearest the centre of the cluster (its most typical members);
emails and phone numbers are redacted (``cxlab.privacy.redact``) and the HTML escapes them.

The name is made from the dominant channel (a channel with at least half of the segment's
events: "App-first"; none: "Multichannel") and the most distinctive other feature ("fast-paced",
"big-basket" …). Rename personas freely: the name is a label, the card is the finding.
"""
from __future__ import annotations

import html
import math
import os
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd

from .. import engine
from ..metrics import Period, figures_html, figures_plain, in_segment, mark, whole_log
from ..privacy import redact
from ..study import Study
from ..units import fmt_money
from .clustering import ClusterResult, clustering_matrix, feature_label

__all__ = ["PersonaCard", "persona_cards", "segment_touchpoints", "nearest_to_centre", "cards_frame", "show_cards"]

# feature -> (word when high, word when low) for names and traits
_WORDS = {
    "events_per_active_day": ("fast-paced", "unhurried"),
    "events_per_session": ("deep sessions", "short sessions"),
    "avg_order_value": ("big-basket", "small-basket"),
    "monetary_value": ("big-basket", "small-basket"),
    "revenue": ("high-value", "low-value"),
    "orders": ("frequent buyers", "rare buyers"),
    "events": ("highly engaged", "light-touch"),
    "active_days": ("often active", "seldom active"),
    "sessions": ("many sessions", "few sessions"),
    "channels_used": ("omnichannel", "single-channel"),
    "reached_goal": ("converters", "rarely convert"),
    "support_contacts": ("support-heavy", "self-sufficient"),
    "tickets": ("ticket-prone", "trouble-free"),
}
_MONEY = {"revenue", "avg_order_value", "monetary_value"}
_SHARE_PREFIXES = ("share_channel_", "share_stage_")


def _channel_word(name: str) -> str:
    return name.replace("_", " ").capitalize() if name != "call_centre" else "Call-centre"


@dataclass
class PersonaCard:
    """One segment in words: see the module doc. ``quotes`` are redacted, not yet escaped;
    ``to_html`` escapes everything."""

    cluster: int
    name: str
    customers: int
    share: float
    revenue_share: float
    description: str
    traits: list[str] = field(default_factory=list)
    top_touchpoints: list[dict] = field(default_factory=list)  # label, share, index
    top_channels: list[dict] = field(default_factory=list)     # channel, share, index
    kpis: dict = field(default_factory=dict)                   # title -> formatted value
    quotes: list[str] = field(default_factory=list)

    def _revenue(self) -> str:
        """', 12% of revenue' (nothing when the log records no revenue)."""
        return "" if math.isnan(self.revenue_share) else f", {self.revenue_share:.0%} of revenue"

    def summary(self) -> str:
        return (f"{self.name} (cluster {self.cluster}): {self.customers:,} customers "
                f"({self.share:.0%}){self._revenue()}. {self.description}")

    def to_html(self) -> str:
        e = lambda x: html.escape(str(x), quote=True)
        tps = ", ".join(f"{e(t['label'])} ({t['share']:.0%} of events, index {t['index']:.1f})"
                        for t in self.top_touchpoints)
        chs = ", ".join(f"{e(c['channel'])} {c['share']:.0%}" for c in self.top_channels)
        kpis = "".join(f"<li>{e(k)}: {figures_html(v)}</li>" for k, v in self.kpis.items())
        traits = "".join(f"<li>{e(t)}</li>" for t in self.traits)
        quotes = "".join(f"<blockquote>“{e(redact(q))}”</blockquote>" for q in self.quotes) or \
            "<p><em>No comments from this segment's typical customers.</em></p>"
        return (
            '<div class="cx-persona" style="border:1px solid #ccd;border-radius:6px;padding:10px 14px;'
            'margin:10px 0;">'
            f"<h3 style='margin-top:0'>{e(self.name)}</h3>"
            f"<p><strong>{self.customers:,} customers ({self.share:.0%})</strong>"
            f"{self._revenue()}. {figures_html(self.description)}</p>"
            f"<p><strong>What sets them apart</strong></p><ul>{traits}</ul>"
            f"<p><strong>Channels</strong>: {chs}<br><strong>Top touchpoints</strong>: {tps}</p>"
            f"<p><strong>KPIs</strong></p><ul>{kpis}</ul>"
            f"<p><strong>In their words</strong></p>{quotes}</div>"
        )


def segment_touchpoints(study: Study | str | os.PathLike, assignments: pd.DataFrame,
                        segment: str = "segment") -> pd.DataFrame:
    """Events and customers per segment and touchpoint (with its channel and stage), counted in
    the engine: the assignments (customer_id → segment) are joined to the event log there."""
    study = Study.load(study)
    ev = engine.events(study)
    seg = assignments[["customer_id", segment]].astype({"customer_id": str, segment: str})
    seg = seg.rename(columns={segment: "_segment"})
    j = ev.inner_join(ibis.memtable(seg), "customer_id")
    out = engine.to_pandas(
        j.group_by(["_segment", "touchpoint", "channel", "stage"]).aggregate(
            events=j.count(), customers=j.customer_id.nunique())
    )
    # touchpoint breaks ties so the order is the same on every engine
    return (out.rename(columns={"_segment": segment})
            .sort_values([segment, "events", "touchpoint"], ascending=[True, False, True], kind="stable")
            .reset_index(drop=True))


def nearest_to_centre(clusters: ClusterResult, features: pd.DataFrame, per_cluster: int = 200) -> pd.DataFrame:
    """customer_id, cluster, distance: the ``per_cluster`` customers nearest their cluster's
    centre (over the features they have), nearest first — a cluster's most typical members."""
    labels = clusters.labels.set_index("customer_id").loc[features.customer_id.astype(str), "cluster"].to_numpy()
    if clusters.columns:
        Z = clusters.scaler.transform(clustering_matrix(features, clusters.columns).to_numpy())
        d = np.sqrt(np.nansum((Z - clusters.model.cluster_centers_[labels]) ** 2, axis=1))
    else:  # one segment of customers who do not differ: all equally typical
        d = np.zeros(len(labels))
    frame = pd.DataFrame({"customer_id": features.customer_id.astype(str).to_numpy(), "cluster": labels, "distance": d})
    return frame.sort_values(["cluster", "distance"]).groupby("cluster").head(per_cluster).reset_index(drop=True)


def _quotes(study: Study, typical: pd.DataFrame, k: int, max_chars: int = 220) -> dict[int, list[str]]:
    if "surveys" not in study.tables:
        return {}
    sv = engine.table(study, "surveys")
    if "comment" not in sv.columns:
        return {}
    ids = typical.customer_id.astype(str).tolist()
    sv = sv.filter(sv.customer_id.isin(ids) & sv.comment.notnull())
    comments = engine.to_pandas(sv.select("customer_id", "comment", "timestamp"))
    if comments.empty:
        return {}
    comments["customer_id"] = comments["customer_id"].astype(str)
    comments["comment"] = comments["comment"].astype(str).str.strip()
    comments = comments[comments.comment.str.len() > 0]
    merged = typical.merge(comments, on="customer_id").sort_values(["cluster", "distance", "timestamp"])
    out: dict[int, list[str]] = {}
    for cl, grp in merged.groupby("cluster"):
        longer = grp[grp.comment.str.len() >= 25]
        if len(longer.customer_id.unique()) >= k:
            grp = longer
        picked, seen_c, seen_t = [], set(), set()
        for row in grp.itertuples():
            key = row.comment.lower()
            if row.customer_id in seen_c or key in seen_t:
                continue
            text = redact(row.comment)
            if len(text) > max_chars:
                text = text[: max_chars - 1].rstrip() + "…"
            picked.append(text)
            seen_c.add(row.customer_id)
            seen_t.add(key)
            if len(picked) == k:
                break
        out[int(cl)] = picked
    return out


def _fmt_value(col: str, v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if col.startswith(_SHARE_PREFIXES) or col == "reached_goal":
        return f"{v:.0%}"
    if col in _MONEY:
        return fmt_money(v)
    return f"{v:,.1f}"


def _trait(col: str, z: float, seg_value: float, all_value: float) -> str:
    where = "higher" if z > 0 else "lower"
    stat = "mean" if col.startswith(_SHARE_PREFIXES) or col == "reached_goal" else "median"
    return (f"{feature_label(col)}: {stat} {_fmt_value(col, seg_value)} vs {_fmt_value(col, all_value)} "
            f"for all customers ({abs(z):.1f} sd {where})")


def _typical(features: pd.DataFrame, col: str, mask=None) -> float:
    x = features[col] if mask is None else features.loc[mask, col]
    x = x.astype(float).dropna()
    if x.empty:
        return math.nan
    return float(x.mean() if col.startswith(_SHARE_PREFIXES) or col == "reached_goal" else x.median())


def _name(clusters: ClusterResult, cluster: int, features: pd.DataFrame, mask) -> tuple[str, list[str]]:
    """A name from the dominant channel and the most distinctive non-channel feature; also the
    candidate words in order (to make names unique)."""
    channel_cols = [c for c in features.columns if c.startswith("share_channel_")]
    words = []
    if channel_cols:
        means = features.loc[mask, channel_cols].mean()
        top = means.idxmax()
        words.append(f"{_channel_word(top[len('share_channel_'):])}-first" if means[top] >= 0.5 else "Multichannel")
    z = clusters.profile.loc[cluster]
    for col in z.abs().sort_values(ascending=False).index:
        if col in _WORDS and abs(z[col]) >= 0.3:
            words.append(_WORDS[col][0 if z[col] > 0 else 1])
    if len(words) < 2:
        words.append(f"segment {cluster + 1}")
    return ", ".join(words[:2]), words


def persona_cards(
    features: pd.DataFrame,
    clusters: ClusterResult,
    study: Study | str | os.PathLike | None = None,
    touchpoints: pd.DataFrame | None = None,
    n_traits: int = 4,
    n_quotes: int = 3,
) -> list[PersonaCard]:
    """A card per cluster (see the module doc). ``features``: the customers that were clustered
    (same rows as ``clusters.labels``); ``study``: for touchpoints (counted in the engine unless
    ``touchpoints`` from ``segment_touchpoints`` with a ``cluster`` column is given) and quotes."""
    study = Study.load(study) if study is not None else None
    f = features.reset_index(drop=True)
    labels = clusters.labels.set_index("customer_id").loc[f.customer_id.astype(str), "cluster"].to_numpy()
    if touchpoints is None and study is not None:
        touchpoints = segment_touchpoints(study, clusters.labels, segment="cluster")
    quotes = {}
    if study is not None and n_quotes > 0:
        quotes = _quotes(study, nearest_to_centre(clusters, f, per_cluster=200), n_quotes)
    label_of = dict(zip(study.catalog.touchpoint, study.catalog.label)) if study is not None else {}
    total_rev = float(f["revenue"].sum()) if "revenue" in f else 0.0
    period = whole_log(study) if study is not None else Period(None, None)  # the cards' KPIs: the whole log
    cards, used = [], set()
    for cl in sorted(set(labels)):
        mask = labels == cl
        name, words = ("All customers", []) if clusters.k == 1 else _name(clusters, cl, f, mask)
        i = 2
        while name in used:
            name = ", ".join(words[:1] + words[i:i + 1]) if i < len(words) else f"{name} ({cl + 1})"
            i += 1
        used.add(name)
        z = clusters.distinctive(cl, top=n_traits) if clusters.k > 1 else pd.Series(dtype=float)
        traits = [_trait(c, z[c], _typical(f, c, mask), _typical(f, c)) for c in z.index]
        tps, chs = [], []
        if touchpoints is not None and len(touchpoints):
            tp = touchpoints.copy()
            tp["cluster"] = tp["cluster"].astype(int)
            all_tp = tp.groupby("touchpoint").events.sum()
            all_share = all_tp / all_tp.sum()
            mine = tp[tp.cluster == cl].groupby("touchpoint").events.sum()
            if mine.sum() > 0:
                share = (mine / mine.sum()).sort_values(ascending=False)
                tps = [{"label": label_of.get(t, t), "share": float(s), "index": float(s / all_share[t])}
                       for t, s in share.head(3).items()]
            all_ch = tp.groupby("channel").events.sum()
            mine_ch = tp[tp.cluster == cl].groupby("channel").events.sum()
            if mine_ch.sum() > 0:
                sh = (mine_ch / mine_ch.sum()).sort_values(ascending=False)
                chs = [{"channel": str(c), "share": float(s), "index": float(s / (all_ch[c] / all_ch.sum()))}
                       for c, s in sh.head(3).items()]
        elif (channel_cols := [c for c in f.columns if c.startswith("share_channel_")]):
            means = f.loc[mask, channel_cols].mean().sort_values(ascending=False)
            chs = [{"channel": c[len("share_channel_"):], "share": float(v), "index": float(v / f[c].mean())}
                   for c, v in means.head(3).items()]
        kpis = _kpis(f, mask, name, period)
        rev_share = float(f.loc[mask, "revenue"].sum() / total_rev) if total_rev else math.nan
        top_traits = [feature_label(c) + (" high" if z[c] > 0 else " low") for c in z.index[:2]]
        description = (f"Most distinctive: {', '.join(top_traits)}. " if top_traits else "Every customer. ") + \
            f"{kpis.get('Bought at any time', '–')} bought at some time in the log."
        cards.append(PersonaCard(
            cluster=int(cl), name=name, customers=int(mask.sum()), share=float(mask.mean()),
            revenue_share=rev_share, description=description, traits=traits, top_touchpoints=tps,
            top_channels=chs, kpis=kpis, quotes=quotes.get(int(cl), []),
        ))
    return cards


def _kpis(f: pd.DataFrame, mask, segment: str = "", period: Period = Period(None, None)) -> dict:
    """The card's KPIs, named and marked as the metric dictionary names them (``cxlab.metrics``):
    each counts the segment's customers over the whole log."""
    g = f.loc[mask]
    out = {}

    def marked(metric_id: str, value) -> str:
        return mark(metric_id, value, population=in_segment(metric_id, segment), period=period)

    if "reached_goal" in g:
        out["Bought at any time"] = marked("bought_any_time", g.reached_goal.mean())
    if "revenue" in g:
        out["revenue per customer"] = fmt_money(g.revenue.mean())
    if "orders" in g:
        out["orders per customer"] = f"{g.orders.mean():.2f}"
    if "avg_order_value" in g and g.avg_order_value.notna().any():
        out["median order value (buyers)"] = fmt_money(g.avg_order_value.median())
    if "nps_class" in g and g.nps_class.notna().any():
        cls = g.nps_class.dropna().astype(str)
        nps = 100 * ((cls == "promoter").mean() - (cls == "detractor").mean())
        out["NPS (latest answer per customer)"] = f"{marked('nps_latest_answer', nps)} (n = {len(cls):,})"
    if "csat_mean" in g and g.csat_mean.notna().any():
        out["CSAT (mean per respondent)"] = (f"{marked('csat_per_respondent', g.csat_mean.mean())} "
                                             f"(n = {int(g.csat_mean.notna().sum()):,})")
    if "support_contacts" in g:
        out["support contacts per customer"] = f"{g.support_contacts.mean():.2f}"
    return out


def cards_frame(cards: list[PersonaCard], detail: bool = False) -> pd.DataFrame:
    """The cards as a table: persona, cluster, customers, share, revenue share, description; with
    ``detail`` also traits, channels, touchpoints, KPIs and quotes as text (redacted)."""
    rows = []
    for c in cards:
        row = {"persona": c.name, "cluster": c.cluster, "customers": c.customers, "share": c.share,
               "revenue_share": c.revenue_share, "description": figures_plain(c.description)}
        if detail:
            row.update({
                "segment": c.name,
                "traits": "\n".join(c.traits),
                "top_channels": ", ".join(f"{x['channel']} {x['share']:.0%}" for x in c.top_channels),
                "top_touchpoints": ", ".join(f"{x['label']} {x['share']:.0%}" for x in c.top_touchpoints),
                "kpis": "\n".join(f"{k}: {figures_plain(v)}" for k, v in c.kpis.items()),
                "quotes": "\n".join(redact(q) for q in c.quotes),
            })
        rows.append(row)
    return pd.DataFrame(rows)


def show_cards(cards: list[PersonaCard]) -> None:
    """Display the persona cards in a notebook (every text escaped, quotes redacted)."""
    from IPython.display import HTML, display

    grid = ('<div style="display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));'
            'column-gap:14px;">')
    display(HTML(grid + "".join(c.to_html() for c in cards) + "</div>"))
