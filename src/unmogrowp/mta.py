"""Data-driven multi-touch credit (SPEC §4): Markov order 1 (removal effect) and Shapley values.

The aggregates are built in ClickHouse (transition counts, conversion rate per channel set) and
the small linear algebra runs here; per-touch credits are written back with one INSERT ... SELECT,
so no Python runs per conversion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from itertools import combinations
from math import factorial

import numpy as np

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
CREDITS_TABLE = "mta.algorithmic_credits"
WEIGHTS_TABLE = "mta.channel_weights"


def markov_removal_effects(transitions: Mapping[tuple[str, str], float]) -> tuple[float, dict[str, float]]:
    """P(conversion) from (start) and each channel's removal effect 1 − P_without(c) / P.

    ``transitions`` counts moves between states; the absorbing states are (conversion) and (null).
    Removing a channel sends every path reaching it to (null).
    """
    channels = sorted(({s for s, _ in transitions} | {d for _, d in transitions}) - {START, CONVERSION, NULL})
    states = [START, *channels]
    index = {s: i for i, s in enumerate(states)}
    q = np.zeros((len(states), len(states)))
    r = np.zeros(len(states))  # probability of moving to (conversion)
    totals = np.zeros(len(states))
    for (src, dst), n in transitions.items():
        totals[index[src]] += n
    for (src, dst), n in transitions.items():
        i = index[src]
        if dst == CONVERSION:
            r[i] += n / totals[i]
        elif dst != NULL:
            q[i, index[dst]] += n / totals[i]

    def p_conversion(removed: int | None = None) -> float:
        qq, rr = q.copy(), r.copy()
        if removed is not None:
            qq[removed, :], qq[:, removed], rr[removed] = 0.0, 0.0, 0.0
        return float(np.linalg.solve(np.eye(len(states)) - qq, rr)[0])

    base = p_conversion()
    effects = {c: (1.0 - p_conversion(index[c]) / base) if base > 0 else 0.0 for c in channels}
    return base, effects


def shapley_values(value: Mapping[frozenset, float], players: Iterable[str]) -> dict[str, float]:
    """Exact Shapley values of the game restricted to ``players`` (unseen coalitions are worth 0)."""
    players = sorted(players)
    n = len(players)
    out = {}
    for p in players:
        others = [q for q in players if q != p]
        phi = 0.0
        for k in range(n):
            weight = factorial(k) * factorial(n - k - 1) / factorial(n)
            for coalition in combinations(others, k):
                s = frozenset(coalition)
                phi += weight * (value.get(s | {p}, 0.0) - value.get(s, 0.0))
        out[p] = phi
    return out


def shapley_shares(value: Mapping[frozenset, float], players: Iterable[str]) -> dict[str, float]:
    """Each player's share of the coalition's value; negative marginal worth is clipped at 0 (a
    channel never gets negative credit) and the shares renormalised; all-zero gives equal shares."""
    phi = {p: max(v, 0.0) for p, v in shapley_values(value, players).items()}
    total = sum(phi.values())
    return {p: (v / total if total > 0 else 1.0 / len(phi)) for p, v in phi.items()}


# -- ClickHouse ----------------------------------------------------------------------------------
_PATHS_SQL = """
    SELECT app_id, arrayMap(t -> t.media_source, path) AS channels, 1 AS converted
    FROM marts.mta_conversion_paths
    WHERE conversion_type = 'install' AND install_date >= {start:Date} AND install_date <= {end:Date}
    UNION ALL
    SELECT app_id, channels, 0 AS converted
    FROM marts.mta_nonconverting_paths
    WHERE last_touch_date >= {start:Date} AND last_touch_date <= {end:Date}
"""

_TRANSITIONS_SQL = f"""
    SELECT app_id, pair.1 AS src, pair.2 AS dst, count() AS n
    FROM ({_PATHS_SQL})
    ARRAY JOIN arrayZip(arrayPushFront(channels, '{START}'),
                        arrayPushBack(channels, if(converted = 1, '{CONVERSION}', '{NULL}'))) AS pair
    GROUP BY app_id, src, dst
"""

_CHANNEL_SETS_SQL = f"""
    SELECT app_id, arraySort(arrayDistinct(channels)) AS channel_set, sum(converted) AS conversions, count() AS paths
    FROM ({_PATHS_SQL})
    GROUP BY app_id, channel_set
"""

_DDL = (
    "CREATE DATABASE IF NOT EXISTS mta",
    f"""CREATE TABLE IF NOT EXISTS {WEIGHTS_TABLE} (
        app_id LowCardinality(String), window_start Date, window_end Date, model LowCardinality(String),
        channel_set Array(String), media_source String, weight Float64
    ) ENGINE = MergeTree ORDER BY (app_id, window_start, model)
    COMMENT 'Markov removal effects (channel_set empty) and Shapley shares per channel set, per window'""",
    f"""CREATE TABLE IF NOT EXISTS {CREDITS_TABLE} (
        conversion_id String, conversion_type LowCardinality(String), app_id LowCardinality(String),
        install_date Date, conversion_ts DateTime64(3, 'UTC'), conversion_value Float64, position UInt16,
        touch_id String, touch_ts DateTime64(3, 'UTC'), media_source String, campaign_id String,
        model LowCardinality(String), credit Float64, credited_value Float64
    ) ENGINE = MergeTree PARTITION BY toYYYYMM(install_date) ORDER BY (app_id, install_date, conversion_id, model)
    COMMENT 'Data-driven multi-touch credit (Markov, Shapley) per conversion and touch'""",
)

# Each touch gets its channel's share of the conversion, split evenly over the channel's touches
# in the path; a path whose channels all have zero weight is split linearly.
_CREDITS_SQL = f"""
    INSERT INTO {CREDITS_TABLE}
    SELECT conversion_id, conversion_type, app_id, install_date, conversion_ts, conversion_value,
           toUInt16(position), t.touch_id, t.touch_ts, t.media_source, t.campaign_id, model,
           credit, credit * conversion_value
    FROM (
        SELECT p.*, w.model AS model,
               arrayMap(x -> x.media_source, p.path) AS ch,
               arrayMap(c -> w.weights[indexOf(w.channels, c)] / countEqual(ch, c), ch) AS raw,
               if(arraySum(raw) > 0, arrayMap(x -> x / arraySum(raw), raw),
                  arrayMap(x -> 1.0 / length(ch), ch)) AS credits
        FROM marts.mta_conversion_paths AS p
        INNER JOIN (
            SELECT app_id, model, if(model = 'markov', [], channel_set) AS set_key,
                   groupArray(media_source) AS channels, groupArray(weight) AS weights
            FROM {WEIGHTS_TABLE}
            WHERE window_start = {{start:Date}} AND window_end = {{end:Date}}
            GROUP BY app_id, model, set_key
        ) AS w ON w.app_id = p.app_id
              AND w.set_key = if(w.model = 'markov', [], arraySort(arrayDistinct(arrayMap(x -> x.media_source, p.path))))
        WHERE p.install_date >= {{start:Date}} AND p.install_date <= {{end:Date}}
    )
    ARRAY JOIN arrayEnumerate(path) AS position, path AS t, credits AS credit
"""


def build_algorithmic_credits(client, start: date, end: date) -> dict:
    """Fit Markov and Shapley on the paths of install dates [start, end] (inclusive), per app,
    and replace that window's rows of ``mta.algorithmic_credits``. Returns a summary per app."""
    for ddl in _DDL:
        client.command(ddl)
    params = {"start": start, "end": end}
    transitions: dict[str, dict] = {}
    for app, src, dst, n in client.query(_TRANSITIONS_SQL, parameters=params).result_rows:
        transitions.setdefault(app, {})[(src, dst)] = n
    sets: dict[str, dict[frozenset, tuple[int, int]]] = {}
    for app, channel_set, conversions, paths in client.query(_CHANNEL_SETS_SQL, parameters=params).result_rows:
        sets.setdefault(app, {})[frozenset(channel_set)] = (conversions, paths)

    rows, summary = [], {}
    for app in sorted(transitions):
        p_conv, effects = markov_removal_effects(transitions[app])
        total = sum(effects.values())
        for channel, effect in effects.items():
            rows.append((app, start, end, "markov", [], channel, effect))
        value = {s: conv / paths for s, (conv, paths) in sets.get(app, {}).items() if paths}
        for s, (conv, _paths) in sets.get(app, {}).items():
            if conv:
                for channel, share in shapley_shares(value, s).items():
                    rows.append((app, start, end, "shapley", sorted(s), channel, share))
        summary[app] = {"conversion_probability": round(p_conv, 6),
                        "markov_shares": {c: round(e / total, 4) for c, e in effects.items()} if total else {}}
    client.command(f"DELETE FROM {WEIGHTS_TABLE} WHERE window_start = {{start:Date}} AND window_end = {{end:Date}}",
                   parameters=params)
    if rows:
        client.insert(WEIGHTS_TABLE, rows, column_names=["app_id", "window_start", "window_end", "model",
                                                          "channel_set", "media_source", "weight"])
    client.command(f"DELETE FROM {CREDITS_TABLE} WHERE install_date >= {{start:Date}} AND install_date <= {{end:Date}}",
                   parameters=params)
    client.command(_CREDITS_SQL, parameters=params)
    return summary
