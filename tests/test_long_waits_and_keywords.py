"""Issue 15.6: long waits are judged against each touchpoint's own waits
(cxlab.painpoints.friction), and topic keywords match as words (cxlab.painpoints.text).

The long-wait log is planted: its waits are normal quantiles on the log scale, so the share of
them above a touchpoint's own 90% point is known exactly (worked out in the comments).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import log
from cxlab.errors import ParameterError
from cxlab.painpoints import friction_signals, tag_topics
from cxlab.painpoints.friction import LOG_WIDE, OWN

START = pd.Timestamp("2025-01-01 00:00:00")


def lognormal_hours(n: int, median_hours: float, sigma: float) -> np.ndarray:
    """n waits (hours) at the normal quantiles (i - 0.5)/n on the log scale: a log-normal sample
    without sampling noise."""
    z = stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n)
    return median_hours * np.exp(sigma * z)


def step(customer: str, first: str, then: str, hours: float) -> list[tuple]:
    after = START + pd.Timedelta(seconds=round(hours * 3600))
    return [(customer, str(START), first), (customer, str(after), then)]


def planted_waits() -> pd.DataFrame:
    rows = []
    # review (loyalty): 40 waits, all long — about 300 h — and all typical of it (log-normal, sigma 0.3)
    for i, h in enumerate(lognormal_hours(40, 300.0, 0.3)):
        rows += step(f"r{i:03d}", "review", "review", h)
    # view: 280 waits of about an hour (sigma 0.5), and 120 planted excess waits of 50 hours
    for i, h in enumerate(lognormal_hours(280, 1.0, 0.5)):
        rows += step(f"v{i:03d}", "view", "cart", h)
    for i in range(120):
        rows += step(f"x{i:03d}", "view", "cart", 50.0)
    # ad: only 5 waits of 2 hours -> too few for a threshold of its own
    for i in range(5):
        rows += step(f"a{i}", "ad", "pay_error", 2.0)
    return log(*rows)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    from conftest import write_study

    folder = write_study(tmp_path_factory.mktemp("waits") / "waits", events=planted_waits())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CXLAB_HOME", str(tmp_path_factory.mktemp("home")))
        yield friction_signals(folder)


def test_a_touchpoint_whose_long_waits_are_typical_for_it_is_not_flagged_beyond_the_quantile(planted):
    f = planted.by_touchpoint.set_index("touchpoint")
    review = f.loc["review"]
    assert (review.waits, review.long_wait_basis) == (40, OWN)
    # the 90% point of its own waits: the median (300 h) times exp(1.2816 x 0.3), about 440 h;
    # the planted waits above it are the last 4 of 40 (normal quantiles 0.9125 and up)
    assert review.long_wait_hours == pytest.approx(300 * np.exp(stats.norm.ppf(0.9) * 0.3), rel=0.01)
    assert review.long_waits == 4 and review.long_wait_rate <= 0.10
    # one threshold for all (the 90% point of all 445 waits) would flag every one of its waits:
    # review's 40 waits are the longest in the log, fewer than the top 10% (44.5)
    all_waits = np.concatenate([lognormal_hours(40, 300.0, 0.3), lognormal_hours(280, 1.0, 0.5),
                                np.full(120, 50.0), np.full(5, 2.0)])
    assert planted.long_wait_hours == pytest.approx(np.quantile(all_waits, 0.9), rel=1e-3)
    assert (lognormal_hours(40, 300.0, 0.3) > planted.long_wait_hours).all()


def test_a_touchpoint_with_planted_excess_long_waits_is_flagged(planted):
    view = planted.by_touchpoint.set_index("touchpoint").loc["view"]
    assert (view.waits, view.long_wait_basis) == (400, OWN)
    # median and MAD of the log waits come from the hour-long bulk, so the threshold stays a few
    # hours (far below 50 h) and all 120 planted waits are long: 30% against the quantile's 10%
    assert 1.0 < view.long_wait_hours < 10.0
    assert 120 <= view.long_waits <= 120 + 3  # at most a few of the 280 ordinary waits
    assert view.long_wait_rate >= 0.30


def test_a_touchpoint_with_too_few_waits_is_judged_against_all_waits_and_named(planted):
    ad = planted.by_touchpoint.set_index("touchpoint").loc["ad"]
    assert (ad.waits, ad.long_wait_basis) == (5, LOG_WIDE)
    assert ad.long_wait_hours == planted.long_wait_hours and ad.long_waits == 0  # 2 h is not long
    assert planted.notes == [
        f"Long waits at ad are judged against all waits in the log (more than {planted.long_wait_hours:,.1f} h): "
        "fewer than 30 waits of their own, or no spread in them."]
    assert "own waits usually are" in planted.long_wait_rule()


def test_long_wait_min_waits_must_be_a_whole_number_of_at_least_two(make_study):
    folder = make_study(events=log(("c", "2025-01-01 10:00", "ad"), ("c", "2025-01-01 11:00", "view")))
    with pytest.raises(ParameterError, match="long_wait_min_waits"):
        friction_signals(folder, long_wait_min_waits=1)


# --------------------------------------------------------------------------- keywords as words
def test_keywords_match_as_words_not_inside_other_words():
    texts = pd.Series([
        "The discount was not applied",      # 'app' inside 'applied': no
        "I wanted the apple one",            # 'app' inside 'apple': no
        "The app keeps crashing",            # yes
        "Terrible App.",                     # yes, any case, before a full stop
        "the app's checkout froze",          # yes, before an apostrophe
        "both apps are slow",                # a plural is the word
        "it arrived later than promised",    # 'late' inside 'later': no
        "my parcel was DELIVERED late",      # 'deliver*' is a stem; 'late' alone: yes
    ])
    tags = tag_topics(texts, {"app": ["app"], "late": ["late"], "delivery": ["deliver*"]})
    assert tags["app"].tolist() == [False, False, True, True, True, True, False, False]
    assert tags["late"].tolist() == [False] * 7 + [True]
    assert tags["delivery"].tolist() == [False] * 7 + [True]


def test_the_default_taxonomy_still_finds_inflected_words():
    texts = pd.Series(["It was delivered to the wrong address", "The app freezes on login", "Refunded at last"])
    tags = tag_topics(texts)  # DEFAULT_TOPICS
    assert tags.loc[0, "delivery"] and tags.loc[1, "app and website"] and tags.loc[2, "returns"]
    assert not tag_topics(pd.Series(["I applied the code"]))["app and website"].iloc[0]
