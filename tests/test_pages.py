"""The pages of a run as a team reads them (issue 15.4, 15.7): small enough to open at once,
plotly.js once per run folder and loading offline from disk, long tables folded under a contents
list, and numbers in human units — no 'nan', 'None', Python dicts, 'inf' or customer ids in the
visible text. The page tests read the shared demo run (``demo_run`` in conftest.py); the units
are checked against hand-computed values."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from cxlab import units
from cxlab.errors import StudyError
from cxlab.notebook import display
from cxlab.report.html import PLOTLY_ASSET, PLOTLY_SIGNATURE

MAX_PAGE_BYTES = 3_000_000


def _pages(run) -> list[Path]:
    return [run.index] + [run.run_dir / s.html for s in run.stages if s.html]


class _Page(HTMLParser):
    """What a reader sees of a page (text outside scripts, styles and the title), its h2
    sections, the contents list's links, and each table's rows and whether it sits in a fold."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.h2_ids: list[str] = []
        self.toc_links: list[str] = []
        self.tables: list[dict] = []  # {"rows": n, "folded": bool}
        self._hidden = 0
        self._in_toc = False
        self._details = 0
        self._open_tables: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "style", "title"):
            self._hidden += 1
        elif tag == "h2" and a.get("id"):
            self.h2_ids.append(a["id"])
        elif tag == "nav" and "cx-toc" in (a.get("class") or ""):
            self._in_toc = True
        elif tag == "a" and self._in_toc and (a.get("href") or "").startswith("#"):
            self.toc_links.append(a["href"][1:])
        elif tag == "details":
            self._details += 1
        elif tag == "table" and "cx-table" in (a.get("class") or ""):
            self._open_tables.append({"rows": 0, "folded": self._details > 0})
        elif tag == "tr" and self._open_tables:
            self._open_tables[-1]["rows"] += 1
        if tag in ("p", "li", "tr", "td", "th", "div", "h1", "h2", "h3", "br"):
            self.text.append(" ")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "title"):
            self._hidden -= 1
        elif tag == "nav":
            self._in_toc = False
        elif tag == "details":
            self._details -= 1
        elif tag == "table" and self._open_tables:
            table = self._open_tables.pop()
            table["rows"] -= 1  # the heading row
            self.tables.append(table)

    def handle_data(self, data):
        if not self._hidden:
            self.text.append(data)

    @property
    def visible(self) -> str:
        return re.sub(r"\s+", " ", "".join(self.text))


def _read(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


# --------------------------------------------------------------------------- weight
@pytest.mark.slow
def test_every_page_of_the_demo_run_is_under_3_mb_with_plotly_js_once_in_the_run_folder(demo_run):
    import plotly

    pages = _pages(demo_run)
    assert len(pages) == 8  # the index and the seven stage pages
    charted = []
    for path in pages:
        text = path.read_text(encoding="utf-8")
        assert path.stat().st_size < MAX_PAGE_BYTES, f"{path.name}: {path.stat().st_size:,} bytes"
        assert text.count(PLOTLY_SIGNATURE) <= 1, f"{path.name} carries plotly.js more than once"
        if 'class="plotly-graph-div"' in text:
            charted.append(path.name)
            assert text.count(f'src="{PLOTLY_ASSET}"') == 1, f"{path.name} does not load plotly.js once"
    assert "03_touchpoints.html" in charted  # the Sankey diagrams: the page that carried plotly.js twice
    # one copy for the whole run, the very file of the installed plotly package (nothing downloaded)
    asset = demo_run.run_dir / PLOTLY_ASSET
    installed = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert asset.read_bytes() == installed.read_bytes()
    assert asset.read_text(encoding="utf-8").count(PLOTLY_SIGNATURE) == 1
    assert [p.name for p in demo_run.run_dir.rglob("*.js")] == ["plotly.min.js"]


@pytest.mark.slow
@pytest.mark.browser
def test_charts_draw_from_the_run_folders_plotly_js_opened_from_disk_in_chromium(demo_run):
    """The page's scripts load from file:// under its Content-Security-Policy: no refused script,
    no error, every chart drawn."""
    from playwright.sync_api import sync_playwright
    from test_browser import CHROMIUM_ARGS, _chromium

    chromium = _chromium()
    pages = [p for p in _pages(demo_run) if 'class="plotly-graph-div"' in p.read_text(encoding="utf-8")]
    assert pages
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
        for path in pages:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("requestfailed", lambda req: errors.append(f"failed: {req.url}"))
            page.goto(path.resolve().as_uri(), wait_until="load")
            page.wait_for_timeout(500)
            assert errors == [], f"{path.name}: {errors}"
            assert page.evaluate("typeof Plotly") == "object"
            charts = page.evaluate("document.querySelectorAll('.plotly-graph-div').length")
            drawn = page.evaluate("document.querySelectorAll('.plotly-graph-div .main-svg').length")
            assert charts >= 1 and drawn >= charts, f"{path.name}: {drawn} drawings for {charts} charts"
            page.close()
        browser.close()


@pytest.mark.slow
def test_stage_pages_read_in_sections_with_a_contents_list_and_long_tables_folded(demo_run):
    folded = 0
    for path in _pages(demo_run)[1:]:
        page = _read(path)
        if len(page.h2_ids) >= 2:
            assert page.toc_links == page.h2_ids, f"{path.name}: the contents list misses sections"
        for table in page.tables:
            assert table["folded"] == (table["rows"] > display.FOLD_ROWS), f"{path.name}: {table}"
            folded += table["folded"]
    assert folded >= 3  # the touchpoint inventory (23 rows) among them


# --------------------------------------------------------------------------- leftovers
@pytest.mark.slow
def test_the_visible_text_of_every_page_has_no_nan_none_dict_inf_or_customer_id(demo_run):
    study = demo_run.home / "data" / "raw" / "demo"
    ids = set(pd.read_csv(study / "customers.csv", usecols=["customer_id"]).customer_id.astype(str))
    assert len(ids) == 20_000
    for path in _pages(demo_run):
        text = _read(path).visible
        leftovers = re.findall(r"\b(?:nan|NaN|None|inf|-inf)\b|\{'|\['", text)
        assert leftovers == [], f"{path.name}: {leftovers} in {text[:200]!r}…"
        named = ids & set(re.findall(r"[A-Za-z0-9_\-]+", text))
        assert named == set(), f"{path.name} shows customer ids {sorted(named)[:5]}"


@pytest.mark.slow
def test_money_on_the_demo_pages_carries_the_currency_without_cents_from_100(demo_run):
    segmentation = _read(demo_run.run_dir / "02_segmentation.html").visible
    objectives = _read(demo_run.run_dir / "01_objectives.html").visible
    # persona cards: revenue per customer of each segment, in euros
    amounts = re.findall(r"revenue per customer: (\S+)", segmentation)
    assert len(amounts) == 4 and all(a.startswith("€") for a in amounts)
    assert all(re.fullmatch(r"€\d{1,2}\.\d\d|€\d{3}|€\d{1,3}(,\d{3})+", a) for a in amounts), amounts
    total = re.search(r"spent (\S+) in total", objectives).group(1)
    assert re.fullmatch(r"€\d{1,3}(,\d{3})+", total), total  # millions of euros, no cents


# --------------------------------------------------------------------------- the units
@pytest.mark.parametrize("value, expected", [
    (600.0, "600"), (12345, "12,345"), (1_234_567.6, "1,234,568"), (float("nan"), "–"), (None, "–"),
    (pd.NA, "–"), (float("inf"), "∞"),
])
def test_a_count_is_a_whole_number_with_separators(value, expected):
    assert units.fmt_count(value) == expected


@pytest.mark.parametrize("value, currency, expected", [
    (28.384, "EUR", "€28.38"), (99.994, "EUR", "€99.99"), (99.996, "EUR", "€100"), (245.42, "EUR", "€245"),
    (2_872_559.13, "USD", "$2,872,559"), (-12.5, "GBP", "−£12.50"), (245.42, "CHF", "245 CHF"),
    (1500, "€", "€1,500"), (float("nan"), "EUR", "–"), (None, "EUR", "–"),
])
def test_money_has_the_currency_and_cents_only_below_100(value, currency, expected):
    assert units.fmt_money(value, currency) == expected


@pytest.mark.parametrize("value, unit, expected", [
    (0.02, "hours", "1.2 minutes"),  # the '0.02 hours' of issue 15.7: 72 seconds
    (0.5 / 60, "hours", "30 seconds"), (1, "hours", "1 hour"), (33.2, "hours", "33 hours"),
    (130, "hours", "5.4 days"),  # 130 / 24 = 5.42
    (0.23, "days", "5.5 hours"),  # 0.23 × 24 = 5.52
    (10.11, "days", "10 days"), (1, "days", "24 hours"), (800, "days", "2.2 years"),  # 800 / 365.25 = 2.19
    (0, "hours", "0 minutes"), (float("nan"), "hours", "–"),
])
def test_a_duration_is_shown_in_the_unit_its_size_calls_for(value, unit, expected):
    assert units.fmt_duration(value, unit) == expected


def test_a_table_formats_counts_money_durations_and_missing_values_by_their_names():
    frame = pd.DataFrame({
        "customers": [600.0, 1234.0],  # counts stored as floats
        "median_hours_to_next": [0.02, 41.1],
        "revenue_per_customer": [19.42, 583.88],
        "revenue_share": [0.125, 0.875],
        "events_per_active_day": [2.5, 3.25],  # a rate, not a duration
        "mean_days_since_last_order": [27.05, None],
        "note": [None, float("nan")],
        "topics": [{"payment": ["card", "declined"]}, ["a", "b"]],
    })
    units.use_currency("EUR")
    html = display.table_html(frame, formats={"mean_days_since_last_order": "num"})
    head = re.findall(r"<th class=[^>]*>(.*?)</th>", html)
    assert head == ["customers", "median time to next", "revenue per customer", "revenue share",
                    "events per active day", "mean time since last order", "note", "topics"]
    cells = re.findall(r"<td class=[^>]*>(.*?)</td>", html)
    assert cells[:8] == ["600", "1.2 minutes", "€19.42", "12.5%", "2.50", "27 days", "–",
                         "payment: card, declined"]
    assert cells[8:] == ["1,234", "41 hours", "€584", "87.5%", "3.25", "–", "–", "a, b"]


def test_a_table_longer_than_a_screen_folds_and_keeps_its_caption_in_view():
    long = display.table_html(pd.DataFrame({"k": range(display.FOLD_ROWS + 1)}), caption="All rows.")
    short = display.table_html(pd.DataFrame({"k": range(display.FOLD_ROWS)}), caption="All rows.")
    assert long.index("<details") < long.index("<table") < long.index("</details>") < long.index("All rows.")
    assert "Show the table (13 rows)" in long and "<details" not in short


def test_the_study_names_its_currency_and_a_stage_page_shows_money_in_it(make_study, monkeypatch):
    from cxlab.notebook import open_stage
    from cxlab.study import Study

    events = pd.DataFrame({"customer_id": ["c1", "c1"], "timestamp": ["2025-01-01", "2025-01-02"],
                           "touchpoint": ["ad", "buy"]})
    pounds = make_study("pounds", events=events, currency="GBP")
    plain = make_study("plain", events=events)
    assert Study.load(pounds).currency == "GBP" and Study.load(plain).currency == "EUR"
    try:
        open_stage(pounds, "intake")
        assert display.fmt_money(1234.5) == "£1,234"
        open_stage(plain, "intake")
        assert display.fmt_money(1234.5) == "€1,234"
    finally:
        units.use_currency(None)


@pytest.mark.parametrize("currency", [12, "12 EUR", "", "EURO DOLLAR"])
def test_a_currency_that_is_not_a_code_or_sign_is_refused_naming_the_key(make_study, currency):
    from cxlab.study import Study

    events = pd.DataFrame({"customer_id": ["c1"], "timestamp": ["2025-01-01"], "touchpoint": ["buy"]})
    folder = make_study(events=events, currency=currency)
    with pytest.raises(StudyError, match=r"'currency': expected a currency"):
        Study.load(folder)


def test_run_parameters_on_the_index_read_as_words_not_python(tmp_path):
    """The run details list a mapping parameter (the pain-point topics) as 'key: values; …'."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("cxlab", "templates"), autoescape=True)
    source = env.loader.get_source(env, "index.html.j2")[0]
    macro = re.search(r"\{% macro plain\(v\) %\}.*?\{% endmacro %\}", source, re.S).group(0)
    render = env.from_string(macro + "{{ plain(v) }}")
    topics = {"payment": ["card", "declined"], "delivery": ["late"]}
    assert render.render(v=topics) == "payment: card, declined; delivery: late"
    assert render.render(v=None) == "–" and render.render(v="payment_error") == "payment_error"
