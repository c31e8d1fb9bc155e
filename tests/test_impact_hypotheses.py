"""The hypothesis runner: pre-registered hypotheses in, one row each out with estimate,
interval, p, Holm/BH-adjusted p, decision and a plain-language reading."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxlab.errors import ParameterError
from cxlab.impact import adjust_pvalues, did, normalize_hypothesis, test_hypotheses, two_proportions

TREATED = {"column": "region", "values": ["North"]}


def hyp(id, kpi, design="did", **kw):
    base = {"id": id, "kpi": kpi, "direction": "increase", "alpha": 0.05, "design": design,
            "intervention": "new_checkout", "date": "2025-07-01", "treated": TREATED}
    base.update(kw)
    return base


@pytest.fixture(scope="module")
def customers():
    """20,000 new customers over ten months in four regions; conversion +6 points in North from
    July (the planted effect), CSAT unchanged, NPS scores 0-10 unchanged."""
    rng = np.random.default_rng(0)
    n = 20_000
    region = rng.choice(["North", "South", "East", "West"], n)
    month = pd.to_datetime(rng.choice(pd.date_range("2025-01-01", "2025-10-01", freq="MS"), n))
    p = 0.30 + 0.01 * month.month.to_numpy() / 10 + 0.06 * ((region == "North") & (month >= "2025-07-01"))
    return pd.DataFrame({
        "customer_id": np.arange(n), "period": month, "region": region,
        "conversion_rate": (rng.random(n) < p).astype(int),
        "csat_mean": rng.normal(4, 1, n),
        "nps": rng.integers(0, 11, n),
    })


def test_runner_detects_the_planted_effect_and_reads_it_in_points(customers):
    r = test_hypotheses([hyp("H1", "conversion_rate", min_effect=0.02)], customers)
    row = r.table.iloc[0]
    # the report's DiD compares regions (where the change was assigned): region and period fixed
    # effects on the customers, the same estimate as the unit-level two-way regression
    ref = did(customers.assign(t=(customers.region == "North").astype(int),
                               p=(customers.period >= "2025-07-01").astype(int)),
              "conversion_rate", "t", "p", unit="region", time="period", event_study=False)
    assert row.estimate == pytest.approx(ref.estimate.estimate)
    assert "randomization inference over 840 ways to assign the change to 1 of 4 region values" in row.method
    assert row.ci_low < 0.06 < row.ci_high
    assert row.decision == "supported"
    assert row.p_adjusted == pytest.approx(row.p_value)  # a family of one
    pts = f"{100 * row.estimate:.1f}"
    assert row.reading.startswith(f"Conversion rose by {pts} points [")
    assert "in North after the new checkout compared with other regions; this is unlikely to be chance" in row.reading
    assert r.details["H1"].pretrend["p_value"] > 0.05


def test_null_results_state_the_minimum_detectable_effect(customers):
    r = test_hypotheses([hyp("H2", "csat_mean", min_effect=0.01)], customers)
    row = r.table.iloc[0]
    assert row.decision == "not detected"
    assert row.mde > 0.05  # about 0.09 CSAT points with these group sizes
    assert f"could only have detected changes of ±{row.mde:.2f}" in row.reading
    assert "may have been missed" in row.reading  # the MDE exceeds the 0.01 that matters


def test_p_values_are_adjusted_over_the_whole_family(customers):
    hs = [hyp("H1", "conversion_rate"), hyp("H2", "csat_mean"), hyp("H3", "nps", design="ab", kind="nps"),
          hyp("H4", "conversion_rate", design="pre_post"), hyp("H5", "conversion_rate", design="its")]
    holm = test_hypotheses(hs, customers)
    t = holm.table
    assert list(t.hypothesis) == ["H1", "H2", "H3", "H4", "H5"]
    assert t.p_adjusted.to_numpy() == pytest.approx(adjust_pvalues(t.p_value, "holm"))
    bh = test_hypotheses(hs, customers, correction="bh")
    assert bh.table.p_adjusted.to_numpy() == pytest.approx(adjust_pvalues(t.p_value, "bh"))
    assert (bh.table.p_adjusted <= t.p_adjusted + 1e-12).all()
    # the A/B on NPS compares North after July with the rest, in NPS points
    after = customers[customers.period >= "2025-07-01"]
    from cxlab.impact import nps_difference

    ref = nps_difference(after[after.region == "North"].nps, after[after.region != "North"].nps)
    assert t.set_index("hypothesis").loc["H3", "estimate"] == pytest.approx(ref.estimate)
    # pre/post: North's rate after July minus before
    north = customers[customers.region == "North"]
    post = north.period >= "2025-07-01"
    pp = two_proportions(north[post].conversion_rate.sum(), post.sum(),
                         north[~post].conversion_rate.sum(), (~post).sum())
    assert t.set_index("hypothesis").loc["H4", "estimate"] == pytest.approx(pp.estimate)
    assert t.set_index("hypothesis").loc["H5", "design"] == "its"
    import matplotlib

    matplotlib.use("Agg")
    assert holm.plot() is not None


def test_a_hypothesis_that_cannot_be_tested_is_reported_not_dropped(customers):
    r = test_hypotheses([hyp("H1", "conversion_rate"), hyp("H9", "ces_mean")], customers)
    t = r.table.set_index("hypothesis")
    assert t.loc["H9", "decision"] == "not tested"
    assert "no column 'ces_mean'" in t.loc["H9", "reading"]
    assert t.loc["H1", "p_adjusted"] == pytest.approx(t.loc["H1", "p_value"])  # H9 not in the family


def test_opposite_direction_is_called_out(customers):
    r = test_hypotheses([hyp("H1", "conversion_rate", direction="decrease")], customers)
    row = r.table.iloc[0]
    assert row.decision == "opposite"
    assert "the opposite of the hypothesized decrease" in row.reading


def test_unit_tables_per_kpi_with_y_columns(customers):
    tables = {"conversion_rate": customers.rename(columns={"conversion_rate": "y"}),
              "nps": customers[["customer_id", "period", "region"]].assign(
                  y=np.where(customers.nps >= 9, 1, np.where(customers.nps <= 6, -1, 0)))}
    r = test_hypotheses([hyp("H1", "conversion_rate"), hyp("H2", "nps", kind="nps")], tables)
    t = r.table.set_index("hypothesis")
    assert t.loc["H1", "decision"] == "supported"
    wide = test_hypotheses([hyp("H2", "nps", kind="nps")], customers).table.iloc[0]
    assert t.loc["H2", "estimate"] == pytest.approx(wide.estimate)  # -1/0/1 coding read as NPS points


def test_objectives_format_is_accepted_and_bad_hypotheses_are_named():
    h = normalize_hypothesis({
        "id": "H1", "role": "primary", "kpi": "conversion_rate", "kpi_title": "Conversion rate",
        "kind": "proportion", "direction": "increase", "min_effect": 0.02, "alpha": 0.05, "design": "did",
        "intervention": "new_checkout", "date": "2025-07-01", "treated": TREATED,
        "kpi_options": {"window_days": 30}})
    assert h["treated_column"] == "region" and h["treated_values"] == ["North"]
    assert h["kpi_label"] == "Conversion rate" and h["kpi_options"] == {"window_days": 30}
    with pytest.raises(ParameterError, match="needs treated"):
        normalize_hypothesis(hyp("H1", "conversion_rate", treated={"column": None, "values": []}))
    with pytest.raises(ParameterError, match="design 'rct'"):
        normalize_hypothesis(hyp("H1", "conversion_rate", design="rct"))
    with pytest.raises(ParameterError, match="unique"):
        test_hypotheses([hyp("H1", "conversion_rate"), hyp("H1", "csat_mean")], pd.DataFrame())


def test_report_helpers_format_the_table_and_headlines(customers, tmp_path):
    r = test_hypotheses([hyp("H1", "conversion_rate"), hyp("H2", "csat_mean"), hyp("H9", "ces_mean")], customers)
    shown = r.display_table().set_index("hypothesis")
    est = r.table.set_index("hypothesis").loc["H1", "estimate"]
    assert shown.loc["H1", "effect"] == f"+{100 * est:.1f} points"
    assert shown.loc["H1", "design"] == "difference-in-differences"
    # the KPI by its title in the KPI library, never its id
    assert shown["KPI"].tolist() == ["Conversion rate", "CSAT (mean)", "Customer effort (mean)"]
    assert shown.loc["H9", "effect"] == "–" and shown.loc["H9", "decision"] == "not tested"
    assert r.headlines()[0].startswith("H1: Conversion rose")
    assert r.glance().startswith("1 of 2 tested hypotheses supported (H1)")
    assert r.metrics()["H1_effect"]["value"] == pytest.approx(est)
    r.save(tmp_path / "impact_results.parquet")
    assert len(pd.read_parquet(tmp_path / "impact_results.parquet")) == 3


def test_design_checks_are_stated_for_each_hypothesis(customers):
    import matplotlib

    matplotlib.use("Agg")
    hs = [hyp("H1", "conversion_rate"), hyp("H3", "nps", design="ab", kind="nps"),
          hyp("H4", "conversion_rate", design="pre_post"), hyp("H5", "conversion_rate", design="its")]
    r = test_hypotheses(hs, customers)
    c = r.checks().set_index("hypothesis")
    assert c.loc["H1", "check"] == "parallel trends" and "moved in parallel" in c.loc["H1", "finding"]
    assert c.loc["H3", "check"] == "sample ratio"
    assert c.loc["H5", "check"] == "trend" and c.loc["H4", "check"] == "comparison"
    for h in ("H1", "H3", "H4", "H5"):
        assert r.plot_detail(h) is not None
