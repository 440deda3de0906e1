"""Feast definitions: entities, sources, feature views and versioned feature services, for a lake.

Join keys are the lake's and the marts' column names. Sources: the Spark fraud feature tables in
Delta (``features/*`` under the lake's root) and the ClickHouse marts ``marts.fs_campaign_daily`` /
``marts.fs_install_activity_daily``. Importing this module defines no Feast object: :func:`objects`
builds them for a lake (the pipeline's apply; ``repository.py`` for the feast CLI).
"""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.data_format import DeltaFormat
from feast.infra.offline_stores.contrib.clickhouse_offline_store.clickhouse_source import ClickhouseSource
from feast.types import Bool, Float64, Int64, String

from unmogrowp.fraud import features as ff
from unmogrowp.lake import Lake

_DESCRIPTIONS = {f.name: f.description for f in ff.INSTALL_FEATURES}
_INTEGER = {"click_after_install_begin", "device_clicks_7d", "ip_installs_1h", "ip_installs_24h", "ip_devices_24h",
            "ip_clicks_1h", "ip_clicks_24h", "model_installs_1h", "model_installs_24h", "os_installs_24h",
            "site_clicks_1h", "site_clicks_24h", "is_anonymous_ip", "sessions_24h", "events_24h", "purchases_24h"}


def _install_fields(names) -> list[Field]:
    return [Field(name=n, dtype=Int64 if n in _INTEGER else Float64, description=_DESCRIPTIONS[n]) for n in names]


def objects(lake_uri: str) -> list:
    """Every Feast object of the repository, the Delta sources under ``lake_uri``."""
    lake = Lake(lake_uri)
    install = Entity(name="install", join_keys=["install_id"], value_type=ValueType.STRING,
                     description="An install (SDK install event id).")
    device = Entity(name="device", join_keys=["device_key"], value_type=ValueType.STRING,
                    description="A device in an app: dbt's salted SHA-256 device_key (no raw identifier).")
    app = Entity(name="app", join_keys=["app_id"], value_type=ValueType.STRING, description="An app (store id).")
    media_source = Entity(name="media_source", join_keys=["media_source"], value_type=ValueType.STRING,
                          description="An ad network.")
    site = Entity(name="site", join_keys=["site_id"], value_type=ValueType.STRING,
                  description="A publisher site / sub-publisher of a network.")
    campaign = Entity(name="campaign", join_keys=["campaign_id"], value_type=ValueType.STRING,
                      description="A network campaign.")

    fraud_install_source = FileSource(
        name="fraud_install_features", path=lake.uri(ff.INSTALL_TABLE), file_format=DeltaFormat(),
        timestamp_field="install_ts", description="Spark per-install fraud features (Delta, by install_date).")
    fraud_source_source = FileSource(
        name="fraud_source_features", path=lake.uri(ff.SOURCE_TABLE), file_format=DeltaFormat(),
        timestamp_field="feature_ts", description="Spark per-site rolling fraud features (Delta, by install_date).")
    install_activity_source = ClickhouseSource(
        name="fs_install_activity_daily", table="marts.fs_install_activity_daily", timestamp_field="feature_ts",
        description="dbt mart: per install and elapsed day, cumulative activity and revenue, known when the day "
                    "is over.")
    campaign_daily_source = ClickhouseSource(
        name="fs_campaign_daily", table="marts.fs_campaign_daily", timestamp_field="feature_ts",
        description="dbt mart: campaign-day KPIs, known at the end of the day.")

    fraud_install_features = FeatureView(
        name="fraud_install_features", entities=[install], ttl=timedelta(days=2), online=False,
        source=fraud_install_source,
        schema=[*_install_fields(ff.MODEL_FEATURES), Field(name="activity_observed", dtype=Bool)],
        description="Every fraud-model feature of an install, post-install ones included: batch training and "
                    "scoring at the decision time (install + 24 h).",
        tags={"model": "fraud", "post_install": "included"})

    device_fraud_features = FeatureView(
        name="device_fraud_features", entities=[device], ttl=timedelta(days=7), online=True,
        source=fraud_install_source,
        schema=[*_install_fields(ff.ONLINE_FEATURES), Field(name="app_id", dtype=String),
                Field(name="install_id", dtype=String)],
        description="Pre-install fraud features of a device's latest install (no post-install information): "
                    "online scoring.", tags={"model": "fraud", "post_install": "excluded"})

    site_fraud_features = FeatureView(
        name="site_fraud_features", entities=[app, media_source, site], ttl=timedelta(days=8), online=True,
        source=fraud_source_source,
        schema=[Field(name="clicks", dtype=Int64, description="clicks in the trailing 7 days"),
                Field(name="installs", dtype=Int64, description="installs in the trailing 7 days"),
                Field(name="clicks_per_install", dtype=Float64),
                Field(name="cpi_vs_app", dtype=Float64, description="clicks per install over the app's"),
                Field(name="share_ctit_lt_10s", dtype=Float64), Field(name="share_ctit_gt_24h", dtype=Float64),
                Field(name="ks_ctit_vs_app", dtype=Float64, description="KS distance of log CTIT to the app's"),
                Field(name="installs_per_ip", dtype=Float64), Field(name="devices_per_ip", dtype=Float64),
                Field(name="activity_rate_24h", dtype=Float64,
                      description="share of installs with a session in their first 24 h")],
        description="Per app × network × site, trailing 7 days (click flooding, farms, bots).",
        tags={"model": "fraud"})

    campaign_daily_kpis = FeatureView(
        name="campaign_daily_kpis", entities=[app, media_source, campaign], ttl=timedelta(days=2), online=True,
        source=campaign_daily_source,
        schema=[Field(name="installs", dtype=Int64), Field(name="cost", dtype=Float64),
                Field(name="ecpi", dtype=Float64), Field(name="fraud_tag_rate", dtype=Float64),
                Field(name="fraud_flag_rate", dtype=Float64), Field(name="mean_ctit_s", dtype=Float64)],
        description="Yesterday's attributed installs, cost, eCPI and fraud shares per campaign.",
        tags={"model": "ltv"})

    install_activity = FeatureView(
        name="install_activity", entities=[install], ttl=timedelta(days=1), online=False,
        source=install_activity_source,
        schema=[Field(name="sessions_d0", dtype=Int64, description="sessions on day 0"),
                Field(name="sessions_cum", dtype=Int64,
                      description="sessions from day 0 through the last complete day"),
                Field(name="events_cum", dtype=Int64), Field(name="purchases_cum", dtype=Int64),
                Field(name="iap_usd_cum", dtype=Float64, description="in-app purchase revenue, USD"),
                Field(name="ad_usd_cum", dtype=Float64, description="ad revenue, USD"),
                Field(name="revenue_usd_cum", dtype=Float64), Field(name="active_days_cum", dtype=Int64),
                Field(name="platform", dtype=String), Field(name="media_source", dtype=String),
                Field(name="country", dtype=String)],
        description="An install's activity and revenue so far (cumulative per elapsed day): read at install + E "
                    "days for the first E days.", tags={"model": "ltv"})

    fraud_model_v1 = FeatureService(
        name="fraud_model_v1", features=[fraud_install_features],
        description="The batch fraud classifier's features (ml.fraud_model), read at install + 24 h.",
        tags={"model": "fraud_install_classifier"})
    fraud_online_v1 = FeatureService(
        name="fraud_online_v1", features=[device_fraud_features, site_fraud_features],
        description="Online install-time fraud context: the device's pre-install features and its site's.")
    ltv_model_v1 = FeatureService(
        name="ltv_model_v1", features=[install_activity],
        description="The LTV model's features (ml.ltv), read at install + early days.", tags={"model": "ltv_regressor"})
    campaign_context_v1 = FeatureService(
        name="campaign_context_v1", features=[campaign_daily_kpis],
        description="Campaign context: yesterday's eCPI, installs and fraud shares per campaign.")

    return [install, device, app, media_source, site, campaign, fraud_install_source, fraud_source_source,
            campaign_daily_source, install_activity_source, fraud_install_features, device_fraud_features,
            site_fraud_features, campaign_daily_kpis, install_activity, fraud_model_v1, fraud_online_v1,
            ltv_model_v1, campaign_context_v1]
