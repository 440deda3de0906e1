"""SPEC §4 vectors for the data-driven models."""

import pytest

from unmogrowp.mta import CONVERSION, NULL, START, markov_removal_effects, shapley_shares, shapley_values


def _transitions(paths):
    counts = {}
    for channels, converted in paths:
        states = [START, *channels, CONVERSION if converted else NULL]
        for pair in zip(states, states[1:]):
            counts[pair] = counts.get(pair, 0) + 1
    return counts


def test_markov_spec_vector():
    p, effects = markov_removal_effects(_transitions([(["C1", "C2", "C3"], True), (["C1"], False),
                                                      (["C2", "C3"], False)]))
    assert p == pytest.approx(1 / 3)
    total = sum(effects.values())
    shares = {c: e / total for c, e in effects.items()}
    assert shares == pytest.approx({"C1": 0.2, "C2": 0.4, "C3": 0.4})


def test_markov_single_channel_gets_everything():
    p, effects = markov_removal_effects(_transitions([(["A"], True), (["A"], False)]))
    assert p == pytest.approx(0.5)
    assert effects == pytest.approx({"A": 1.0})


def test_shapley_spec_vector():
    v = {frozenset("A"): 0.10, frozenset("B"): 0.05, frozenset("AB"): 0.20}
    assert shapley_values(v, "AB") == pytest.approx({"A": 0.125, "B": 0.075})
    assert shapley_shares(v, "AB") == pytest.approx({"A": 0.625, "B": 0.375})


def test_shapley_clips_negative_marginal_worth():
    v = {frozenset("A"): 0.30, frozenset("B"): 0.01, frozenset("AB"): 0.20}
    shares = shapley_shares(v, "AB")
    assert shares["B"] == 0.0 and shares["A"] == pytest.approx(1.0)
