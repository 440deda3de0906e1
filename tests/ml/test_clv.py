"""BG/NBD and Gamma-Gamma recover known parameters (the published CDNOW fits) from simulated data."""

import numpy as np
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
    for got, want in zip((fit.r, fit.alpha, fit.a, fit.b), CDNOW_BGNBD):
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
    for got, want in zip((fit.p, fit.q, fit.v), CDNOW_GG):
        assert got == pytest.approx(want, rel=0.15)
    assert fit.expected_value(np.array([0.0]), np.array([0.0]))[0] == pytest.approx(fit.p * fit.v / (fit.q - 1))
