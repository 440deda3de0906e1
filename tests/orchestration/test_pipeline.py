"""`unmogrowp run`: every asset through Dagster for a range, twice, same result."""

import os

from assets.partitions import RANGE_END, RANGE_START
from data_quality import runner
from orchestration.pipeline import format_summary, run_pipeline

MARTS = ("marts.fct_installs", "marts.fct_cohort_retention", "marts.fct_cohort_kpis", "marts.fct_touch_credits")


def _checksums(ch) -> dict[str, tuple[int, int]]:
    return {t: tuple(ch.query(f"SELECT count(), sum(cityHash64(*)) FROM {t}").result_rows[0]) for t in MARTS}


def test_pipeline_materializes_the_range_idempotently(pipeline_run, generated, ch, monkeypatch):
    settings, first, landing, (start, end), op_config = pipeline_run
    _out, manifest = generated
    assert first.success, first.failures
    assert first.checks["silver_events:reconciles"] and all(first.checks.values())
    assert len(first.checks) > 20  # dbt tests arrive as asset checks
    gx_checks = {k.split(":")[-1] for k in first.checks if ":gx_" in k}
    assert gx_checks == {"gx_bronze_events", "gx_silver_events", "gx_silver_known_networks", "gx_cost_current",
                         "gx_fraud_install_features", "gx_fraud_feature_drift", "gx_attribution_rate",
                         "gx_retention_monotonic"}
    assert runner.docs_index(settings.home).is_file()
    silver = first.metadata["silver_events"]
    assert silver["landed"] == manifest["lines_written"]
    assert first.metadata["clickhouse_events"]["rows"] == silver["loaded"]
    assert ch.command("SELECT count() FROM raw.events") == silver["loaded"]
    assert ch.command("SELECT uniqExact(event_id) FROM raw.events") == silver["loaded"]
    assert ch.command("SELECT count() FROM raw.cost") == first.metadata["cost_reports"]["current_rows"] > 0
    assert "marts/attribution/fct_installs" in first.metadata
    assert first.metadata["mta_algorithmic_credits"]["rows"] > 0
    before = _checksums(ch)
    assert all(n > 0 for n, _ in before.values())

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    second = run_pipeline(settings.model_copy(), start, end, landing_uri=landing, op_config=op_config)
    assert second.success, second.failures
    assert second.metadata["bronze_events"]["files_loaded"] == 0
    assert second.metadata["bronze_events"]["files_already_loaded"] == manifest["event_files"]
    assert second.metadata["silver_events"]["loaded"] == silver["loaded"]
    assert ch.command("SELECT count() FROM raw.events") == silver["loaded"]
    assert _checksums(ch) == before  # every mart row identical after the re-run
    text = format_summary(second, start, end)
    assert "[OK]" in text and " 0 failed" in text


def test_runs_are_in_the_instance_as_the_ui_shows_them(pipeline_run):
    """`unmogrowp run` launches through the instance's run launcher: every run is recorded with its
    job, partition range and code location (so the UI lists it and can re-execute it)."""
    import dagster as dg

    from orchestration.launcher import LOCATION_NAME
    from orchestration.pipeline import PIPELINE_JOBS, dagster_home

    settings, summary, *_ = pipeline_run
    instance = dg.DagsterInstance.from_config(str(dagster_home(settings)))
    runs = {r.run_id: r for r in instance.get_runs(dg.RunsFilter(run_ids=summary.run_ids))}
    assert [runs[i].job_name for i in summary.run_ids] == list(PIPELINE_JOBS)
    assert {r.status for r in runs.values()} == {dg.DagsterRunStatus.SUCCESS}
    events = next(r for r in runs.values() if r.job_name == "ingest_events_job")
    assert (events.tags[RANGE_START], events.tags[RANGE_END]) == ("2026-09-01-00:00", "2026-09-08-23:00")
    assert all(r.remote_job_origin.location_name == LOCATION_NAME for r in runs.values())
    # launched, not executed in process: the run worker's pid differs from this process
    launched = instance.all_logs(events.run_id, of_type=dg.DagsterEventType.RUN_START)
    assert launched and launched[0].dagster_event.pid != os.getpid()
    # the materializations are recorded per partition, so the partition status shows them
    hours = instance.get_materialized_partitions(dg.AssetKey("silver_events"))
    assert "2026-09-01-10:00" in hours and "2026-09-08-23:00" in hours


def test_progress_shows_runs_done_and_the_current_step():
    import io

    import dagster as dg

    from orchestration.launcher import Progress, RunResult

    out = io.StringIO()
    progress = Progress(2, stream=out)
    progress.start("ingest_events_job", "c7d89443-5f0c")
    progress.step("bronze_events", "STEP_START")
    progress.step("bronze_events", "STEP_SUCCESS")
    progress.finish(RunResult("c7d89443-5f0c", "ingest_events_job", dg.DagsterRunStatus.SUCCESS, 12.0))
    lines = out.getvalue().splitlines()
    assert lines[-2].startswith("[0/2] ingest_events_job: bronze_events done in")
    assert lines[-1] == "[1/2] ingest_events_job SUCCESS in 12 s (run c7d89443-5f0c)"
