"""Voice of the customer: what survey comments and support tickets say, and how they feel.

- **Sentiment**: VADER's compound score of each text, from -1 (very negative) to +1 (very
  positive); scores below -0.05 read as negative and above +0.05 as positive (VADER's own
  thresholds). The scorer and the study's kept scores are the core's (``cxlab.sentiment``),
  shared with the segmentation and the journey map.
- **Complaint topics from a keyword taxonomy**: a text mentions a topic when one of the topic's
  keywords occurs in it *as a word* (case-insensitive), alone or with a regular ending —
  ``-s``, ``-es``, ``-d``, ``-ed``, ``-ing``: ``app`` matches "app", "App.", "the app's" and
  "apps" but not "applied" or "apple"; ``deliver`` matches "delivered". A keyword ending in
  ``*`` is a stem and matches any word it starts (``freez*``: "freezes", "freezing"). A keyword
  of several words matches that phrase (any spacing between the words; the ending rule applies
  to its last word). A text can mention several topics. The study sets its own taxonomy in
  study.yaml (``parameters.pain_points.topics: {topic: [keywords]}``); ``DEFAULT_TOPICS`` is a
  general retail taxonomy.
- **Discovered topics**: TF-IDF of the texts (English stop words, words and word pairs) factored
  by NMF into ``n_topics`` themes, each named by its top terms. On a large corpus the model is
  fitted on a random sample of ``max_fit_docs`` texts and then assigns every text (a text
  belongs to its strongest theme, or to none when it shares no term with any theme).
- **Quotes** shown for a topic are redacted (emails and phone numbers replaced) here, and
  escaped wherever they are displayed (``cxlab.notebook.show_table``).

Emails, phone numbers and HTML tags are removed before modelling, so no personal detail can
become a topic term.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..privacy import PLACEHOLDER, redact
from ..sentiment import sentiment, sentiment_label, study_sentiment

__all__ = [
    "DEFAULT_TOPICS",
    "sentiment",
    "sentiment_label",
    "study_sentiment",
    "clean_for_model",
    "tag_topics",
    "topic_summary",
    "DiscoveredTopics",
    "discover_topics",
    "topics_by",
    "representative_quotes",
    "survey_responses",
    "feedback",
    "VoiceOfCustomer",
    "voice_of_customer",
]

DEFAULT_TOPICS: dict[str, list[str]] = {
    "payment": ["payment", "pay", "paid", "card", "declined", "charged", "checkout", "paypal", "billing"],
    "delivery": ["deliver*", "shipping", "shipped", "parcel", "package", "courier", "tracking", "arrived",
                 "late"],
    "returns": ["return", "refund", "exchange"],
    "staff": ["staff", "agent", "assistant", "rude", "helpful", "on hold", "transferred", "hung up"],
    "app and website": ["app", "website", "site", "crash", "freez*", "froze", "frozen", "log in", "login", "slow",
                        "page", "update", "updating", "notification"],
    "price": ["price", "expensive", "overpriced", "cheap", "discount", "offer", "cost", "value for money"],
    "product": ["quality", "broken", "broke", "damaged", "size", "fits", "missing", "faulty"],
    "account": ["account", "password", "locked", "points"],
}

_TAG = re.compile(r"<[^>]*>")
_ENTITY = re.compile(r"&[a-z]+;|&#\d+;")


def _texts(texts: Iterable) -> pd.Series:
    return texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype="object")


def clean_for_model(texts: Iterable) -> pd.Series:
    """Text for topic models: emails and phone numbers removed, HTML tags and entities removed,
    lower case."""
    s = _texts(texts).fillna("").astype(str)
    unique = pd.unique(s)
    cleaned = {}
    for t in unique:
        x = PLACEHOLDER.sub(" ", redact(t))  # "[name]", "[card]" … never become topic words
        x = _ENTITY.sub(" ", _TAG.sub(" ", x))
        cleaned[t] = re.sub(r"\s+", " ", x).strip().lower()
    return s.map(cleaned)


# the regular endings a keyword may carry and still be the keyword (apps, delivered, crashes)
_ENDING = r"(?:s|es|d|ed|ing)?"


def _topic_pattern(keywords: Iterable[str]) -> re.Pattern:
    """One pattern matching any of ``keywords`` as words (see the module doc): a word boundary
    before; after, an optional regular ending and a word boundary — or, for a ``stem*``, any
    letters. An apostrophe ends a word, so "app's" is the app."""
    parts = []
    for kw in keywords:
        kw = str(kw).strip().lower()
        stem = kw.endswith("*")
        kw = kw.rstrip("*").strip()
        if not kw:
            continue
        words = [re.escape(w) for w in kw.split()]
        # a boundary only where the keyword has a word character at that edge ("c++" ends in none)
        start = r"\b" if re.match(r"\w", kw[0]) else ""
        end = r"\w*" if stem else (_ENDING + r"\b" if re.match(r"\w", kw[-1]) else "")
        parts.append(start + r"\s+".join(words) + end)
    if not parts:
        raise ParameterError("A topic of the keyword taxonomy has no keywords.")
    return re.compile("|".join(parts), re.IGNORECASE)


def _check_taxonomy(topics: Mapping[str, Iterable[str]] | None) -> dict[str, list[str]]:
    if topics is None:
        return DEFAULT_TOPICS
    if not isinstance(topics, Mapping) or not topics:
        raise ParameterError(
            "parameters.pain_points.topics must map each topic to a list of keywords, "
            "e.g. {payment: [card, declined], delivery: [parcel, courier]}"
        )
    out = {}
    for name, kws in topics.items():
        if isinstance(kws, str):
            kws = [kws]
        if not isinstance(kws, Iterable) or not list(kws):
            raise ParameterError(f"parameters.pain_points.topics.{name}: give a list of keywords")
        out[str(name)] = [str(k) for k in kws]
    return out


def tag_topics(
    texts: Iterable, topics: Mapping[str, Iterable[str]] | None = None, cleaned: pd.Series | None = None
) -> pd.DataFrame:
    """One boolean column per topic: does the text mention one of the topic's keywords?

    Matching is on the text with emails, phone numbers and HTML removed (see module doc;
    ``cleaned`` passes ``clean_for_model(texts)`` when it is at hand)."""
    taxonomy = _check_taxonomy(topics)
    cleaned = clean_for_model(texts) if cleaned is None else cleaned
    codes, unique = pd.factorize(cleaned)
    search = _Searcher([str(t) for t in unique])
    out = {name: search(_topic_pattern(kws))[codes] for name, kws in taxonomy.items()}
    return pd.DataFrame(out, index=cleaned.index)


class _Searcher:
    """``bool(pattern.search(t))`` for each of many texts. Printable-ASCII texts (most
    feedback) go to Arrow's RE2 in one vectorised call: on them, and with an ASCII pattern,
    RE2's \\b, \\s and case folding match exactly as Python's; other texts go to Python's re."""

    def __init__(self, texts: list[str]):
        import pyarrow as pa
        import pyarrow.compute as pc

        self._pc, self.texts = pc, texts
        arr = pa.array(texts, type=pa.large_string())
        self.plain = pc.match_substring_regex(arr, r"^[\x20-\x7e]*$").to_numpy(zero_copy_only=False).astype(bool)
        self.arr = arr.filter(pa.array(self.plain))
        self.others = np.flatnonzero(~self.plain)

    def __call__(self, pattern: re.Pattern) -> np.ndarray:
        found = np.zeros(len(self.texts), dtype=bool)
        if not pattern.pattern.isascii():
            found[:] = [bool(pattern.search(t)) for t in self.texts]
            return found
        if len(self.arr):
            found[self.plain] = self._pc.match_substring_regex(
                self.arr, pattern.pattern, ignore_case=True).to_numpy(zero_copy_only=False)
        for i in self.others:
            found[i] = bool(pattern.search(self.texts[i]))
        return found


def representative_quotes(
    texts: pd.Series, score: pd.Series, k: int = 3, max_chars: int = 220, ascending: bool = False
) -> list[str]:
    """Up to ``k`` distinct texts with the highest (or lowest) ``score``, redacted and shortened
    to ``max_chars``. Very short texts ('ok', 'meh') are passed over while longer ones exist."""
    frame = pd.DataFrame({"text": texts, "score": score}).dropna()
    if frame.empty:
        return []
    frame["text"] = frame["text"].astype(str)
    frame["len"] = frame["text"].str.len()
    long_enough = frame[frame["len"] >= 25]
    if len(long_enough) >= k:
        frame = long_enough
    frame = frame.sort_values(["score", "len"], ascending=[ascending, True], kind="stable")
    quotes, seen = [], set()
    for text in frame["text"]:
        key = re.sub(r"[\W\d_]+", " ", text.lower()).strip()  # order numbers etc. do not make it new
        if key in seen:
            continue
        seen.add(key)
        text = redact(text).strip()
        if len(text) > max_chars:
            text = text[: max_chars - 1].rstrip() + "…"
        quotes.append(text)
        if len(quotes) == k:
            break
    return quotes


def topic_summary(
    feedback: pd.DataFrame,
    tags: pd.DataFrame,
    text: str = "text",
    sentiment_col: str = "sentiment",
    score: str | None = "nps",
    customer: str = "customer_id",
    quotes: int = 2,
) -> pd.DataFrame:
    """Per keyword topic: texts mentioning it, their share, customers, mean sentiment, the mean
    ``score`` (e.g. NPS) of the responses mentioning it against those that do not, and the most
    negative quotes (redacted)."""
    n = len(feedback)
    rows = []
    for topic in tags.columns:
        hit = tags[topic].to_numpy(bool)
        sub = feedback.loc[hit]
        row = {
            "topic": topic,
            "mentions": int(hit.sum()),
            "share": float(hit.mean()) if n else np.nan,
            "customers": int(sub[customer].nunique()) if customer in sub else int(hit.sum()),
            "mean_sentiment": float(sub[sentiment_col].mean()) if len(sub) else np.nan,
            "negative_share": float((sub[sentiment_col] < -0.05).mean()) if len(sub) else np.nan,
        }
        if score and score in feedback:
            row[f"mean_{score}"] = float(sub[score].mean()) if len(sub) else np.nan
            row[f"mean_{score}_others"] = float(feedback.loc[~hit, score].mean())
        q = representative_quotes(sub[text], sub[sentiment_col], k=quotes, ascending=True)
        row["quotes"] = " | ".join(q)
        rows.append(row)
    out = pd.DataFrame(rows)
    return out.sort_values("mentions", ascending=False, kind="stable").reset_index(drop=True)


@dataclass
class DiscoveredTopics:
    """Themes found by TF-IDF + NMF.

    topics: topic (int), name (its top terms), terms, documents (texts assigned), share.
    assignment: per text, the topic it belongs to (-1 when it matches none).
    weight: per text, the weight of its topic.
    quotes: topic -> representative texts (redacted), those weighing most on the theme.
    fitted_on: how many texts the model was fitted on (a sample on a large corpus).
    """

    topics: pd.DataFrame
    assignment: pd.Series
    weight: pd.Series
    quotes: dict[int, list[str]] = field(default_factory=dict)
    fitted_on: int = 0

    def table(self) -> pd.DataFrame:
        """topics with their quotes joined, for display."""
        out = self.topics.copy()
        out["quotes"] = out["topic"].map(lambda t: " | ".join(self.quotes.get(t, [])))
        return out

    def summary(self) -> str:
        lines = [f"{len(self.topics)} discovered topics (fitted on {self.fitted_on:,} texts):"]
        for r in self.topics.itertuples():
            lines.append(f"  {r.topic}: {r.name} — {r.documents:,} texts ({r.share:.1%})")
        return "\n".join(lines)


def discover_topics(
    texts: Iterable,
    n_topics: int = 8,
    n_terms: int = 4,
    max_fit_docs: int = 5000,
    seed: int = 0,
    quotes: int = 3,
    min_df: int | float = 3,
    cleaned: pd.Series | None = None,
) -> DiscoveredTopics:
    """Discover themes in free text with TF-IDF and NMF (see the module doc).

    n_topics: how many themes; n_terms: top terms naming each; max_fit_docs: the sample size the
    model is fitted on when there are more texts (all texts are then assigned); seed: the
    sample and NMF initialisation; quotes: representative texts per theme."""
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    raw = _texts(texts).reset_index(drop=True)
    cleaned = clean_for_model(raw) if cleaned is None else cleaned.reset_index(drop=True)
    usable = cleaned.str.len() > 0
    docs = cleaned[usable]
    if n_topics < 1:
        raise ParameterError(f"n_topics must be at least 1, got {n_topics}")
    empty = DiscoveredTopics(
        pd.DataFrame(columns=["topic", "name", "terms", "documents", "share"]),
        pd.Series(-1, index=raw.index), pd.Series(0.0, index=raw.index), {}, 0,
    )
    if len(docs) < max(10, 2 * n_topics):
        return empty
    rng = np.random.default_rng(seed)
    fit_idx = docs.index.to_numpy()
    if len(fit_idx) > max_fit_docs:
        fit_idx = np.sort(rng.choice(fit_idx, size=max_fit_docs, replace=False))
    vectorizer = TfidfVectorizer(
        stop_words="english", ngram_range=(1, 2), min_df=min_df if len(fit_idx) >= 50 else 1,
        max_df=0.5, sublinear_tf=True, token_pattern=r"(?u)\b[a-z][a-z]+\b", max_features=5000,
    )
    try:
        x_fit = vectorizer.fit_transform(docs.loc[fit_idx])
    except ValueError:  # nothing but stop words
        return empty
    k = min(n_topics, x_fit.shape[1], x_fit.shape[0])
    model = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=400)
    model.fit(x_fit)
    # feedback repeats itself: each distinct text is assigned once
    codes, distinct = pd.factorize(docs)
    w = model.transform(vectorizer.transform(distinct))[codes]
    terms = np.array(vectorizer.get_feature_names_out())

    # name each theme by its top terms, leaving out a pair's words already shown
    names, term_lists = [], []
    for comp in model.components_:
        chosen: list[str] = []
        words: set[str] = set()
        for i in np.argsort(comp)[::-1]:
            term = terms[i]
            if words & set(term.split()):
                continue
            chosen.append(term)
            words |= set(term.split())
            if len(chosen) == n_terms:
                break
        term_lists.append(chosen)
        names.append(" / ".join(chosen))

    best = w.argmax(axis=1)
    best_w = w.max(axis=1)
    assign = pd.Series(-1, index=raw.index, dtype="int64")
    weight = pd.Series(0.0, index=raw.index)
    assign.loc[docs.index] = np.where(best_w > 0, best, -1)
    weight.loc[docs.index] = best_w
    counts = assign.value_counts()
    n = len(raw)
    topics = pd.DataFrame(
        {
            "topic": np.arange(k),
            "name": names,
            "terms": [", ".join(t) for t in term_lists],
            "documents": [int(counts.get(t, 0)) for t in range(k)],
        }
    )
    topics["share"] = topics["documents"] / n if n else np.nan
    quote_map = {}
    for t in range(k):
        members = assign.index[assign == t]
        quote_map[t] = representative_quotes(raw.loc[members], weight.loc[members], k=quotes)
    topics = topics.sort_values("documents", ascending=False, kind="stable").reset_index(drop=True)
    return DiscoveredTopics(topics, assign, weight, quote_map, int(len(fit_idx)))


def topics_by(
    feedback: pd.DataFrame, tags: pd.DataFrame, by: str, share: bool = True, min_texts: int = 1
) -> pd.DataFrame:
    """Topic mentions broken down by a column of ``feedback`` (touchpoint, stage, month …):
    one row per group with ``texts`` and, per topic, the share of the group's texts mentioning it
    (or the count with ``share=False``). Groups with fewer than ``min_texts`` texts are left out."""
    if by not in feedback:
        raise ParameterError(f"topics_by: feedback has no column '{by}'")
    keys = feedback[by].astype("string").fillna("(none)")
    grouped = tags.astype("int64").groupby(keys.to_numpy())
    counts = grouped.sum()
    texts = grouped.size().rename("texts")
    out = counts.div(texts, axis=0) if share else counts
    out = pd.concat([texts, out], axis=1)
    out = out[out["texts"] >= min_texts]
    out.index.name = by
    return out.reset_index()


# --------------------------------------------------------------------------- a study's feedback
FEEDBACK_COLUMNS = ["source", "id", "customer_id", "timestamp", "touchpoint", "stage", "stage_order",
                    "text", "nps", "csat", "category", "resolved"]


def survey_responses(study) -> pd.DataFrame:
    """The study's survey responses with their ``stage`` (the response's stage column, else the
    catalog stage of its touchpoint; 'unknown' when neither is known) and ``stage_order``."""
    from .. import data

    surveys = data.load(study, "surveys")
    if surveys.empty:
        return surveys
    out = surveys.copy()
    by_tp = dict(zip(study.catalog.touchpoint, study.catalog.stage))
    stage = out["stage"] if "stage" in out else pd.Series(pd.NA, index=out.index, dtype="object")
    if "touchpoint" in out:
        stage = stage.where(stage.notna(), out["touchpoint"].map(by_tp))
    out["stage"] = stage.astype("object").where(stage.notna(), "unknown")
    order = {s: i for i, s in enumerate(study.stages)}
    out["stage_order"] = out["stage"].map(order).fillna(-1).astype(int)
    return out


def feedback(study) -> pd.DataFrame:
    """Every piece of customer text in the study, one row each: survey comments (source
    'survey', with the response's touchpoint, stage, nps and csat) and ticket texts (source
    'ticket', with category and resolved; touchpoint and stage when the tickets table has
    them). Empty texts are left out."""
    from .. import data

    parts = []
    surveys = survey_responses(study)
    if not surveys.empty and "comment" in surveys:
        s = surveys[surveys["comment"].notna()]
        parts.append(pd.DataFrame({
            "source": "survey", "id": s["response_id"], "customer_id": s["customer_id"],
            "timestamp": s["timestamp"], "touchpoint": s.get("touchpoint"), "stage": s["stage"],
            "stage_order": s["stage_order"], "text": s["comment"], "nps": s.get("nps"),
            "csat": s.get("csat"), "category": None, "resolved": None,
        }))
    tickets = data.load(study, "tickets")
    if not tickets.empty and "text" in tickets:
        t = tickets[tickets["text"].notna()]
        by_tp = dict(zip(study.catalog.touchpoint, study.catalog.stage))
        tp = t["touchpoint"] if "touchpoint" in t else pd.Series(None, index=t.index, dtype="object")
        stage = tp.map(by_tp)
        order = {s: i for i, s in enumerate(study.stages)}
        parts.append(pd.DataFrame({
            "source": "ticket", "id": t["ticket_id"], "customer_id": t["customer_id"],
            "timestamp": t["opened_at"], "touchpoint": tp, "stage": stage,
            "stage_order": stage.map(order).fillna(-1).astype(int), "text": t["text"],
            "nps": np.nan, "csat": np.nan, "category": t.get("category"), "resolved": t.get("resolved"),
        }))
    if not parts:  # surveys without comments, tickets without texts: no feedback, same columns
        return pd.DataFrame(columns=FEEDBACK_COLUMNS + ["month"]).astype({"month": "datetime64[ns]"})
    out = pd.concat([p[FEEDBACK_COLUMNS] for p in parts], ignore_index=True)
    out = out[out["text"].astype("string").str.strip().fillna("").ne("")].reset_index(drop=True)
    for col in ("nps", "csat"):
        out[col] = pd.to_numeric(out[col], errors="coerce")
    out["month"] = pd.to_datetime(out["timestamp"]).dt.to_period("M").dt.to_timestamp()
    return out


@dataclass
class VoiceOfCustomer:
    """What customers wrote: ``feedback`` (one row per text, with sentiment and
    sentiment_label), ``tags`` (keyword topics per text), ``topics`` (per keyword topic:
    mentions, share, customers, mean sentiment, mean score, quotes), ``discovered`` (TF-IDF +
    NMF themes), and the topics by touchpoint, stage and month."""

    feedback: pd.DataFrame
    tags: pd.DataFrame
    topics: pd.DataFrame
    discovered: DiscoveredTopics
    by_touchpoint: pd.DataFrame
    by_stage: pd.DataFrame
    by_month: pd.DataFrame

    def top_complaint(self) -> str | None:
        """The keyword topic with the most negative texts."""
        neg = self.feedback["sentiment"] < -0.05
        if not len(self.tags) or not neg.any():
            return None
        counts = self.tags[neg.to_numpy()].sum()
        return str(counts.idxmax()) if counts.max() > 0 else None

    def summary(self) -> str:
        fb = self.feedback
        lines = [
            f"{len(fb):,} texts ({int((fb.source == 'survey').sum()):,} survey comments, "
            f"{int((fb.source == 'ticket').sum()):,} ticket texts); mean sentiment {fb.sentiment.mean():+.2f}, "
            f"{(fb.sentiment < -0.05).mean():.0%} negative."
        ]
        for r in self.topics.head(5).itertuples():
            lines.append(f"  {r.topic}: {r.mentions:,} texts ({r.share:.0%}), mean sentiment {r.mean_sentiment:+.2f}")
        return "\n".join(lines)

    def plot(self, ax=None, by: str = "stage"):
        """Heat map of the share of texts mentioning each topic, by stage (or touchpoint)."""
        import matplotlib.pyplot as plt

        table = (self.by_stage if by == "stage" else self.by_touchpoint).set_index(by)
        shares = table.drop(columns="texts")
        if ax is None:
            _, ax = plt.subplots(figsize=(9, 0.4 * len(shares) + 1.5))
        ax.imshow(shares.to_numpy(float), aspect="auto", cmap="Blues", vmin=0)
        ax.set_yticks(range(len(shares)))
        ax.set_yticklabels([f"{i} ({n:,})" for i, n in zip(shares.index, table["texts"])], fontsize=8)
        ax.set_xticks(range(shares.shape[1]))
        ax.set_xticklabels(shares.columns, rotation=30, ha="right", fontsize=9)
        for i in range(shares.shape[0]):
            for j in range(shares.shape[1]):
                v = shares.iat[i, j]
                ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=7,
                        color="white" if v > 0.5 else "black")
        ax.grid(False)
        return ax


def voice_of_customer(
    study,
    topics: Mapping[str, Iterable[str]] | None = None,
    n_topics: int = 8,
    max_fit_docs: int = 5000,
    seed: int = 0,
    score: str = "nps",
) -> VoiceOfCustomer:
    """Sentiment, keyword topics and discovered topics of a study's survey comments and ticket
    texts (see the module doc); ``topics`` is the keyword taxonomy (default ``DEFAULT_TOPICS``)."""
    fb = feedback(study)
    fb["sentiment"] = study_sentiment(study, fb["text"])
    fb["sentiment_label"] = sentiment_label(fb["sentiment"])
    cleaned = clean_for_model(fb["text"])
    tags = tag_topics(fb["text"], topics, cleaned=cleaned)
    table = topic_summary(fb, tags, score=score if score in fb else None)
    discovered = discover_topics(fb["text"], n_topics=n_topics, max_fit_docs=max_fit_docs, seed=seed,
                                 cleaned=cleaned)
    fb["discovered_topic"] = discovered.assignment.to_numpy()
    order = {s: i for i, s in enumerate(getattr(study, "stages", []))}
    by_stage = topics_by(fb.assign(stage=fb["stage"].fillna("(support ticket)")), tags, "stage")
    by_stage["_o"] = by_stage["stage"].map(order).fillna(len(order))
    by_stage = by_stage.sort_values("_o").drop(columns="_o").reset_index(drop=True)
    by_tp = topics_by(fb[fb.touchpoint.notna()], tags[fb.touchpoint.notna().to_numpy()], "touchpoint")
    by_month = topics_by(fb.assign(month=fb["month"].dt.strftime("%Y-%m")), tags, "month")
    return VoiceOfCustomer(fb, tags, table, discovered, by_tp, by_stage, by_month)
