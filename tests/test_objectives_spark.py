"""The objectives stage's engine queries give the same numbers on PySpark as on DuckDB (the
event-log work is Ibis expressions only)."""
from __future__ import annotations

import pandas as pd
import pytest

from conftest import require_spark, write_study
from test_objectives_kpis import CES, CSAT, CUSTOMERS, EVENTS, NPS

require_spark()
pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _results(root) -> list[pd.DataFrame]:
    from cxlab.objectives import compute_kpi, lifecycle

    return [
        compute_kpi(root, "conversion_rate", freq="month", by="age")[["estimate", "ci_low", "n"]],
        compute_kpi(root, "retention_rate", freq="month")[["estimate", "ci_low", "n"]],
        # a non-equi join (a later order within the horizon) and a per-month revenue table
        compute_kpi(root, "repeat_purchase_rate", freq="month", repeat_horizon_days=30)[["estimate", "ci_low", "n"]],
        compute_kpi(root, "revenue_per_customer", by="region")[["estimate", "ci_low", "n"]],
        lifecycle(root).table[["new", "returning", "resurrected", "dormant"]],
    ]


def test_same_numbers_on_pyspark_and_duckdb(tmp_path):
    surveys = pd.DataFrame({"response_id": range(12), "customer_id": list("abcdef") * 2,
                            "timestamp": "2025-01-05", "nps": NPS, "csat": CSAT, "ces": CES})
    attrs = {"region": {"kind": "category"}, "age": {"kind": "numeric", "bins": [18, 35, 65]}}
    out = {}
    for backend in ("duckdb", "pyspark"):
        root = write_study(tmp_path / backend, events=EVENTS, customers=CUSTOMERS, surveys=surveys,
                           customer_attributes=attrs, engine={"backend": backend, "master": "local[1]", "shuffle_partitions": 1})
        out[backend] = _results(root)
    for a, b in zip(out["duckdb"], out["pyspark"]):
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False)
