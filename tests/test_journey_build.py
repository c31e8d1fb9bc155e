"""The journey table's cached build (issue 18): on DuckDB the window sorts the touchpoint and
channel as ENUM codes, and the file it writes must be the very table the Ibis expression gives
on the events, with the same types, whatever the names and ties in the log."""
from __future__ import annotations

import duckdb
import pandas as pd

from conftest import log
from cxlab import data, engine, journeys

# c1's ad and view share a timestamp: the file order (seq) puts the view first.
# c2 meets an uncatalogued touchpoint whose name holds a quote, and buys twice.
ROWS = (
    ("c1", "2025-01-01 10:00", "view"), ("c1", "2025-01-01 10:00", "ad"),
    ("c1", "2025-01-02 09:00", "buy", 5.0), ("c1", "2025-01-03 09:00", "review"),
    ("c2", "2025-01-01 08:00", "it's new"), ("c2", "2025-01-01 09:00", "buy", 7.0),
    ("c2", "2025-01-04 09:00", "buy", 3.0),
    ("c3", "2025-01-05 12:00", "call"),
)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["customer_id", "pos"]).reset_index(drop=True)


def test_the_cached_journey_table_is_the_journey_expression_on_the_events(make_study):
    study = data.ensure_clean(make_study("build", events=log(*ROWS)))
    journeys.clear_journey_cache(study)
    cached = _sorted(engine.to_pandas(journeys.journey_table(journeys.resolve(study))))
    direct = _sorted(engine.to_pandas(journeys._journey_expr(engine.events(study), ["buy"])))
    pd.testing.assert_frame_equal(cached, direct)
    # and by hand: c1's tie keeps the file order; c2's goals count up; the last event has no next
    c1 = cached[cached.customer_id == "c1"]
    assert c1.touchpoint.tolist() == ["view", "ad", "buy", "review"]
    assert c1.prev.tolist()[1:] == ["view", "ad", "buy"] and pd.isna(c1.prev.iloc[0])
    assert c1.goals_so_far.tolist() == [0, 0, 1, 1]
    c2 = cached[cached.customer_id == "c2"]
    assert c2.touchpoint.tolist() == ["it's new", "buy", "buy"]
    assert pd.isna(c2.channel.iloc[0])  # uncatalogued, and the log has no channel
    assert c2.is_goal.tolist() == [0, 1, 1] and c2.goals_so_far.tolist() == [0, 1, 2]
    assert (c2.next_t.iloc[0] - c2.t.iloc[0]) == 3600 and pd.isna(c2.next_t.iloc[-1])
    engine.reset()


def test_the_file_holds_plain_text_and_the_build_leaves_no_types_or_views(make_study):
    study = data.ensure_clean(make_study("build", events=log(*ROWS)))
    journeys.clear_journey_cache(study)
    src = journeys.resolve(study)
    journeys.journey_table(src)
    con = src.base_events.get_backend()
    left = con.raw_sql("SELECT type_name FROM duckdb_types() WHERE type_name LIKE '_cx_%'").fetchall()
    views = con.raw_sql("SELECT view_name FROM duckdb_views() WHERE view_name LIKE '_cx_journey_input%'").fetchall()
    assert left == [] and views == []
    path = str(study.processed("journeys.parquet"))
    kinds = dict(duckdb.sql(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('{path}'))").fetchall())
    assert kinds["touchpoint"] == kinds["prev"] == kinds["channel"] == "VARCHAR"
    # a second build in the same process (new data) makes its own types again
    journeys.clear_journey_cache(study)
    assert len(engine.to_pandas(journeys.journey_table(journeys.resolve(study)))) == len(ROWS)
    engine.reset()


def test_a_goal_the_log_never_reaches_counts_zero_goals(make_study):
    """The goal is compared with the encoded touchpoint: a goal missing from the log (so not
    among the ENUM's values) is simply never reached, not an error."""
    rows = [r for r in ROWS if r[2] != "buy"]
    study = data.ensure_clean(make_study("nogoal", events=log(*rows)))
    journeys.clear_journey_cache(study)
    table = engine.to_pandas(journeys.journey_table(journeys.resolve(study)))
    assert len(table) == len(rows)
    assert table.is_goal.tolist() == [0] * len(rows) and table.goals_so_far.tolist() == [0] * len(rows)
    engine.reset()
