"""The segmentation stage in one call: features, demographic bands, RFM, behavioural clusters,
persona cards, the segment × KPI comparison, and customer → segment for later stages.

    >>> from cxlab import segments
    >>> result = segments.analyze("demo")
    >>> print(result.summary())
    >>> result.write()        # segments, personas, customer features and summary_segmentation.json

``segments`` (segments.parquet) has one row per customer of the customers table:
``customer_id``, ``segment`` (the persona name of the customer's behavioural cluster, or "no
recorded activity" for a customer without events — the column later stages break their results
down by), ``cluster`` (−1 without events), ``rfm_segment``, ``r_score``, ``f_score``,
``m_score``. ``personas`` (personas.parquet) has one row per persona card (segment, cluster,
persona, customers, share, revenue_share, description, traits, channels, touchpoints, KPIs,
redacted quotes) and ``features`` (customer_features.parquet) the feature table. Later stages
read them with ``cxlab.stages.read_output(study, "segmentation", key)``.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

import pandas as pd

from .. import data
from ..errors import DataError
from ..journeys import NO_ACTIVITY, name_list, support_touchpoints as support_rule
from ..metrics import in_segment, mark, whole_log
from ..stages import StageResult, not_computed, output_path, read_output, stage_analysis, stage_spec
from ..study import Study
from .clustering import MIN_CLUSTER_CUSTOMERS, ClusterResult, cluster_customers, default_cluster_columns, single_cluster
from .compare import SegmentComparison, compare_segments
from .demographic import demographic_segments
from .features import customer_features
from .heldout import heldout_design, heldout_tests
from .personas import PersonaCard, cards_frame, persona_cards, segment_touchpoints
from .rfm import rfm_scores, rfm_segment_table

__all__ = ["Segmentation", "analyze", "segment_customers", "truth_agreement", "NO_ACTIVITY",
           "SEGMENTS_FILE", "PERSONAS_FILE", "FEATURES_FILE", "read_segments", "names_list"]

# the file names are the registry's (cxlab.stages.STAGES["segmentation"])
SEGMENTS_FILE = stage_spec("segmentation").output("segments").file
FEATURES_FILE = stage_spec("segmentation").output("features").file
PERSONAS_FILE = stage_spec("segmentation").output("personas").file

names_list = name_list  # a list of names from a notebook parameter (the core's parser)


@dataclass
class Segmentation(StageResult):
    """Everything the segmentation stage found (see the module doc); ``agreement`` is
    ``truth_agreement`` for a synthetic study with planted segments (None for a real one)."""

    stage: ClassVar[str] = "segmentation"
    features: pd.DataFrame
    demographics: pd.DataFrame
    rfm: pd.DataFrame
    clusters: ClusterResult
    cards: list[PersonaCard]
    assignments: pd.DataFrame
    comparison: SegmentComparison
    touchpoints: pd.DataFrame | None = None
    agreement: dict | None = None
    skipped: dict[str, str] = field(default_factory=dict)

    def note(self, *parts: str) -> str:
        """The line saying why the first of ``parts`` that was not computed is missing ('' when
        all were): 'clusters', 'demographics', 'rfm', 'revenue'."""
        return next((self.skipped[p] for p in parts if p in self.skipped), "")

    @property
    def has_revenue(self) -> bool:
        """Whether the log records any revenue (revenue shares and the M score need it)."""
        return "revenue" not in self.skipped

    def tables(self) -> dict[str, Any]:
        """What later stages read: customer → segment, the persona cards, the features."""
        segments = self.assignments.copy()
        for c in ("r_score", "f_score", "m_score"):
            segments[c] = segments[c].astype("Int64")
        return {"segments": segments, "personas": cards_frame(self.cards, detail=True), "features": self.features}

    @property
    def names(self) -> dict[int, str]:
        return {c.cluster: c.name for c in self.cards}

    def rfm_table(self) -> pd.DataFrame:
        return rfm_segment_table(self.features, self.rfm)

    def personas(self) -> pd.DataFrame:
        return cards_frame(self.cards)

    def demographic_table(self) -> pd.DataFrame:
        """attribute, band, customers, share of customers, and the mix of behavioural segments
        in the band (the share of the band in each persona's segment)."""
        d = self.demographics.merge(self.assignments[["customer_id", "segment"]], on="customer_id")
        rows = []
        for col in [c for c in self.demographics.columns if c != "customer_id"]:
            counts = d.groupby(col, observed=False).size()
            mix = pd.crosstab(d[col], d["segment"], normalize="index") if len(d) else None
            for bnd, n in counts.items():
                if n == 0:  # an open-ended band nobody falls into ('< 18', '86+')
                    continue
                row = {"attribute": col.replace("_band", "").replace("_tenure", " tenure").replace("_", " "),
                       "band": str(bnd), "customers": int(n), "share": n / max(len(d), 1)}
                if mix is not None and bnd in mix.index:
                    top = mix.loc[bnd].sort_values(ascending=False)
                    row["largest segment"] = f"{top.index[0]} ({top.iloc[0]:.0%})"
                rows.append(row)
        return pd.DataFrame(rows)

    def plot_demographics(self):
        """One bar chart per attribute: the share of customers in each band, split by segment."""
        import matplotlib.pyplot as plt

        cols = [c for c in self.demographics.columns if c != "customer_id"]
        if not cols:
            return None
        d = self.demographics.merge(self.assignments[["customer_id", "segment"]], on="customer_id")
        ncol = min(2, len(cols))
        nrow = -(-len(cols) // ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(11, 3.4 * nrow), squeeze=False)
        for ax, col in zip(axes.flat, cols):
            tab = pd.crosstab(d[col], d["segment"]) / len(d)
            tab.plot.bar(stacked=True, ax=ax, legend=False, width=0.8)
            ax.set_title(col.replace("_", " "))
            ax.set_xlabel("")
            ax.set_ylabel("share of customers")
            ax.tick_params(axis="x", rotation=30)
        for ax in list(axes.flat)[len(cols):]:
            ax.set_visible(False)
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8, frameon=False)
        fig.tight_layout(rect=(0, 0.06, 1, 1))
        return fig

    def plot_rfm_grid(self, ax=None):
        """Buyers on the recency × frequency score grid, each cell named by its RFM segment."""
        import matplotlib.pyplot as plt

        from .rfm import RFM_GRID

        r = self.rfm.dropna(subset=["r_score", "f_score"])
        counts = pd.crosstab(r.r_score.astype(int), r.f_score.astype(int)).reindex(
            index=range(5, 0, -1), columns=range(1, 6), fill_value=0)
        if ax is None:
            _, ax = plt.subplots(figsize=(9, 5))
        im = ax.imshow(counts.to_numpy(), cmap="Blues", aspect="auto")
        for i, rr in enumerate(counts.index):
            for j, ff in enumerate(counts.columns):
                v = counts.loc[rr, ff]
                ax.text(j, i, f"{RFM_GRID[(rr, ff)]}\n{v:,}", ha="center", va="center", fontsize=7,
                        color="white" if v > counts.to_numpy().max() * 0.6 else "black")
        ax.set_xticks(range(5))
        ax.set_xticklabels([str(c) for c in counts.columns])
        ax.set_yticks(range(5))
        ax.set_yticklabels([str(c) for c in counts.index])
        ax.set_xlabel("F score (number of orders, 5 = most)")
        ax.set_ylabel("R score (5 = ordered most recently)")
        ax.grid(False)
        ax.figure.colorbar(im, ax=ax, label="buyers")
        return ax

    def summary(self) -> str:
        return "\n".join([self.clusters.summary()] + [c.summary() for c in self.cards])

    def headlines(self) -> list[str]:
        cards = sorted(self.cards, key=lambda c: -c.customers)
        if self.clusters.k == 1:
            lines = [f"All {len(self.clusters.labels):,} customers with events are one segment, "
                     "not split into behavioural segments."]
        else:
            sel = self.clusters.selection.set_index("k").loc[self.clusters.k]
            lines = [f"{self.clusters.k} behavioural segments: "
                     + "; ".join(f"{c.name} {c.share:.0%}" for c in cards) + "."]
            how = (f"silhouette {sel.silhouette:.2f}, stability {sel.stability:.2f} (mean ARI between bootstrap "
                   f"refits, smallest {sel.stability_min:.2f})")
            if self.clusters.chosen_by.startswith("no number"):
                lines.append(f"Read these segments with caution: {self.clusters.chosen_by}; {how}.")
            else:
                lines.append(f"The number of segments was {self.clusters.chosen_by.replace('k fixed', 'fixed')}: {how}.")
        if self.has_revenue:
            top = max(self.cards, key=lambda c: c.revenue_share - c.share)
            if top.revenue_share > top.share:
                lines.append(f"{top.name} are {top.share:.0%} of customers and bring {top.revenue_share:.0%} of revenue.")
        conv = self.comparison.by_segment[self.comparison.by_segment.kpi == "conversion"]
        conv = conv[conv.segment != NO_ACTIVITY]
        if len(conv) >= 2 and conv.estimate.max() - conv.estimate.min() >= 0.01:
            lo, hi = conv.loc[conv.estimate.idxmin()], conv.loc[conv.estimate.idxmax()]
            whole = whole_log(self.study)  # marked with the segment and period (cxlab.metrics)
            low, high = (mark("bought_any_time", r.estimate, population=in_segment("bought_any_time", r.segment),
                              period=whole) for r in (lo, hi))
            ci = {k: f"95% interval {r.ci_low:.1%}–{r.ci_high:.1%}" for k, r in (("lo", lo), ("hi", hi))}
            apart = ("the intervals do not overlap" if lo.ci_high < hi.ci_low
                     else "their intervals overlap: the two cannot be told apart")
            lines.append(f"Bought at any time ranges from {low} ({lo.segment}; {ci['lo']}) to {high} "
                         f"({hi.segment}; {ci['hi']}) over the whole log ({whole.words}); {apart}.")
        rfm = self.rfm_table().set_index("rfm_segment")
        buyers = rfm.drop(index="no purchase yet", errors="ignore")
        if len(buyers) and "champions" in buyers.index and self.has_revenue:
            ch = buyers.loc["champions"]
            lines.append(f"RFM champions are {ch.customers / buyers.customers.sum():.0%} of buyers and bring "
                         f"{ch.revenue_share:.0%} of revenue.")
        return lines

    def metrics(self) -> dict:
        """Numbers later runs compare against; a score that was not computed (one segment: no
        silhouette; no revenue: no revenue shares) is left out."""
        sel = self.clusters.selection.set_index("k").loc[self.clusters.k]
        out = {
            "customers": int(len(self.features)),
            "clustered_customers": int(len(self.clusters.labels)),
            "k": int(self.clusters.k),
            "silhouette": float(sel.silhouette),
            "stability_mean_ari": float(sel.stability),
            "stability_min_ari": float(sel.stability_min),
        }
        for c in self.cards:
            out[f"share: {c.name}"] = float(c.share)
            out[f"revenue share: {c.name}"] = float(c.revenue_share)
        return {k: v for k, v in out.items() if not (isinstance(v, float) and math.isnan(v))}


def segment_customers(
    study: Study | str | os.PathLike,
    k: int | None = None,
    columns: Sequence[str] | None = None,
    ks: Sequence[int] = range(2, 9),
    unit: str = "day",
    observation_end=None,
    sentiment: bool = False,
    fit_sample: int = 50_000,
    random_state: int = 0,
    bins: dict | None = None,
    quantiles: int = 4,
    n_quotes: int = 3,
    means_test: str = "kruskal",
    support_touchpoints=None,
) -> Segmentation:
    """Run the whole stage: ``customer_features`` (one engine query), ``demographic_segments``,
    ``rfm_scores``, ``cluster_customers`` on customers with events (``k``/``columns``/``ks``
    as there; fitted on a random half chosen with ``random_state``, every customer assigned),
    ``persona_cards``, and the segment × KPI comparison: ``compare_segments`` describes every
    KPI per persona segment on all customers, ``heldout_tests`` tests the differences on the
    held-out half only (``cxlab.segments.heldout`` says why and how).
    ``sentiment``: also score survey comments (VADER, ``cxlab.sentiment``) into the features;
    ``support_touchpoints``: the touchpoints that count as support contacts (a list or 'a, b';
    default: the core's support rule, ``cxlab.journeys.support_touchpoints``). ``analyze`` is
    the stage's entry; this is the computation behind it, with every knob."""
    study = data.ensure_clean(study)
    features = customer_features(study, observation_end=observation_end, unit=unit, sentiment=sentiment or None,
                                 support_touchpoints=support_touchpoints)
    active = features[features["events"] > 0].reset_index(drop=True)
    if active.empty:
        raise DataError([f"Study '{study.name}' has no customer with events: there is nobody to segment."])
    skipped: dict[str, str] = {}
    demographics = demographic_segments(study, bins=bins, quantiles=quantiles,
                                        as_of=features.attrs.get("observation_end"))
    if len(demographics.columns) <= 1:
        skipped["demographics"] = not_computed(
            "bands of customer attributes", "customer attributes (a customers table with columns such as age or "
            "region, named under customer_attributes in study.yaml)")
    rfm = rfm_scores(features)
    if not (features["orders"] > 0).any():
        skipped["rfm"] = not_computed("RFM scores", "orders: customers who reached a goal touchpoint")
    if not (features["revenue"] > 0).any():
        skipped["revenue"] = not_computed("revenue shares and the monetary (M) score",
                                          "revenue in the event log")
    columns = names_list(columns)
    varying = columns or default_cluster_columns(active)
    if len(active) < MIN_CLUSTER_CUSTOMERS:
        skipped["clusters"] = not_computed(
            "behavioural segments", f"at least {MIN_CLUSTER_CUSTOMERS} customers with events (the study has "
            f"{len(active)}); every customer is in one segment")
    elif not varying:
        skipped["clusters"] = not_computed(
            "behavioural segments", "customers who differ in channel mix, pace or order value (every customer "
            "has the same); every customer is in one segment")
    elif k is not None and k >= len(active):
        skipped["clusters"] = not_computed(
            f"{k} behavioural segments", f"more than {k} customers with events (the study has {len(active)}); "
            "every customer is in one segment")
    if "clusters" in skipped:
        clusters = single_cluster(active, columns or None, reason="every customer in one segment")
    else:
        clusters = cluster_customers(active, k=k, columns=columns, ks=ks, fit_sample=fit_sample,
                                     random_state=random_state)
    touchpoints = segment_touchpoints(study, clusters.labels, segment="cluster")
    cards = persona_cards(active, clusters, study=study, touchpoints=touchpoints, n_quotes=n_quotes)
    names = {c.cluster: c.name for c in cards}
    assignments = features[["customer_id"]].merge(clusters.labels, on="customer_id", how="left")
    assignments["cluster"] = assignments["cluster"].fillna(-1).astype("int64")
    assignments["segment"] = assignments["cluster"].map(names).fillna(NO_ACTIVITY).astype(str)
    assignments = assignments.merge(rfm[["customer_id", "rfm_segment", "r_score", "f_score", "m_score"]],
                                    on="customer_id", how="left")
    assignments["rfm_segment"] = assignments["rfm_segment"].astype(str)
    assignments = assignments[["customer_id", "segment", "cluster", "rfm_segment", "r_score", "f_score", "m_score"]]
    # described on every customer; tested on the customers held out of the fit (cxlab.segments.heldout)
    comparison = compare_segments(features, assignments[["customer_id", "segment"]], means_test=means_test,
                                  tests=False)
    comparison.tests = heldout_tests(active, clusters, kpis=comparison.kpis, means_test=means_test)
    comparison.design = heldout_design(clusters)
    if clusters.k > 1 and not len(clusters.heldout):
        skipped["segment tests"] = not_computed(
            "tests of differences between segments",
            f"at least {2 * MIN_CLUSTER_CUSTOMERS} customers with events and more than k in half of them, to fit "
            f"the segments on one half and test them on the other (the study has {len(active)})")
    touchpoints = touchpoints.assign(segment=touchpoints["cluster"].astype(int).map(names))
    return Segmentation(study=study, features=features, demographics=demographics, rfm=rfm, clusters=clusters,
                        cards=cards, assignments=assignments, comparison=comparison, touchpoints=touchpoints,
                        skipped=skipped, notes=list(skipped.values()))


@stage_analysis("segmentation")
def analyze(
    study: Study | str | os.PathLike,
    *,
    k: int = 0,
    max_k: int = 8,
    cluster_features: str | Sequence[str] = "",
    support_touchpoints: str | Sequence[str] = "",
    sentiment: bool = True,
    fit_sample: int = 50_000,
    quantiles: int = 4,
    random_state: int = 0,
) -> Segmentation:
    """The segmentation stage (``segment_customers``) with the notebook's parameters.

    ``k``: the number of behavioural segments, 0 to choose it (2 … ``max_k``) by silhouette and
    stability; ``cluster_features``: the feature columns to cluster on (a list or "a, b"; empty:
    channel mix, pace and order value); ``support_touchpoints``: the touchpoints that count as
    a support contact (a list or "a, b"; empty: the study's ``parameters.segmentation.
    support_touchpoints``, else the core's support rule — the resolved list is recorded);
    ``sentiment``: score survey comments into the features; ``fit_sample``: customers the
    clustering is fitted on (at most; drawn from the fitting half); ``quantiles``: bands for
    amounts without edges in study.yaml; ``random_state``: the seed of the split into a fitting
    and a testing half, of the samples and of the k-means starts. ``result.write()`` writes
    segments, personas and features."""
    named = name_list(support_touchpoints) or study.stage_parameters("segmentation").get("support_touchpoints")
    support = support_rule(study, named)
    result = segment_customers(study, k=k or None, columns=cluster_features, ks=range(2, max_k + 1),
                               sentiment=sentiment, fit_sample=fit_sample, quantiles=quantiles,
                               random_state=random_state, support_touchpoints=support)
    result.agreement = truth_agreement(result)
    result.parameters = {"support_touchpoints": support}
    return result


def read_segments(study: Study | str | os.PathLike) -> pd.DataFrame:
    """customer_id → segment (and cluster, rfm_segment, scores) as the segmentation stage wrote it."""
    study = Study.load(study)
    segments = read_output(study, "segmentation", "segments")
    if segments is None:
        raise DataError([f"{output_path(study, 'segmentation', 'segments')} does not exist: run the segmentation "
                         f"stage first (cxlab run {study.name} --stages segmentation)."])
    return segments


def truth_agreement(seg: Segmentation, truth_file: str = "truth_segments.parquet") -> dict | None:
    """For a synthetic study with planted segments (``truth_segments.parquet`` in the study
    folder): the adjusted Rand index between the clusters and the planted segments, and their
    cross-table. None for a real study."""
    from sklearn.metrics import adjusted_rand_score

    path = seg.study.root / truth_file
    if not path.exists():
        return None
    truth = pd.read_parquet(path)
    truth["customer_id"] = truth["customer_id"].astype(str)
    col = "segment" if "segment" in truth.columns else [c for c in truth.columns if c != "customer_id"][0]
    merged = seg.clusters.labels.merge(truth.rename(columns={col: "planted"}), on="customer_id")
    merged["persona"] = merged["cluster"].map(seg.names)
    return {
        "ari": float(adjusted_rand_score(merged["planted"], merged["cluster"])),
        "customers": int(len(merged)),
        "table": pd.crosstab(merged["planted"], merged["persona"]),
    }
