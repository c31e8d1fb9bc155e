"""The rules several stages share, each defined once in the core: which touchpoints are
contacts with support, what a session is, how times become seconds, and the lifetimes summary
of a customer's orders. Each is checked on a worked example, and the stages that use it are
checked to agree."""
from __future__ import annotations

import inspect

import ibis
import pandas as pd
import pytest

from conftest import CATALOG, log
from cxlab import engine, journeys
from cxlab.errors import ParameterError
from cxlab.journeys import SESSION_GAP_MINUTES, seconds, sessions, support_touchpoints

# --------------------------------------------------------------------------- the support rule
NAMES = {
    # touchpoint: (channel, support?)
    "help_centre": ("web", False),        # self-service: "help" alone is not support
    "faq_page": ("web", False),
    "helpdesk": ("web", True),
    "help_desk": ("web", True),
    "chat_support": ("web", True),
    "call_centre_call": ("call_centre", True),
    "contact_form": ("web", True),
    "complaint_form": ("web", True),
    "customer_hotline": ("phone", True),
    "ivr_menu": ("call_centre", True),    # no support word, but the call-centre channel
    "web_checkout": ("web", False),
}


def _catalog() -> pd.DataFrame:
    return pd.DataFrame([{"touchpoint": t, "stage": "service", "channel": c} for t, (c, _) in NAMES.items()])


def test_the_support_rule_counts_contacts_with_support_but_not_self_service():
    expected = [t for t, (_, support) in NAMES.items() if support]
    assert support_touchpoints(_catalog()) == expected
    assert "help_centre" not in expected and "helpdesk" in expected


@pytest.mark.parametrize("named", ["helpdesk, faq_page", "['helpdesk', 'faq_page']", ["helpdesk", "faq_page"]])
def test_named_support_touchpoints_replace_the_rule_as_a_list_or_text(named):
    assert support_touchpoints(_catalog(), named) == ["helpdesk", "faq_page"]


@pytest.mark.parametrize("empty", [None, "", "  ", [], "[]"])
def test_empty_named_support_touchpoints_mean_the_rule(empty):
    assert support_touchpoints(_catalog(), empty) == support_touchpoints(_catalog())


def test_a_named_support_touchpoint_must_be_in_the_catalog():
    with pytest.raises(ParameterError, match="support_touchpoints: nope not in the touchpoint catalog"):
        support_touchpoints(_catalog(), ["helpdesk", "nope"])


@pytest.fixture
def help_study(make_study):
    """A log where a help-centre visit and a helpdesk call each come two days after a view."""
    catalog = {**CATALOG, "help_centre": {"stage": "service", "channel": "web"},
               "helpdesk": {"stage": "service", "channel": "web"}}
    events = log(
        ("c1", "2025-01-01 10:00", "view"), ("c1", "2025-01-03 10:00", "help_centre"),
        ("c2", "2025-01-01 10:00", "view"), ("c2", "2025-01-03 10:00", "helpdesk"),
        ("c3", "2025-01-01 10:00", "view"), ("c3", "2025-01-02 10:00", "call"),
    )
    return make_study(events=events, touchpoints=catalog)


def test_segmentation_and_pain_points_count_the_same_support_contacts(help_study):
    from cxlab.painpoints import friction_signals
    from cxlab.segments import customer_features

    assert support_touchpoints(help_study) == ["call", "helpdesk"]
    features = customer_features(help_study).set_index("customer_id")
    assert features["support_contacts"].to_dict() == {"c1": 0, "c2": 1, "c3": 1}
    friction = friction_signals(help_study).by_touchpoint.set_index("touchpoint")
    assert sorted(friction.index[friction.is_support]) == ["call", "helpdesk"]
    # a view followed by a contact within 7 days: c2's (helpdesk) and c3's (call), not c1's (help centre)
    assert friction.loc["view", "contacts_after"] == 2


def test_both_stages_take_support_touchpoints_under_one_name():
    from cxlab import painpoints, segments
    from cxlab.painpoints import friction_signals
    from cxlab.segments import customer_features

    for fn in (segments.analyze, painpoints.analyze, customer_features, friction_signals):
        assert "support_touchpoints" in inspect.signature(fn).parameters, fn
    assert inspect.signature(segments.analyze).parameters["support_touchpoints"].annotation == \
        inspect.signature(painpoints.analyze).parameters["support_touchpoints"].annotation


# --------------------------------------------------------------------------- sessions
SESSION_EVENTS = log(
    ("a", "2025-01-01 10:00", "view"),
    ("a", "2025-01-01 10:10", "view"),
    ("a", "2025-01-01 11:00", "view"),   # 50 minutes later: a new session
    ("a", "2025-01-01 11:30", "view"),   # exactly 30 minutes: the same session
    ("b", "2025-01-01 10:05", "view"),   # another customer: sessions are per customer
)


def _sessions(events: pd.DataFrame, **kw) -> list[str]:
    ev = events.assign(seq=range(1, len(events) + 1), timestamp=pd.to_datetime(events.timestamp))
    out = engine.to_pandas(sessions(ibis.memtable(ev), **kw).select("seq", "session")).sort_values("seq")
    return out["session"].tolist()


def test_a_session_ends_after_30_minutes_of_inactivity():
    assert SESSION_GAP_MINUTES == 30
    assert _sessions(SESSION_EVENTS) == ["gap-1", "gap-1", "gap-2", "gap-2", "gap-1"]
    assert _sessions(SESSION_EVENTS, session_gap_minutes=60) == ["gap-1"] * 5
    assert _sessions(SESSION_EVENTS, session_gap_minutes=5) == ["gap-1", "gap-2", "gap-3", "gap-4", "gap-1"]


def test_the_logs_session_ids_are_the_sessions_and_gaps_fill_in_where_one_is_missing():
    events = SESSION_EVENTS.assign(session_id=["s1", "s1", None, "s9", "s2"])
    assert _sessions(events) == ["s1", "s1", "gap-2", "s9", "s2"]


def test_the_session_gap_must_be_positive():
    with pytest.raises(ParameterError, match="session_gap_minutes"):
        _sessions(SESSION_EVENTS, session_gap_minutes=0)


def test_segmentation_and_pain_points_split_sessions_alike(make_study):
    from cxlab import painpoints, segments
    from cxlab.painpoints import friction_signals
    from cxlab.segments import customer_features

    study = make_study(events=SESSION_EVENTS)
    assert customer_features(study).set_index("customer_id")["sessions"].to_dict() == {"a": 2, "b": 1}
    # one repeat of 'view' in each of a's two sessions
    assert friction_signals(study).by_touchpoint.set_index("touchpoint").loc["view", "repeats"] == 2
    for fn in (customer_features, friction_signals, painpoints.analyze):
        assert inspect.signature(fn).parameters["session_gap_minutes"].default == SESSION_GAP_MINUTES, fn
    assert "session_gap_minutes" not in inspect.signature(segments.analyze).parameters  # the default, always


# --------------------------------------------------------------------------- seconds
def test_seconds_are_whole_seconds_since_the_epoch_rounded_down():
    ts = pd.DataFrame({"timestamp": pd.to_datetime(["1970-01-01 00:00:01.900", "2025-01-01 00:00:00.000"])})
    t = ibis.memtable(ts)
    got = engine.to_pandas(t.select(s=seconds(t.timestamp)))["s"].tolist()
    assert got == [1, 1735689600]


def test_one_seconds_for_every_stage():
    from cxlab.painpoints import churn, friction

    for module in (churn, friction):
        assert module.seconds is journeys.seconds
        assert not hasattr(module, "_seconds")


# --------------------------------------------------------------------------- the lifetimes summary
def test_features_and_clv_share_one_lifetimes_summary(make_study):
    from cxlab.customers import rfm_summary
    from cxlab.objectives import rfm_summary as clv_summary
    from cxlab.segments import customer_features

    events = log(
        ("a", "2025-01-01 11:00", "buy", 10.0), ("a", "2025-01-01 15:00", "buy", 5.0),
        ("a", "2025-01-15 10:00", "buy", 30.0), ("a", "2025-01-29 10:00", "buy", 20.0),
        ("b", "2025-01-08 10:00", "buy", 40.0), ("c", "2025-02-26 10:00", "view"),
    )
    study = make_study(events=events)
    assert clv_summary is rfm_summary
    # the worked example of cxlab.customers: frequency 2, recency 4 weeks, T 8 weeks, monetary 25
    s = rfm_summary(study, unit="week")
    assert s.loc["a"].tolist() == [2, pytest.approx(4.0), pytest.approx(8.0), pytest.approx(25.0)]
    days = rfm_summary(study, unit="day")
    f = customer_features(study).set_index("customer_id").loc[days.index]
    for col in ("frequency", "recency", "T", "monetary_value"):
        assert f[col].tolist() == pytest.approx(days[col].tolist()), col


def test_the_journey_table_is_kept_for_the_same_inputs_and_rebuilt_from_new_ones(make_study):
    """journeys.parquet is keyed, like every table derived from the clean tables, by the
    fingerprint of the inputs they were made from: a touched file keeps it, new data rebuilds it."""
    import json
    import os

    from cxlab import data

    def study_with(*rows):
        customers = pd.DataFrame({"customer_id": sorted({r[0] for r in rows})})
        return data.ensure_clean(make_study("journeys", events=log(*rows), customers=customers))

    study = study_with(("c1", "2025-01-01 10:00", "ad"), ("c1", "2025-01-02 10:00", "buy", 5.0))
    table = journeys.journey_table(journeys.resolve(study))
    assert engine.to_pandas(table).shape[0] == 2
    marker = study.processed("journeys.json")
    assert json.loads(marker.read_text())["inputs"] == data.clean_fingerprint(study)
    built = study.processed("journeys.parquet").stat().st_mtime_ns
    clean = data.clean_path(study, "events")
    os.utime(clean, ns=(clean.stat().st_atime_ns, clean.stat().st_mtime_ns + 10**9))
    journeys.journey_table(journeys.resolve(study))
    assert study.processed("journeys.parquet").stat().st_mtime_ns == built  # same inputs: kept
    study = study_with(("c1", "2025-01-01 10:00", "ad"), ("c1", "2025-01-02 10:00", "buy", 5.0),
                       ("c2", "2025-01-03 10:00", "ad"))
    rows = engine.to_pandas(journeys.journey_table(journeys.resolve(study)))
    assert sorted(rows.customer_id) == ["c1", "c1", "c2"]
    engine.reset()
