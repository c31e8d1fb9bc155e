"""cxlab.synth: the synthetic study is deterministic, meets the data contract, loads as a study,
and its planted truths (truth.json) are recoverable from the files with ordinary methods."""
from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest

from cxlab.errors import CxlabError
from cxlab.study import Study
from cxlab.synth import EMAIL_RE, PHONE_RE, SCRIPT_RE, SynthError, write_study
from cxlab.synth import generator

GOALS = ["web_purchase", "app_purchase", "store_purchase"]
SMALL = dict(customers=3_000, seed=1)


def _read(folder, name):
    return pd.read_parquet(folder / name) if name.endswith(".parquet") else pd.read_csv(folder / name)


def _load(folder):
    truth = json.loads((folder / "truth.json").read_text())
    files = truth["files"]
    t = {name: _read(folder, files[name]) for name in ("customers", "events", "surveys", "tickets", "truth_segments")}
    for name, cols in (("surveys", ["timestamp"]), ("tickets", ["opened_at", "closed_at"])):
        for c in cols:
            t[name][c] = pd.to_datetime(t[name][c])
    return truth, t


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    folder = write_study(tmp_path_factory.mktemp("synth") / "small", **SMALL)
    truth, tables = _load(folder)
    return folder, truth, tables


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = write_study(tmp_path_factory.mktemp("synth") / "demo", **generator.DEMO)
    return (folder, *_load(folder))


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# ----------------------------------------------------------------------------- files
def test_same_arguments_give_byte_identical_files(small, tmp_path):
    folder, _, _ = small
    again = write_study(tmp_path / "again", **SMALL)
    assert _digests(again) == _digests(folder)
    other = write_study(tmp_path / "other", customers=SMALL["customers"], seed=SMALL["seed"] + 1)
    assert _digests(other)["events.parquet"] != _digests(folder)["events.parquet"]


def test_refuses_a_foreign_folder_and_replaces_its_own(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(SynthError, match="not a previous synth output") as err:
        write_study(foreign, customers=200)
    assert isinstance(err.value, CxlabError)
    assert (foreign / "notes.txt").read_text() == "mine" and len(list(foreign.iterdir())) == 1
    own = write_study(tmp_path / "own", customers=200, seed=1)
    write_study(own, customers=300, seed=2)
    assert json.loads((own / "truth.json").read_text())["sizes"]["customers"] == 300
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
    for bad in (dict(customers=5), dict(customers=200, months=2), dict(customers=200, events_per_customer=1),
                dict(customers=200, start="someday")):
        with pytest.raises(SynthError):
            write_study(tmp_path / "bad", **bad)


def test_tables_meet_the_contract(small):
    folder, truth, t = small
    n = SMALL["customers"]
    cu, ev, sv, tk = t["customers"], t["events"], t["surveys"], t["tickets"]
    assert list(cu.columns) == ["customer_id", "age", "income", "region", "signup_date", "gender"]
    assert list(ev.columns) == ["customer_id", "timestamp", "touchpoint", "channel", "session_id", "revenue"]
    assert list(tk.columns) == ["ticket_id", "customer_id", "opened_at", "closed_at", "channel", "category",
                                "resolved", "text"]
    assert {"response_id", "customer_id", "timestamp", "touchpoint", "stage", "nps", "csat", "ces", "comment",
            "driver_ease", "driver_speed", "driver_staff", "driver_price", "driver_delivery"} == set(sv.columns)
    assert len(cu) == n and cu.customer_id.is_unique and cu.customer_id.str.fullmatch(r"C\d{7}").all()
    assert cu.age.between(18, 85).all() and set(cu.region) == {"North", "South", "East", "West"}
    assert set(cu.gender) == {"F", "M", "X"} and cu.income.gt(0).all()
    assert 10 * n <= len(ev) <= 30 * n
    assert str(ev.timestamp.dtype) == "datetime64[us]"
    assert set(ev.channel) == {"web", "app", "email", "store", "call_centre"}
    order = ev[["customer_id", "timestamp"]]
    assert order.equals(order.sort_values(["customer_id", "timestamp"], kind="stable"))
    start, end = pd.Timestamp(truth["period"]["start"]), pd.Timestamp(truth["period"]["end_exclusive"])
    assert ev.timestamp.min() >= start and ev.timestamp.max() < end
    buy = ev.touchpoint.isin(GOALS)
    assert ev.revenue[buy].gt(0).all() and ev.revenue[~buy].isna().all()
    assert sv.response_id.is_unique and tk.ticket_id.is_unique
    assert sv.customer_id.isin(cu.customer_id).all() and tk.customer_id.isin(cu.customer_id).all()
    for col, (lo, hi) in {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7), "driver_ease": (1, 5)}.items():
        assert sv[col].dropna().between(lo, hi).all() and sv[col].notna().sum() > 0.2 * len(sv), col
    assert sv[["nps", "csat", "ces"]].notna().any(axis=1).all()
    assert 0.05 < sv.nps.notna().mean() < 0.95 and 0.05 < sv.ces.notna().mean() < 0.95
    assert (tk.closed_at.dropna() >= tk.opened_at[tk.closed_at.notna()]).all()
    assert tk.closed_at.isna().any() and not tk.resolved[tk.closed_at.isna()].any()
    assert set(tk.category) == {"payment", "delivery", "returns", "account", "product"}
    sizes = truth["sizes"]
    assert (sizes["customers"], sizes["events"], sizes["surveys"], sizes["tickets"]) == (n, len(ev), len(sv), len(tk))


def test_study_yaml_loads_and_validates(small):
    folder, truth, _ = small
    study = Study.load(folder)
    assert study.stages == ["awareness", "consideration", "purchase", "service", "loyalty"]
    assert 15 <= len(study.catalog) <= 25 and study.goal_touchpoints == GOALS
    assert set(study.catalog.channel) == {"web", "app", "email", "store", "call_centre"}
    iv = study.intervention("new_checkout")
    assert iv.design == "did" and iv.treated_values == ("North",) and str(iv.date.date()) == "2025-07-01"
    assert {o.kpi for o in study.objectives} >= {"conversion_rate", "csat_mean", "nps", "churn_rate",
                                                 "repeat_purchase_rate"}
    assert study.conversion_window_days == 30 and study.parameters["touchpoints"] == {"anchor_touchpoint": "payment_error"}
    assert "payment" in study.parameters["pain_points"]["topics"]
    from cxlab import data
    report = data.validate(study)
    assert report.ok and not report.warnings, str(report)


def test_large_studies_write_parquet_tables(tmp_path, monkeypatch):
    monkeypatch.setattr(generator, "LARGE_CUSTOMERS", 1000)
    folder = write_study(tmp_path / "large", customers=2500, seed=3, chunk_customers=1000)
    study = Study.load(folder)
    assert {p.suffix for p in study.tables.values()} == {".parquet"}
    ev = pd.read_parquet(folder / "events.parquet")
    import pyarrow.parquet as pq
    assert pq.ParquetFile(folder / "events.parquet").num_row_groups == 3
    assert ev.customer_id.is_monotonic_increasing and pd.read_parquet(folder / "customers.parquet").shape[0] == 2500
    from cxlab import data
    report = data.validate(study)
    assert report.ok and not report.warnings, str(report)


def test_events_per_customer_scales_the_journeys(tmp_path):
    folder = write_study(tmp_path / "ten", customers=3000, seed=5, events_per_customer=10)
    ev = pd.read_parquet(folder / "events.parquet", columns=["customer_id"])
    assert len(ev) / 3000 == pytest.approx(10, rel=0.10)


# ----------------------------------------------------------------------------- planted truths
def test_segments_are_recoverable_with_kmeans(small):
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    from sklearn.preprocessing import StandardScaler

    _, truth, t = small
    ev = t["events"]
    g = ev.assign(day=ev.timestamp.dt.floor("D")).groupby("customer_id")
    feat = pd.crosstab(ev.customer_id, ev.channel, normalize="index")[["web", "app", "store", "email"]]
    feat["events_per_day"] = np.log(g.size() / g.day.nunique())
    span = (g.timestamp.max() - g.timestamp.min()).dt.total_seconds() / 86400
    feat["days_between"] = np.log1p(span / (g.size() - 1).clip(lower=1))
    value = g.revenue.mean()
    feat["order_value"] = np.log(value.fillna(value.median()))
    labels = KMeans(4, n_init=10, random_state=0).fit_predict(StandardScaler().fit_transform(feat))
    segment = t["truth_segments"].set_index("customer_id").segment.loc[feat.index]
    assert adjusted_rand_score(segment, labels) >= 0.8
    assert truth["segments"]["counts"] == segment.value_counts().to_dict()


def test_payment_error_is_the_pain_point(small):
    _, truth, t = small
    ev, sv, tk = t["events"], t["surveys"], t["tickets"]
    # drop-off, exactly as truth.json defines it
    last = ev.groupby("customer_id").touchpoint.last()
    buyers = set(ev.customer_id[ev.touchpoint.isin(GOALS)])
    dropped = last[~last.index.isin(buyers)].value_counts()
    having = ev.drop_duplicates(["customer_id", "touchpoint"]).touchpoint.value_counts()
    rate = (dropped.reindex(having.index).fillna(0) / having).sort_values(ascending=False)
    assert rate.index[0] == "payment_error" and rate.iloc[0] > 1.5 * rate.iloc[1]
    for tp, value in truth["pain_point"]["dropoff"]["rates"].items():
        assert rate[tp] == pytest.approx(value, abs=1e-9), tp
    # support contacts (chat, call, any ticket) within 7 days
    contacts = pd.concat([ev.loc[ev.touchpoint.isin(["chat_support", "call_centre_call"]), ["customer_id", "timestamp"]],
                          tk[["customer_id", "opened_at"]].rename(columns={"opened_at": "timestamp"})])
    contacts = contacts.rename(columns={"timestamp": "contact"}).sort_values("contact")
    occ = ev.loc[~ev.touchpoint.isin(["chat_support", "call_centre_call"]), ["customer_id", "timestamp", "touchpoint"]]
    occ = pd.merge_asof(occ.sort_values("timestamp"), contacts, left_on="timestamp", right_on="contact",
                        by="customer_id", direction="forward", allow_exact_matches=False)
    within = (occ.contact - occ.timestamp) <= pd.Timedelta(days=7)
    contact_rate = within.groupby(occ.touchpoint).mean().sort_values(ascending=False)
    assert contact_rate.index[0] == "payment_error" and contact_rate.iloc[0] > 2 * contact_rate.iloc[1]
    assert contact_rate["payment_error"] == pytest.approx(truth["pain_point"]["repeat_contact"]["rates"]["payment_error"])
    # the emotion curve dips at purchase, and comments after a payment error are negative, about payment
    stage_csat = sv.groupby("stage").csat.mean()
    assert stage_csat.idxmin() == "purchase" == truth["pain_point"]["emotion"]["csat_by_stage"]["lowest"]
    after_error = sv.loc[sv.touchpoint == "payment_error", "comment"].dropna().str.lower()
    assert len(after_error) > 30
    assert after_error.str.contains("pay|card|declined|charg|checkout").mean() > 0.6
    assert sv.loc[sv.touchpoint == "payment_error", "csat"].mean() < stage_csat.drop("purchase").min() - 1.5
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    said = sv.dropna(subset=["comment"])
    tone = pd.Series([vader.polarity_scores(c)["compound"] for c in said.comment], index=said.index)
    assert tone.groupby(said.stage).mean().idxmin() == "purchase"
    assert tone.groupby(said.touchpoint).mean().idxmin() == "payment_error"
    assert tone[said.touchpoint == "payment_error"].mean() < -0.1


def test_ticket_hazard_ratio_is_recovered_by_phreg(small):
    from statsmodels.duration.hazard_regression import PHReg

    _, truth, t = small
    ev, tk = t["events"], t["tickets"]
    plant = truth["ticket_hazard"]
    end = pd.Timestamp(truth["period"]["end_exclusive"])
    goals = ev.loc[ev.touchpoint.isin(GOALS), ["customer_id", "timestamp"]]
    first_goal = goals.groupby("customer_id").timestamp.min().rename("first_goal")
    units = tk.join(first_goal, on="customer_id")
    units = units[units.opened_at > units.first_goal].sort_values("opened_at").groupby("customer_id").head(1)
    pairs = units[["ticket_id", "opened_at"]].merge(goals.merge(units[["customer_id", "ticket_id"]]), on="ticket_id")
    units = units.set_index("ticket_id")
    prior = pairs[pairs.timestamp < pairs.opened_at].groupby("ticket_id").size().reindex(units.index)
    nxt = pairs[pairs.timestamp > pairs.opened_at].groupby("ticket_id").timestamp.min().reindex(units.index)
    days = (nxt.fillna(end) - units.opened_at).dt.total_seconds() / 86400
    X = np.c_[(~units.resolved.astype(bool)).astype(int), prior]
    fit = PHReg(days.to_numpy(), X, status=nxt.notna().astype(int).to_numpy()).fit()
    low, high = np.exp(fit.conf_int()[0])
    assert low <= plant["hazard_ratio_unresolved"] <= high and high < 1
    b_low, b_high = fit.conf_int(alpha=0.01)[1]  # the adjustment covariate: a 99% interval
    assert b_low <= plant["coef_prior_purchases"] <= b_high
    assert plant["sample"]["units"] == len(units) and plant["sample"]["events"] == nxt.notna().sum()
    assert prior.min() >= 1


def test_kpi_intervals_cover_the_planted_expectations(small):
    _, truth, t = small
    ev, sv = t["events"], t["surveys"]
    z = 3.29  # 99.9% intervals (five KPIs): the expectations are population values, the files a sample
    first = ev.groupby("customer_id").timestamp.min()
    goals = ev[ev.touchpoint.isin(GOALS)].join(first.rename("first"), on="customer_id")
    converted = goals[goals.timestamp <= goals["first"] + pd.Timedelta(days=30)].customer_id.nunique() / len(first)
    purchases = goals.groupby("customer_id").size()
    net = (sv.nps.dropna() >= 9).astype(float) - (sv.nps.dropna() <= 6)
    samples = {"conversion_rate": (converted, np.sqrt(converted * (1 - converted) / len(first))),
               "repeat_purchase_rate": ((purchases >= 2).mean(), (purchases >= 2).std() / np.sqrt(len(purchases))),
               "nps": (100 * net.mean(), 100 * net.std() / np.sqrt(len(net))),
               "csat_mean": (sv.csat.mean(), sv.csat.std() / np.sqrt(sv.csat.notna().sum())),
               "ces_mean": (sv.ces.mean(), sv.ces.std() / np.sqrt(sv.ces.notna().sum()))}
    for kpi, (value, se) in samples.items():
        planted = truth["kpis"][kpi]
        assert value == pytest.approx(planted["sample"], abs=1e-9), kpi
        assert abs(value - planted["expected"]) <= z * se, (kpi, value, planted["expected"], se)


@pytest.mark.slow
def test_did_recovers_the_new_checkout_effect(demo):
    import statsmodels.formula.api as smf

    _, truth, t = demo
    ev, cu, sv = t["events"], t["customers"], t["surveys"]
    assert 300_000 <= len(ev) <= 600_000
    iv = truth["intervention"]
    date = pd.Timestamp(iv["date"])
    first = ev.groupby("customer_id").timestamp.min().rename("first")
    goals = ev[ev.touchpoint.isin(GOALS)].join(first, on="customer_id")
    conv = set(goals.customer_id[goals.timestamp <= goals["first"] + pd.Timedelta(days=30)])
    units = cu.set_index("customer_id").join(first)
    units["y"] = units.index.isin(conv).astype(int)
    units["treated"] = ((units.region == "North") & (units["first"] >= date)).astype(int)
    units["month"] = units["first"].dt.strftime("%m")
    # staggered acquisition: first touches in every month up to 30 days before the end
    assert units.groupby("month").size().iloc[:11].min() > 0.7 * len(units) / 11
    fit = smf.ols("y ~ treated + C(region) + C(month)", data=units).fit(cov_type="HC1")
    low, high = fit.conf_int().loc["treated"]
    assert low <= iv["conversion_rate"]["expected_did"] <= high and low > 0
    assert iv["conversion_rate"]["expected_did"] == pytest.approx(iv["conversion_rate"]["planted_effect"], abs=0.01)
    resp = sv.dropna(subset=["csat"]).merge(cu[["customer_id", "region"]], on="customer_id")
    resp["treated"] = ((resp.region == "North") & (resp.timestamp >= date)).astype(int)
    resp["month"] = resp.timestamp.dt.strftime("%m")
    fit = smf.ols("csat ~ treated + C(region) + C(month)", data=resp).fit(cov_type="HC1")
    low, high = fit.conf_int().loc["treated"]
    assert low <= iv["csat_mean"]["expected_did"] <= high and low > 0.2


def test_texts_read_like_customers_and_carry_the_counted_pii(small):
    _, truth, t = small
    comments, tickets = t["surveys"].comment.dropna(), t["tickets"].text.dropna()
    counts = truth["text"]
    assert len(comments) == counts["comments"]["n"] and len(tickets) == len(t["tickets"]) == counts["tickets"]["n"]
    for texts, planted in ((comments, counts["comments"]), (tickets, counts["tickets"])):
        assert texts.str.contains(EMAIL_RE).sum() == planted["with_email"] > 0
        assert texts.str.contains(PHONE_RE).sum() == planted["with_phone"] > 0
        assert texts.str.contains(SCRIPT_RE).sum() == planted["with_script"]
    assert counts["comments"]["with_script"] > 0 and counts["comments"]["with_typo"] > 0
    assert comments.str.contains(re.escape("<script>alert('x')</script>")).any()
    words = comments.str.split().str.len()
    assert words.min() <= 2 and words.max() >= 25 and comments.nunique() > 0.5 * len(comments)
    assert (comments == comments.str.lower()).mean() > 0.05  # some written in lower case
    assert not comments.str.strip().eq("").any()
