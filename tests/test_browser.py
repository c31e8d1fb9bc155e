"""A person's view of a small run: headless Chromium (Debian's `chromium`, driven by
Playwright) opens the index and every stage page, takes screenshots, and checks that there are
no JavaScript errors, that every image and chart renders, and that customer text holding a
script does not run. Without Chromium the test skips, except in CI (CI=true), where it fails.
(tests/test_hostile_study.py opens a report built from hostile inputs the same way.)"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "reports" / "screenshots"
PLANTED = ("Checkout broke <script>window.__cxlab_pwned = true</script> "
           "<img src=x onerror=\"window.__cxlab_pwned = true\"> call me on +44 20 7946 0958")

pytestmark = pytest.mark.browser
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


def _check_pages(pages: list[Path], shots: Path) -> None:
    """Open each page offline in headless Chromium; fail on any JS error, network request,
    dialog, broken image or undrawn chart; save a screenshot of each."""
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
        for path in pages:
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
            page.screenshot(path=str(shots / f"{path.stem}.png"), full_page=path.name == "index.html")
            page.close()
        browser.close()


def test_every_page_renders_without_errors(report_run):
    pages = [report_run.index] + [report_run.run_dir / s.html for s in report_run.stages]
    _check_pages(pages, SHOTS)
    texts = "".join((report_run.run_dir / s.html).read_text() for s in report_run.stages)
    assert "window.__cxlab_pwned = true</script>" not in texts  # never live markup
    assert "7946 0958" not in texts  # the planted phone number is redacted wherever it shows


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
