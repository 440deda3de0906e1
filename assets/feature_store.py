"""Feast: the registry (`feast apply`) and the online store, refreshed after each feature partition."""

from datetime import datetime, timedelta

import dagster as dg

from assets import metadata as md
from assets.partitions import DAILY, date_window
from assets.resources import FeastResource
from assets.retries import retry_transient
from ml.feature_repo import definitions_version
from unmogrowp.windows import day_bounds

FRAUD_ONLINE_VIEWS = ["device_fraud_features", "site_fraud_features"]
CAMPAIGN_ONLINE_VIEWS = ["campaign_daily_kpis"]
CAMPAIGN_MART = dg.AssetKey(["marts", "features", "fs_campaign_daily"])


def _window(context) -> tuple[datetime, datetime]:
    """The partition dates as [first midnight, the midnight after the last day + 1 day]: end-of-day
    features (event time = next midnight) land with their day."""
    start, end = day_bounds(*date_window(context))
    return start, end + timedelta(seconds=1)


def _materialize(context, feast: FeastResource, views: list[str]) -> dg.MaterializeResult:
    from ml import feature_store as fstore  # Feast is imported by the steps that use it

    start, end = _window(context)
    store = feast.get_store()
    result = fstore.materialize(store, views, start, end)
    counts = md.row_counts(context, result.pop("rows_by_day"))
    links = {f"feature_view_{v}": feast.ui_link("feature-view", v) for v in views}
    return dg.MaterializeResult(metadata={**result, **counts, "views": views, "online_store": feast.online, **links})


ONLINE = {"partitions_def": DAILY, "backfill_policy": dg.BackfillPolicy.single_run(), "group_name": "features",
          "kinds": {"feast"}}


@dg.asset(group_name="features", kinds={"feast"}, code_version=definitions_version(),
          automation_condition=dg.AutomationCondition.code_version_changed())
@retry_transient
def feast_registry(context: dg.AssetExecutionContext, feast: FeastResource):
    """`feast apply` of ml/feature_repo: entities, Delta and ClickHouse sources, feature views and
    the versioned feature services; stale objects are removed. Re-runs when the definitions change."""
    from ml import feature_store as fstore

    store = feast.get_store()
    counts = fstore.apply(store, feast.target())
    return dg.MaterializeResult(metadata={
        **counts, "definitions_version": definitions_version(),
        "feature_views": sorted(v.name for v in store.list_all_feature_views()),
        "feature_services": sorted(s.name for s in store.list_feature_services()),
        md.ROW_COUNT: len(store.list_all_feature_views())})


@dg.asset(deps=["fraud_features", feast_registry], **ONLINE)
@retry_transient
def fraud_online_features(context: dg.AssetExecutionContext, feast: FeastResource):
    """Materializes the device and site fraud features of the partition's days into the online store."""
    return _materialize(context, feast, FRAUD_ONLINE_VIEWS)


@dg.asset(deps=[CAMPAIGN_MART, feast_registry], **ONLINE)
@retry_transient
def campaign_online_features(context: dg.AssetExecutionContext, feast: FeastResource):
    """Materializes the campaign-day KPIs (marts.fs_campaign_daily) of the partition's days online."""
    return _materialize(context, feast, CAMPAIGN_ONLINE_VIEWS)
