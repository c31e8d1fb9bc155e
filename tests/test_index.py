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
