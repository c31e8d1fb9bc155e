"""The pain-point engine work on Spark: friction signals, ticket signals, the survival table
of churn after tickets and the register's bootstrap inputs give the numbers DuckDB gives, on a
small synthetic study.

Needs pyspark (the ``spark`` extra) and Java 17; skipped without them, except under CI
(``CI=true``), where a missing Spark is a failure.
"""
from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from cxlab import data, engine
from conftest import SPARK_ENGINE, require_spark
from cxlab.painpoints import churn_after_tickets, friction_signals

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

require_spark()


@pytest.fixture(scope="module")
def studies(tmp_path_factory, spark_session):
    """The same study on DuckDB and on the shared local Spark session."""
    from cxlab.synth import write_study

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CXLAB_HOME", str(tmp_path_factory.mktemp("home")))
        folder = write_study(tmp_path_factory.mktemp("spark") / "pp_parity", customers=600, seed=5)
        duck = data.ensure_clean(folder)
        spark = dataclasses.replace(duck, engine=dict(SPARK_ENGINE))
        assert type(engine.connect(spark)).__module__.startswith("ibis.backends.pyspark")
        yield duck, spark
    engine.reset()


def same(a: pd.DataFrame, b: pd.DataFrame, **kw) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False, **kw)


def test_friction_signals_are_identical_on_spark(studies):
    duck, spark = studies
    a, b = friction_signals(duck), friction_signals(spark)
    assert a.long_wait_hours == pytest.approx(b.long_wait_hours)
    same(a.by_touchpoint, b.by_touchpoint, check_exact=False, rtol=1e-9)
    same(a.by_stage, b.by_stage, check_exact=True)
    same(a.tickets, b.tickets, check_exact=True)


def test_the_survival_table_and_hazard_ratio_are_identical_on_spark(studies):
    duck, spark = studies
    a, b = churn_after_tickets(duck), churn_after_tickets(spark)
    same(a.table, b.table, check_exact=False, rtol=1e-12)
    assert a.hazard_ratio.estimate == pytest.approx(b.hazard_ratio.estimate, rel=1e-12)


def test_the_register_bootstrap_is_identical_on_spark(studies):
    # the per-customer inputs of the resampled priorities come from the engine: the same draws
    # give the same intervals and ranks on either backend
    from cxlab.painpoints import build_register, survey_responses

    duck, spark = studies
    regs = [build_register(s, friction_signals(s), survey_responses(s).assign(sentiment=0.0),
                           churn=churn_after_tickets(s), n_resamples=40, seed=3) for s in (duck, spark)]
    cols = ["pain_point", "priority", "priority_ci_low", "priority_ci_high", "ranked_first", "rank_low", "rank_high"]
    same(regs[0].table[cols], regs[1].table[cols], check_exact=False, rtol=1e-9)
