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

**No text is kept.** The store holds a SHA-256 hash of each text (``text_key``) beside its
score, never the text itself: a score can be looked up for a text one has, but the store does
not hold the texts (a short, common text such as "ok" could still be confirmed by hashing a
guess). The scores remembered within a process are keyed the same way.

**Long texts are scored on their first 5,000 characters** (``MAX_SCORED_CHARS``): VADER's cost
grows with the square of a text's length (here 0.04 s for 5,000 characters, 0.5 s for 20,000,
2.5 s for 50,000; one 200 KB comment added 90 s to a stage, a 1.9 MB one would take hours), and a
comment's tone shows well before 5,000 characters. ``truncation_note`` says, for a page, how
many texts were cut.

``comment_scores`` gives a study's survey comments with their score (the segmentation's comment
sentiment), from the same store.
"""
from __future__ import annotations

import hashlib
from typing import Iterable

import numpy as np
import pandas as pd

from .study import Study

__all__ = [
    "sentiment",
    "sentiment_label",
    "text_key",
    "truncation_note",
    "MAX_SCORED_CHARS",
    "KEY_COLUMN",
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
KEY_COLUMN = "text_sha256"  # the store's column: the hash of a text, never the text
MAX_SCORED_CHARS = 5_000  # a longer text is scored on its first 5,000 characters

_ANALYZER = None
# text_key of a distinct text -> VADER compound, kept for the process: the stages of a run that
# share one kernel score the same survey comments only once
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


def text_key(text: str) -> str:
    """The key a text's score is kept under: the SHA-256 of its UTF-8 bytes, in hex."""
    return hashlib.sha256(str(text).encode("utf-8", "surrogatepass")).hexdigest()


def _present(s: pd.Series) -> pd.Series:
    return s.notna() & s.astype("string").str.strip().ne("").fillna(False)


def _score(analyzer, text: str) -> float:
    return analyzer.polarity_scores(text[:MAX_SCORED_CHARS])["compound"]


def sentiment(texts: Iterable) -> pd.Series:
    """VADER compound sentiment of each text, −1 … +1; NaN for a missing or blank text. A text
    longer than ``MAX_SCORED_CHARS`` (5,000) is scored on its first 5,000 characters.

    Each distinct text is scored once, and remembered (by its hash) for the rest of the process."""
    s = _texts(texts)
    out = pd.Series(np.nan, index=s.index, dtype="float64")
    present = _present(s)
    if not present.any():
        return out
    values = s[present].astype(str)
    distinct = pd.unique(values)
    keys = {t: text_key(t) for t in distinct}
    new = [t for t in distinct if keys[t] not in _SCORES]
    if new:
        analyzer = _analyzer()
        if len(_SCORES) + len(new) > _MAX_SCORES:
            _SCORES.clear()
            new = list(distinct)
        _SCORES.update({keys[t]: _score(analyzer, t) for t in new})
    scores = {t: _SCORES[keys[t]] for t in distinct}
    out[present] = values.map(scores).astype("float64")
    return out


def truncation_note(texts: Iterable) -> str | None:
    """A sentence for the page when some texts were longer than ``MAX_SCORED_CHARS`` and were
    scored on their beginning only; None when none was."""
    s = _texts(texts)
    lengths = s[_present(s)].astype(str).str.len()
    cut = int((lengths > MAX_SCORED_CHARS).sum())
    if not cut:
        return None
    return (f"{cut:,} {'text was' if cut == 1 else 'texts were'} longer than {MAX_SCORED_CHARS:,} characters "
            f"(the longest {int(lengths.max()):,}); sentiment scores {'its' if cut == 1 else 'their'} first "
            f"{MAX_SCORED_CHARS:,} characters.")


def sentiment_label(score: pd.Series) -> pd.Series:
    """'negative' (< −0.05), 'neutral' or 'positive' (> 0.05); a missing score stays missing."""
    label = pd.Series(pd.NA, index=score.index, dtype="string")
    label[score < NEGATIVE] = "negative"
    label[(score >= NEGATIVE) & (score <= POSITIVE)] = "neutral"
    label[score > POSITIVE] = "positive"
    return label


def study_sentiment(study: Study, texts: Iterable) -> pd.Series:
    """``sentiment`` of a study's texts, with every score kept in
    data/processed/<study>/text_sentiment.parquet for the clean tables it came from, under the
    hash of its text (``text_key``; the texts are not kept, see the module doc): a run on
    unchanged data scores nothing new (about 10 s of VADER saved for the 175,000 distinct texts
    of a 10M-event study)."""
    from . import data

    known = data.kept_for_clean(study, SCORES_NAME)
    if known is not None and list(known.columns) != [KEY_COLUMN, "sentiment"]:
        known = None  # a store of an older cxlab (it kept the texts): replaced by one of hashes
    if known is not None and len(_SCORES) + len(known) <= _MAX_SCORES:
        _SCORES.update(zip(known[KEY_COLUMN].tolist(), known["sentiment"].tolist()))
    out = sentiment(texts)
    values = _texts(texts)
    distinct = pd.unique(values[out.notna().to_numpy()].astype(str))
    have = set(known[KEY_COLUMN]) if known is not None else set()
    new = list(dict.fromkeys(k for k in (text_key(t) for t in distinct) if k not in have))
    if new:
        added = pd.DataFrame({KEY_COLUMN: new, "sentiment": [_SCORES[k] for k in new]})
        data.keep_for_clean(study, SCORES_NAME, added if known is None else pd.concat([known, added], ignore_index=True),
                            scorer=SCORER, key="sha256 of the text's UTF-8 bytes", max_scored_chars=MAX_SCORED_CHARS)
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
