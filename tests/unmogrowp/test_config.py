import pytest
from pydantic import ValidationError

from unmogrowp.config import (
    DEFAULT_PARTITIONS_START,
    ConfigError,
    first_landing_date,
    load_settings,
    settings_environ,
    with_landing,
)


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
    s3 = load_settings({"UNMOGROWP_HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK",
                        "AWS_ENDPOINT_URL": "http://minio:9000", "SPARK_REMOTE": "sc://spark:15002",
                        "UNMOGROWP_SPARK_DRIVER_MEMORY": "2g", "UNMOGROWP_DEVICE_KEY_SALT": "k",
                        "UNMOGROWP_AUDIT_SALT": "a"})
    for settings in (local, prod, s3):
        assert load_settings(settings_environ(settings)) == settings
    assert settings_environ(local)["MLFLOW_TRACKING_URI"] == ""  # set empty: a parent's value is not inherited
    assert "AWS_SECRET_ACCESS_KEY" not in settings_environ(local)  # secrets only when set
    assert "SPARK_REMOTE" not in settings_environ(local)  # pyspark reads it: present means Spark Connect
    assert settings_environ(s3)["AWS_SECRET_ACCESS_KEY"] == "SK"


def test_only_the_given_mapping_is_read(tmp_path, monkeypatch):
    monkeypatch.setenv("UNMOGROWP_CLICKHOUSE_PORT", "19001")
    monkeypatch.setenv("UNMOGROWP_SPARK_MASTER", "yarn")
    assert load_settings({}).clickhouse.port == 18123 and load_settings({}).spark.master == "local[*]"
    assert load_settings().clickhouse.port == 19001 and load_settings().spark.master == "yarn"
    with pytest.raises(ValidationError):
        load_settings().model_copy().__setattr__("env", "prod")  # frozen


def test_spark_privacy_and_object_store_settings(tmp_path):
    s = load_settings({"UNMOGROWP_HOME": str(tmp_path)})
    assert (s.spark.remote, s.spark.master, s.spark.driver_memory) == ("", "local[*]", "6g")
    assert s.privacy_key == s.audit_salt == "local-dev-salt"
    assert load_settings({"UNMOGROWP_DEVICE_KEY_SALT": "k"}).audit_salt == "k"  # the audit salt follows the key
    assert load_settings({"UNMOGROWP_DEVICE_KEY_SALT": "k", "UNMOGROWP_AUDIT_SALT": "a"}).audit_salt == "a"
    assert "local-dev-salt" not in repr(s)  # secrets stay out of logs
    assert s.storage_options(s.lake_uri) == {}  # a local lake takes no options
    assert s.storage_options("s3://lake/root") == {"aws_region": "us-east-1"}
    aws = load_settings({"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_SESSION_TOKEN": "T",
                         "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://minio:9000"})
    assert aws.storage_options("s3://lake/root") == {
        "aws_access_key_id": "AK", "aws_secret_access_key": "SK", "aws_session_token": "T",
        "aws_region": "eu-west-1", "aws_endpoint_url": "http://minio:9000", "aws_allow_http": "true"}
    both = load_settings({"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ALLOW_HTTP": "false"})
    assert both.storage_options("s3://b") == {"aws_region": "us-west-2", "aws_allow_http": "false"}


def _dt_dirs(root, *keys):
    for key in keys:
        (root / key).mkdir(parents=True)
    return root


def test_partitions_start_locally_follows_the_landing_zones_first_date(tmp_path):
    landing = _dt_dirs(tmp_path / "landing", "events/app_id=a/dt=2017-03-02/hr=00", "events/app_id=b/dt=2017-03-01",
                       "cost/media_source=n/dt=2017-02-28", "events/app_id=a/dt=2017-13-40", "events/app_id=a/notes")
    for uri in (str(landing), landing.as_uri()):
        s = load_settings({"UNMOGROWP_HOME": str(tmp_path), "UNMOGROWP_LANDING_URI": uri})
        assert (s.partitions_start, s.partitions_start_source) == ("2017-02-28", "landing")
    # the default landing (UNMOGROWP_HOME/landing) too; an empty or missing one gives the default date
    assert load_settings({"UNMOGROWP_HOME": str(tmp_path)}).partitions_start == "2017-02-28"
    assert load_settings({"UNMOGROWP_HOME": str(tmp_path / "other")}).partitions_start == DEFAULT_PARTITIONS_START
    # the variable wins; staging/prod and S3 landing zones never list
    s = load_settings({"UNMOGROWP_HOME": str(tmp_path), "UNMOGROWP_PARTITIONS_START": "2020-01-01"})
    assert (s.partitions_start, s.partitions_start_source) == ("2020-01-01", "UNMOGROWP_PARTITIONS_START")
    staging = load_settings({"LAKEHOUSE_ENV": "staging", "CLICKHOUSE_HOST": "ch", "UNMOGROWP_LAKE_URI": "s3://l/r",
                             "UNMOGROWP_LANDING_URI": str(landing)})
    assert (staging.partitions_start, staging.partitions_start_source) == (DEFAULT_PARTITIONS_START, "default")
    assert first_landing_date("s3://edge/landing") is None


def test_a_resolved_partitions_start_is_pinned_for_started_processes(tmp_path):
    """The code server and its run workers get the date the command resolved, even if earlier data lands."""
    landing = _dt_dirs(tmp_path / "landing", "events/app_id=a/dt=2017-03-01")
    settings = load_settings({"UNMOGROWP_HOME": str(tmp_path)})
    _dt_dirs(landing, "events/app_id=a/dt=2016-01-01")
    assert load_settings(settings_environ(settings)).partitions_start == "2017-03-01"
    assert load_settings({"UNMOGROWP_HOME": str(tmp_path)}).partitions_start == "2016-01-01"
    # another landing zone (`unmogrowp run --landing`) moves a derived start, never a set one
    other = _dt_dirs(tmp_path / "other", "cost/media_source=n/dt=2019-05-05")
    assert with_landing(settings, str(other)).partitions_start == "2019-05-05"
    pinned = load_settings({"UNMOGROWP_HOME": str(tmp_path), "UNMOGROWP_PARTITIONS_START": "2015-01-01"})
    assert with_landing(pinned, str(other)).partitions_start == "2015-01-01"
    assert with_landing(settings, str(tmp_path / "none")).partitions_start == DEFAULT_PARTITIONS_START


@pytest.mark.parametrize("value", ["Sept 1", "20260901", "2026-02-30", "2026-W35-1"])
def test_a_partitions_start_that_is_not_a_date_is_refused(value):
    with pytest.raises(ConfigError, match="UNMOGROWP_PARTITIONS_START=.*expected YYYY-MM-DD"):
        load_settings({"UNMOGROWP_PARTITIONS_START": value})
