"""The landing sensor: run requests for the partitions of new files, and a cursor that moves."""

import json
import os
from datetime import UTC, date, datetime

import dagster as dg

from assets.resources import LandingResource
from orchestration.definitions import COST_JOB, EVENTS_JOB, build_definitions
from unmogrowp.config import load_settings
from unmogrowp.landing import LandingStore, cost_key, event_key


def evaluate(defs, store_root, cursor=None):
    sensor = defs.resolve_sensor_def("landing_sensor")
    ctx = dg.build_sensor_context(cursor=cursor, resources={"landing": LandingResource(root_uri=store_root)},
                                  definitions=defs)
    return sensor(ctx), ctx


def write(store, key, mtime):
    store.write_bytes(key, b"x")
    os.utime(store.path / key, (mtime, mtime))


def test_sensor_requests_new_partitions_and_advances_its_cursor(tmp_path):
    defs = build_definitions(load_settings({"UNMOGROWP_HOME": str(tmp_path)}))
    store = LandingStore(str(tmp_path / "landing"))
    h5, h6 = datetime(2026, 9, 1, 5, tzinfo=UTC), datetime(2026, 9, 1, 6, tzinfo=UTC)
    write(store, event_key("com.a", h5, "b1"), 1000)
    write(store, event_key("com.b", h5, "b2"), 1000)
    write(store, event_key("com.a", h6, "b3"), 1001)
    write(store, cost_key("netx", date(2026, 9, 1), datetime(2026, 9, 1, 6, tzinfo=UTC)), 1001)

    result, _ = evaluate(defs, str(store.path))
    reqs = {(r.job_name, r.partition_key) for r in result.run_requests}
    assert reqs == {(EVENTS_JOB, "2026-09-01-05:00"), (EVENTS_JOB, "2026-09-01-06:00"), (COST_JOB, "2026-09-01")}
    cursor = json.loads(result.cursor)
    assert cursor["modified"] == 1001 and len(cursor["keys"]) == 2

    again, _ = evaluate(defs, str(store.path), result.cursor)
    assert isinstance(again, dg.SkipReason)

    # a late file for an old hour, written with the same mtime as the mark, is still seen
    write(store, event_key("com.b", h5, "late"), 1001)
    later, _ = evaluate(defs, str(store.path), result.cursor)
    assert [(r.job_name, r.partition_key) for r in later.run_requests] == [(EVENTS_JOB, "2026-09-01-05:00")]
    assert len(json.loads(later.cursor)["keys"]) == 3
    assert later.run_requests[0].run_key != result.run_requests[0].run_key


def test_sensor_skips_hours_and_dates_before_the_first_partition(tmp_path):
    settings = load_settings({"UNMOGROWP_HOME": str(tmp_path), "UNMOGROWP_PARTITIONS_START": "2026-09-01"})
    defs = build_definitions(settings)
    store = LandingStore(str(tmp_path / "landing"))
    write(store, event_key("com.a", datetime(2026, 8, 31, 23, tzinfo=UTC), "early"), 1000)
    write(store, cost_key("netx", date(2026, 8, 31), datetime(2026, 9, 1, 6, tzinfo=UTC)), 1000)

    result, _ = evaluate(defs, str(store.path))
    assert not result.run_requests
    message = result.skip_reason.skip_message
    for words in ("1 landing hours and 1 cost dates from 2026-08-31", "before the first partition 2026-09-01",
                  "UNMOGROWP_PARTITIONS_START"):
        assert words in message, message
    assert json.loads(result.cursor)["modified"] == 1000  # reported once, not on every tick
    again, _ = evaluate(defs, str(store.path), result.cursor)
    assert isinstance(again, dg.SkipReason)

    # with files in range, only those are requested
    write(store, event_key("com.a", datetime(2026, 8, 31, 22, tzinfo=UTC), "early2"), 1001)
    write(store, event_key("com.a", datetime(2026, 9, 1, 0, tzinfo=UTC), "first"), 1001)
    mixed, _ = evaluate(defs, str(store.path), result.cursor)
    assert [(r.job_name, r.partition_key) for r in mixed.run_requests] == [(EVENTS_JOB, "2026-09-01-00:00")]


def test_locally_the_partitions_start_where_the_landing_data_starts(tmp_path):
    """Unset UNMOGROWP_PARTITIONS_START: 2017 data gets partitions, and the sensor requests them."""
    store = LandingStore(str(tmp_path / "landing"))  # the default landing of UNMOGROWP_HOME
    write(store, event_key("com.a", datetime(2017, 3, 1, 5, tzinfo=UTC), "b1"), 1000)
    defs = build_definitions(load_settings({"UNMOGROWP_HOME": str(tmp_path)}))
    for job in (EVENTS_JOB, COST_JOB):
        assert defs.resolve_job_def(job).partitions_def.start == datetime(2017, 3, 1, tzinfo=UTC)
    result, _ = evaluate(defs, str(store.path))
    assert [(r.job_name, r.partition_key) for r in result.run_requests] == [(EVENTS_JOB, "2017-03-01-05:00")]


def test_schedules_target_the_ingest_jobs(tmp_path):
    defs = build_definitions(load_settings({"UNMOGROWP_HOME": str(tmp_path)}))
    hourly = defs.resolve_schedule_def("hourly_events")
    assert hourly.job_name == EVENTS_JOB and hourly.cron_schedule == "5 * * * *"
    nightly = defs.resolve_schedule_def("nightly_cost")
    assert nightly.job_name == COST_JOB and nightly.cron_schedule == "0 2 * * *"
    ctx = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 9, 2, 0, 5, tzinfo=UTC))
    [req] = hourly.evaluate_tick(ctx).run_requests
    assert req.partition_key == "2026-09-01-23:00"


def test_restatement_schedules_rerun_recent_ranges_as_one_run(tmp_path):
    from assets.partitions import RANGE_END, RANGE_START
    from orchestration.definitions import ATTRIBUTION_JOB, DAILY_MARTS_JOB

    defs = build_definitions(load_settings({"UNMOGROWP_HOME": str(tmp_path)}))
    hourly = defs.resolve_schedule_def("hourly_attribution")
    [req] = hourly.evaluate_tick(dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 9, 20, 7, 20, tzinfo=UTC))).run_requests
    assert hourly.job_name == ATTRIBUTION_JOB and req.partition_key == "2026-09-20-06:00"

    week = defs.resolve_schedule_def("nightly_attribution_restatement")
    [req] = week.evaluate_tick(dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 9, 20, 3, 0, tzinfo=UTC))).run_requests
    assert week.job_name == ATTRIBUTION_JOB
    assert (req.tags[RANGE_START], req.tags[RANGE_END]) == ("2026-09-12-03:00", "2026-09-20-02:00")

    marts = defs.resolve_schedule_def("nightly_marts")
    [req] = marts.evaluate_tick(dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 9, 20, 3, 30, tzinfo=UTC))).run_requests
    # 31 days back, but never before the first partition
    assert marts.job_name == DAILY_MARTS_JOB
    assert (req.tags[RANGE_START], req.tags[RANGE_END]) == ("2026-09-01", "2026-09-19")
    early = marts.evaluate_tick(dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 9, 1, 3, 30, tzinfo=UTC)))
    assert not early.run_requests and early.skip_message


def test_sensor_requests_the_window_a_bad_landing_key_is_quarantined_in(tmp_path):
    """Objects outside the layout are not ignored: the sensor requests the window ingestion records them in."""
    defs = build_definitions(load_settings({"UNMOGROWP_HOME": str(tmp_path)}))
    store = LandingStore(str(tmp_path / "landing"))
    write(store, "events/app_id=com.a/dt=2026-09-01/hr=24/b1.json.gz", 1000)  # hour out of range: hour 00
    write(store, "events/app_id=com.a/dt=2026-09-01/hr=07/notes.txt", 1000)  # bad name: the hour it names
    write(store, "cost/media_source=bad net/dt=2026-09-02/x.json.gz", 1000)  # bad network: the date it names
    result, _ = evaluate(defs, str(store.path))
    reqs = {(r.job_name, r.partition_key) for r in result.run_requests}
    assert reqs == {(EVENTS_JOB, "2026-09-01-00:00"), (EVENTS_JOB, "2026-09-01-07:00"), (COST_JOB, "2026-09-02")}
