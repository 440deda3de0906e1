"""Steps retry transient failures (lost connections, overloaded servers) with backoff, and only those."""

import threading
import time

import dagster as dg
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from assets.resources import ClickHouseResource
from assets.retries import MAX_RETRIES, is_transient, retry_transient
from assets.warehouse import warehouse_databases
from unmogrowp.clickhouse import manager
from unmogrowp.net import free_port


def test_transient_errors_are_told_apart_from_the_rest():
    refused = OperationalError("Error HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded "
                               "(Caused by NewConnectionError: [Errno 111] Connection refused)")
    assert is_transient(refused)
    assert is_transient(ConnectionResetError(104, "Connection reset by peer"))
    assert is_transient(RuntimeError("Database Error in model fct_installs (models/marts/...)\n"
                                      "  Code: 202. DB::Exception: Too many simultaneous queries"))
    try:
        try:
            raise TimeoutError("read timed out")
        except TimeoutError as inner:
            raise ValueError("loading raw.events failed") from inner
    except ValueError as chained:
        assert is_transient(chained)
    assert not is_transient(DatabaseError("Code: 62. DB::Exception: Syntax error: failed at position 8"))
    assert not is_transient(ValueError("install_ts is not a timestamp"))
    assert not is_transient(KeyError("media_source"))


def _events(result, kind):
    return [e for e in result.all_events if e.event_type == kind]


def test_a_lost_clickhouse_connection_is_retried_until_the_server_is_back(tmp_path):
    """`warehouse_databases` against a server that is down: the step fails, is retried with backoff,
    and succeeds once the server answers (started when the first retry is scheduled)."""
    port, instance = free_port(), dg.DagsterInstance.ephemeral()

    def start_after_the_first_failure():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if any(instance.all_logs(r.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)
                   for r in instance.get_runs()):
                manager.start(tmp_path, port)
                return
            time.sleep(0.2)

    starter = threading.Thread(target=start_after_the_first_failure)
    starter.start()
    try:
        result = dg.materialize([warehouse_databases], resources={"clickhouse": ClickHouseResource(port=port)},
                                instance=instance, raise_on_error=False)
        starter.join()
        assert result.success
        retries = _events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY)
        assert 1 <= len(retries) <= MAX_RETRIES
        assert result.asset_materializations_for_node("warehouse_databases")[0].metadata["databases"].value == \
            ["analytics", "raw"]
    finally:
        starter.join()
        manager.stop(tmp_path)


def test_other_errors_fail_at_once():
    calls = []

    @dg.asset
    @retry_transient
    def bad_rows(context: dg.AssetExecutionContext):
        calls.append(context.retry_number)
        raise ValueError("cost_date 2026-13-01 is not a date")

    result = dg.materialize([bad_rows], raise_on_error=False)
    assert not result.success and calls == [0]
    assert not _events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY)


@pytest.mark.parametrize("kind", ["plain", "generator"])
def test_the_decorator_keeps_the_signature_dagster_reads(kind):
    def plain(context: dg.AssetExecutionContext, clickhouse: ClickHouseResource):
        return dg.MaterializeResult()

    def generator(context: dg.AssetExecutionContext, clickhouse: ClickHouseResource):
        yield dg.MaterializeResult()

    fn = retry_transient({"plain": plain, "generator": generator}[kind])
    assert "clickhouse" in dg.asset(name=f"a_{kind}")(fn).required_resource_keys
