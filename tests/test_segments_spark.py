"""The segmentation features and per-segment touchpoint counts are the same on PySpark as on
DuckDB (the event-log work is Ibis expressions only)."""
from __future__ import annotations

import pandas as pd
import pytest

from conftest import require_spark, write_study
from test_segments import CUSTOMERS, EVENTS, SURVEYS, TICKETS

require_spark()
pytestmark = [pytest.mark.spark, pytest.mark.slow]


def test_features_and_touchpoints_are_the_same_on_pyspark_and_duckdb(tmp_path):
    from cxlab.segments import customer_features, segment_touchpoints

    segments = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "segment": ["x", "y", "y", "x"]})
    out = {}
    for backend in ("duckdb", "pyspark"):
        # no session ids: sessions come from the window (lag) over each customer's events
        root = write_study(tmp_path / backend, events=EVENTS, customers=CUSTOMERS, tickets=TICKETS, surveys=SURVEYS,
                           engine={"backend": backend, "master": "local[1]", "shuffle_partitions": 1})
        f = customer_features(root)
        out[backend] = (f[sorted(f.columns)], segment_touchpoints(root, segments).reset_index(drop=True))
    for a, b in zip(out["duckdb"], out["pyspark"]):
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
