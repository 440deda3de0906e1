"""The traffic generator: deterministic, realistic where it matters, faults and answers apart."""

import gzip
import hashlib
import json
from datetime import date

import numpy as np
import pyarrow.parquet as pq

from unmogrowp.generator import simulate as sim
from unmogrowp.generator.writer import generate


def digest(root):
    h = hashlib.sha256()
    for p in sorted(q for q in root.rglob("*") if q.is_file()):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes(tmp_path):
    # big enough (about 240k events) for chDB to render in parallel blocks, whose order varies
    cfg = sim.SimConfig(installs_per_day=3000)
    a = generate(str(tmp_path / "a"), 1, date(2026, 9, 1), date(2026, 9, 2), 3, cfg, progress=False)
    b = generate(str(tmp_path / "b"), 1, date(2026, 9, 1), date(2026, 9, 2), 3, cfg, progress=False)
    generate(str(tmp_path / "c"), 1, date(2026, 9, 1), date(2026, 9, 2), 4, cfg, progress=False)
    assert a.events == b.events > 200_000
    assert digest(tmp_path / "a") == digest(tmp_path / "b")  # landing files and answers, byte for byte
    assert digest(tmp_path / "a" / "landing") != digest(tmp_path / "c" / "landing")


def test_simulation_is_realistic():
    s = sim.AppSimulation(0, date(2026, 9, 1), date(2026, 10, 10), seed=1,
                          config=sim.SimConfig(installs_per_day=400))
    s.run()
    ev = s.events()
    first = ~ev["is_duplicate"]
    et = ev["event_type"]
    installs = first & (et == sim.ET["install"]) & (ev["fraud"] < 0)
    # CTIT of the referrer click: log-normal with a median of about an hour
    ctit = (ev["event_ts"] - ev["referrer_click_ts"])[installs & (ev["referrer_click_ts"] > 0)] / 1000
    assert 2400 < np.median(ctit) < 5400
    # device ids: present on Android, mostly absent or zeroed on iOS
    android = ev["platform"] == 1
    assert (ev["device"][installs & android] >= 0).mean() > 0.9
    assert (ev["device"][installs & ~android] >= 0).mean() < 0.4
    # retention of the first-week cohorts: D1 30-40 %, D7 10-15 %, D30 3-6 %
    t0 = s.t0
    inst_ts = {u: t for u, t in zip(ev["user"][installs], ev["event_ts"][installs], strict=True)
               if t < t0 + 7 * sim.MS_DAY}
    sess = first & (et == sim.ET["session_start"])
    active: dict[int, set[int]] = {}
    for u, t in zip(ev["user"][sess], ev["event_ts"][sess], strict=True):
        if u in inst_ts:
            active.setdefault(int((t - inst_ts[u]) // sim.MS_DAY), set()).add(u)
    n = len(inst_ts)
    r = {d: len(active.get(d, ())) / n for d in (1, 7, 30)}
    assert 0.30 <= r[1] <= 0.40 and 0.10 <= r[7] <= 0.15 and 0.03 <= r[30] <= 0.06, r
    # organic share and a small payer share with heavy-tailed revenue
    buyers = first & (et == sim.ET["purchase"])
    usd = ev["revenue"][buyers & (ev["currency"] == 0)]
    assert np.percentile(usd, 99) > 5 * np.median(usd)
    payers = len(np.unique(ev["user"][buyers])) / installs.sum()
    assert 0.01 < payers < 0.06


def test_faults_and_answers_stay_out_of_the_landing_data(generated):
    out, manifest = generated
    faults = manifest["faults"]
    assert faults["duplicate_events"] > 0 and faults["malformed_lines"] > 0 and faults["truncated_files"]
    assert faults["late_events"] > 0
    labels = pq.read_table(out / "answers" / "fraud_labels.parquet")
    assert set(labels["fraud_type"].to_pylist()) == set(sim.FRAUD_TYPES)
    assert not any(p.name.startswith(("fraud", "manifest")) for p in (out / "landing").rglob("*"))
    sample = next((out / "landing" / "events").rglob("*.json.gz"))
    first = json.loads(gzip.decompress(sample.read_bytes()).splitlines()[0])
    assert "fraud" not in json.dumps(first)
