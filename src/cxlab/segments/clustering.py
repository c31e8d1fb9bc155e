"""Behavioral clustering: k-means on transformed, scaled customer features.

1. Features. By default the clusters describe *how* customers behave, not how much or how
   recently (that is what RFM is for, and volume mostly says when a customer arrived): the
   channel mix (share of the customer's events on each channel), the pace (events per active
   day) and the order value (mean revenue per order). Counts and money are log1p-transformed
   (a customer with 100 events is not 50 times as different as one with 2); shares and 0/1
   flags are kept as they are.
2. Scaling. Each column is centred; single columns are divided by their standard deviation;
   a block of shares (``share_channel_*``, ``share_stage_*``) is divided by one pooled
   standard deviation, so a rarely used channel's share keeps its small natural spread instead
   of being blown up to the weight of the main channels (a block of m shares weighs as much as
   m standardised columns in total).
3. Missing values. A customer who never ordered has no order value. That is not evidence of a
   median order value, so the value is left missing: k-means runs as k-POD (Chi, Chi &
   Baraniuk 2016, "k-POD: a method for k-means clustering of missing data") — missing entries
   are filled with the current centre of the customer's cluster and k-means repeated until the
   clusters stop changing — and customers are assigned to the nearest centre over the features
   they have; distances for the silhouette use the features both customers have, scaled up to
   all features (partial distance).
4. The number of clusters k is chosen by two criteria, both shown:
   - *silhouette*: how much closer customers are to their own cluster than to the next one
     (−1…1, higher is better), on a sample of ``silhouette_sample`` customers;
   - *stability*: k-means fitted on ``seeds`` bootstrap samples with different seeds labels
     the same customers; the adjusted Rand index (ARI) between every pair of those labelings,
     its mean and its smallest value (1 = the same clusters every time). A k whose clusters
     change with the sample is not a finding.
   Only stable k count: every pair of refits must agree, smallest ARI ≥ ``min_stability``
   (0.9). Among them, every k whose silhouette is within ``silhouette_tolerance`` (0.05) of
   the best counts as equally well separated, and the largest of those is chosen: more segments
   serve the journey map better, as long as they are reproducible and about as well separated.
   If no k is stable, the k with the highest smallest ARI is chosen.
5. Held-out half. Customers are split at random (seeded by ``random_state``) into a fitting
   half and a testing half (``split_halves``). Everything that learns from the data — the
   scaling, the choice of k, the k-means centres — sees the fitting half only; the testing half
   is assigned with the fitted model like everyone else and kept for the tests of difference
   between segments (``cxlab.segments.heldout``), so those tests do not reuse the customers the
   segments were drawn around. With fewer than ``2 × MIN_CLUSTER_CUSTOMERS`` customers (or a
   fixed k the fitting half cannot hold) nothing is held out and ``heldout`` is empty.
6. The final k-means is fitted on a random sample of at most ``fit_sample`` customers of the
   fitting half (its cost grows with n × k × iterations, and 50,000 customers pin the centres
   down), then every customer is assigned to the nearest centre. Clusters are numbered by
   size, 0 the largest.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from itertools import combinations
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, silhouette_score
from threadpoolctl import threadpool_limits

from ..errors import ParameterError
from .features import FEATURE_DESCRIPTIONS

__all__ = [
    "BlockScaler",
    "ClusterResult",
    "assign",
    "choose_k",
    "single_cluster",
    "MIN_CLUSTER_CUSTOMERS",
    "cluster_customers",
    "clustering_matrix",
    "default_cluster_columns",
    "fit_kmeans",
    "KMeansFit",
    "pick_k",
    "feature_label",
    "partial_distances",
    "split_halves",
    "LOG_COLUMNS",
]

# columns that are counts or money: log1p before scaling
LOG_COLUMNS = {
    "events", "active_days", "sessions", "events_per_active_day", "events_per_session", "channels_used",
    "orders", "order_days", "revenue", "avg_order_value", "monetary_value", "frequency", "support_contacts",
    "tickets", "unresolved_tickets", "surveys", "days_to_convert", "days_since_last_order",
    "days_since_last_event", "tenure_days", "recency", "T",
}
_STYLE_COLUMNS = ["events_per_active_day", "avg_order_value"]
MIN_CLUSTER_CUSTOMERS = 3  # fewer customers with events than this form one segment
BLOCK_PREFIXES = ("share_channel_", "share_stage_")


def default_cluster_columns(features: pd.DataFrame) -> list[str]:
    """The channel mix (``share_channel_*``), the pace (``events_per_active_day``) and the order
    value (``avg_order_value``): see the module doc for why volume, recency and tenure are left
    out. Columns that are the same for everyone are dropped."""
    cols = [c for c in features.columns if c.startswith("share_channel_")]
    cols += [c for c in _STYLE_COLUMNS if c in features.columns]
    return [c for c in cols if features[c].nunique(dropna=True) > 1]


def split_halves(n: int, random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of a fitting half and a testing half of ``n`` customers, drawn at random
    by a permutation from ``numpy.random.default_rng([random_state, 1510])`` (a stream of its
    own, so the halves do not move when other draws change); the fitting half takes the first
    ceil(n / 2). Both are sorted. The same seed gives the same halves."""
    order = np.random.default_rng([random_state, 1510]).permutation(n)
    cut = n - n // 2
    return np.sort(order[:cut]), np.sort(order[cut:])


def clustering_matrix(features: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The features as clustered, before scaling: log1p of counts and money, shares and flags as
    they are; missing values stay missing (see the module doc)."""
    columns = list(columns) if columns is not None else default_cluster_columns(features)
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise ParameterError(f"clustering columns not in the features: {', '.join(missing)}")
    if not columns:
        raise ParameterError("no feature varies between customers; there is nothing to cluster")
    X = features[columns].astype(float)
    for c in columns:
        if c in LOG_COLUMNS:
            X[c] = np.log1p(X[c].clip(lower=0))
        if X[c].isna().all():
            raise ParameterError(f"clustering column '{c}' is missing for every customer")
    return X


def _block_of(column: str) -> str:
    for prefix in BLOCK_PREFIXES:
        if column.startswith(prefix):
            return prefix
    return column


@dataclass
class BlockScaler:
    """Centre every column; divide single columns by their standard deviation and each block of
    shares by the block's pooled standard deviation (root mean variance of its columns).
    Missing values are ignored when fitting and kept missing."""

    columns: list[str]
    mean_: np.ndarray = field(default=None, repr=False)
    scale_: np.ndarray = field(default=None, repr=False)

    def fit(self, X: np.ndarray) -> "BlockScaler":
        X = np.asarray(X, dtype=float)
        self.mean_ = np.nanmean(X, axis=0)
        var = np.nanvar(X, axis=0)
        blocks = [_block_of(c) for c in self.columns]
        scale = np.empty(len(self.columns))
        for b in set(blocks):
            idx = [i for i, x in enumerate(blocks) if x == b]
            scale[idx] = np.sqrt(var[idx].mean())
        self.scale_ = np.where(scale > 0, scale, 1.0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=float) - self.mean_) / self.scale_


# --------------------------------------------------------------------------- k-means with gaps
class _Rows:
    """Rows with gaps, prepared once for repeated nearest-centre searches."""

    def __init__(self, Z: np.ndarray):
        self.Z = np.asarray(Z, dtype=float)
        self.m = ~np.isnan(self.Z)
        self.complete = bool(self.m.all())
        self.zf = self.Z if self.complete else np.where(self.m, self.Z, 0.0)
        self.mf = self.m.astype(float)
        self.zsq = (self.zf**2).sum(axis=1, keepdims=True)

    def distances2(self, centers: np.ndarray, rows=slice(None)) -> np.ndarray:
        d2 = self.zsq[rows] - 2 * self.zf[rows] @ centers.T
        if self.complete:
            return d2 + (centers**2).sum(axis=1)[None, :]
        return d2 + self.mf[rows] @ (centers**2).T

    def assign(self, centers: np.ndarray) -> np.ndarray:
        return self.distances2(centers).argmin(axis=1)


def assign(Z: np.ndarray, centers: np.ndarray, chunk: int = 200_000) -> np.ndarray:
    """The nearest centre of each row over the coordinates the row has (NaN = missing)."""
    out = np.empty(len(Z), dtype=int)
    for start in range(0, len(Z), chunk):
        out[start:start + chunk] = _Rows(Z[start:start + chunk]).assign(centers)
    return out


@dataclass
class KMeansFit:
    """A fitted k-means: ``cluster_centers_`` (k × features), ``labels_`` of the fitted rows and
    ``inertia_`` (sum of squared distances to the centres, over the coordinates each row has)."""

    cluster_centers_: np.ndarray
    labels_: np.ndarray
    inertia_: float
    n_iter_: int = 0

    def predict(self, Z: np.ndarray) -> np.ndarray:
        return assign(Z, self.cluster_centers_)


def fit_kmeans(Z: np.ndarray, k: int, seed: int = 0, n_init: int = 10, max_iter: int = 100) -> KMeansFit:
    """Lloyd's k-means with k-means++ starts, keeping the best of ``n_init`` runs. Missing values
    (NaN) are handled by the partial-distance strategy: a row is assigned to the nearest centre
    over the coordinates it has, and each centre coordinate is the mean of the rows that have it
    (the fixed point k-POD converges to). Without missing values this is plain k-means."""
    from sklearn.cluster import kmeans_plusplus

    rows = _Rows(Z)
    d = rows.Z.shape[1]
    rng = np.random.default_rng(seed)
    best: KMeansFit | None = None
    for _ in range(n_init):
        centers, _ = kmeans_plusplus(rows.zf, n_clusters=k, random_state=int(rng.integers(0, 2**31 - 1)))
        labels = rows.assign(centers)
        it = 0
        for it in range(1, max_iter + 1):
            sizes = np.bincount(labels, minlength=k)
            sums = np.column_stack([np.bincount(labels, weights=rows.zf[:, j], minlength=k) for j in range(d)])
            counts = (np.repeat(sizes[:, None], d, axis=1).astype(float) if rows.complete else
                      np.column_stack([np.bincount(labels, weights=rows.mf[:, j], minlength=k) for j in range(d)]))
            centers = np.where(counts > 0, sums / np.maximum(counts, 1.0), centers)
            if (sizes == 0).any():  # an empty cluster restarts at the rows farthest from their centre
                far = np.argsort(-rows.distances2(centers)[np.arange(len(labels)), labels])
                for j, c in enumerate(np.flatnonzero(sizes == 0)):
                    centers[c] = rows.zf[far[j]]
            new = rows.assign(centers)
            if np.array_equal(new, labels):
                break
            labels = new
        inertia = float(np.clip(rows.distances2(centers)[np.arange(len(labels)), labels], 0, None).sum())
        if best is None or inertia < best.inertia_:
            best = KMeansFit(centers, labels, inertia, it)
    return best


def partial_distances(Z: np.ndarray) -> np.ndarray:
    """Euclidean distances between rows over the coordinates both rows have, scaled up to all
    coordinates (d / d_shared); plain distances when nothing is missing."""
    Z = np.asarray(Z, dtype=np.float32)
    m = ~np.isnan(Z)
    if m.all():
        sq = (Z**2).sum(axis=1)
        out = np.sqrt(np.clip(sq[:, None] + sq[None, :] - 2 * Z @ Z.T, 0, None))
        np.fill_diagonal(out, 0.0)
        return out
    zf = np.where(m, Z, np.float32(0.0))
    mf = m.astype(np.float32)
    # Σ_j m_aj m_bj (z_aj − z_bj)² = (m·z²)ᵀ-terms − 2 (z)(z)ᵀ, with z already zeroed where missing
    z2 = zf**2
    s = z2 @ mf.T + mf @ z2.T - 2 * zf @ zf.T
    shared = mf @ mf.T
    d = Z.shape[1]
    np.clip(s, 0, None, out=s)
    s *= d
    s /= np.maximum(shared, 1)
    out = np.sqrt(s, out=s).astype(float)
    np.fill_diagonal(out, 0.0)
    return out


def _silhouette(Z: np.ndarray, labels: np.ndarray) -> float:
    if len(set(labels)) < 2:
        return np.nan
    return float(silhouette_score(partial_distances(Z), labels, metric="precomputed"))


def choose_k(
    Z: np.ndarray,
    ks: Sequence[int] = range(2, 9),
    seeds: int = 8,
    sample: int = 10_000,
    silhouette_sample: int = 2_500,
    random_state: int = 0,
) -> pd.DataFrame:
    """For each k: silhouette (partial distances, on a sample) and stability (mean and smallest
    pairwise ARI of k-means fitted on ``seeds`` bootstrap samples with different seeds, compared
    on the same customers), plus the within-cluster sum of squares per customer. ``Z`` is the
    scaled feature matrix (NaN where a feature is missing)."""
    rng = np.random.default_rng(random_state)
    n = len(Z)
    ks = sorted({int(k) for k in ks if 2 <= int(k) < n})
    if not ks:
        raise ParameterError(f"no k to try: need 2 ≤ k < number of customers ({n})")
    base = Z[rng.choice(n, size=min(sample, n), replace=False)]
    sil_idx = rng.choice(len(base), size=min(silhouette_sample, len(base)), replace=False)
    boots = [rng.integers(0, len(base), size=len(base)) for _ in range(seeds)]
    rows = []
    for k in ks:
        model = fit_kmeans(base, k, seed=random_state, n_init=4)
        labels = assign(base, model.cluster_centers_)
        sil = _silhouette(base[sil_idx], labels[sil_idx])
        runs = [assign(base, fit_kmeans(base[b], k, seed=random_state + 1 + s, n_init=2).cluster_centers_)
                for s, b in enumerate(boots)]
        aris = [adjusted_rand_score(a, b) for a, b in combinations(runs, 2)]
        rows.append({"k": k, "silhouette": sil, "stability": float(np.mean(aris)) if aris else np.nan,
                     "stability_min": float(np.min(aris)) if aris else np.nan,
                     "inertia_per_customer": float(model.inertia_) / len(base)})
    return pd.DataFrame(rows)


def pick_k(table: pd.DataFrame, min_stability: float = 0.9, silhouette_tolerance: float = 0.05) -> int:
    """The rule of the module doc: the largest stable k (smallest pairwise ARI ≥
    ``min_stability``) whose silhouette is within ``silhouette_tolerance`` of the best stable
    silhouette; if no k is stable, the k whose worst pair of refits agrees most."""
    ok = table[table.stability_min >= min_stability]
    if len(ok):
        best = ok.silhouette.max()
        return int(ok[ok.silhouette >= best - silhouette_tolerance].k.max())
    return int(table.sort_values(["stability_min", "k"], ascending=[False, True]).k.iloc[0])


@dataclass
class ClusterResult:
    """Clusters of customers: ``labels`` (customer_id, cluster) for every customer, the
    k-selection table, the cluster centres as z-scores of the clustered features (``profile``),
    sizes, and ``heldout``: the customer ids of the testing half, never fitted on."""

    labels: pd.DataFrame
    k: int
    selection: pd.DataFrame
    columns: list[str]
    profile: pd.DataFrame  # cluster x feature: mean z-score of the feature in the cluster
    scaler: BlockScaler = field(repr=False)
    model: KMeansFit = field(repr=False)
    min_stability: float = 0.9
    silhouette_tolerance: float = 0.05
    fit_size: int = 0
    chosen_by: str = "silhouette and stability"
    # customer_id of the testing half: assigned, never fitted on (empty: nothing held out)
    heldout: pd.Index = field(default_factory=lambda: pd.Index([], dtype=object), repr=False)

    @property
    def sizes(self) -> pd.Series:
        return self.labels.cluster.value_counts().sort_index()

    def distinctive(self, cluster: int, top: int = 5) -> pd.Series:
        """The features that set a cluster apart most: its z-scores, largest |z| first."""
        z = self.profile.loc[cluster]
        return z.reindex(z.abs().sort_values(ascending=False).index).head(top)

    def assign(self, features: pd.DataFrame) -> np.ndarray:
        """Assign customers (a feature table with the clustered columns) to the fitted clusters."""
        X = clustering_matrix(features, self.columns)
        return assign(self.scaler.transform(X.to_numpy()), self.model.cluster_centers_)

    def summary(self) -> str:
        sizes = ", ".join(f"{s:,}" for s in self.sizes)
        text = f"{self.k} clusters ({self.chosen_by}"
        if self.k in set(self.selection.k):
            row = self.selection.set_index("k").loc[self.k]
            text += (f"; silhouette {row.silhouette:.2f}, stability: mean ARI {row.stability:.2f}, "
                     f"smallest {row.stability_min:.2f} between bootstrap refits")
        text += f"); sizes {sizes}; fitted on {self.fit_size:,} customers"
        if len(self.heldout):
            text += (f" of a random half, the other half ({len(self.heldout):,}) held out for the tests of "
                     "difference")
        return text + f"; {len(self.labels):,} assigned"

    def plot(self, ax=None):
        """Silhouette and stability against k, the chosen k marked."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        t = self.selection
        ax.plot(t.k, t.silhouette, marker="o", label="silhouette (higher = better separated)")
        ax.plot(t.k, t.stability, marker="s", label="stability: mean ARI between bootstrap refits")
        ax.plot(t.k, t.stability_min, marker="s", ls=":", color="C1", alpha=0.7,
                label="stability: smallest ARI between refits")
        ax.axhline(self.min_stability, color="grey", ls=":", lw=1,
                   label=f"smallest ARI needed ({self.min_stability:g})")
        ax.axvline(self.k, color="black", ls="--", lw=1, label=f"chosen k = {self.k}")
        ax.set_xlabel("number of clusters k")
        ax.set_ylabel("score")
        ax.set_ylim(min(0.0, float(np.nanmin(t[["silhouette", "stability"]].to_numpy())) - 0.05), 1.05)
        ax.set_xticks(list(t.k))
        ax.legend(loc="lower left", fontsize=8)
        return ax

    def plot_profile(self, ax=None, names: dict | None = None, top: int = 12):
        """Heatmap of cluster means (z-scores) on the features that differ most between clusters."""
        import matplotlib.pyplot as plt

        prof = self.profile
        keep = prof.abs().max().sort_values(ascending=False).head(top).index
        mat = prof[keep]
        if ax is None:
            _, ax = plt.subplots(figsize=(max(6, 0.7 * len(keep) + 3), 0.55 * len(mat) + 2.2))
        lim = max(1.0, float(np.nanmax(np.abs(mat.to_numpy()))))
        im = ax.imshow(mat.to_numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
        ax.set_yticks(range(len(mat)))
        ax.set_yticklabels([str((names or {}).get(i, f"cluster {i}")) for i in mat.index])
        ax.set_xticks(range(len(keep)))
        ax.set_xticklabels([feature_label(c) for c in keep], rotation=35, ha="right", fontsize=8)
        for (i, j), v in np.ndenumerate(mat.to_numpy()):
            ax.text(j, i, f"{v:+.1f}", ha="center", va="center", fontsize=8,
                    color="white" if abs(v) > 0.6 * lim else "black")
        ax.grid(False)
        ax.figure.colorbar(im, ax=ax, label="cluster mean, z-score")
        return ax


def single_cluster(features: pd.DataFrame, columns: Sequence[str] | None = None,
                   reason: str = "one segment") -> ClusterResult:
    """Every customer in one cluster (0), for a study whose customers cannot be clustered (too
    few of them, or no feature that differs between them): the same result type, k = 1, a
    selection table with no scores, a profile of zeros. ``reason`` becomes ``chosen_by``."""
    cols = [c for c in (columns if columns is not None else default_cluster_columns(features))
            if c in features.columns]
    n = len(features)
    values = clustering_matrix(features, cols).to_numpy() if cols and n else np.zeros((n, len(cols)))
    scaler = BlockScaler(cols)
    with warnings.catch_warnings():  # a column missing for every customer has no mean: centre 0
        warnings.simplefilter("ignore", RuntimeWarning)
        scaler.fit(values if n else np.full((1, len(cols)), np.nan))
    scaler.mean_ = np.nan_to_num(scaler.mean_)
    model = KMeansFit(np.zeros((1, len(cols))), np.zeros(n, dtype=int), 0.0)
    profile = pd.DataFrame(np.zeros((1, len(cols))), columns=cols, index=pd.Index([0], name="cluster"))
    selection = pd.DataFrame({"k": [1], "silhouette": [np.nan], "stability": [np.nan], "stability_min": [np.nan],
                              "inertia_per_customer": [np.nan]})
    return ClusterResult(
        labels=pd.DataFrame({"customer_id": features["customer_id"].astype(str).to_numpy(),
                             "cluster": np.zeros(n, dtype=int)}),
        k=1, selection=selection, columns=cols, profile=profile, scaler=scaler, model=model, fit_size=n,
        chosen_by=reason,
    )


def feature_label(column: str) -> str:
    """A feature's name in words ('share of events on app', 'events per active day (pace)')."""
    for prefix, words in (("share_channel_", "share of events on "), ("share_stage_", "share of events in ")):
        if column.startswith(prefix):
            return words + column[len(prefix):].replace("_", " ")
    return FEATURE_DESCRIPTIONS.get(column, column.replace("_", " "))


def cluster_customers(
    features: pd.DataFrame,
    k: int | None = None,
    columns: Sequence[str] | None = None,
    ks: Sequence[int] = range(2, 9),
    seeds: int = 8,
    min_stability: float = 0.9,
    silhouette_tolerance: float = 0.05,
    fit_sample: int = 50_000,
    selection_sample: int = 10_000,
    random_state: int = 0,
    holdout: bool = True,
) -> ClusterResult:
    """Cluster customers by behaviour (see the module doc). ``k`` fixes the number of clusters
    (the selection table is still computed for ``ks``); ``columns`` chooses features (default:
    ``default_cluster_columns``). ``holdout``: fit on a random half (``split_halves`` with
    ``random_state``) and keep the other half's customer ids in ``heldout`` for the tests of
    difference; False fits on every customer. Leave customers without events out beforehand."""
    if len(features) < MIN_CLUSTER_CUSTOMERS:
        raise ParameterError(f"{len(features)} customers are too few to cluster")
    # the matrices are thin (customers × a few features): one BLAS thread is faster, and does
    # not spin against other processes on a busy machine
    with threadpool_limits(limits=1, user_api="blas"):
        return _cluster(features, k, columns, ks, seeds, min_stability, silhouette_tolerance, fit_sample,
                        selection_sample, random_state, holdout)


def _cluster(features, k, columns, ks, seeds, min_stability, silhouette_tolerance, fit_sample,
             selection_sample, random_state, holdout) -> ClusterResult:
    X = clustering_matrix(features, columns)
    cols = list(X.columns)
    rng = np.random.default_rng(random_state)
    n = len(X)
    fitting, testing = split_halves(n, random_state)
    if not holdout or n < 2 * MIN_CLUSTER_CUSTOMERS or (k is not None and int(k) >= len(fitting)):
        fitting, testing = np.arange(n), np.arange(0)
    fit_idx = np.sort(rng.choice(fitting, size=min(fit_sample, len(fitting)), replace=False))
    values = X.to_numpy()
    scaler = BlockScaler(cols).fit(values[fit_idx])
    Z = scaler.transform(values)
    selection = choose_k(Z[fit_idx], ks=ks, seeds=seeds, sample=selection_sample, random_state=random_state)
    if k is None:
        k = pick_k(selection, min_stability, silhouette_tolerance)
        if (selection.stability_min >= min_stability).any():
            chosen_by = "chosen by silhouette and stability"
        else:
            chosen_by = (f"no number of clusters was stable (smallest ARI between refits ≥ {min_stability:g}), "
                         "so the most stable was taken")
    else:
        if not 2 <= int(k) < n:
            raise ParameterError(f"k = {k} must be between 2 and the number of customers − 1")
        chosen_by = "k fixed by the analyst"
    k = int(k)
    model = fit_kmeans(Z[fit_idx], k, seed=random_state, n_init=10)
    raw = assign(Z, model.cluster_centers_)
    # number clusters by size (0 the largest), ties by the centre's coordinates
    counts = np.bincount(raw, minlength=k)
    order = sorted(range(k), key=lambda c: (-counts[c], tuple(model.cluster_centers_[c])))
    remap = np.empty(k, dtype=int)
    remap[order] = np.arange(k)
    labels = remap[raw]
    model.cluster_centers_ = model.cluster_centers_[order]
    # the profile is in z-scores of each column on its own standard deviation (customers with the
    # feature), so clusters read the same way whatever the block scaling
    mean, sd = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
    zcol = (values - mean) / np.where(sd > 0, sd, 1.0)
    profile = pd.DataFrame(zcol, columns=cols).groupby(labels).mean()
    profile.index.name = "cluster"
    return ClusterResult(
        labels=pd.DataFrame({"customer_id": features["customer_id"].astype(str).to_numpy(), "cluster": labels}),
        k=k, selection=selection, columns=cols, profile=profile, scaler=scaler, model=model,
        min_stability=min_stability, silhouette_tolerance=silhouette_tolerance, fit_size=len(fit_idx),
        chosen_by=chosen_by, heldout=pd.Index(features["customer_id"].astype(str).to_numpy()[testing]),
    )
