"""The retention limit: landing lines go after raw_days, full IPs become networks, silver rows go
after silver_days; ClickHouse's raw.events follows silver; a repeat changes nothing."""

from datetime import date

import pyarrow.compute as pc
import pytest

from orchestration.pipeline import launcher_for
from tests.conftest import private_clickhouse
from tests.faults.driver import ingest
from unmogrowp.clickhouse import manager
from unmogrowp.config import load_settings
from unmogrowp.ingest.events import BRONZE_EVENTS, QUARANTINE_EVENTS, SILVER_EVENTS
from unmogrowp.lake import Lake
from unmogrowp.privacy import retention
from unmogrowp.privacy.keys import DEFAULT_KEY, truncate_ip

POLICY = retention.RetentionPolicy(raw_days=3, silver_days=6)
AS_OF = date(2026, 9, 9)  # raw cutoff 09-06, silver cutoff 09-03


def _silver(lake):
    t = lake.read(SILVER_EVENTS, columns=["event_id", "landing_date", "ip"])
    return {e: (d, ip) for e, d, ip in zip(*(t[c].to_pylist() for c in t.column_names), strict=True)}


def _raw_events(client):
    return dict(client.query("SELECT event_id, ip FROM raw.events").result_rows)


def _key_rows(client):
    ips = client.query("SELECT event_id, match_value FROM raw.touch_keys WHERE match_kind = 'ip' "
                       "ORDER BY 1").result_rows
    touches = client.query("SELECT DISTINCT event_id FROM raw.touch_keys ORDER BY 1").result_rows
    installs = client.query("SELECT install_id FROM raw.install_keys ORDER BY 1").result_rows
    return ips, touches, installs


def _key_rows_expected(client):
    ips = client.query("SELECT event_id, ip FROM raw.events WHERE event_type IN ('click', 'impression') "
                       "AND device_id IS NULL AND ip IS NOT NULL ORDER BY 1").result_rows
    touches = client.query("SELECT event_id FROM raw.events WHERE event_type IN ('click', 'impression') "
                           "AND (device_id IS NOT NULL OR ip IS NOT NULL "
                           "OR (event_type = 'click' AND click_id IS NOT NULL)) ORDER BY 1").result_rows
    installs = client.query("SELECT event_id FROM raw.events WHERE event_type = 'install' ORDER BY 1").result_rows
    return ips, touches, installs


@pytest.fixture(scope="module")
def lakehouse(generated, tmp_path_factory):
    out, _ = generated
    home = tmp_path_factory.mktemp("retention")
    state, client = private_clickhouse(home)
    lake = Lake((home / "lake").as_uri())
    ingest(lake.uri(""), str(out / "landing"), state.port)
    yield home, lake, client
    manager.stop(home)


def test_retention_limit(lakehouse):
    home, lake, client = lakehouse
    before = _silver(lake)
    bronze_dates = set(pc.unique(lake.read(BRONZE_EVENTS, columns=["landing_date"])["landing_date"]).to_pylist())
    assert min(bronze_dates) < "2026-09-03" and max(bronze_dates) >= "2026-09-06"

    report = retention.apply(lake, client, AS_OF, POLICY)
    assert (report.raw_cutoff, report.silver_cutoff) == ("2026-09-06", "2026-09-03")

    for table in (BRONZE_EVENTS, QUARANTINE_EVENTS):
        dates = lake.read(table, columns=["landing_date"])["landing_date"].to_pylist()
        assert dates and min(dates) >= "2026-09-06", table
        assert report.deleted[table] > 0
    # vacuumed: no file of an old landing date is left, current or not
    for table in (BRONZE_EVENTS, QUARANTINE_EVENTS):
        old = [p for p in (home / "lake" / table).rglob("*.parquet")
               if str(p).split("landing_date=")[1][:10] < "2026-09-06"]
        assert old == [], table

    after = _silver(lake)
    expected = {e: (d, ip if d >= "2026-09-06" else truncate_ip(ip)) for e, (d, ip) in before.items()
                if d >= "2026-09-03"}
    assert after == expected
    assert report.deleted[SILVER_EVENTS] == len(before) - len(expected)
    truncated = sum(1 for d, ip in before.values() if "2026-09-03" <= d < "2026-09-06" and ip)
    assert report.ips_truncated == truncated > 0
    # ClickHouse holds exactly silver's rows and IPs
    assert _raw_events(client) == {e: ip for e, (_d, ip) in after.items()}
    # attribution's key tables hold raw.events' rows only, with the same (truncated) IPs
    assert _key_rows(client) == _key_rows_expected(client) and _key_rows(client)[0]

    # the repeat as the nightly schedule runs it: retention_job launched through the Dagster instance
    settings = load_settings({"UNMOGROWP_HOME": str(home), "UNMOGROWP_LAKE_URI": (home / "lake").as_uri(),
                              "UNMOGROWP_CLICKHOUSE_PORT": str(manager.status(home).port)})
    config = {"as_of": AS_OF.isoformat(), "raw_days": POLICY.raw_days, "silver_days": POLICY.silver_days}
    with launcher_for(settings) as launcher:
        again = launcher.wait(launcher.launch("retention_job", {"ops": {"apply_retention": {"config": config}}}))
    assert again.success, again.failures
    assert (again.outputs["apply_retention"]["deleted"], again.outputs["apply_retention"]["ips_truncated"]) == ({}, 0)
    assert _silver(lake) == after


def test_features_refuse_truncated_ips(lakehouse, spark):
    """IP features of days whose IPs are truncated cannot be recomputed: a clear error, not quietly
    different figures."""
    from unmogrowp.fraud.pipeline import build_features

    _home, lake, client = lakehouse
    with pytest.raises(ValueError, match="truncated by the retention limit"):
        build_features(spark, lake, client, date(2026, 9, 4), date(2026, 9, 4), privacy_key=DEFAULT_KEY)


def test_policy_is_validated():
    with pytest.raises(ValueError, match="raw_days <= silver_days"):
        retention.RetentionPolicy(raw_days=30, silver_days=7)
