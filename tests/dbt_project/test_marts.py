"""The dbt marts on generated traffic: ground truth, invariants, replay, and the dbt unit tests."""

import json
import subprocess
from datetime import timedelta

import pyarrow.parquet as pq

from assets.dbt_project import run_dbt_local
from unmogrowp import marts


def dbt(settings, *args: str) -> subprocess.CompletedProcess:
    return run_dbt_local(settings.clickhouse.port, *args)


def test_attribution_agrees_with_the_generators_ground_truth(pipeline_run, generated, ch):
    out, _ = generated
    agreement = marts.attribution_agreement(ch, pq.read_table(out / "answers" / "attribution_truth.parquet"))
    assert agreement["deterministic"]["installs"] > 300
    assert agreement["deterministic"]["agreement"] >= 0.99
    assert agreement["probabilistic"]["installs"] > 100
    assert agreement["probabilistic"]["agreement"] >= 0.95
    # designed-organic installs stay organic unless a fraud network flooded them (issue 5's job)
    assert agreement["organic"]["agreement"] >= 0.9


def test_every_install_has_exactly_one_status(pipeline_run, ch):
    installs = ch.command("SELECT count() FROM raw.events WHERE event_type = 'install'")
    assert ch.command("SELECT count() FROM marts.fct_installs") == installs
    assert ch.command("SELECT uniqExact(install_id) FROM marts.fct_installs") == installs
    statuses = dict(ch.query("SELECT attribution_status, count() FROM marts.fct_installs GROUP BY 1").result_rows)
    assert set(statuses) <= {"attributed", "organic", "rejected_fraud", "rejected_targeting"}
    assert statuses["attributed"] > statuses["organic"] > 0
    # injected clicks never win; their installs fall through
    assert ch.command("""SELECT count() FROM marts.fct_installs AS f
                         INNER JOIN staging.stg_sdk__installs AS i ON i.install_id = f.install_id
                         INNER JOIN staging.stg_sdk__touches AS t ON t.touch_id = f.winning_touch_id
                         WHERE t.touch_ts > i.install_begin_ts AND t.touch_type = 'click'""") == 0
    assert ch.command("SELECT count() FROM marts.fct_installs WHERE has(fraud_reasons, 'click_injection')") > 0


def test_multi_touch_credits_sum_to_the_conversion_value(pipeline_run, ch):
    rows = ch.query("""SELECT model, count() AS conversions, max(abs(credited - value)) AS worst
                       FROM (SELECT model, conversion_id, sum(credited_value) AS credited,
                                    any(conversion_value) AS value
                             FROM marts.fct_touch_credits GROUP BY model, conversion_id)
                       GROUP BY model ORDER BY model""").result_rows
    models = {m: (n, worst) for m, n, worst in rows}
    assert set(models) == {"first_touch", "last_touch", "linear", "markov", "position_based", "shapley", "time_decay"}
    assert len({n for n, _ in models.values()}) == 1  # every model credits every conversion
    assert all(worst < 1e-9 for _, worst in models.values())


def test_cohorts_retention_and_kpis(pipeline_run, ch):
    # every new, non-rejected install is in exactly one cohort
    members = ch.command("SELECT count() FROM marts.fct_installs WHERE install_kind = 'install' "
                         "AND attribution_status IN ('attributed', 'organic')")
    assert ch.command("SELECT sum(cohort_size) FROM marts.fct_cohort_retention "
                      "WHERE day_n = 0 AND day_mode = 'calendar'") == members
    assert ch.command("SELECT sum(installs) FROM marts.fct_cohort_kpis WHERE day_n = 0") == members
    # generated users come back with r(1) ≈ 0.36 (bots never do)
    d1 = ch.query("SELECT sum(active_users) / sum(cohort_size) FROM marts.fct_cohort_retention "
                  "WHERE day_n = 1 AND day_mode = 'elapsed_24h' AND is_mature").result_rows[0][0]
    assert 0.25 < d1 < 0.45
    # immature cells are NULL, never 0
    assert ch.command("SELECT countIf(retained_classic IS NOT NULL) FROM marts.fct_cohort_retention "
                      "WHERE NOT is_mature") == 0
    assert ch.command("SELECT countIf(NOT is_mature) FROM marts.fct_cohort_retention") > 0
    # cost reconciles: every unit of current spend is in the KPIs (dbt test assert_cohort_cost_reconciles too)
    assert ch.query("SELECT sum(cost) FROM marts.fct_cohort_kpis WHERE day_n = 0").result_rows[0][0] > 0
    roas = ch.query("SELECT sum(cumrev) / sum(cost) FROM marts.fct_cohort_kpis "
                    "WHERE day_n = 1 AND is_mature AND media_source != 'organic'").result_rows[0][0]
    assert 0 < roas < 5


def test_install_activity_revenue_equals_the_revenue_events(pipeline_run, ch):
    """fs_install_activity_daily (the LTV frame: features at day E - 1, labels at day H - 1) and
    fct_revenue_events (reporting currency USD) convert the same events at the same day's rates: per
    install and day over, the cumulative revenue agrees."""
    rows, paying, differ = ch.query("""
        SELECT count(), countIf(a.revenue_usd_cum > 0), countIf(abs(a.revenue_usd_cum - ifNull(r.revenue, 0)) > 1e-6)
        FROM marts.fs_install_activity_daily AS a
        LEFT JOIN (
            SELECT a.install_id AS install_id, a.day_n AS day_n, sumIf(e.revenue, e.day_n <= a.day_n) AS revenue
            FROM marts.fs_install_activity_daily AS a
            INNER JOIN marts.fct_revenue_events AS e ON e.install_id = a.install_id
            GROUP BY install_id, day_n
        ) AS r ON r.install_id = a.install_id AND r.day_n = a.day_n""").result_rows[0]
    assert rows > 1000 and paying > 100 and differ == 0


def test_reengagements(pipeline_run, ch):
    rows = dict(ch.query("SELECT is_reengagement, count() FROM marts.fct_reengagements GROUP BY 1").result_rows)
    assert rows.get(True, 0) > 0 and rows.get(False, 0) > 0
    # one winning touch per re-open; both sources credited by default
    assert ch.command("SELECT count() FROM marts.fct_reengagements WHERE is_reengagement "
                      "AND NOT has(credited_media_sources, media_source)") == 0
    assert ch.command("SELECT countIf(is_reengagement AND NOT passes_inactivity_gate) "
                      "FROM marts.fct_reengagements") == 0


def test_changing_a_var_replays_attribution_with_a_new_config_hash(pipeline_run, ch):
    settings = pipeline_run[0]
    hashes = ch.query("SELECT DISTINCT attribution_config_hash FROM marts.fct_installs").result_rows
    assert len(hashes) == 1
    attributed = ch.command("SELECT countIf(attribution_status = 'attributed') FROM marts.fct_installs")
    narrow = json.dumps({"unmogrowp__click_window_hours": 1, "unmogrowp__impression_window_hours": 1})
    run = dbt(settings, "run", "--select", "fct_installs", "--vars", narrow)
    assert run.returncode == 0, run.stdout[-3000:]
    replayed = ch.query("SELECT DISTINCT attribution_config_hash FROM marts.fct_installs").result_rows
    assert len(replayed) == 1 and replayed != hashes
    assert ch.command("SELECT countIf(attribution_status = 'attributed') FROM marts.fct_installs") < attributed
    run = dbt(settings, "run", "--select", "fct_installs")
    assert run.returncode == 0, run.stdout[-3000:]
    assert ch.query("SELECT DISTINCT attribution_config_hash FROM marts.fct_installs").result_rows == hashes
    assert ch.command("SELECT countIf(attribution_status = 'attributed') FROM marts.fct_installs") == attributed


def test_cohort_maturity_is_judged_per_app_and_capped_by_the_as_of(pipeline_run, ch):
    """int_cohorts__as_of: one row per app, its latest event, capped by unmogrowp__as_of; the marts
    built with an as-of mature nothing after it, and rebuilt without one are as before."""
    settings = pipeline_run[0]

    def as_of_rows(dbt_vars: dict | None = None) -> dict:
        args = ["compile", "--quiet", "--inline", "select app_id, as_of_ts from {{ ref('int_cohorts__as_of') }}"]
        compiled = dbt(settings, *args, *(["--vars", json.dumps(dbt_vars)] if dbt_vars else []))
        assert compiled.returncode == 0, compiled.stdout[-3000:]
        return dict(ch.query(compiled.stdout).result_rows)

    latest = dict(ch.query("SELECT app_id, max(event_ts) FROM raw.events GROUP BY app_id").result_rows)
    assert as_of_rows() == latest
    cap = (min(latest.values()) - timedelta(days=2)).replace(microsecond=0)
    capped = {"unmogrowp__as_of": f"{cap:%Y-%m-%d %H:%M:%S}"}
    assert as_of_rows(capped) == {app: min(ts, cap) for app, ts in latest.items()}

    mature = "SELECT countIf(is_mature) FROM marts.fct_cohort_retention"
    before = ch.command(mature)
    models = ["--select", "fct_cohort_retention fct_cohort_kpis fs_install_activity_daily"]
    run = dbt(settings, "run", *models, "--vars", json.dumps(capped))
    assert run.returncode == 0, run.stdout[-3000:]
    assert 0 < ch.command(mature) < before
    late = {"fct_cohort_retention": "day_mode = 'elapsed_24h' AND is_mature AND toDateTime64(install_date, 3, 'UTC') "
                                    "+ toIntervalDay(day_n + 1) > {cap:DateTime64(3, 'UTC')}",
            "fct_cohort_kpis": "is_mature AND toDateTime64(install_date, 3, 'UTC') + toIntervalDay(day_n + 1) "
                               "> {cap:DateTime64(3, 'UTC')}"}
    for model, where in late.items():
        assert ch.command(f"SELECT count() FROM marts.{model} WHERE {where}", parameters={"cap": cap}) == 0, model
    assert ch.command("SELECT count() FROM marts.fs_install_activity_daily "
                      "WHERE feature_ts > {cap:DateTime64(3, 'UTC')}", parameters={"cap": cap}) == 0
    run = dbt(settings, "run", *models)
    assert run.returncode == 0, run.stdout[-3000:]
    assert ch.command(mature) == before


def test_dbt_unit_tests_pass(pipeline_run):
    result = dbt(pipeline_run[0], "test", "--select", "test_type:unit")
    assert result.returncode == 0, result.stdout[-5000:]
    assert "ERROR=0" in result.stdout and "PASS=12" in result.stdout
