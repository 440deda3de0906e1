"""Fraud features in Spark, from silver Delta to daily-partitioned Delta feature tables (SPEC §3).

Per install (``features/fraud_install_features``, one row per install, partition ``install_date``):
the touch the install came from as attribution matches it (dbt's ``fct_install_matches``: referrer /
click id, device id or probabilistic), its CTIT, whether it fired after the store download began,
touch→install distance, point-in-time window counts (strictly before the install), click gaps, and
post-install activity.

Per source (``features/fraud_source_features``, one row per app × network × site × day): rolling
7-day clicks per install, CTIT shares, the KS distance of the source's CTIT distribution to the
app's, installs and devices per IP, and the post-install activity rate.

Every feature is listed in ``INSTALL_FEATURES`` with whether it uses information from after the
install: those may feed only the batch post-attribution model, never online serving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from unmogrowp.ingest.events import SILVER_EVENTS
from unmogrowp.lake import Lake

INSTALL_TABLE = "features/fraud_install_features"
SOURCE_TABLE = "features/fraud_source_features"
CLICK_WINDOW_DAYS = 7  # how far back the last click is looked for
SOURCE_WINDOW_DAYS = 7  # rolling window of the source features
LATE_DAYS = 8  # silver is partitioned by landing date; events land up to 7 days late
KS_BINS = 48  # log-CTIT histogram bins for the KS distance
NEAR_DAYS = 1  # the 24 h counts' reach before the first install: what the pipeline reads from silver
MS_H = 3_600_000


def _ip_columns(ip, key: str):
    """The keyed hash (privacy ``key``) and the truncated network of an IP
    column: what leaves the features job."""
    from pyspark import cloudpickle
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf

    from unmogrowp.privacy import keys

    cloudpickle.register_pickle_by_value(keys)  # Python workers need not import this package

    @pandas_udf("string")
    def network(s):
        return s.map(keys.truncate_ip, na_action="ignore")

    hashed = F.sha2(F.concat_ws(":", F.lit(key), F.lit("ip"), ip), 256)
    return F.when(ip.isNotNull(), hashed).alias("ip_key"), network(ip).alias("ip_network")


@dataclass(frozen=True)
class Feature:
    name: str
    description: str
    post_install: bool = False  # uses information from after the install: batch scoring only


INSTALL_FEATURES = (
    Feature("ctit_s", "seconds from the winning touch to the install (attribution's match)"),
    Feature("log_ctit", "ln(1 + ctit_s)"),
    Feature("click_after_install_begin", "1 if the winning touch fired after the store download began"),
    Feature("install_begin_to_install_s", "seconds from the store download start to the first open"),
    Feature("geo_distance_km", "distance between the touch's and the install's country centroids"),
    Feature("device_clicks_7d", "clicks on the install's device id in the 7 days before the install"),
    Feature("ip_installs_1h", "installs of the app from the same IP in the hour before"),
    Feature("ip_installs_24h", "installs of the app from the same IP in the 24 h before"),
    Feature("ip_devices_24h", "distinct devices installing the app from the same IP in the 24 h before"),
    Feature("ip_clicks_1h", "clicks for the app from the same IP in the hour before"),
    Feature("ip_clicks_24h", "clicks for the app from the same IP in the 24 h before"),
    Feature("model_installs_1h", "installs of the app from the same device model (user agent) in the hour before"),
    Feature("model_installs_24h", "installs of the app from the same device model in the 24 h before"),
    Feature("os_installs_24h", "installs of the app on the same OS version in the 24 h before"),
    Feature("site_clicks_1h", "clicks from the winning touch's site in the hour before"),
    Feature("site_clicks_24h", "clicks from the winning touch's site in the 24 h before"),
    Feature("prev_click_gap_s", "seconds since the previous click from the same ip/app/os/model"),
    Feature("is_anonymous_ip", "1 if the install IP is in a data-centre/VPN range"),
    Feature("next_click_gap_s", "seconds to the next click from the same ip/app/os/model", post_install=True),
    Feature("sessions_24h", "sessions in the 24 h after the install", post_install=True),
    Feature("events_24h", "in-app events in the 24 h after the install", post_install=True),
    Feature("purchases_24h", "purchases in the 24 h after the install", post_install=True),
    Feature("time_to_first_session_s", "seconds from install to the first session (24 h horizon)",
            post_install=True),
)
ONLINE_FEATURES = tuple(f.name for f in INSTALL_FEATURES if not f.post_install)
MODEL_FEATURES = tuple(f.name for f in INSTALL_FEATURES)

# Country centroids (lat, lon) of the generator's markets; anything else has no distance.
COUNTRY_CENTROIDS = {
    "US": (39.8, -98.6), "GB": (54.0, -2.0), "DE": (51.2, 10.4), "FR": (46.6, 2.4), "BR": (-10.8, -52.9),
    "IN": (22.9, 79.6), "JP": (36.2, 138.3), "KR": (36.4, 127.9), "CA": (56.1, -106.3), "MX": (23.6, -102.6),
}


# the silver columns the features read (the rest is never scanned nor cached)
SILVER_COLUMNS = ("event_id", "app_id", "event_type", "event_ts", "device_id", "idfv", "android_id", "ip", "user_agent",
                  "os_version", "country", "touch_id", "media_source", "campaign_id", "site_id", "click_id",
                  "install_begin_ts", "referrer_click_id")


def read_silver(spark, lake: Lake, start: datetime, end: datetime, history: timedelta = timedelta(days=LATE_DAYS)):
    """The features' silver columns of the events with ``event_ts`` in [start - history, end + 1 d):
    by default enough history for the click window and the rolling source window, and the
    post-install day (the pipeline reads one day back and looks the older touches up in ClickHouse)."""
    lo, hi = start - history, end + timedelta(days=1)
    files = [("landing_date", ">=", (lo - timedelta(days=1)).date().isoformat()),
             ("landing_date", "<=", (hi + timedelta(days=LATE_DAYS)).date().isoformat())]
    from pyspark.sql import functions as F

    df = lake.spark_read(spark, SILVER_EVENTS, partition_filters=files).select(*SILVER_COLUMNS)
    return df.where((F.col("event_ts") >= F.lit(lo)) & (F.col("event_ts") < F.lit(hi)))


def split_window(events, start: datetime):
    """(near, far) of a features window starting at ``start``: every event from ``start - 1 d`` on
    (the installs, the 24 h counts before them, the post-install day), and only the touches before
    that, which the click window, the winning touches and their click groups look up
    (``install_features(far=...)``; the pipeline takes ``far`` from ClickHouse instead, already
    narrowed to the rows of the window's installs)."""
    from pyspark.sql import functions as F

    cut = F.lit(start - timedelta(days=NEAR_DAYS))
    return (events.where(F.col("event_ts") >= cut),
            events.where((F.col("event_ts") < cut) & F.col("event_type").isin("click", "impression")))


def daily_clicks(events):
    """Clicks per app × media source × site × UTC day (``d``), the source features' click input."""
    from pyspark.sql import functions as F

    return (events.where("event_type = 'click' AND site_id IS NOT NULL")
            .groupBy("app_id", "media_source", "site_id", F.to_date("event_ts").cast("string").alias("d"))
            .agg(F.count("*").alias("clicks")))


def _null_safe_equal(left: str, right: str, columns):
    """``left.c <=> right.c`` for every column (a window partition holds its NULL key too)."""
    from functools import reduce

    from pyspark.sql import functions as F

    return reduce(lambda a, b: a & b, [F.col(f"{left}.{c}").eqNullSafe(F.col(f"{right}.{c}")) for c in columns])


def _haversine_km(lat1, lon1, lat2, lon2):
    from pyspark.sql import functions as F

    r = math.pi / 180
    a = (F.pow(F.sin((lat2 - lat1) * r / 2), 2)
         + F.cos(lat1 * r) * F.cos(lat2 * r) * F.pow(F.sin((lon2 - lon1) * r / 2), 2))
    return F.lit(2 * 6371.0) * F.asin(F.sqrt(a))


def _counts_in_windows(events, queries, keys, hours, prefix):
    """For each query row (qid, keys, ts): how many ``events`` rows with the same keys have a ts in
    [ts - h, ts), for each h in ``hours``: columns ``{prefix}_{h}h``.

    One running count per key (a sort, no sliding frames): markers at ts and at ts - h are sorted
    with the events, ahead of events at the same instant, so an event at the install's instant or
    after it never counts ("strictly before", point-in-time correct)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    known = F.lit(True)
    for k in keys:
        known = known & F.col(k).isNotNull()
    ev = events.where(known).select(*keys, "ts", F.lit(1).alias("w"), F.lit(None).cast("string").alias("qid"),
                                    F.lit(-1).alias("h"))
    queries = queries.where(known)
    rows = ev.unionByName(queries.select(*keys, "ts", F.lit(0).alias("w"), "qid", F.lit(0).alias("h")))
    for h in hours:
        rows = rows.unionByName(queries.select(*keys, (F.col("ts") - h * MS_H).alias("ts"), F.lit(0).alias("w"),
                                               "qid", F.lit(h).alias("h")))
    running = Window.partitionBy(*keys).orderBy("ts", "w").rowsBetween(Window.unboundedPreceding, 0)
    marks = rows.withColumn("before", F.sum("w").over(running)).where("qid IS NOT NULL")
    wide = marks.groupBy("qid").pivot("h", [0, *hours]).agg(F.first("before"))
    return wide.select("qid", *[(F.col("0") - F.col(str(h))).cast("long").alias(f"{prefix}_{h}h") for h in hours])


def install_features(spark, events, matches, start: datetime, end: datetime, *, privacy_key: str, far=None):
    """One row per install with ``event_ts`` in [start, end) (see INSTALL_FEATURES). ``matches``
    is dbt's ``fct_install_matches`` for those installs: the touch each came from (referrer/click
    id, device id or probabilistic, the attribution waterfall before fraud rules), its CTIT, the
    device key and the anonymous-IP verdict, so features and attribution never disagree.
    ``privacy_key`` keys the IP hashes. ``events`` is the whole window, or with ``far`` the two
    halves of ``split_window`` (the same features either way)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    ms = F.unix_millis
    # the app-scoped device (IDFV / Android id) ties activity to its install where no ad id is sent
    ev = events.select("event_id", "app_id", "event_type", "event_ts", "device_id", "ip", "user_agent",
                       "os_version", "country", "touch_id", "media_source", "campaign_id", "site_id",
                       "click_id", "install_begin_ts", "referrer_click_id",
                       F.coalesce("idfv", "android_id", "device_id").alias("dkey")).withColumn("ts", ms("event_ts"))
    installs_all = ev.where("event_type = 'install'")

    def clicks_of(frame):
        return frame.where("event_type = 'click'").select(
            "touch_id", "app_id", F.col("ts").alias("c_ts"), F.col("device_id").alias("c_device_id"),
            F.col("ip").alias("c_ip"), F.col("os_version").alias("c_os"), F.col("user_agent").alias("c_ua"))

    touch_cols = ["touch_id", "app_id", "event_type", "ts", "device_id", "ip", "os_version", "user_agent", "country"]
    winners = matches.where("winning_touch_id IS NOT NULL").select(F.col("winning_touch_id").alias("touch_id"))
    won_touches = ev.where("event_type IN ('click', 'impression')").join(winners, "touch_id", "left_semi")
    if far is not None:
        far = far.withColumn("ts", ms("event_ts")).select(*touch_cols)
        won_touches = won_touches.select(*touch_cols).unionByName(
            far.join(F.broadcast(winners), "touch_id", "left_semi"))
    clicks = clicks_of(ev)

    # click gaps per ip/app/os/model, the TalkingData "next click" family: only the (whole) groups
    # holding a winning touch, the only gaps read
    group = ["app_id", "c_ip", "c_os", "c_ua"]
    held = clicks_of(won_touches).select(*group).distinct()
    group_clicks = clicks
    if far is not None:
        group_clicks = clicks.unionByName(clicks_of(far).alias("g").join(
            F.broadcast(held).alias("h"), _null_safe_equal("g", "h", group), "left_semi"))
    gw = Window.partitionBy(*group).orderBy("c_ts", "touch_id")
    gaps = (group_clicks.alias("g").join(held.alias("h"), _null_safe_equal("g", "h", group), "left_semi")
            .withColumn("prev_click_gap_s", (F.col("c_ts") - F.lag("c_ts").over(gw)) / 1000)
            .withColumn("next_click_gap_s", (F.lead("c_ts").over(gw) - F.col("c_ts")) / 1000)
            .select("app_id", "touch_id", "prev_click_gap_s", "next_click_gap_s")
            .dropDuplicates(["app_id", "touch_id"]))  # one row per touch: the join must not repeat installs
    touch_context = (won_touches
                     .select("app_id", F.col("touch_id").alias("winning_touch_id"), F.col("country").alias("c_country"))
                     .dropDuplicates(["app_id", "winning_touch_id"]))

    lo, hi = ms(F.lit(start)), ms(F.lit(end))
    day_ms = F.lit(24 * MS_H)  # the longest count window, and the post-install horizon
    inst = installs_all.where((F.col("ts") >= lo) & (F.col("ts") < hi)).select(
        F.col("event_id").alias("install_id"), "app_id", F.col("ts").alias("i_ts"), "device_id", "dkey", "ip",
        "user_agent", "os_version", "country", F.col("install_begin_ts"), "referrer_click_id")
    won = matches.select("install_id", "device_key", "is_anonymous_ip", "winning_touch_id", "touch_type",
                         "match_method", "match_score", "media_source", "campaign_id", "site_id",
                         F.col("ctit_s").alias("match_ctit_s"), "click_injected")
    # clicks on the install's device id in the click window (a count, not a match)
    window_ms = CLICK_WINDOW_DAYS * 24 * MS_H
    i = inst.alias("i")
    window_clicks = clicks
    if far is not None:  # the far clicks on the window's install devices
        devices = inst.where("device_id IS NOT NULL").select("app_id", F.col("device_id").alias("c_device_id"))
        window_clicks = clicks.unionByName(clicks_of(far).where(F.col("c_ts") >= lo - F.lit(window_ms)).join(
            F.broadcast(devices.distinct()), ["app_id", "c_device_id"], "left_semi"))
    c = window_clicks.where((F.col("c_ts") >= lo - F.lit(window_ms)) & (F.col("c_ts") < hi)).alias("c")
    device_clicks = (i.join(c, (F.col("i.app_id") == F.col("c.app_id"))
                            & (F.col("i.device_id") == F.col("c.c_device_id"))
                            & (F.col("c.c_ts") <= F.col("i.i_ts")) & (F.col("c.c_ts") >= F.col("i.i_ts") - window_ms))
                     .groupBy("install_id").agg(F.count("*").alias("device_clicks_7d")))
    base = (inst.join(won, "install_id", "left")
            .join(touch_context, ["app_id", "winning_touch_id"], "left")
            .join(gaps.withColumnRenamed("touch_id", "winning_touch_id"), ["app_id", "winning_touch_id"], "left")
            .join(device_clicks, "install_id", "left"))

    # point-in-time counts: rows with the same key in [install_ts - h, install_ts), strictly before
    q = inst.select(F.col("install_id").alias("qid"), "app_id", F.col("i_ts").alias("ts"), "ip", "user_agent",
                    "os_version")
    # the rows a count of [ts - 24 h, ts) for ts in [start, end) can see
    recent = (F.col("ts") >= lo - day_ms) & (F.col("ts") < hi)
    all_installs = installs_all.where(recent).select("app_id", "ts", "ip", "user_agent", "os_version", "dkey",
                                                     "event_id")
    all_clicks = ev.where("event_type = 'click'").where(recent).select("app_id", "ts", "ip", "site_id")
    counts = [
        _counts_in_windows(all_installs, q, ["app_id", "ip"], (1, 24), "ip_installs"),
        _counts_in_windows(all_clicks, q, ["app_id", "ip"], (1, 24), "ip_clicks"),
        _counts_in_windows(all_installs, q, ["app_id", "user_agent"], (1, 24), "model_installs"),
        _counts_in_windows(all_installs, q, ["app_id", "os_version"], (24,), "os_installs"),
        _counts_in_windows(all_clicks, base.where("site_id IS NOT NULL").select(
            F.col("install_id").alias("qid"), "app_id", "site_id", F.col("i_ts").alias("ts")),
            ["app_id", "site_id"], (1, 24), "site_clicks"),
    ]
    # distinct devices per IP: installs only (small partitions), over a range frame
    ip_dev_w = Window.partitionBy("app_id", "ip").orderBy("ts").rangeBetween(-24 * MS_H, -1)
    ip_devices = (all_installs.where("ip IS NOT NULL")
                  .withColumn("ip_devices_24h", F.size(F.collect_set(F.coalesce("dkey", "event_id")).over(ip_dev_w)))
                  .select(F.col("event_id").alias("install_id"), "ip_devices_24h"))
    pit_ip = ip_devices
    for c in counts:
        pit_ip = pit_ip.join(c.withColumnRenamed("qid", "install_id"), "install_id", "full")

    # post-install activity in the first 24 h (batch-only features)
    act = ev.where("event_type NOT IN ('install', 'click', 'impression')").where(
        (F.col("ts") >= lo) & (F.col("ts") < hi + day_ms)).select(
        "app_id", F.col("dkey").alias("a_dkey"), F.col("ts").alias("a_ts"), "event_type")
    ii, a = inst.select("install_id", "app_id", "dkey", "i_ts").alias("ii"), act.alias("a")
    post = (ii.join(a, (F.col("ii.app_id") == F.col("a.app_id")) & (F.col("ii.dkey") == F.col("a.a_dkey"))
                    & (F.col("a.a_ts") >= F.col("ii.i_ts")) & (F.col("a.a_ts") < F.col("ii.i_ts") + 24 * MS_H))
            .groupBy("install_id").agg(
                F.sum(F.when(F.col("event_type") == "session_start", 1).otherwise(0)).alias("sessions_24h"),
                F.count("*").alias("events_24h"),
                F.sum(F.when(F.col("event_type") == "purchase", 1).otherwise(0)).alias("purchases_24h"),
                (F.min(F.when(F.col("event_type") == "session_start", F.col("a_ts"))) - F.first("i_ts")).alias(
                    "first_session_ms")))

    centroids = spark.createDataFrame([(k, *v) for k, v in COUNTRY_CENTROIDS.items()],
                                      "cc string, lat double, lon double")
    ci, cc = centroids.alias("ci"), centroids.alias("cc")
    out = (base.join(pit_ip, "install_id", "left")
           .join(post, "install_id", "left")
           .join(F.broadcast(ci), F.col("country") == F.col("ci.cc"), "left")
           .join(F.broadcast(cc), F.col("c_country") == F.col("cc.cc"), "left"))
    ctit = F.col("match_ctit_s").cast("double")
    begin_ms = ms(F.col("install_begin_ts"))
    watermark = ev.agg(F.max("ts").alias("watermark_ms"))
    out = out.crossJoin(F.broadcast(watermark))
    out = out.select(
        "install_id", "app_id", F.to_date(F.timestamp_millis("i_ts")).cast("string").alias("install_date"),
        F.timestamp_millis("i_ts").alias("install_ts"),
        "device_key",  # dbt's keyed device identity, the Feast device entity
        # raw device ids and IPs stop here (SPEC §8): a keyed hash and the /24 (/48) network
        *_ip_columns(F.col("ip"), privacy_key), "user_agent", "os_version", "country",
        "winning_touch_id", "touch_type", F.coalesce("match_method", F.lit("organic")).alias("match_method"),
        F.col("match_score").cast("double").alias("match_score"), "media_source", "campaign_id", "site_id",
        ctit.alias("ctit_s"), F.log1p(ctit).alias("log_ctit"),
        F.when(F.col("winning_touch_id").isNotNull(), F.col("click_injected").cast("int")).alias(
            "click_after_install_begin"),
        ((F.col("i_ts") - begin_ms) / 1000).cast("double").alias("install_begin_to_install_s"),
        _haversine_km(F.col("cc.lat"), F.col("cc.lon"), F.col("ci.lat"), F.col("ci.lon")).alias("geo_distance_km"),
        F.coalesce("device_clicks_7d", F.lit(0)).alias("device_clicks_7d"),
        *[F.coalesce(c, F.lit(0)).cast("long").alias(c) for c in (
            "ip_installs_1h", "ip_installs_24h", "ip_devices_24h", "ip_clicks_1h", "ip_clicks_24h",
            "model_installs_1h", "model_installs_24h", "os_installs_24h")],
        F.col("site_clicks_1h").cast("long").alias("site_clicks_1h"),
        F.col("site_clicks_24h").cast("long").alias("site_clicks_24h"),
        F.col("prev_click_gap_s").cast("double").alias("prev_click_gap_s"),
        F.coalesce(F.col("is_anonymous_ip").cast("int"), F.lit(0)).alias("is_anonymous_ip"),
        F.col("next_click_gap_s").cast("double").alias("next_click_gap_s"),
        F.coalesce("sessions_24h", F.lit(0)).cast("long").alias("sessions_24h"),
        F.coalesce("events_24h", F.lit(0)).cast("long").alias("events_24h"),
        F.coalesce("purchases_24h", F.lit(0)).cast("long").alias("purchases_24h"),
        (F.col("first_session_ms") / 1000).cast("double").alias("time_to_first_session_s"),
        # the whole first day after the install is in the data (no "no activity" verdicts before)
        (F.col("i_ts") + 24 * MS_H <= F.col("watermark_ms")).alias("activity_observed"),
    )
    return out


def source_features(spark, clicks, installs_feat, start: datetime, end: datetime):
    """One row per app × media source × site for each day in [start, end), over the trailing
    SOURCE_WINDOW_DAYS (installs attributed to a source by their winning touch). ``clicks`` are
    the ``daily_clicks`` of those days."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    days = [(start + timedelta(days=i)).date().isoformat() for i in range((end - start).days)]
    day_df = spark.createDataFrame([(d,) for d in days], "feature_date string")
    span = F.datediff(F.col("feature_date"), F.col("d"))
    in_win = (span >= 0) & (span < SOURCE_WINDOW_DAYS)

    inst = installs_feat.where("site_id IS NOT NULL").withColumn("d", F.col("install_date"))
    keys = ["feature_date", "app_id", "media_source", "site_id"]
    c = clicks.join(day_df, in_win).groupBy(*keys).agg(F.sum("clicks").alias("clicks"))
    i = (inst.join(day_df, in_win).groupBy(*keys).agg(
        F.count("*").alias("installs"),
        F.avg((F.col("ctit_s") < 10).cast("double")).alias("share_ctit_lt_10s"),
        F.avg((F.col("ctit_s") > 86400).cast("double")).alias("share_ctit_gt_24h"),
        (F.count("*") / F.countDistinct("ip_key")).alias("installs_per_ip"),
        (F.countDistinct("device_key") / F.countDistinct("ip_key")).alias("devices_per_ip"),
        F.avg((F.col("sessions_24h") > 0).cast("double")).alias("activity_rate_24h")))

    # KS distance of the source's log-CTIT distribution to the app's (all its matched installs)
    binned = (inst.join(day_df, in_win).where("ctit_s IS NOT NULL")
              .withColumn("bin", F.least(F.lit(KS_BINS - 1), F.greatest(F.lit(0), F.floor(
                  F.col("log_ctit") / F.lit(math.log1p(CLICK_WINDOW_DAYS * 86400) / KS_BINS))).cast("int"))))
    site_h = binned.groupBy(*keys, "bin").agg(F.count("*").alias("n"))
    app_h = binned.groupBy("feature_date", "app_id", "bin").agg(F.count("*").alias("n_app"))
    bins = spark.range(KS_BINS).select(F.col("id").cast("int").alias("bin"))
    grid = site_h.select(*keys).distinct().crossJoin(bins)
    h = (grid.join(site_h, [*keys, "bin"], "left").join(app_h, ["feature_date", "app_id", "bin"], "left")
         .fillna(0, ["n", "n_app"]))
    cum = Window.partitionBy(*keys).orderBy("bin").rowsBetween(Window.unboundedPreceding, 0)
    tot = Window.partitionBy(*keys)
    ks = (h.withColumn("cdf_s", F.sum("n").over(cum) / F.sum("n").over(tot))
          .withColumn("cdf_a", F.sum("n_app").over(cum) / F.sum("n_app").over(tot))
          .groupBy(*keys).agg(F.max(F.abs(F.col("cdf_s") - F.col("cdf_a"))).alias("ks_ctit_vs_app")))

    out = (c.join(i, keys, "full").join(ks, keys, "left")
           .fillna(0, ["clicks", "installs"]))
    app_cpi = (out.groupBy("feature_date", "app_id")
               .agg((F.sum("clicks") / F.greatest(F.sum("installs"), F.lit(1))).alias("app_clicks_per_install")))
    return (out.join(app_cpi, ["feature_date", "app_id"], "left")
            .withColumn("clicks_per_install", F.col("clicks") / F.greatest(F.col("installs"), F.lit(1)))
            .withColumn("cpi_vs_app", F.col("clicks_per_install") / F.col("app_clicks_per_install"))
            # known once the day is over (Feast's event timestamp)
            .withColumn("feature_ts", F.to_timestamp(F.date_add(F.col("feature_date").cast("date"), 1)))
            .select(*keys, "feature_ts", F.col("clicks").cast("long"), F.col("installs").cast("long"),
                    "clicks_per_install",
                    "app_clicks_per_install", "cpi_vs_app", "share_ctit_lt_10s", "share_ctit_gt_24h",
                    "ks_ctit_vs_app", "installs_per_ip", "devices_per_ip", "activity_rate_24h"))
