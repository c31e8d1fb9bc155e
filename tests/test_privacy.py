"""Redaction, safe Markdown, failed stages' output and the sentiment store (cxlab.privacy,
cxlab.notebook.display, cxlab.sentiment).

The corpus is the documented rule set of cxlab.privacy: each text with personal data is
redacted to exactly the expected string, and each text without any comes back unchanged.
References: the Luhn check against published test card numbers and a second implementation;
hashes against hashlib; scores against VADER itself; Markdown rendered by nbconvert's renderer."""
from __future__ import annotations

import hashlib
import os
import random
import re

import nbformat
import pandas as pd
import pytest
from conftest import log

from cxlab import data, sentiment
from cxlab.notebook import display
from cxlab.privacy import (PLACEHOLDER, luhn_valid, markdown_text, redact, redact_error, redact_notebook,
                           redact_notebook_file, safe_text)
from cxlab.study import Study

# --------------------------------------------------------------------------- the corpus
WITH_PII = [
    ('Please refund card 4111111111111111 today',
     'Please refund card [card] today'),
    ('My card is 4111 1111 1111 1111, exp 12/27',
     'My card is [card], exp 12/27'),
    ('Charged twice on 5500-0000-0000-0004!',
     'Charged twice on [card]!'),
    ('Amex 3782 822463 10005 was declined',
     'Amex [card] was declined'),
    ('Use 378282246310005 instead',
     'Use [card] instead'),
    ('Call me on 07700 900123.',
     'Call me on [phone].'),
    ('From abroad dial 0044 7700 900123 please',
     'From abroad dial [phone] please'),
    ('Berlin office: 030 1234567',
     'Berlin office: [phone]'),
    ('ring me back on +44 20 7946 0958 please',
     'ring me back on [phone] please'),
    ('My number is (555) 123-4567',
     'My number is [phone]'),
    ('Phone: 555.123.4567',
     'Phone: [phone]'),
    ('mobile 07700900123 any time',
     'mobile [phone] any time'),
    ('Tel +49 30 1234567',
     'Tel [phone]'),
    ('Call 7946 0958 after six',
     'Call [phone] after six'),
    ('+353 1 555 0198 is my work line',
     '[phone] is my work line'),
    ('Pay into GB82 WEST 1234 5698 7654 32 thanks',
     'Pay into [iban] thanks'),
    ('IBAN: DE89370400440532013000',
     'IBAN: [iban]'),
    ('FR14 2004 1010 0505 0001 3M02 606 is my French account',
     '[iban] is my French account'),
    ('Sort code 12-34-56 account 12345678',
     'Sort code [bank account]'),
    ('Refund to 12-34-56 12345678 please',
     'Refund to [bank account] please'),
    ('account number 31926819 was debited',
     'account number [bank account] was debited'),
    ('Write to jane(at)gmail.com',
     'Write to [email]'),
    ('jane [at] gmail [dot] com is best',
     '[email] is best'),
    ('email me: jane at gmail dot com',
     'email me: [email]'),
    ('Reply to bob@localhost',
     'Reply to [email]'),
    ('jane.doe+cx@example.co.uk wrote this',
     '[email] wrote this'),
    ('I am Jane Doe and I want a refund',
     'I am [name] and I want a refund'),
    ("Hi, I'm Tom. The app crashed.",
     "Hi, I'm [name]. The app crashed."),
    ("my name is Mary-Ann O'Neil",
     'my name is [name]'),
    ('Regards, Jane',
     'Regards, [name]'),
    ('Great service. Thanks, Bob.',
     'Great service. Thanks, [name].'),
    ('Kind regards\nJane Smith',
     'Kind regards\n[name]'),
    ('Awful wait.\nCheers,\nTom Jones',
     'Awful wait.\nCheers,\n[name]'),
    ('Refund please\n- Priya',
     'Refund please\n- [name]'),
    ('Dear Sarah, your courier lost my parcel',
     'Dear [name], your courier lost my parcel'),
    ('Mr Smith at the branch was rude',
     'Mr [name] at the branch was rude'),
    ('Spoke to Sarah who was lovely',
     'Spoke to [name] who was lovely'),
    ('The agent Kevin hung up on me',
     'The agent [name] hung up on me'),
    ('an advisor named Li Wei sorted it',
     'an advisor named [name] sorted it'),
    ('Deliver to 12 Baker Street, London NW1 6XE',
     'Deliver to [address], London [postcode]'),
    ('I live at 221B Baker St. near the park',
     'I live at [address] near the park'),
    ('moved to 14 elm grove last year',
     'moved to [address] last year'),
    ('Sent to 1600 Pennsylvania Avenue NW, Washington DC 20500 by mistake',
     'Sent to [address] NW, Washington DC [postcode] by mistake'),
    ('Lieferung an Hauptstraße 5 kam nie an',
     'Lieferung an [address] kam nie an'),
    ('Berliner Straße 12, 10115 Berlin',
     '[address], 10115 Berlin'),
    ('Livré au 12 rue de la Paix hier',
     'Livré au [address] hier'),
    ('Warehouse at 5 Market Square, Leeds LS1 6DT',
     'Warehouse at [address], Leeds [postcode]'),
    ('Office in San Francisco, CA 94105 never answered',
     'Office in San Francisco, CA [postcode] never answered'),
    ('Login from 81.2.69.142 was not me',
     'Login from [ip address] was not me'),
    ("Card 4111111111111111, phone 07700 900123, mail jane@example.com, I'm Jane",
     "Card [card], phone [phone], mail [email], I'm [name]"),
]

WITHOUT_PII = [
 "Delivered on 2025-01-03 at 10:00, two days late.",
 "Paid £1,234.56 for order 1234567890123456 and got 15% off.",
 "Order #100234567 arrived damaged.",
 "Order ref 123456789 still not shipped.",
 "Invoice 2024-0012345 was charged twice.",
 "The app crashed 3 times between 14:05 and 14:30 on 03/01/2025.",
 "Refund of $49.99 still not received after 21 days.",
 "The total was €1.234,56 including VAT.",
 "Prices went up by 12.5% in March 2025.",
 "Waited 45 minutes on the phone, the call centre was useless.",
 "I am very disappointed with the service.",
 "I'm Not happy at all.",
 "Thanks for nothing.",
 "Best service I have had in years, 10/10.",
 "Tracking number 1Z999AA10123456784 shows nothing.",
 "Version 2.3.1 of the app fixed the login bug.",
 "I waited 3 days on the road for the courier.",
 "Customer Service were great, thanks!",
 "Dear Sir or Madam, the parcel never came.",
 "Spoke to customer service three times.",
 "I spoke to Customer Services on Monday.",
 "Store 42 on Baker Street was closed.",
 "Rated 9 out of 10.",
 "My account was charged twice on 12.05.2025.",
 "Your website says 1,000,000 happy customers.",
 "Delivery slot 08:00-12:00 was missed on 3.1.2025.",
 "Ticket 2025-000123 was closed without a reply.",
 "We ordered 2 sofas for 1 299 EUR each.",
 "Customer number 123456789 has two accounts.",
 "Between 2019 2020 and 2021 prices rose.",
 "New checkout is 2x faster! Best, the team",
 "Amazon delivered 3 parcels on 01-02-25.",
 "Thanks, great app.",
 "I am English and live in York.",
 "Page loads take 12.5 seconds; 3 of 4 attempts fail.",
]


def test_the_corpus_is_large_enough_to_mean_something():
    assert len(WITH_PII) >= 40 and len(WITHOUT_PII) >= 20
    assert len({t for t, _ in WITH_PII}) == len(WITH_PII) and len(set(WITHOUT_PII)) == len(WITHOUT_PII)


@pytest.mark.parametrize("text, expected", WITH_PII)
def test_personal_data_is_redacted_to_exactly_the_placeholders(text, expected):
    assert redact(text) == expected
    assert redact(expected) == expected  # redacting twice changes nothing


@pytest.mark.parametrize("text", WITHOUT_PII)
def test_text_without_personal_data_comes_back_unchanged(text):
    assert redact(text) == text


def test_every_placeholder_of_the_corpus_is_one_topic_modelling_can_remove():
    found = set()
    for _, expected in WITH_PII:
        found |= set(re.findall(r"\[[a-z ]+\]", expected))
    assert found == {"[email]", "[card]", "[iban]", "[bank account]", "[phone]", "[ip address]", "[address]",
                     "[postcode]", "[name]"}
    assert all(PLACEHOLDER.fullmatch(p) for p in found)


def test_missing_values_become_empty_text():
    assert redact(None) == "" and redact(float("nan")) == ""
    assert redact(4111111111111111) == "[card]"  # a number that reached us as a number


# --------------------------------------------------------------------------- Luhn
def _luhn_reference(number: str) -> bool:
    """Luhn as the standard (ISO/IEC 7812-1) writes it: double every second digit from the
    right, add the digits of the products, the total is a multiple of 10."""
    total = 0
    for position, ch in enumerate(number[::-1], start=1):
        product = int(ch) * (2 if position % 2 == 0 else 1)
        total += sum(int(d) for d in str(product))
    return total % 10 == 0


def test_luhn_accepts_published_test_cards_and_agrees_with_the_standard_everywhere():
    # test numbers published by card networks and payment processors
    for card in ["4111111111111111", "4012888888881881", "5555555555554444", "5105105105105100",
                 "378282246310005", "371449635398431", "6011111111111117", "3530111333300000",
                 "30569309025904"]:
        assert luhn_valid(card)
    for wrong in ["4111111111111112", "1234567890123456", "378282246310006"]:
        assert not luhn_valid(wrong)
    rng = random.Random(17)
    numbers = ["".join(rng.choice("0123456789") for _ in range(rng.randint(12, 19))) for _ in range(2000)]
    assert [luhn_valid(n) for n in numbers] == [_luhn_reference(n) for n in numbers]
    assert 150 < sum(luhn_valid(n) for n in numbers) < 250  # about one in ten


def test_a_long_number_is_a_card_only_when_it_passes_luhn():
    valid = "4012888888881881"
    invalid = valid[:-1] + "2"
    assert redact(f"order {valid}") == "order [card]"
    assert redact(f"order {invalid}") == f"order {invalid}"


# --------------------------------------------------------------------------- Markdown
HOSTILE = ["[x](javascript:alert(1))", "![](https://tracker.example/p.gif)", "<img src=x onerror=alert(1)>",
           "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)", "<https://tracker.example/a>",
           "https://tracker.example/auto.gif", "<script>alert(1)</script>", "**bold** _it_ `code` # h",
           "[ref]: javascript:alert(1)", "&lt;img src=x&gt;"]


def _render(markdown: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return markdown2html_mistune(markdown)


@pytest.mark.parametrize("value", HOSTILE)
def test_a_value_in_markdown_shows_as_written_and_is_never_a_link_image_or_tag(value):
    html = _render(display.markdown_source("Goal: {goal}", goal=value))
    assert "<a " not in html and "<img" not in html and "<script" not in html
    # what the reader sees is the value itself, character for character
    text = re.sub(r"<[^>]+>", "", html)
    import html as html_module

    assert html_module.unescape(text).strip() == f"Goal: {value}"


def test_markdown_text_redacts_and_keeps_line_breaks_out():
    assert markdown_text("mail jane@example.com\nnow") == "mail \\[email\\] now"
    assert _render(markdown_text("a\n# heading")).strip() == "<p>a # heading</p>"


def test_template_links_go_only_to_http_or_the_report_and_template_images_never_load_from_outside():
    md = display.markdown_source(
        "[map]({png}) [site](https://example.com/a) [bad]({url}) [worse](JaVaScRiPt:alert(1)) "
        "![logo](https://tracker.example/p.gif) ![map](journey_map.png) [x](vbscript:msgbox)",
        png="journey_map.png", url="javascript:alert(1)")
    html = _render(md)
    hrefs = re.findall(r'href="([^"]*)"', html)
    srcs = re.findall(r'src="([^"]*)"', html)
    assert hrefs == ["journey_map.png", "https://example.com/a"]
    assert srcs == ["journey_map.png"]


def test_a_rendered_report_page_of_hostile_values_has_no_live_link_remote_image_or_pii(tmp_path):
    from cxlab.report.html import render_notebook

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    cell = nbformat.v4.new_code_cell("show_markdown(...)")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        "text/markdown": display.markdown_source("Objective **{goal}**, treated {treated}, said: {quote}",
                                                 goal=v, treated="<img src=x onerror=alert(1)>",
                                                 quote="call 07700 900123 or jane@example.com")})
        for v in HOSTILE]
    nb.cells = [cell]
    path = tmp_path / "page.ipynb"
    nbformat.write(nb, path)
    page = render_notebook(path, tmp_path / "page.html").read_text()
    head, body = page.split("<body", 1)
    # the page itself refuses to load anything from outside (images only from data: URLs)
    csp = [m for m in re.findall(r"<meta[^>]*>", head) if 'http-equiv="Content-Security-Policy"' in m]
    assert len(csp) == 1
    for rule in ("default-src 'none'", "img-src data: blob:", "connect-src 'none'", "form-action 'none'"):
        assert rule in csp[0]
    assert not re.search(r'href\s*=\s*["\']?\s*javascript:', body, re.I)
    assert not re.search(r'<img[^>]+src\s*=\s*["\']?\s*(https?:)?//', body, re.I)
    assert "onerror=alert(1)>" not in body.replace("&gt;", ">").split("&lt;img")[0]
    assert "<img src=x" not in body
    assert "07700 900123" not in body and "jane@example.com" not in body
    assert body.count("[phone]") == len(HOSTILE) and body.count("[email]") == len(HOSTILE)


def test_findings_captions_and_table_headers_are_redacted(monkeypatch):
    shown = []
    monkeypatch.setattr(display, "_display", shown.append)
    display.show_findings(["Call 07700 900123 <b>now</b>"], title="Findings for jane@example.com")
    display.caption("Quote: my name is Jane Doe")
    assert shown[0] == ('<div class="cx-findings"><strong>Findings for [email]</strong>'
                        "<ul><li>Call [phone] &lt;b&gt;now&lt;/b&gt;</li></ul></div>")
    assert shown[1] == '<p class="cx-caption">Quote: my name is [name]</p>'
    table = display.table_html(pd.DataFrame({"bob@localhost": ["x"]}))
    assert "bob@localhost" not in table and "[email]" in table
    assert safe_text("<b>jane@example.com</b>") == "&lt;b&gt;[email]&lt;/b&gt;"


# --------------------------------------------------------------------------- failed stages
ANSI_TRACE = ("\x1b[0;31mKeyError\x1b[0m: 'jane@example.com'",
              "\x1b[0;32mFile \x1b[0;34m/tmp/x.py:3\x1b[0m",
              "customer = lookup(\x1b[38;5;124m'07700 900123'\x1b[39m)")


def _failed_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    cell = nbformat.v4.new_code_cell("analyze()")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="scoring Great app, write to jane@example.com\n"),
        nbformat.v4.new_output("stream", name="stderr", text="warning: 4111 1111 1111 1111 looks odd\n"),
        nbformat.v4.new_output("display_data", data={"text/plain": "Regards, Jane",
                                                     "text/html": "<p>kept as the helpers made it</p>"}),
        nbformat.v4.new_output("error", ename="KeyError", evalue="'jane@example.com'", traceback=list(ANSI_TRACE)),
    ]
    nb.cells = [cell]
    return nb


def test_a_failed_stage_notebook_keeps_no_personal_data_in_streams_errors_or_text():
    nb = _failed_notebook()
    clean = redact_notebook(nb)
    out = clean.cells[0].outputs
    assert out[0]["text"] == "scoring Great app, write to [email]\n"
    assert out[1]["text"] == "warning: [card] looks odd\n"
    assert out[2]["data"] == {"text/plain": "Regards, [name]", "text/html": "<p>kept as the helpers made it</p>"}
    assert (out[3]["ename"], out[3]["evalue"]) == ("KeyError", "'[email]'")
    # colour codes stay on lines without personal data, a line that had some loses them
    assert out[3]["traceback"] == ["KeyError: '[email]'", ANSI_TRACE[1], "customer = lookup('[phone]')"]
    assert nb.cells[0].outputs[0]["text"].endswith("jane@example.com\n")  # a copy: the original is untouched


def test_a_failed_stage_page_rendered_from_the_redacted_file_shows_no_personal_data(tmp_path):
    from cxlab.report.html import render_notebook

    path = tmp_path / "03_failed.ipynb"
    nbformat.write(_failed_notebook(), path)
    redact_notebook_file(path)
    assert "jane@example.com" not in path.read_text()
    page = render_notebook(path, tmp_path / "03_failed.html", failed=True).read_text()
    assert "jane@example.com" not in page and "4111 1111" not in page and "07700" not in page
    assert page.count("[email]") == 2  # stdout and the traceback (which shows the error's value)


def test_an_error_message_is_redacted_for_run_json_and_the_terminal():
    from papermill.exceptions import PapermillExecutionError

    exc = PapermillExecutionError(3, 4, "analyze()", "ValueError", "no customer jane@example.com (07700 900123)",
                                  list(ANSI_TRACE))
    assert redact_error(exc) == "ValueError: no customer [email] ([phone])"
    assert redact_error(KeyError("bob@localhost")) == "KeyError: 'bob@localhost'".replace("bob@localhost", "[email]")
    assert redact_error("\x1b[0;31mfailed\x1b[0m for Mr Smith") == "failed for Mr [name]"
    long = redact_error("x" * 10_000, limit=100)
    assert long == "x" * 100 + " … (9,900 more characters)"
    assert redact_error(None) == ""


# --------------------------------------------------------------------------- the sentiment store
def test_the_sentiment_store_keeps_hashes_and_scores_never_the_texts(make_study):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    folder = make_study(events=log(("c1", "2025-01-01 10:00", "ad")))
    study = data.ensure_clean(Study.load(folder))
    sentiment.forget(study)
    texts = pd.Series(["Awful, call me on 07700 900123", "Great app!", "Awful, call me on 07700 900123", None])
    scores = sentiment.study_sentiment(study, texts)
    stored = pd.read_parquet(study.processed(sentiment.SCORES_FILE))
    assert list(stored.columns) == ["text_sha256", "sentiment"]
    expected_keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in ["Awful, call me on 07700 900123",
                                                                               "Great app!"]]
    assert sorted(stored["text_sha256"]) == sorted(expected_keys)
    vader = SentimentIntensityAnalyzer()
    by_key = stored.set_index("text_sha256")["sentiment"]
    assert by_key[expected_keys[1]] == pytest.approx(vader.polarity_scores("Great app!")["compound"])
    assert scores[0] == scores[2] == pytest.approx(vader.polarity_scores(texts[0])["compound"])
    for name in (sentiment.SCORES_FILE, f"{sentiment.SCORES_NAME}.json"):
        raw = study.processed(name).read_bytes()
        assert b"07700" not in raw and b"Great app" not in raw and b"Awful" not in raw
    sentiment.forget(study)


def test_a_store_of_an_older_cxlab_holding_texts_is_replaced_by_one_of_hashes(make_study):
    folder = make_study(events=log(("c1", "2025-01-01 10:00", "ad")))
    study = data.ensure_clean(Study.load(folder))
    data.keep_for_clean(study, sentiment.SCORES_NAME, pd.DataFrame({"text": ["Great app!"], "sentiment": [0.9]}))
    sentiment.forget()
    score = sentiment.study_sentiment(study, pd.Series(["Great app!"]))
    stored = pd.read_parquet(study.processed(sentiment.SCORES_FILE))
    assert list(stored.columns) == ["text_sha256", "sentiment"] and len(stored) == 1
    assert score[0] == pytest.approx(0.6588)  # scored again, not the old store's 0.9
    sentiment.forget(study)


def test_long_texts_are_scored_on_their_first_5000_characters_and_the_page_can_say_so():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sentiment.forget()
    long = ("The agent was rude and the app keeps crashing. " * 1100)[:50_000]
    scores = sentiment.sentiment(pd.Series([long, "Great app!"]))
    vader = SentimentIntensityAnalyzer()
    assert scores[0] == pytest.approx(vader.polarity_scores(long[:5_000])["compound"])
    assert scores[1] == pytest.approx(vader.polarity_scores("Great app!")["compound"])
    assert sentiment.truncation_note(pd.Series([long, "Great app!", None])) == (
        "1 text was longer than 5,000 characters (the longest 50,000); sentiment scores its first "
        "5,000 characters.")
    assert sentiment.truncation_note(pd.Series(["short", None])) is None
    sentiment.forget()


def test_template_reference_links_and_autolinks_with_other_schemes_are_plain_text():
    md = display.safe_links("[a][r] and <javascript:alert(1)> and <https://example.com>\n\n"
                            "[r]: javascript:alert(1)\n[ok]: https://example.com\n"
                            "![img](<https://tracker.example/p.gif>) [b](<javascript:alert(1)>)")
    html = _render(md)
    assert re.findall(r'href="([^"]*)"', html) == ["https://example.com"]
    assert "<img" not in html and "javascript:alert(1)" in html  # shown as text


# --------------------------------------------------------------------------- in a browser
@pytest.mark.browser
def test_a_page_of_hostile_values_loads_nothing_from_outside_and_no_link_runs_script(tmp_path):
    """Headless Chromium (Debian's chromium, as in test_browser.py) opens a rendered page whose
    outputs hold hostile values, a plotly chart and images pointing at a local server: the
    server is never asked for anything (the page's Content-Security-Policy and the escaping),
    the chart draws, and clicking every link opens no dialog."""
    import http.server
    import shutil
    import threading

    import plotly.express as px
    from playwright.sync_api import sync_playwright

    from cxlab.report.html import render_notebook

    chromium = shutil.which("chromium")
    if not chromium:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs Debian's chromium for the browser tests; .ci/run installs it")
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")

    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    remote = f"http://127.0.0.1:{server.server_port}"
    try:
        values = HOSTILE + [f"![]({remote}/md.gif)", "[x](javascript:alert(document.domain))",
                            f"<img src={remote}/html.gif onerror=alert(1)>"]
        chart = px.bar(x=["a", "b"], y=[1, 2]).to_html(include_plotlyjs=True, include_mathjax=False, full_html=False)
        nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                               "language": "python"}})
        cell = nbformat.v4.new_code_cell("x")
        cell.outputs = [nbformat.v4.new_output("display_data", data={
            "text/markdown": display.markdown_source("- goal {v} [the brief](https://example.com/brief)", v=v)})
            for v in values]
        cell.outputs += [nbformat.v4.new_output("display_data", data={"text/html": chart}),
                         # what no helper writes, to show the page itself refuses remote loads
                         nbformat.v4.new_output("display_data", data={"text/html": f'<img src="{remote}/raw.gif">'})]
        nb.cells = [nbformat.v4.new_markdown_cell("# Hostile values"), cell]
        nbformat.write(nb, tmp_path / "page.ipynb")
        page_path = render_notebook(tmp_path / "page.ipynb", tmp_path / "page.html")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            dialogs = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(page_path.as_uri(), wait_until="load")
            page.wait_for_timeout(500)
            assert page.evaluate("document.querySelectorAll('.js-plotly-plot .main-svg').length") >= 1
            hrefs = page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))")
            assert all(h.startswith(("https://", "#")) for h in hrefs), hrefs
            assert hrefs.count("https://example.com/brief") == len(values)  # the template's own link
            # click every link (one to the web is kept from leaving the page): none runs a script
            clicked = page.evaluate("""() => Array.from(document.querySelectorAll('a')).map(a => {
                if (!(a.getAttribute('href') || '').startsWith('#')) a.addEventListener('click', e => e.preventDefault());
                a.click(); return a.getAttribute('href'); }).length""")
            assert clicked >= len(hrefs)
            page.wait_for_timeout(300)
            browser.close()
        assert dialogs == []
        assert hits == []  # nothing was fetched: not the Markdown images, not the raw <img>
    finally:
        server.shutdown()
