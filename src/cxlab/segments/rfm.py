"""RFM: recency, frequency and monetary scores of buyers, and the usual named RFM segments.

Scores are quintiles among the customers who bought (1 = worst fifth, 5 = best fifth):

- R from the days since the last order (fewer days scores higher),
- F from the number of orders,
- M from the revenue.

Ties share a score: a customer's score is ceil(5 × mid-rank percentile), the percentile
computed with average ranks, so every customer with one order gets the same F score (in a
typical log that is most buyers, and the F scores then start above 1).

Named segments follow the classic recency × frequency grid (the RFM map of Putler and the
many write-ups that copy it), with "lost" split from "hibernating" at R = 1:

    R \\ F      1               2               3               4                5
    5     new customers   potential loyal. potential loyal. champions        champions
    4     promising       potential loyal. potential loyal. loyal customers  loyal customers
    3     about to sleep  about to sleep   need attention   loyal customers  loyal customers
    2     hibernating     hibernating      at risk          at risk          can't lose them
    1     lost            lost             at risk          at risk          can't lose them

Customers who never ordered get the segment "no purchase yet".
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ParameterError

__all__ = ["rfm_scores", "rfm_segment_table", "score", "RFM_GRID", "RFM_SEGMENTS", "RFM_ACTIONS"]

NO_PURCHASE = "no purchase yet"
RFM_GRID = {  # (R, F) -> segment
    **{(5, f): s for f, s in zip(range(1, 6), ["new customers", "potential loyalists", "potential loyalists",
                                                "champions", "champions"])},
    **{(4, f): s for f, s in zip(range(1, 6), ["promising", "potential loyalists", "potential loyalists",
                                                "loyal customers", "loyal customers"])},
    **{(3, f): s for f, s in zip(range(1, 6), ["about to sleep", "about to sleep", "need attention",
                                                "loyal customers", "loyal customers"])},
    **{(2, f): s for f, s in zip(range(1, 6), ["hibernating", "hibernating", "at risk", "at risk",
                                                "can't lose them"])},
    **{(1, f): s for f, s in zip(range(1, 6), ["lost", "lost", "at risk", "at risk", "can't lose them"])},
}
RFM_SEGMENTS = ["champions", "loyal customers", "potential loyalists", "new customers", "promising",
                "need attention", "about to sleep", "at risk", "can't lose them", "hibernating", "lost",
                NO_PURCHASE]
RFM_ACTIONS = {
    "champions": "bought recently, buy often: reward them, ask for reviews and referrals",
    "loyal customers": "buy regularly: offer loyalty perks, upsell",
    "potential loyalists": "recent, a few orders: build the habit (membership, recommendations)",
    "new customers": "first order just now: onboard well",
    "promising": "recent first order: nurture, build awareness of the range",
    "need attention": "average on both: time-limited, personal offers",
    "about to sleep": "fading after few orders: reactivate before they are lost",
    "at risk": "bought often, not lately: win back with personal contact",
    "can't lose them": "were the best customers, gone quiet: win back at any cost",
    "hibernating": "few orders, long ago: low-cost reactivation only",
    "lost": "one order, long ago: do not spend on them",
    NO_PURCHASE: "visited but never ordered",
}


def score(values: pd.Series, higher_is_better: bool = True, bins: int = 5) -> pd.Series:
    """Quantile score 1…bins of each value (ties share a score: ceil(bins × average-rank
    percentile)); NaN stays NaN."""
    if bins < 2:
        raise ParameterError("bins must be at least 2")
    x = values.astype(float)
    pct = x.rank(method="average", pct=True, ascending=higher_is_better)
    out = np.ceil(pct * bins).clip(1, bins)
    return out.astype("Int64")


def rfm_scores(features: pd.DataFrame, bins: int = 5) -> pd.DataFrame:
    """customer_id, r_score, f_score, m_score, rfm_code ('545') and rfm_segment, from the
    feature table's ``days_since_last_order``, ``orders`` and ``revenue`` (see
    ``customer_features``). Scores are computed among customers with an order."""
    need = {"customer_id", "days_since_last_order", "orders", "revenue"}
    missing = need - set(features.columns)
    if missing:
        raise ParameterError(f"rfm_scores needs the columns {', '.join(sorted(missing))} (from customer_features)")
    buyers = features["orders"] > 0
    out = pd.DataFrame({"customer_id": features["customer_id"].astype(str)})
    b = features.loc[buyers]
    out["r_score"] = score(b["days_since_last_order"], higher_is_better=False, bins=bins).reindex(out.index)
    out["f_score"] = score(b["orders"], bins=bins).reindex(out.index)
    out["m_score"] = score(b["revenue"], bins=bins).reindex(out.index)
    code = out["r_score"].astype(str) + out["f_score"].astype(str) + out["m_score"].astype(str)
    out["rfm_code"] = code.where(buyers, "")
    if bins == 5:
        seg = [RFM_GRID.get((int(r), int(f))) if ok else NO_PURCHASE
               for r, f, ok in zip(out["r_score"].fillna(0), out["f_score"].fillna(0), buyers)]
    else:  # a coarser or finer grid: map scores to the 5-point grid by their position
        rr = np.ceil(out["r_score"].astype(float) / bins * 5).clip(1, 5)
        ff = np.ceil(out["f_score"].astype(float) / bins * 5).clip(1, 5)
        seg = [RFM_GRID.get((int(r), int(f))) if ok else NO_PURCHASE
               for r, f, ok in zip(rr.fillna(0), ff.fillna(0), buyers)]
    out["rfm_segment"] = pd.Categorical(seg, categories=RFM_SEGMENTS)
    return out


def rfm_segment_table(features: pd.DataFrame, rfm: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per named RFM segment: customers, share of customers, revenue share, mean orders, mean
    days since the last order, and what the segment usually calls for."""
    rfm = rfm_scores(features) if rfm is None else rfm
    f = features[["customer_id", "orders", "revenue", "days_since_last_order"]].merge(
        rfm[["customer_id", "rfm_segment"]], on="customer_id")
    total_rev = f["revenue"].sum()
    g = f.groupby("rfm_segment", observed=True).agg(
        customers=("customer_id", "size"), revenue=("revenue", "sum"), mean_orders=("orders", "mean"),
        mean_days_since_last_order=("days_since_last_order", "mean"))
    g["customer_share"] = g["customers"] / len(f)
    g["revenue_share"] = g["revenue"] / total_rev if total_rev else np.nan
    g["what_to_do"] = [RFM_ACTIONS.get(str(s), "") for s in g.index]
    g = g.reset_index()
    g["rfm_segment"] = g["rfm_segment"].astype(str)
    return g[["rfm_segment", "customers", "customer_share", "revenue_share", "mean_orders",
              "mean_days_since_last_order", "what_to_do"]]
