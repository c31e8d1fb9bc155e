"""The demo figures the README quotes come from a run: each sentence below is formatted from the
records and tables of one `cxlab run` of the demo (the ``demo_run`` fixture, what `make demo`
makes), and must appear in README.md word for word. A change that moves a number fails here,
with the sentence the README should now say."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _readme() -> str:
    return re.sub(r"\s+", " ", (ROOT / "README.md").read_text())


def _record(run, stage: str) -> dict:
    return json.loads((run.processed / f"summary_{stage}.json").read_text())


@pytest.fixture(scope="module")
def run(demo_run):
    # the demo lies under the run's own project home, data/raw/demo: its tables are in
    # data/processed/demo of that home (resolved here, not under the per-test home)
    demo_run.folder = demo_run.home / "data" / "raw" / "demo"
    demo_run.processed = demo_run.home / "data" / "processed" / "demo"
    assert (demo_run.processed / "summary_impact.json").is_file()
    return demo_run


def _sentences(run) -> dict[str, str]:
    out = {}
    segments = pd.read_parquet(run.processed / "segments.parquet")
    truth = pd.read_parquet(run.folder / "truth_segments.parquet")
    both = segments.merge(truth, on="customer_id", suffixes=("", "_truth"))
    ari = adjusted_rand_score(both["segment_truth"], both["segment"])
    out["segmentation ARI"] = f"recover the planted segments with an adjusted Rand index of {ari:.2f}"

    inv = pd.read_parquet(run.processed / "touchpoint_inventory.parquet")
    seen = inv[inv.customers > 0].sort_values("dropoff_rate", ascending=False)
    first, second = seen.iloc[0], seen.iloc[1]
    out["largest drop-off"] = (f"`{first.touchpoint}` has the largest drop-off ({first.dropoff_rate:.0%} of the "
                               f"{int(first.customers):,} customers who reach it end their journey there; next "
                               f"{second.dropoff_rate:.0%})")

    register = pd.read_parquet(run.processed / "pain_points.parquet")
    top, nxt = register.iloc[0], register.iloc[1]
    hr = _record(run, "pain_points")["metrics"]["unresolved_ticket_hazard_ratio"]
    out["pain points"] = (f"`{top.touchpoint}` ranks first (priority {top.priority:.1f}, 95% interval "
                          f"{top.priority_ci_low:.1f}–{top.priority_ci_high:.1f}, ranked 1st in {top.ranked_first:.0%} "
                          f"of resamples; next {nxt.priority:.1f}) and the unresolved-ticket hazard ratio is "
                          f"{hr['value']:.2f} [{hr['ci_low']:.2f}, {hr['ci_high']:.2f}]")

    impact = _record(run, "impact")
    out["impact H1"] = impact["headlines"][0].split(";")[0]
    out["impact H2"] = 'H2, mean CSAT, is "not supported: design check failed"'
    assert "not supported: the design check failed" in impact["headlines"][1]
    return out


def test_every_demo_figure_in_the_readme_is_the_runs(run):
    readme = _readme()
    missing = {name: sentence for name, sentence in _sentences(run).items() if sentence not in readme}
    assert not missing, "README.md should say: " + json.dumps(missing, indent=1, ensure_ascii=False)
