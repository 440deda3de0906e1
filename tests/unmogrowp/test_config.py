import pytest

from unmogrowp.config import ConfigError, load_settings


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
