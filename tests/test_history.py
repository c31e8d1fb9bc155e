"""Monitoring across runs (issue 15.3): the run history page, the index's "since the last comparable
run" with each KPI's change in its own unit and a noise band, and `cxlab runs` listing and pruning.

The scenario (three real runs of the intake and objectives stages on the worked log with surveys):
A, a baseline; B, which fails in the objectives stage (a CLV calibration date past the log); then a
newer export (customer g added: one more event pair and one more survey answer) and C, with the
conversion window and the CLV horizon changed. C must be compared with A (B listed, passed over),
the data and parameter changes named, conversion not compared (its definition changed), every other
KPI's change equal to the difference of the two runs' records, with the interval of the difference
computed here from the two runs' intervals."""
from __future__ import annotations

import json
import math
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from cxlab.cli import main
from cxlab.report import run_study
from cxlab.report.history import compare, list_runs
from cxlab.report.runs import prune_runs
from cxlab.study import Study
from conftest import WORKED_LOG, log, write_study

STAGES = ["intake", "objectives"]
# one answer per customer: promoters a, b, f (9-10), detractors e, d (0-6), c passive -> NPS (3 - 2) / 6
SURVEYS = [("a", 10), ("b", 9), ("c", 7), ("e", 3), ("f", 10), ("d", 6)]
NEW_CUSTOMER = (("g", "2025-05-01 10:00", "ad"), ("g", "2025-05-02 10:00", "buy", 8.0))


def _surveys(rows) -> pd.DataFrame:
    return pd.DataFrame({"response_id": [f"r{i}" for i in range(len(rows))], "customer_id": [c for c, _ in rows],
                         "timestamp": "2025-04-15 12:00", "touchpoint": "buy", "nps": [s for _, s in rows]})


class _Links(HTMLParser):
    """Every href of a page and every element id (for #anchors)."""

    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])
        if attrs.get("id"):
            self.ids.add(attrs["id"])


def _links(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def _dead_links(page: Path) -> list[str]:
    """Links of ``page`` to files that do not exist, or to anchors the page lacks."""
    parsed = _links(page)
    dead = []
    for href in parsed.hrefs:
        if href.startswith("#"):
            if href[1:] not in parsed.ids:
                dead.append(href)
        elif not (page.parent / href).resolve().is_file():
            dead.append(href)
    return dead


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    """Runs A (ok), B (objectives failed), C (new export, other parameters) in a home of their own."""
    home = tmp_path_factory.mktemp("history_home")
    folder = tmp_path_factory.mktemp("history_study") / "shop"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CXLAB_HOME", str(home))
        write_study(folder, events=log(*WORKED_LOG), surveys=_surveys(SURVEYS))
        a = run_study(folder, stages=STAGES)
        b = run_study(folder, stages=STAGES, overrides={"objectives.clv_calibration_end": "2030-01-01"})
        write_study(folder, events=log(*WORKED_LOG, *NEW_CUSTOMER), surveys=_surveys(SURVEYS + [("g", 10)]))
        c = run_study(folder, stages=STAGES, overrides={"objectives.conversion_window_days": "60",
                                                        "objectives.clv_months": "6"})
    assert a.ok and c.ok, (a.stages, c.stages)
    assert b.status == "failed" and {s.stage: s.status for s in b.stages} == {"intake": "ok", "objectives": "failed"}
    meta = {r.run_id: json.loads((r.run_dir / "run.json").read_text()) for r in (a, b, c)}
    return {"home": home, "folder": folder, "runs": (a, b, c), "meta": meta}


@pytest.fixture
def scenario(three_runs, monkeypatch):
    monkeypatch.setenv("CXLAB_HOME", str(three_runs["home"]))
    return three_runs


def test_the_history_page_lists_every_run_with_links_that_resolve(scenario):
    a, b, c = scenario["runs"]
    history = Study.load(scenario["folder"]).reports_dir / "history.html"
    parsed = _links(history)
    # newest first, each run linked to its own index, the failed one too
    run_links = [h for h in parsed.hrefs if h.endswith("/index.html")]
    assert run_links == [f"{r.run_id}/index.html" for r in (c, b, a)]
    assert _dead_links(history) == []
    page = history.read_text()
    assert "failed: objectives failed" in page
    # every index links back to the history and resolves all its links (C's to A, its baseline)
    for run in (a, b, c):
        assert "../history.html" in _links(run.index).hrefs
        assert _dead_links(run.index) == [], run.run_id
    assert f"../{a.run_id}/index.html" in _links(c.index).hrefs


def test_the_failed_run_is_listed_but_never_compared_against(scenario):
    a, b, c = scenario["runs"]
    headline = scenario["meta"][c.run_id]["comparison"]["headline"]
    assert headline["against"] == a.run_id
    assert headline["passed_over"] == [{"run_id": b.run_id, "why": "the objectives stage failed"}]
    # the failed run itself has no headline KPIs to compare, and says why
    failed = scenario["meta"][b.run_id]
    assert failed["kpis"] == [] and failed["comparison"]["headline"] is None
    assert failed["comparison"]["headline_missing"] == "the objectives stage failed"
    # its intake finished: intake's numbers are compared with A's (same data: no change)
    (intake,) = failed["comparison"]["groups"]
    assert intake["against"] == a.run_id and {r["label"]: r["verdict"] for r in intake["rows"]} == {
        "Events": "no change", "Customers": "no change"}


def test_each_kpi_change_is_the_difference_of_the_two_records_in_the_kpi_s_unit(scenario):
    a, _, c = scenario["runs"]
    before = {k["kpi"]: k for k in scenario["meta"][a.run_id]["kpis"]}
    after = {k["kpi"]: k for k in scenario["meta"][c.run_id]["kpis"]}
    # the records themselves, against hand counts of the worked log
    assert before["nps"]["estimate"] == pytest.approx(100 * (3 - 2) / 6)
    assert after["nps"]["estimate"] == pytest.approx(100 * (4 - 2) / 7)
    assert before["average_order_value"]["estimate"] == pytest.approx(82 / 7)  # 10+30+20+5+7+5+5
    assert after["average_order_value"]["estimate"] == pytest.approx(90 / 8)  # and g's 8
    rows = {r["kpi"]: r for r in scenario["meta"][c.run_id]["comparison"]["headline"]["rows"]}
    z = stats.norm.ppf(0.975)
    for kpi in ("nps", "average_order_value", "repeat_purchase_rate", "retention_rate"):
        old, new, row = before[kpi], after[kpi], rows[kpi]
        d = new["estimate"] - old["estimate"]
        half = z * math.hypot((old["ci_high"] - old["ci_low"]) / (2 * z), (new["ci_high"] - new["ci_low"]) / (2 * z))
        assert row["change_value"] == pytest.approx(d, abs=1e-12), kpi
        assert (row["band_low"], row["band_high"]) == (pytest.approx(d - half), pytest.approx(d + half)), kpi
        beyond = d - half > 0 or d + half < 0
        assert row["verdict"] == ("no change" if d == 0 else "beyond noise" if beyond else "within noise"), kpi
    # shown in each KPI's unit: NPS points, the currency's units, percentage points
    assert rows["nps"]["change"] == f"+{100 * (4 / 7 - 2 / 7) - 100 / 6:.1f} NPS points" == "+11.9 NPS points"
    assert rows["nps"]["before"].startswith("16.7 [") and rows["nps"]["after"].startswith("28.6 [")
    assert rows["average_order_value"]["change"] == "-0.46"
    assert rows["repeat_purchase_rate"]["unit"] == "percentage points"
    assert rows["repeat_purchase_rate"]["change"].endswith(" points")
    # conversion: the window changed, so its definition did: not compared, and the page says why
    assert rows["conversion_rate"]["verdict"] == "not compared: definition changed (conversion window (days) 30 → 60)"
    assert "change_value" not in rows["conversion_rate"]
    index = c.index.read_text()
    assert "+11.9 NPS points" in index and "not compared: definition changed" in index


def test_the_data_and_parameter_changes_are_stated_beside_the_change(scenario):
    a, _, c = scenario["runs"]
    meta_a, meta_c = scenario["meta"][a.run_id], scenario["meta"][c.run_id]
    headline = meta_c["comparison"]["headline"]
    assert headline["data"] == {"same": False, "text": (
        f"Input data changed: fingerprint {meta_a['fingerprint']} → {meta_c['fingerprint']} "
        "(changed: customers.csv, events.csv, surveys.csv; events 13 → 15; customers 6 → 7)")}
    assert headline["parameters"] == ["objectives: clv_months 12 → 6", "objectives: conversion_window_days 30 → 60"]
    index = c.index.read_text()
    assert "changed: customers.csv, events.csv, surveys.csv; events 13 → 15; customers 6 → 7" in index
    assert "Parameters changed: objectives: clv_months 12 → 6; objectives: conversion_window_days 30 → 60" in index
    # the headline KPIs come before the folded table of every other number
    assert index.index("Average order value") < index.index('<details class="more">')
    history = (Study.load(scenario["folder"]).reports_dir / "history.html").read_text()
    assert "events 13 → 15; customers 6 → 7" in history


def test_runs_lists_every_run_with_status_fingerprint_changes_and_size(scenario, capsys):
    a, b, c = scenario["runs"]
    assert main(["runs", str(scenario["folder"])]) == 0
    out = capsys.readouterr().out.splitlines()
    lines = {line.split()[0]: line for line in out[1:4]}
    assert list(lines) == [a.run_id, b.run_id, c.run_id]  # oldest first
    assert " ok " in lines[a.run_id] and " failed " in lines[b.run_id] and " ok " in lines[c.run_id]
    assert scenario["meta"][a.run_id]["fingerprint"] in lines[a.run_id]
    # B failed in objectives (no record): the parameters it was given are compared
    assert "objectives: clv_calibration_end default → 2030-01-01" in lines[b.run_id]
    assert "Input data changed" in lines[c.run_id]
    assert out[-1].startswith("3 run(s), ")


def test_runs_keep_1_leaves_one_run_and_every_link_still_resolves(scenario, tmp_path, monkeypatch, capsys):
    # on a copy of the project home: the other tests keep their three runs
    home = tmp_path / "home"
    shutil.copytree(scenario["home"], home)
    monkeypatch.setenv("CXLAB_HOME", str(home))
    a, b, c = scenario["runs"]
    reports = Study.load(scenario["folder"]).reports_dir
    sizes = {r.run_id: sum(p.stat().st_size for p in (reports / r.run_id).rglob("*") if p.is_file())
             for r in (a, b)}
    assert main(["runs", str(scenario["folder"]), "--keep", "1"]) == 0
    out = capsys.readouterr().out
    assert f"removed {a.run_id} (ok, " in out and f"removed {b.run_id} (failed, " in out
    assert "freed " in out and f"({sum(sizes.values()):,} bytes)" in out
    assert sorted(p.name for p in reports.iterdir() if p.is_dir()) == [c.run_id]
    # C's index linked to A: rewritten, A named without a link; the history lists C alone
    assert _dead_links(reports / c.run_id / "index.html") == []
    assert f"{a.run_id} (folder removed)" in (reports / c.run_id / "index.html").read_text()
    history = reports / "history.html"
    assert _dead_links(history) == []
    assert [h for h in _links(history).hrefs if h.endswith("index.html")] == [f"{c.run_id}/index.html"]
    # C's comparison is kept as it was computed (against A), whatever was removed since
    assert json.loads((reports / c.run_id / "run.json").read_text())["comparison"]["headline"]["against"] == a.run_id


# --------------------------------------------------------------------------- the rules, on written records
def _meta(run_id: str, *, status="ok", objectives="ok", fingerprint="f1", kpis=None, version="1", params=None,
          started=None) -> dict:
    """A run.json as a run writes it, for the rules that do not need a real run."""
    summaries = {"intake": {"metrics": {"events": 100, "customers": 10}, "parameters": {}}}
    if objectives == "ok":
        summaries["objectives"] = {"metrics": {}, "parameters": params or {"conversion_window_days": 30}}
    return {"run_id": run_id, "started": started or f"2026-01-0{run_id[-1]}T10:00:00+00:00", "status": status,
            "fingerprint": fingerprint, "version": version, "parameters": {"intake": {}, "objectives": {}},
            "stages": [{"stage": "intake", "status": "ok"}, {"stage": "objectives", "status": objectives}],
            "summaries": summaries, "kpis": kpis if kpis is not None else []}


def _kpi(estimate, low, high, window=30, kpi="conversion_rate"):
    return {"kpi": kpi, "title": "Conversion rate", "unit": "share", "estimate": estimate, "ci_low": low,
            "ci_high": high, "n": 400, "definition": {"window_days": window, "goal_touchpoints": ["buy"]}}


def _write_runs(study: Study, *metas: dict) -> None:
    for meta in metas:
        folder = study.reports_dir / meta["run_id"]
        folder.mkdir(parents=True)
        (folder / "run.json").write_text(json.dumps(meta))
        (folder / "index.html").write_text("<html></html>")
        (folder / "page.html").write_text("x" * 1000)


@pytest.fixture
def study(make_study):
    return Study.load(make_study(events=log(("c1", "2025-01-01 10:00", "ad"))))


def test_an_interrupted_run_is_passed_over_and_same_data_means_exactly_no_change(study):
    _write_runs(study, _meta("r1", kpis=[_kpi(0.40, 0.35, 0.45)]),
                _meta("r2", status="interrupted", kpis=[_kpi(0.90, 0.85, 0.95)]))
    result = compare(study, _meta("r3", kpis=[_kpi(0.40, 0.35, 0.45)]))
    headline = result["headline"]
    assert headline["against"] == "r1" and headline["passed_over"] == [{"run_id": "r2", "why": "the run was interrupted"}]
    (row,) = headline["rows"]
    # the same data: nothing sampled anew, no band; the same value: no change, exactly
    assert headline["data"]["same"] and row["change_value"] == 0.0 and row["band"] == ""
    assert (row["verdict"], row["change"]) == ("no change", "0 points")


def test_a_change_on_new_data_is_judged_against_the_interval_of_the_difference(study):
    # 40% [35, 45] then 47% [42, 52]: se 2.55 points each, the difference's interval 7 ± 7.07 points
    _write_runs(study, _meta("r1", kpis=[_kpi(0.40, 0.35, 0.45)]))
    row = compare(study, _meta("r2", fingerprint="f2", kpis=[_kpi(0.47, 0.42, 0.52)]))["headline"]["rows"][0]
    assert row["change"] == "+7.0 points" and row["band"] == "-0.1 to +14.1 points"
    assert row["verdict"] == "within noise"
    row = compare(study, _meta("r2", fingerprint="f2", kpis=[_kpi(0.48, 0.43, 0.53)]))["headline"]["rows"][0]
    assert row["change"] == "+8.0 points" and row["verdict"] == "beyond noise" and row["css"] == "better"
    # another conversion window: another KPI, not compared
    row = compare(study, _meta("r2", fingerprint="f2", kpis=[_kpi(0.48, 0.43, 0.53, window=14)]))["headline"]["rows"][0]
    assert row["verdict"] == "not compared: definition changed (conversion window (days) 30 → 14)"


def test_keep_never_removes_the_latest_successful_run_nor_a_running_one(study, capsys):
    from cxlab.report.workspace import Workspace

    _write_runs(study, _meta("r1"), _meta("r2"), _meta("r3", status="failed", objectives="failed"))
    running = Workspace(study, "r4", ["intake"]).open()  # a live run: its folder has no run.json yet
    (study.reports_dir / "r4").mkdir()
    sizes = {r: sum(p.stat().st_size for p in (study.reports_dir / r).iterdir()) for r in ("r1", "r3")}
    try:
        assert [r.state for r in list_runs(study)] == ["ok", "ok", "failed", "running"]
        result = prune_runs(study, keep=1)
    finally:
        running.close()
    # r4 is the newest and running, r2 the latest ok: both kept; r1 and r3 removed
    assert [(r, s) for r, s, _ in result.removed] == [("r1", "ok"), ("r3", "failed")]
    assert [b for _, _, b in result.removed] == [sizes["r1"], sizes["r3"]] and result.freed == sum(sizes.values())
    assert sorted(p.name for p in study.reports_dir.iterdir() if p.is_dir()) == ["r2", "r4"]
    with pytest.raises(Exception, match="at least 1"):
        prune_runs(study, keep=0)


def test_stage_numbers_are_shown_in_their_units_under_readable_labels(study):
    # (moved from test_runner, where the index's old "since the last run" table was tested)
    before, after = _meta("r1"), _meta("r2", fingerprint="f2")
    before["summaries"]["objectives"]["metrics"] = {
        "conversion": {"value": 0.40, "unit": "share", "label": "Conversion rate"},
        "silhouette": 0.57, "csat_mean": 3.9000001, "k": 4, "gone": 1.0}
    after["summaries"]["objectives"]["metrics"] = {
        "conversion": {"value": 0.425, "unit": "share", "label": "Conversion rate"},
        "silhouette": 0.5, "csat_mean": 3.9, "k": 5, "new_metric": 1.0}
    _write_runs(study, before)
    (group,) = [g for g in compare(study, after)["groups"] if g["stage"] == "objectives"]
    rows = {r["label"]: r for r in group["rows"]}
    assert list(rows) == ["Conversion rate", "Silhouette", "Csat mean", "K"]  # only what both runs report
    conversion = rows["Conversion rate"]
    assert (conversion["before"], conversion["after"], conversion["change"]) == ("40.0%", "42.5%", "+2.5 points")
    assert conversion["change_value"] == pytest.approx(0.025) and conversion["verdict"] == "no interval recorded"
    assert (rows["Silhouette"]["before"], rows["Silhouette"]["change"]) == ("0.570", "-0.070")  # not a percentage
    assert rows["K"]["change"] == "+1" and rows["K"]["unit"] == "count"
    # below the shown precision: no change shown, the exact difference kept
    assert rows["Csat mean"]["verdict"] == "no change" and rows["Csat mean"]["change_value"] == pytest.approx(-1e-7)
