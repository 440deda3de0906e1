"""Landing data of shapes the generator never makes, with the answers the marts must give.

Two apps in 2017, years before the default first partition:

- ``APP_PROBABILISTIC``: iOS ad traffic without any advertising id (TalkingData-like clicks from
  networks no config knows). Each attributed install has exactly one click from its IP with the
  same user agent and OS, so attribution can only be probabilistic; the other installs are organic.
  About one in five installs has no vendor id either.
- ``APP_ORGANIC``: an Android game with no touches at all, every install on one day, sessions on
  known days after it (day-1 and day-7 returns) and some purchases; its data runs a week longer.

No fraud labels and cost only for one network.
"""

from __future__ import annotations

import gzip
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np

from unmogrowp.landing import LandingStore, cost_key, event_key

APP_PROBABILISTIC = "com.example.adtrack"
APP_ORGANIC = "com.example.organicgame"
NETWORKS = ("chan_101", "chan_245", "chan_480")  # in no seed
START = datetime(2017, 11, 7, tzinfo=UTC)
ORGANIC_DAY = date(2017, 11, 8)
END = datetime(2017, 11, 18, tzinfo=UTC)  # exclusive: the organic app's last activity is on 11-17
LAST_PROBABILISTIC_EVENT = datetime(2017, 11, 9, 23, 0, tzinfo=UTC)


@dataclass
class Answers:
    attributed: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # install → (touch, network, CTIT s)
    organic_probabilistic: set[str] = field(default_factory=set)
    organic_installs: list[str] = field(default_factory=list)
    day1_returners: int = 0
    day7_returners: int = 0
    events: int = 0
    cost_rows: int = 0


def _uuid(rng) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _event(rng, app: str, kind: str, ts: datetime, platform: str, **fields) -> dict:
    row = {"event_id": _uuid(rng), "app_id": app, "event_type": kind, "event_ts": _iso(ts),
           "received_ts": _iso(ts + timedelta(seconds=int(rng.integers(1, 90)))), "platform": platform}
    row.update({k: v for k, v in fields.items() if v is not None})
    return row


def _probabilistic(rng, answers: Answers) -> list[dict]:
    rows = []
    uas = [f"Mozilla/5.0 (iPhone; CPU iPhone OS {v} like Mac OS X) Model/{m}"
           for v in ("16_1", "16_6", "17_0") for m in ("iPhone12,1", "iPhone14,2", "iPhone15,3")]
    for n in range(240):
        ip = f"81.{n // 200}.{n % 200}.{7 + n % 11}"
        ua, os_version = uas[n % len(uas)], f"1{6 + n % 2}.{n % 4}"
        install_ts = START + timedelta(minutes=int(rng.integers(21 * 60, 2 * 24 * 60 - 60)))  # clicks in range
        idfv = None if n % 5 == 4 else _uuid(rng)
        install = _event(rng, APP_PROBABILISTIC, "install", install_ts, "ios", ip=ip, user_agent=ua,
                         os_version=os_version, country="US", idfv=idfv)
        rows.append(install)
        if n % 3:  # two in three installs follow a click from their IP within a day
            network = NETWORKS[n % len(NETWORKS)]
            ctit = int(rng.integers(30, 20 * 3600))
            click = _event(rng, APP_PROBABILISTIC, "click", install_ts - timedelta(seconds=ctit), "ios", ip=ip,
                           user_agent=ua, os_version=os_version, country="US", touch_id=f"t-{n}",
                           media_source=network, campaign_id=f"{network}-c{n % 2}", site_id=f"site{n % 7}")
            rows.append(click)
            answers.attributed[install["event_id"]] = (f"t-{n}", network, ctit)
            if n % 4 == 0:  # a click from the same IP on another device model: not a candidate
                rows.append(_event(rng, APP_PROBABILISTIC, "click", install_ts - timedelta(seconds=ctit // 2),
                                   "ios", ip=ip, user_agent="Mozilla/5.0 (Linux; Android 9) Model/SM-G960F",
                                   os_version="9", country="US", touch_id=f"d-{n}", media_source=NETWORKS[0],
                                   campaign_id="decoy"))
        else:
            answers.organic_probabilistic.add(install["event_id"])
        if idfv:
            for hours in (2, 30):
                ts = install_ts + timedelta(hours=hours)
                if ts < LAST_PROBABILISTIC_EVENT:
                    rows.append(_event(rng, APP_PROBABILISTIC, "session_start", ts, "ios", idfv=idfv, ip=ip))
    for n in range(600):  # clicks that lead nowhere, from IPs that never install
        ts = START + timedelta(minutes=int(rng.integers(0, 3 * 24 * 60 - 120)))
        network = NETWORKS[n % len(NETWORKS)]
        rows.append(_event(rng, APP_PROBABILISTIC, "click", ts, "ios", ip=f"92.{n // 250}.{n % 250}.1",
                           user_agent=uas[n % len(uas)], os_version="16.1", country="US", touch_id=f"n-{n}",
                           media_source=network, campaign_id=f"{network}-c{n % 2}", site_id=f"site{n % 7}"))
    return rows


def _organic(rng, answers: Answers) -> list[dict]:
    rows = []
    for n in range(200):
        android_id = f"a{n:05d}"
        install_ts = datetime.combine(ORGANIC_DAY, datetime.min.time(), UTC) + timedelta(
            minutes=int(rng.integers(0, 23 * 60)))
        install = _event(rng, APP_ORGANIC, "install", install_ts, "android", android_id=android_id,
                         device_id=_uuid(rng), ip=f"100.64.{n // 100}.{n % 100}", country="DE", os_version="13")
        rows.append(install)
        answers.organic_installs.append(install["event_id"])
        days = [0]
        if n % 2 == 0:
            days.append(1)
            answers.day1_returners += 1
        if n % 5 == 0:
            days.append(7)
            answers.day7_returners += 1
        if n % 10 == 3:  # late returns: the app's data covers day 8 of every install (D7 is final)
            days.append(9)
        for d in days:
            ts = install_ts + timedelta(days=d, minutes=5)
            rows.append(_event(rng, APP_ORGANIC, "session_start", ts, "android", android_id=android_id))
            if d and n % 10 == 0:
                rows.append(_event(rng, APP_ORGANIC, "purchase", ts + timedelta(minutes=1), "android",
                                   android_id=android_id, revenue=4.99, currency="EUR"))
    return rows


def write(root: str, seed: int = 2017) -> Answers:
    """Both apps' events (gzip NDJSON per app and received hour) and one network's cost under ``root``."""
    rng = np.random.default_rng(seed)
    answers = Answers()
    rows = _probabilistic(rng, answers) + _organic(rng, answers)
    batches: dict[tuple[str, datetime], list[dict]] = {}
    for row in rows:
        hour = datetime.fromisoformat(row["received_ts"].replace("Z", "+00:00")).replace(minute=0, second=0,
                                                                                         microsecond=0)
        batches.setdefault((row["app_id"], hour), []).append(row)
    store = LandingStore(root)
    for (app, hour), batch in sorted(batches.items()):
        body = "\n".join(json.dumps(r, sort_keys=True) for r in sorted(batch, key=lambda r: r["event_ts"]))
        store.write_bytes(event_key(app, hour, f"batch-{hour:%H}"), gzip.compress(body.encode(), mtime=0))
    answers.events = len(rows)
    for day in (date(2017, 11, 7), date(2017, 11, 8)):
        pulled = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=6)
        cost = [{"date": day.isoformat(), "app_id": APP_PROBABILISTIC, "media_source": NETWORKS[0],
                 "campaign_id": f"{NETWORKS[0]}-c{c}", "country": "US", "spend": 120.0 + c, "currency": "USD",
                 "clicks": 100, "impressions": 0, "pulled_at": _iso(pulled)} for c in (0, 1)]
        body = "\n".join(json.dumps(r, sort_keys=True) for r in cost)
        store.write_bytes(cost_key(NETWORKS[0], day, pulled), gzip.compress(body.encode(), mtime=0))
        answers.cost_rows += len(cost)
    return answers


def write_user_config(home) -> None:
    """The deployment's own config for one of the new networks (UNMOGROWP_HOME/config/)."""
    from pathlib import Path

    config = Path(home) / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "network_priority.csv").write_text(f"media_source,priority\n{NETWORKS[0]},5\n")
