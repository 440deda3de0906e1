"""Attribution's match keys, computed once at load from ``raw.events`` and kept per landing hour.

``raw.touch_keys`` holds one row per (touch, key it can be matched by): its click id (clicks only),
its device id, or its IP (touches without a device id: the probabilistic match), with the integer
``match_key = cityHash64(app_id, value)`` and every touch column attribution reads. Sorted by
(app_id, match_key, touch_ts) in small granules, an hourly attribution window reads the key ranges
of its installs, not the history. ``raw.install_keys`` holds every install with an integer device hash,
sorted by device, for the previous-install (reinstall) lookup.

Both are replaced per landing-hour window from ``raw.events`` by an INSERT ... SELECT in the
engine, so they follow every rewrite of raw.events (loads, IP truncation, deletion by retention;
erasure deletes their rows by touch_id / install_id / event_id like any other table).
"""

from __future__ import annotations

from datetime import datetime

from unmogrowp.warehouse import RAW, Window, time_range

TOUCH_KEYS = f"{RAW}.touch_keys"
INSTALL_KEYS = f"{RAW}.install_keys"
EVENTS = f"{RAW}.events"

_TS = "DateTime64(3, 'UTC')"
TOUCH_KEYS_DDL = f"""CREATE TABLE IF NOT EXISTS {TOUCH_KEYS} (
  landing_hour {_TS} COMMENT 'landing hour of the raw.events row',
  match_kind LowCardinality(String) COMMENT 'click_id (clicks), device_id, ip (touches without a device id)',
  match_key UInt64 COMMENT 'cityHash64(app_id, match_value)',
  match_value String COMMENT 'the click id, device id or IP matched',
  app_id LowCardinality(String),
  touch_ts {_TS},
  touch_id Nullable(String),
  event_id String,
  touch_type LowCardinality(String) COMMENT 'click or impression',
  has_device_id Bool,
  user_agent Nullable(String),
  os_version Nullable(String),
  media_source LowCardinality(Nullable(String)),
  campaign_id Nullable(String),
  adset_id Nullable(String),
  ad_id Nullable(String),
  site_id Nullable(String),
  is_retargeting Bool
) ENGINE = MergeTree
PARTITION BY toYYYYMM(touch_ts)
ORDER BY (app_id, match_key, touch_ts)
SETTINGS index_granularity = 256
COMMENT 'Touches by match key (one row per touch and key kind), from raw.events per landing hour'"""

INSTALL_KEYS_DDL = f"""CREATE TABLE IF NOT EXISTS {INSTALL_KEYS} (
  landing_hour {_TS} COMMENT 'landing hour of the raw.events row',
  app_id LowCardinality(String),
  device_hash UInt64 COMMENT 'cityHash64(app_id, idfv, else android_id, else device_id, else event:<install_id>)',
  install_ts {_TS},
  install_id String
) ENGINE = MergeTree
PARTITION BY toYYYYMM(install_ts)
ORDER BY (app_id, device_hash, install_ts)
SETTINGS index_granularity = 256
COMMENT 'Installs by device hash (the previous-install lookup), from raw.events per landing hour'"""

# a touch's keys: (kind, value) pairs, the absent ones dropped
_TOUCH_SELECT = f"""SELECT
  landing_hour,
  k.1 AS match_kind,
  cityHash64(app_id, k.2) AS match_key,
  k.2 AS match_value,
  app_id,
  event_ts AS touch_ts,
  touch_id,
  event_id,
  event_type AS touch_type,
  device_id IS NOT NULL AS has_device_id,
  user_agent,
  os_version,
  media_source,
  campaign_id,
  adset_id,
  ad_id,
  site_id,
  ifNull(is_retargeting, false) AS is_retargeting
FROM {EVENTS}
ARRAY JOIN arrayMap(x -> (x.1, assumeNotNull(x.2)), arrayFilter(x -> x.2 IS NOT NULL, [
  ('click_id', if(event_type = 'click', click_id, NULL)),
  ('device_id', device_id),
  ('ip', if(device_id IS NULL, ip, NULL))
])) AS k
WHERE event_type IN ('click', 'impression') AND {{where}}"""

_INSTALL_SELECT = f"""SELECT
  landing_hour,
  app_id,
  cityHash64(app_id, coalesce(idfv, android_id, device_id, concat('event:', event_id))) AS device_hash,
  event_ts AS install_ts,
  event_id AS install_id
FROM {EVENTS}
WHERE event_type = 'install' AND {{where}}"""


def ensure_tables(client) -> None:
    """Create the key tables; on a lake loaded before they existed, build them once from raw.events."""
    client.command(TOUCH_KEYS_DDL)
    client.command(INSTALL_KEYS_DDL)
    empty = not client.command(f"SELECT count() FROM {TOUCH_KEYS}") and not client.command(
        f"SELECT count() FROM {INSTALL_KEYS}")
    if empty and client.command(f"EXISTS TABLE {EVENTS}") and client.command(
            f"SELECT count() FROM {EVENTS} WHERE event_type IN ('click', 'impression', 'install')"):
        _rebuild(client, Window("1"))


def _rebuild(client, window: Window) -> None:
    for table, select in ((TOUCH_KEYS, _TOUCH_SELECT), (INSTALL_KEYS, _INSTALL_SELECT)):
        if client.command(f"SELECT count() FROM {table} WHERE {window.where}", parameters=window.parameters):
            client.command(f"DELETE FROM {table} WHERE {window.where}", parameters=window.parameters)
        client.command(f"INSERT INTO {table} {select.format(where=window.where)}", parameters=window.parameters)


def refresh(client, start: datetime, end: datetime) -> None:
    """Replace the key rows of landing hours [start, end) with those of raw.events' rows."""
    _rebuild(client, time_range("landing_hour", start, end))


def delete_before(client, cutoff: datetime) -> int:
    """Delete the key rows of landing hours before ``cutoff`` (retention); returns the rows deleted."""
    params = {"c": cutoff.replace(tzinfo=None)}
    deleted = 0
    for table in (TOUCH_KEYS, INSTALL_KEYS):
        if not client.command(f"EXISTS TABLE {table}"):
            continue
        n = int(client.command(f"SELECT count() FROM {table} WHERE landing_hour < {{c:DateTime64(3)}}",
                               parameters=params))
        if n:
            client.command(f"DELETE FROM {table} WHERE landing_hour < {{c:DateTime64(3)}}", parameters=params)
        deleted += n
    return deleted


def window_rows(client, start: datetime, end: datetime) -> dict[str, int]:
    """Rows of landing hours [start, end) in each key table."""
    w = time_range("landing_hour", start, end)
    return {table: int(client.command(f"SELECT count() FROM {table} WHERE {w.where}", parameters=w.parameters))
            for table in (TOUCH_KEYS, INSTALL_KEYS)}
