"""BG/NBD (repeat purchases) and Gamma-Gamma (spend) by maximum likelihood with SciPy.

Fader, Hardie & Lee (2005), "Counting your customers the easy way"; Fader & Hardie (2013), "The
Gamma-Gamma model of monetary value". Inputs per customer: x repeat purchases, t_x the time of the
last one, T the age (all in the same unit), and the mean value of the repeat purchases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float

    def expected_purchases(self, t, x, t_x, T):
        """E[purchases in (T, T + t] | x, t_x, T]."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x, t_x, T = (np.asarray(v, float) for v in (x, t_x, T))
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        num = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        den = 1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)
        return num / den


def bgnbd_log_likelihood(params, x, t_x, T) -> np.ndarray:
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + t_x),
                      -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def fit_bgnbd(x, t_x, T) -> BgNbd:
    x, t_x, T = (np.asarray(v, float) for v in (x, t_x, T))
    scale = max(float(T.max()), 1e-9)  # fit on a unit scale for a well-conditioned alpha
    # customers with the same (x, t_x, T) once, weighted: app installs share a few such triples
    triples, n = np.unique(np.column_stack([x, t_x / scale, T / scale]), axis=0, return_counts=True)
    x, t_x, T = triples.T
    neg = lambda p: -np.sum(n * bgnbd_log_likelihood(np.exp(p), x, t_x, T))  # noqa: E731
    res = minimize(neg, np.log([1.0, 1.0, 1.0, 1.0]), method="Nelder-Mead",
                   options={"maxiter": 20_000, "xatol": 1e-7, "fatol": 1e-9})
    r, alpha, a, b = np.exp(res.x)
    return BgNbd(r, alpha * scale, a, b)


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float

    def expected_value(self, x, m):
        """E[value of a purchase | x repeat purchases with mean m] (population mean where x = 0)."""
        x, m = np.asarray(x, float), np.asarray(m, float)
        population = self.p * self.v / (self.q - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            cond = (self.v + x * m) * self.p / (self.p * x + self.q - 1)
        return np.where(x > 0, cond, population)


def gamma_gamma_log_likelihood(params, x, m) -> np.ndarray:
    p, q, v = params
    return (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v) + (p * x - 1) * np.log(m)
            + p * x * np.log(x) - (p * x + q) * np.log(x * m + v))


def fit_gamma_gamma(x, m) -> GammaGamma:
    x, m = np.asarray(x, float), np.asarray(m, float)
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]
    neg = lambda p: -np.sum(gamma_gamma_log_likelihood(np.exp(p), x, m))  # noqa: E731
    res = minimize(neg, np.log([1.0, 1.0, max(float(m.mean()), 1e-3)]), method="Nelder-Mead",
                   options={"maxiter": 20_000, "xatol": 1e-7, "fatol": 1e-9})
    return GammaGamma(*np.exp(res.x))


PERIODS = {"h": pd.Timedelta(hours=1), "D": pd.Timedelta(days=1), "W": pd.Timedelta(weeks=1)}


def _utc_naive(ts):
    if isinstance(ts, pd.Series):
        return pd.to_datetime(ts, utc=True).dt.tz_localize(None)
    return pd.Timestamp(ts).tz_localize(None) if pd.Timestamp(ts).tz is None else \
        pd.Timestamp(ts).tz_convert("UTC").tz_localize(None)


def _align(frame: pd.DataFrame, keys: list[str], value) -> pd.Series:
    """A time, or a Series of times indexed by customer, per row of ``frame`` (UTC, naive)."""
    if not isinstance(value, pd.Series):
        return pd.Series(_utc_naive(value), index=frame.index)
    return frame.join(_utc_naive(value).rename("_t").rename_axis(keys), on=keys)["_t"]


def summary_from_transactions(transactions: pd.DataFrame, customer: str | list[str], time: str,
                              value: str | None = None, observation_end=None, freq: str = "D",
                              freq_multiplier: float = 1.0, birth: pd.Series | None = None) -> pd.DataFrame:
    """Per customer ``frequency``, ``recency``, ``T`` (and ``monetary_value`` given ``value``) in
    units of ``freq_multiplier`` periods, as ``lifetimes.utils.summary_data_from_transaction_data``:
    values summed per calendar period (``freq`` "h", "D" or "W", UTC) up to the period of
    ``observation_end`` (default: the last transaction; may be a Series by customer); frequency =
    periods after the first, recency = last − first period, T = end − first period, monetary = mean
    total of the repeat periods (0 if none).

    With ``birth`` (times by customer, e.g. installs) customers are born then without a purchase:
    periods are elapsed from birth (SPEC §5), only [birth, observation_end) counts, every purchase
    period is a repeat one (recency = last − birth, T = end − birth), and customers without any are
    kept with zeros."""
    keys = [customer] if isinstance(customer, str) else list(customer)
    step, unit = PERIODS[freq], PERIODS[freq] * freq_multiplier
    tx = transactions[keys].reset_index(drop=True)
    tx["ts"] = _utc_naive(transactions[time].reset_index(drop=True))
    tx["v"] = transactions[value].astype(float).fillna(0.0).to_numpy() if value else 0.0
    end = tx["ts"].max() if observation_end is None else observation_end
    if birth is None:
        tx["period"] = tx["ts"].dt.to_period(freq).dt.start_time
        tx["end"] = _align(tx, keys, end).dt.to_period(freq).dt.start_time
        tx = tx[tx["period"] <= tx["end"]]
    else:
        tx["origin"], tx["end"] = _align(tx, keys, birth), _align(tx, keys, end)
        tx = tx[(tx["ts"] >= tx["origin"]) & (tx["ts"] < tx["end"])]
        tx = tx.assign(period=tx["origin"] + (tx["ts"] - tx["origin"]) // step * step)
    per = tx.groupby([*keys, "period"], sort=True, observed=True).agg(
        v=("v", "sum"), end=("end", "first"), **({} if birth is None else {"origin": ("origin", "first")}))
    per = per.reset_index()
    if birth is None:
        per["origin"] = per.groupby(keys, observed=True)["period"].transform("min")
    per["repeat"] = per["period"] > per["origin"] if birth is None else True
    g = per.groupby(keys, sort=True, observed=True)
    origin = g["origin"].first()
    out = pd.DataFrame({"frequency": g["repeat"].sum().astype(float), "recency": (g["period"].max() - origin) / unit,
                        "T": (g["end"].first() - origin) / unit})
    if value:
        out["monetary_value"] = per[per["repeat"]].groupby(keys, observed=True)["v"].mean()
        out["monetary_value"] = out["monetary_value"].reindex(out.index).fillna(0.0)
    if birth is not None:  # everyone born by the end, purchasers or not
        born = _utc_naive(birth).rename("origin").rename_axis(keys).to_frame()
        born["T"] = (_align(born.index.to_frame(index=False), keys, end).to_numpy() - born["origin"]) / unit
        born = born[born["T"] >= 0]
        out = out.reindex(born.index).fillna(0.0)
        out["T"] = born["T"]
    return out.astype(float)
