"""A person's view of a small run: headless Chromium (Debian's `chromium`, driven by
Playwright) opens the index and every stage page, takes screenshots, and checks that there are
no JavaScript errors, that every image and chart renders, and that customer text holding a
script does not run. Without Chromium the test skips, except in CI (CI=true), where it fails.
(tests/test_hostile_study.py opens a report built from hostile inputs the same way.)

The demo run (``demo_run`` in conftest.py) is opened page by page, its history page included, and
four of its pages are photographed for the README's "What you get": always to
reports/screenshots/readme/, and with CXLAB_README_SCREENSHOTS=1 (``make screenshots``) to
docs/screenshots/, the pictures the README shows. Without the variable, a fast test checks that the
README shows exactly those four files and that each is a readable PNG of the expected size."""
from __future__ import annotations

import io
import os
import re
import shutil
import struct
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "reports" / "screenshots"
PLANTED = ("Checkout broke <script>window.__cxlab_pwned = true</script> "
           "<img src=x onerror=\"window.__cxlab_pwned = true\"> call me on +44 20 7946 0958")

# the README's pictures: name -> (page, relative to the run folder; what the picture starts at: None
# for the top of the page, else (CSS selector, True to start at the heading of the section holding the
# first match, False at the match itself)). Top of the journey map page is prose; the map is the point.
README_SHOTS = {
    "index": ("index.html", None),
    "history": ("../history.html", None),
    "journey_map": ("06_journey_map.html", ("img.cx-map", False)),
    "touchpoints": ("03_touchpoints.html", (".plotly-graph-div", True)),  # the Sankey of the paths
}
README_SHOTS_ENV = "CXLAB_README_SCREENSHOTS"
DOCS_SHOTS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}
SHOT_MARGIN = 24  # px of page kept above the element a picture starts at
MAX_SHOT_BYTES = 400_000  # each README picture; the four together stay a small download
MIN_SHOT_BYTES = 20_000  # below this a 1280-wide page picture is blank
# how every browser test starts Chromium: headless, offline, nothing fetched in the background
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def _chromium() -> str:
    path = shutil.which("chromium")
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail("CI needs Debian's chromium for the browser test; .ci/run installs it")
    pytest.skip("headless Chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def report_run(tmp_path_factory):
    from cxlab.report import run_study
    from cxlab.synth import write_study

    home = tmp_path_factory.mktemp("browser-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CXLAB_HOME", str(home))
        folder = write_study(home / "data" / "raw" / "browser", customers=1500, seed=3)
        surveys_file = next(folder.glob("surveys.*"))
        surveys = pd.read_csv(surveys_file) if surveys_file.suffix == ".csv" else pd.read_parquet(surveys_file)
        planted = surveys.iloc[[0]].copy()
        planted["response_id"] = "planted-script"
        planted["comment"] = PLANTED
        planted["csat"] = 1
        surveys = pd.concat([surveys, planted], ignore_index=True)
        if surveys_file.suffix == ".csv":
            surveys.to_csv(surveys_file, index=False)
        else:
            surveys.to_parquet(surveys_file, index=False)
        result = run_study(folder)
    assert result.ok, [s.error for s in result.stages if s.error]
    return result


def _open_checked(context, path: Path):
    """Open ``path`` offline in a new tab of ``context`` and return the tab; fail on any JS error,
    network request, dialog, broken image, undrawn chart, or link to a file or section that is not
    there."""
    page = context.new_page()
    errors, dialogs = [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("requestfailed", lambda req: errors.append(f"needs the network: {req.url}"))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.resolve().as_uri(), wait_until="load")
    page.wait_for_timeout(500)
    assert errors == [], f"{path.name}: JavaScript errors {errors}"
    assert dialogs == [], f"{path.name}: a script opened a dialog {dialogs}"
    assert page.evaluate("window.__cxlab_pwned === undefined"), f"{path.name}: customer text ran"
    broken = page.evaluate(
        "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length"
    )
    assert broken == 0, f"{path.name}: {broken} image(s) did not render"
    charts = page.evaluate("document.querySelectorAll('.js-plotly-plot').length")
    drawn = page.evaluate("document.querySelectorAll('.js-plotly-plot .main-svg').length")
    assert drawn >= charts, f"{path.name}: {charts - drawn} plotly chart(s) did not draw"
    links = page.evaluate("Array.from(document.querySelectorAll('a[href]'), a => a.href)")
    here = urlsplit(page.url)
    for link in links:
        url = urlsplit(link)
        if url.scheme != "file":
            continue  # web links are the reader's to follow; nothing on the page loads them
        target = Path(unquote(url.path))
        assert target.is_file(), f"{path.name} links to {link}, which is not there"
        if url.fragment and url.path == here.path:
            found = page.evaluate("id => document.getElementById(id) !== null", unquote(url.fragment))
            assert found, f"{path.name} links to section #{url.fragment}, which is not on the page"
    return page


def _check_pages(pages: list[Path], shots: Path) -> None:
    """Open each page offline in headless Chromium (``_open_checked``); save a screenshot of each."""
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=VIEWPORT, offline=True)
        for path in pages:
            page = _open_checked(context, path)
            page.screenshot(path=str(shots / f"{path.stem}.png"), full_page=path.name == "index.html")
            page.close()
        browser.close()


@pytest.mark.browser
def test_every_page_renders_without_errors(report_run):
    pages = [report_run.index] + [report_run.run_dir / s.html for s in report_run.stages]
    _check_pages(pages, SHOTS)
    texts = "".join((report_run.run_dir / s.html).read_text() for s in report_run.stages)
    assert "window.__cxlab_pwned = true</script>" not in texts  # never live markup
    assert "7946 0958" not in texts  # the planted phone number is redacted wherever it shows


@pytest.mark.browser
def test_latest_demo_run_renders_without_errors():
    """After `make demo`, the newest complete demo run is checked the same way and its pages
    are photographed to reports/screenshots/demo/ (skipped when there is no demo run)."""
    import json

    runs = sorted((ROOT / "reports" / "demo").glob("*/run.json"))
    complete = [r for r in runs if all(s["status"] == "ok" for s in json.loads(r.read_text())["stages"])]
    if not complete:
        pytest.skip("no complete demo run under reports/demo (make demo makes one)")
    run_dir = complete[-1].parent
    meta = json.loads((run_dir / "run.json").read_text())
    pages = [run_dir / "index.html"] + [run_dir / s["html"] for s in meta["stages"]]
    _check_pages(pages, SHOTS / "demo")


# --------------------------------------------------------------------------- the demo run and the README's pictures
# Where a README picture starts: the element's top, or that of the last section heading (h2) before it.
_PICTURE_TOP_JS = """([selector, heading]) => {
  let el = document.querySelector(selector);
  if (!el) return null;
  if (heading) {
    const before = Array.from(document.querySelectorAll('h2')).filter(
      h => h.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING);
    if (before.length) el = before[before.length - 1];
  }
  return el.getBoundingClientRect().top + window.scrollY;
}"""


def _readme_picture(page, name: str, start) -> bytes:
    """One viewport (1280×900) of ``page`` from where README_SHOTS says, as a small PNG."""
    from PIL import Image

    top = 0.0
    if start is not None:
        selector, heading = start
        found = page.evaluate(_PICTURE_TOP_JS, [selector, heading])
        assert found is not None, f"README picture {name}: nothing on {page.url} matches {selector!r}"
        top = max(0.0, found - SHOT_MARGIN)
    page_height = page.evaluate("document.documentElement.scrollHeight")
    height = min(VIEWPORT["height"], page_height)
    top = max(0.0, min(top, page_height - height))  # near the end of the page, the picture ends with it
    png = page.screenshot(clip={"x": 0, "y": top, "width": VIEWPORT["width"], "height": height}, full_page=True)
    # 256 colours: a report page is flat colour and text; it stays sharp at about a third of the bytes
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _check_readme_picture(file: Path) -> None:
    """``file`` is a whole PNG (read from its header, then decoded in full), 1280 wide and at most
    900 high, between MIN_SHOT_BYTES and MAX_SHOT_BYTES."""
    from PIL import Image

    assert file.is_file(), f"{file} is missing: make screenshots takes it"
    data = file.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{file} is not a PNG"
    assert data[-12:-4] == b"\x00\x00\x00\x00IEND", f"{file} is cut short (no IEND chunk at its end)"
    width, height = struct.unpack(">II", data[16:24])
    assert width == VIEWPORT["width"] and 400 <= height <= VIEWPORT["height"], f"{file}: {width}×{height} px"
    assert MIN_SHOT_BYTES <= len(data) <= MAX_SHOT_BYTES, f"{file}: {len(data):,} bytes"
    with Image.open(io.BytesIO(data)) as image:
        image.load()  # every IDAT chunk decodes
        assert image.size == (width, height)


@pytest.mark.slow
@pytest.mark.browser
def test_every_page_of_the_demo_run_opens_offline_and_four_are_photographed_for_the_readme(demo_run):
    """The index, the history page and the seven stage pages of the demo run open offline without
    an error (``_open_checked``); the README's four pictures are taken, to reports/screenshots/readme/
    and, with CXLAB_README_SCREENSHOTS=1, to docs/screenshots/."""
    from playwright.sync_api import sync_playwright

    from cxlab.report.history import HISTORY_PAGE

    run_dir = demo_run.run_dir
    pages = [demo_run.index, run_dir.parent / HISTORY_PAGE] + [run_dir / s.html for s in demo_run.stages if s.html]
    assert len(pages) == 9  # the index, the history page and the seven stage pages
    picture_of = {(run_dir / page).resolve(): name for name, (page, _start) in README_SHOTS.items()}
    assert set(picture_of) <= {p.resolve() for p in pages}
    chromium = _chromium()
    taken: dict[str, bytes] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=VIEWPORT, offline=True)
        for path in pages:
            page = _open_checked(context, path)
            name = picture_of.get(path.resolve())
            if name:
                taken[name] = _readme_picture(page, name, README_SHOTS[name][1])
            page.close()
        browser.close()
    assert sorted(taken) == sorted(README_SHOTS)
    folders = [SHOTS / "readme"]
    if os.environ.get(README_SHOTS_ENV, "") not in ("", "0"):
        folders.append(DOCS_SHOTS)
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        for name, png in taken.items():
            (folder / f"{name}.png").write_bytes(png)
            _check_readme_picture(folder / f"{name}.png")


def test_the_readme_shows_exactly_the_four_committed_screenshots():
    """The README's "What you get" cannot point at a missing or broken picture, and no stale
    picture lingers in docs/screenshots/."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.findall(r"!\[[^\]]*\]\((docs/screenshots/[^)\s]+)\)", readme)
    shown += re.findall(r"<img\b[^>]*\bsrc=\"(docs/screenshots/[^\"]+)\"", readme)
    expected = sorted(f"docs/screenshots/{name}.png" for name in README_SHOTS)
    assert sorted(shown) == expected
    assert sorted(p.name for p in DOCS_SHOTS.iterdir()) == sorted(f"{name}.png" for name in README_SHOTS)
    for name in README_SHOTS:
        _check_readme_picture(DOCS_SHOTS / f"{name}.png")
