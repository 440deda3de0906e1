"""`unmogrowp run`: every ingestion asset through Dagster for a range, twice, same result."""

from dataclasses import replace
from datetime import UTC, datetime

from orchestration.pipeline import format_summary, run_pipeline
from unmogrowp.config import load_settings


def test_pipeline_materializes_the_range_idempotently(generated, clickhouse_server, clickhouse_home, ch, tmp_path,
                                                     monkeypatch):
    out, manifest = generated
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    settings = load_settings({"UNMOGROWP_HOME": str(clickhouse_home),
                              "UNMOGROWP_CLICKHOUSE_PORT": str(clickhouse_server.port),
                              "UNMOGROWP_LAKE_URI": (tmp_path / "lake").as_uri()})
    start, end = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 9, 7, tzinfo=UTC)  # late uploads: +3 d
    first = run_pipeline(settings, start, end, landing_uri=str(out / "landing"))
    assert first.success and first.checks == {"silver_events:reconciles": True}
    silver = first.metadata["silver_events"]
    assert silver["landed"] == manifest["lines_written"]
    assert first.metadata["clickhouse_events"]["rows"] == silver["loaded"]
    assert ch.command("SELECT count() FROM raw.events") == silver["loaded"]
    assert ch.command("SELECT uniqExact(event_id) FROM raw.events") == silver["loaded"]
    assert ch.command("SELECT count() FROM raw.cost") == first.metadata["cost_reports"]["current_rows"] > 0

    second = run_pipeline(replace(settings), start, end, landing_uri=str(out / "landing"))
    assert second.success
    assert second.metadata["bronze_events"]["files_loaded"] == 0
    assert second.metadata["bronze_events"]["files_already_loaded"] == manifest["event_files"]
    assert second.metadata["silver_events"]["loaded"] == silver["loaded"]
    assert ch.command("SELECT count() FROM raw.events") == silver["loaded"]
    text = format_summary(second, start, end)
    assert "[OK]" in text and "check silver_events:reconciles: PASSED" in text
