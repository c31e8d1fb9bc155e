"""The end of the log (``cxlab.kpis.units.data_end``: the time of the last event, where censoring
starts) is asked of the engine once per state of the clean event log, however often the KPIs,
their windows, trends and censoring notes ask for it; clean tables made again from changed
inputs, or the clean events file rewritten, give the new log's end at once, never the old one.

The queries are counted by wrapping ``cxlab.engine.to_pandas`` and keeping the calls whose
expression is the data-end query itself (the maximum timestamp of the clean events); the values
are checked against the worked log's last event, counted by hand (conftest.WORKED_LOG: d's first
touch, 30 May 2025 10:00)."""
from __future__ import annotations

import pandas as pd
import pytest

from cxlab import data, engine
from cxlab.kpis import units
from cxlab.kpis.units import complete_until, censoring_note, data_end
from cxlab.objectives import kpi_estimate, kpi_trend
from cxlab.study import Study

from conftest import WORKED_LOG, log

LAST_EVENT = pd.Timestamp("2025-05-30 10:00")  # the worked log's last event (d's first touch)


def _end_query(study) -> object:
    ev = engine.events(study)
    return ev.aggregate(t=ev.timestamp.max())


@pytest.fixture
def end_queries(monkeypatch):
    """The data-end queries the engine runs from now on: ``queries(study)`` counts those of the
    study's clean event log as it is now."""
    ran = []
    real = engine.to_pandas

    def counting(expr):
        ran.append(expr)
        return real(expr)

    monkeypatch.setattr(engine, "to_pandas", counting)

    def queries(study) -> int:
        wanted = _end_query(study)
        return sum(1 for expr in ran if expr.equals(wanted))

    return queries


@pytest.fixture
def worked(make_study):
    return Study.load(make_study(events=log(*WORKED_LOG)))


def test_the_log_end_is_queried_once_however_often_it_is_asked(worked, end_queries):
    assert data_end(worked) == LAST_EVENT
    assert end_queries(worked) == 1
    for _ in range(20):
        assert data_end(worked) == LAST_EVENT
        assert data_end(worked.root) == LAST_EVENT  # the study by its folder: the same log
    assert end_queries(worked) == 1


def test_kpis_windows_trends_and_censoring_notes_share_one_query(worked, end_queries, monkeypatch):
    """What a stage asks: estimates, a monthly trend, the last fully followed day and the
    censoring note of several KPIs. Without remembering (no key) each asks again."""

    def ask():
        for kpi in ("conversion_rate", "repeat_purchase_rate", "retention_rate", "revenue_per_customer"):
            kpi_estimate(worked, kpi)
            complete_until(worked, kpi)
            censoring_note(worked, kpi)
        kpi_trend(worked, "conversion_rate", "month")
        # the 30-day window after the last day's first touches must lie inside the log
        assert complete_until(worked, "conversion_rate") == pd.Timestamp("2025-04-30")
        assert "(30 May 2025)" in censoring_note(worked, "conversion_rate")

    with monkeypatch.context() as mp:
        mp.setattr(units, "_data_end_key", lambda study: None)  # nothing remembered: as before
        ask()
        unremembered = end_queries(worked)
    assert unremembered > 10, unremembered
    ask()
    assert end_queries(worked) == unremembered + 1


def test_changed_inputs_give_the_new_end_of_the_log(make_study, end_queries):
    folder = make_study(events=log(*WORKED_LOG))
    assert data_end(folder) == LAST_EVENT
    before = data.clean_fingerprint(Study.load(folder))
    # the export is replaced by a longer one: a later event, and the clean tables are made again
    longer = log(*WORKED_LOG, ("d", "2025-06-15 09:30", "buy", 12.0))
    longer.to_csv(folder / "events.csv", index=False)
    assert data_end(folder) == pd.Timestamp("2025-06-15 09:30")
    assert data.clean_fingerprint(Study.load(folder)) != before
    assert end_queries(Study.load(folder)) == 1  # the new log: asked once …
    assert data_end(folder) == pd.Timestamp("2025-06-15 09:30")
    assert end_queries(Study.load(folder)) == 1  # … and then remembered
    # and back to the first export: its end again, not the longer log's
    log(*WORKED_LOG).to_csv(folder / "events.csv", index=False)
    assert data_end(folder) == LAST_EVENT
    assert data.clean_fingerprint(Study.load(folder)) == before


def test_a_rewritten_clean_events_file_gives_its_own_end(worked):
    """The clean file rewritten in place (same inputs, so the same fingerprint): a new file
    state, so a new query, whose answer is the file's last event."""
    assert data_end(worked) == LAST_EVENT
    path = data.clean_path(worked, "events")
    clean = pd.read_parquet(path)
    shorter = clean[clean["timestamp"] < LAST_EVENT]
    data.write_parquet(shorter, path)
    assert data.clean_fingerprint(worked) is not None
    assert data_end(worked) == pd.Timestamp("2025-04-03 10:00")  # f's order, the last before d
