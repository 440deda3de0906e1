"""Runs launched as the UI, schedules, sensors and `dagster job launch` launch them: run queue →
daemon → run launcher → a run worker of its own (the rest of the suite uses `execute_in_process`)."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import REPO
from tests.orchestration.conftest import (
    COST_DATE,
    LAUNCH_HOUR,
    RUN_TIMEOUT_S,
    SENSOR_HOURS,
    copy_hours,
    event_files,
    landing_lines,
)

pytestmark = [pytest.mark.slow,
              # dagster_graphql's client calls gql the old way
              pytest.mark.filterwarnings("ignore:Using variable_values and operation_name:DeprecationWarning")]

EVENTS_JOB, COST_JOB, DBT_SETUP_JOB = "ingest_events_job", "ingest_cost_job", "dbt_setup_job"
MODELS = REPO / "dbt_project" / "models"
STAGING = sorted(p.relative_to(MODELS).with_suffix("").as_posix() for p in (MODELS / "staging").rglob("*.sql"))
STAGING_VIEWS = sorted(m.rsplit("/", 1)[1] for m in STAGING)  # asset keys: the model's folders and name
SEEDS = {f"config/{p.stem}" for p in (REPO / "dbt_project" / "seeds").glob("*.csv")}
HOUR_KEY = "%Y-%m-%d-%H:00"
TICK_TIMEOUT_S = 150  # the scheduler daemon evaluates at the top of each minute; a sensor every 60 s

TICKS = """query($sel: %(type)sSelector!) { %(kind)sOrError(%(kind)sSelector: $sel) { __typename
  ... on %(type)s { %(kind)sState { id selectorId status
    ticks(limit: 10) { tickId status timestamp runIds runKeys skipReason cursor error { message stack } } } } } }"""


def _window(hour: str) -> dict:
    start = datetime.strptime(hour, HOUR_KEY)
    return {"s": start, "e": start + timedelta(hours=1)}


def assert_events_ingested(stack, run_id: str, hour: str) -> dict:
    """bronze has every landed line of the hour, silver accounts for each, raw.events holds silver's rows."""
    meta = stack.materializations(run_id)
    bronze, silver, loaded = meta["bronze_events"], meta["silver_events"], meta["clickhouse_events"]
    lines = landing_lines(stack.landing, [hour])
    assert (bronze["lines"], bronze["files_loaded"]) == (lines, len(event_files(stack.landing, hour)))
    assert silver["landed"] == lines == silver["loaded"] + silver["duplicates"] + silver["quarantined"]
    checks = stack.check_results(run_id)
    assert checks["silver_events:reconciles"] and all(checks.values()), checks
    rows = stack.clickhouse().command(
        "SELECT count() FROM raw.events WHERE landing_hour >= {s:DateTime64(3)} AND landing_hour < {e:DateTime64(3)}",
        parameters=_window(hour))
    assert loaded["rows"] == silver["loaded"] == rows
    return meta


def test_jobs_launched_through_graphql_and_the_command_line(stack):
    """A partitioned job from GraphQL (the UI's Launch), another from `dagster job launch`, then the
    unpartitioned dbt setup over what they loaded."""
    events_id = stack.client.submit_job_execution(EVENTS_JOB, tags={"dagster/partition": LAUNCH_HOUR})
    cost_id = stack.launch_cli(COST_JOB, {"dagster/partition": COST_DATE})

    events = stack.assert_success(events_id)
    assert (events.job_name, events.tags["dagster/partition"]) == (EVENTS_JOB, LAUNCH_HOUR)
    meta = assert_events_ingested(stack, events_id, LAUNCH_HOUR)
    assert meta["bronze_events"]["lines"] > 500

    cost = stack.assert_success(cost_id)
    assert (cost.job_name, cost.tags["dagster/partition"]) == (COST_JOB, COST_DATE)
    meta = stack.materializations(cost_id)
    cost_files = list(stack.landing.glob(f"cost/media_source=*/dt={COST_DATE}/*"))
    assert meta["cost_reports"]["files_loaded"] == len(cost_files) > 0
    rows = stack.clickhouse().command("SELECT count() FROM raw.cost WHERE cost_date = {d:Date32}",
                                      parameters={"d": datetime.strptime(COST_DATE, "%Y-%m-%d").date()})
    assert meta["clickhouse_cost"]["rows"] == rows > 0
    assert all(stack.check_results(cost_id).values())

    setup_id = stack.client.submit_job_execution(DBT_SETUP_JOB)
    setup = stack.assert_success(setup_id)
    assert "dagster/partition" not in setup.tags
    checks = stack.check_results(setup_id)  # the dbt tests of the seeds and staging models
    assert all(checks.values()), {k: v for k, v in checks.items() if not v}
    assert {k.rsplit(":", 1)[0] for k in checks} >= set(STAGING), checks
    materialized = set(stack.materializations(setup_id))
    assert set(STAGING) | SEEDS <= materialized, materialized
    views = stack.clickhouse().query(
        "SELECT name FROM system.tables WHERE engine = 'View' AND name IN {n:Array(String)}",
        parameters={"n": STAGING_VIEWS}).result_rows
    assert sorted(name for (name,) in views) == STAGING_VIEWS


# -- the daemon's ticks ---------------------------------------------------------------------------
def _ticks(stack, kind: str, name: str) -> tuple[dict, list[dict]]:
    data = stack.graphql(TICKS % {"kind": kind, "type": kind.capitalize()},
                         {"sel": stack.selector(kind, name)})[f"{kind}OrError"]
    assert data["__typename"] == kind.capitalize(), data
    state = data[f"{kind}State"]
    return state, sorted(state["ticks"], key=lambda t: t["timestamp"])


def _wait_tick(stack, kind: str, name: str, after: float = 0.0) -> dict:
    """The first finished tick (not STARTED) later than ``after``."""
    deadline = time.monotonic() + TICK_TIMEOUT_S
    while time.monotonic() < deadline:
        _state, ticks = _ticks(stack, kind, name)
        done = [t for t in ticks if t["timestamp"] > after and t["status"] != "STARTED"]
        if done:
            return done[0]
        time.sleep(1)
    pytest.fail(f"no {kind} tick of {name} within {TICK_TIMEOUT_S} s: {_ticks(stack, kind, name)}\n{stack.logs()}")


def _start_backdated_schedule(stack, name: str) -> datetime:
    """Start the schedule as the UI does, then move its start an hour back: the scheduler daemon
    catches up the tick it missed (hh:05) on its next evaluation. Returns that tick's time."""
    from dagster._core.scheduler.instigation import InstigatorType, ScheduleInstigatorData

    while not 5 <= time.time() % 60 <= 45:  # between two evaluations (top of the minute)
        time.sleep(0.5)
    res = stack.graphql("""mutation($sel: ScheduleSelector!) { startSchedule(scheduleSelector: $sel) {
        __typename ... on ScheduleStateResult { scheduleState { status } } ... on PythonError { message } } }""",
                        {"sel": stack.selector("schedule", name)})["startSchedule"]
    assert res["__typename"] == "ScheduleStateResult" and res["scheduleState"]["status"] == "RUNNING", res
    [state] = [s for s in stack.instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE)
               if s.instigator_name == name]
    now = datetime.now(UTC)
    tick = now.replace(minute=5, second=0, microsecond=0)
    tick -= timedelta(hours=1) if tick > now else timedelta(0)
    data = state.instigator_data
    stack.instance.update_instigator_state(state.with_data(
        ScheduleInstigatorData(data.cron_schedule, start_timestamp=tick.timestamp() - 60)))
    return tick


def _sensor_cursor(landing) -> str:
    """The landing sensor's cursor for everything landed so far (its high-water mark)."""
    files = {p.relative_to(landing).as_posix(): p.stat().st_mtime for p in landing.rglob("*") if p.is_file()}
    top = max(files.values())
    return json.dumps({"modified": top, "keys": sorted(k for k, m in files.items() if m == top)})


@pytest.fixture(scope="module", autouse=True)
def ticking(stack):
    """hourly_events and landing_sensor, started before the module's first test so that the daemon's
    waits (the top of the minute, the sensor's 60 s interval) overlap the other launches; stopped at the end."""
    mark = _sensor_cursor(stack.landing)
    res = stack.graphql("""mutation($sel: SensorSelector!, $c: String) {
        setSensorCursor(sensorSelector: $sel, cursor: $c) { __typename ... on PythonError { message } } }""",
                        {"sel": stack.selector("sensor", "landing_sensor"), "c": mark})
    assert res["setSensorCursor"]["__typename"] == "Sensor", res
    new_keys = copy_hours(stack.source_landing, stack.landing, SENSOR_HOURS, keep_mtime=False)
    assert min((stack.landing / k).stat().st_mtime for k in new_keys) > json.loads(mark)["modified"]
    res = stack.graphql("""mutation($sel: SensorSelector!) { startSensor(sensorSelector: $sel) { __typename
        ... on Sensor { sensorState { status } } ... on PythonError { message } } }""",
                        {"sel": stack.selector("sensor", "landing_sensor")})["startSensor"]
    assert res["__typename"] == "Sensor" and res["sensorState"]["status"] == "RUNNING", res
    tick = _start_backdated_schedule(stack, "hourly_events")
    yield tick, new_keys
    sensor, _ = _ticks(stack, "sensor", "landing_sensor")
    schedule, _ = _ticks(stack, "schedule", "hourly_events")
    stack.graphql("mutation($o: String, $s: String) { stopSensor(jobOriginId: $o, jobSelectorId: $s) { __typename } }",
                  {"o": sensor["id"], "s": sensor["selectorId"]})
    stack.graphql("""mutation($o: String, $s: String) { stopRunningSchedule(scheduleOriginId: $o,
        scheduleSelectorId: $s) { __typename } }""", {"o": schedule["id"], "s": schedule["selectorId"]})


def test_schedule_tick_evaluated_by_the_daemon(stack, ticking):
    """The daemon's catch-up tick of hourly_events launches the previous hour's partition; it runs
    (that hour landed nothing: an empty hour loads and reconciles to zero)."""
    tick_time, _ = ticking
    tick = _wait_tick(stack, "schedule", "hourly_events")
    assert tick["status"] == "SUCCESS", tick
    assert tick["timestamp"] == tick_time.timestamp()
    [run_id] = tick["runIds"]
    run = stack.assert_success(run_id)
    hour = (tick_time.replace(minute=0) - timedelta(hours=1)).strftime(HOUR_KEY)
    assert run.job_name == EVENTS_JOB
    assert run.tags["dagster/partition"] == hour and run.tags["dagster/schedule_name"] == "hourly_events"
    meta = assert_events_ingested(stack, run_id, hour)
    assert meta["bronze_events"]["lines"] == 0


def test_sensor_ticks_evaluated_by_the_daemon(stack, ticking):
    """landing_sensor requests one run per landing hour with new files, and nothing on its next tick."""
    _, new_keys = ticking
    tick = _wait_tick(stack, "sensor", "landing_sensor")
    assert tick["status"] == "SUCCESS", tick
    runs = {run_id: stack.assert_success(run_id) for run_id in tick["runIds"]}
    assert sorted(r.tags["dagster/partition"] for r in runs.values()) == sorted(SENSOR_HOURS)
    assert {r.job_name for r in runs.values()} == {EVENTS_JOB}
    assert all(r.tags["dagster/sensor_name"] == "landing_sensor" for r in runs.values())
    for run_id, run in runs.items():
        assert_events_ingested(stack, run_id, run.tags["dagster/partition"])
    assert json.loads(tick["cursor"])["modified"] == max((stack.landing / k).stat().st_mtime for k in new_keys)

    second = _wait_tick(stack, "sensor", "landing_sensor", after=tick["timestamp"])
    assert second["status"] == "SKIPPED" and not second["runIds"], second
    assert second["skipReason"].startswith("no landing files after"), second


def test_a_held_clickhouse_slot_holds_back_the_next_warehouse_step(stack):
    """The instance allows one step at a time in the `clickhouse` pool: while another run holds the
    slot, a cost run does not start `clickhouse_cost` (the run waits in the queue or at that step);
    once the slot is freed it goes on and succeeds."""
    import dagster as dg

    storage = stack.instance.event_log_storage
    storage.initialize_concurrency_limit_to_default("clickhouse")
    assert storage.get_concurrency_info("clickhouse").slot_count == 1
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not storage.claim_concurrency_slot("clickhouse", "a-backfill-run", "dbt_daily").is_claimed:
        assert time.monotonic() < deadline, "the clickhouse slot never came free"  # another test's run holds it
        time.sleep(1)
    try:
        run_id = stack.client.submit_job_execution(COST_JOB, tags={"dagster/partition": COST_DATE})
        time.sleep(20)  # a step that could run would have started by now
        assert "clickhouse_cost" not in _started_steps(stack, run_id), stack.run_events(run_id)
        assert not stack.instance.get_run_by_id(run_id).is_finished
        freed_at = time.time()
    finally:
        storage.free_concurrency_slot_for_step("a-backfill-run", "dbt_daily")
    stack.assert_success(run_id)
    [start] = [e for e in stack.instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
               if e.step_key == "clickhouse_cost"]
    assert start.timestamp >= freed_at


def _step_events(stack, run_id: str, kind) -> set[str]:
    return {e.step_key for e in stack.instance.all_logs(run_id, of_type=kind)}


def _started_steps(stack, run_id: str) -> set[str]:
    import dagster as dg

    return _step_events(stack, run_id, dg.DagsterEventType.STEP_START)


def _finished_steps(stack, run_id: str) -> set[str]:
    import dagster as dg

    return _step_events(stack, run_id, dg.DagsterEventType.STEP_SUCCESS)


def test_a_failed_run_is_recorded_by_the_failure_sensor(stack):
    """run_failure_alerts (running by default, evaluated by the daemon) writes the failed run, its
    failed step and the error's first line to UNMOGROWP_HOME/alerts/run_failures.jsonl."""
    from orchestration.sensors import ALERTS_FILE

    missing = stack.home / "privacy" / "erasure_requests" / "no-such-request.json"
    run_id = stack.client.submit_job_execution(
        "erasure_job", run_config={"ops": {"erase_subject": {"config": {"request_file": str(missing)}}}})
    assert stack.wait_run(run_id).status.value == "FAILURE"
    alerts, deadline = stack.home / ALERTS_FILE, time.monotonic() + TICK_TIMEOUT_S
    while True:
        records = [json.loads(line) for line in alerts.read_text().splitlines()] if alerts.exists() else []
        mine = [r for r in records if r["run_id"] == run_id]
        if mine:
            break
        assert time.monotonic() < deadline, f"no failure record for {run_id} in {alerts}\n{stack.logs()}"
        time.sleep(2)
    [record] = mine
    assert record["job"] == "erasure_job" and record["status"] == "FAILURE" and record["launched_by"] == "manual"
    assert [s["step"] for s in record["steps"]] == ["erase_subject"]
    assert "no-such-request.json" in record["steps"][0]["error"]
