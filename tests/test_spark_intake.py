"""The intake stage on Spark: a study whose study.yaml says ``engine: {backend: pyspark}`` is
profiled through Ibis on a local PySpark session, and every number of the profile equals the
DuckDB profile of the same files (events, customers, date range, touchpoint coverage with an
uncatalogued touchpoint and a never-seen one, missing values, events per month and channel,
the distribution of events per customer).

Needs pyspark (the ``spark`` extra) and Java 17; skipped without them, except under CI
(``CI=true``), where a missing Spark is a failure. The Spark session (about 12 s to start) is
shared with the other Spark tests of the run.
"""
from __future__ import annotations


import shutil

import pandas as pd
import pytest
import yaml

from cxlab import engine, intake
from conftest import log, require_spark, write_study

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

SPARK = {"backend": "pyspark", "master": "local[2]", "shuffle_partitions": 4}


require_spark()

# a hand-made log: two months, a touchpoint missing from the catalog (chatbot), a catalogued one
# never seen (review), events without a channel, two events at the same second
EVENTS = log(
    ("c1", "2025-01-01 10:00", "ad"),
    ("c1", "2025-01-01 10:00", "view"),
    ("c1", "2025-01-02 09:00", "buy", 25.0),
    ("c2", "2025-01-31 23:59", "ad"),
    ("c2", "2025-02-01 00:00", "chatbot"),
    ("c2", "2025-02-03 12:00", "view"),
    ("c3", "2025-02-10 08:30", "ad"),
    ("c3", "2025-02-11 08:30", "cart"),
    ("c3", "2025-02-11 08:31", "pay_error"),
    ("c3", "2025-02-12 10:00", "call"),
)
EVENTS["channel"] = ["web", None, "web", "app", None, "app", "web", "web", None, "call_centre"]
CUSTOMERS = pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c4"], "region": ["N", None, "S", "S"]})
SURVEYS = pd.DataFrame({"response_id": ["r1", "r2", "r3"], "customer_id": ["c1", "c2", "c3"],
                        "timestamp": ["2025-01-03", "2025-02-04", "2025-02-13"], "nps": [9, None, 3],
                        "comment": ["fine", None, "payment failed twice"]})


def _profile_tables(p: intake.IntakeProfile) -> dict[str, pd.DataFrame]:
    return {"overview": p.overview, "coverage": p.coverage, "missing": p.missing, "monthly": p.monthly,
            "per_customer": p.per_customer}


def _scalars(p: intake.IntakeProfile) -> tuple:
    return (p.first_event, p.last_event, p.customers_with_events, p.customers, tuple(p.headlines()))


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    for frame in (a, b):  # Spark hands timestamps back at microsecond resolution
        for col in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[col]):
                frame[col] = frame[col].astype("datetime64[ns]")
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=True)


@pytest.fixture(scope="module", autouse=True)
def _forget_connections():
    yield
    engine.reset()


def _profile_both(make_folder) -> tuple[intake.IntakeProfile, intake.IntakeProfile]:
    """Profile the same files twice, once per engine (study.yaml's ``engine`` setting)."""
    out = {}
    for backend, setting in (("duckdb", {"backend": "duckdb"}), ("pyspark", SPARK)):
        root = make_folder(backend)
        config = yaml.safe_load((root / "study.yaml").read_text())
        config["engine"] = setting
        (root / "study.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        profile = intake.profile(root)
        assert type(engine.connect(profile.study)).__module__.startswith(f"ibis.backends.{backend}")
        out[backend] = profile
    return out["duckdb"], out["pyspark"]


def test_hand_made_log_profiles_the_same_on_spark_as_on_duckdb(tmp_path):
    duck, spark = _profile_both(lambda backend: write_study(
        tmp_path / backend / "intake_parity", events=EVENTS, customers=CUSTOMERS, surveys=SURVEYS))
    for name, table in _profile_tables(duck).items():
        _same(table, _profile_tables(spark)[name])
    assert _scalars(duck) == _scalars(spark)
    # and the numbers are the hand-counted ones
    cov = spark.coverage.set_index("touchpoint")
    assert cov.loc["chatbot", ["status", "events", "customers"]].tolist() == ["not in catalog", 1, 1]
    assert cov.loc["review", ["status", "events"]].tolist() == ["never seen", 0]
    assert cov.loc["ad", ["events", "customers"]].tolist() == [3, 3]
    monthly = spark.monthly.assign(month=spark.monthly.month.dt.strftime("%Y-%m"))
    assert monthly.groupby("month").events.sum().to_dict() == {"2025-01": 4, "2025-02": 6}
    by_channel = monthly.set_index(["month", "channel"])
    # a missing channel is taken from the catalog (pay_error: web); chatbot has none anywhere
    assert by_channel.loc[("2025-02", "web"), ["events", "customers"]].tolist() == [3, 1]
    assert by_channel.loc[("2025-02", "unknown"), "events"] == 1
    assert by_channel.loc[("2025-01", "web"), ["events", "customers"]].tolist() == [3, 1]
    assert spark.per_customer.set_index("k").customers.to_dict() == {3: 2, 4: 1}
    missing = spark.missing.set_index(["table", "column"])
    assert missing.loc[("customers", "region"), "missing"] == 1
    assert missing.loc[("surveys", "nps"), "missing"] == 1
    assert (spark.customers_with_events, spark.customers) == (3, 4)
    assert spark.first_event == pd.Timestamp("2025-01-01 10:00")


@pytest.mark.slow
def test_synthetic_study_profiles_the_same_on_spark_as_on_duckdb(tmp_path):
    from cxlab.synth import write_study as synth_study

    source = synth_study(tmp_path / "synth", customers=600, seed=11)
    duck, spark = _profile_both(
        lambda backend: shutil.copytree(source, tmp_path / backend / "synth_parity"))
    for name, table in _profile_tables(duck).items():
        _same(table, _profile_tables(spark)[name])
    assert _scalars(duck) == _scalars(spark)
    truth = pd.read_parquet(source / "events.parquet") if (source / "events.parquet").exists() else pd.read_csv(source / "events.csv")
    assert int(spark.overview.set_index("table").loc["events", "rows"]) == len(truth)
    assert spark.per_customer.customers.sum() == truth.customer_id.nunique() == spark.customers_with_events
