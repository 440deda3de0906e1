"""Spark fraud features: point-in-time window counts, the matched touch, and the rules' boundaries."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest
from pyspark.sql import functions as F

from unmogrowp.fraud import features as ff
from unmogrowp.fraud.rules import RuleSet, decisions
from unmogrowp.privacy.keys import DEFAULT_KEY

T0 = datetime(2026, 9, 3, 12, 0, tzinfo=UTC)
COLUMNS = ("event_id string, app_id string, event_type string, event_ts timestamp, device_id string, idfv string, "
           "android_id string, ip string, user_agent string, os_version string, country string, touch_id string, "
           "media_source string, campaign_id string, site_id string, click_id string, install_begin_ts timestamp, "
           "referrer_click_id string")


def ev(event_id, event_type, ts, device, ip="1.2.3.4", touch_id=None, site=None, begin=None, ua="ua1", country="US"):
    return (event_id, "app", event_type, ts, device, None, None, ip, ua, "14", country, touch_id,
            "net" if touch_id else None, "c1" if touch_id else None, site, None, begin, None)


MATCH_COLUMNS = ("install_id string, device_key string, is_anonymous_ip boolean, winning_touch_id string, "
                 "touch_type string, match_method string, match_score double, media_source string, "
                 "campaign_id string, site_id string, ctit_s long, click_injected boolean")


def match(install_id, touch_id=None, method="organic", ctit=None, site=None, injected=False, anonymous=False,
          score=None):
    """A row of dbt's fct_install_matches."""
    touch = (touch_id, "click", method, score, "net", "c1", site, ctit, injected) if touch_id else (
        None, None, "organic", None, None, None, None, None, False)
    return (install_id, f"key-{install_id}", anonymous, *touch)


def features_of(spark, rows, matches=(), start=T0 - timedelta(hours=12), end=T0 + timedelta(hours=12), split=False):
    """The install features, and with ``split`` the same from ``split_window``'s halves (asserted equal)."""
    events = spark.createDataFrame(rows, COLUMNS)
    given = {m[0] for m in matches}
    matches = [*matches, *[match(r[0]) for r in rows if r[2] == "install" and r[0] not in given]]
    matches = spark.createDataFrame(matches, MATCH_COLUMNS)
    out = ff.install_features(spark, events, matches, start, end, privacy_key=DEFAULT_KEY).toPandas()
    if not split:
        return out.set_index("install_id")
    # the pipeline's way: the last day cached, the touches before it looked up narrow
    near, far = ff.split_window(events, start)
    split = ff.install_features(spark, near, matches, start, end, privacy_key=DEFAULT_KEY, far=far).toPandas()
    pd.testing.assert_frame_equal(split.sort_values("install_id").reset_index(drop=True),
                                  out.sort_values("install_id").reset_index(drop=True))
    return out.set_index("install_id")


def test_touches_days_before_the_window_are_found_by_the_split_read(spark):
    """The winning touch 5 days back (its country), its click group's earlier click (the gap) and the
    device's clicks of the week are found in the narrow far read as in the whole window."""
    d = timedelta(days=1)
    rows = [
        ev("c_week", "click", T0 - 6 * d, "d1", ip="5.5.5.5", touch_id="t_week", site="s1", country="GB"),
        ev("c_win", "click", T0 - 5 * d, "d1", ip="5.5.5.5", touch_id="t_win", site="s1", country="BR"),
        ev("c_other", "click", T0 - 4 * d, "d2", ip="6.6.6.6", touch_id="t_other", site="s2"),
        ev("c_stale", "click", T0 - 8 * d, "d1", ip="7.7.7.7", touch_id="t_stale", site="s1"),  # > 7 d before
        ev("c_near", "click", T0 - timedelta(hours=3), "d1", ip="7.7.7.7", touch_id="t_near", site="s1"),
        ev("i1", "install", T0, "d1", country="US"),
    ]
    f = features_of(spark, rows, [match("i1", "t_win", "device_id", ctit=5 * 86400, site="s1")],
                    start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=1), split=True)
    assert f.loc["i1", "device_clicks_7d"] == 3  # c_week, c_win, c_near; not the 8-day-old click
    assert f.loc["i1", "prev_click_gap_s"] == 86400  # c_week, a day before the winning click, same ip/os/ua
    assert f.loc["i1", "next_click_gap_s"] is None or pd.isna(f.loc["i1", "next_click_gap_s"])
    assert round(f.loc["i1", "geo_distance_km"]) > 7000  # Brazil's centroid to the US's


@pytest.fixture(scope="module")
def far_clickhouse(tmp_path_factory):
    """A local ClickHouse server of this module's own: raw.events and the two columns of
    fct_install_matches the far read uses."""
    import clickhouse_connect

    from unmogrowp.clickhouse import manager
    from unmogrowp.ingest import warehouse
    from unmogrowp.net import free_port

    home = tmp_path_factory.mktemp("far_clickhouse")
    state, _ = manager.start(home, free_port())
    client = clickhouse_connect.get_client(host=state.host, port=state.port)
    warehouse.ensure_tables(client)
    client.command("CREATE DATABASE IF NOT EXISTS marts")
    client.command("CREATE TABLE marts.fct_install_matches (install_date Date, winning_touch_id Nullable(String)) "
                   "ENGINE = MergeTree ORDER BY install_date")
    yield client
    client.close()
    manager.stop(home)


def test_the_pipeline_looks_older_touches_up_in_clickhouse(spark, far_clickhouse):
    """The pipeline reads a day of silver and takes the touches before it from raw.events: a winning
    click and a winning impression days back, every click of a winner's ip/os/model group (a NULL IP
    group too), the device's clicks of the week and no others; the features equal the whole
    window's, and so do the source features' daily clicks counted in ClickHouse."""
    from unmogrowp.fraud import pipeline
    from unmogrowp.windows import day_bounds

    d, h = timedelta(days=1), timedelta(hours=1)
    day = T0.date()
    lo, hi = day_bounds(day, day)
    rows = [
        ev("c_grp_old", "click", T0 - 7 * d - 6 * h, "d9", ip="5.5.5.5", touch_id="t_grp_old", site="s2"),
        ev("c_stale", "click", T0 - 8 * d, "d1", ip="7.7.7.7", touch_id="t_stale", site="s1"),  # > 7 d before
        ev("c_week", "click", T0 - 6 * d, "d1", ip="5.5.5.5", touch_id="t_week", site="s1", country="GB"),
        ev("c_win", "click", T0 - 5 * d, "d1", ip="5.5.5.5", touch_id="t_win", site="s1", country="BR"),
        ev("c_other", "click", T0 - 4 * d, "d2", ip="6.6.6.6", touch_id="t_other", site="s2"),
        ev("c_null_grp", "click", T0 - 6 * d, "d5", ip=None, touch_id="t_null_grp", site="s3"),
        ev("c_null_win", "click", T0 - 4 * d, "d4", ip=None, touch_id="t_null_win", site="s3"),
        ev("v_win", "impression", T0 - 3 * d, "d3", ip="8.8.8.8", touch_id="t_imp", site="s4", country="JP"),
        ev("c_near", "click", T0 - 3 * h, "d1", ip="7.7.7.7", touch_id="t_near", site="s1"),
        ev("i1", "install", T0, "d1"),
        ev("i2", "install", T0 + h, "d3"),
        ev("i3", "install", T0 + 2 * h, "d4"),
        ev("s1", "session_start", T0 + 2 * h, "d1"),
    ]
    matches = [match("i1", "t_win", "device_id", ctit=5 * 86400, site="s1"),
               match("i2", "t_imp", "device_id", ctit=3 * 86400 + 3600, site="s4"),
               match("i3", "t_null_win", "device_id", ctit=4 * 86400 + 7200, site="s3")]
    events = spark.createDataFrame(rows, COLUMNS)
    far_clickhouse.insert_arrow("raw.events", events.toArrow())
    far_clickhouse.insert_arrow("marts.fct_install_matches", pa.table({
        "install_date": pa.array([day] * len(matches), pa.date32()), "winning_touch_id": [m[3] for m in matches]}))
    matches = spark.createDataFrame(matches, MATCH_COLUMNS)

    far = pipeline.read_far_touches(spark, far_clickhouse, day, day)
    assert sorted(far.toPandas()["touch_id"]) == ["t_grp_old", "t_imp", "t_null_grp", "t_null_win", "t_week", "t_win"]
    whole = events.where((F.col("event_ts") >= lo - 8 * d) & (F.col("event_ts") < hi + d))
    near = events.where((F.col("event_ts") >= lo - d) & (F.col("event_ts") < hi + d))
    expected = ff.install_features(spark, whole, matches, lo, hi, privacy_key=DEFAULT_KEY).toPandas()
    got = ff.install_features(spark, near, matches, lo, hi, privacy_key=DEFAULT_KEY, far=far).toPandas()
    pd.testing.assert_frame_equal(got.sort_values("install_id").reset_index(drop=True),
                                  expected.sort_values("install_id").reset_index(drop=True))
    f = got.set_index("install_id")
    assert f.loc["i1", "device_clicks_7d"] == 3  # c_week, c_win, c_near
    assert f.loc["i1", "prev_click_gap_s"] == 86400  # c_week, a day before the winning click
    assert f.loc["i3", "prev_click_gap_s"] == 2 * 86400  # the NULL-IP group's earlier click
    assert round(f.loc["i2", "geo_distance_km"]) > 9000  # Japan's centroid to the US's

    cols = ["app_id", "media_source", "site_id", "d", "clicks"]
    counted = pipeline.read_daily_clicks(spark, far_clickhouse, day, day).toPandas().sort_values(cols)
    spark_counted = ff.daily_clicks(events.where(F.col("event_ts") < hi)).where(
        F.col("d") >= (day - 6 * d).isoformat()).toPandas().sort_values(cols)
    pd.testing.assert_frame_equal(counted.reset_index(drop=True), spark_counted[cols].reset_index(drop=True))
    assert counted["clicks"].sum() == 6  # the 7 days to the install day: not the clicks 8 and 7.25 days back


def test_window_counts_use_only_rows_strictly_before_the_install(spark):
    rows = [
        ev("i0", "install", T0, "d0"),
        ev("i1", "install", T0 + timedelta(minutes=30), "d1"),
        ev("i2", "install", T0 + timedelta(minutes=30), "d2"),  # same instant as i1: not "before" it
        ev("i3", "install", T0 + timedelta(minutes=59, seconds=59), "d3"),
        ev("i4", "install", T0 + timedelta(hours=2), "d4"),
        # a click after every install above must never count for them
        ev("late_click", "click", T0 + timedelta(hours=3), "dx", touch_id="late"),
        ev("early_click", "click", T0 - timedelta(minutes=10), "dy", touch_id="early"),
    ]
    f = features_of(spark, rows)
    assert f.loc["i0", "ip_installs_1h"] == 0
    assert f.loc["i1", "ip_installs_1h"] == 1 and f.loc["i2", "ip_installs_1h"] == 1
    assert f.loc["i3", "ip_installs_1h"] == 3
    assert f.loc["i4", "ip_installs_1h"] == 0  # i1..i3 are 1 h+ before it
    assert f.loc["i4", "ip_installs_24h"] == 4
    assert f.loc["i4", "ip_devices_24h"] == 4
    assert f.loc["i0", "ip_clicks_1h"] == 1  # the early click only
    assert (f["ip_clicks_24h"] == 1).all()  # the late click never leaks


def test_the_touch_ctit_and_injection_are_attributions_match(spark):
    """The features judge the touch attribution matched (fct_install_matches), with its CTIT, even
    when only a probabilistic match links them (no device id anywhere)."""
    rows = [
        ev("c_old", "click", T0 - timedelta(hours=5), "d1", touch_id="t_old", site="s1"),
        ev("c_new", "click", T0 - timedelta(seconds=30), "d1", touch_id="t_new", site="s2"),
        ev("i1", "install", T0, "d1", begin=T0 - timedelta(seconds=10)),  # download began after the click
        ev("c_inj", "click", T0 - timedelta(seconds=20), "d2", touch_id="t_inj", site="s3"),
        ev("i2", "install", T0, "d2", begin=T0 - timedelta(minutes=1)),  # the click fired during the download
        ev("s1", "session_start", T0 + timedelta(seconds=5), "d1"),
        ev("i3", "install", T0, "d3", ip="34.1.2.3"),
        ev("far_future", "session_start", T0 + timedelta(days=2), "d3"),
        ev("c_prob", "click", T0 - timedelta(hours=2), None, ip="9.9.9.9", touch_id="t_prob", site="s4", country="GB"),
        ev("i4", "install", T0, None, ip="9.9.9.9", country="US"),
    ]
    matches = [match("i1", "t_new", "device_id", 30, "s2"), match("i2", "t_inj", "device_id", 20, "s3", injected=True),
               match("i3", anonymous=True), match("i4", "t_prob", "probabilistic", 7200, "s4", score=0.9)]
    f = features_of(spark, rows, matches, split=True)
    assert f.loc["i1", "winning_touch_id"] == "t_new" and f.loc["i1", "ctit_s"] == 30
    assert f.loc["i1", "match_method"] == "device_id" and f.loc["i1", "device_key"] == "key-i1"
    assert f.loc["i1", "click_after_install_begin"] == 0
    assert f.loc["i2", "click_after_install_begin"] == 1
    assert f.loc["i1", "sessions_24h"] == 1 and f.loc["i1", "time_to_first_session_s"] == 5
    assert f.loc["i3", "sessions_24h"] == 0  # the session 2 days later is outside the first 24 h
    assert f.loc["i3", "is_anonymous_ip"] == 1 and f.loc["i1", "is_anonymous_ip"] == 0
    assert f.loc["i3", "winning_touch_id"] is None and f.loc["i3", "match_method"] == "organic"
    assert pd.isna(f.loc["i3", "ctit_s"]) and pd.isna(f.loc["i3", "click_after_install_begin"])
    # no device id at all: the probabilistic match carries the click's CTIT, site and country
    assert (f.loc["i4", "winning_touch_id"], f.loc["i4", "match_method"], f.loc["i4", "ctit_s"]) == (
        "t_prob", "probabilistic", 7200)
    assert f.loc["i4", "site_id"] == "s4" and f.loc["i4", "geo_distance_km"] > 5000  # GB click, US install
    assert f.loc["i4", "site_clicks_24h"] == 1 and f.loc["i4", "device_clicks_7d"] == 0


def feature_row(**kw):
    base = {"install_id": "i", "app_id": "app", "install_date": "2026-09-03", "winning_touch_id": "t",
            "touch_type": "click",
            "media_source": "net", "campaign_id": "c", "site_id": "s", "ctit_s": 3600.0,
            "click_after_install_begin": 0, "geo_distance_km": 0.0, "ip_devices_24h": 0, "ip_installs_1h": 0,
            "model_installs_1h": 0, "is_anonymous_ip": 0, "sessions_24h": 2, "activity_observed": True}
    return {**base, **kw}


def decide(spark, rows, rules=None, sources=()):
    schema = ("install_id string, app_id string, install_date string, winning_touch_id string, touch_type string, "
              "media_source string, "
              "campaign_id string, site_id string, ctit_s double, click_after_install_begin int, "
              "geo_distance_km double, ip_devices_24h long, ip_installs_1h long, model_installs_1h long, "
              "is_anonymous_ip int, sessions_24h long, activity_observed boolean")
    inst = spark.createDataFrame([tuple(r.values()) for r in rows], schema)
    src = spark.createDataFrame(list(sources) or [("2026-01-01", "x", "x", "x", 0, 0.0, 0.0, 0.0)],
                                "feature_date string, app_id string, media_source string, site_id string, "
                                "installs long, share_ctit_gt_24h double, cpi_vs_app double, ks_ctit_vs_app double")
    out = decisions(inst, src, rules or RuleSet(), datetime(2026, 9, 4, tzinfo=UTC)).toPandas()
    return {(r.install_id, r.reason): r.action for r in out.itertuples()}


def test_rule_boundaries(spark):
    rows = [feature_row(install_id="ctit_9", ctit_s=9.999), feature_row(install_id="ctit_10", ctit_s=10.0),
            feature_row(install_id="farm_2", ip_devices_24h=2), feature_row(install_id="farm_3", ip_devices_24h=3),
            feature_row(install_id="inj", click_after_install_begin=1),
            feature_row(install_id="view_through", ctit_s=3.0, touch_type="impression"),
            feature_row(install_id="bot", sessions_24h=0),
            feature_row(install_id="unobserved", sessions_24h=0, activity_observed=False),
            feature_row(install_id="geo", geo_distance_km=3000.1),
            feature_row(install_id="geo_eq", geo_distance_km=3000.0)]
    d = decide(spark, rows)
    assert d[("ctit_9", "short_ctit")] == "tag" and ("ctit_10", "short_ctit") not in d
    assert ("farm_2", "device_farm") not in d and d[("farm_3", "device_farm")] == "flag"
    assert d[("inj", "click_injection")] == "reject"
    assert ("view_through", "short_ctit") not in d  # click rules judge clicks, not a winning impression
    assert d[("bot", "bot_behaviour")] == "flag" and ("unobserved", "bot_behaviour") not in d
    assert d[("geo", "geo_outlier")] == "tag" and ("geo_eq", "geo_outlier") not in d
    # every rule's mode is configuration: off removes it, reject moves it before attribution
    d = decide(spark, rows, RuleSet().with_overrides({"short_ctit": {"mode": "off"},
                                                      "device_farm": {"mode": "reject", "threshold": 2}}))
    assert not any(reason == "short_ctit" for _, reason in d)
    assert d[("farm_2", "device_farm")] == "reject"
    with pytest.raises(ValueError, match="unknown fraud rule"):
        RuleSet().with_overrides({"no_such_rule": {"mode": "tag"}})


def test_click_flood_needs_minimum_evidence(spark):
    rows = [feature_row(install_id="flooded", ctit_s=30 * 3600.0)]
    src = ("2026-09-03", "app", "net", "s")
    assert ("flooded", "click_flood") not in decide(spark, rows, sources=[(*src, 49, 0.9, 1.0, 0.1)])
    assert decide(spark, rows, sources=[(*src, 50, 0.9, 1.0, 0.1)])[("flooded", "click_flood")] == "flag"
    # a CTIT under 24 h is not judged a flood even on a flooding source
    assert ("short", "click_flood") not in decide(spark, [feature_row(install_id="short")],
                                                  sources=[(*src, 50, 0.9, 1.0, 0.1)])
