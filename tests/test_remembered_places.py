"""What cxlab remembers per process — a study's folders (cxlab.paths), that its clean tables are
current (data.ensure_clean, data.clean_fingerprint) and their views in the engine (engine.table) —
is keyed by everything the answer depends on: each test first makes the answer remembered, then
changes one thing (an environment variable, the working directory, an input file, a clean table,
clean.json, another study's folder) and checks the next answer against one computed here."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pandas as pd

from cxlab import data, engine, paths
from cxlab.study import Study
from conftest import log, write_study


def hashed_key(folder: Path) -> str:
    """The identity of a study outside data/raw/, computed here: name-<8 hex of SHA-256 of the path>."""
    resolved = str(Path(folder).resolve())
    return f"{Path(resolved).name}-{hashlib.sha256(resolved.encode('utf-8')).hexdigest()[:8]}"


def test_a_study_s_folders_follow_cxlab_home_and_the_run_s_workspace_variables(make_study, tmp_path, monkeypatch):
    folder = make_study(events=log(("c1", "2025-01-01 10:00", "ad")))
    home_a, home_b = tmp_path / "home_a", tmp_path / "home_b"
    monkeypatch.setenv("CXLAB_HOME", str(home_a))
    for _ in range(2):  # asked twice: the second answer is the remembered one
        assert paths.processed_dir(folder) == home_a / "data" / "processed" / hashed_key(folder)
        assert paths.reports_dir(folder) == home_a / "reports" / hashed_key(folder)
    monkeypatch.setenv("CXLAB_HOME", str(home_b))
    assert paths.project_root() == home_b.resolve()
    assert paths.processed_dir(folder) == home_b / "data" / "processed" / hashed_key(folder)
    assert Study.load(folder).processed_dir == home_b / "data" / "processed" / hashed_key(folder)
    # a stage kernel of a run of this study: the run's workspace, and the run's id
    workspace = tmp_path / "workspace"
    monkeypatch.setenv(paths.WORKSPACE_ENV, str(workspace))
    monkeypatch.setenv(paths.WORKSPACE_STUDY_ENV, str(folder))
    monkeypatch.setenv(paths.RUN_ID_ENV, "run-1")
    assert paths.processed_dir(folder) == workspace and paths.run_id(folder) == "run-1"
    assert paths.published_dir(folder) == home_b / "data" / "processed" / hashed_key(folder)
    # the workspace of a run of another study: this study's published folder
    monkeypatch.setenv(paths.WORKSPACE_STUDY_ENV, str(tmp_path / "another"))
    assert paths.processed_dir(folder) == home_b / "data" / "processed" / hashed_key(folder)
    assert paths.run_id(folder) is None
    monkeypatch.delenv(paths.WORKSPACE_ENV)
    monkeypatch.delenv(paths.WORKSPACE_STUDY_ENV)
    monkeypatch.setenv("CXLAB_HOME", str(home_a))
    assert paths.processed_dir(folder) == home_a / "data" / "processed" / hashed_key(folder)


def test_a_relative_folder_resolves_from_the_working_directory_of_each_call(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    for parent in (first, second):
        write_study(parent / "export", events=log(("c1", "2025-01-01 10:00", "ad")))
    monkeypatch.chdir(first)
    assert paths.study_key("export") == hashed_key(first / "export") == paths.study_key("export")
    monkeypatch.chdir(second)
    assert paths.study_key("export") == hashed_key(second / "export") != hashed_key(first / "export")
    assert paths.study_argument("export") == str((second / "export").resolve())


def test_a_study_under_data_raw_is_known_by_its_name_under_its_own_home_only(tmp_path, monkeypatch):
    home = tmp_path / "home"
    folder = write_study(home / "data" / "raw" / "shop", events=log(("c1", "2025-01-01 10:00", "ad")))
    monkeypatch.setenv("CXLAB_HOME", str(home))
    assert (paths.study_key(folder), paths.study_argument(folder)) == ("shop", "shop")
    assert paths.processed_dir(folder) == home.resolve() / "data" / "processed" / "shop"
    monkeypatch.setenv("CXLAB_HOME", str(tmp_path / "other_home"))
    assert paths.study_key(folder) == hashed_key(folder)
    assert paths.study_argument(folder) == str(folder.resolve())


def _events_clean(study: Study) -> list[str]:
    return pd.read_parquet(data.clean_path(study, "events"))["customer_id"].tolist()


def _found_current(study: Study) -> None:
    """ensure_clean asked again and again: the clean tables are current, clean.json is not written
    again (and the answer is remembered)."""
    marker = study.processed_dir / "clean.json"
    written = marker.stat().st_mtime_ns, marker.stat().st_ino
    for _ in range(2):
        data.ensure_clean(study)
    assert (marker.stat().st_mtime_ns, marker.stat().st_ino) == written


def test_ensure_clean_sees_a_changed_input_and_a_removed_or_rewritten_clean_table(make_study):
    folder = make_study(events=log(("c1", "2025-01-01 10:00", "ad"), ("c2", "2025-01-02 10:00", "buy", 5.0)))
    study = data.ensure_clean(folder)
    _found_current(study)
    assert _events_clean(study) == ["c1", "c2"]
    # the inputs edited in place, same sizes (an id changed), saved a second later: written anew
    for name in ("events.csv", "customers.csv"):
        before = (folder / name).stat()
        (folder / name).write_text((folder / name).read_text().replace("c2", "c7"))
        os.utime(folder / name, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
        assert (folder / name).stat().st_size == before.st_size
    assert _events_clean(data.ensure_clean(study)) == ["c1", "c7"]
    assert data.clean_fingerprint(study) == data.fingerprint(study)
    # a clean table removed: written again
    _found_current(study)
    data.clean_path(study, "customers").unlink()
    data.ensure_clean(study)
    assert pd.read_parquet(data.clean_path(study, "customers"))["customer_id"].tolist() == ["c1", "c7"]
    # clean.json rewritten for other data: the clean tables are written for these inputs again
    _found_current(study)
    data.write_json({"fingerprint": "other data"}, study.processed_dir / "clean.json")
    assert data.clean_fingerprint(study) == "other data"
    data.ensure_clean(study)
    assert data.clean_fingerprint(study) == data.fingerprint(study) != "other data"


def test_a_clean_table_s_view_is_kept_per_file_and_inputs_and_never_taken_by_a_twin_study(tmp_path):
    rows = log(("c1", "2025-01-01 10:00", "ad"), ("c2", "2025-01-02 10:00", "buy", 5.0))
    # two copies of one export under the same folder name: the same inputs, other places
    twin_a = write_study(tmp_path / "a" / "twin", events=rows)
    twin_b = write_study(tmp_path / "b" / "twin", events=rows)
    try:
        events_a = engine.events(twin_a)
        assert engine.events(twin_a) is events_a
        events_b = engine.events(twin_b)
        assert sorted(engine.to_pandas(events_b).customer_id) == ["c1", "c2"]
        shutil.rmtree(Study.load(twin_b).processed_dir)  # the twin's outputs removed
        assert sorted(engine.to_pandas(events_a).customer_id) == ["c1", "c2"]  # still reads its own file
        # new input data: a new view, of the new clean log
        write_study(tmp_path / "a" / "twin", events=pd.concat([rows, log(("c3", "2025-01-03 10:00", "ad"))]),
                    customers=pd.DataFrame({"customer_id": ["c1", "c2", "c3"]}))
        assert sorted(engine.to_pandas(engine.events(twin_a)).customer_id) == ["c1", "c2", "c3"]
    finally:
        engine.reset()


def test_study_yaml_is_read_again_when_its_bytes_change_and_each_load_gets_its_own_copy(make_study):
    folder = make_study(events=log(("c1", "2025-01-01 10:00", "ad")), title="Shop A")
    first = Study.load(folder)
    first.config["title"] = "changed in memory"
    first.config["goal_touchpoints"].append("view")
    again = Study.load(folder)
    assert (again.title, again.config["title"], again.config["goal_touchpoints"]) == ("Shop A", "Shop A", ["buy"])
    # rewritten in place with the same size and modification time: the bytes tell
    yaml_file = folder / "study.yaml"
    before = yaml_file.stat()
    yaml_file.write_text(yaml_file.read_text().replace("Shop A", "Shop B"))
    os.utime(yaml_file, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert yaml_file.stat().st_size == before.st_size
    assert Study.load(folder).title == "Shop B"
