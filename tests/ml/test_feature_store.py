"""Feast over the pipeline's lake and marts: point-in-time training frames, online = latest offline on
sqlite and Redis, the HTTP feature server, and entity join keys that exist in dbt or Delta."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import requests
from feast import FeatureStore

from assets.dbt_project import DBT_PROJECT_DIR
from ml import feature_store as fstore
from unmogrowp import redis_local
from unmogrowp.fraud import features as ff
from unmogrowp.lake import Lake

DEVICE_FEATURES = ["ctit_s", "ip_installs_24h", "is_anonymous_ip"]
SITE_FEATURES = ["clicks_per_install", "share_ctit_lt_10s", "ks_ctit_vs_app"]
CAMPAIGN_FEATURES = ["installs", "cost", "ecpi"]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A Debian redis-server on a free port (installed by `make`)."""
    proc, url = redis_local.start(tmp_path_factory.mktemp("redis"))
    yield url
    redis_local.stop(proc)


@pytest.fixture(scope="module")
def stores(pipeline_run, redis_url):
    """The pipeline's sqlite store (applied and materialized by the pipeline) and a Redis store
    applied and materialized here over the same sources."""
    settings = pipeline_run.settings
    local = fstore.get_store(fstore.StoreTarget.of(settings))
    redis_target = fstore.StoreTarget.of(settings, online="redis", redis_url=redis_url)
    redis = fstore.get_store(redis_target)
    fstore.apply(redis, redis_target)
    start, end = pipeline_run.window
    fstore.materialize(redis, ["device_fraud_features", "site_fraud_features", "campaign_daily_kpis"],
                       start, end + timedelta(days=1))
    return {"sqlite": local, "redis": redis}


FEAST = os.path.join(os.path.dirname(sys.executable), "feast")


def _cli_env(home, clickhouse_port: int | None = None) -> dict[str, str]:
    """A data scientist's shell: no lakehouse, Feast or AWS variable but the home (and the port)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNMOGROWP_", "LAKEHOUSE_", "FEAST_", "AWS_"))}
    env["UNMOGROWP_HOME"] = str(home)
    if clickhouse_port:
        env["UNMOGROWP_CLICKHOUSE_PORT"] = str(clickhouse_port)
    return env


@pytest.fixture(scope="module")
def applied_home(tmp_path_factory):
    """A home whose registry holds the repository (applied through the Python path, as the pipeline does)."""
    from unmogrowp.config import load_settings

    home = tmp_path_factory.mktemp("feast_cli")
    target = fstore.StoreTarget.of(load_settings({"UNMOGROWP_HOME": str(home)}))
    fstore.apply(fstore.get_store(target), target)
    return home


def test_the_cli_opens_the_stores_the_pipeline_configures(applied_home, monkeypatch):
    """feature_store.yaml names the lakehouse's store classes, whose defaults are the settings': the CLI's
    config is repo_config's for the same settings, and `feast … feature-views list` works with nothing
    exported."""
    from feast.repo_config import load_repo_config

    from unmogrowp.config import load_settings

    for name in [k for k in os.environ if k.startswith(("UNMOGROWP_", "LAKEHOUSE_", "FEAST_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("UNMOGROWP_HOME", str(applied_home))
    monkeypatch.setenv("UNMOGROWP_CLICKHOUSE_PORT", "19123")
    target = fstore.settings_target()
    assert target == fstore.StoreTarget.of(load_settings())
    cli, python = load_repo_config(fstore.REPO, fstore.REPO / "feature_store.yaml"), fstore.repo_config(target)
    assert cli.online_store == python.online_store and cli.offline_store == python.offline_store
    assert cli.online_store.path == str(applied_home / "feast" / "online.db")
    assert cli.offline_store.clickhouse["port"] == 19123 and cli.offline_store.clickhouse["database"] == "marts"
    assert (cli.project, cli.provider, cli.entity_key_serialization_version) == (
        python.project, python.provider, python.entity_key_serialization_version)
    stores = [FeatureStore(repo_path=str(fstore.REPO), config=cli), fstore.get_store(target)]
    assert {s.registry._registry_store._filepath for s in stores} == {applied_home / "feast" / "registry.db"}
    monkeypatch.setenv("FEAST_REDIS_CONNECTION", "redis.internal:6379")
    prod_cli = load_repo_config(fstore.REPO, fstore.REPO / "feature_store.prod.yaml").online_store
    assert prod_cli == fstore.repo_config(fstore.settings_target()).online_store
    assert prod_cli.connection_string == "redis.internal:6379"

    listed = subprocess.run([FEAST, "-c", str(fstore.REPO), "feature-views", "list"], env=_cli_env(applied_home),
                            capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr
    assert {line.split()[0] for line in listed.stdout.splitlines()[1:] if line.strip()} == {
        "fraud_install_features", "device_fraud_features", "site_fraud_features", "campaign_daily_kpis",
        "install_activity"}


def test_feast_ui_starts(applied_home, tmp_path):
    port = redis_local.free_port()
    log = tmp_path / "feast_ui.log"
    with open(log, "w") as out:
        ui = subprocess.Popen([FEAST, "-c", str(fstore.REPO), "ui", "--host", "127.0.0.1", "--port", str(port)],
                              env=_cli_env(applied_home), stdout=out, stderr=subprocess.STDOUT)
    try:
        try:
            redis_local.wait_port(port, 300)
        except TimeoutError:
            raise AssertionError(f"feast ui did not listen (exit {ui.poll()}): {log.read_text()[-3000:]}") from None
        page = requests.get(f"http://127.0.0.1:{port}/", timeout=60)
        assert page.status_code == 200 and "feast" in page.text.lower()
        projects = requests.get(f"http://127.0.0.1:{port}/projects-list.json", timeout=60)
        assert projects.status_code == 200 and "unmogrowp" in projects.text, projects.text[:500]
    finally:
        ui.terminate()
        ui.wait(30)


def _lake(pipeline_run) -> Lake:
    return Lake(pipeline_run.settings.lake_uri)


def test_pipeline_applied_and_materialized(pipeline_run):
    meta = pipeline_run.summary.metadata
    assert set(meta["feast_registry"]["feature_services"]) == {"fraud_model_v1", "fraud_online_v1", "ltv_model_v1",
                                                               "campaign_context_v1"}
    assert meta["fraud_online_features"]["online_store"] == meta["campaign_online_features"]["online_store"] == "sqlite"
    rows = meta["fraud_online_features"]["rows"]
    installs = pipeline_run.summary.metadata["fraud_features"]["installs"]
    devices = _lake(pipeline_run).read(ff.INSTALL_TABLE, columns=["device_key"]).to_pandas()["device_key"].nunique()
    assert rows["device_fraud_features"] == devices and 0 < devices <= installs
    assert rows["site_fraud_features"] > 0
    assert meta["campaign_online_features"]["rows"]["campaign_daily_kpis"] > 0
    # the model trained on the Feast frame
    assert meta["fraud_model"]["roc_auc"] > 0.5


def test_historical_features_are_point_in_time(pipeline_run, stores, ch):
    store = stores["sqlite"]
    lake = _lake(pipeline_run)
    inst = lake.read(ff.INSTALL_TABLE).to_pandas().sort_values("install_id").head(200)
    ts = pd.to_datetime(inst["install_ts"], utc=True)
    refs = [f"fraud_install_features:{f}" for f in ("ip_installs_24h", "sessions_24h", "ctit_s")]
    # one millisecond before the row exists: nothing; at and after it: the row's values
    before = store.get_historical_features(entity_df=pd.DataFrame({
        "install_id": inst["install_id"], "event_timestamp": ts - timedelta(milliseconds=1)}), features=refs).to_df()
    assert before[["ip_installs_24h", "sessions_24h"]].isna().all().all()
    after = store.get_historical_features(entity_df=pd.DataFrame({
        "install_id": inst["install_id"], "event_timestamp": ts + timedelta(hours=24)}), features=refs).to_df()
    merged = after.merge(inst[["install_id", "ip_installs_24h", "sessions_24h"]], on="install_id",
                         suffixes=("", "_delta"))
    assert len(merged) == len(inst)
    assert (merged["ip_installs_24h"] == merged["ip_installs_24h_delta"]).all()
    assert (merged["sessions_24h"] == merged["sessions_24h_delta"]).all()

    # a site with a row per day: between the two days' timestamps the earlier day's value, never the later
    src = lake.read(ff.SOURCE_TABLE).to_pandas()
    keys = ["app_id", "media_source", "site_id"]
    two = src.groupby(keys).filter(lambda g: g["feature_ts"].nunique() >= 2).sort_values("feature_ts")
    assert len(two), "the fixture has sites on two feature days"
    first, second = two.groupby(keys).nth(0).iloc[0], two.groupby(keys).nth(1).iloc[0]
    assert first["clicks"] != second["clicks"] or first["installs"] != second["installs"]
    between = pd.to_datetime(second["feature_ts"], utc=True) - timedelta(seconds=1)
    entities = pd.DataFrame([{**{k: first[k] for k in keys}, "event_timestamp": between}])
    frame = store.get_historical_features(
        entity_df=entities, features=["site_fraud_features:clicks", "site_fraud_features:installs"]).to_df()
    assert (frame.loc[0, "clicks"], frame.loc[0, "installs"]) == (first["clicks"], first["installs"])

    # the ClickHouse mart: a campaign-day is unknown until its day is over (a missing value is NULL, not 0)
    start, end = pipeline_run.window
    kpis = fstore.latest_rows(store, "campaign_daily_kpis", start, end + timedelta(days=1))
    ckeys = ["app_id", "media_source", "campaign_id"]
    row = kpis.sort_values(ckeys).iloc[0]
    known = pd.to_datetime(row["feature_ts"], utc=True)
    first_day = ch.query("SELECT min(feature_ts) FROM marts.fs_campaign_daily WHERE app_id = {a:String} "
                         "AND media_source = {m:String} AND campaign_id = {c:String}",
                         parameters={"a": row["app_id"], "m": row["media_source"], "c": row["campaign_id"]},
                         ).result_rows[0][0]
    entity = pd.DataFrame([{**{k: row[k] for k in ckeys}, "event_timestamp": t}
                           for t in (pd.to_datetime(first_day, utc=True) - timedelta(seconds=1), known)])
    got = store.get_historical_features(entity_df=entity, features=["campaign_daily_kpis:installs",
                                                                    "campaign_daily_kpis:ecpi"]).to_df()
    got = got.sort_values("event_timestamp").reset_index(drop=True)
    assert got.loc[0, ["installs", "ecpi"]].isna().all()
    assert got.loc[1, "installs"] == row["installs"] and got.loc[1, "ecpi"] == pytest.approx(row["ecpi"])


def test_training_frame_joins_both_offline_stores(pipeline_run, stores):
    """A spine across the Delta (DuckDB) and ClickHouse sources, in its own row order."""
    store = stores["sqlite"]
    spine = fstore.fraud_spine(_lake(pipeline_run)).head(300)
    frame = fstore.training_frame(store, spine, "fraud_model_v1")
    assert list(frame["install_id"]) == list(spine["install_id"]) and len(frame) == 300
    assert frame["ip_installs_24h"].notna().all()
    assert set(ff.MODEL_FEATURES) <= set(frame.columns)


def test_ltv_frame_from_feast_equals_the_sql_frame(pipeline_run, stores, ch):
    """The LTV model's features read point in time from Feast (install_activity at install + E
    days) equal the direct ClickHouse aggregation of the first E days, for every install."""
    from ml import ltv

    cfg = pipeline_run.op_config["ltv_model"]["config"]
    early, horizon = cfg["early_days"], cfg["horizon_days"]
    via_feast = ltv.load_frame(ch, stores["sqlite"], early, horizon).set_index("install_id").sort_index()
    direct = ltv.load_frame_sql(ch, early, horizon).set_index("install_id").sort_index()
    assert len(via_feast) == len(direct) > 1000
    observed = direct["early_observed"].astype(bool)
    columns = [*ltv.NUMERIC, *ltv.CATEGORICAL, "revenue_usd_horizon", "is_mature"]
    pd.testing.assert_frame_equal(via_feast.loc[observed, columns], direct.loc[observed, columns], check_dtype=False)
    assert direct.loc[observed, "revenue_usd_early"].sum() > 0


@pytest.mark.parametrize("online", ["sqlite", "redis"])
def test_online_values_equal_latest_offline(pipeline_run, stores, online):
    store = stores[online]
    start, end = pipeline_run.window
    checks = [("device_fraud_features", DEVICE_FEATURES), ("site_fraud_features", SITE_FEATURES),
              ("campaign_daily_kpis", CAMPAIGN_FEATURES)]
    for view, names in checks:
        latest = fstore.latest_rows(store, view, start, end + timedelta(days=1))
        keys = store.get_feature_view(view).join_keys
        sample = latest.sample(n=min(25, len(latest)), random_state=1).reset_index(drop=True)
        assert len(sample) > 0
        online_values = store.get_online_features(
            features=[f"{view}:{n}" for n in names], entity_rows=sample[keys].to_dict("records")).to_df()
        # each value carries its event time (a DateTime read as integer seconds would show 1970)
        stamps = store.get_online_features(features=[f"{view}:{names[0]}"], entity_rows=sample[keys].to_dict(
            "records")).to_dict(include_event_timestamps=True)[f"{names[0]}__ts"]
        ts_column = store.get_feature_view(view).batch_source.timestamp_field
        assert list(stamps) == [int(t.timestamp()) for t in pd.to_datetime(sample[ts_column], utc=True)], view
        for n in names:
            got, want = online_values[n].astype("float64"), sample[n].astype("float64")
            assert ((got - want).abs().fillna(0) < 1e-9).all() and (got.isna() == want.isna()).all(), (view, n)


def test_feature_server_answers_over_http(pipeline_run, stores):
    settings = pipeline_run.settings
    port = redis_local.free_port()
    env = _cli_env(settings.home, settings.clickhouse.port)  # nothing exported: the settings' own variables
    proc = subprocess.Popen([FEAST, "-c", str(fstore.REPO), "serve", "-h", "127.0.0.1", "-p", str(port),
                             "--no-access-log"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        redis_local.wait_port(port, 120)
        latest = fstore.latest_rows(stores["sqlite"], "campaign_daily_kpis", *pipeline_run.window)
        row = latest.iloc[0]
        body = {"features": [f"campaign_daily_kpis:{n}" for n in CAMPAIGN_FEATURES],
                "entities": {k: [row[k]] for k in ("app_id", "media_source", "campaign_id")}}
        answer = requests.post(f"http://127.0.0.1:{port}/get-online-features", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        payload = answer.json()
        names = payload["metadata"]["feature_names"]
        values = {n: r["values"][0] for n, r in zip(names, payload["results"], strict=True)}
        assert values["installs"] == row["installs"] and values["ecpi"] == pytest.approx(row["ecpi"])
    finally:
        proc.terminate()
        proc.wait(30)


def test_join_keys_exist_in_dbt_or_delta(pipeline_run, stores, ch):
    store = stores["sqlite"]
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    dbt_columns = {c for node in manifest["nodes"].values() if node["resource_type"] == "model"
                   for c in node.get("columns", {})}
    lake = _lake(pipeline_run)
    delta_columns = {f.name for t in (ff.INSTALL_TABLE, ff.SOURCE_TABLE) for f in lake.read(t).schema}
    for entity in store.list_entities():
        assert entity.join_key in dbt_columns or entity.join_key in delta_columns, entity.name
    # the Spark device key is dbt's device_key of the same install
    spark_keys = lake.read(ff.INSTALL_TABLE, columns=["install_id", "device_key"]).to_pandas()
    dbt_keys = ch.query_df("SELECT install_id, device_key FROM staging.stg_sdk__installs")
    joined = spark_keys.merge(dbt_keys, on="install_id", suffixes=("_spark", "_dbt"))
    assert len(joined) == len(spark_keys) and (joined["device_key_spark"] == joined["device_key_dbt"]).all()


def _edge_tables(first: datetime, n: int = 400, seed: int = 3):
    """Install and source feature tables with every value shape: nulls, NaN, ±0.0, ±inf, huge and
    negative integers, repeated devices (the latest wins), non-ASCII keys, rows at the same instant."""
    import numpy as np
    import pyarrow as pa

    from ml.feature_repo.definitions import _INTEGER

    rng = np.random.default_rng(seed)
    ts = int(first.timestamp() * 1e6) + np.sort(rng.integers(0, 2 * 86_400_000_000, n))
    ts[5:9] = ts[4]  # one device, several rows at one instant
    devices = [f"dév-{d}" for d in rng.integers(0, n // 2, n)]
    devices[4:9] = ["dév-same"] * 5
    cols = {"install_id": [f"i{i}" for i in range(n)], "app_id": rng.choice(["id1", "com.ü"], n).tolist(),
            "install_date": pa.array((ts // 86_400_000_000).astype("datetime64[D]").astype(str)),
            "install_ts": pa.array(ts, pa.timestamp("us", "UTC")), "device_key": devices}
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-300, 123.456, -7.5])
    for name in ff.MODEL_FEATURES:
        if name in _INTEGER:
            v = rng.choice(np.array([0, 1, -1, 2**62, -(2**62), 17]), n)
            cols[name] = pa.array(v, pa.int64(), mask=rng.random(n) < 0.2)
        else:
            cols[name] = pa.array(np.where(rng.random(n) < 0.5, rng.choice(specials, n), rng.normal(0, 1e4, n)),
                                  pa.float64(), mask=rng.random(n) < 0.2)
    cols["activity_observed"] = pa.array(rng.random(n) < 0.5)
    sites = 30
    day = np.repeat([0, 1], sites)
    src = {"install_date": (np.datetime64(first.date()) + day).astype(str).tolist(),
           "app_id": ["id1"] * 2 * sites, "media_source": [f"net{i % 3}" for i in range(2 * sites)],
           "site_id": [f"site-{i % sites}" for i in range(2 * sites)],
           "feature_ts": pa.array(int(first.timestamp() * 1e6) + (day + 1) * 86_400_000_000, pa.timestamp("us", "UTC")),
           "clicks": pa.array(rng.integers(0, 9, 2 * sites)), "installs": pa.array(rng.integers(0, 9, 2 * sites),
                                                                                mask=rng.random(2 * sites) < 0.2)}
    for name in ("clicks_per_install", "app_clicks_per_install", "cpi_vs_app", "share_ctit_lt_10s",
                 "share_ctit_gt_24h", "ks_ctit_vs_app", "installs_per_ip", "devices_per_ip", "activity_rate_24h"):
        src[name] = pa.array(rng.choice(specials, 2 * sites), pa.float64(), mask=rng.random(2 * sites) < 0.2)
    return pa.table(cols), pa.table(src)


def _online_bytes(store, online: str, url: str):
    """Everything the online store holds: every sqlite row, or every Redis hash of the db."""
    if online == "redis":
        import redis

        host, port, db = url.replace(",db=", ":").split(":")
        client = redis.Redis(host=host, port=int(port), db=int(db))
        return sorted((k, sorted(client.hgetall(k).items())) for k in client.scan_iter())
    import sqlite3

    conn = sqlite3.connect(store.config.online_store.path)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY entity_key, feature_name').fetchall() for t in names}


@pytest.mark.parametrize("online", ["sqlite", "redis"])
def test_materialization_writes_what_feasts_own_stores_write(tmp_path, redis_url, online, monkeypatch):
    """The lakehouse's Arrow write path (LakehouseComputeEngine → online_write_arrow) leaves the same
    bytes in sqlite/Redis as Feast's own engine and stores, and reads back the same values: two
    materializations (the second over newer and older rows) of edge-case feature tables."""
    from deltalake import write_deltalake
    from feast.repo_config import RepoConfig

    from unmogrowp.config import load_settings

    first = datetime(2026, 9, 1, tzinfo=UTC)
    settings = load_settings({"UNMOGROWP_HOME": str(tmp_path / "home")})
    lake = Lake(settings.lake_uri)
    installs, sources = _edge_tables(first)
    write_deltalake(lake.uri(ff.INSTALL_TABLE), installs, partition_by=["install_date"])
    write_deltalake(lake.uri(ff.SOURCE_TABLE), sources, partition_by=["install_date"])
    arrow_writes = []
    for cls in (fstore.LakehouseSqliteOnlineStore, fstore.LakehouseRedisOnlineStore):
        def spy(self, config, table, batch, _write=cls.online_write_arrow):
            arrow_writes.append(_write(self, config, table, batch))
            return arrow_writes[-1]
        monkeypatch.setattr(cls, "online_write_arrow", spy)

    stores, urls = {}, {}
    for db, path in enumerate(("feast", "lakehouse"), start=1):
        urls[path] = f"{redis_url},db={db}"
        target = fstore.StoreTarget.of(settings, online, urls[path] if online == "redis" else "")
        target = fstore.StoreTarget(str(tmp_path / path), target.lake_uri, target.clickhouse, target.online,
                                    target.redis_url)
        if path == "feast":
            home = target.feast_home
            config = RepoConfig(
                project=fstore.PROJECT, provider="local", registry={"path": str(home / "registry.db")},
                online_store={"type": "redis", "connection_string": urls[path]} if online == "redis" else {
                    "type": "sqlite", "path": str(home / "online.db")},
                offline_store=fstore.repo_config(target).offline_store, batch_engine="local",
                entity_key_serialization_version=3, repo_path=fstore.REPO)
            stores[path] = FeatureStore(repo_path=str(fstore.REPO), config=config)
        else:
            stores[path] = fstore.get_store(target)
        fstore.apply(stores[path], target)
    views = ["device_fraud_features", "site_fraud_features"]
    newer, _ = _edge_tables(first + timedelta(days=1), seed=4)  # overlaps: newer and older rows per device
    for i, (lo, hi) in enumerate([(first, first + timedelta(days=3)), (first, first + timedelta(days=4))]):
        if i:
            write_deltalake(lake.uri(ff.INSTALL_TABLE), newer, mode="append", partition_by=["install_date"])
        for store in stores.values():
            store.materialize(start_date=lo, end_date=hi, feature_views=views)
        assert _online_bytes(stores["feast"], online, urls["feast"]) == _online_bytes(
            stores["lakehouse"], online, urls["lakehouse"])
    assert arrow_writes and all(arrow_writes)  # the lakehouse store took the Arrow path every time
    for view in views:
        fv = stores["feast"].get_feature_view(view)
        rows = fstore.latest_rows(stores["feast"], view, first, first + timedelta(days=4))[fv.join_keys]
        refs = [f"{view}:{f.name}" for f in fv.features]
        got = [stores[p].get_online_features(features=refs, entity_rows=rows.to_dict("records")).to_dict(
            include_event_timestamps=True) for p in ("feast", "lakehouse")]
        assert len(rows) > 20 and got[0] == got[1], view
