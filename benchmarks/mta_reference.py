"""Markov (orders 1-3) and Shapley channel totals against the reference libraries.

Run: `.venv/bin/python benchmarks/mta_reference.py` (options: --paths, --channels, --seed,
--nsim). On generated paths (repeats, lengths 1-12, converting and null paths, conversion
values) prints per channel our total (unmogrowp.mta, the functions the asset runs),
ChannelAttribution's `markov_model` (simulation: fixed seed, many simulations, no step cap)
and DP6's MAM 1.0 `attribution_markov` (order 1 only) / `attribution_shapley`, with the %
difference, plus the library defaults that made the totals look different.

Conventions checked here:
- ChannelAttribution: states = last k channels, repeats collapsed, removal effect estimated by
  simulating paths. Its defaults (nsim_start=1e5, conv_par=0.05, max_step = longest path in the
  data) carry a few % of simulation noise and count long simulated paths as null; without
  var_null it drops the non-converting paths.
- DP6 MAM 1.0: exact (matrix inverse), order 1. Its default conversion_value_as_frequency=True
  weights every transition by the path's conversion value, 0 for non-converting paths: the null
  state then gets nothing. We compare with conversion_value_as_frequency=False. Self-transitions
  (transition_to_same_state) change no total. Shapley: pass size=None (its default size=4 keeps
  the last 4 channels of the alphabetically sorted set); channel names must not contain each
  other (its coalition test is a substring test).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
import warnings

import numpy as np
import pandas as pd

from unmogrowp import mta

CHANNELS = ["facebook", "google", "tiktok", "unity", "applovin", "snap", "moloco", "mintegral"]


def make_paths(n: int = 4000, n_channels: int = 7, seed: int = 7) -> list[tuple[list[str], bool, float]]:
    """(channels, converted, value) per path: skewed channel popularity (small channels), sticky
    repeats, lengths 1-12, conversion odds rising with some channels and falling with others."""
    rng = np.random.default_rng(seed)
    names = CHANNELS[:n_channels]
    pop = 1.0 / np.arange(1, n_channels + 1) ** 1.2
    pop /= pop.sum()
    lift = rng.uniform(-0.6, 0.9, n_channels)
    paths = []
    for _ in range(n):
        length = min(int(rng.geometric(0.4)), 12)
        ch = [int(rng.choice(n_channels, p=pop))]
        while len(ch) < length:
            ch.append(ch[-1] if rng.random() < 0.3 else int(rng.choice(n_channels, p=pop)))
        z = -1.6 + 0.25 * len(set(ch)) + 0.6 * lift[list(set(ch))].sum()
        converted = bool(rng.random() < 1 / (1 + np.exp(-z)))
        paths.append(([names[c] for c in ch], converted, float(rng.gamma(2.0, 5.0)) if converted else 0.0))
    return paths


def aggregated(paths) -> pd.DataFrame:
    """ChannelAttribution's input: one row per distinct path with conversions, nulls and value."""
    df = pd.DataFrame({"path": [">".join(c) for c, _, _ in paths], "conv": [int(x) for _, x, _ in paths],
                       "null": [int(not x) for _, x, _ in paths], "value": [v for _, _, v in paths]})
    return df.groupby("path", as_index=False)[["conv", "null", "value"]].sum()


# -- ours -----------------------------------------------------------------------------------------
def ours_markov(paths, order: int) -> dict[str, tuple[float, float]]:
    """{channel: (conversions, value)}: count and value removal effects of the exact chain."""
    transitions, values = mta.markov_transitions([(c, int(x), int(not x), v) for c, x, v in paths], order)
    _, effects = mta.markov_removal_effects(transitions)
    _, value_effects = mta.markov_removal_effects(transitions, values)
    conv = mta.channel_totals(effects, sum(x for _, x, _ in paths))
    value = mta.channel_totals(value_effects, sum(v for _, _, v in paths))
    return {c: (conv[c], value[c]) for c in conv}


def ours_shapley(paths) -> dict[str, float]:
    """{channel: conversions} as the asset computes them (fit_app on the paths' channel sets)."""
    coalitions, sets = {}, {}
    for channels, converted, _value in paths:
        s = frozenset(channels)
        n, k = coalitions.get(s, (0, 0))
        coalitions[s] = (n + converted, k + 1)
        if converted:
            n, v = sets.get(s, (0, 0.0))
            sets[s] = (n + 1, v + 1.0)
    fit = mta.fit_app({}, coalitions, {"install": sets})
    return {c: t[1] for c, t in fit["shapley"]["install"]["totals"].items()}


# -- the libraries --------------------------------------------------------------------------------
def channel_attribution():
    with contextlib.redirect_stdout(io.StringIO()):  # it prints a banner on import
        import ChannelAttribution
    return ChannelAttribution


def dp6_mam():
    """DP6's MAM 1.0 class; it sets the matplotlib style 'seaborn-white' on import, which
    matplotlib ≥ 3.6 calls 'seaborn-v0_8-white'."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.style

    if "seaborn-white" not in matplotlib.style.library:
        matplotlib.style.library["seaborn-white"] = matplotlib.style.library["seaborn-v0_8-white"]
    from marketing_attribution_models import MAM

    return MAM


def ca_markov(paths, order: int, nsim: float = 2e7, seed: int = 1, defaults: bool = False,
              with_null: bool = True) -> dict[str, tuple[float, float]]:
    """ChannelAttribution.markov_model: {channel: (total_conversions, total_conversion_value)}.

    Its result is one fold's estimate (nsim / nfold simulated paths; 1e7 keeps a 2 % channel
    within ±0.3 %): one round (conv_par=1), two folds on two threads, no step cap, fixed seed.
    """
    ca = channel_attribution()
    options = {} if defaults else {"nsim_start": nsim, "max_step": 10_000, "conv_par": 1.0, "nfold": 2, "ncore": 2,
                                   "seed": seed}
    with contextlib.redirect_stdout(io.StringIO()):
        r = ca.markov_model(aggregated(paths), "path", "conv", var_value="value",
                            var_null="null" if with_null else None, order=order, verbose=False, flg_pro=False,
                            **options)
    return {c: (n, v) for c, n, v in zip(r.channel_name, r.total_conversions, r.total_conversion_value, strict=True)}


def _mam(paths):
    journeys = pd.DataFrame({"journey_id": range(len(paths)), "channels": [" > ".join(c) for c, _, _ in paths],
                             "converted": [x for _, x, _ in paths]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dp6_mam()(journeys, channels_colname="channels", journey_with_conv_colname="converted",
                         group_channels=False, group_channels_by_id_list=["journey_id"])


def dp6_markov(paths, with_null: bool = True, same_state: bool = False) -> dict[str, float]:
    """DP6 attribution_markov totals (group_by_channels_models); ``with_null=False`` is its default
    conversion_value_as_frequency=True, which gives the non-converting paths weight 0."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, frame, _, _ = _mam(paths).attribution_markov(transition_to_same_state=same_state,
                                                        conversion_value_as_frequency=not with_null)
    return dict(zip(frame["channels"], frame.iloc[:, 1], strict=True))


def dp6_shapley(paths) -> dict[str, float]:
    """DP6 attribution_shapley totals over whole channel sets (size=None, order=False)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, frame = _mam(paths).attribution_shapley(size=None)
    return {c: float(v) for c, v in frame.items()}


def pct(a: float, b: float) -> float:
    return 100.0 * (a / b - 1.0) if b else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--paths", type=int, default=4000)
    parser.add_argument("--channels", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--nsim", type=float, default=2e7, help="ChannelAttribution nsim_start")
    args = parser.parse_args()
    paths = make_paths(args.paths, args.channels, args.seed)
    conversions = sum(x for _, x, _ in paths)
    print(f"{len(paths)} paths, {conversions} converting, {args.channels} channels, "
          f"mean length {np.mean([len(c) for c, _, _ in paths]):.2f}, "
          f"{sum(len(c) != len(set(c)) for c, _, _ in paths)} with a repeated channel")
    worst = {}
    for order in (1, 2, 3):
        t = time.perf_counter()
        ours = ours_markov(paths, order)
        t_ours = time.perf_counter() - t
        t = time.perf_counter()
        ca = ca_markov(paths, order, nsim=args.nsim)
        t_ca = time.perf_counter() - t
        ca_def = ca_markov(paths, order, defaults=True)
        ca_no_null = ca_markov(paths, order, defaults=True, with_null=False)
        dp = dp6_markov(paths) if order == 1 else {}
        dp_def = dp6_markov(paths, with_null=False) if order == 1 else {}
        dp_same = dp6_markov(paths, same_state=True) if order == 1 else {}
        print(f"\nMarkov order {order} (ours {t_ours:.2f} s, ChannelAttribution {t_ca:.1f} s)")
        print(f"{'channel':10} {'ours':>9} {'CA':>9} {'Δ%':>7} {'DP6':>9} {'Δ%':>7} {'ours val':>10} {'CA val':>10} "
              f"{'Δ%':>7} | {'CA dflt':>8} {'Δ%':>6} {'no null':>8} {'Δ%':>6} {'DP6 dflt':>8} {'Δ%':>6} "
              f"{'old split':>9} {'Δ%':>6}")
        split = old_split(paths, order) if order == 1 else {}
        for c in sorted(ours):
            n, v = ours[c]
            cells = [f"{c:10} {n:9.2f} {ca[c][0]:9.2f} {pct(n, ca[c][0]):+7.2f}"]
            cells.append(f"{dp[c]:9.2f} {pct(n, dp[c]):+7.2f}" if dp else f"{'-':>9} {'-':>7}")
            cells.append(f"{v:10.1f} {ca[c][1]:10.1f} {pct(v, ca[c][1]):+7.2f} |")
            cells.append(f"{ca_def[c][0]:8.2f} {pct(ca_def[c][0], n):+6.1f} {ca_no_null[c][0]:8.2f} "
                         f"{pct(ca_no_null[c][0], n):+6.1f}")
            cells.append(f"{dp_def[c]:8.2f} {pct(dp_def[c], n):+6.1f} {split[c]:9.2f} {pct(split[c], n):+6.1f}"
                         if dp else "")
            print(" ".join(cells))
            worst[f"markov{order}"] = max(worst.get(f"markov{order}", 0), abs(pct(n, ca[c][0])), abs(pct(v, ca[c][1])),
                                          abs(pct(n, dp[c])) if dp else 0)
        if dp_same:
            print(f"DP6 transition_to_same_state=True vs False: max |Δ| "
                  f"{max(abs(pct(dp_same[c], dp[c])) for c in dp):.2e} %")
    t = time.perf_counter()
    ours = ours_shapley(paths)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    dp = dp6_shapley(paths)
    t_dp = time.perf_counter() - t
    print(f"\nShapley over channel sets (ours {t_ours:.2f} s, DP6 {t_dp:.1f} s; ChannelAttribution has none)")
    print(f"{'channel':10} {'ours':>9} {'DP6':>9} {'Δ%':>8}")
    for c in sorted(ours):
        print(f"{c:10} {ours[c]:9.3f} {dp[c]:9.3f} {pct(ours[c], dp[c]):+8.4f}")
    worst["shapley"] = max(abs(pct(ours[c], dp[c])) for c in ours)
    print("\nworst |Δ| % vs the references: " + ", ".join(f"{k} {v:.3f}" for k, v in worst.items()))
    print("After |: Δ% against ours. CA dflt: ChannelAttribution's defaults (nsim_start=1e5, conv_par=0.05, "
          "max_step = longest path); no null: the same without var_null (its first documented call); DP6 dflt: "
          "conversion_value_as_frequency=True (null paths weigh 0); old split: the previous per-touch rule (each "
          "conversion split over its own path's channels by removal effect), summed per channel")


def old_split(paths, order: int) -> dict[str, float]:
    """The previous per-touch rule: each conversion split over its own path's channels by their
    removal effects (a channel's share shared by its touches); its channel sums."""
    transitions, _ = mta.markov_transitions([(c, int(x), int(not x)) for c, x, _ in paths], order)
    _, effects = mta.markov_removal_effects(transitions)
    out = dict.fromkeys(effects, 0.0)
    for channels, converted, _ in paths:
        if converted:
            raw = [effects[c] / channels.count(c) for c in channels]
            for c, r in zip(channels, raw, strict=True):
                out[c] += r / sum(raw)
    return out


if __name__ == "__main__":
    main()
