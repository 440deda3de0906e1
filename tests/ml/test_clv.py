"""BG/NBD and Gamma-Gamma recover known parameters (the published CDNOW fits) from simulated data;
the summary builder turns the CDNOW transactions into the published summary and those fits."""

import importlib.resources

import numpy as np
import pandas as pd
import pytest

from ml import clv

CDNOW_BGNBD = (0.243, 4.414, 0.793, 2.426)  # r, alpha, a, b (Fader, Hardie & Lee 2005), weeks
CDNOW_GG = (6.25, 3.74, 15.44)  # p, q, v (Fader & Hardie 2013)


def simulate_bgnbd(n, T, params, rng):
    r, alpha, a, b = params
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i]) if lam[i] > 0 else np.inf
            if t > T:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < p[i]:
                break
    return x, t_x, np.full(n, T)


def test_bgnbd_recovers_known_parameters():
    rng = np.random.default_rng(2005)
    x, t_x, T = simulate_bgnbd(8000, 39.0, CDNOW_BGNBD, rng)
    fit = clv.fit_bgnbd(x, t_x, T)
    for got, want in zip((fit.r, fit.alpha, fit.a, fit.b), CDNOW_BGNBD, strict=True):
        assert got == pytest.approx(want, rel=0.15)
    # conditional expectations: more and later purchases predict more future purchases
    e = fit.expected_purchases(39.0, np.array([0, 2, 2]), np.array([0, 10.0, 35.0]), np.array([39.0] * 3))
    assert e[0] < e[1] < e[2]


def test_gamma_gamma_recovers_known_parameters():
    rng = np.random.default_rng(2013)
    p, q, v = CDNOW_GG
    n = 6000
    x = rng.integers(1, 10, n).astype(float)
    nu = rng.gamma(q, 1 / v, n)
    m = np.array([rng.gamma(p, 1 / nu[i], int(x[i])).mean() for i in range(n)])
    fit = clv.fit_gamma_gamma(x, m)
    for got, want in zip((fit.p, fit.q, fit.v), CDNOW_GG, strict=True):
        assert got == pytest.approx(want, rel=0.15)
    assert fit.expected_value(np.array([0.0]), np.array([0.0]))[0] == pytest.approx(fit.p * fit.v / (fit.q - 1))


# The CDNOW sample (Fader, Hardie & Lee 2005): 2,357 customers' purchases 1997-01-01..1998-06-30, and
# the published 39-week calibration summary (x, t_x, T in weeks to 1997-09-30, zbar), as shipped by
# the `lifetimes` package (lifetimes/datasets/).
CDNOW_CALIBRATION_END = "1997-09-30"


@pytest.fixture(scope="module")
def cdnow():
    data = importlib.resources.files("lifetimes") / "datasets"  # a dev dependency: missing is a failure
    with (data / "CDNOW_sample.txt").open() as f:
        tx = pd.read_csv(f, sep=r"\s+", header=None, names=["master_id", "customer_id", "date", "cds", "value"])
    tx["date"] = pd.to_datetime(tx["date"].astype(str), format="%Y%m%d")
    with (data / "cdnow_customers_summary_with_transactions.csv").open() as f:
        published = pd.read_csv(f).set_index("ID")
    return tx, published


def test_cdnow_summary_equals_the_published_one(cdnow):
    tx, published = cdnow
    s = clv.summary_from_transactions(tx, "customer_id", "date", "value", observation_end=CDNOW_CALIBRATION_END,
                                      freq="D", freq_multiplier=7)
    assert len(s) == len(published) == 2357 and (s.index == published.index).all()
    assert (s["frequency"] == published["x"]).all()
    assert (s["recency"].round(2) == published["t_x"]).all() and (s["T"].round(2) == published["T"]).all()
    assert (s["monetary_value"] - published["zbar"]).abs().max() <= 0.005 + 1e-9  # published to the cent
    assert (s.loc[s["frequency"] == 0, "monetary_value"] == 0).all()
    assert int(s["frequency"].sum()) == 2457 and int((s["frequency"] > 0).sum()) == 946


def test_cdnow_fits_give_the_published_parameters(cdnow):
    tx, _ = cdnow
    s = clv.summary_from_transactions(tx, "customer_id", "date", "value", observation_end=CDNOW_CALIBRATION_END,
                                      freq="D", freq_multiplier=7)
    bg = clv.fit_bgnbd(s["frequency"], s["recency"], s["T"])
    for got, want in zip((bg.r, bg.alpha, bg.a, bg.b), CDNOW_BGNBD, strict=True):
        assert round(got, 3) == pytest.approx(want, abs=0.0011)
    # FHL's Excel note: customer 1 (x=2, t_x=30.43, T=38.86) is expected to buy 1.226 times in 39 weeks
    assert bg.expected_purchases(39.0, 2, 30.43, 38.86) == pytest.approx(1.226, abs=5e-4)
    repeat = s[s["frequency"] > 0]
    gg = clv.fit_gamma_gamma(repeat["frequency"], repeat["monetary_value"])
    for got, want in zip((gg.p, gg.q, gg.v), CDNOW_GG, strict=True):
        assert round(got, 2) == pytest.approx(want, abs=0.011)


@pytest.mark.parametrize("freq, multiplier, end", [("D", 7, "1998-06-30"), ("W", 1, None), ("D", 1, "1997-03-31")])
def test_cdnow_summary_equals_lifetimes(cdnow, freq, multiplier, end):
    """The whole 78 weeks (and other periods) as lifetimes' own summary_data_from_transaction_data."""
    from lifetimes.utils import summary_data_from_transaction_data

    tx, _ = cdnow
    want = summary_data_from_transaction_data(tx, "customer_id", "date", "value", observation_period_end=end,
                                              freq=freq, freq_multiplier=multiplier).sort_index()
    got = clv.summary_from_transactions(tx, "customer_id", "date", "value", observation_end=end, freq=freq,
                                        freq_multiplier=multiplier)
    pd.testing.assert_frame_equal(got, want, check_names=False, rtol=1e-12)


def test_summary_semantics_per_period():
    """Same-period purchases are one; the first period is not a repeat; later ones than the end are
    ignored; weeks are calendar weeks (Monday to Sunday)."""

    tx = pd.DataFrame({"c": ["a", "a", "a", "a", "b", "d"],
                       "ts": pd.to_datetime(["2026-01-05 08:00", "2026-01-05 20:00", "2026-01-07 00:00",
                                             "2026-01-20 09:00", "2026-01-06 09:00", "2026-01-30 09:00"], utc=True),
                       "v": [1.0, 2.0, 4.0, 100.0, 5.0, 1.0]})
    days = clv.summary_from_transactions(tx, "c", "ts", "v", observation_end="2026-01-10")
    assert list(days.index) == ["a", "b"]  # d is not born by the end
    assert days.loc["a"].to_dict() == {"frequency": 1.0, "recency": 2.0, "T": 5.0, "monetary_value": 4.0}
    assert days.loc["b"].to_dict() == {"frequency": 0.0, "recency": 0.0, "T": 4.0, "monetary_value": 0.0}
    weeks = clv.summary_from_transactions(tx, "c", "ts", "v", freq="W")  # end: the last transaction's week
    assert weeks.loc["a"].to_dict() == {"frequency": 1.0, "recency": 2.0, "T": 3.0, "monetary_value": 100.0}
    assert weeks.loc["d", "T"] == 0.0


def test_summary_born_at_install():
    """With a birth time every purchase period in [birth, end) is a repeat one, periods count from the
    birth, and customers without a purchase are kept."""

    birth = pd.Series(pd.to_datetime(["2026-09-01 10:00", "2026-09-01 23:30", "2026-09-02 00:00"], utc=True),
                      index=["a", "b", "c"])
    tx = pd.DataFrame({"c": ["a", "a", "a", "a", "b", "b"],
                       "ts": pd.to_datetime(["2026-09-01 10:20", "2026-09-01 10:40", "2026-09-02 12:10",
                                             "2026-09-04 10:00", "2026-09-01 20:00", "2026-09-02 00:10"], utc=True),
                       "v": [1.0, 2.0, 5.0, 100.0, 7.0, None]})
    s = clv.summary_from_transactions(tx, "c", "ts", "v", observation_end=birth + pd.Timedelta(days=3), freq="h",
                                      freq_multiplier=24, birth=birth)
    assert s.loc["a"].to_dict() == {"frequency": 2.0, "recency": pytest.approx(26 / 24), "T": 3.0,
                                    "monetary_value": 4.0}
    assert s.loc["b"].to_dict() == {"frequency": 1.0, "recency": 0.0, "T": 3.0, "monetary_value": 0.0}
    assert s.loc["c"].to_dict() == {"frequency": 0.0, "recency": 0.0, "T": 3.0, "monetary_value": 0.0}
