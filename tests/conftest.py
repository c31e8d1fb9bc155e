"""Shared fixtures: every test writes its outputs under a temporary project home, and tiny
hand-made studies are built from small tables."""
from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

STAGES = ["awareness", "consideration", "purchase", "service", "loyalty"]
CATALOG = {
    "ad": {"stage": "awareness", "channel": "web"},
    "view": {"stage": "consideration", "channel": "web"},
    "cart": {"stage": "purchase", "channel": "web"},
    "pay_error": {"stage": "purchase", "channel": "web"},
    "buy": {"stage": "purchase", "channel": "web"},
    "call": {"stage": "service", "channel": "call_centre"},
    "review": {"stage": "loyalty", "channel": "web"},
}


@pytest.fixture(autouse=True)
def project_home(tmp_path_factory, monkeypatch) -> Path:
    """Outputs (data/processed, reports) go to a temporary project home, never the checkout."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("CXLAB_HOME", str(home))
    return home


def write_study(
    folder: Path,
    *,
    events: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    surveys: pd.DataFrame | None = None,
    tickets: pd.DataFrame | None = None,
    fmt: str = "csv",
    **config,
) -> Path:
    """Write a study folder from small tables; customers default to those the events name."""
    folder.mkdir(parents=True, exist_ok=True)
    if customers is None:
        customers = pd.DataFrame({"customer_id": sorted(events["customer_id"].astype(str).unique())})
    tables = {"customers": customers, "events": events, "surveys": surveys, "tickets": tickets}
    files = {}
    for name, frame in tables.items():
        if frame is None:
            continue
        file = f"{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(folder / file, index=False)
        else:
            frame.to_parquet(folder / file, index=False)
        files[name] = file
    study = {
        "title": "Tiny test study",
        "tables": files,
        "stages": STAGES,
        "touchpoints": CATALOG,
        "goal_touchpoints": ["buy"],
    }
    study.update(config)
    (folder / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
    return folder


@pytest.fixture
def make_study(tmp_path):
    """A factory: make_study(events=..., customers=..., name='tiny', **study_yaml_keys)."""

    def factory(name: str = "tiny", **kwargs) -> Path:
        return write_study(tmp_path / name, **kwargs)

    return factory


def log(*rows) -> pd.DataFrame:
    """Events from (customer_id, 'YYYY-MM-DD HH:MM', touchpoint[, revenue]) tuples."""
    records = []
    for row in rows:
        cid, ts, tp, *rest = row
        records.append({"customer_id": cid, "timestamp": ts, "touchpoint": tp,
                        "revenue": rest[0] if rest else None})
    return pd.DataFrame(records)


# The worked log the KPI, objectives and impact tests share (hand-counted in the tests):
# a: first touch 1 Jan, buys 5 Jan (10) and 3 Feb (30)           -> converted within 30 days
# b: first touch 10 Jan, buys 10 Mar (20)                        -> 59 days: converted only with a 60-day window
# c: first touch 1 Feb, buys 2 and 3 Feb (5, 7)                   -> converted
# e, f: first touch 1 Apr, buy 2 and 3 Apr (5 each)               -> converted (censored with a 60-day window)
# d: first touch 30 May, the last event of the log                 -> censored
WORKED_LOG = (
    ("a", "2025-01-01 10:00", "ad"), ("a", "2025-01-05 10:00", "buy", 10.0), ("a", "2025-02-03 10:00", "buy", 30.0),
    ("b", "2025-01-10 10:00", "ad"), ("b", "2025-03-10 10:00", "buy", 20.0),
    ("c", "2025-02-01 10:00", "view"), ("c", "2025-02-02 10:00", "buy", 5.0), ("c", "2025-02-03 10:00", "buy", 7.0),
    ("e", "2025-04-01 10:00", "view"), ("e", "2025-04-02 10:00", "buy", 5.0),
    ("f", "2025-04-01 10:00", "view"), ("f", "2025-04-03 10:00", "buy", 5.0),
    ("d", "2025-05-30 10:00", "ad"),
)


# --------------------------------------------------------------------------- Spark
SPARK_ENGINE = {"backend": "pyspark", "master": "local[2]", "shuffle_partitions": 4}


def spark_missing() -> str | None:
    """Why Spark tests cannot run here, or None."""
    run = "then run them with: make test EXTRAS=dev,spark (as CI does)"
    if importlib.util.find_spec("pyspark") is None:
        return f"pyspark is not installed: install Java 17 (apt-get install openjdk-17-jre-headless), {run}"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return f"Java is not installed (Spark needs Java 17): apt-get install openjdk-17-jre-headless, {run}"
    return None


def require_spark() -> None:
    """At the top of a Spark test module: skip without pyspark or Java, except under CI
    (CI=true), where a missing Spark is a failure (.ci/run installs both)."""
    reason = spark_missing()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            raise RuntimeError(f"Spark tests cannot run under CI: {reason}")
        pytest.skip(reason, allow_module_level=True)


@pytest.fixture(scope="session")
def spark_session():
    """One local Spark session for the whole test run (about 12 s to start); the engine's
    builder reuses it through getOrCreate."""
    from pyspark.sql import SparkSession

    from cxlab import engine

    session = (
        SparkSession.builder.master(SPARK_ENGINE["master"]).appName("cxlab")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(SPARK_ENGINE["shuffle_partitions"]))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    engine.reset()
    session.stop()


# --------------------------------------------------------------------------- notebooks in process
def run_notebook(name: str, monkeypatch, **parameters) -> tuple[dict, list]:
    """A stage notebook's code cells (notebooks/<name>) run in this process as papermill would:
    the parameters cell, then the values given. Returns the notebook's namespace and what it
    displayed, so a test reads the page's content without a kernel."""
    import matplotlib.pyplot as plt
    import nbformat

    shown: list = []
    monkeypatch.setattr("IPython.display.display", lambda *objs, **kw: shown.extend(objs))
    nb = nbformat.read(Path(__file__).resolve().parents[1] / "notebooks" / name, as_version=4)
    namespace: dict = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        exec(compile(cell.source, name, "exec"), namespace)
        if "parameters" in cell.metadata.get("tags", []):
            namespace.update(parameters)
    plt.close("all")
    return namespace, shown


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """One `cxlab run` of the demo study (20,000 customers, seed 7: what `make demo` makes), shared
    by the tests that read a whole run as a team would: every page, the records, the README's
    figures. Returns the run's result (``.run_dir``, ``.study``, ``.stages``) with ``.home``, the project
    home it was made in (its own)."""
    from cxlab.report import run_study
    from cxlab.synth import DEMO, write_study

    home = tmp_path_factory.mktemp("demo-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CXLAB_HOME", str(home))
        folder = write_study(home / "data" / "raw" / "demo", **DEMO)
        result = run_study(folder)
    assert result.ok, [(s.stage, s.error) for s in result.stages if s.error] or result.error
    result.home = home
    return result


@pytest.fixture(scope="session")
def demo_study(demo_run) -> Path:
    """The demo study's folder as ``demo_run`` wrote and ran it: ``cxlab.synth.write_study`` with
    ``synth.DEMO`` (20,000 customers, seed 7), every other argument at its default, study.yaml as
    written. Shared by the tests that read or analyse the demo study with those very parameters
    (instead of each writing its own copy); never changed: a test that edits the study, or needs
    another size, seed or study.yaml, writes its own."""
    return demo_run.home / "data" / "raw" / "demo"


def _files_state(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


@contextlib.contextmanager
def reading_demo_home(run):
    """Inside, the project home (CXLAB_HOME) is the demo run's (``demo_run``): the demo study
    (``demo_study``) is read with the clean tables and the stage outputs that run made, instead of
    making them again. Read only: leaving fails when a file in that home was written, added or
    removed meanwhile."""
    before = _files_state(run.home)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CXLAB_HOME", str(run.home))
        yield run
    after = _files_state(run.home)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"a test reading the demo run's home changed files there: {changed[:10]}"


@pytest.fixture
def in_demo_home(demo_run):
    """This test runs in the demo run's project home, read only (``reading_demo_home``)."""
    with reading_demo_home(demo_run) as run:
        yield run
