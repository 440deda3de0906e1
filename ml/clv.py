"""BG/NBD (repeat purchases) and Gamma-Gamma (spend) by maximum likelihood with SciPy.

Fader, Hardie & Lee (2005), "Counting your customers the easy way"; Fader & Hardie (2013), "The
Gamma-Gamma model of monetary value". Inputs per customer: x repeat purchases, t_x the time of the
last one, T the age (all in the same unit), and the mean value of the repeat purchases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
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
    neg = lambda p: -np.sum(bgnbd_log_likelihood(np.exp(p), x, t_x / scale, T / scale))  # noqa: E731
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
