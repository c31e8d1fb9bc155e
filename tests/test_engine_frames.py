"""``engine.to_pandas`` takes a faster path than Ibis's DuckDB ``execute`` (only nested,
dictionary and wholly null columns go through Python lists): the frames must be the ones Ibis
itself returns, value for value and dtype for dtype, on every column type the package meets."""
from __future__ import annotations

import ibis
import pandas as pd
import pytest

from cxlab import engine

COLUMNS = {
    "int_with_nulls": "CASE WHEN range % 3 = 0 THEN NULL ELSE range END",
    "decimal_with_nulls": "CASE WHEN range % 3 = 0 THEN NULL ELSE range * 0.5 END",
    "double_with_nulls": "CASE WHEN range % 6 = 0 THEN NULL ELSE (range % 100)::DOUBLE END",
    "text_with_nulls": "CASE WHEN range % 5 = 0 THEN NULL ELSE 'c' || (range % 7) END",
    "timestamp_with_nulls": "CASE WHEN range % 4 = 0 THEN NULL ELSE TIMESTAMP '2024-01-01' + to_seconds(range) END",
    "timestamptz_with_nulls": ("CASE WHEN range % 4 = 0 THEN NULL "
                               "ELSE TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(range) END"),
    "date_with_nulls": "CASE WHEN range % 4 = 0 THEN NULL ELSE DATE '2024-01-01' + (range % 100)::INT END",
    "bool_with_nulls": "CASE WHEN range % 6 = 0 THEN NULL ELSE range % 2 = 0 END",
    "tinyint_with_nulls": "CASE WHEN range % 6 = 0 THEN NULL ELSE (range % 100)::INT8 END",
    "all_null_int": "NULL::INT",
    "int_without_nulls": "(range % 3)::INT",
    "list": "[range, 1]",
    "enum": "(['a', 'b', 'c'][range % 3 + 1])::ENUM ('a', 'b', 'c')",
}


@pytest.fixture(scope="module")
def table():
    con = ibis.duckdb.connect()
    select = ", ".join(f"{sql} AS {name}" for name, sql in COLUMNS.items())
    con.raw_sql(f"CREATE TABLE t AS SELECT range AS i, {select} FROM range(3000)")
    return con.table("t").order_by("i")


@pytest.mark.parametrize("column", list(COLUMNS))
def test_each_column_type_comes_back_as_ibis_returns_it(table, column):
    expr = table.select("i", column)
    ours, theirs = engine.to_pandas(expr), expr.execute()
    assert ours[column].isna().any() == theirs[column].isna().any()
    pd.testing.assert_frame_equal(ours, theirs)


def test_a_whole_table_and_an_empty_one(table):
    pd.testing.assert_frame_equal(engine.to_pandas(table), table.execute())
    empty = table.filter(table.i < 0)
    pd.testing.assert_frame_equal(engine.to_pandas(empty), empty.execute())
    assert len(engine.to_pandas(empty)) == 0


def test_a_column_expression_gives_a_frame_of_it(table):
    ours = engine.to_pandas(table.int_with_nulls)
    assert list(ours.columns) == ["int_with_nulls"]
    pd.testing.assert_series_equal(ours["int_with_nulls"], table.int_with_nulls.execute())


def test_a_table_made_from_pandas_runs_on_the_default_backend():
    frame = pd.DataFrame({"a": [1, None, 3], "b": ["x", None, "z"]})
    expr = ibis.memtable(frame)
    pd.testing.assert_frame_equal(engine.to_pandas(expr), expr.execute())
