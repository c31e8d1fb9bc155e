"""One customer's own words per pain point, to read beside its numbers.

For a touchpoint the quote is a survey comment given at that touchpoint; for "unresolved
support tickets" it is the text of a ticket left unresolved. Among the negative texts (VADER
compound below −0.05, ``cxlab.sentiment``) of ``MIN_CHARS``–``MAX_CHARS`` characters, the one
whose sentiment is nearest the median of those texts is chosen: typical of the complaints, not
the angriest one. Ties are broken by the text's hash, so the same data gives the same quote.
Quotes are redacted (``cxlab.privacy.redact``) before they leave this module, and a pain point
with no such text gets none (None), never a made-up one.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import data, engine
from ..privacy import redact
from ..sentiment import NEGATIVE, study_sentiment, text_key
from ..study import Study

__all__ = ["pain_point_quotes", "typical_complaint", "MIN_CHARS", "MAX_CHARS"]

MIN_CHARS = 20
MAX_CHARS = 160


def typical_complaint(texts: pd.Series, scores: pd.Series) -> str | None:
    """The negative text of usable length whose score is nearest the median negative score
    (redacted), or None when there is none."""
    t = pd.DataFrame({"text": texts.astype(str).str.strip().to_numpy(), "score": np.asarray(scores, dtype=float)})
    length = t.text.str.len()
    t = t[(t.score < NEGATIVE) & length.between(MIN_CHARS, MAX_CHARS)].drop_duplicates("text")
    if t.empty:
        return None
    t = t.assign(distance=(t.score - t.score.median()).abs(), key=t.text.map(text_key))
    best = t.sort_values(["distance", "key"], kind="stable").iloc[0]
    return redact(best.text)


def _survey_comments(study: Study, touchpoints: list[str]) -> pd.DataFrame:
    if "surveys" not in study.tables or not touchpoints:
        return pd.DataFrame(columns=["touchpoint", "text"])
    sv = engine.table(study, "surveys")
    if "comment" not in sv.columns or "touchpoint" not in sv.columns:
        return pd.DataFrame(columns=["touchpoint", "text"])
    length = sv.comment.strip().length()
    sv = sv.filter(sv.touchpoint.isin(touchpoints) & sv.comment.notnull()
                   & (length >= MIN_CHARS) & (length <= MAX_CHARS))
    return engine.to_pandas(sv.select(touchpoint=sv.touchpoint, text=sv.comment))


def _unresolved_ticket_texts(study: Study) -> pd.Series:
    if "tickets" not in study.tables:
        return pd.Series(dtype=str)
    tickets = data.load(study, "tickets")
    if "text" not in tickets.columns:
        return pd.Series(dtype=str)
    unresolved = ~tickets["resolved"].fillna(False).astype(bool) if "resolved" in tickets else \
        pd.Series(True, index=tickets.index)
    texts = tickets.loc[unresolved, "text"].dropna().astype(str)
    return texts[texts.str.strip().str.len().between(MIN_CHARS, MAX_CHARS)]


def pain_point_quotes(study: Study, register: pd.DataFrame) -> pd.Series:
    """A redacted quote (or None) for each row of a pain-point register (columns ``kind`` and
    ``touchpoint``), aligned with its index."""
    study = data.ensure_clean(study)
    quotes = pd.Series(None, index=register.index, dtype=object)
    if register.empty:
        return quotes
    kind = register["kind"].astype(str) if "kind" in register else pd.Series("", index=register.index)
    touchpoint = register["touchpoint"] if "touchpoint" in register else pd.Series(None, index=register.index)
    wanted = sorted({str(t) for t in touchpoint[kind != "support"].dropna()})
    comments = _survey_comments(study, wanted)
    if len(comments):
        comments = comments.assign(score=study_sentiment(study, comments["text"]).to_numpy())
        by_touchpoint = {str(tp): typical_complaint(g.text, g.score) for tp, g in comments.groupby("touchpoint")}
        quotes[kind != "support"] = touchpoint[kind != "support"].map(
            lambda tp: by_touchpoint.get(str(tp)) if pd.notna(tp) else None)
    if (kind == "support").any():
        texts = _unresolved_ticket_texts(study)
        quote = typical_complaint(texts, study_sentiment(study, texts)) if len(texts) else None
        quotes[kind == "support"] = quote
    return quotes.astype(object).where(quotes.notna(), None)
