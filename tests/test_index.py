"""The run index: what each stage found, and what it could not compute on this study's data."""
from __future__ import annotations

import pandas as pd

from cxlab.report.index import write_index
from cxlab.study import Study
from conftest import log


def test_the_index_lists_each_stage_s_named_skips_redacted_and_escaped(make_study, tmp_path):
    study = Study.load(make_study(events=log(("c1", "2025-01-01 10:00", "ad")),
                                  customers=pd.DataFrame({"customer_id": ["c1"]})))
    skip = "Not computed: customer lifetime value — needs revenue in the event log"
    hostile = "Not computed: topics — needs comments <script>alert(1)</script> (ask jane@example.com)"
    meta = {
        "run_id": "20260101-000000", "started": "2026-01-01T00:00:00", "version": "0", "fingerprint": "f",
        "engine": "duckdb", "parameters": {}, "duration_seconds": 3.0,
        "stages": [{"stage": "objectives", "status": "ok", "seconds": 1.0, "html": "01_objectives.html"},
                   {"stage": "pain_points", "status": "ok", "seconds": 2.0, "html": "04_pain_points.html"},
                   {"stage": "impact", "status": "blocked", "seconds": 0.0,
                    "error": "not run: needs objectives, which failed"}],
        "summaries": {"objectives": {"headlines": ["3 objectives"], "notes": [skip]},
                      "pain_points": {"headlines": ["payment_error first"], "notes": [hostile]}},
    }
    page = write_index(study, tmp_path, meta).read_text()
    assert "Not covered on this data (1)" in page and page.count("Not covered on this data") == 2
    assert "Not computed: customer lifetime value — needs revenue in the event log" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "jane@example.com" not in page and "[email]" in page
    assert "not run: needs objectives, which failed" in page


def test_the_index_shows_the_headline_kpis_first_the_rest_folded_and_links_the_earlier_run(make_study, tmp_path):
    import json

    study = Study.load(make_study(events=log(("c1", "2025-01-01 10:00", "ad"))))
    definition = {"window_days": 30, "goal_touchpoints": ["buy"]}

    def meta(run_id, estimate, low, high, fingerprint):
        return {"run_id": run_id, "started": f"2026-01-0{run_id[-1]}T10:00:00+00:00", "status": "ok",
                "version": "0", "fingerprint": fingerprint, "engine": "duckdb", "duration_seconds": 1.0,
                "parameters": {"objectives": {}},
                "stages": [{"stage": "objectives", "status": "ok", "seconds": 1.0, "html": "01_objectives.html"}],
                "summaries": {"objectives": {"headlines": ["1 objective"], "parameters": {}, "metrics": {
                    "hostile": {"value": estimate, "label": "<b>x</b> for jane@example.com", "unit": "share"}}}},
                "kpis": [{"kpi": "conversion_rate", "title": "Conversion rate", "unit": "share", "estimate": estimate,
                          "ci_low": low, "ci_high": high, "n": 400, "definition": definition}]}

    earlier = study.reports_dir / "20260101-1"
    earlier.mkdir(parents=True)
    (earlier / "run.json").write_text(json.dumps(meta("20260101-1", 0.40, 0.35, 0.45, "f1")))
    (earlier / "index.html").write_text("<html></html>")
    now = study.reports_dir / "20260102-2"
    now.mkdir()
    page = write_index(study, now, meta("20260102-2", 0.48, 0.43, 0.53, "f2")).read_text()
    # 8 points up, the difference's interval 8 ± 1.96·√2·(10/3.92) = 8 ± 7.07 points: beyond noise
    assert "Since the last comparable run (<a href=\"../20260101-1/index.html\">20260101-1</a>)" in page
    assert "<td class=\"better\">+8.0 points</td><td>+0.9 to +15.1 points</td>" in page
    assert page.index("Conversion rate") < page.index('<details class="more">') < page.index("&lt;b&gt;x&lt;/b&gt;")
    assert "jane@example.com" not in page and "<b>x</b>" not in page
    assert 'href="../history.html"' in page
