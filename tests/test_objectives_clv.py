"""Customer lifetime value: BG/NBD and Gamma-Gamma fitted with scipy reproduce the published
CDNOW parameters (Fader, Hardie & Lee 2005; Fader & Hardie 2013), predictions agree with
lifetimes' formulas on the same parameters, and the RFM summary and historical value are
hand-checked on a tiny log."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from conftest import log
from cxlab.errors import DataError
from cxlab.objectives import (BetaGeo, GammaGamma, fit_bgnbd, fit_gamma_gamma, historical_value, predict_clv,
                              rfm_summary, value_by_segment)

# lifetimes is a dev dependency (the CDNOW sample ships with it): missing, this module fails, never skips
from lifetimes.datasets import load_cdnow_summary, load_cdnow_summary_data_with_monetary_value  # noqa: E402


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return load_cdnow_summary_data_with_monetary_value()


@pytest.fixture(scope="module")
def bg(cdnow) -> BetaGeo:
    return fit_bgnbd(cdnow)


@pytest.fixture(scope="module")
def gg(cdnow) -> GammaGamma:
    return fit_gamma_gamma(cdnow)


def test_bgnbd_reproduces_fader_hardie_lee_2005_on_cdnow(bg):
    # Fader, Hardie & Lee (2005), "Counting your customers the easy way", CDNOW sample of 2,357
    p = bg.params
    assert round(p["r"], 3) == 0.243 and round(p["alpha"], 3) == 4.414
    assert round(p["a"], 3) == 0.793 and round(p["b"], 3) == 2.426
    assert bg.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert bg.estimates["r"].ci_low < 0.243 < bg.estimates["r"].ci_high


def test_same_cdnow_summary_as_the_plain_loader(cdnow):
    plain = load_cdnow_summary(index_col=[0])
    assert np.allclose(plain[["frequency", "recency", "T"]].to_numpy(), cdnow[["frequency", "recency", "T"]].to_numpy())


def test_gamma_gamma_reproduces_fader_hardie_2013_on_cdnow(gg):
    # Fader & Hardie (2013), "The Gamma-Gamma model of monetary value": p = 6.25, q = 3.74, gamma = 15.44
    p = gg.params
    assert p["p"] == pytest.approx(6.25, abs=0.005) and p["q"] == pytest.approx(3.74, abs=0.005)
    assert p["v"] == pytest.approx(15.44, abs=0.01)  # the note prints 15.44; the maximum is at 15.448
    assert gg.n == 946


def test_predictions_agree_with_lifetimes_formulas(cdnow, bg, gg):
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import _customer_lifetime_value

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
        x, t_x, T = (cdnow[c].to_numpy() for c in ("frequency", "recency", "T"))
        assert np.allclose(bg.conditional_expected_purchases(39, x, t_x, T),
                           ref.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, T), rtol=1e-4)
        assert np.allclose(bg.probability_alive(x, t_x, T), ref.conditional_probability_alive(x, t_x, T), atol=1e-5)
        assert bg.expected_purchases(52) == pytest.approx(ref.expected_number_of_purchases_up_to_time(52), rel=1e-4)
        repeat = cdnow[cdnow["frequency"] > 0]
        gref = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
        value = gref.conditional_expected_average_profit(cdnow["frequency"], cdnow["monetary_value"])
        assert np.allclose(gg.expected_order_value(x, cdnow["monetary_value"]), value, rtol=1e-4)

        class _Numpy:  # lifetimes' own CLV mixes DataFrame and Series under pandas 3; feed it arrays
            def predict(self, t, f, r, T_):
                return ref.conditional_expected_number_of_purchases_up_to_time(t, f.to_numpy(), r.to_numpy(),
                                                                               T_.to_numpy())

        clv_ref = _customer_lifetime_value(_Numpy(), cdnow["frequency"], cdnow["recency"], cdnow["T"],
                                           value.to_numpy(), time=12, discount_rate=0.01, freq="W")
    ours = predict_clv(cdnow, bg, gg, months=12, monthly_discount_rate=0.01)
    assert np.allclose(ours["clv"], clv_ref.to_numpy(), rtol=1e-3)
    assert ours["clv"].sum() == pytest.approx(clv_ref.sum(), rel=1e-4)


# --------------------------------------------------------------------------- from a study
ORDERS = log(
    ("a", "2025-01-01 10:00", "view"),
    ("a", "2025-01-01 11:00", "buy", 10.0), ("a", "2025-01-01 15:00", "buy", 5.0),   # one order day
    ("a", "2025-01-15 10:00", "buy", 30.0), ("a", "2025-01-29 10:00", "buy", 20.0),
    ("b", "2025-01-08 10:00", "buy", 40.0),
    ("c", "2025-01-05 10:00", "view"),
    ("d", "2025-02-26 10:00", "view"),
)


@pytest.fixture
def order_study(make_study):
    customers = pd.DataFrame({"customer_id": list("abcd"), "tier": ["gold", "gold", "basic", "basic"]})
    return make_study(events=ORDERS, customers=customers)


def test_rfm_summary_follows_the_lifetimes_conventions(order_study):
    s = rfm_summary(order_study, unit="week")  # observation end: 26 Feb, the last event day
    a, b = s.loc["a"], s.loc["b"]
    assert (a["frequency"], a["recency"], a["T"]) == (2, pytest.approx(4.0), pytest.approx(8.0))
    assert a["monetary_value"] == pytest.approx(25.0)  # repeat days 15 and 29 Jan; the first day left out
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"]) == (0, 0.0, pytest.approx(7.0), 0.0)
    assert list(s.index) == ["a", "b"]  # only buyers


def test_historical_value_and_by_segment(order_study):
    hv = historical_value(order_study).set_index("customer_id")
    assert hv.loc["a", "revenue"] == 65.0 and hv.loc["a", "orders"] == 4 and hv.loc["a", "tenure_days"] == pytest.approx(28 - 1 / 24)
    customers = pd.DataFrame({"customer_id": list("abcd"), "tier": ["gold", "gold", "basic", "basic"]})
    seg = value_by_segment(hv.reset_index(), customers, "tier").set_index("tier")
    assert seg.loc["gold", "mean"] == 52.5 and seg.loc["basic", "mean"] == 0.0  # non-buyers count as 0
    assert seg.loc["gold", "share_of_total"] == 1.0 and seg.loc["gold", "buyers"] == 2


def test_gamma_gamma_needs_repeat_buyers(order_study):
    with pytest.raises(DataError, match="repeat purchases"):
        fit_gamma_gamma(rfm_summary(order_study))
