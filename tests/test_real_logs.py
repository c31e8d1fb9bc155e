"""Real public logs through cxlab, as a new user brings them.

- **CLV settings in a study.** The objectives stage's CLV fit takes a calibration end and a
  holdout end as stage parameters (``parameters.objectives`` in study.yaml). On the CDNOW sample
  (Fader, Hardie & Lee 2005; lifetimes ships it) a calibration end of 30 Sep 1997 gives the
  published BG/NBD parameters r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 from a study run,
  and the holdout to 30 Jun 1998 compares predicted with actual repeat purchases: the actual ones
  counted in pandas from the raw file, the predicted ones lifetimes' own BG/NBD on lifetimes' own
  calibration summary (its ``calibration_and_holdout_data`` fails under pandas 3).
- **CDNOW_master from `cxlab init`.** The full CDNOW log (69,659 purchases of 23,570 customers,
  lifetimes/datasets/CDNOW_master.txt) exported as a shop would give it — a CSV with a header,
  ISO dates and its own column names, no event column — is drafted with `cxlab init`, edited as
  a user would (a script), validated, and run through every stage in-process: the intake counts
  equal the raw file's, the frequency/recency/T/monetary value of every buyer equal
  ``lifetimes.utils.summary_data_from_transaction_data``, the sections that need two journey
  stages are named skips in the records' notes, and nothing crashes.
"""
from __future__ import annotations

import os
import re
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

# lifetimes is a dev dependency (it ships the CDNOW files): missing, this module fails, never skips
import lifetimes  # noqa: E402
from lifetimes import BetaGeoFitter  # noqa: E402
from lifetimes.utils import summary_data_from_transaction_data  # noqa: E402

from conftest import write_study  # noqa: E402
from cxlab import impact, intake, journeymap, objectives, painpoints, segments, touchpoints  # noqa: E402
from cxlab.cli import main  # noqa: E402
from cxlab.errors import ParameterError  # noqa: E402
from cxlab.report.runner import resolve_parameters  # noqa: E402
from cxlab.stages import read_output, read_record  # noqa: E402
from cxlab.study import Study  # noqa: E402

DATASETS = os.path.join(os.path.dirname(lifetimes.__file__), "datasets")
CALIBRATION_END, HOLDOUT_END = "1997-09-30", "1998-06-30"
STAGES = [("intake", intake), ("objectives", objectives), ("segmentation", segments), ("touchpoints", touchpoints),
          ("pain_points", painpoints), ("impact", impact), ("journey_map", journeymap)]
SKIP_FORM = re.compile(r"^Not computed: [^\n]+ — needs [^\n]+$")


def holdout_reference(raw: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per calibration buyer: repeat purchase days in the holdout (pandas, from the raw rows) and
    the purchases lifetimes' BG/NBD, fitted on lifetimes' calibration summary, predicts for the
    39-week holdout."""
    cal, hold = pd.Timestamp(CALIBRATION_END), pd.Timestamp(HOLDOUT_END)
    summary = summary_data_from_transaction_data(raw, "customer_id", "date", observation_period_end=CALIBRATION_END,
                                                 freq="D", freq_multiplier=7)
    later = raw[(raw["date"] > cal) & (raw["date"] <= hold)]
    actual = later.groupby("customer_id")["date"].nunique().reindex(summary.index, fill_value=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bg = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
        predicted = bg.conditional_expected_number_of_purchases_up_to_time(
            (hold - cal).days / 7, summary["frequency"].to_numpy(), summary["recency"].to_numpy(),
            summary["T"].to_numpy())
    return actual, pd.Series(predicted, index=summary.index)


# --------------------------------------------------------------------------- 1. CLV settings
@pytest.fixture(scope="module")
def cdnow_sample(tmp_path_factory):
    """The CDNOW sample (2,357 customers) as a one-stage purchases study, as tests/test_segments.py builds it."""
    raw = pd.read_csv(os.path.join(DATASETS, "CDNOW_sample.txt"), header=None, sep=r"\s+",
                      names=["cid", "customer_id", "date", "cds", "amount"], dtype={"customer_id": str, "date": str})
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    events = pd.DataFrame({"customer_id": raw.customer_id, "timestamp": raw.date, "touchpoint": "purchase",
                           "revenue": raw.amount})
    folder = write_study(tmp_path_factory.mktemp("cdnow") / "cdnow_sample", events=events, stages=["purchase"],
                         touchpoints={"purchase": {"stage": "purchase", "channel": "store"}},
                         goal_touchpoints=["purchase"])
    return folder, raw


def test_a_calibration_end_in_study_yaml_gives_the_published_cdnow_parameters_and_a_holdout_check(cdnow_sample):
    folder, raw = cdnow_sample
    config = yaml.safe_load((folder / "study.yaml").read_text())
    # written as a user writes them: unquoted dates, which YAML reads as dates
    config["parameters"] = {"objectives": {"clv_calibration_end": "1997-09-30", "clv_holdout_end": "1998-06-30"}}
    (folder / "study.yaml").write_text(yaml.safe_dump(config, sort_keys=False).replace("'1997-09-30'", "1997-09-30")
                                       .replace("'1998-06-30'", "1998-06-30"))
    study = Study.load(folder)
    assert study.stage_parameters("objectives")["clv_calibration_end"] == pd.Timestamp(CALIBRATION_END).date()
    # `cxlab run` accepts them: the notebook declares both, and hands them on as text
    resolved = resolve_parameters(study, ["objectives"])["objectives"]
    assert (resolved["clv_calibration_end"], resolved["clv_holdout_end"]) == (CALIBRATION_END, HOLDOUT_END)

    result = objectives.analyze(folder)  # study.yaml's parameters.objectives apply, as in a run
    value = result.value
    # Fader, Hardie & Lee (2005), "Counting your customers the easy way": the CDNOW sample, 39 weeks
    p = value.bgnbd.params
    assert round(p["r"], 3) == 0.243 and round(p["alpha"], 3) == 4.414
    assert round(p["a"], 3) == 0.793 and round(p["b"], 3) == 2.426
    assert value.bgnbd.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert value.calibration_end == pd.Timestamp(CALIBRATION_END) and len(value.customers) == 2357
    assert (result.parameters["clv_calibration_end"], result.parameters["clv_holdout_end"]) == (
        CALIBRATION_END, HOLDOUT_END)  # the record holds the days as text

    # the holdout: 39 weeks, every calibration buyer, actual from the raw rows, predicted as lifetimes predicts
    check = value.holdout
    assert check.duration == 39.0 and check.unit == "week"
    actual, predicted = holdout_reference(raw)
    ours = check.customers.set_index("customer_id")
    assert sorted(ours.index) == sorted(actual.index.astype(str))
    assert (ours["actual"] == actual.rename(index=str).loc[ours.index]).all()
    np.testing.assert_allclose(ours["predicted"], predicted.rename(index=str).loc[ours.index], rtol=1e-4)
    assert check.actual == int(actual.sum()) == 1882
    assert check.predicted == pytest.approx(predicted.sum(), rel=1e-4)

    # the table the page shows: by repeat purchases in calibration, and all
    table = result.holdout_table().set_index("repeat purchases in calibration")
    assert list(table.index) == ["0", "1", "2", "3", "4", "5", "6", "7+", "all"]
    assert table.loc["all", "customers"] == 2357 and table.loc["all", "actual in total"] == 1882
    assert table.loc["all", "predicted in total"] == pytest.approx(predicted.sum(), abs=0.05)
    freq = ours["frequency"]
    assert table.loc["0", "customers"] == (freq == 0).sum() and table.loc["7+", "customers"] == (freq >= 7).sum()
    assert table.loc["0", "actual in total"] == ours.loc[freq == 0, "actual"].sum()
    assert table["customers"].iloc[:-1].sum() == 2357
    assert result.value_findings()[-1].startswith(
        "Holdout check: in the 39 weeks from 01 Oct 1997 to 30 Jun 1998, the 2,357 buyers of the calibration "
        "period made 1,882 repeat purchases")


def test_clv_dates_outside_the_log_or_out_of_order_are_parameter_errors(cdnow_sample):
    folder, _ = cdnow_sample
    with pytest.raises(ParameterError, match="clv_holdout_end needs clv_calibration_end"):
        objectives.analyze(folder, clv_calibration_end="", clv_holdout_end=HOLDOUT_END)
    with pytest.raises(ParameterError, match="no later than the log's last day, 1998-06-30"):
        objectives.analyze(folder, clv_calibration_end=CALIBRATION_END, clv_holdout_end="1998-12-31")
    with pytest.raises(ParameterError, match="must fall within the log, from 1997-01-01"):
        objectives.analyze(folder, clv_calibration_end="1996-12-31", clv_holdout_end="")
    with pytest.raises(ParameterError, match="is not a date"):
        objectives.analyze(folder, clv_calibration_end="30/09/1997", clv_holdout_end="")


# --------------------------------------------------------------------------- 2. CDNOW_master from `cxlab init`
@pytest.fixture(scope="module")
def master_raw() -> pd.DataFrame:
    raw = pd.read_csv(os.path.join(DATASETS, "CDNOW_master.txt"), sep=r"\s+", dtype={"customer_id": str, "date": str})
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    return raw.rename(columns={"dollar_value": "amount"})


def test_cdnow_master_runs_every_stage_from_an_init_draft(master_raw, tmp_path, capsys):
    raw = master_raw
    assert (len(raw), raw.customer_id.nunique()) == (69_659, 23_570)
    folder = tmp_path / "cdnow"
    folder.mkdir()
    # the shop's export: a header, ISO dates, its own names; no column naming the event (every row is an order)
    pd.DataFrame({"customer_id": raw.customer_id, "order_date": raw.date.dt.strftime("%Y-%m-%d"),
                  "quantity": raw.number_of_cds, "amount": raw.amount}).to_csv(folder / "orders.csv", index=False)

    assert main(["init", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "cxlab validate on the draft passes" in out
    draft = Study.load(folder)
    assert {t: p.name for t, p in draft.tables.items()} == {"customers": "customers.csv", "events": "orders.csv"}
    assert draft.column_maps["events"] == {"timestamp": "order_date", "touchpoint": "quantity", "revenue": "amount"}
    # without an event column the draft reads the touchpoint from the quantity and says so; every
    # quantity carries revenue, so each is a goal, and the one journey stage is the purchase
    text = (folder / "study.yaml").read_text()
    assert "# DECIDE: events: the export has no column naming what happened, so touchpoint is read from 'quantity'" in text
    quantities = sorted(raw.number_of_cds.astype(str).unique())
    assert sorted(draft.goal_touchpoints) == sorted(draft.catalog.touchpoint) == quantities
    assert draft.stages == ["purchase"]
    assert pd.read_csv(folder / "customers.csv", dtype=str).customer_id.tolist() == sorted(raw.customer_id.unique())

    # the user's edits: the channel (CDNOW sold online), no conversion window (every row is an
    # order), and the CLV calibration and holdout of the published analyses
    config = yaml.safe_load(text)
    for spec in config["touchpoints"].values():
        spec["channel"] = "web"
    config["conversion_window_days"] = None
    config["parameters"] = {"objectives": {"clv_calibration_end": CALIBRATION_END, "clv_holdout_end": HOLDOUT_END}}
    (folder / "study.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    assert main(["validate", str(folder)]) == 0
    assert "Traceback" not in "".join(capsys.readouterr())

    results = {}
    for name, module in STAGES:
        results[name] = result = module.analyze(folder)
        result.write()
    study = Study.load(folder)
    records = {name: read_record(study, name) for name, _ in STAGES}
    assert all(records.values())

    # intake: the raw file's rows and customers
    assert records["intake"]["metrics"] == {"events": 69_659, "customers": 23_570}
    assert records["intake"]["notes"] == []

    # segmentation: frequency, recency, T and monetary value as lifetimes computes them (days, to the last day)
    ref = summary_data_from_transaction_data(raw, "customer_id", "date", monetary_value_col="amount", freq="D")
    features = read_output(study, "segmentation", "features").set_index("customer_id").loc[ref.index]
    assert len(features) == 23_570
    for col in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(features[col].to_numpy(dtype=float), ref[col].to_numpy(dtype=float),
                                   rtol=0, atol=1e-9, err_msg=col)

    # objectives: CLV fitted to the calibration end from study.yaml, the holdout counted as pandas counts it
    value = results["objectives"].value
    assert value.calibration_end == pd.Timestamp(CALIBRATION_END) and value.bgnbd.n == 23_570
    later = raw[(raw.date > pd.Timestamp(CALIBRATION_END)) & (raw.date <= pd.Timestamp(HOLDOUT_END))]
    assert value.holdout.actual == later.groupby("customer_id").date.nunique().sum() == 19_684
    assert records["objectives"]["parameters"]["clv_holdout_end"] == HOLDOUT_END
    assert len(read_output(study, "objectives", "clv")) == 23_570

    # what needs two journey stages is a named skip; every note is one
    for name, record in records.items():
        assert all(SKIP_FORM.match(n) for n in record["notes"]), (name, record["notes"])
    tp_notes = records["touchpoints"]["notes"]
    assert any(n.startswith("Not computed: stage funnel — needs") and "two journey stages" in n for n in tp_notes)
    assert read_output(study, "touchpoints", "funnel") is None
    assert any(n.startswith("Not computed: the stage KPI lane of the map — needs") for n in records["journey_map"]["notes"])
    # every customer reached a goal: the log is all orders
    inventory = read_output(study, "touchpoints", "inventory").set_index("touchpoint")
    assert inventory["events"].sum() == 69_659
    assert inventory.loc["1", "events"] == (raw.number_of_cds == 1).sum()


# --------------------------------------------------------------------------- 3. what `cxlab init` met on them
def test_init_names_a_column_of_yyyymmdd_dates_instead_of_finding_no_log(tmp_path, capsys):
    # CDNOW as lifetimes ships it keeps its dates as yyyymmdd numbers, which the contract does not read
    raw = pd.read_csv(os.path.join(DATASETS, "CDNOW_sample.txt"), header=None, sep=r"\s+",
                      names=["cid", "customer_id", "order_date", "quantity", "amount"])
    raw.drop(columns="cid").to_csv(tmp_path / "orders.csv", index=False)
    assert main(["init", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "No event log found" in err and "Traceback" not in err
    assert ("orders.csv: column 'order_date' holds dates written as yyyymmdd numbers (19970101 to 19980630), "
            "which cxlab does not read as timestamps: convert the column to ISO dates (1997-01-01)") in err
    assert not (tmp_path / "study.yaml").exists()


def test_init_offers_per_customer_columns_of_a_clickstream_as_attributes_and_orders_by_session(tmp_path, capsys):
    """A clickstream as retentioneering's demo exports it: sessions, a platform per session, an
    acquisition channel and a cohort per user, no revenue. Each of 30 users has three sessions
    home → catalog → cart, the second one ending in a purchase: over the whole journey the purchase
    sits in the middle (median position 0.45), within its session it is last."""
    rows = []
    for u in range(30):
        for k in range(3):
            day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=7 * k + u % 5)
            steps = ["home", "catalog", "cart"] + (["purchase"] if k == 1 else [])
            for i, event in enumerate(steps):
                rows.append({"user_id": f"user_{u:02d}", "session_id": f"s{u}_{k}", "event": event,
                             "timestamp": day + pd.Timedelta(minutes=i), "platform": ["desktop", "mobile"][(u + k) % 2],
                             "acquisition_channel": ["email", "organic", "paid"][u % 3],
                             "user_cohort": f"2024-0{1 + u % 2}"})
    pd.DataFrame(rows).to_csv(tmp_path / "ecom.csv.gz", index=False)
    assert main(["init", str(tmp_path)]) == 0
    assert "cxlab validate on the draft passes" in capsys.readouterr().out
    study = Study.load(tmp_path)
    customers = pd.read_csv(tmp_path / "customers.csv")
    # one value per user: an attribute; the platform changes between sessions: not one
    assert list(customers.columns) == ["customer_id", "acquisition_channel", "user_cohort"]
    assert customers.set_index("customer_id").loc["user_04", "acquisition_channel"] == "organic"
    assert study.customer_attributes == {"acquisition_channel": {"kind": "category"}, "user_cohort": {"kind": "category"}}
    assert study.column_maps["events"] == {"customer_id": "user_id", "touchpoint": "event", "channel": "platform"}
    # positions within sessions: home 0, catalog 1/3 or 1/2, cart 2/3 or 1, purchase 1
    text = (tmp_path / "study.yaml").read_text()
    assert "by median position in the sessions (0 = a session's first event, 1 = the last)" in text
    assert list(study.catalog.touchpoint) == ["home", "catalog", "cart", "purchase"]
    assert "# 30 events, median position 1.00" in text.split("  purchase: ")[1].split("\n")[0]
    order = study.catalog.set_index("touchpoint").stage_order
    assert order["home"] < order["purchase"] and study.goal_touchpoints == ["purchase"]


def test_init_leaves_zip_codes_out_of_the_numeric_attributes(tmp_path, capsys):
    # MovieLens 100K's users: zip codes that are mostly numbers (18 of 943 are Canadian postcodes)
    users = pd.DataFrame({"userId": range(1, 61), "age": [18 + i for i in range(60)],
                          "gender": ["M", "F"] * 30, "zip_code": [f"{85000 + i}" for i in range(59)] + ["T8H1N"]})
    users.to_csv(tmp_path / "users.csv", index=False)
    ratings = pd.DataFrame({"userId": [u for u in range(1, 61) for _ in range(3)],
                            "movieId": [m for _ in range(60) for m in (1, 2, 3)], "rating": [3, 4, 5] * 60,
                            "timestamp": [881250949 + 60 * i for i in range(180)]})
    ratings.to_csv(tmp_path / "ratings.csv", index=False)
    assert main(["init", str(tmp_path)]) == 0
    assert "cxlab validate on the draft passes" in capsys.readouterr().out
    study = Study.load(tmp_path)
    assert study.customer_attributes == {"age": {"kind": "numeric"}, "gender": {"kind": "category"}}
    assert "# not proposed as attributes (too many distinct values): zip_code" in (tmp_path / "study.yaml").read_text()
    assert study.table_options["events"] == {"epoch": "s"}
