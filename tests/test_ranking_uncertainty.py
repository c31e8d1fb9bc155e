"""How firm the touchpoint stage's rankings are: the customer-level bootstrap of the drop-off,
the weakest funnel step, the path variants, the three attribution models (the Markov chain
refitted on every resample), the most frequent transitions and the steps around the anchor —
against an independent bootstrap written here with pandas (the same resample indices, every
number recomputed from the planted paths on the duplicated customers, the Markov chain with the
exact solver ``removal_effects``), and planted truths: items equal by construction cannot be told
apart, a dominant item ranks 1st in at least 95% of resamples.

Two planted logs (catalog of tests/conftest.py; each customer walks one fixed path, an hour per
step; buy is the goal):

DOMINANT  (580 customers)                         TIED  (500 customers)
  200  ad > view > cart > buy                       150  view > buy
   60  ad > view > call        (ends at call)       150  cart > buy
   60  ad > view > review      (ends at review)     100  view          (ends at view)
   60  view > call > buy                            100  cart          (ends at cart)
   60  view > review > buy
   40  ad > cart > buy                            view and cart are mirror images: equal
   80  ad > view > cart > pay_error (ends)        drop-off (40%), first and last touch,
   20  ad > cart > pay_error > buy                Markov removal effect (1/2) and paths.

In DOMINANT the payment error ends 80 of the 100 journeys reaching it (80%; call and review: 50%),
ad starts 260 of the 380 purchases, cart comes right before 240 of them, and "ad > view > cart"
(280 customers) is the most common path; the next four paths have 60 customers each. Its stage
funnel (no window): 460 customers touch ad, 400 of them view after it, 280 then reach the purchase
stage (cart), and none go on to service after that.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import log
from cxlab import journeys as J
from cxlab import touchpoints as tp
from cxlab.notebook import table_html
from cxlab.stats.ranking import check_resamples, firm_order, ranking
from cxlab.touchpoints.attribution import removal_effects_batch
from cxlab.touchpoints.ranking import dropoff_rankings

GOAL = "buy"
STAGE_OF = {"ad": 1, "view": 2, "cart": 3, "pay_error": 3, "buy": 3, "call": 4, "review": 5}
DOMINANT = {
    "a": (200, ["ad", "view", "cart", "buy"]),
    "b": (60, ["ad", "view", "call"]),
    "c": (60, ["ad", "view", "review"]),
    "d": (60, ["view", "call", "buy"]),
    "e": (60, ["view", "review", "buy"]),
    "f": (40, ["ad", "cart", "buy"]),
    "g": (80, ["ad", "view", "cart", "pay_error"]),
    "h": (20, ["ad", "cart", "pay_error", "buy"]),
}
TIED = {
    "p": (150, ["view", "buy"]),
    "q": (150, ["cart", "buy"]),
    "r": (100, ["view"]),
    "s": (100, ["cart"]),
}
B = 100  # resamples of the comparison with the independent bootstrap
SEED = 7


def planted_paths(groups: dict) -> dict[str, list[str]]:
    """customer_id -> path, customers named <group><number>."""
    return {f"{g}{i:03d}": list(path) for g, (n, path) in groups.items() for i in range(n)}


def planted_log(groups: dict) -> pd.DataFrame:
    rows, start = [], pd.Timestamp("2025-01-01 08:00")
    for k, (cid, path) in enumerate(planted_paths(groups).items()):
        t0 = start + pd.Timedelta(minutes=k)
        rows += [(cid, (t0 + pd.Timedelta(hours=h)).strftime("%Y-%m-%d %H:%M"), touch) for h, touch in enumerate(path)]
    return log(*rows)


@pytest.fixture
def dominant(make_study):
    return make_study(name="dominant", events=planted_log(DOMINANT))


@pytest.fixture
def tied(make_study):
    return make_study(name="tied", events=planted_log(TIED))


# ----------------------------------------------------------------------------- the independent bootstrap
def resamples(customers: list[str], n: int = B, seed: int = SEED) -> list[list[str]]:
    """The documented draws: customers sorted as text, indices default_rng(seed).integers(0, N, (n, N))."""
    ids = sorted(customers)
    idx = np.random.default_rng(seed).integers(0, len(ids), size=(n, len(ids)))
    return [[ids[i] for i in row] for row in idx]


def summary_by_hand(draws: np.ndarray, missing_last: bool = False) -> dict[str, np.ndarray]:
    """Percentile interval, share ranked 1st and rank interval, computed here: an item's rank is
    1 + the items strictly larger in that resample."""
    lo, hi = np.nanpercentile(draws, 2.5, axis=0), np.nanpercentile(draws, 97.5, axis=0)
    d = np.where(np.isnan(draws), -np.inf, draws) if missing_last else draws[~np.isnan(draws).any(axis=1)]
    ranks = np.array([[1 + (row > v).sum() for v in row] for row in d])
    return {"ci_low": lo, "ci_high": hi, "ranked_first": (ranks == 1).mean(axis=0),
            "rank_low": np.sort(ranks, axis=0)[int(np.floor(0.025 * (len(d) - 1)))],
            "rank_high": np.sort(ranks, axis=0)[int(np.ceil(0.975 * (len(d) - 1)))]}


def assert_matches(r, items: list[str], draws: np.ndarray, missing_last: bool = False) -> None:
    """The Ranking ``r`` holds, for ``items``, what ``draws`` (resamples × items, by hand) give."""
    want = summary_by_hand(draws, missing_last)
    got = r.table.set_index("item").loc[items]
    for col, values in want.items():
        np.testing.assert_allclose(got[col].to_numpy(float), values, rtol=0, atol=1e-9, err_msg=col)


def until_goal(path: list[str]) -> tuple[list[str], bool]:
    """The path before the first goal, and whether the goal came."""
    return (path[:path.index(GOAL)], True) if GOAL in path else (path, False)


def markov_counts(paths: list[list[str]]) -> pd.DataFrame:
    """Transition counts of the chain (start … conversion/end), repeats collapsed (none here)."""
    counts: dict[tuple[str, str], int] = {}
    for path in paths:
        before, bought = until_goal(path)
        states = [J.START, *before, J.CONVERSION if bought else J.END]
        for s, t in zip(states[:-1], states[1:]):
            counts[(s, t)] = counts.get((s, t), 0) + 1
    return pd.DataFrame([(s, t, n) for (s, t), n in counts.items()], columns=["source", "target", "transitions"])


def furthest_step(path: list[str]) -> int:
    """The ordered stage funnel without a window, walked by hand: step 1 at the first awareness
    touch, step k at the first touch of stage k after the touch that reached step k - 1."""
    reached, at = 0, -1
    for k in range(1, 6):
        nxt = next((i for i in range(at + 1, len(path)) if STAGE_OF[path[i]] == k), None)
        if nxt is None:
            return reached
        reached, at = k, nxt
    return reached


# ----------------------------------------------------------------------------- against the independent bootstrap
def test_dropoff_and_reach_rankings_match_an_independent_bootstrap(dominant):
    paths = planted_paths(DOMINANT)
    src = J.resolve(dominant)
    drop, reach = dropoff_rankings(src, tp.inventory(src), n_resamples=B, seed=SEED)
    items = ["ad", "view", "cart", "pay_error", "buy", "call", "review"]
    rates, shares = [], []
    for sample in resamples(list(paths)):
        reached = {i: 0 for i in items}
        ends = {i: 0 for i in items}
        for cid in sample:
            path = paths[cid]
            for touch in set(path):
                reached[touch] += 1
            if GOAL not in path:
                ends[path[-1]] += 1
        rates.append([ends[i] / reached[i] if reached[i] else np.nan for i in items])
        shares.append([reached[i] / len(sample) for i in items])
    assert_matches(drop, items, np.array(rates), missing_last=True)
    assert_matches(reach, items, np.array(shares))
    assert drop.first == "pay_error" and drop.row().value == pytest.approx(0.8)


def test_attribution_refits_every_model_like_an_independent_bootstrap(dominant):
    paths = planted_paths(DOMINANT)
    a = tp.attribution(dominant, n_resamples=B, seed=SEED)
    items = a.table.touchpoint.tolist()
    first, last, markov = [], [], []
    for sample in resamples(list(paths)):
        chosen = [paths[c] for c in sample]
        bought = [p for p in chosen if GOAL in p]
        firsts = pd.Series([until_goal(p)[0][0] if until_goal(p)[0] else "(direct)" for p in bought])
        lasts = pd.Series([until_goal(p)[0][-1] if until_goal(p)[0] else "(direct)" for p in bought])
        first.append([(firsts == i).sum() / len(bought) for i in items])
        last.append([(lasts == i).sum() / len(bought) for i in items])
        _, effects = tp.removal_effects(markov_counts(chosen))  # the exact solver, state by state
        positive = effects.clip(lower=0)
        markov.append([positive.get(i, 0.0) / positive.sum() for i in items])
    assert_matches(a.rankings["first_touch"], items, np.array(first))
    assert_matches(a.rankings["last_touch"], items, np.array(last))
    assert_matches(a.rankings["markov"], items, np.array(markov))
    # the table's columns are the rankings' numbers
    t = a.table.set_index("touchpoint")
    r = a.rankings["markov"].table.set_index("item").loc[t.index]
    assert t.markov_share_ci_low.to_numpy() == pytest.approx(r.ci_low.to_numpy(), abs=1e-12)
    assert t.markov_ranked_first.to_numpy() == pytest.approx(r.ranked_first.to_numpy(), abs=1e-12)


def test_variants_funnel_transitions_and_anchor_match_an_independent_bootstrap(dominant):
    paths = planted_paths(DOMINANT)
    draws = resamples(list(paths))
    v = tp.variants(dominant, top=4, n_resamples=B, seed=SEED)
    names = v.table.variant.tolist()
    got = [[sum(" > ".join(until_goal(paths[c])[0]) == n for c in s) / len(s) for n in names] for s in draws]
    assert_matches(v.ranking, names, np.array(got))

    f = tp.stage_funnel(dominant, window_days=None, n_resamples=B, seed=SEED)
    assert f.table.customers.tolist() == [460, 400, 280, 0, 0]
    lost = []
    for s in draws:
        n = np.array([sum(furthest_step(paths[c]) >= k for c in s) for k in range(1, 6)], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            lost.append(np.where(n[:-1] > 0, 1 - n[1:] / n[:-1], np.nan))
    assert_matches(f.weakest, ["2", "3", "4", "5"], np.array(lost), missing_last=True)

    tr = tp.transitions(dominant, collapse_repeats=True, n_resamples=B, seed=SEED, ranked=5)
    moves = tr.ranking.table["item"].tolist()
    counted = []
    for s in draws:
        pairs = pd.Series([f"{a} → {b}" for c in s for a, b in zip([J.START, *paths[c]], [*paths[c], J.END])])
        counted.append([(pairs == m).sum() for m in moves])
    assert_matches(tr.ranking, moves, np.array(counted, dtype=float))

    anchor = tp.anchor_paths(dominant, "cart", before=1, after=1, n_resamples=B, seed=SEED)
    after = anchor.rankings[1].table["item"].tolist()
    shares = []
    for s in draws:
        nxt = pd.Series([(paths[c] + [J.END])[paths[c].index("cart") + 1] for c in s if "cart" in paths[c]])
        shares.append([(nxt == i).sum() / len(nxt) for i in after])
    assert_matches(anchor.rankings[1], after, np.array(shares))


def test_the_markov_refit_is_the_exact_solver_at_full_data(dominant):
    # the bootstrap refits the chain with one inverse per resample (module doc of attribution);
    # on the whole data it gives what removal_effects solves state by state
    a = tp.attribution(dominant, n_resamples=0)
    counts = a.transitions
    states = sorted(set(counts.source) | set(counts.target) | {J.START, J.CONVERSION, J.END})
    k = {s: i for i, s in enumerate(states)}
    matrix = np.zeros((1, len(states), len(states)))
    for s, t, n in zip(counts.source, counts.target, counts.transitions):
        matrix[0, k[s], k[t]] = n
    base, effects = removal_effects_batch(matrix, states)
    exact_base, exact = tp.removal_effects(counts)
    assert base[0] == pytest.approx(exact_base, abs=1e-12) and exact_base == pytest.approx(380 / 580)
    for state, value in exact.items():
        assert effects[0, k[state]] == pytest.approx(value, abs=1e-12)
    # and the table's removal effects are the exact solver's
    assert a.table.set_index("touchpoint").removal_effect.loc[exact.index].to_numpy() == pytest.approx(exact.to_numpy())
    # a random chain with loops, every state reaching both ends: the same agreement
    rng = np.random.default_rng(3)
    names = [J.START, J.CONVERSION, J.END] + [f"t{i}" for i in range(9)]
    rows = [(s, t, int(rng.integers(1, 50))) for s in [J.START] + names[3:] for t in names[1:] if s != t and rng.random() < 0.5]
    rows += [(s, J.END, 3) for s in names[3:]] + [(J.START, names[3], 5)]
    random_counts = pd.DataFrame(rows, columns=["source", "target", "transitions"])
    random_counts = random_counts.groupby(["source", "target"], as_index=False).transitions.sum()
    states = sorted(names)
    k = {s: i for i, s in enumerate(states)}
    matrix = np.zeros((2, len(states), len(states)))
    for s, t, n in zip(random_counts.source, random_counts.target, random_counts.transitions):
        matrix[:, k[s], k[t]] = n
    base, effects = removal_effects_batch(matrix, states)
    exact_base, exact = tp.removal_effects(random_counts)
    assert base == pytest.approx([exact_base] * 2, abs=1e-12)
    assert effects[1, [k[s] for s in exact.index]] == pytest.approx(exact.to_numpy(), abs=1e-12)


# ----------------------------------------------------------------------------- planted truths
def test_a_dominant_item_ranks_first_in_nearly_every_resample(dominant):
    src = J.resolve(dominant)
    drop, _ = dropoff_rankings(src, tp.inventory(src))
    assert drop.first == "pay_error" and drop.row().ranked_first >= 0.95 and drop.top.distinguishable
    assert "ranks 1st in" in drop.sentence() and "is ahead of" in drop.sentence()
    a = tp.attribution(dominant)
    first, last = a.rankings["first_touch"], a.rankings["last_touch"]
    assert (first.first, last.first) == ("ad", "cart")
    assert first.row().ranked_first >= 0.95 and last.row().ranked_first >= 0.95
    assert a.table.set_index("touchpoint").loc["ad", "first_touch_ranked_first"] == first.row().ranked_first
    v = tp.variants(dominant, top=5)
    assert v.table.variant.iloc[0] == "ad > view > cart" and v.table.ranked_first.iloc[0] >= 0.95
    # the next four paths have 60 customers each: only the first place is firm
    assert v.ranking.firm == 1
    assert "The order of the top 2 paths is firm" in v.firmness() and "2nd and 3rd cannot be told apart" in v.firmness()


def test_items_equal_in_truth_cannot_be_told_apart(tied):
    src = J.resolve(tied)
    drop, _ = dropoff_rankings(src, tp.inventory(src))
    assert set(drop.table.item[:2]) == {"view", "cart"} and drop.table.value.iloc[0] == drop.table.value.iloc[1] == 0.4
    assert not drop.top.distinguishable and drop.top.ci_low < 0 < drop.top.ci_high
    assert "cannot be told apart" in drop.sentence()
    a = tp.attribution(tied)
    for model in ("first_touch", "last_touch", "markov"):
        r = a.rankings[model]
        assert set(r.table.item[:2]) == {"view", "cart"}, model
        assert r.table.value.iloc[0] == pytest.approx(r.table.value.iloc[1]), model
        assert not r.top.distinguishable and 0.05 < r.row().ranked_first < 0.95, model
        assert "cannot be told apart" in a.leader(model)
    v = tp.variants(tied, top=2)
    assert set(v.table.customers) == {250} and v.ranking.firm == 0
    assert "cannot be told apart" in v.firmness()


def test_the_stage_prints_how_firm_its_rankings_are(tied, dominant):
    head = tp.analyze(tied, anchor_touchpoint="cart").headlines()
    drop = next(h for h in head if h.startswith("Largest drop-off: "))
    assert "cannot be told apart: the 95% interval of the difference in drop-off rate" in drop
    markov = next(h for h in head if h.startswith("The Markov model credits "))
    assert "cart and view cannot be told apart" in markov.lower() and "Markov share" in markov
    result = tp.analyze(dominant)
    drop = next(h for h in result.headlines() if h.startswith("Largest drop-off: "))
    assert " — 80% of the 100 customers" in drop and "ranks 1st in 100% of 200 resamples" in drop
    assert "is ahead of" in drop and "the 95% interval of the difference in drop-off rate" in drop
    assert result.metrics()["largest_dropoff_ranked_first"] == 1.0
    shown = result.inventory_table().set_index("label")
    assert shown["largest drop-off in"].tolist().count("100%") == 1
    # every table the page shows renders, with the rank columns in it
    pages = [table_html(t) for t in (result.inventory_table(), result.funnel.display_table(),
                                     result.variants.display_table(), result.attribution.display_table(),
                                     result.transitions.top(15))]
    for page, column in zip(pages, ("largest drop-off in", "weakest in", "most common in", "Markov rank",
                                    "most frequent in")):
        assert f">{column}</th>" in page
    written = result.tables()["inventory"].set_index("touchpoint")
    assert written.loc["pay_error", "dropoff_ranked_first"] == 1.0 and written.loc["pay_error", "dropoff_rank_high"] == 1
    # the Wilson interval of the drop-off rate: 80 of 100 (statsmodels' proportion_confint, method wilson)
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(80, 100, method="wilson")
    assert (written.loc["pay_error", "dropoff_ci_low"], written.loc["pay_error", "dropoff_ci_high"]) == pytest.approx((lo, hi))


def test_ranking_helpers_on_hand_made_draws():
    # three items; c is always last, a beats b in 3 of 4 resamples
    draws = np.array([[5, 3, 1], [4, 5, 2], [6, 2, 1], [5, 1, 0]], dtype=float)
    r = ranking(draws, [5.0, 2.8, 1.0], ["a", "b", "c"], "value", ci_level=0.5, fmt="{:.1f}")
    assert r.table.item.tolist() == ["a", "b", "c"] and r.row("a").ranked_first == 0.75
    # a - b: 2, -1, 4, 4 and b - c: 2, 3, 1, 1; both 25th percentiles (1.25, 1) lie above 0
    assert firm_order(draws, [5.0, 2.8, 1.0], ci_level=0.5) == 3 and r.firm == 3
    sub = r.subset(["b", "c"])
    assert sub.row("b").ranked_first == 1.0 and sub.first == "b"
    with pytest.raises(Exception, match="at least 20 resamples"):
        check_resamples(5)


def test_resample_counts_are_the_documented_draws_whatever_the_blocks_and_kept_draws():
    from cxlab.stats.ranking import resample_counts

    n, b, seed = 37, 45, 11
    idx = np.random.default_rng(seed).integers(0, n, size=(b, n))
    expected = np.stack([np.bincount(row, minlength=n) for row in idx]).astype(float)
    for block_cells in (n, 5 * n, 10_000):  # one resample a block, five, all at once
        got = np.concatenate([c for _, c in resample_counts(n, b, seed, block_cells)])
        np.testing.assert_array_equal(got, expected)
    firsts = [first for first, _ in resample_counts(n, b, seed, 5 * n)]
    assert firsts == list(range(0, b, 5))
    other = np.concatenate([c for _, c in resample_counts(n, b, seed + 1)])  # another seed: other draws
    assert not np.array_equal(other, expected) and (other.sum(axis=1) == n).all()
    again = np.concatenate([c for _, c in resample_counts(n, b, seed)])  # back to the first: the same
    np.testing.assert_array_equal(again, expected)


def test_bootstrap_sums_are_the_weighted_sums_of_the_documented_draws_whatever_the_blocks():
    from scipy import sparse

    from cxlab.stats.ranking import bootstrap_sums

    n, b, seed = 53, 40, 4
    rng = np.random.default_rng(0)
    whole = rng.integers(0, 4, size=(n, 3)).astype(float)  # counts: the sums must be exact
    whole[rng.random((n, 3)) < 0.5] = 0
    fractions = rng.normal(size=(n, 2))
    idx = np.random.default_rng(seed).integers(0, n, size=(b, n))
    for block_cells in (b, 7 * b, 10 ** 6):  # one customer a block, seven, all at once
        got = bootstrap_sums(sparse.csr_matrix(whole), b, seed, block_cells)
        np.testing.assert_array_equal(got, np.stack([whole[row].sum(axis=0) for row in idx]))
        got = bootstrap_sums(fractions, b, seed, block_cells)  # dense input, values of any sign
        np.testing.assert_allclose(got, np.stack([fractions[row].sum(axis=0) for row in idx]), rtol=0, atol=1e-12)


def test_min_ranks_are_scipys_rankdata_min_of_the_negated_values():
    from scipy.stats import rankdata

    from cxlab.stats.ranking import _min_ranks

    rng = np.random.default_rng(3)
    values = rng.integers(0, 4, size=(200, 9)).astype(float)  # many ties
    values[rng.random(values.shape) < 0.1] = -np.inf  # items without a value, ranked last
    np.testing.assert_array_equal(_min_ranks(values), rankdata(-values, method="min", axis=1))
    assert _min_ranks(np.array([[3.0, 5.0, 5.0, 1.0]])).tolist() == [[3, 1, 1, 4]]
