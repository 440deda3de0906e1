"""Data-driven multi-touch credit (SPEC §4): Markov order 1-3 (removal effect) and Shapley values.

Channel totals follow the standard definitions, the numbers ChannelAttribution's ``markov_model``
and DP6's MAM (``attribution_markov``, ``attribution_shapley``) give on the same paths:

- Markov order k: states are the windows of the last k channels of a path (a path shorter than
  k is one state), fitted on converting and non-converting paths with (start), (conversion) and
  (null); a channel's removal effect is 1 − P(conversion without it) / P(conversion), removing
  every state that contains it. Total = conversions (value) × effect / Σ effects. Repeated
  states (self-transitions) change no absorption probability: ChannelAttribution collapses them,
  DP6 drops them, both give the same totals as keeping them.
- Shapley: per converting channel set S, the exact Shapley values of the game v(T) = conversion
  rate of the paths whose channel set is T (T ⊆ S), normalised to shares of S's conversions
  (a share may be negative; the totals keep it, the per-touch credits do not).

Where the libraries differ from that by default (benchmarks/mta_reference.py measures it):
ChannelAttribution simulates (nsim_start=1e5, conv_par=0.05: a few % of noise; max_step = the
longest path: longer simulated paths count as null) and drops null paths without var_null; DP6
MAM 1.0 weights transitions by conversion value (conversion_value_as_frequency=True), so null
paths weigh 0, has order 1 only and truncates Shapley sets to 4 channels (size=4). Value totals
here use the conversion removal effects (ChannelAttribution's value-weighted ones: ``values``).

Per-touch credits disaggregate those totals: per channel set S (all its conversions alike) a
share y_S,c over S's channels, fitted by iterative proportional fitting so that every
conversion's credits sum to its value and every channel's to its total; a channel's share is
split evenly over its touches in the path. ClickHouse builds the aggregates (transition counts,
channel sets) and writes the credits with one INSERT ... SELECT; numpy solves the small systems.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from itertools import combinations
from math import factorial

import numpy as np
import pyarrow as pa

from unmogrowp.warehouse import MARTS, MTA, date_range, equal, replace_window

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
CREDITS_TABLE = "$db.algorithmic_credits"
WEIGHTS_TABLE = "$db.channel_weights"
TOTALS_TABLE = "$db.channel_totals"
MAX_ORDER = 3
_SPECIAL = (START, CONVERSION, NULL)
_KEY = [("app_id", pa.string()), ("window_start", pa.date32()), ("window_end", pa.date32()), ("model", pa.string()),
        ("conversion_type", pa.string())]
WEIGHTS_SCHEMA = pa.schema([*_KEY, ("channel_set", pa.list_(pa.string())), ("media_source", pa.string()),
                            ("weight", pa.float64())])
TOTALS_SCHEMA = pa.schema([*_KEY, ("markov_order", pa.uint8()), ("media_source", pa.string()),
                           ("effect", pa.float64()), ("conversions", pa.float64()), ("conversion_value", pa.float64())])


# -- Markov --------------------------------------------------------------------------------------
def markov_states(channels: Sequence[str], order: int = 1) -> list[tuple[str, ...]]:
    """The order-k states of a path as ChannelAttribution builds them: the windows of k
    consecutive channels (one state, the whole path, when it is shorter), repeats collapsed."""
    n = len(channels)
    windows = [tuple(channels[i:i + order]) for i in range(max(n - order + 1, 1))] if n else []
    return [w for i, w in enumerate(windows) if i == 0 or w != windows[i - 1]]


def markov_transitions(paths: Iterable[tuple], order: int = 1) -> tuple[dict, dict]:
    """Transition counts and conversion value per state, from ``(channels, conversions, nulls[,
    value])`` rows (a path with its number of conversions and of non-conversions). Reference and
    test helper; the asset counts transitions in ClickHouse."""
    counts: dict[tuple, float] = {}
    values: dict = {}
    for row in paths:
        channels, conversions, nulls = row[0], row[1], row[2]
        states = [START, *markov_states(channels, order)]
        for pair in zip(states, states[1:], strict=False):
            counts[pair] = counts.get(pair, 0) + conversions + nulls
        if conversions:
            counts[(states[-1], CONVERSION)] = counts.get((states[-1], CONVERSION), 0) + conversions
            values[states[-1]] = values.get(states[-1], 0.0) + (row[3] if len(row) > 3 else conversions)
        if nulls:
            counts[(states[-1], NULL)] = counts.get((states[-1], NULL), 0) + nulls
    return counts, values


def _members(state) -> tuple[str, ...]:
    return () if state in _SPECIAL else ((state,) if isinstance(state, str) else tuple(state))


def markov_removal_effects(transitions: Mapping[tuple, float],
                           values: Mapping | None = None) -> tuple[float, dict[str, float]]:
    """P(conversion) from (start) and each channel's removal effect 1 − P_without(c) / P.

    ``transitions`` counts moves between states: a channel (order 1) or a tuple of channels
    (order k), and the absorbing (conversion) and (null). Removing a channel removes every
    state containing it (paths reaching one go to (null)). With ``values`` (conversion value
    per state that moves to (conversion)) both are value-weighted: expected value per path and
    ChannelAttribution's value removal effects.
    """
    states = [START, *sorted({s for pair in transitions for s in pair} - set(_SPECIAL), key=_members)]
    index = {s: i for i, s in enumerate(states)}
    channels = sorted({c for s in states for c in _members(s)})
    n = len(states)
    q, r, totals = np.zeros((n, n)), np.zeros(n), np.zeros(n)
    for (src, _dst), k in transitions.items():
        totals[index[src]] += k
    for (src, dst), k in transitions.items():
        i = index[src]
        if dst == CONVERSION:
            r[i] += k / totals[i]
        elif dst != NULL:
            q[i, index[dst]] += k / totals[i]
    if values is not None:  # reward of a conversion from state i: its mean conversion value
        conv = {src: k for (src, dst), k in transitions.items() if dst == CONVERSION}
        r = np.array([r[i] * values.get(s, 0.0) / conv[s] if conv.get(s) else 0.0 for i, s in enumerate(states)])
    a = np.eye(n) - q

    def p_conversion(removed: np.ndarray | None = None) -> float:
        if removed is None:
            return float(np.linalg.solve(a, r)[0])
        keep = ~removed
        return float(np.linalg.solve(a[np.ix_(keep, keep)], r[keep])[0])

    base = p_conversion()
    effects = {}
    for c in channels:
        removed = np.array([c in _members(s) for s in states])
        effects[c] = (1.0 - p_conversion(removed) / base) if base > 0 else 0.0
    return base, effects


def channel_totals(effects: Mapping[str, float], total: float) -> dict[str, float]:
    """The standard totals: ``total`` × effect / Σ effects (nothing when no effect is positive)."""
    s = sum(effects.values())
    return {c: total * e / s for c, e in effects.items()} if s > 0 else dict.fromkeys(effects, 0.0)


# -- Shapley -------------------------------------------------------------------------------------
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


def shapley_shares(value: Mapping[frozenset, float], players: Iterable[str], clip: bool = False) -> dict[str, float]:
    """Each player's share φ / Σ φ of the coalition's value (DP6's attribution_shapley; a share
    may be negative). ``clip`` sets negative worth to 0 first. Equal shares when Σ φ ≤ 0."""
    phi = shapley_values(value, players)
    if clip:
        phi = {p: max(v, 0.0) for p, v in phi.items()}
    total = sum(phi.values())
    return {p: (v / total if total > 0 else 1.0 / len(phi)) for p, v in phi.items()}


# -- disaggregation ------------------------------------------------------------------------------
def ipf_shares(sets: Mapping[frozenset, float], targets: Mapping[str, float],
               seed: Mapping[frozenset, Mapping[str, float]] | None = None,
               tol: float = 1e-10, max_iter: int = 10000) -> tuple[dict, dict, float]:
    """Iterative proportional fitting of per-set shares y_S,c (c ∈ S, Σ_c y_S,c = 1) such that
    Σ_S W_S · y_S,c = T_c, from ``sets`` {S: W_S} and ``targets`` {c: T_c}. The solution is
    y_S,c ∝ seed_S,c · b_c (``seed`` defaults to 1: then y is a split by channel weights b).

    Returns (y {S: {c: y}}, b {c: b}, gap), gap = Σ_c |Σ_S W_S y_S,c − T_c| / Σ_S W_S: 0 when
    the margins are consistent. When no such table exists (e.g. a channel's single-channel
    conversions exceed its total) rows still sum to 1 and the gap says how far the columns are.
    """
    keys = [s for s, w in sets.items() if w > 0 and s]
    if not keys:
        return {}, {}, 0.0
    channels = sorted({c for s in keys for c in s})
    col = {c: j for j, c in enumerate(channels)}
    w = np.array([sets[s] for s in keys], dtype=float)
    seeds = np.zeros((len(keys), len(channels)))
    for i, s in enumerate(keys):
        for c in s:
            seeds[i, col[c]] = max(seed[s].get(c, 0.0), 0.0) if seed is not None and s in seed else 1.0
        if seeds[i].sum() <= 0:
            seeds[i, [col[c] for c in s]] = 1.0
    total = w.sum()
    t = np.array([max(targets.get(c, 0.0), 0.0) for c in channels])
    lost = sum(max(v, 0.0) for c, v in targets.items() if c not in col)  # channels no conversion has
    if t.sum() > 0:
        t *= total / t.sum()
    b = np.ones(len(channels))

    def table(b):
        z = seeds * b
        sums = z.sum(axis=1, keepdims=True)
        # a set whose channels all have weight 0 keeps its seed shares
        return np.where(sums > 0, z / np.where(sums > 0, sums, 1), seeds / seeds.sum(axis=1, keepdims=True))

    y = table(b)
    for _ in range(max_iter):
        have = w @ y
        if np.abs(have - t).sum() / total < tol:
            break
        b = b * np.divide(t, have, out=np.ones_like(t), where=have > 0)
        b /= b.max() if b.max() > 0 else 1.0
        y = table(b)
    have = w @ y
    unscaled = np.array([max(targets.get(c, 0.0), 0.0) for c in channels])
    gap = float((np.abs(have - unscaled).sum() + lost) / total) if targets else 0.0
    shares = {s: {c: float(y[i, col[c]]) for c in s} for i, s in enumerate(keys)}
    return shares, {c: float(b[col[c]]) for c in channels}, gap


# -- ClickHouse ----------------------------------------------------------------------------------
_PATHS_SQL = """
    SELECT app_id, arrayMap(t -> t.media_source, path) AS channels, 1 AS converted
    FROM $paths.mta_conversion_paths
    WHERE conversion_type = 'install' AND install_date >= {start:Date} AND install_date <= {end:Date}
    UNION ALL
    SELECT app_id, channels, 0 AS converted
    FROM $paths.mta_nonconverting_paths
    WHERE last_touch_date >= {start:Date} AND last_touch_date <= {end:Date}
"""

# order-k states (markov_states): windows of k channels, the whole path when shorter, repeats collapsed
_TRANSITIONS_SQL = f"""
    SELECT app_id, pair.1 AS src, pair.2 AS dst, count() AS n
    FROM (
        SELECT app_id, converted,
               arrayMap(i -> arraySlice(channels, i, {{order:UInt8}}),
                        range(1, greatest(length(channels) - {{order:UInt8}} + 1, 1) + 1)) AS windows,
               arrayFilter((w, i) -> i = 1 OR w != windows[i - 1], windows, arrayEnumerate(windows)) AS states
        FROM ({_PATHS_SQL})
        WHERE notEmpty(channels)
    )
    ARRAY JOIN arrayZip(arrayPushFront(states, ['{START}']),
                        arrayPushBack(states, [if(converted = 1, '{CONVERSION}', '{NULL}')])) AS pair
    GROUP BY app_id, src, dst
"""

_COALITIONS_SQL = f"""
    SELECT app_id, arraySort(arrayDistinct(channels)) AS channel_set, sum(converted) AS conversions, count() AS paths
    FROM ({_PATHS_SQL})
    GROUP BY app_id, channel_set
"""

# every conversion of the window (installs and in-app events), by channel set
_CONVERSION_SETS_SQL = """
    SELECT app_id, conversion_type, arraySort(arrayDistinct(arrayMap(t -> t.media_source, path))) AS channel_set,
           count() AS conversions, sum(conversion_value) AS value
    FROM $paths.mta_conversion_paths
    WHERE install_date >= {start:Date} AND install_date <= {end:Date}
    GROUP BY app_id, conversion_type, channel_set
"""

_DDL = (
    "CREATE DATABASE IF NOT EXISTS $db",
    f"""CREATE TABLE IF NOT EXISTS {WEIGHTS_TABLE} (
        app_id LowCardinality(String), window_start Date, window_end Date, model LowCardinality(String),
        channel_set Array(String), media_source String, weight Float64
    ) ENGINE = MergeTree ORDER BY (app_id, window_start, model)
    COMMENT 'Per-touch shares per window: Shapley share of a channel in a channel set, """
    "Markov IPF weight (set empty)'",
    f"ALTER TABLE {WEIGHTS_TABLE} ADD COLUMN IF NOT EXISTS conversion_type LowCardinality(String) "
    "DEFAULT 'install' AFTER model",
    f"""CREATE TABLE IF NOT EXISTS {TOTALS_TABLE} (
        app_id LowCardinality(String), window_start Date, window_end Date, model LowCardinality(String),
        markov_order UInt8, conversion_type LowCardinality(String), media_source String,
        effect Float64, conversions Float64, conversion_value Float64
    ) ENGINE = MergeTree ORDER BY (app_id, window_start, model, conversion_type)
    COMMENT 'Standard channel totals per window: removal effect or Shapley worth, conversions and value'""",
    f"""CREATE TABLE IF NOT EXISTS {CREDITS_TABLE} (
        conversion_id String, conversion_type LowCardinality(String), app_id LowCardinality(String),
        install_date Date, conversion_ts DateTime64(3, 'UTC'), conversion_value Float64, position UInt16,
        touch_id String, touch_ts DateTime64(3, 'UTC'), media_source String, campaign_id String,
        model LowCardinality(String), credit Float64, credited_value Float64
    ) ENGINE = MergeTree PARTITION BY toYYYYMM(install_date) ORDER BY (app_id, install_date, conversion_id, model)
    COMMENT 'Data-driven multi-touch credit (Markov, Shapley) per conversion and touch'""",
)

# A channel's share y of the conversion (Markov: weight b_c / Σ b over the path's channels, the
# IPF solution; Shapley: the set's fitted share), split evenly over the channel's touches; a
# path whose channels all have zero weight is split linearly.
_CREDITS_SQL = f"""
    SELECT conversion_id, conversion_type, app_id, install_date, conversion_ts, conversion_value,
           toUInt16(position), t.touch_id, t.touch_ts, t.media_source, t.campaign_id, model,
           credit, credit * conversion_value
    FROM (
        SELECT p.*, w.model AS model,
               arrayMap(x -> x.media_source, p.path) AS ch,
               arrayMap(c -> if(has(w.channels, c), w.weights[indexOf(w.channels, c)], 0) / countEqual(ch, c),
                        ch) AS raw,
               if(arraySum(raw) > 0, arrayMap(x -> x / arraySum(raw), raw),
                  arrayMap(x -> 1.0 / length(ch), ch)) AS credits
        FROM $paths.mta_conversion_paths AS p
        INNER JOIN (
            SELECT app_id, model, conversion_type, if(model = 'markov', [], channel_set) AS set_key,
                   groupArray(media_source) AS channels, groupArray(weight) AS weights
            FROM {WEIGHTS_TABLE}
            WHERE window_start = {{start:Date}} AND window_end = {{end:Date}}
            GROUP BY app_id, model, conversion_type, set_key
        ) AS w ON w.app_id = p.app_id AND w.conversion_type = p.conversion_type
              AND w.set_key = if(w.model = 'markov', [],
                                 arraySort(arrayDistinct(arrayMap(x -> x.media_source, p.path))))
        WHERE p.install_date >= {{start:Date}} AND p.install_date <= {{end:Date}}
    )
    ARRAY JOIN arrayEnumerate(path) AS position, path AS t, credits AS credit
"""


def _state(arr) -> str | tuple[str, ...]:
    return arr[0] if len(arr) == 1 and arr[0] in _SPECIAL else tuple(arr)




def fit_app(transitions: Mapping[tuple, float], coalitions: Mapping[frozenset, tuple[float, float]],
            conversion_sets: Mapping[str, Mapping[frozenset, tuple[float, float]]]) -> dict:
    """Markov and Shapley for one app. ``transitions``: state counts (markov_transitions);
    ``coalitions``: {channel set: (conversions, paths)} of the fitted paths; ``conversion_sets``:
    {conversion type: {channel set: (conversions, value)}} of the conversions to credit.

    Returns per model and conversion type the standard ``totals`` {c: (effect, conversions,
    value)}, the per-touch ``weights`` (Markov: {c: b}; Shapley: {S: {c: y}}) and the IPF ``gap``.
    """
    p_conv, effects = markov_removal_effects(transitions) if transitions else (0.0, {})
    value = {s: conv / paths for s, (conv, paths) in coalitions.items() if paths}
    out = {"conversion_probability": p_conv, "removal_effects": effects, "markov": {}, "shapley": {}}
    standard: dict[frozenset, dict[str, float]] = {}
    for ctype, sets in conversion_sets.items():
        counts = {s: n for s, (n, _v) in sets.items()}
        values = {s: v for s, (_n, v) in sets.items()}
        conversions = channel_totals(effects, sum(counts.values()))
        targets = channel_totals(effects, sum(values.values()))
        _y, b, gap = ipf_shares(values, targets)
        out["markov"][ctype] = {"totals": {c: (effects[c], conversions[c], targets[c]) for c in effects},
                                "weights": b, "gap": gap}
        for s in sets:
            if s not in standard:
                standard[s] = shapley_shares(value, s)
        conversions, targets = {}, {}
        for s, (n, v) in sets.items():
            for c, share in standard[s].items():
                conversions[c] = conversions.get(c, 0.0) + n * share
                targets[c] = targets.get(c, 0.0) + v * share
        seed = {s: {c: max(x, 0.0) for c, x in standard[s].items()} for s in sets}
        y, _b, gap = ipf_shares(values, targets, seed)
        for s in sets:  # sets of no value keep their seed shares
            if s not in y:
                total = sum(seed[s].values())
                y[s] = {c: (x / total if total > 0 else 1.0 / len(s)) for c, x in seed[s].items()}
        worth = sum(max(v, 0.0) for v in targets.values())
        out["shapley"][ctype] = {"totals": {c: (targets[c] / worth if worth > 0 else 0.0, conversions[c], targets[c])
                                            for c in targets}, "weights": y, "gap": gap}
    return out


def _sql(template: str, paths_db: str, db: str) -> str:
    return template.replace("$paths", paths_db).replace("$db", db)


def build_algorithmic_credits(client, start: date, end: date, order: int = 1,
                              paths_db: str = MARTS, db: str = MTA) -> dict:
    """Fit Markov (order 1-3) and Shapley on the paths of install dates [start, end] (inclusive),
    per app; replace that window's rows of ``{db}.algorithmic_credits``, ``channel_weights`` and
    ``channel_totals``. Returns the rows written, the order and a summary per app."""
    if not 1 <= order <= MAX_ORDER:
        raise ValueError(f"Markov order must be 1..{MAX_ORDER}, not {order}")
    for ddl in _DDL:
        client.command(_sql(ddl, paths_db, db))
    params = {"start": start, "end": end}
    transitions: dict[str, dict] = {}
    for app, src, dst, n in client.query(_sql(_TRANSITIONS_SQL, paths_db, db),
                                         parameters={**params, "order": order}).result_rows:
        transitions.setdefault(app, {})[(_state(src), _state(dst))] = n
    coalitions: dict[str, dict] = {}
    for app, channel_set, conversions, paths in client.query(_sql(_COALITIONS_SQL, paths_db, db),
                                                             parameters=params).result_rows:
        coalitions.setdefault(app, {})[frozenset(channel_set)] = (conversions, paths)
    conversion_sets: dict[str, dict] = {}
    for app, ctype, channel_set, n, value in client.query(_sql(_CONVERSION_SETS_SQL, paths_db, db),
                                                          parameters=params).result_rows:
        conversion_sets.setdefault(app, {}).setdefault(ctype, {})[frozenset(channel_set)] = (n, value)

    weights, totals, summary = [], [], {}
    for app in sorted(set(transitions) | set(conversion_sets)):
        fit = fit_app(transitions.get(app, {}), coalitions.get(app, {}), conversion_sets.get(app, {}))
        for model in ("markov", "shapley"):
            for ctype, part in fit[model].items():
                key = {"app_id": app, "window_start": start, "window_end": end, "model": model,
                       "conversion_type": ctype}
                if model == "markov":
                    weights += [{**key, "channel_set": [], "media_source": c, "weight": b}
                                for c, b in part["weights"].items()]
                else:
                    weights += [{**key, "channel_set": sorted(s), "media_source": c, "weight": y}
                                for s, ys in part["weights"].items() for c, y in ys.items()]
                totals += [{**key, "markov_order": order if model == "markov" else 0, "media_source": c,
                            "effect": effect, "conversions": n, "conversion_value": value}
                           for c, (effect, n, value) in part["totals"].items()]
        effects = fit["removal_effects"]
        s = sum(effects.values())
        summary[app] = {
            "conversion_probability": round(fit["conversion_probability"], 6),
            "markov_shares": {c: round(e / s, 4) for c, e in sorted(effects.items())} if s else {},
            "ipf_gap": {f"{m}/{t}": round(part["gap"], 6) for m in ("markov", "shapley") for t, part in fit[m].items()},
        }
    fitted_on = equal(window_start=start, window_end=end)
    replace_window(client, _sql(WEIGHTS_TABLE, paths_db, db), pa.Table.from_pylist(weights, WEIGHTS_SCHEMA), fitted_on)
    replace_window(client, _sql(TOTALS_TABLE, paths_db, db), pa.Table.from_pylist(totals, TOTALS_SCHEMA), fitted_on)
    rows = replace_window(client, _sql(CREDITS_TABLE, paths_db, db), _sql(_CREDITS_SQL, paths_db, db),
                          date_range("install_date", start, end), parameters=params)
    return {"rows": rows, "markov_order": order, "apps": summary}
