"""Fraud jobs over a range of install dates: features → decisions → ClickHouse.

Every write replaces its install dates (Delta ``replaceWhere``, ClickHouse DELETE + INSERT), so a
re-run of a day gives the same rows.
"""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa

from unmogrowp.fraud import features as ff
from unmogrowp.fraud.rules import DECISIONS_TABLE, RuleSet, decisions
from unmogrowp.lake import Lake
from unmogrowp.model_tables import CH_DECISIONS, CH_SCORES, ensure_tables
from unmogrowp.warehouse import date_range, replace_window
from unmogrowp.windows import day_bounds

MATCHES_TABLE = "marts.fct_install_matches"


def read_matches(spark, client, start: date, end: date):
    """dbt's fct_install_matches for install dates [start, end] as a Spark frame (one row per install)."""
    table = client.query_arrow(
        "SELECT install_id, device_key, toBool(is_anonymous_ip) AS is_anonymous_ip, winning_touch_id, touch_type, "
        "match_method, toFloat64(match_score) AS match_score, media_source, campaign_id, site_id, "
        "toInt64(ctit_s) AS ctit_s, toBool(click_injected) AS click_injected "
        f"FROM {MATCHES_TABLE} WHERE install_date >= {{s:Date}} AND install_date <= {{e:Date}}",
        parameters={"s": start, "e": end}, use_strings=True)
    return spark.createDataFrame(table)


def dates_predicate(start: date, end: date) -> str:
    return f"install_date >= '{start.isoformat()}' AND install_date <= '{end.isoformat()}'"


_TS = "DateTime64(3)"
# raw.events' touches before the features' near read (``split_window``'s far half) that the window's
# installs look up: their winning touches, every click of those touches' ip/app/os/model groups, and
# the clicks on their device ids in the click window. transform_null_in: a group's NULLs match (<=>).
FAR_TOUCHES_SQL = f"""
WITH winners AS (SELECT winning_touch_id FROM {MATCHES_TABLE}
                 WHERE install_date >= {{s:Date}} AND install_date <= {{e:Date}} AND winning_touch_id IS NOT NULL)
SELECT touch_id, CAST(app_id AS String) AS app_id, CAST(event_type AS String) AS event_type, event_ts, device_id,
       ip, os_version, user_agent, CAST(country AS Nullable(String)) AS country
FROM raw.events
WHERE event_type IN ('click', 'impression') AND event_ts >= {{far:{_TS}}} AND event_ts < {{cut:{_TS}}}
  AND (touch_id IN (SELECT winning_touch_id FROM winners)
       OR event_type = 'click' AND (
         (event_ts >= {{week:{_TS}}} AND device_id IS NOT NULL AND (app_id, device_id) IN (
            SELECT app_id, device_id FROM raw.events WHERE event_type = 'install' AND event_ts >= {{lo:{_TS}}}
              AND event_ts < {{hi:{_TS}}} AND device_id IS NOT NULL))
         OR (app_id, ip, os_version, user_agent) IN (
            SELECT app_id, ip, os_version, user_agent FROM raw.events
            WHERE event_type = 'click' AND event_ts >= {{far:{_TS}}} AND event_ts < {{until:{_TS}}}
              AND touch_id IN (SELECT winning_touch_id FROM winners))))
SETTINGS transform_null_in = 1"""


def _naive(ts):
    return ts.replace(tzinfo=None)


def read_far_touches(spark, client, start: date, end: date):
    """The touches more than a day before install dates [start, end] that their features read, from
    ClickHouse's ``raw.events`` (sorted by app, type, device): a few rows per install, where silver
    would be scanned for the whole click window. Raises if IPs there are truncated by retention."""
    lo, hi = day_bounds(start, end)
    far, cut = lo - timedelta(days=ff.LATE_DAYS), lo - timedelta(days=ff.NEAR_DAYS)
    window = {"far": _naive(far), "cut": _naive(cut)}
    truncated = client.command(f"SELECT count() FROM (SELECT 1 FROM raw.events WHERE event_ts >= {{far:{_TS}}} "
                               f"AND event_ts < {{cut:{_TS}}} AND position(ip, '/') > 0 LIMIT 1)", parameters=window)
    if truncated:
        raise _truncated(start, end)
    table = client.query_arrow(FAR_TOUCHES_SQL, use_strings=True, parameters={
        **window, "s": start, "e": end, "lo": _naive(lo), "hi": _naive(hi),
        "week": _naive(lo - timedelta(days=ff.CLICK_WINDOW_DAYS)), "until": _naive(hi + timedelta(days=1))})
    return spark.createDataFrame(table, "touch_id string, app_id string, event_type string, event_ts timestamp, "
                                 "device_id string, ip string, os_version string, user_agent string, country string")


def read_daily_clicks(spark, client, start: date, end: date):
    """``features.daily_clicks`` of the source window behind install dates [start, end], counted in
    ClickHouse."""
    lo, hi = day_bounds(start, end)
    table = client.query_arrow(
        "SELECT CAST(app_id AS String) AS app_id, CAST(media_source AS Nullable(String)) AS media_source, site_id, "
        "toString(toDate(event_ts)) AS d, toInt64(count()) AS clicks FROM raw.events "
        f"WHERE event_type = 'click' AND site_id IS NOT NULL AND event_ts >= {{lo:{_TS}}} AND event_ts < {{hi:{_TS}}} "
        "GROUP BY app_id, media_source, site_id, d",
        parameters={"lo": _naive(lo - timedelta(days=ff.SOURCE_WINDOW_DAYS - 1)), "hi": _naive(hi)}, use_strings=True)
    return spark.createDataFrame(table, "app_id string, media_source string, site_id string, d string, clicks long")


def _truncated(start: date, end: date) -> ValueError:
    return ValueError(
        f"silver IPs of the events behind install dates {start}..{end} were truncated by the "
        "retention limit (privacy/retention.py): IP features cannot be recomputed for them; "
        "keep the stored features of those days")


def build_features(spark, lake: Lake, client, start: date, end: date, *, privacy_key: str) -> dict:
    """Install and source features for install dates [start, end] into the Delta feature tables,
    on the touches attribution matched (``fct_install_matches`` in ClickHouse, via ``client``); IPs
    leave keyed with ``privacy_key``. Silver is read from a day before the range on (the windowed
    counts, the post-install day); the older touches and clicks come from ClickHouse, narrowed to
    what the range's installs look up."""
    lo, hi = day_bounds(start, end)
    near = ff.read_silver(spark, lake, lo, hi, history=timedelta(days=ff.NEAR_DAYS)).cache()
    try:
        if near.where("ip LIKE '%/%'").limit(1).count():
            raise _truncated(start, end)
        far = read_far_touches(spark, client, start, end)
        inst = ff.install_features(spark, near, read_matches(spark, client, start, end), lo, hi,
                                   privacy_key=privacy_key, far=far).cache()
        unmatched = inst.where("device_key IS NULL").count()  # every install has a row there, matched or organic
        if unmatched:
            raise ValueError(
                f"{unmatched} installs of {start}..{end} in silver have no row in {MATCHES_TABLE}: load them into "
                "ClickHouse (clickhouse_events) and build dbt_install_matches for those dates (fraud_rules_job runs "
                "it first); features without attribution's match would call them organic")
        v1 = lake.spark_write(inst, ff.INSTALL_TABLE, mode="overwrite", predicate=dates_predicate(start, end),
                              partition_by=["install_date"])
        # the rolling source window also needs the installs of the days before the range
        from pyspark.sql import functions as F

        first = (start - timedelta(days=ff.SOURCE_WINDOW_DAYS - 1)).isoformat()
        history = lake.spark_read(spark, ff.INSTALL_TABLE, partition_filters=[
            ("install_date", ">=", first), ("install_date", "<=", end.isoformat())]).where(
            F.col("install_date") >= first)
        src = ff.source_features(spark, read_daily_clicks(spark, client, start, end), history, lo,
                                 hi).withColumnRenamed("feature_date", "install_date")
        v2 = lake.spark_write(src, ff.SOURCE_TABLE, mode="overwrite", predicate=dates_predicate(start, end),
                              partition_by=["install_date"])
        return {"installs": inst.count(), "install_table_version": v1, "source_table_version": v2}
    finally:
        near.unpersist()


def build_decisions(spark, lake: Lake, client, start: date, end: date, rules: RuleSet) -> pa.Table:
    """Rule decisions for install dates [start, end] into Delta ``fraud/decisions`` and ClickHouse
    ``fraud.decisions`` (via ``client``); returns them. ``detected_at`` is the end of the install day the
    features were computed for (stable on re-runs)."""
    flt = [("install_date", ">=", start.isoformat()), ("install_date", "<=", end.isoformat())]
    inst = lake.spark_read(spark, ff.INSTALL_TABLE, partition_filters=flt)
    src = lake.spark_read(spark, ff.SOURCE_TABLE, partition_filters=flt).withColumnRenamed("install_date",
                                                                                           "feature_date")
    from pyspark.sql import functions as F

    inst = inst.where(F.col("install_date").between(start.isoformat(), end.isoformat()))
    detected = F.to_timestamp(F.date_add(F.col("install_date").cast("date"), 1))
    table = decisions(inst, src, rules, detected).toArrow()
    lake.replace_where(DECISIONS_TABLE, table, dates_predicate(start, end), ["install_date"])
    replace_dates(client, CH_DECISIONS, table, start, end)
    return table


def replace_dates(client, table: str, data: pa.Table, start: date, end: date) -> int:
    """Replace install dates [start, end] of a ClickHouse table with ``data``."""
    ensure_tables(client)
    return replace_window(client, table, data, date_range("install_date", start, end))


SCORES_TABLE = "fraud/install_scores"


def store_scores(lake: Lake, client, scores: pa.Table, start: date, end: date) -> None:
    """Champion scores of install dates [start, end] into Delta and ClickHouse (dates replaced)."""
    lake.replace_where(SCORES_TABLE, scores, dates_predicate(start, end), ["install_date"])
    replace_dates(client, CH_SCORES, scores, start, end)
