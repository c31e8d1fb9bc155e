"""`cxlab run` and `cxlab validate` end to end: papermill, HTML without code, the index,
parameters checked before anything runs, a failing stage reported and still rendered."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from cxlab.cli import main
from cxlab.report import run_study
from cxlab.errors import ParameterError
from cxlab.paths import study_key
from conftest import log

ROOT = Path(__file__).resolve().parents[1]
SCRIPT_COMMENT = "<script>alert('x')</script> Great shop, write me at jane.doe@example.com"


@pytest.fixture
def small_study(make_study):
    events = log(
        ("c1", "2025-01-01 10:00", "ad"),
        ("c1", "2025-01-01 10:05", "view"),
        ("c1", "2025-01-02 09:00", "buy", 25.0),
        ("c2", "2025-01-03 12:00", "ad"),
        ("c2", "2025-02-03 12:00", "chatbot"),
    )
    surveys = pd.DataFrame({"response_id": ["r1"], "customer_id": ["c1"], "timestamp": ["2025-01-03"],
                            "nps": [9], "comment": [SCRIPT_COMMENT]})
    return make_study(events=events, surveys=surveys)


@pytest.fixture
def notebooks_with_failure(tmp_path, monkeypatch):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(ROOT / "notebooks" / "00_intake.ipynb", folder)
    shutil.copy(ROOT / "tests" / "notebooks" / "failing_stage.ipynb", folder / "01_objectives.ipynb")
    monkeypatch.setenv("CXLAB_NOTEBOOKS", str(folder))
    return folder


def test_validate_names_file_column_rows_and_exits_nonzero(make_study, capsys):
    events = log(("c1", "2025-01-01 10:00", "ad"), ("c1", "31/02/2025", "view"), ("zz", "2025-01-02", "ad"))
    folder = make_study(events=events, customers=pd.DataFrame({"customer_id": ["c1"]}))
    assert main(["validate", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "events.csv, column 'timestamp': 1 values are not a parseable timestamp" in out
    assert "row 2 (line 3): '31/02/2025'" in out
    assert "events.csv, column 'customer_id': 1 rows name a customer who is not in the customers table" in out
    assert "row 3 (line 4): 'zz'" in out


def test_unknown_study_is_a_clear_error_with_exit_2(capsys):
    assert main(["validate", "no-such-study"]) == 2
    assert "No study 'no-such-study'" in capsys.readouterr().err


def test_run_renders_html_without_code_and_escapes_customer_text(small_study, project_home):
    result = run_study(small_study, stages=["intake"])
    assert result.ok and result.index.exists()
    page = (result.run_dir / "00_intake.html").read_text()
    assert "hl-ipython3" not in page and "open_stage(" not in page  # no code cells
    assert "Traceback" not in page and 'data-mime-type="application/vnd.jupyter.stderr"' not in page
    assert "chatbot" in page  # the uncatalogued touchpoint is listed, not dropped
    assert '<nav class="cx-toc">' in page and 'href="#Missing-values"' in page  # table of contents
    index = result.index.read_text()
    assert "5 events from 2 of 2 customers" in index
    meta = json.loads((result.run_dir / "run.json").read_text())
    assert meta["stages"][0]["status"] == "ok" and len(meta["fingerprint"]) == 16
    assert result.run_dir.parent == project_home / "reports" / study_key(small_study)


def test_html_shows_a_script_tag_as_text(small_study):
    from cxlab.notebook import table_html

    html = table_html(pd.DataFrame({"comment": [SCRIPT_COMMENT]}))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "jane.doe@example.com" not in html and "[email]" in html


def test_unknown_parameter_is_rejected_before_running(small_study):
    with pytest.raises(ParameterError, match="no stage of this run declares 'windw'"):
        run_study(small_study, stages=["intake"], overrides={"windw": "3"})


def test_parameter_types_are_checked(small_study, notebooks_with_failure):
    with pytest.raises(ParameterError, match="must be float"):
        run_study(small_study, overrides={"threshold": "high"})


def test_failing_stage_exits_nonzero_and_still_renders(small_study, notebooks_with_failure, capsys, project_home):
    code = main(["run", str(small_study), "-p", "objectives.threshold=0.7"])
    assert code == 2
    err = capsys.readouterr().err
    assert "Stage 'objectives' failed: ValueError: planted failure at threshold 0.7" in err
    run_dir = sorted(p for p in (project_home / "reports" / study_key(small_study)).iterdir() if p.is_dir())[-1]
    assert (run_dir / "00_intake.html").exists()
    failed_page = (run_dir / "01_objectives.html").read_text()
    assert "planted failure at threshold 0.7" in failed_page
    index = (run_dir / "index.html").read_text()
    assert "stage objectives failed" in index


def test_a_failing_stage_blocks_only_the_stages_that_read_from_it(small_study, notebooks_with_failure, capsys,
                                                                  project_home):
    import nbformat

    for name in ("02_segmentation", "05_impact"):  # stages that only say they ran
        params = nbformat.v4.new_code_cell('study: str = "demo"  # the study')
        params.metadata["tags"] = ["parameters"]
        nb = nbformat.v4.new_notebook(cells=[params, nbformat.v4.new_code_cell(f'print("{name} ran")')])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, notebooks_with_failure / f"{name}.ipynb")
    code = main(["run", str(small_study), "-p", "objectives.threshold=0.7"])
    assert code == 2
    err = capsys.readouterr().err
    assert "Stage 'objectives' failed: ValueError: planted failure at threshold 0.7" in err
    assert "Not run, as they read from a failed stage: impact." in err
    assert "Ran: intake, segmentation." in err
    run_dir = sorted(p for p in (project_home / "reports" / study_key(small_study)).iterdir() if p.is_dir())[-1]
    meta = json.loads((run_dir / "run.json").read_text())
    runs = {s["stage"]: s for s in meta["stages"]}
    # segmentation reads only intake: it runs; impact reads the objectives' hypotheses: blocked
    assert {k: v["status"] for k, v in runs.items()} == {
        "intake": "ok", "objectives": "failed", "segmentation": "ok", "impact": "blocked"}
    assert runs["impact"]["error"] == "not run: needs objectives, which failed"
    assert "segmentation ran" in (run_dir / "02_segmentation.html").read_text()
    assert not (run_dir / "05_impact.html").exists()
    index = (run_dir / "index.html").read_text()
    assert "stage objectives failed; not run, as they read from it: impact" in index


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "cxlab"
    out = subprocess.run([str(exe), "stages"], capture_output=True, text=True, check=True).stdout
    assert "intake" in out and "00_intake.ipynb" in out


# --------------------------------------------------------------------------- parallel stages
TRACE_CELL = """
import json, os, time
from pathlib import Path
leftover = "left_by_earlier_stage" in dir()
left_by_earlier_stage = True
t0 = time.time()
if stage_name == "intake":  # like the real one: the clean tables first, then the profile
    from cxlab import data
    data.write_clean_tables(study)
time.sleep(4 if stage_name == "intake" else 5)
Path(os.environ["CXLAB_TEST_TRACE"], f"{stage_name}.json").write_text(json.dumps({
    "pid": os.getpid(), "threads": __import__("cxlab.engine").engine.configured_threads(),
    "start": t0, "end": time.time(), "leftover": leftover}))
"""


@pytest.fixture
def tracing_notebooks(tmp_path, monkeypatch):
    """Stage notebooks that only record their kernel, DuckDB threads and start and end times."""
    import nbformat

    folder, trace = tmp_path / "notebooks", tmp_path / "trace"
    folder.mkdir()
    trace.mkdir()
    for stage, name in [("intake", "00_intake"), ("objectives", "01_objectives"),
                        ("segmentation", "02_segmentation"), ("touchpoints", "03_touchpoints")]:
        params = nbformat.v4.new_code_cell(f'study: str = "demo"  # the study\nstage_name: str = "{stage}"  # traced as')
        params.metadata["tags"] = ["parameters"]
        nb = nbformat.v4.new_notebook(cells=[params, nbformat.v4.new_code_cell(TRACE_CELL)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / f"{name}.ipynb")
    monkeypatch.setenv("CXLAB_NOTEBOOKS", str(folder))
    monkeypatch.setenv("CXLAB_TEST_TRACE", str(trace))
    monkeypatch.delenv("CXLAB_DUCKDB_THREADS", raising=False)
    monkeypatch.delenv("CXLAB_KERNEL_PER_STAGE", raising=False)
    return trace


def test_independent_stages_run_side_by_side_in_two_kernels_with_the_cores_shared(small_study, tracing_notebooks):
    """The scheduler's decisions, read from its records (run.json: each stage's kernel, start and
    seconds) and from what each stage notebook saw, never from how wall-clock intervals overlap:
    a busy machine stretches every interval but changes none of these.

    Two barriers make "side by side" an event rather than a timing: intake, once its clean tables
    are written, waits until segmentation has started (the stages that read the clean tables
    start while intake still profiles them), and segmentation waits until objectives has started
    (independent stages run at the same time, in two kernels). A runner that ran them one after
    the other would leave a barrier unmet (it gives up after 120 s) and the stage records so."""
    import os

    import nbformat

    from cxlab.report.schedule import dependencies
    from cxlab.study import Study

    barrier_cell = """
import json, os, time
from pathlib import Path
leftover = "left_by_earlier_stage" in dir()
left_by_earlier_stage = True
trace = Path(os.environ["CXLAB_TEST_TRACE"])
t0 = time.time()
if stage_name == "intake":  # like the real one: the clean tables first, then the profile
    from cxlab import data
    data.write_clean_tables(study)
(trace / f"{stage_name}.started").touch()
waits_for = {"intake": "segmentation", "segmentation": "objectives"}.get(stage_name)
saw = None
if waits_for:
    deadline = time.time() + 120
    while not (trace / f"{waits_for}.started").exists() and time.time() < deadline:
        time.sleep(0.05)
    saw = (trace / f"{waits_for}.started").exists()
(trace / f"{stage_name}.json").write_text(json.dumps({
    "pid": os.getpid(), "threads": __import__("cxlab.engine").engine.configured_threads(),
    "start": t0, "saw": saw, "leftover": leftover}))
"""
    for path in Path(os.environ["CXLAB_NOTEBOOKS"]).glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        nb.cells[1] = nbformat.v4.new_code_cell(barrier_cell)
        nbformat.write(nb, path)

    stages = ["intake", "objectives", "segmentation", "touchpoints"]
    result = run_study(small_study, workers=2)
    assert [(s.status, s.error) for s in result.stages] == [("ok", None)] * 4
    t = {s: json.loads((tracing_notebooks / f"{s}.json").read_text()) for s in stages}
    meta = json.loads((result.run_dir / "run.json").read_text())
    rec = {s["stage"]: s for s in meta["stages"]}
    assert meta["workers"] == 2 and sorted(rec) == sorted(stages)
    # side by side: segmentation started while intake ran, objectives while segmentation ran
    assert t["intake"]["saw"] is True and t["segmentation"]["saw"] is True
    # which stage ran on which kernel: stages side by side had two kernels; objectives took the
    # kernel intake left (the other one was busy with segmentation)
    assert rec["segmentation"]["kernel"] != rec["intake"]["kernel"]
    assert rec["objectives"]["kernel"] == rec["intake"]["kernel"]
    # two kernels for four stages: a kernel a record names is one process, kept for several stages,
    # each stage starting from an empty namespace
    pids = {k: {t[s]["pid"] for s in stages if rec[s]["kernel"] == k} for k in {rec[s]["kernel"] for s in stages}}
    assert sorted(pids) == [1, 2] and all(len(p) == 1 for p in pids.values())
    assert len(set.union(*pids.values())) == 2
    assert not any(v["leftover"] for v in t.values())
    # the order stages started in: intake; then, of the two stages its clean tables free,
    # segmentation first (the longer chain: touchpoints reads it); touchpoints last
    assert sorted(stages, key=lambda s: rec[s]["started_s"]) == ["intake", "segmentation", "objectives", "touchpoints"]
    # dependencies respected, per the records: a stage starts after the stages it reads from
    # finished (started_s and seconds are rounded to 0.01 s) ...
    deps = dependencies(stages)
    assert deps["touchpoints"] == ["intake", "segmentation"]
    for stage in stages:
        for dep in deps[stage]:
            if dep != "intake":
                assert rec[stage]["started_s"] >= rec[dep]["started_s"] + rec[dep]["seconds"] - 0.02, (stage, dep)
    # ... and, for intake, after its clean tables were written
    clean_written = (Study.load(small_study).processed_dir / "clean.json").stat().st_mtime
    assert all(t[s]["start"] >= clean_written for s in stages if "intake" in deps[s])
    # DuckDB threads: every core for intake (its clean tables are written alone), half beside another stage
    cores = os.cpu_count()
    assert t["intake"]["threads"] == rec["intake"]["duckdb_threads"] == cores
    assert {t[s]["threads"] for s in ("objectives", "segmentation", "touchpoints")} == {max(1, cores // 2)}
    assert {rec[s]["duckdb_threads"] for s in ("objectives", "segmentation", "touchpoints")} == {max(1, cores // 2)}


def test_duckdb_threads_follow_the_dependencies_and_respect_the_user():
    from cxlab.report.schedule import DEPENDS, stage_threads

    every = list(DEPENDS)
    assert stage_threads(every, workers=2, cores=2) == {
        "intake": 2, "objectives": 1, "segmentation": 1, "touchpoints": 1, "pain_points": 1, "impact": 1,
        "journey_map": 2}
    assert stage_threads(every, workers=2, cores=8)["impact"] == 4
    # a chain of stages never runs side by side
    assert stage_threads(["intake", "segmentation", "touchpoints"], workers=2, cores=2) == {
        "intake": 2, "segmentation": 2, "touchpoints": 2}
    assert set(stage_threads(every, workers=1, cores=2).values()) == {None}


def test_duckdb_threads_set_by_the_user_are_left_alone(monkeypatch):
    from cxlab.report.schedule import DEPENDS, stage_threads

    monkeypatch.setenv("CXLAB_DUCKDB_THREADS", "3")
    assert set(stage_threads(list(DEPENDS), workers=2, cores=2).values()) == {None}


def test_duckdb_threads_come_from_study_yaml_then_the_runner(make_study, monkeypatch):
    from cxlab import engine

    events = log(("c1", "2025-01-01 10:00", "ad"))
    monkeypatch.setenv("CXLAB_DUCKDB_THREADS", "1")
    engine.reset()
    con = engine.connect(make_study(events=events))
    assert con.raw_sql("SELECT current_setting('threads')").fetchone()[0] == 1
    engine.reset()
    con = engine.connect(make_study("own", events=events, engine={"backend": "duckdb", "threads": 2}))
    assert con.raw_sql("SELECT current_setting('threads')").fetchone()[0] == 2
    engine.reset()


def test_a_free_kernel_takes_the_ready_stage_on_the_longest_chain(tmp_path):
    from cxlab.report.schedule import DEPENDS, last_run_seconds, stage_priority

    every = list(DEPENDS)
    seconds = {"intake": 10, "objectives": 40, "segmentation": 50, "touchpoints": 60, "pain_points": 70,
               "impact": 10, "journey_map": 20}
    chain = stage_priority(every, seconds)
    assert chain["journey_map"] == 20 and chain["impact"] == 30
    assert chain["pain_points"] == 90 and chain["touchpoints"] == 80
    assert chain["segmentation"] == 50 + 90 and chain["objectives"] == 40 + 30
    assert chain["intake"] == 10 + 140
    # the last run of the study, where there is one, gives the seconds
    (tmp_path / "20260101-000000").mkdir()
    (tmp_path / "20260101-000000" / "run.json").write_text(json.dumps({"stages": [
        {"stage": "touchpoints", "status": "ok", "seconds": 99.0},
        {"stage": "impact", "status": "failed", "seconds": 1.0}]}))
    (tmp_path / "20260102-000000").mkdir()  # a run that never finished: no run.json
    assert last_run_seconds(tmp_path) == {"touchpoints": 99.0}
    assert last_run_seconds(tmp_path / "none") == {}
    assert stage_priority(every, last_run_seconds(tmp_path))["touchpoints"] > stage_priority(every)["pain_points"]
