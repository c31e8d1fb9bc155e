"""benchmarks/spark_bench.py: its result check compares Spark with DuckDB on the same foreign log
(and notices a difference), its event-log reading puts each Spark stage's bytes under the
operation that ran it, and its shuffle extrapolation is plain arithmetic done right.

The Spark part needs pyspark and Java 17: skipped without them, a failure under CI (``CI=true``).
It runs on the suite's shared local Spark session (``spark_session``): ``getOrCreate`` hands every
study that session, so the Spark copy is made with ``SPARK_ENGINE``'s master and partitions.
"""
from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import pytest

from conftest import SPARK_ENGINE, require_spark

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "spark_bench.py"


def _load():
    spec = importlib.util.spec_from_file_location("spark_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # puts benchmarks/ on sys.path for foreign_bench, foreign_log
    return module


sb = _load()


# --------------------------------------------------------------------------- arithmetic
def test_shuffle_plan_extrapolates_linearly_from_the_largest_size():
    # 40 MB at 1M events (40 B/event), 420 MB at 10M (42 B/event): per event grows 1.05x
    plan = sb.shuffle_plan({1_000_000: 40_000_000, 10_000_000: 420_000_000}, target_events=1_000_000_000)
    assert plan["bytes_per_event"] == pytest.approx(42.0)
    assert plan["growth"] == pytest.approx(1.05)
    assert plan["bytes"] == pytest.approx(42e9)
    # 42e9 B over 256 MiB (268,435,456 B): 156 partitions hold 41,875,931,136 B, so 157;
    # over 128 MiB (134,217,728 B): 312 hold 41,875,931,136 B, 313 hold 42,010,148,864 B, so 313
    assert plan["partitions"] == (157, 313)


def test_shuffle_plan_of_one_size_and_of_nothing():
    plan = sb.shuffle_plan({2_000_000: 1_000_000}, target_events=8_000_000, partition_mb=(1, 2))
    assert plan["bytes_per_event"] == 0.5 and plan["growth"] == 1.0
    assert plan["bytes"] == 4_000_000
    assert plan["partitions"] == (2, 4)  # 4e6 B / 2 MiB = 1.9 -> 2; / 1 MiB = 3.8 -> 4
    with pytest.raises(ValueError):
        sb.shuffle_plan({})


def test_event_log_stages_are_summed_per_operation(tmp_path):
    """Two jobs under two job groups, three completed stages (one skipped stage never completes):
    each stage's shuffle read is its local plus its remote bytes, and lands under its group."""
    def stage(sid, tasks, **metrics):
        acc = [{"Name": f"internal.metrics.{k}", "Value": v} for k, v in metrics.items()]
        return {"Event": "SparkListenerStageCompleted",
                "Stage Info": {"Stage ID": sid, "Stage Attempt ID": 0, "Number of Tasks": tasks,
                               "Submission Time": 1000, "Completion Time": 3500, "Accumulables": acc,
                               "RDD Info": [{"Scope": json.dumps({"id": "1", "name": "Exchange"})},
                                            {"Scope": json.dumps({"id": "2", "name": "Window"})}]}}
    events = [
        {"Event": "SparkListenerApplicationStart", "App ID": "local-1", "Timestamp": 1},
        {"Event": "SparkListenerJobStart", "Job ID": 0, "Stage IDs": [0, 1], "Properties": {"spark.jobGroup.id": "inventory"}},
        stage(0, 1, **{"input.bytesRead": 5000, "shuffle.write.bytesWritten": 700, "executorRunTime": 1500,
                       "executorCpuTime": 1_000_000_000}),
        stage(1, 4, **{"shuffle.read.localBytesRead": 600, "shuffle.read.remoteBytesRead": 100, "executorRunTime": 500}),
        {"Event": "SparkListenerJobStart", "Job ID": 1, "Stage IDs": [2, 3], "Properties": {"spark.jobGroup.id": "funnel"}},
        stage(3, 8, **{"shuffle.write.bytesWritten": 50, "diskBytesSpilled": 9}),
    ]
    path = tmp_path / "local-1"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    log = sb.read_event_log(path)
    assert log["app"]["id"] == "local-1"
    assert [(s["stage"], s["op"]) for s in log["stages"]] == [(0, "inventory"), (1, "inventory"), (3, "funnel")]
    assert log["stages"][0]["operators"] == ["Exchange", "Window"]
    assert log["stages"][0]["seconds"] == 2.5
    ops = sb.per_operation(log["stages"])
    assert ops["inventory"] == {"tasks": 5, "input_bytes": 5000, "shuffle_write_bytes": 700, "shuffle_read_bytes": 700,
                                "spill_disk_bytes": 0, "task_run_s": 2.0, "task_cpu_s": 1.0, "gc_s": 0.0, "result_bytes": 0,
                                "stages": 2, "largest_shuffle_write_bytes": 700}
    assert (ops["funnel"]["tasks"], ops["funnel"]["shuffle_write_bytes"], ops["funnel"]["spill_disk_bytes"]) == (8, 50, 9)


# --------------------------------------------------------------------------- Spark against DuckDB
@pytest.fixture(scope="module")
def foreign_100(tmp_path_factory):
    """A foreign Zipf log of 1,000 events, 100 customers, and its Spark copy (same events file)."""
    import foreign_log

    folder = foreign_log.write(tmp_path_factory.mktemp("foreign") / "foreign_100", 1000, seed=3)
    spark = sb.spark_study(folder, SPARK_ENGINE["shuffle_partitions"], driver_memory=None,
                           master=SPARK_ENGINE["master"])
    return folder, spark


@pytest.fixture
def spark(request):
    """The shared Spark session; skipped without Spark (only this test: the arithmetic above
    needs none), a failure under CI."""
    require_spark()
    return request.getfixturevalue("spark_session")


@pytest.mark.spark
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_spark_check_agrees_with_duckdb_on_the_same_log(spark, foreign_100):
    import yaml

    from cxlab import engine
    from cxlab.study import Study

    folder, spark_folder = foreign_100
    assert (spark_folder / "events.parquet").stat().st_ino == (folder / "events.parquet").stat().st_ino
    config = yaml.safe_load((spark_folder / "study.yaml").read_text())
    assert config["engine"] == {"backend": "pyspark", "master": SPARK_ENGINE["master"],
                                "shuffle_partitions": SPARK_ENGINE["shuffle_partitions"]}
    assert config["tables"] == yaml.safe_load((folder / "study.yaml").read_text())["tables"]

    duck = sb.fb.cxlab_worker(folder)["check"]
    assert type(engine.connect(Study.load(spark_folder))).__module__.startswith("ibis.backends.pyspark")
    spark = sb.fb.cxlab_worker(spark_folder)["check"]

    assert sb.check_agrees(duck, spark) == []
    # the log itself: 1,000 events of 100 customers, every one in the inventory and the variants
    assert sum(row[0] for row in spark["inventory"].values()) == 1000
    assert spark["totals"][0] == 100 and spark["variants"]["customers"] == 100
    # and the check notices one count off
    wrong = copy.deepcopy(spark)
    wrong["transitions"][next(iter(wrong["transitions"]))] += 1
    problems = sb.check_agrees(duck, wrong)
    assert len(problems) == 1 and problems[0].startswith("transitions:")
