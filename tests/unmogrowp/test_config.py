import pytest

from unmogrowp.config import ConfigError, load_settings, settings_environ


def test_local_is_the_default(tmp_path):
    s = load_settings({"UNMOGROWP_HOME": str(tmp_path)})
    assert s.env == "local" and s.clickhouse.managed
    assert s.clickhouse.url == "http://127.0.0.1:18123"
    assert s.lake_uri == (tmp_path / "lake").as_uri()
    assert s.dbt_target == "local"


def test_port_override():
    assert load_settings({"UNMOGROWP_CLICKHOUSE_PORT": "19000"}).clickhouse.port == 19000


def test_prod_requires_its_connection_settings():
    with pytest.raises(ConfigError, match="CLICKHOUSE_HOST must be set"):
        load_settings({"LAKEHOUSE_ENV": "prod"})
    with pytest.raises(ConfigError, match="expected one of"):
        load_settings({"LAKEHOUSE_ENV": "qa"})


def test_settings_environ_round_trips(tmp_path):
    """The code server is started with settings_environ: it must rebuild exactly the same settings."""
    local = load_settings({"UNMOGROWP_HOME": str(tmp_path), "UNMOGROWP_CLICKHOUSE_PORT": "19999",
                           "UNMOGROWP_LANDING_URI": "s3://edge/landing", "UNMOGROWP_PARTITIONS_START": "2024-01-01",
                           "UNMOGROWP_RETENTION_RAW_DAYS": "7"})
    prod = load_settings({"LAKEHOUSE_ENV": "prod", "CLICKHOUSE_HOST": "ch.internal", "CLICKHOUSE_PASSWORD": "s3cret",
                          "CLICKHOUSE_SECURE": "false", "UNMOGROWP_LAKE_URI": "s3://lake/root",
                          "UNMOGROWP_LANDING_URI": "s3://edge/landing", "MLFLOW_TRACKING_URI": "http://mlflow:5000",
                          "FEAST_REDIS_CONNECTION": "redis:6379"})
    for settings in (local, prod):
        assert load_settings(settings_environ(settings)) == settings
    assert settings_environ(local)["MLFLOW_TRACKING_URI"] == ""  # set empty: a parent's value is not inherited
