"""Runs that cannot mix (issue 17, items 1-3, 9, 10): every run computes in a workspace of its own
and publishes when it ends; a study's outputs are keyed by an identity two folders cannot share;
SIGINT/SIGTERM stop a run's kernels and record it as interrupted (exit 130); a report file that
cannot be written (disk full) fails the run with a named error and leaves no truncated page."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from cxlab.cli import main
from cxlab.errors import StageError
from cxlab.paths import published_dir, study_key
from cxlab.report import run_study
from cxlab.report.runner import raise_for_failure
from cxlab.study import Study
from conftest import log

CXLAB = str(Path(sys.executable).parent / "cxlab")
RUN_STAGES = ["intake", "segmentation", "touchpoints"]


def _env(**more) -> dict:
    return {**os.environ, **{k: str(v) for k, v in more.items()}}


def _runs(study_folder) -> dict[str, dict]:
    """run id -> run.json of every run of the study."""
    reports = Study.load(study_folder).reports_dir
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(reports.glob("*/run.json"))}


# --------------------------------------------------------------------------- study identity
def test_two_study_folders_with_one_name_never_share_outputs_or_history(make_study, tmp_path, project_home):
    a = make_study("one/tiny", events=log(("c1", "2025-01-01 10:00", "ad"), ("c2", "2025-01-02 10:00", "buy", 5.0)))
    b = make_study("two/tiny", events=log(("x1", "2025-01-01 10:00", "ad"), ("x2", "2025-01-01 11:00", "ad"),
                                          ("x3", "2025-01-02 10:00", "buy", 9.0)))
    # the identity: name and the first 8 hex digits of the SHA-256 of the resolved folder path
    for folder in (a, b):
        key = f"tiny-{hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8]}"
        study = Study.load(folder)
        assert study_key(folder) == key
        assert study.processed_dir == project_home / "data" / "processed" / key
        assert study.reports_dir == project_home / "reports" / key
    assert study_key(a) != study_key(b)
    # a study under data/raw/ keeps its plain name (make demo: data/processed/demo, reports/demo)
    raw = make_study("home_raw", events=log(("c1", "2025-01-01 10:00", "ad")))
    shutil.copytree(raw, project_home / "data" / "raw" / "tiny")
    named = Study.load("tiny")
    assert named.processed_dir == project_home / "data" / "processed" / "tiny"
    assert named.reports_dir == project_home / "reports" / "tiny"

    # runs of the two same-named studies: each index counts its own customers (2, then 3) and the
    # second has no "since the last run" comparison with the other study
    first, second = run_study(a, stages=["intake"]), run_study(b, stages=["intake"])
    assert first.ok and second.ok
    assert "2 events from 2 of 2 customers" in first.index.read_text()
    page = second.index.read_text()
    assert "3 events from 3 of 3 customers" in page and "Since the last run" not in page
    assert list(_runs(a)) == [first.run_id] and list(_runs(b)) == [second.run_id]
    assert pd.read_parquet(published_dir(a) / "customers.parquet").customer_id.tolist() == ["c1", "c2"]
    assert pd.read_parquet(published_dir(b) / "customers.parquet").customer_id.tolist() == ["x1", "x2", "x3"]


# --------------------------------------------------------------------------- two runs at once
def _reference_stage_funnel(folder: Path, window_days: float) -> list[int]:
    """Customers reaching each journey stage, computed here with pandas from the raw files: an
    ordered funnel (the greedy earliest chain: step 1 is a customer's first event in the first
    stage; step k the first event of stage k after step k-1, no later than step 1 + window),
    events in (timestamp, row in the file) order."""
    config = yaml.safe_load((folder / "study.yaml").read_text())
    stage_of = {tp: spec["stage"] for tp, spec in config["touchpoints"].items()}
    stages = [s for s in config["stages"] if s in set(stage_of.values())]
    events = pd.read_parquet(folder / config["tables"]["events"])
    events["t"] = pd.to_datetime(events["timestamp"], utc=True)
    events["row"] = range(len(events))
    events["stage"] = events["touchpoint"].map(stage_of)
    events = events.sort_values(["customer_id", "t", "row"], kind="mergesort")
    window = pd.Timedelta(seconds=round(window_days * 86400))
    reached = [0] * len(stages)
    for _, ev in events.groupby("customer_id", sort=False):
        seq = list(zip(ev["stage"], ev["t"]))
        first = next((i for i, (s, _) in enumerate(seq) if s == stages[0]), None)
        if first is None:
            continue
        reached[0] += 1
        start, pos = seq[first][1], first
        for k, stage in enumerate(stages[1:], start=1):
            nxt = next((i for i in range(pos + 1, len(seq)) if seq[i][0] == stage and seq[i][1] <= start + window),
                       None)
            if nxt is None:
                break
            reached[k] += 1
            pos = nxt
    return reached


@pytest.fixture
def twin(project_home):
    """A few hundred synthetic customers under data/raw/ (named 'twin' on the command line)."""
    from cxlab.synth import write_study

    return write_study(project_home / "data" / "raw" / "twin", customers=300, seed=5)


@pytest.mark.slow
def test_two_runs_with_other_windows_at_once_each_show_their_own_numbers_and_publish_whole(twin, project_home):
    windows = (2, 5)
    reference = {w: _reference_stage_funnel(twin, w) for w in windows}
    assert reference[2] != reference[5]  # the windows give other numbers: a mix would show
    procs = {w: subprocess.Popen([CXLAB, "run", "twin", "--stages", ",".join(RUN_STAGES),
                                  "-p", f"touchpoints.conversion_window_days={w}"],
                                 env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for w in windows}
    outputs = {w: p.communicate(timeout=900)[0] for w, p in procs.items()}
    for w, p in procs.items():
        assert p.returncode == 0, outputs[w]

    runs = {meta["parameters"]["touchpoints"]["conversion_window_days"]: meta for meta in _runs(twin).values()}
    assert sorted(runs) == [2, 5]
    a, b = runs[2], runs[5]
    # they ran at the same time: each began before the other ended
    t = {w: pd.Timestamp(m["started"]) for w, m in runs.items()}
    assert t[2] < t[5] + pd.Timedelta(seconds=b["duration_seconds"])
    assert t[5] < t[2] + pd.Timedelta(seconds=a["duration_seconds"])
    for w, meta in runs.items():
        other = 5 if w == 2 else 2
        assert meta["status"] == "ok" and meta["study_key"] == "twin"
        summaries = meta["summaries"]
        # every record in run.json is this run's own: its run id, its window, its numbers
        assert {s: summaries[s]["run_id"] for s in RUN_STAGES} == {s: meta["run_id"] for s in RUN_STAGES}
        tp = summaries["touchpoints"]
        assert tp["parameters"]["conversion_window_days"] == w
        ref = reference[w]
        assert tp["metrics"]["stage_funnel_completion"]["value"] == pytest.approx(ref[-1] / ref[0])
        index = (project_home / "reports" / "twin" / meta["run_id"] / "index.html").read_text()
        assert f"Stage funnel (within {w} days)" in index
        assert f"within {other} days" not in index

    # the published folder holds one run's outputs, whole: every record and the funnel agree
    processed = project_home / "data" / "processed" / "twin"
    records = {s: json.loads((processed / f"summary_{s}.json").read_text()) for s in RUN_STAGES}
    winner = {r["run_id"] for r in records.values()}
    assert len(winner) == 1
    (winner,) = winner
    w = next(k for k, m in runs.items() if m["run_id"] == winner)
    assert records["touchpoints"]["parameters"]["conversion_window_days"] == w
    funnel = pd.read_parquet(processed / "stage_funnel.parquet")
    assert funnel["customers"].tolist() == reference[w] and set(funnel["window_days"]) == {w}
    assert records["segmentation"] == runs[w]["summaries"]["segmentation"]
    assert not any((processed / "runs").iterdir())  # both workspaces are gone

    # the export changes; a --stages touchpoints run must not mix last run's segments with it
    events = pd.read_parquet(twin / "events.parquet")
    dropped = sorted(events.customer_id.unique())[:10]
    events[~events.customer_id.isin(dropped)].to_parquet(twin / "events.parquet", index=False)
    before = (processed / "summary_touchpoints.json").read_bytes()
    done = subprocess.run([CXLAB, "run", "twin", "--stages", "touchpoints"], env=_env(), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Stage 'touchpoints' failed: StaleOutputError: segments.parquet was computed by the segmentation " \
           "stage from other input data" in done.stderr
    assert "Run the segmentation stage again together with the stages that read it " \
           "(cxlab run twin --stages segmentation,…)" in done.stderr
    assert (processed / "summary_touchpoints.json").read_bytes() == before  # nothing of it published
    last = max(_runs(twin).values(), key=lambda m: m["started"] + m["run_id"])
    assert last["status"] == "failed" and last["summaries"] == {}
    assert last["fingerprint"] != runs[w]["fingerprint"]


# --------------------------------------------------------------------------- SIGINT / SIGTERM
SLEEPING = """
import json, os, time
from pathlib import Path
trace = Path(os.environ["CXLAB_TEST_TRACE"])
(trace / "started.json").write_text(json.dumps({"pid": os.getpid(), "workspace": os.environ.get("CXLAB_WORKSPACE")}))
time.sleep(300)
(trace / "finished.json").write_text("{}")
"""
QUICK_INTAKE = """
from cxlab import data
data.write_clean_tables(study)
"""


@pytest.fixture
def sleeping_notebooks(tmp_path):
    """An intake that only writes the clean tables, and an objectives stage that sleeps 300 s."""
    folder, trace = tmp_path / "notebooks", tmp_path / "trace"
    folder.mkdir()
    trace.mkdir()
    for name, code in [("00_intake", QUICK_INTAKE), ("01_objectives", SLEEPING)]:
        params = nbformat.v4.new_code_cell('study: str = "demo"  # the study')
        params.metadata["tags"] = ["parameters"]
        nb = nbformat.v4.new_notebook(cells=[params, nbformat.v4.new_code_cell(code)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / f"{name}.ipynb")
    return folder, trace


@pytest.mark.parametrize("sig, kernels", [(signal.SIGINT, "shared"), (signal.SIGTERM, "per stage")],
                         ids=["SIGINT-shared-kernels", "SIGTERM-kernel-per-stage"])
def test_a_signal_stops_the_kernels_records_the_run_as_interrupted_and_exits_130(
        sig, kernels, make_study, sleeping_notebooks, tmp_path, project_home):
    import psutil

    folder = make_study(events=log(("c1", "2025-01-01 10:00", "ad"), ("c1", "2025-01-02 10:00", "buy", 5.0)))
    notebooks, trace = sleeping_notebooks
    runtime = tmp_path / "jupyter_runtime"
    runtime.mkdir()
    proc = subprocess.Popen([CXLAB, "run", str(folder), "--stages", "intake,objectives"],
                            env=_env(CXLAB_NOTEBOOKS=notebooks, CXLAB_TEST_TRACE=trace, JUPYTER_RUNTIME_DIR=runtime,
                                     CXLAB_KERNEL_PER_STAGE=int(kernels == "per stage")),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120  # only so a broken run cannot hang the tests
    while not (trace / "started.json").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the sleeping stage never started:\n" + "".join(proc.communicate()))
        time.sleep(0.2)
    started = json.loads((trace / "started.json").read_text())
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)  # a bound against hanging, not a speed test

    assert proc.returncode == 130, out + err
    name = signal.Signals(sig).name
    assert f"cxlab: interrupted ({name}): stopped objectives; nothing of this run was published" in err
    (run_dir,) = [p for p in Study.load(folder).reports_dir.iterdir() if p.is_dir()]  # beside history.html
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] == "interrupted" and meta["interrupted_by"] == name and meta["kernel"] == kernels
    states = {s["stage"]: (s["status"], s["error"]) for s in meta["stages"]}
    assert states == {"intake": ("ok", None), "objectives": ("interrupted", f"stopped by {name}")}
    assert "interrupted" in (run_dir / "index.html").read_text()
    assert not (trace / "finished.json").exists()
    # the kernel is gone, and so are its connection file and the run's workspace
    gone = time.monotonic() + 10
    while psutil.pid_exists(started["pid"]) and psutil.Process(started["pid"]).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < gone, "the stage's kernel still runs"
        time.sleep(0.1)
    workspace = Path(started["workspace"])
    assert workspace.parent == published_dir(folder) / "runs" and workspace.name == meta["run_id"]
    assert not workspace.exists()
    assert list(runtime.glob("kernel-*.json")) == []
    # an interrupted run publishes nothing, not even the stage that finished
    assert not (published_dir(folder) / "summary_intake.json").exists()
    assert not (published_dir(folder) / "clean.json").exists()


# --------------------------------------------------------------------------- disk full
def _full_disk_after_half(fh, text):
    """The disk fills while a stage page is written (space is freed before the index is)."""
    if "— cxlab report " in text:  # the run index (its title): written in full
        fh.write(text)
        return
    fh.write(text[: len(text) // 2])
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_while_rendering_fails_the_stage_by_name_and_leaves_no_truncated_page(
        make_study, monkeypatch, capsys, project_home):
    folder = make_study(events=log(("c1", "2025-01-01 10:00", "ad"), ("c1", "2025-01-02 10:00", "buy", 5.0)))
    monkeypatch.setattr("cxlab.report.html._write", _full_disk_after_half)
    assert main(["run", str(folder), "--stages", "intake"]) == 2
    err = capsys.readouterr().err
    (run_dir,) = [p for p in Study.load(folder).reports_dir.iterdir() if p.is_dir()]  # beside history.html
    page = run_dir / "00_intake.html"
    assert (f"Stage 'intake' failed: its report page could not be written: Could not write {page}: "
            "the disk is full (No space left on device, errno 28)") in err
    assert not page.exists() and list(run_dir.glob(".*")) == []  # no half page, no temporary file
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] == "failed"
    (stage,) = meta["stages"]
    assert stage["status"] == "failed" and stage["html"] is None and "errno 28" in stage["error"]
    assert "stage intake failed" in (run_dir / "index.html").read_text()
    # a stage whose page could not be written is not published
    assert not (published_dir(folder) / "summary_intake.json").exists()


def test_a_full_disk_while_writing_the_index_fails_the_run_and_leaves_no_truncated_index(
        make_study, monkeypatch, project_home):
    folder = make_study(events=log(("c1", "2025-01-01 10:00", "ad")))

    def half_index(study, run_dir, meta):  # what a full disk does to a page written in place
        (run_dir / "index.html").write_text("<!DOCTYPE html><html><body><h1>Tiny")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("cxlab.report.index.write_index", half_index)
    result = run_study(folder, stages=["intake"])
    assert result.status == "failed" and [s.status for s in result.stages] == ["ok"]
    assert not result.index.exists()
    meta = json.loads((result.run_dir / "run.json").read_text())
    assert meta["status"] == "failed"
    assert meta["error"] == result.error and f"Could not write {result.index}: the disk is full" in meta["error"]
    with pytest.raises(StageError, match="Every stage ran, but the run index could not be written"):
        raise_for_failure(result)
    # the stage itself finished: its outputs are published
    record = json.loads((published_dir(folder) / "summary_intake.json").read_text())
    assert record["run_id"] == result.run_id


# --------------------------------------------------------------------------- the workspace itself
def test_a_workspace_sees_published_outputs_only_of_stages_outside_the_run_and_publishes_its_own(make_study):
    from cxlab.report.workspace import Workspace

    folder = make_study(events=log(("c1", "2025-01-01 10:00", "ad")))
    study = Study.load(folder)
    pub = published_dir(folder)
    pub.mkdir(parents=True)
    for name, text in [("segments.parquet", "seg v1"), ("summary_segmentation.json", '{"run_id": "old"}'),
                       ("touchpoint_inventory.parquet", "inv v1"), ("custom_funnel.parquet", "old funnel"),
                       ("summary_touchpoints.json", '{"run_id": "old"}'), ("my_notes.txt", "kept")]:
        (pub / name).write_text(text)

    ws = Workspace(study, "r1", ["touchpoints"]).open()
    seeded = sorted(p.name for p in ws.dir.iterdir() if not p.name.startswith("."))
    # the run's own stage starts from nothing; the others are linked in, not copied
    assert seeded == ["my_notes.txt", "segments.parquet", "summary_segmentation.json"]
    assert (ws.dir / "segments.parquet").stat().st_ino == (pub / "segments.parquet").stat().st_ino
    (ws.dir / "touchpoint_inventory.parquet").write_text("inv v2")
    (ws.dir / "summary_touchpoints.json").write_text('{"run_id": "r1"}')
    done = ws.publish(["touchpoints"])
    ws.close()
    assert done["files"] == ["touchpoint_inventory.parquet", "summary_touchpoints.json"]  # the record last
    assert done["removed"] == ["custom_funnel.parquet"]  # the stage wrote none this time
    assert (pub / "touchpoint_inventory.parquet").read_text() == "inv v2"
    assert (pub / "summary_touchpoints.json").read_text() == '{"run_id": "r1"}'
    assert (pub / "segments.parquet").read_text() == "seg v1" and not ws.dir.exists()

    # another run replaces the segments this run read while it computes: its touchpoints stay unpublished
    ws = Workspace(study, "r2", ["touchpoints"]).open()
    (ws.dir / "summary_touchpoints.json").write_text('{"run_id": "r2"}')
    (pub / "summary_segmentation.json").write_text('{"run_id": "other"}')
    done = ws.publish(["touchpoints"])
    ws.close()
    assert done["files"] == [] and list(done["held_back"]) == ["touchpoints"]
    assert "the segmentation outputs it read were replaced by another run" in done["held_back"]["touchpoints"]
    assert (pub / "summary_touchpoints.json").read_text() == '{"run_id": "r1"}'


def test_a_workspace_left_by_a_killed_run_is_removed_and_a_live_one_kept(make_study):
    from cxlab.report.workspace import Workspace

    folder = make_study(events=log(("c1", "2025-01-01 10:00", "ad")))
    study = Study.load(folder)
    dead = published_dir(folder) / "runs" / "20250101-000000"
    (dead / ".kernels").mkdir(parents=True)
    (dead / ".run.lock").touch()
    (dead / ".kernels" / "kernel-1.json").write_text('{"key": "secret"}')
    live = Workspace(study, "live", ["intake"]).open()
    nxt = Workspace(study, "next", ["intake"]).open()
    assert not dead.exists() and live.dir.is_dir() and nxt.dir.is_dir()
    nxt.close()
    live.close()
    assert list((published_dir(folder) / "runs").iterdir()) == []
