"""The stage contract (issue 12): a parameter that shaped a stage's outputs travels with them.

The touchpoint stage run with a conversion window other than the study's (2 days instead of 30)
records the window it used (its record's parameters, the funnels' ``window_days`` column), and
the journey map — which reads only what the stages wrote — labels its funnel lane and its text
"2-day window", in process and on the report pages of a ``cxlab run``. And every output a reader
asks the registry for is an output some stage writes.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest

import cxlab
from cxlab import data, journeymap, touchpoints
from cxlab.journeymap import figure_texts
from cxlab.stages import STAGES, output_parameters, output_path, read_output, read_record

WINDOW = 2  # days: not the study's window (30), so a value read from study.yaml would show


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A few hundred synthetic customers, with the synthetic study's planted segments standing in
    for the segmentation stage's output."""
    from cxlab.synth import write_study

    home = tmp_path_factory.mktemp("contract_home")
    folder = write_study(home / "data" / "raw" / "contract", customers=400, seed=3)
    return {"home": home, "folder": folder}


@pytest.fixture
def in_home(small, monkeypatch):
    monkeypatch.setenv("CXLAB_HOME", str(small["home"]))
    return small


def test_the_window_the_touchpoint_stage_used_is_the_one_the_journey_map_states(in_home, tmp_path):
    study = data.ensure_clean(in_home["folder"])
    assert study.conversion_window_days == 30
    data.write_parquet(pd.read_parquet(study.root / "truth_segments.parquet"),
                       output_path(study, "segmentation", "segments"))

    result = touchpoints.analyze(study, conversion_window_days=WINDOW)
    assert result.parameters["conversion_window_days"] == WINDOW
    assert set(result.tables()) == {o.key for o in STAGES["touchpoints"].outputs}  # the registry's keys, no more
    result.write()
    # the record says the window used, and the funnels carry it
    assert read_record(study, "touchpoints")["parameters"]["conversion_window_days"] == WINDOW
    assert output_parameters(study, "touchpoints")["conversion_window_days"] == WINDOW
    assert read_output(study, "touchpoints", "funnel")["window_days"].tolist() == [WINDOW] * 5
    assert set(read_output(study, "touchpoints", "funnel_by_segment")["window_days"]) == {WINDOW}
    assert any("Stage funnel (within 2 days)" in h for h in result.headlines())
    assert all("30 days" not in h for h in result.headlines())

    jm = journeymap.analyze(study, report_dir=str(tmp_path))
    saved = jm.write()
    assert "journey_map.png" in saved and saved["journey_map.png"].parent == tmp_path
    assert read_record(study, "journey_map")["segment_maps"] == len(jm.segment_maps) == 4
    for key, m in jm.maps.items():
        assert m.lane_notes["kpis"] == "stage funnel, 2-day window", key
        shown = " ".join(t.get_text() for t in figure_texts(jm.figures[key]))
        assert "2-day window" in shown and "30-day" not in shown
    words = " ".join(journeymap.findings(jm.overall))
    assert "(stage funnel, 2-day window)" in words and "30-day" not in words


def test_the_default_window_is_the_studys_and_the_record_says_which(make_study):
    from conftest import log

    events = log(("a", "2025-01-01 10:00", "ad"), ("a", "2025-01-03 10:00", "view"),
                 ("a", "2025-01-20 10:00", "buy"), ("b", "2025-01-01 10:00", "ad"))
    study = data.ensure_clean(make_study(events=events, conversion_window_days=7))
    result = touchpoints.analyze(study)
    assert result.parameters["conversion_window_days"] == 7  # 0, the default, means the study's window
    funnel = result.tables()["funnel"]
    assert funnel["window_days"].tolist() == [7, 7, 7, 7, 7]
    # a reaches consideration after 2 days, inside the window, and buys after 19, outside it
    assert funnel["customers"].tolist()[:3] == [2, 1, 0]
    assert touchpoints.analyze(study, conversion_window_days=30).tables()["funnel"]["customers"].tolist()[:3] == [2, 1, 1]
    none = touchpoints.analyze(study, conversion_window_days=None)
    assert none.parameters["conversion_window_days"] is None and none.tables()["funnel"]["window_days"].isna().all()


@pytest.mark.slow
def test_a_run_with_another_window_shows_it_on_every_page(in_home):
    """``cxlab run -p touchpoints.conversion_window_days=2``: the touchpoint page and the journey
    map page state 2 days, and never the study's 30."""
    from cxlab.report import run_study

    result = run_study(in_home["folder"], stages=["intake", "segmentation", "touchpoints", "journey_map"],
                       overrides={"touchpoints.conversion_window_days": WINDOW})
    assert result.ok, result.failed
    study = cxlab.study.Study.load(in_home["folder"])
    assert output_parameters(study, "touchpoints")["conversion_window_days"] == WINDOW
    tp_page = (result.run_dir / STAGES["touchpoints"].notebook.replace(".ipynb", ".html")).read_text()
    jm_page = (result.run_dir / STAGES["journey_map"].notebook.replace(".ipynb", ".html")).read_text()
    assert "Stage funnel (within 2 days)" in tp_page
    assert "stage funnel, 2-day window" in jm_page
    for page in (tp_page, jm_page):
        assert "Traceback" not in page
        assert "30-day" not in page and "within 30 days" not in page


# --------------------------------------------------------------------------- readers and the registry
PACKAGE = Path(cxlab.__file__).parent
READERS = {"read_output", "output_path"}  # name a stage and one of its outputs
STAGE_ONLY = {"read_record", "output_parameters"}  # name a stage


def _calls(names: set[str]):
    """(file, line, function, args) of every call to one of ``names`` in the package, outside the
    registry module that defines them."""
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "stages.py" and path.parent == PACKAGE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
                if name in names:
                    yield path.relative_to(PACKAGE), node.lineno, name, node.args


def _literal(node) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def test_every_output_a_reader_asks_for_is_written_by_a_stage():
    checked, problems = 0, []
    for file, line, name, args in _calls(READERS):
        stage, key = (_literal(a) for a in args[1:3]) if len(args) >= 3 else (None, None)
        where = f"{file}:{line} {name}"
        if stage is None or key is None:
            problems.append(f"{where}: name the stage and the output as text, so this test can check them")
        elif stage not in STAGES:
            problems.append(f"{where}: no stage '{stage}'")
        elif key not in {o.key for o in STAGES[stage].outputs}:
            problems.append(f"{where}: the {stage} stage writes no output '{key}'")
        else:
            checked += 1
    for file, line, name, args in _calls(STAGE_ONLY):
        stage = _literal(args[1]) if len(args) >= 2 else None
        if stage is not None and stage not in STAGES:
            problems.append(f"{file}:{line} {name}: no stage '{stage}'")
    assert problems == []
    assert checked >= 20  # the journey map alone reads a dozen outputs


def test_no_reader_keeps_its_own_list_of_files():
    files = {o.file for spec in STAGES.values() for o in spec.outputs}
    for package in ("journeymap", "touchpoints"):
        for path in (PACKAGE / package).glob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            named = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in files}
            assert named == set(), f"{path.name} names output files itself: {sorted(named)}"
    assert not hasattr(journeymap.inputs, "FILES") and not hasattr(touchpoints.stage, "OUTPUT_FILES")


def _cxlab_imports(node) -> list[str]:
    """The cxlab modules (first name under cxlab) an import statement of a stage module imports."""
    if isinstance(node, ast.Import):
        return [a.name.split(".")[1] for a in node.names if a.name.startswith("cxlab.")]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level == 0:
        module = node.module or ""
        if module == "cxlab":
            return [a.name for a in node.names]
        return [module.split(".")[1]] if module.startswith("cxlab.") else []
    if node.level == 2:  # from .. import x / from ..x import y, inside cxlab/<package>/
        return [node.module.split(".")[0]] if node.module else [a.name for a in node.names]
    return []  # from . import x: inside the package itself


def test_the_journey_map_and_the_touchpoint_stage_import_no_other_stage():
    stages = {"intake", "objectives", "segments", "touchpoints", "painpoints", "impact", "journeymap", "report"}
    for package in ("journeymap", "touchpoints"):
        for path in (PACKAGE / package).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                wrong = set(_cxlab_imports(node)) & (stages - {package})
                assert not wrong, f"{package}/{path.name}:{node.lineno} imports {sorted(wrong)}"
