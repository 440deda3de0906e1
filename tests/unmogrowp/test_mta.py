"""SPEC §4 data-driven models: the vectors, IPF, ChannelAttribution and DP6 on the same paths, and
the ClickHouse path the asset runs."""

import functools
import importlib.util
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from assets import mta as mta_assets
from assets.partitions import with_start
from assets.resources import ClickHouseResource
from unmogrowp.mta import (
    CONVERSION,
    NULL,
    START,
    build_algorithmic_credits,
    channel_totals,
    fit_app,
    ipf_shares,
    markov_removal_effects,
    markov_states,
    markov_transitions,
    shapley_shares,
    shapley_values,
)

_spec = importlib.util.spec_from_file_location(
    "mta_reference", Path(__file__).resolve().parents[2] / "benchmarks" / "mta_reference.py")
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)

SPEC_PATHS = [(["C1", "C2", "C3"], 1, 0), (["C1"], 0, 1), (["C2", "C3"], 0, 1)]


def _sets(paths):
    coalitions, sets = {}, {}
    for channels, conversions, nulls in paths:
        s = frozenset(channels)
        n, k = coalitions.get(s, (0, 0))
        coalitions[s] = (n + conversions, k + conversions + nulls)
        if conversions:
            n, v = sets.get(s, (0, 0.0))
            sets[s] = (n + conversions, v + conversions)
    return coalitions, sets


@pytest.fixture(scope="module")
def reference_paths():
    return ref.make_paths(n=3000, n_channels=6, seed=3)


# -- Markov ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("order", "expected"), [(1, {"C1": 0.2, "C2": 0.4, "C3": 0.4}),
                                                  (2, {"C1": 0.2, "C2": 0.4, "C3": 0.4}),
                                                  (3, {"C1": 1 / 3, "C2": 1 / 3, "C3": 1 / 3})])
def test_markov_spec_vector(order, expected):
    # order 3 keeps C1>C2>C3 as one state, whose removal any channel's removal implies
    transitions, _ = markov_transitions(SPEC_PATHS, order)
    p, effects = markov_removal_effects(transitions)
    assert p == pytest.approx(1 / 3)
    total = sum(effects.values())
    assert {c: e / total for c, e in effects.items()} == pytest.approx(expected)
    coalitions, sets = _sets(SPEC_PATHS)
    markov = fit_app(transitions, coalitions, {"install": sets})["markov"]["install"]
    assert {c: t[1] for c, t in markov["totals"].items()} == pytest.approx(expected)
    b = markov["weights"]
    assert {c: w / sum(b.values()) for c, w in b.items()} == pytest.approx(expected)  # the one conversion's credit
    assert markov["gap"] < 1e-9


def test_markov_single_channel_gets_everything():
    transitions, _ = markov_transitions([(["A"], 1, 1)])
    p, effects = markov_removal_effects(transitions)
    assert p == pytest.approx(0.5)
    assert effects == pytest.approx({"A": 1.0})


def test_markov_states_are_channelattributions():
    assert markov_states(["A", "A", "B", "C"], 1) == [("A",), ("B",), ("C",)]
    assert markov_states(["A", "A", "B", "C"], 2) == [("A", "A"), ("A", "B"), ("B", "C")]
    assert markov_states(["A", "A", "A", "B"], 2) == [("A", "A"), ("A", "B")]  # repeated state collapsed
    assert markov_states(["A", "B"], 3) == [("A", "B")]  # shorter than k: the whole path
    assert markov_states(["A", "B", "C", "D"], 3) == [("A", "B", "C"), ("B", "C", "D")]


def test_self_transitions_change_no_removal_effect():
    with_repeats = [(["A", "A", "B"], 1, 0), (["B", "B", "B"], 0, 2), (["A", "C", "C"], 1, 1), (["C"], 0, 1)]
    counts = {}
    for channels, conversions, nulls in with_repeats:  # order-1 counts that keep A -> A
        states = [START, *channels]
        for pair in zip(states, states[1:], strict=False):
            counts[pair] = counts.get(pair, 0) + conversions + nulls
        for end, n in ((CONVERSION, conversions), (NULL, nulls)):
            if n:
                counts[(channels[-1], end)] = counts.get((channels[-1], end), 0) + n
    assert counts[("A", "A")] and counts[("B", "B")]
    kept = markov_removal_effects(counts)
    collapsed = markov_removal_effects(markov_transitions(with_repeats)[0])
    assert kept[0] == pytest.approx(collapsed[0])
    assert kept[1] == pytest.approx(collapsed[1])


def test_order_two_removes_every_state_with_the_channel():
    # B only ever sits in the middle: removing it removes (A, B) and (B, C) alike
    transitions, _ = markov_transitions([(["A", "B", "C"], 1, 0), (["A", "C"], 0, 1)], order=2)
    p, effects = markov_removal_effects(transitions)
    assert p == pytest.approx(0.5)
    assert effects == pytest.approx({"A": 1.0, "B": 1.0, "C": 1.0})


# -- Shapley --------------------------------------------------------------------------------------
def test_shapley_spec_vector():
    v = {frozenset("A"): 0.10, frozenset("B"): 0.05, frozenset("AB"): 0.20}
    assert shapley_values(v, "AB") == pytest.approx({"A": 0.125, "B": 0.075})
    assert shapley_shares(v, "AB") == pytest.approx({"A": 0.625, "B": 0.375})


def test_shapley_shares_keep_negative_worth_unless_clipped():
    v = {frozenset("A"): 0.30, frozenset("B"): 0.01, frozenset("AB"): 0.20}
    shares = shapley_shares(v, "AB")
    assert shares["B"] < 0 and sum(shares.values()) == pytest.approx(1.0)  # DP6's standard value
    clipped = shapley_shares(v, "AB", clip=True)
    assert clipped["B"] == 0.0 and clipped["A"] == pytest.approx(1.0)


def test_shapley_negative_worth_is_disaggregated_without_negative_credit():
    paths = [(list("A"), 30, 70), (list("B"), 1, 99), (list("AB"), 20, 80), (list("AC"), 30, 10), (list("BC"), 10, 10)]
    coalitions, sets = _sets(paths)
    shapley = fit_app({}, coalitions, {"install": sets})["shapley"]["install"]
    assert any(s < 0 for s in shapley_shares({k: n / m for k, (n, m) in coalitions.items()}, "AB").values())
    assert shapley["gap"] < 1e-8  # the standard totals, reached with shares in [0, 1]
    assert all(0 <= y <= 1 for ys in shapley["weights"].values() for y in ys.values())


# -- IPF ------------------------------------------------------------------------------------------
def test_ipf_meets_both_margins():
    sets = {frozenset("AB"): 10.0, frozenset("BC"): 5.0, frozenset("ABC"): 5.0, frozenset("A"): 2.0}
    targets = {"A": 9.0, "B": 8.0, "C": 5.0}
    shares, b, gap = ipf_shares(sets, targets)
    assert gap < 1e-9
    for s, y in shares.items():
        assert sum(y.values()) == pytest.approx(1.0)
        assert y == pytest.approx({c: b[c] / sum(b[k] for k in s) for c in s})  # a split by channel weights
    for c, t in targets.items():
        assert sum(sets[s] * y.get(c, 0.0) for s, y in shares.items()) == pytest.approx(t)


def test_ipf_reports_inconsistent_margins():
    # A's single-channel conversions (6) exceed its total (4): no table fits, rows still sum to 1
    shares, _b, gap = ipf_shares({frozenset("A"): 6.0, frozenset("AB"): 4.0}, {"A": 4.0, "B": 6.0})
    assert gap == pytest.approx(0.4, abs=1e-3)
    assert all(sum(y.values()) == pytest.approx(1.0) for y in shares.values())


def test_channel_totals():
    assert channel_totals({"A": 0.5, "B": 1.5}, 10) == pytest.approx({"A": 2.5, "B": 7.5})
    assert channel_totals({"A": 0.0}, 10) == {"A": 0.0}


@pytest.mark.parametrize("order", [1, 2, 3])
def test_disaggregation_sums_to_values_and_totals(reference_paths, order):
    paths = [(c, int(x), int(not x)) for c, x, _ in reference_paths]
    coalitions, sets = _sets(paths)
    fit = fit_app(markov_transitions(paths, order)[0], coalitions, {"install": sets})
    for model in ("markov", "shapley"):
        part = fit[model]["install"]
        assert part["gap"] < 1e-8, model
        weights = part["weights"]
        shares = ({s: {c: weights[c] / sum(weights[k] for k in s) for c in s} for s in sets}
                  if model == "markov" else weights)
        for s in sets:
            assert sum(shares[s].values()) == pytest.approx(1.0)
        for c, (_effect, conversions, _value) in part["totals"].items():
            assert sum(n * shares[s].get(c, 0.0) for s, (n, _v) in sets.items()) == pytest.approx(conversions, rel=1e-8)


# -- the reference libraries ---------------------------------------------------------------------
@pytest.mark.slow  # about 10 s each: 2e7 simulated paths
@pytest.mark.parametrize("order", [1, 2, 3])
def test_markov_totals_match_channelattribution(reference_paths, order):
    ours = ref.ours_markov(reference_paths, order)
    theirs = ref.ca_markov(reference_paths, order, seed=5)
    assert set(ours) == set(theirs)
    for c, (n, v) in ours.items():
        assert n == pytest.approx(theirs[c][0], rel=0.01), c
        assert v == pytest.approx(theirs[c][1], rel=0.01), c


def test_markov_totals_match_dp6(reference_paths):
    ours = ref.ours_markov(reference_paths, 1)
    theirs = ref.dp6_markov(reference_paths)
    assert {c: n for c, (n, _v) in ours.items()} == pytest.approx(theirs, rel=1e-9)
    # its default (conversion_value_as_frequency) weights null paths by their value 0: no null state
    assert ref.dp6_markov(reference_paths, with_null=False) != pytest.approx(theirs, rel=0.01)


def test_shapley_totals_match_dp6(reference_paths):
    assert ref.ours_shapley(reference_paths) == pytest.approx(ref.dp6_shapley(reference_paths), rel=1e-9)


# -- ClickHouse -----------------------------------------------------------------------------------
SRC, DB = "mta_test_paths", "mta_test"
DAY = date(2025, 3, 1)


def _load_paths(ch, reference_paths):
    ch.command(f"DROP DATABASE IF EXISTS {SRC}")
    ch.command(f"DROP DATABASE IF EXISTS {DB}")
    ch.command(f"CREATE DATABASE {SRC}")
    ch.command(f"""CREATE TABLE {SRC}.mta_conversion_paths (
        conversion_id String, conversion_type String, install_id String, app_id String, install_date Date,
        conversion_ts DateTime64(3, 'UTC'), conversion_value Float64,
        path Array(Tuple(touch_id String, touch_ts DateTime64(3, 'UTC'), media_source String, campaign_id String))
    ) ENGINE = MergeTree ORDER BY conversion_id""")
    ch.command(f"""CREATE TABLE {SRC}.mta_nonconverting_paths (
        app_id String, device_key String, last_touch_date Date, channels Array(String), campaigns Array(String)
    ) ENGINE = MergeTree ORDER BY device_key""")
    t0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
    conversions, nulls = [], []
    apps = [("app", reference_paths), ("spec", [(c, bool(n), 0.0) for c, n, _ in SPEC_PATHS])]
    for app, paths in apps:
        for i, (channels, converted, value) in enumerate(paths):
            if not converted:
                nulls.append((app, f"{app}-d{i}", DAY, channels, [""] * len(channels)))
                continue
            touches = [(f"{app}-{i}-{j}", t0 - timedelta(hours=len(channels) - j), c, "")
                       for j, c in enumerate(channels)]
            conversions.append((f"{app}-i{i}", "install", f"{app}-i{i}", app, DAY, t0, 1.0, touches))
            if app == "app" and i % 3 == 0:  # an in-app event of the same install, valued
                conversions.append((f"{app}-p{i}", "purchase", f"{app}-i{i}", app, DAY, t0, value, touches))
    ch.insert(f"{SRC}.mta_conversion_paths", conversions,
              column_names=["conversion_id", "conversion_type", "install_id", "app_id", "install_date",
                            "conversion_ts", "conversion_value", "path"])
    ch.insert(f"{SRC}.mta_nonconverting_paths", nulls,
              column_names=["app_id", "device_key", "last_touch_date", "channels", "campaigns"])


def test_clickhouse_credits_are_the_standard_totals(ch, clickhouse_server, reference_paths, monkeypatch):
    _load_paths(ch, reference_paths)
    try:
        for order in (1, 2, 3):
            result = build_algorithmic_credits(ch, DAY, DAY, order=order, paths_db=SRC, db=DB)
            summary = result["apps"]
            assert result["markov_order"] == order
            assert result["rows"] == 2 * ch.command(f"SELECT sum(length(path)) FROM {SRC}.mta_conversion_paths")
            assert all(g < 1e-8 for app in summary.values() for g in app["ipf_gap"].values()), summary
            # every conversion credited by both models, credits summing to its value, in [0, 1]
            worst = ch.query(f"""SELECT model, count(), max(abs(credited - value)), min(lo), max(hi) FROM (
                                     SELECT model, conversion_id, sum(credited_value) AS credited,
                                            any(conversion_value) AS value, min(credit) AS lo, max(credit) AS hi
                                     FROM {DB}.algorithmic_credits GROUP BY model, conversion_id)
                                 GROUP BY model ORDER BY model""").result_rows
            n_conversions = ch.command(f"SELECT count() FROM {SRC}.mta_conversion_paths")
            assert [(m, n) for m, n, *_ in worst] == [("markov", n_conversions), ("shapley", n_conversions)]
            assert all(w < 1e-9 and lo >= 0 and hi <= 1 + 1e-12 for _m, _n, w, lo, hi in worst)
            # channel sums of the credits = the totals table = the libraries' definition on these paths
            credited = {(m, t, c): (n, v) for m, t, c, n, v in ch.query(f"""
                SELECT model, conversion_type, media_source, sum(credit), sum(credited_value)
                FROM {DB}.algorithmic_credits WHERE app_id = 'app' GROUP BY ALL""").result_rows}
            totals = {(m, t, c): (k, n, v) for m, k, t, c, n, v in ch.query(f"""
                SELECT model, markov_order, conversion_type, media_source, conversions, conversion_value
                FROM {DB}.channel_totals WHERE app_id = 'app'""").result_rows}
            assert {k for k, _, _ in totals.values() if k} == {order}
            for key, (_k, _n, v) in totals.items():
                assert credited[key][1] == pytest.approx(v, rel=1e-7, abs=1e-9), key
            ours = ref.ours_markov(reference_paths, order)
            for c, (n, _v) in ours.items():
                assert credited[("markov", "install", c)][0] == pytest.approx(n, rel=1e-7), c
            for c, n in ref.ours_shapley(reference_paths).items():
                assert credited[("shapley", "install", c)][0] == pytest.approx(n, rel=1e-7), c
            if order == 1:
                spec = dict(ch.query(f"SELECT media_source, sum(credit) FROM {DB}.algorithmic_credits "
                                     "WHERE app_id = 'spec' AND model = 'markov' GROUP BY ALL").result_rows)
                assert spec == pytest.approx({"C1": 0.2, "C2": 0.4, "C3": 0.4})
                assert summary["spec"]["conversion_probability"] == pytest.approx(1 / 3, abs=1e-6)
        # the asset: the order is its config (default 1), recorded in its metadata
        monkeypatch.setattr(mta_assets, "build_algorithmic_credits",
                            functools.partial(build_algorithmic_credits, paths_db=SRC, db=DB))
        asset, = with_start([mta_assets.mta_algorithmic_credits], "2025-01-01")
        assert asset.op.config_schema.as_field().default_value == {"markov_order": 1}
        resource = ClickHouseResource(host=clickhouse_server.host, port=clickhouse_server.port)
        run = dg.materialize([asset], partition_key=DAY.isoformat(), resources={"clickhouse": resource},
                             run_config={"ops": {"mta_algorithmic_credits": {"config": {"markov_order": 2}}}})
        metadata = run.asset_materializations_for_node("mta_algorithmic_credits")[0].metadata
        assert metadata["markov_order"].value == 2 and metadata["max_ipf_gap"].value < 1e-8
        assert metadata["rows"].value == result["rows"]
        assert ch.command(f"SELECT DISTINCT markov_order FROM {DB}.channel_totals WHERE model = 'markov'") == 2
        assert not dg.materialize([asset], partition_key=DAY.isoformat(), resources={"clickhouse": resource},
                                  run_config={"ops": {"mta_algorithmic_credits": {"config": {"markov_order": 4}}}},
                                  raise_on_error=False).success  # orders 1-3 only
    finally:
        ch.command(f"DROP DATABASE IF EXISTS {SRC}")
        ch.command(f"DROP DATABASE IF EXISTS {DB}")
