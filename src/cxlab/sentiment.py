"""Sentiment of customer text: one scorer and one store of scores for every stage.

**The score.** VADER's compound score of a text (Hutto & Gilbert 2014), from −1 (very
negative) to +1 (very positive); a missing or blank text has no score (NaN). Scores below
−0.05 read as *negative*, above +0.05 as *positive*, between as *neutral* (VADER's own
thresholds, ``sentiment_label``).

**Each distinct text is scored once.** Feedback repeats itself ("Great service!"), and VADER
is pure Python (its cost grows with the square of a text's length), so:

- within a process, every distinct text is scored once and remembered (``sentiment``);
- for a study, ``study_sentiment`` keeps every score in data/processed/<study>/
  text_sentiment.parquet, marked with the fingerprint of the clean tables the texts came from.
  The stages run in separate kernels — segmentation scores the survey comments, the pain-point
  stage the comments and ticket texts — and read the kept scores instead of scoring again; a run
  on other clean data trusts none of them.

``comment_scores`` gives a study's survey comments with their score (the segmentation's comment
sentiment), from the same store.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from .study import Study

__all__ = [
    "sentiment",
    "sentiment_label",
    "study_sentiment",
    "comment_scores",
    "forget",
    "NEGATIVE",
    "POSITIVE",
    "SCORER",
    "SCORES_NAME",
    "SCORES_FILE",
]

NEGATIVE = -0.05  # below: a negative text
POSITIVE = 0.05  # above: a positive text
SCORER = "VADER compound"
SCORES_NAME = "text_sentiment"
SCORES_FILE = f"{SCORES_NAME}.parquet"

_ANALYZER = None
# distinct text -> VADER compound, kept for the process: the stages of a run that share one
# kernel score the same survey comments only once
_SCORES: dict[str, float] = {}
_MAX_SCORES = 2_000_000


def _analyzer():
    global _ANALYZER
    if _ANALYZER is None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        _ANALYZER = SentimentIntensityAnalyzer()
    return _ANALYZER


def _texts(texts: Iterable) -> pd.Series:
    return texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype="object")


def sentiment(texts: Iterable) -> pd.Series:
    """VADER compound sentiment of each text, −1 … +1; NaN for a missing or blank text.

    Each distinct text is scored once, and remembered for the rest of the process."""
    s = _texts(texts)
    out = pd.Series(np.nan, index=s.index, dtype="float64")
    present = s.notna() & s.astype("string").str.strip().ne("").fillna(False)
    if not present.any():
        return out
    values = s[present].astype(str)
    distinct = pd.unique(values)
    new = [t for t in distinct if t not in _SCORES]
    if new:
        analyzer = _analyzer()
        if len(_SCORES) + len(new) > _MAX_SCORES:
            _SCORES.clear()
            new = list(distinct)
        _SCORES.update({t: analyzer.polarity_scores(t)["compound"] for t in new})
    scores = {t: _SCORES[t] for t in distinct}
    out[present] = values.map(scores).astype("float64")
    return out


def sentiment_label(score: pd.Series) -> pd.Series:
    """'negative' (< −0.05), 'neutral' or 'positive' (> 0.05); a missing score stays missing."""
    label = pd.Series(pd.NA, index=score.index, dtype="string")
    label[score < NEGATIVE] = "negative"
    label[(score >= NEGATIVE) & (score <= POSITIVE)] = "neutral"
    label[score > POSITIVE] = "positive"
    return label


def study_sentiment(study: Study, texts: Iterable) -> pd.Series:
    """``sentiment`` of a study's texts, with every score kept in
    data/processed/<study>/text_sentiment.parquet for the clean tables it came from (see the
    module doc): a run on unchanged data scores nothing new (about 10 s of VADER saved for the
    175,000 distinct texts of a 10M-event study)."""
    from . import data

    known = data.kept_for_clean(study, SCORES_NAME)
    if known is not None and len(_SCORES) + len(known) <= _MAX_SCORES:
        _SCORES.update(zip(known["text"].tolist(), known["sentiment"].tolist()))
    out = sentiment(texts)
    values = _texts(texts)
    distinct = pd.unique(values[out.notna().to_numpy()].astype(str))
    have = set(known["text"]) if known is not None else set()
    new = [t for t in distinct if t not in have]
    if new:
        added = pd.DataFrame({"text": new, "sentiment": [_SCORES[t] for t in new]})
        data.keep_for_clean(study, SCORES_NAME, added if known is None else pd.concat([known, added], ignore_index=True),
                            scorer=SCORER)
    return out


def comment_scores(study: Study, scorer=None) -> pd.DataFrame:
    """Every survey response with a non-blank comment, with the comment's sentiment (−1…1):
    ``response_id``, ``customer_id``, ``timestamp``, ``sentiment``. Only those four columns and
    the comments come to pandas (one row per comment). Scored by ``study_sentiment`` (the
    study's kept scores), or by ``scorer`` (a function of a Series of texts) when given."""
    from . import data, engine

    study = data.ensure_clean(study)
    empty = pd.DataFrame({"response_id": pd.Series(dtype=str), "customer_id": pd.Series(dtype=str),
                          "timestamp": pd.Series(dtype="datetime64[ns]"), "sentiment": pd.Series(dtype=float)})
    if "surveys" not in study.tables:
        return empty
    sv = engine.table(study, "surveys")
    if "comment" not in sv.columns:
        return empty
    sv = sv.filter(sv.comment.notnull() & (sv.comment.strip().length() > 0))
    comments = engine.to_pandas(sv.select("response_id", "customer_id", "timestamp", "comment"))
    score = study_sentiment(study, comments["comment"]) if scorer is None else scorer(comments["comment"])
    return pd.DataFrame({"response_id": comments["response_id"].astype(str),
                         "customer_id": comments["customer_id"].astype(str),
                         "timestamp": comments["timestamp"], "sentiment": np.asarray(score, dtype=float)})


def forget(study: Study | None = None) -> None:
    """Forget the scores this process remembers, and with a study its kept scores (to time the
    scoring itself, say)."""
    _SCORES.clear()
    if study is not None:
        for suffix in (".parquet", ".json"):
            study.processed(f"{SCORES_NAME}{suffix}").unlink(missing_ok=True)
