"""The metric dictionary: every quantity a page prints as a headline figure has one entry here —
one id, one plain name, its definition, whom it counts (population) and how its period is read —
so that the same quantity prints under the same name with the same value on every page, and
different quantities never share a name.

The KPIs of ``cxlab.kpis`` are entries as they are (their title is the name, their definition
and format are the KPI library's); the other entries are the quantities stages print beside
them that are *not* KPIs, each named for what it counts:

=====================  ==================================  =========================================
id                     name                                counts
=====================  ==================================  =========================================
conversion_rate        Conversion rate                     new customers reaching a goal within the
                                                           conversion window of their first touch
bought_any_time        Bought at any time                  customers reaching a goal at any time in
                                                           the log (no window)
reached_stage:<s>      Reached the <s> stage               customers entering the journey who reach
                                                           stage <s> in the stage funnel (window)
went_on_to_stage:<s>   Went on to the <s> stage            those at the previous stage who reach <s>
csat_mean              CSAT (mean)                         survey answers (KPI)
csat_per_respondent    CSAT (mean per respondent)          customers who answered: each one's mean
nps                    Net Promoter Score                  survey answers (KPI)
nps_latest_answer      NPS (latest answer per customer)    customers who answered: their latest answer
=====================  ==================================  =========================================

**One current period.** Where a page says where a KPI stands *now*, "now" is the study's one
current period (``current_period``), the same months for every KPI on every page: the latest
whole months — as many as the longest baseline window of the objectives, three without one —
that end on or before the last day on which every objective's KPI is fully followed
(``cxlab.kpis.complete_until``: the conversion window after the first touch, the repeat horizon
after a first order, the next month for retention). A KPI with a long follow-up therefore moves
"now" back for all: in the demo the 90-day repeat horizon makes the current period Jul–Sep 2025,
so the conversion rate, CSAT and NPS "now" count the same three months, all fully followed. A
whole-log figure states the whole log as its period.

**Figures in text.** A sentence carries a figure as a *mark*, ``⟦id|population|period|value⟧``
(``mark``, ``figure``): plain text that survives JSON, run.json and redaction, shown on a page as
``<span class="cx-figure" data-metric=… data-population=… data-period=…>value</span>``
(``figures_html``, ``figures_markdown``) and in a figure or a terminal as its value
(``figures_plain``). The period is an ISO 8601 interval of days, ``2025-07-01/2025-09-30``
(``..`` for an open side). A mark is recognised only when its id is in the dictionary; the text
around it is redacted and escaped like any other text, and so are the mark's fields.
"""
from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd

from . import engine
from .errors import ParameterError, StudyError
from .kpis import KPIS, complete_until, data_end, format_value, get_kpi
from .privacy import markdown_text, redact, safe_text
from .study import Study

__all__ = [
    "Metric",
    "METRICS",
    "get_metric",
    "metric_table",
    "Period",
    "whole_log",
    "current_period",
    "mark",
    "figure",
    "kpi_figure",
    "in_segment",
    "population_of",
    "figures_html",
    "figures_markdown",
    "figures_plain",
    "marked_figures",
]


# --------------------------------------------------------------------------- the dictionary
def _pct(value) -> str:
    return "–" if value is None or value != value else f"{value * 100:.1f}%"


@dataclass(frozen=True)
class Metric:
    """One entry of the dictionary: ``id`` (the mark's key; a stage-specific entry takes the
    stage after a colon, ``reached_stage:purchase``), ``name`` (unique; ``{stage}`` filled in for
    a stage-specific entry), ``definition``, ``population`` (whom it counts, by default),
    ``period`` (how a unit is placed in a period), ``unit`` and ``kpi`` (the KPI of
    ``cxlab.kpis`` it is, whose format it uses)."""

    id: str
    name: str
    definition: str
    population: str
    period: str
    unit: str
    kpi: str | None = None
    formatter: Callable[[Any], str] | None = None

    def format(self, value) -> str:
        """The value for people, as every page prints it (a KPI as the KPI library formats it)."""
        if self.kpi is not None:
            return format_value(self.kpi, value)
        return (self.formatter or _pct)(value)

    def name_for(self, qualifier: str | None = None) -> str:
        return self.name.format(stage=qualifier) if "{stage}" in self.name else self.name


# whom each KPI counts and how a unit is placed in a period (the KPI library's definitions say
# the rest)
_KPI_POPULATION = {
    "conversion_rate": ("new customers", "the period of their first touch"),
    "repeat_purchase_rate": ("new buyers", "the period of their first order"),
    "retention_rate": ("customers active in a month", "the month they are active in"),
    "churn_rate": ("customers active in a month", "the month they are active in"),
    "revenue_per_customer": ("active customer-months", "the month"),
    "average_order_value": ("orders", "the day of the order"),
    "nps": ("survey answers", "the day of the answer"),
    "csat_top2": ("survey answers", "the day of the answer"),
    "csat_mean": ("survey answers", "the day of the answer"),
    "ces_mean": ("survey answers", "the day of the answer"),
}


def _kpi_metric(name: str) -> Metric:
    k = KPIS[name]
    population, period = _KPI_POPULATION.get(name, ("units", "the period"))
    return Metric(k.name, k.title, k.definition, population, period, k.unit, kpi=k.name)


METRICS: dict[str, Metric] = {
    **{name: _kpi_metric(name) for name in KPIS},
    "bought_any_time": Metric(
        "bought_any_time", "Bought at any time",
        "Share of customers who reached a goal touchpoint at any time in the log, with no conversion window: "
        "customers first seen early have had longer to buy than those seen late, so this is not the conversion rate.",
        "customers in the log", "the whole log", "share"),
    "reached_stage": Metric(
        "reached_stage", "Reached the {stage} stage",
        "Share of the customers entering the journey who reach this stage in the stage funnel: its first "
        "touchpoint after the previous stage, within the conversion window counted from the entry.",
        "customers entering the journey", "the whole log", "share"),
    "went_on_to_stage": Metric(
        "went_on_to_stage", "Went on to the {stage} stage",
        "Share of the customers at the previous stage of the stage funnel who reach this stage, within the "
        "conversion window counted from the entry.",
        "customers at the previous stage", "the whole log", "share"),
    "csat_per_respondent": Metric(
        "csat_per_respondent", "CSAT (mean per respondent)",
        "Mean over the customers who answered of each customer's mean satisfaction score (1–5): every "
        "respondent counts once, however often they answered (CSAT (mean) counts every answer).",
        "customers who answered", "the whole log", "score 1–5", formatter=lambda v: "–" if v != v else f"{v:.2f}"),
    "nps_latest_answer": Metric(
        "nps_latest_answer", "NPS (latest answer per customer)",
        "Share of promoters (9–10) minus share of detractors (0–6) among the customers who answered, each by "
        "their latest answer, in points (the Net Promoter Score counts every answer).",
        "customers who answered", "the whole log", "NPS points", formatter=lambda v: "–" if v != v else f"{v:+.0f}"),
}


def get_metric(metric_id: str) -> Metric:
    """The entry of ``metric_id`` (``reached_stage:purchase`` is the entry ``reached_stage``)."""
    if isinstance(metric_id, Metric):
        return metric_id
    key = str(metric_id).split(":", 1)[0]
    try:
        return METRICS[key]
    except KeyError:
        raise ParameterError(f"Unknown metric '{metric_id}'; the dictionary holds: {', '.join(METRICS)}") from None


def metric_table() -> pd.DataFrame:
    """The dictionary as a table: id, name, definition, population, period, unit."""
    return pd.DataFrame([{"id": m.id, "name": m.name, "definition": m.definition, "population": m.population,
                          "period": m.period, "unit": m.unit} for m in METRICS.values()])


# --------------------------------------------------------------------------- periods
def _day(t: pd.Timestamp) -> str:
    return f"{t:%-d %b %Y}"


@dataclass(frozen=True)
class Period:
    """Days from ``start`` to ``end`` (both included; None: open on that side), and how the
    period was chosen (``how``, in words)."""

    start: pd.Timestamp | None
    end: pd.Timestamp | None
    how: str = ""

    @property
    def iso(self) -> str:
        """The period as an ISO 8601 interval of days: '2025-07-01/2025-09-30'."""
        one = lambda t: ".." if t is None else f"{pd.Timestamp(t):%Y-%m-%d}"  # noqa: E731
        return f"{one(self.start)}/{one(self.end)}"

    @property
    def words(self) -> str:
        """The period for people: 'Jul–Sep 2025' for whole months, else '3 Jul – 30 Sep 2025'."""
        s, e = self.start, self.end
        if s is None and e is None:
            return "the whole log"
        if s is None:
            return f"up to {_day(e)}"
        if e is None:
            return f"from {_day(s)}"
        s, e = pd.Timestamp(s), pd.Timestamp(e)
        if s.day == 1 and (e + pd.Timedelta(days=1)).day == 1:
            if (s.year, s.month) == (e.year, e.month):
                return f"{s:%b %Y}"
            if s.year == e.year:
                return f"{s:%b}–{e:%b %Y}"
            return f"{s:%b %Y} – {e:%b %Y}"
        if s == e:
            return _day(s)
        if s.year == e.year:
            return f"{s:%-d %b} – {_day(e)}"
        return f"{_day(s)} – {_day(e)}"

    @classmethod
    def parse(cls, iso: str, how: str = "") -> "Period":
        """The Period of an ISO 8601 interval of days as ``iso`` writes it ('2025-01-01/2025-12-31')."""
        match = re.fullmatch(r"(\d{4}-\d{2}-\d{2}|\.\.)/(\d{4}-\d{2}-\d{2}|\.\.)", str(iso).strip())
        if not match:
            raise ParameterError(f"A period is written as YYYY-MM-DD/YYYY-MM-DD ('..' for an open side), not {iso!r}")
        return cls.of(*(None if v == ".." else v for v in match.groups()), how=how)

    @classmethod
    def of(cls, start, end, how: str = "") -> "Period":
        conv = lambda t: None if t is None or (isinstance(t, float) and t != t) or pd.isna(t) else (  # noqa: E731
            pd.Timestamp(t).normalize())
        return cls(conv(start), conv(end), how)


def whole_log(study: Study | str | os.PathLike) -> Period:
    """The days the event log covers, first to last: the period of every whole-log figure."""
    study = Study.load(study)
    ev = engine.events(study)
    first = pd.Timestamp(engine.to_pandas(ev.aggregate(t=ev.timestamp.min()))["t"].iloc[0])
    return Period.of(first, data_end(study), how="the whole log")


def _baseline_length(study: Study) -> tuple[int | None, int | None]:
    """(months, days): the longest baseline window of the objectives in whole months when every
    baseline is whole months, else in days; (3, None) without baselines."""
    months, days, whole = [], [], True
    for o in study.objectives:
        b0, b1 = o.baseline_start, o.baseline_end
        if b0 is None or b1 is None:
            continue
        days.append((b1 - b0).days + 1)
        if b0.day == 1 and (b1 + pd.Timedelta(days=1)).day == 1:
            months.append((b1.year - b0.year) * 12 + b1.month - b0.month + 1)
        else:
            whole = False
    if not days:
        return 3, None
    return (max(months), None) if whole else (None, max(days))


def current_period(study: Study | str | os.PathLike, kpis=None, **options) -> Period:
    """The study's one current period (module docstring): the latest whole months, as many as
    the longest objective baseline (3 without one), ending on or before the last day on which
    every KPI in ``kpis`` is fully followed (default: the objectives' KPIs, else the conversion
    rate); with baselines that are not whole months, that many days ending on that day.
    ``options`` are the KPI options (window_days, repeat_horizon_days, retention_period)."""
    study = Study.load(study)
    names = list(dict.fromkeys(kpis or [o.kpi for o in study.objectives] or ["conversion_rate"]))
    lasts = []
    for name in names:
        try:
            lasts.append(complete_until(study, get_kpi(name).name, **options))
        except StudyError:  # a KPI whose table the study lacks says nothing about follow-up
            continue
    if not lasts:
        lasts = [data_end(study).normalize()]
    last = min(lasts)
    followed = "every objective's KPI" if not kpis and study.objectives else "every KPI shown"
    months, days = _baseline_length(study)
    if months:
        month_end = last if (last + pd.Timedelta(days=1)).day == 1 else last.replace(day=1) - pd.Timedelta(days=1)
        start = (month_end.replace(day=1) - pd.DateOffset(months=months - 1)).normalize()
        how = (f"the latest {months} complete month{'s' if months > 1 else ''} in which {followed} "
               "is fully followed")
        return Period.of(start, month_end, how)
    start = last - pd.Timedelta(days=days - 1)
    return Period.of(start, last, f"the latest {days} days in which {followed} is fully followed")


# --------------------------------------------------------------------------- figures in text
_OPEN, _CLOSE, _SEP = "⟦", "⟧", "|"
_FIELD_BAD = re.compile(r"[⟦⟧|\r\n]")
_MARK = re.compile(r"⟦([a-z0-9_]+(?::[^⟦⟧|]{1,80})?)\|([^⟦⟧|]{0,200})\|((?:\d{4}-\d{2}-\d{2}|\.\.)/"
                   r"(?:\d{4}-\d{2}-\d{2}|\.\.))\|([^⟦⟧|]{1,40})⟧")


def _field(text: Any) -> str:
    return _FIELD_BAD.sub(" ", str(text)).strip()


def _period(period) -> Period:
    if isinstance(period, Period):
        return period
    if isinstance(period, (tuple, list)) and len(period) == 2:
        return Period.of(*period)
    raise ParameterError(f"A figure's period must be a Period or a (start, end) pair, not {period!r}")


def mark(metric_id: str, value, *, population: str | None = None, period, text: str | None = None) -> str:
    """The figure ``value`` of ``metric_id`` as a mark in a sentence (module docstring): its
    value formatted by the dictionary (or ``text``), with the population it counts (the entry's
    own by default) and its period (a Period or (start, end))."""
    m = get_metric(metric_id)
    pop = m.population if population is None else population
    shown = m.format(value) if text is None else text
    return f"{_OPEN}{_field(metric_id)}{_SEP}{_field(pop)}{_SEP}{_period(period).iso}{_SEP}{_field(shown)}{_CLOSE}"


def figure(metric_id: str, value, *, population: str | None = None, period, text: str | None = None,
           name: bool = True) -> str:
    """A figure as a sentence prints it: its name, the marked value and, in brackets, whom it
    counts and when — 'Conversion rate 49.4% (new customers, Jul–Sep 2025)'."""
    m = get_metric(metric_id)
    qualifier = str(metric_id).split(":", 1)[1] if ":" in str(metric_id) else None
    pop = m.population if population is None else population
    head = f"{m.name_for(qualifier)} " if name else ""
    return f"{head}{mark(metric_id, value, population=pop, period=period, text=text)} ({pop}, {_period(period).words})"


def population_of(metric_id: str, *, stage: Any = None, segment: Any = None) -> str:
    """The population of ``metric_id`` narrowed to a journey stage and/or a segment, worded the
    same on every page: 'survey answers at the purchase stage in segment Web-first, small-basket'."""
    words = get_metric(metric_id).population
    if stage is not None:
        words += f" at the {_field(stage)} stage"
    if segment is not None:
        words += f" in segment {_field(segment)}"
    return words


def in_segment(metric_id: str, segment: Any) -> str:
    """``population_of`` one segment: 'customers entering the journey in segment Web-first, small-basket'."""
    return population_of(metric_id, segment=segment)


def kpi_figure(kpi: str, value, period, population: str | None = None, name: bool = True) -> str:
    """``figure`` for a KPI of the KPI library."""
    return figure(get_kpi(kpi).name, value, population=population, period=period, name=name)


@dataclass(frozen=True)
class MarkedFigure:
    metric: str
    population: str
    period: str
    text: str

    @property
    def name(self) -> str:
        qualifier = self.metric.split(":", 1)[1] if ":" in self.metric else None
        return get_metric(self.metric).name_for(qualifier)


def _parts(text: Any) -> list:
    """``text`` split into plain strings and MarkedFigures (marks of unknown ids stay text)."""
    text = "" if text is None else str(text)
    out, pos = [], 0
    for match in _MARK.finditer(text):
        if match.group(1).split(":", 1)[0] not in METRICS:
            continue
        out.append(text[pos:match.start()])
        out.append(MarkedFigure(*match.groups()))
        pos = match.end()
    out.append(text[pos:])
    return out


def marked_figures(text: Any) -> list[MarkedFigure]:
    """The figures marked in ``text``."""
    return [p for p in _parts(text) if isinstance(p, MarkedFigure)]


def _span(f: MarkedFigure) -> str:
    q = lambda v: html.escape(redact(v), quote=True)  # noqa: E731
    m = get_metric(f.metric)
    return (f'<span class="cx-figure" data-metric="{q(f.metric)}" data-name="{q(f.name)}" '
            f'data-population="{q(f.population)}" data-period="{q(f.period)}" '
            f'title="{q(f.name)}: {q(m.definition)}">{q(f.text)}</span>')


def figures_html(text: Any) -> str:
    """``text`` for an HTML page: redacted and escaped (``cxlab.privacy.safe_text``), its marks
    as ``cx-figure`` spans."""
    return "".join(_span(p) if isinstance(p, MarkedFigure) else safe_text(p) for p in _parts(text))


def figures_markdown(text: Any) -> str:
    """``text`` as a value in Markdown: redacted with every Markdown sign escaped
    (``cxlab.privacy.markdown_text``), its marks as ``cx-figure`` spans (inline HTML)."""
    return "".join(_span(p) if isinstance(p, MarkedFigure) else (markdown_text(p) if p else "")
                   for p in _parts(text))


def figures_plain(text: Any) -> str:
    """``text`` with each mark as its value: for a figure drawn by matplotlib, a terminal, a test."""
    return "".join(p.text if isinstance(p, MarkedFigure) else p for p in _parts(text))
