"""The same code on Spark: the touchpoint analyses run through Ibis on a local PySpark session
and give exactly the numbers DuckDB gives, on a small synthetic study.

Needs pyspark (the ``spark`` extra) and Java 17. Without them the module is skipped, except under
CI (``CI=true``), where a missing Spark is a failure. One Spark session (about 12 s to start) is
shared by every test here.
"""
from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from cxlab import data, engine
from conftest import SPARK_ENGINE, require_spark
from cxlab import touchpoints as tp

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

require_spark()


@pytest.fixture(scope="module")
def synth_folder(tmp_path_factory):
    from cxlab.synth import write_study

    return write_study(tmp_path_factory.mktemp("spark") / "parity", customers=600, seed=5)


@pytest.fixture
def studies(synth_folder, spark_session):
    """The same study twice: on DuckDB (as written) and on the shared Spark session."""
    duck = data.ensure_clean(synth_folder)
    spark = dataclasses.replace(duck, engine=dict(SPARK_ENGINE))
    assert type(engine.connect(spark)).__module__.startswith("ibis.backends.pyspark")
    return duck, spark


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Identical tables: same rows, same values (exactly; only dtypes may differ)."""
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                  check_dtype=False, check_exact=True)


def test_inventory_is_identical_on_spark(studies):
    duck, spark = studies
    a, b = tp.inventory(duck), tp.inventory(spark)
    same(a.table, b.table)
    assert a.largest_dropoff()["touchpoint"] == b.largest_dropoff()["touchpoint"] == "payment_error"
    same(tp.inventory(duck, by="channel").table, tp.inventory(spark, by="channel").table)


def test_funnels_are_identical_on_spark(studies):
    duck, spark = studies
    a, b = tp.stage_funnel(duck), tp.stage_funnel(spark)
    same(a.table, b.table)
    same(a.time_to_convert, b.time_to_convert)
    pd.testing.assert_series_equal(a.time_to_convert_quantiles, b.time_to_convert_quantiles)
    steps = [["web_product_view", "app_product_view"], ["web_checkout", "app_checkout"],
             ["web_purchase", "app_purchase"]]
    kw = dict(window_days=14, exclusions=[("payment_error", 2, 3)], by="channel")
    a, b = tp.funnel(duck, steps, **kw), tp.funnel(spark, steps, **kw)
    same(a.table, b.table)
    same(a.by_group, b.by_group)
    assert a.excluded == b.excluded > 0


def test_transitions_are_identical_on_spark(studies):
    duck, spark = studies
    a, b = tp.transitions(duck, collapse_repeats=True), tp.transitions(spark, collapse_repeats=True)
    same(a.table, b.table)
    same(a.paths, b.paths)


@pytest.mark.slow
def test_variants_are_identical_on_spark(studies):
    # variants take Spark's own route to ordered strings (collect pairs, sort, extract)
    duck, spark = studies
    same(tp.variants(duck, top=10).table, tp.variants(spark, top=10).table)


@pytest.mark.slow
def test_the_whole_stage_is_identical_on_spark(studies):
    # the stage resolves the event log once and hands it to every analysis: on Spark too
    duck, spark = studies
    a = tp.analyze(duck, conversion_window_days=2, anchor_touchpoint="payment_error")
    b = tp.analyze(spark, conversion_window_days=2, anchor_touchpoint="payment_error")
    assert a.parameters == b.parameters and a.parameters["conversion_window_days"] == 2
    ta, tb = a.tables(), b.tables()
    assert set(ta) == set(tb)
    for key in ("inventory", "channels", "funnel", "funnel_by_channel", "time_to_convert", "transitions", "anchor",
                "variants", "attribution"):
        same(ta[key], tb[key])
    assert a.headlines() == b.headlines()
