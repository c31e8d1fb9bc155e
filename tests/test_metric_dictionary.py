"""One metric dictionary (issue 15): every headline figure on every page of a run comes from one
definition with one name, its population and its period beside it, and the same quantity prints
the same value on every page.

The unit tests pin the dictionary, the periods and the marks; the demo tests read every page of
one `cxlab run` of the demo study (the session's ``demo_run``) as a team would, and recompute the
conversion rate, mean CSAT and "bought at any time" for the stated period with pandas from the
run's processed tables (an independent computation, not the KPI library)."""
from __future__ import annotations

import copy
import re
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest
import yaml
from bs4 import BeautifulSoup

from cxlab.kpis import KPIS
from cxlab.metrics import (
    METRICS,
    Period,
    current_period,
    figure,
    figures_html,
    figures_markdown,
    figures_plain,
    get_metric,
    mark,
    marked_figures,
)


# --------------------------------------------------------------------------- the dictionary
def test_every_kpi_is_an_entry_with_the_kpi_librarys_name_and_format():
    for name, kpi in KPIS.items():
        entry = get_metric(name)
        assert (entry.name, entry.definition, entry.kpi) == (kpi.title, kpi.definition, name)
    assert get_metric("conversion_rate").format(0.49374) == "49.4%"
    assert get_metric("csat_mean").format(3.9228) == "3.92"
    assert get_metric("nps").format(19.016) == "19.0"


def test_names_are_unique_and_the_conversion_like_quantities_are_told_apart():
    names = [m.name for m in METRICS.values()]
    assert len(names) == len(set(names))
    conversion_like = {get_metric(i).name_for(q) for i, q in
                       [("conversion_rate", None), ("bought_any_time", None), ("reached_stage", "purchase"),
                        ("went_on_to_stage", "purchase")]}
    assert conversion_like == {"Conversion rate", "Bought at any time", "Reached the purchase stage",
                               "Went on to the purchase stage"}
    # the per-respondent and latest-answer scores are not the KPIs
    assert get_metric("csat_per_respondent").name != get_metric("csat_mean").name
    assert get_metric("nps_latest_answer").name != get_metric("nps").name


def test_periods_in_words_and_as_iso_intervals():
    assert Period.of("2025-07-01", "2025-09-30").words == "Jul–Sep 2025"
    assert Period.of("2025-12-01", "2025-12-31").words == "Dec 2025"
    assert Period.of("2024-11-01", "2025-01-31").words == "Nov 2024 – Jan 2025"
    assert Period.of("2025-07-03", "2025-09-30").words == "3 Jul – 30 Sep 2025"
    assert Period.of(None, "2025-03-31").iso == "../2025-03-31"
    assert Period.parse("2025-01-01/2025-12-31") == Period.of("2025-01-01", "2025-12-31")


def test_a_mark_is_a_span_on_a_page_and_its_value_in_plain_text():
    period = Period.of("2025-07-01", "2025-09-30")
    text = "Goal: " + figure("conversion_rate", 0.4937, period=period) + " <b>bold</b>"
    assert figures_plain(text) == "Goal: Conversion rate 49.4% (new customers, Jul–Sep 2025) <b>bold</b>"
    page = figures_html(text)
    span = BeautifulSoup(page, "html.parser").select_one("span.cx-figure")
    assert (span["data-metric"], span["data-name"], span["data-population"], span["data-period"], span.text) == (
        "conversion_rate", "Conversion rate", "new customers", "2025-07-01/2025-09-30", "49.4%")
    assert "&lt;b&gt;bold&lt;/b&gt;" in page  # the text around the mark is escaped as before
    assert '<span class="cx-figure"' in figures_markdown(text) and r"\(new customers\, Jul–Sep 2025\)" in figures_markdown(text)
    # a stage-specific entry, and a mark whose id is not in the dictionary stays text
    [f] = marked_figures(mark("reached_stage:purchase", 0.658, period=period))
    assert (f.name, f.text) == ("Reached the purchase stage", "65.8%")
    assert marked_figures("⟦nope|x|2025-01-01/2025-01-31|1%⟧") == []


def test_a_mark_redacts_personal_data_in_its_fields():
    page = figures_html(mark("conversion_rate", 0.5, population="segment ann@example.com", period=("2025-01-01", "2025-01-31")))
    assert "ann@example.com" not in page and "[email]" in page


def test_one_current_period_for_every_objective(make_study):
    """The worked log (conftest) ends 30 May: conversion is followed to 30 Apr, churn to 31 Mar
    (April -> May is not complete); the longest baseline is two months, so the current period of
    every objective is February-March."""
    from conftest import WORKED_LOG, log

    objectives = [
        {"id": "conv", "goal": "g", "kpi": "conversion_rate", "baseline": {"start": "2025-01-01", "end": "2025-01-31"},
         "target": {"relative": 0.1}},
        {"id": "churn", "goal": "g", "kpi": "churn_rate", "baseline": {"start": "2025-01-01", "end": "2025-02-28"},
         "target": {"relative": 0.1}},
    ]
    folder = make_study(events=log(*WORKED_LOG), objectives=objectives)
    assert current_period(folder).iso == "2025-02-01/2025-03-31"
    # conversion alone is followed to 30 Apr: its latest two whole months are March-April
    assert current_period(folder, kpis=["conversion_rate"]).iso == "2025-03-01/2025-04-30"


def test_the_journey_maps_objective_lines_carry_population_and_period():
    from cxlab.journeymap.lanes import objective_lines, objective_period

    table = pd.DataFrame({"kpi": ["conversion_rate", "csat_mean"], "current": [0.4937, 3.9228],
                          "current_start": pd.to_datetime(["2025-07-01"] * 2),
                          "current_end": pd.to_datetime(["2025-09-30"] * 2),
                          "target": [0.517, 4.0], "status": ["no target date", "no target date"]})
    assert objective_period(table) == "Jul–Sep 2025"
    lines = objective_lines(table)
    assert [figures_plain(x) for x in lines] == ["Conversion rate 49.4% (new customers; target 51.7%)",
                                                  "CSAT (mean) 3.92 (survey answers; target 4.00)"]
    assert [(f.metric, f.period) for x in lines for f in marked_figures(x)] == [
        ("conversion_rate", "2025-07-01/2025-09-30"), ("csat_mean", "2025-07-01/2025-09-30")]


# --------------------------------------------------------------------------- the demo run's pages
def _pages(run) -> dict[str, BeautifulSoup]:
    pages = {p.name: BeautifulSoup(p.read_text(encoding="utf-8"), "html.parser")
             for p in sorted(run.run_dir.glob("*.html"))}
    assert {"index.html", "01_objectives.html", "02_segmentation.html", "03_touchpoints.html",
            "04_pain_points.html", "06_journey_map.html"} <= set(pages)
    return pages


def _figures(pages) -> list[dict]:
    return [{"page": name, "metric": s["data-metric"], "name": s["data-name"], "population": s["data-population"],
             "period": s["data-period"], "value": s.get_text()}
            for name, soup in pages.items() for s in soup.select("span.cx-figure")]


@pytest.fixture(scope="module")
def demo_pages(demo_run):
    pages = _pages(demo_run)
    return demo_run, pages, _figures(pages)


@pytest.fixture(scope="module")
def processed(demo_run):
    folder = demo_run.home / "data" / "processed" / demo_run.study
    config = yaml.safe_load((demo_run.home / "data" / "raw" / "demo" / "study.yaml").read_text())
    return {
        "events": pd.read_parquet(folder / "events.parquet", columns=["customer_id", "timestamp", "touchpoint"]),
        "surveys": pd.read_parquet(folder / "surveys.parquet", columns=["timestamp", "csat"]),
        "objectives": pd.read_parquet(folder / "objectives.parquet"),
        "goals": set(config["goal_touchpoints"]),
        "window_days": config.get("conversion_window_days", 30),
    }


def test_the_same_figure_prints_the_same_value_on_every_page(demo_pages):
    _, _, figures = demo_pages
    values = defaultdict(set)
    for f in figures:
        values[(f["metric"], f["population"], f["period"])].add(f["value"])
    differ = {k: v for k, v in values.items() if len(v) > 1}
    assert not differ, differ
    # figures are shared between pages: the objectives' values on the index and the objectives page
    pages_of = defaultdict(set)
    for f in figures:
        pages_of[(f["metric"], f["population"], f["period"])].add(f["page"])
    assert sum(len(p) > 1 for p in pages_of.values()) >= 5
    assert {f["page"] for f in figures} >= {"index.html", "01_objectives.html", "02_segmentation.html",
                                            "03_touchpoints.html", "04_pain_points.html", "06_journey_map.html"}


def test_one_name_per_metric_and_one_metric_per_name(demo_pages):
    _, _, figures = demo_pages
    names, metrics = defaultdict(set), defaultdict(set)
    for f in figures:
        names[f["metric"]].add(f["name"])
        metrics[f["name"]].add(f["metric"])
    assert all(len(n) == 1 for n in names.values()), names
    assert all(len(m) == 1 for m in metrics.values()), metrics


def test_the_five_conversion_numbers_of_the_issue_have_their_own_names(demo_pages, processed):
    _, _, figures = demo_pages
    objectives = processed["objectives"]
    current = Period.of(objectives["current_start"].iloc[0], objectives["current_end"].iloc[0]).iso
    by_metric = defaultdict(set)
    for f in figures:
        by_metric[f["metric"]].add((f["population"], f["period"], f["page"]))
    conversion = by_metric["conversion_rate"]
    whole = _whole_log(processed["events"])
    # the whole year (47.4%) and "now" (49.4%): one name, their periods beside them
    assert {("new customers", current, "index.html"), ("new customers", current, "01_objectives.html"),
            ("new customers", whole, "01_objectives.html")} <= conversion
    # bought at any time, for all customers and per segment (the 40-69%), is not the conversion rate
    bought = by_metric["bought_any_time"]
    assert ("customers in the log", whole, "03_touchpoints.html") in bought
    assert len({pop for pop, _, page in bought if page == "02_segmentation.html" and "segment" in pop}) >= 4
    # reaching the purchase stage of the funnel (the map's 66%) has its own name
    assert any(m.startswith("reached_stage:") for m in by_metric)
    names = {f["metric"].split(":")[0]: f["name"] for f in figures}
    assert len({names["conversion_rate"], names["bought_any_time"], names["reached_stage"]}) == 3


def test_now_means_the_same_months_for_every_kpi(demo_pages, processed):
    _, _, figures = demo_pages
    objectives = processed["objectives"]
    assert objectives[["current_start", "current_end"]].drop_duplicates().shape[0] == 1
    current = Period.of(objectives["current_start"].iloc[0], objectives["current_end"].iloc[0]).iso
    assert current == "2025-07-01/2025-09-30"  # the latest quarter the 90-day repeat horizon has followed
    baselines = {Period.of(a, b).iso for a, b in zip(objectives["baseline_start"], objectives["baseline_end"])}
    # the objectives' figures on the index: the KPIs over their whole population (not a stage's answers)
    on_index = {(f["metric"], f["period"]) for f in figures if f["page"] == "index.html" and f["metric"] in KPIS
                and f["population"] == get_metric(f["metric"]).population}
    # every objective's KPI is shown on the index for the one current period, and for no other "now"
    assert {(k, current) for k in objectives["kpi"]} <= on_index
    assert {p for _, p in on_index} <= baselines | {current}


def _unmarked_text(soup: BeautifulSoup) -> str:
    """The page's prose without its tables and figures, every marked figure replaced by [figure]."""
    soup = copy.copy(soup)
    for tag in soup(["script", "style", "table", "svg", "img", "title", "head"]):
        tag.decompose()
    for span in soup.select("span.cx-figure"):
        span.replace_with("[figure]")
    return re.sub(r"\s+", " ", soup.get_text(" "))


# a conversion-like number in prose: a share on either side of "conversion", "converted",
# "bought", "reached a/the goal", "reach <a journey stage>" or "go on to" (a touchpoint's reach or
# drop-off is another quantity); a confidence level ("95% interval") is not a figure
_STAGES = "awareness|consideration|purchase|service|loyalty"  # the demo's journey stages
_CONVERSION_WORDS = (rf"(?:conver\w*|bought|reach(?:ed|es)? (?:a |the )?goal|reach(?:ed|es)? (?:the )?(?:{_STAGES})\b"
                     r"|go(?:es)? on to)")
_SHARE = r"\b\d+(?:\.\d+)?\s?%(?! ?(?:interval|confidence|CI\b|band|bootstrap|Wilson))"
_UNMARKED = re.compile(rf"(?i)\b{_CONVERSION_WORDS}[^.;%\[\]]{{0,50}}?{_SHARE}"
                       rf"|{_SHARE}[^.;%\[\]]{{0,40}}?\b{_CONVERSION_WORDS}")


def test_no_bare_conversion_number_in_the_prose_of_any_page(demo_pages):
    _, pages, _ = demo_pages
    bare = {name: [m.group(0) for m in _UNMARKED.finditer(_unmarked_text(soup))] for name, soup in pages.items()}
    assert not {k: v for k, v in bare.items() if v}, bare


def test_the_check_finds_a_bare_conversion_number():
    soup = BeautifulSoup("<p>Of all customers 56.7% reached a goal.</p><p>Conversion is 49.4% now.</p>"
                         "<p>The funnel with 95% intervals on the step conversion.</p>"
                         "<p>50% of the 2,818 customers who reached it ended there.</p>"
                         "<table><tr><td>conversion</td><td>64.7%</td></tr></table>"
                         f"<p>{figures_html(mark('conversion_rate', 0.494, period=('2025-07-01', '2025-09-30')))}"
                         " of new customers converted.</p>", "html.parser")
    assert [m.group(0) for m in _UNMARKED.finditer(_unmarked_text(soup))] == ["56.7% reached a goal",
                                                                             "Conversion is 49.4%"]


def _span(figures, metric, population, period, page) -> str:
    [value] = {f["value"] for f in figures if (f["metric"], f["population"], f["period"], f["page"])
               == (metric, population, period, page)}
    return value


def _whole_log(events: pd.DataFrame) -> str:
    """The days the log covers, as an ISO interval."""
    return Period.of(events["timestamp"].min(), events["timestamp"].max()).iso


def _conversion(events: pd.DataFrame, goals: set, days: int, start, end) -> float:
    """New customers first seen in [start, end] whose window ends inside the log (observed to the
    end of the last event's day), converted when a goal event follows within ``days``."""
    first = events.groupby("customer_id")["timestamp"].min()
    observed_until = events["timestamp"].max().normalize() + pd.Timedelta(days=1)
    window = pd.Timedelta(days=days)
    cohort = first[(first >= start) & (first < end + pd.Timedelta(days=1)) & (first + window <= observed_until)]
    goal = events[events["touchpoint"].isin(goals)][["customer_id", "timestamp"]].merge(
        cohort.rename("first").reset_index(), on="customer_id")
    converted = goal[goal["timestamp"] <= goal["first"] + window]["customer_id"].nunique()
    return converted / len(cohort)


def test_the_pages_figures_match_an_independent_computation(demo_pages, processed):
    _, _, figures = demo_pages
    ev, surveys, objectives = processed["events"], processed["surveys"], processed["objectives"]
    start, end = objectives["current_start"].iloc[0], objectives["current_end"].iloc[0]
    current = Period.of(start, end).iso
    day0, day1 = ev["timestamp"].min().normalize(), ev["timestamp"].max().normalize()
    whole = _whole_log(ev)
    conv_now = _conversion(ev, processed["goals"], processed["window_days"], start, end)
    conv_whole = _conversion(ev, processed["goals"], processed["window_days"], day0, day1)
    for page in ("index.html", "01_objectives.html"):
        assert _span(figures, "conversion_rate", "new customers", current, page) == f"{conv_now:.1%}"
    assert _span(figures, "conversion_rate", "new customers", whole, "01_objectives.html") == f"{conv_whole:.1%}"
    answered = surveys.dropna(subset=["csat"])
    in_period = answered[(answered["timestamp"] >= start) & (answered["timestamp"] < end + pd.Timedelta(days=1))]
    for page in ("index.html", "01_objectives.html"):
        assert _span(figures, "csat_mean", "survey answers", current, page) == f"{in_period['csat'].mean():.2f}"
    assert _span(figures, "csat_mean", "survey answers", whole, "01_objectives.html") == f"{answered['csat'].mean():.2f}"
    buyers = ev.loc[ev["touchpoint"].isin(processed["goals"]), "customer_id"].nunique()
    bought = buyers / ev["customer_id"].nunique()
    assert _span(figures, "bought_any_time", "customers in the log", whole, "03_touchpoints.html") == f"{bought:.1%}"
    # the three differ, which is why they need three names: the whole log's conversion is not "now"
    assert len({f"{conv_now:.1%}", f"{conv_whole:.1%}", f"{bought:.1%}"}) == 3
