"""'On track' (issue 15.2): the projected value reaches the target by its date.

Before, 'on track' meant only 'improving', so an NPS 11 points short of its target counted as on
track. Now each objective has one status of six, and the summary counts add up to the number of
objectives. The planted study: 400 survey answers a month through 2025, each month's scores
made to the exact planted shares, so each KPI follows a known line:

- NPS rises 2 points a month (0 in January, 22 in December);
- mean CSAT rises 0.05 a month (3.50 in January, 4.05 in December), its top-2-box share with it;
- mean CES stands at 5.0 all year.

The projection is checked against numpy.polyfit (weights 1/SE) and statsmodels WLS (weights
1/SE², the interval of the fitted mean at the target date, Student t, the scale never below 1)
on the same monthly values.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from cxlab.kpis import compute_kpi
from cxlab.objectives import STATUSES, objectives_table, project_trend

PER_MONTH = 400
BY = "2026-06-30"
OBJECTIVES = [
    {"id": "nps_met", "goal": "Recommend us", "kpi": "nps", "target": {"absolute": 10}},
    {"id": "csat_on", "goal": "Pleasant buying", "kpi": "csat_mean", "target": {"absolute": 4.3, "by": BY}},
    {"id": "nps_short", "goal": "Many more promoters", "kpi": "nps", "target": {"absolute": 46, "by": BY}},
    {"id": "ces_flat", "goal": "Easier service", "kpi": "ces_mean", "target": {"absolute": 6.0, "by": BY}},
    {"id": "top2_passed", "goal": "Satisfied answers", "kpi": "csat_top2",
     "target": {"absolute": 0.9, "by": "2025-06-30"}},
    {"id": "ces_no_date", "goal": "Effortless", "kpi": "ces_mean", "target": {"absolute": 5.5}},
]
for _o in OBJECTIVES:
    _o["baseline"] = {"start": "2025-01-01", "end": "2025-03-31"}


def _month_scores(m: int) -> dict[str, list[int]]:
    """Exact scores for month m (0 = January): NPS 2m, CSAT mean 3.5 + 0.05m, CES mean 5."""
    promoters = round(PER_MONTH * (0.30 + 0.01 * m))
    detractors = round(PER_MONTH * (0.30 - 0.01 * m))
    nps = [10] * promoters + [3] * detractors + [8] * (PER_MONTH - promoters - detractors)
    fives = round(PER_MONTH * (0.5 + 0.05 * m) / 2)  # scores 3 and 5: mean 3 + 2 * share of 5s
    csat = [5] * fives + [3] * (PER_MONTH - fives)
    ces = [4, 6] * (PER_MONTH // 2)
    return {"nps": nps, "csat": csat, "ces": ces}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from conftest import write_study

    rng = np.random.default_rng(15)
    events, surveys = [], []
    for m in range(12):
        start = pd.Timestamp(2025, m + 1, 1)
        days = (start + pd.offsets.MonthBegin(1) - start).days
        scores = _month_scores(m)
        for key in scores:  # each score list in its own random order, so the columns are not aligned
            rng.shuffle(scores[key])
        for i in range(PER_MONTH):
            cid = f"m{m:02d}c{i:03d}"
            when = start + pd.Timedelta(days=float(rng.uniform(0, days - 0.5)))
            events.append({"customer_id": cid, "timestamp": when, "touchpoint": "view"})
            surveys.append({"response_id": cid, "customer_id": cid, "timestamp": when,
                            "nps": scores["nps"][i], "csat": scores["csat"][i], "ces": scores["ces"][i]})
    events.append({"customer_id": "last", "timestamp": pd.Timestamp("2025-12-31 20:00"), "touchpoint": "view"})
    fmt = "%Y-%m-%d %H:%M:%S"
    ev = pd.DataFrame(events).assign(timestamp=lambda d: d["timestamp"].dt.strftime(fmt))
    sv = pd.DataFrame(surveys).assign(timestamp=lambda d: d["timestamp"].dt.strftime(fmt))
    return write_study(tmp_path_factory.mktemp("raw") / "on_track", events=ev, surveys=sv, objectives=OBJECTIVES)


@pytest.fixture(scope="module")
def table(study):
    return objectives_table(study)


def _reference_projection(study, kpi: str, when: str) -> tuple[float, float, float, float]:
    """The projection made independently: monthly values Jan-Dec, x = days from the middle of
    January to the middle of each month; np.polyfit for the line, statsmodels WLS for the interval."""
    trend = compute_kpi(study, kpi, "2025-01-01", "2025-12-31", freq="month")
    starts = pd.to_datetime(trend["period"])
    middles = starts + (starts + pd.offsets.MonthBegin(1) - starts) / 2
    x = ((middles - middles.iloc[0]) / pd.Timedelta(days=1)).to_numpy()
    y = trend["estimate"].to_numpy()
    se = (trend["ci_high"] - trend["ci_low"]).to_numpy() / (2 * 1.959963984540054)
    slope, intercept = np.polyfit(x, y, 1, w=1 / se)
    x0 = (pd.Timestamp(when) - middles.iloc[0]) / pd.Timedelta(days=1)
    free = sm.WLS(y, sm.add_constant(x), weights=1 / se**2).fit()
    fit = sm.WLS(y, sm.add_constant(x), weights=1 / se**2).fit(
        cov_type="fixed scale", cov_kwds={"scale": max(free.scale, 1.0)}, use_t=True)
    lo, hi = fit.get_prediction(np.array([[1.0, x0]])).conf_int(alpha=0.05)[0]
    return intercept + slope * x0, lo, hi, slope


def test_each_objective_has_exactly_one_status_and_they_add_up(table):
    result, t = table, table.table.set_index("id")
    assert t["status"].to_dict() == {
        "nps_met": "target met", "csat_on": "on track", "nps_short": "improving, off track",
        "ces_flat": "off track", "top2_passed": "off track", "ces_no_date": "no target date"}
    assert set(t["status"]) <= set(STATUSES) and sum(result.counts().values()) == len(t)
    assert result.summary() == ("6 objective(s): 1 at target, 1 on track, 1 improving but off track, 2 off track, "
                                "1 without a target date.")
    assert t["on_track"].to_dict() == {"nps_met": True, "csat_on": True, "nps_short": False, "ces_flat": False,
                                       "top2_passed": False, "ces_no_date": False}


def test_on_track_when_the_projection_reaches_the_target_by_its_date(study, table):
    row = table.table.set_index("id").loc["csat_on"]
    value, lo, hi, slope = _reference_projection(study, "csat_mean", BY)
    assert row["projected"] == pytest.approx(value, rel=1e-9)
    assert (row["projected_ci_low"], row["projected_ci_high"]) == (pytest.approx(lo, rel=1e-9),
                                                                   pytest.approx(hi, rel=1e-9))
    assert slope * 365.25 / 12 == pytest.approx(0.05, abs=0.002)  # the planted 0.05 a month
    assert row["current"] < 4.3 <= row["projected"] and row["trend_periods"] == 12


def test_an_nps_improving_but_11_points_short_is_improving_off_track(study, table):
    row = table.table.set_index("id").loc["nps_short"]
    value, lo, hi, _ = _reference_projection(study, "nps", BY)
    assert row["projected"] == pytest.approx(value, rel=1e-9)
    assert row["projected_ci_low"] == pytest.approx(lo, rel=1e-9)
    # the planted line: 2 points a month, about 35 at the end of June 2026, 11 short of 46
    assert 46 - row["projected"] == pytest.approx(11, abs=0.6)
    assert row["movement"] == "improving" and row["status"] == "improving, off track"
    text = table.sentences()["nps_short"]
    assert "**improving, off track**" in text and "short of the target" in text and "30 Jun 2026" in text
    shown = table.display_table().set_index("objective").loc["Many more promoters"]
    assert shown["by"] == "30 Jun 2026" and shown["status"] == "improving, off track"


def test_flat_passed_and_undated_targets(table):
    t = table.table.set_index("id")
    assert t.loc["ces_flat", "movement"] == "no clear change"
    assert t.loc["ces_flat", "projected"] == pytest.approx(5.0, abs=0.1)  # the planted flat line
    # a target date already behind the current period: not met by then, nothing to project
    assert np.isnan(t.loc["top2_passed", "projected"])
    assert "has passed without the target being met" in table.sentences()["top2_passed"]
    assert pd.isna(t.loc["ces_no_date", "target_date"])
    assert "**no target date**" in table.sentences()["ces_no_date"]


def test_a_projection_needs_three_periods_and_weights_them_by_their_precision():
    trend = pd.DataFrame({"period": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"]),
                          "estimate": [0.10, 0.20, 0.60], "ci_low": [0.08, 0.18, 0.20], "ci_high": [0.12, 0.22, 1.0]})
    assert project_trend(trend.iloc[:2], "month", "2025-06-01") is None
    est = project_trend(trend, "month", "2025-06-01")
    # the imprecise March (SE 20x larger) barely moves the line: close to the Jan-Feb slope
    middles = pd.DatetimeIndex([pd.Timestamp("2025-01-16 12:00"), pd.Timestamp("2025-02-15"),
                                pd.Timestamp("2025-03-16 12:00")])
    x = ((middles - middles[0]) / pd.Timedelta(days=1)).to_numpy()
    se = (trend["ci_high"] - trend["ci_low"]).to_numpy() / (2 * 1.959963984540054)
    slope, intercept = np.polyfit(x, trend["estimate"].to_numpy(), 1, w=1 / se)
    x0 = (pd.Timestamp("2025-06-01") - middles[0]) / pd.Timedelta(days=1)
    assert est.estimate == pytest.approx(intercept + slope * x0) and est.n == 3
    assert est.extra["slope_per_day"] == pytest.approx(slope)


def test_the_line_uses_every_complete_period_unless_a_current_period_is_given(study, table):
    """By default the line runs to the KPI's last fully followed day (December here); a current
    period given by the caller ends it there (September: nine months)."""
    assert table.table.set_index("id").loc["nps_short", "trend_periods"] == 12
    given = objectives_table(study, current=("2025-07-01", "2025-09-30")).table.set_index("id")
    assert given.loc["nps_short", "trend_periods"] == 9
    trend = compute_kpi(study, "nps", "2025-01-01", "2025-09-30", freq="month")
    assert given.loc["nps_short", "projected"] == pytest.approx(project_trend(trend, "month", BY).estimate)
