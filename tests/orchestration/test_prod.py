"""The production code path, from the environment Terraform's outputs give the platform
(infra/terraform/platform.env.example), built without connecting anywhere: the Definitions, the
Spark session builder, the dbt prod profile and project, Feast's prod config and MLflow's settings."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "infra" / "terraform" / "platform.env.example"
SECRETS = ("CLICKHOUSE_PASSWORD", "FEAST_REDIS_CONNECTION", "FEAST_REGISTRY_PATH", "UNMOGROWP_DEVICE_KEY_SALT",
           "UNMOGROWP_AUDIT_SALT")


def sample_environment() -> dict[str, str]:
    lines = [line.strip() for line in SAMPLE.read_text().splitlines()]
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@pytest.fixture
def prod_env(monkeypatch, tmp_path):
    env = {**sample_environment(), "UNMOGROWP_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "dagster")}
    for name in [k for k in os.environ if k.startswith(("UNMOGROWP_", "CLICKHOUSE_", "FEAST_", "MLFLOW_", "SPARK_"))]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a socket to anywhere fails the test."""
    def refuse(self, address, *args, **kwargs):
        raise AssertionError(f"tried to connect to {address}")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def test_the_sample_holds_every_variable_terraform_outputs():
    """The sample is the platform environment of the Terraform outputs (ConfigMap and Secret)."""
    from tests.infra.test_terraform import TERRAFORM, blocks

    outputs = blocks(TERRAFORM / "modules" / "platform", "locals")
    names = set(outputs["platform_environment"]) | set(outputs["platform_secrets"])
    assert names <= set(sample_environment()), names - set(sample_environment())


def test_prod_definitions_build_from_the_environment_without_connecting(prod_env, no_network):
    from orchestration.definitions import build_definitions
    from unmogrowp.config import load_settings

    settings = load_settings()
    defs = build_definitions(settings)
    local = build_definitions(load_settings({"UNMOGROWP_HOME": prod_env["UNMOGROWP_HOME"]}))
    repo, local_repo = defs.get_repository_def(), local.get_repository_def()
    # the same product: every job, schedule, sensor and asset of the local definitions
    assert sorted(j.name for j in repo.get_all_jobs()) == sorted(j.name for j in local_repo.get_all_jobs())
    assert {s.name for s in repo.schedule_defs} == {s.name for s in local_repo.schedule_defs}
    assert {s.name for s in repo.sensor_defs} == {s.name for s in local_repo.sensor_defs}
    assert len(repo.asset_graph.get_all_asset_keys()) == len(local_repo.asset_graph.get_all_asset_keys())
    # the landing sensor runs by default in production only
    landing = next(s for s in repo.sensor_defs if "landing" in s.name)
    assert landing.default_status.value == "RUNNING"

    r = defs.resources
    ch = r["clickhouse"]
    assert (ch.host, ch.port, ch.secure, ch.user, ch.local_home) == \
        ("abc123xyz.eu-west-1.aws.clickhouse.cloud", 8443, True, "default", None)
    assert r["lake"].root_uri == "s3://unmogrowp-prod-lake/lake"
    assert r["landing"].root_uri == "s3://unmogrowp-prod-landing"
    assert r["lake"].storage_options == {"aws_region": "eu-west-1"}  # credentials come from IRSA, not config
    assert r["dbt"].target == "prod"
    ml = r["ml"]
    assert (ml.tracking_uri, ml.spark_remote) == ("http://mlflow.mlflow.svc.cluster.local:5000",
                                                  "sc://spark-connect.spark.svc.cluster.local:15002")
    assert ml.labels_path == "s3://unmogrowp-prod-lake/labels/fraud_labels.parquet"
    assert r["feast"].online == "redis"
    tenancy = r["tenancy"]
    assert (tenancy.apply, tenancy.tenants_uri, tenancy.cluster) == \
        (True, "s3://unmogrowp-prod-lake/config/tenants.yaml", "")
    assert tenancy.storage_options == {"aws_region": "eu-west-1"}


def test_the_image_can_load_the_production_instance():
    """The Helm chart's dagster.yaml names Postgres storage and the K8sRunLauncher: the project's
    image (its locked dependencies) must import both, at the Dagster release the chart runs."""
    import dagster
    import dagster_k8s
    import dagster_postgres

    assert dagster_k8s.K8sRunLauncher and dagster_postgres.PostgresRunStorage
    assert dagster_k8s.__version__.split(".")[1] == dagster_postgres.__version__.split(".")[1] == \
        str(int(dagster.__version__.split(".")[1]) + 16)  # 0.29.x pairs with 1.13.x


def test_prod_resource_config_holds_no_secret(prod_env, no_network):
    """Secrets stay environment variables (dg.EnvVar): the resource config the Dagster UI shows and
    run storage records never holds their values."""
    from orchestration.definitions import build_definitions

    defs = build_definitions()
    shown = json.dumps({name: resource._get_non_default_public_field_values() if hasattr(  # noqa: SLF001
        resource, "_get_non_default_public_field_values") else resource.__dict__
        for name, resource in defs.resources.items()}, default=str)
    for name in SECRETS:
        secret = prod_env[name]
        assert secret not in shown, f"{name}'s value is in the resource config"
        for part in (p for p in secret.replace(",", " ").replace("@", " ").split() if "password" in p):
            assert part.split("password=")[-1] not in shown, name


def test_the_spark_builder_connects_to_the_cluster(prod_env, monkeypatch):
    from unmogrowp.config import load_settings
    from unmogrowp.spark import session_builder

    options = session_builder(load_settings().spark)._options  # noqa: SLF001  (the builder has no getter)
    assert options["spark.remote"] == "sc://spark-connect.spark.svc.cluster.local:15002"
    assert options["spark.sql.session.timeZone"] == "UTC"
    assert "spark.master" not in options  # the server's own (k8s executors, Delta jars: modules/spark)

    monkeypatch.delenv("SPARK_REMOTE")  # pyspark reads it too
    local = session_builder(load_settings({"UNMOGROWP_HOME": prod_env["UNMOGROWP_HOME"]}).spark)._options  # noqa: SLF001
    assert local["spark.master"] == "local[*]" and "spark.remote" not in local


def _dbt_profile():
    from dbt.config.profile import Profile, read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context

    set_from_args(Namespace(), None)
    set_invocation_context(dict(os.environ))
    return Profile.from_raw_profiles(read_profile(str(REPO / "dbt_project")), "unmogrowp", ProfileRenderer({}))


def test_the_dbt_prod_profile_reads_the_environment(prod_env, monkeypatch):
    profile = _dbt_profile()
    creds = profile.credentials
    assert (profile.target_name, creds.host, creds.port, creds.secure, creds.user, creds.password, creds.cluster) == \
        ("prod", "abc123xyz.eu-west-1.aws.clickhouse.cloud", 8443, True, "default", "example-clickhouse-password", "")
    monkeypatch.setenv("CLICKHOUSE_CLUSTER", "lakehouse")
    assert _dbt_profile().credentials.cluster == "lakehouse"


@pytest.mark.parametrize("cluster, engine", [("", "MergeTree()"), ("lakehouse", "ReplicatedMergeTree()")])
def test_dbt_prod_models_replicate_on_a_self_managed_cluster(prod_env, tmp_path, cluster, engine):
    """`dbt parse --target prod` (no connection): ClickHouse Cloud keeps MergeTree (it makes every one
    SharedMergeTree); with CLICKHOUSE_CLUSTER the marts are ReplicatedMergeTree (and the profile's
    `cluster` makes dbt-clickhouse add ON CLUSTER to their DDL: test_the_dbt_prod_profile_…)."""
    env = {**os.environ, "CLICKHOUSE_CLUSTER": cluster, "DBT_TARGET_PATH": str(tmp_path / "target"),
           "DBT_LOG_PATH": str(tmp_path / "logs")}
    proc = subprocess.run([str(Path(sys.executable).with_name("dbt")), "parse", "--no-partial-parse",
                           "--project-dir", str(REPO / "dbt_project"), "--profiles-dir", str(REPO / "dbt_project"),
                           "--target", "prod"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    marts = {n["name"]: n["config"] for n in manifest["nodes"].values()
             if n["resource_type"] == "model" and n["config"]["materialized"] == "incremental"}
    assert {"fct_installs", "fct_cohort_retention"} <= set(marts)
    assert {c["engine"] for c in marts.values()} == {engine}


def test_feast_prod_config_as_the_cli_reads_it(prod_env):
    """What `feast -c ml/feature_repo -f ml/feature_repo/feature_store.prod.yaml …` opens: the TLS Redis
    of the environment and the SQL registry on RDS; the pipeline's own config agrees."""
    from feast.repo_config import load_repo_config

    from ml import feature_store as fstore

    cli = load_repo_config(fstore.REPO, fstore.REPO / "feature_store.prod.yaml")
    ours = fstore.repo_config(fstore.settings_target())
    redis = prod_env["FEAST_REDIS_CONNECTION"]
    assert cli.online_store.connection_string == ours.online_store.connection_string == redis
    assert cli.registry.registry_type == "sql"
    assert cli.registry.path == ours.registry.path == prod_env["FEAST_REGISTRY_PATH"]
    assert yaml.safe_load((fstore.REPO / "feature_store.prod.yaml").read_text())["registry"]["path"] == \
        "${FEAST_REGISTRY_PATH}"


def test_mlflow_points_at_the_tracking_server(prod_env, no_network):
    import mlflow

    from ml import tracking
    from unmogrowp.config import load_settings

    s = load_settings()
    before = mlflow.get_tracking_uri()
    try:
        uri = tracking.configure(s.home, s.mlflow_tracking_uri, s.mlflow_registry_uri, s.mlflow_artifact_root)
        assert uri == mlflow.get_tracking_uri() == "http://mlflow.mlflow.svc.cluster.local:5000"
        assert mlflow.get_registry_uri() == uri
        assert not (Path(prod_env["UNMOGROWP_HOME"]) / "mlflow").exists()  # no local store in production
    finally:
        mlflow.set_tracking_uri(before)
