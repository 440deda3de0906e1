"""Write simulated traffic as the ingestion edge would: gzip NDJSON batches per app and hour.

JSON is rendered by chDB from the numpy columns (one vectorised query per app), so each batch is
a zero-copy slice of one buffer. Faults (duplicates, late uploads, malformed lines, a renamed
field, truncated gzip files) are injected here; the ground truth goes to ``answers/``, outside the
landing prefix.
"""

from __future__ import annotations

import gzip
import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import chdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from unmogrowp.clickhouse.statement import sql_str
from unmogrowp.generator import simulate as sim
from unmogrowp.landing import LandingStore, cost_key, decode_ndjson_gz, event_key

APP_NAMES = ("puzzlequest", "runnerx", "farmsaga", "wordsmith", "spacecolony", "chefdash",
             "golfclash", "merchtycoon")
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
GENERATOR_VERSION = 4  # bump when the simulated traffic changes: cached demo data is regenerated
BATCH_LINES = 5000
RENDER_ROWS = 1_000_000  # rows rendered to JSON at a time (bounds memory)
PULL_DELAYS_DAYS = (1, 2, 4)  # first pull the next morning, then restatements


def app_ids(n: int) -> list[str]:
    return [f"com.unmogrowp.{APP_NAMES[i % len(APP_NAMES)]}{'' if i < len(APP_NAMES) else i}"
            for i in range(n)]


@dataclass
class GenerateResult:
    events: int = 0
    lines_written: int = 0
    files: int = 0
    cost_files: int = 0
    faults: dict = field(default_factory=dict)


def _iso(col: str) -> str:
    dt = f"fromUnixTimestamp64Milli({col}, 'UTC')"
    return (f"concat(formatDateTime({dt}, '%Y-%m-%dT%H:%i:%S'), '.', "
            f"leftPad(toString({col} % 1000), 3, '0'), 'Z')")


def _pick(values, idx: str) -> str:
    return f"if({idx} < 0, NULL, arrayElement({sql_array_ordered(values)}, {idx} + 1))"


def sql_array_ordered(values) -> str:
    return "[" + ", ".join(sql_str(v) for v in values) + "]"


def render_sql(app_id: str, app_index: int) -> str:
    """chDB SQL turning the simulation columns (the local variable ``table``) into NDJSON lines."""
    net = _pick([n for n, *_ in sim.NETWORKS], "network")
    et = _pick(sim.EVENT_TYPES, "event_type")
    touch_types = "event_type IN (0, 1)"
    app_event = f"NOT ({touch_types})"
    device_uuid = f"UUIDNumToString(MD5(concat({sql_str(app_id)}, ':', toString(device))))"
    key_uuid = f"UUIDNumToString(MD5(concat({sql_str(app_id)}, ':key:', toString(user))))"
    campaign = f"concat({net}, '_c', toString(campaign))"
    adset = f"concat({campaign}, '_as', toString(adset))"
    ts = f"if(epoch_ms_ts = 1, toString(event_ts), {_iso('event_ts')})"
    fields = {
        "event_id": "UUIDNumToString(toFixedString(concat(reinterpretAsFixedString(event_hi), "
                    "reinterpretAsFixedString(event_lo)), 16))",
        "app_id": sql_str(app_id),
        "event_type": et,
        "event_ts": ts,
        "received_ts": _iso("received_ts"),
        "platform": _pick(sim.PLATFORMS, "platform"),
        "device_id": f"multiIf(device = {sim.DEVICE_ZEROED}, {sql_str(ZERO_UUID)}, device < 0, NULL, {device_uuid})",
        "idfv": f"if(platform = 0 AND {app_event} AND user >= 0, upper({key_uuid}), NULL)",
        "android_id": f"if(platform = 1 AND {app_event} AND user >= 0, "
                      f"substring(replaceAll({key_uuid}, '-', ''), 1, 16), NULL)",
        "ip": "if(ip = 0, NULL, IPv4NumToString(ip))",
        "user_agent": f"if({touch_types} OR event_type = 2, {_pick(sim.USER_AGENTS, 'ua')}, NULL)",
        "country": _pick(sim.COUNTRIES, "country"),
        "os_version": _pick(sim.OS_VERSIONS, "os_version"),
        "app_version": f"if({app_event}, {_pick(sim.APP_VERSIONS, 'app_version')}, NULL)",
        "sdk_version": f"if({app_event}, {_pick(sim.SDK_VERSIONS, 'sdk_version')}, NULL)",
        "user_id": "if(event_type = 6 AND user >= 0, concat('cust-', toString(cityHash64(user) % 10000000)), NULL)",
        "touch_id": f"if(touch < 0, NULL, concat('t{app_index}_', toString(touch)))",
        "media_source": net,
        "campaign_id": f"if(network < 0, NULL, {campaign})",
        "adset_id": f"if(network < 0, NULL, {adset})",
        "ad_id": f"if(network < 0, NULL, concat({adset}, '_ad', toString(ad)))",
        "site_id": f"if(network < 0, NULL, concat({net}, '_s', leftPad(toString(site), 3, '0')))",
        "click_id": f"if(has_click_id = 1, concat('ck{app_index}_', toString(touch)), NULL)",
        "is_retargeting": "if(is_retargeting < 0, NULL, is_retargeting = 1)",
        "install_begin_ts": f"if(install_begin_ts < 0, NULL, {_iso('install_begin_ts')})",
        "referrer_click_ts": f"if(referrer_click_ts < 0, NULL, {_iso('referrer_click_ts')})",
        "referrer_click_id": f"if(referrer_touch < 0, NULL, concat('ck{app_index}_', toString(referrer_touch)))",
        "event_name": _pick(sim.IN_APP_EVENT_NAMES, "event_name"),
        "revenue": "if(isNaN(revenue), NULL, revenue)",
        "currency": _pick(sim.CURRENCIES, "currency"),
        "ad_network": _pick(sim.AD_NETWORKS, "ad_network"),
    }
    row = "formatRowNoNewline('JSONEachRow', " + ", ".join(f"{e} AS {n}" for n, e in fields.items()) + ")"
    line = f"replaceRegexpAll({row}, ',\"[a-z_]+\":null', '')"
    # an old SDK sends event_ts as a JSON number of epoch milliseconds
    line = f"if(epoch_ms_ts = 1, replaceRegexpOne({line}, '\"event_ts\":\"([0-9]+)\"', '\"event_ts\":\\\\1'), {line})"
    corrupt = ("multiIf(corrupt = 1, left(l, intDiv(length(l), 2)), "
               "corrupt = 2, replaceOne(l, '\"event_ts\"', '\"eventTs\"'), l)")
    return (f"SELECT concat({corrupt}, '\\n') AS line, "
            f"UUIDNumToString(toFixedString(concat(reinterpretAsFixedString(event_hi), "
            f"reinterpretAsFixedString(event_lo)), 16)) AS event_id, "
            f"{et} AS event_type, if(touch < 0, NULL, concat('t{app_index}_', toString(touch))) AS touch_id, "
            f"fraud, truth_kind, "
            f"if(truth_touch < 0, NULL, concat('t{app_index}_', toString(truth_touch))) AS truth_touch_id, "
            f"toUnixTimestamp(toStartOfHour(fromUnixTimestamp64Milli(received_ts, 'UTC'))) AS landing_hour, "
            f"is_duplicate, corrupt "
            f"FROM (SELECT *, {line} AS l FROM Python(table)) "
            # chDB renders in parallel: without this the rows (and so batches and answers) would
            # come back in a different order from run to run
            f"ORDER BY row_order "
            # the JSON keys reuse input column names
            f"SETTINGS prefer_column_name_to_alias = 1, output_format_json_escape_forward_slashes = 0")


def generate(out_uri: str, apps: int, start: date, end: date, seed: int,
             config: sim.SimConfig | None = None, progress: bool = True,
             malformed_share: float = 0.001, renamed_share: float = 0.0001,
             truncated_file_share: float = 0.003) -> GenerateResult:
    """Simulate ``apps`` apps from ``start`` to ``end`` and write landing files and answers."""
    config = config or sim.SimConfig()
    landing = LandingStore(f"{out_uri.rstrip('/')}/landing")
    answers = LandingStore(f"{out_uri.rstrip('/')}/answers")
    result = GenerateResult()
    labels: list[pa.Table] = []
    truths: list[pa.Table] = []
    cost_parts: list[dict[str, np.ndarray]] = []
    rng = np.random.default_rng([seed, 999])
    conn = chdb.connect(":memory:")
    fault = {"duplicate_events": 0, "late_events": 0, "malformed_lines": 0, "renamed_field_lines": 0,
             "truncated_files": [], "lines_lost_in_truncation": 0}
    bar = tqdm(total=apps, desc="generating apps", unit="app", disable=not progress)
    pool = ThreadPoolExecutor(2)  # zlib releases the GIL: compress and write two batches at once
    fault_lock = threading.Lock()

    def write(key: str, payload: bytes, truncated: bool) -> int:
        data = gzip.compress(payload, compresslevel=1, mtime=0)
        lines = payload.count(b"\n")
        if truncated:
            data = data[: int(len(data) * 0.6)]
            lost = lines - len(decode_ndjson_gz(data).lines)
            with fault_lock:
                fault["lines_lost_in_truncation"] += lost  # cut off at the edge; the partial line lands
                fault["truncated_files"].append(key)
            lines -= lost
        landing.write_bytes(key, data)
        return lines

    for a, app_id in enumerate(app_ids(apps)):
        s = sim.AppSimulation(a, start, end, seed, config)
        s.run()
        costs = s.cost_rows()
        costs["app_id"] = np.full(len(costs["day"]), app_id)
        cost_parts.append(costs)
        cols = s.events()
        del s
        n = len(cols["event_type"])
        u = rng.random(n)
        cols["corrupt"] = np.where(u < malformed_share, 1,
                                   np.where(u < malformed_share + renamed_share, 2, 0)).astype(np.int8)
        cols["is_duplicate"] = cols["is_duplicate"].astype(np.uint8)
        fault["duplicate_events"] += int(cols["is_duplicate"].sum())
        fault["late_events"] += int(((cols["received_ts"] - cols["event_ts"]) > sim.MS_HOUR).sum())
        fault["malformed_lines"] += int((cols["corrupt"] == 1).sum())
        fault["renamed_field_lines"] += int((cols["corrupt"] == 2).sum())
        result.events += n
        futures = []
        for lo, hi in _hour_aligned_slices(cols["received_ts"], RENDER_ROWS):
            table = pa.table({**{k: v[lo:hi] for k, v in cols.items()},  # noqa: F841  (read by chDB)
                              "row_order": np.arange(lo, hi, dtype=np.int64)})
            rendered = conn.query(render_sql(app_id, a), "ArrowTable")
            labels.append(_labels(app_id, rendered))
            truths.append(_truth(app_id, rendered))
            for key, payload in _batches(app_id, rendered, rng):
                futures.append(pool.submit(write, key, payload, rng.random() < truncated_file_share))
            del rendered, table
            result.lines_written += sum(f.result() for f in futures)  # bounded memory: one slice in flight
            result.files += len(futures)
            futures = []
        bar.update()
    pool.shutdown()
    bar.close()
    all_costs = {k: np.concatenate([c[k] for c in cost_parts]) for k in cost_parts[0]}
    result.cost_files = _write_costs(landing, all_costs, start, end, rng)
    answers.write_bytes("fraud_labels.parquet", _parquet(pa.concat_tables(labels)))
    answers.write_bytes("attribution_truth.parquet", _parquet(pa.concat_tables(truths)))
    fault["truncated_files"] = sorted(fault["truncated_files"])
    result.faults = fault
    answers.write_bytes("manifest.json", json.dumps({
        "generator": GENERATOR_VERSION, "activity_days_after": config.activity_days_after,
        "apps": app_ids(apps), "start": start.isoformat(), "end": end.isoformat(), "seed": seed,
        "events": result.events, "lines_written": result.lines_written, "event_files": result.files,
        "cost_files": result.cost_files, "faults": fault,
    }, indent=2).encode())
    return result


def _hour_aligned_slices(received_ts: np.ndarray, rows: int):
    """[lo, hi) row ranges of about ``rows`` rows that never split a landing hour."""
    hours = received_ts // sim.MS_HOUR
    lo, n = 0, len(hours)
    while lo < n:
        hi = min(lo + rows, n)
        if hi < n:
            hi = int(np.searchsorted(hours, hours[hi], side="left"))
            if hi <= lo:
                hi = int(np.searchsorted(hours, hours[lo], side="right"))
        yield lo, hi
        lo = hi


def _labels(app_id: str, rendered: pa.Table) -> pa.Table:
    mask = pa.compute.greater_equal(rendered["fraud"], 0)
    t = rendered.filter(pa.compute.and_(mask, pa.compute.equal(rendered["is_duplicate"], 0)))
    fraud = np.asarray(t["fraud"])
    return pa.table({
        "app_id": pa.array([app_id] * t.num_rows, pa.string()),
        "event_id": t["event_id"], "event_type": t["event_type"], "touch_id": t["touch_id"],
        "fraud_type": pa.array(np.array(sim.FRAUD_TYPES, dtype=object)[fraud], pa.string()),
    })


def _truth(app_id: str, rendered: pa.Table) -> pa.Table:
    """Per install event: what it is by design and the touch that should win (SimConfig docs)."""
    pc = pa.compute
    t = rendered.filter(pc.and_(pc.equal(rendered["event_type"], "install"), pc.equal(rendered["is_duplicate"], 0)))
    kind = np.asarray(t["truth_kind"])
    return pa.table({
        "app_id": pa.array([app_id] * t.num_rows, pa.string()), "event_id": t["event_id"],
        "truth_kind": pa.array(np.array(sim.TRUTH_KINDS, dtype=object)[kind], pa.string()),
        "truth_touch_id": t["truth_touch_id"],
    })


def _batches(app_id: str, rendered: pa.Table, rng) -> list[tuple[str, bytes]]:
    """Slice the rendered lines (sorted by upload time) into per-hour batches of BATCH_LINES."""
    lines = rendered["line"].combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32 if lines.type == pa.string() else np.int64)
    offsets = offsets[lines.offset: lines.offset + len(lines) + 1]
    data = lines.buffers()[2]
    hours = np.asarray(rendered["landing_hour"].combine_chunks()).astype(np.int64)
    cut = np.flatnonzero(np.diff(hours)) + 1
    bounds = np.concatenate([[0], cut, [len(hours)]])
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        hour = datetime.fromtimestamp(int(hours[lo]), UTC)
        for b, start in enumerate(range(lo, hi, BATCH_LINES)):
            stop = min(start + BATCH_LINES, hi)
            batch_id = f"{hour:%Y%m%dT%H}-{b:03d}-{rng.integers(0, 2**32):08x}"
            out.append((event_key(app_id, hour, batch_id),
                        data.slice(offsets[start], offsets[stop] - offsets[start]).to_pybytes()))
    return out


def _write_costs(landing: LandingStore, costs: dict[str, np.ndarray], start: date, end: date, rng) -> int:
    """One report per network, day and pull; later pulls restate spend (the latest wins)."""
    last_pull = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=3, hours=23)
    n_files = 0
    for ni, (network, *_rest) in enumerate(sim.NETWORKS):
        currency, fx = ("EUR", 0.92) if network == "socialx" else ("USD", 1.0)
        for d in range((end - start).days + 1):
            day = start + timedelta(days=d)
            sel = (costs["network"] == ni) & (costs["day"] == d)
            if not sel.any():
                continue
            spend = costs["spend"][sel] * fx
            for p, delay in enumerate(PULL_DELAYS_DAYS):
                pulled = datetime(day.year, day.month, day.day, 6, tzinfo=UTC) + timedelta(days=delay)
                if pulled > last_pull:
                    break
                restated = spend if p == 0 else np.round(spend * rng.normal(1.0, 0.04, len(spend)), 2)
                rows = [json.dumps({
                    "date": day.isoformat(), "app_id": app, "media_source": network,
                    "campaign_id": f"{network}_c{c}", "spend": float(max(s, 0.0)), "currency": currency,
                    "impressions": int(i), "clicks": int(k),
                    "pulled_at": pulled.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                }) for app, c, s, i, k in zip(costs["app_id"][sel], costs["campaign"][sel], restated,
                                              costs["impressions"][sel], costs["clicks"][sel], strict=True)]
                landing.write_bytes(cost_key(network, day, pulled),
                                    gzip.compress(("\n".join(rows) + "\n").encode(), compresslevel=6, mtime=0))
                n_files += 1
    return n_files


def _parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


