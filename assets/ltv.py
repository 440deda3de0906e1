"""Predicted LTV (SPEC §6): the model in MLflow and the predictions the cohort KPIs read."""

import dagster as dg
import pyarrow as pa

from assets import metadata as md
from assets.outcomes import skipped
from assets.resources import ClickHouseResource, FeastResource, MlResource
from assets.retries import retry_transient
from unmogrowp.model_tables import CH_LTV
from unmogrowp.warehouse import replace_window

UPSTREAM = [dg.AssetKey(["marts", "attribution", "fct_installs"]),
            dg.AssetKey(["marts", "features", "fs_install_activity_daily"]),
            dg.AssetKey(["staging", "sdk", "stg_sdk__app_events"]),
            dg.AssetKey(["staging", "config", "stg_config__fx_rates"]), dg.AssetKey("feast_registry")]


class LtvConfig(dg.Config):
    early_days: int = 3  # the first days a prediction may use
    horizon_days: int = 30  # the cumulative revenue predicted (SPEC §6: D30)


@dg.asset(deps=UPSTREAM, group_name="ml", kinds={"lightgbm", "mlflow", "clickhouse"})
@retry_transient
def ltv_model(context: dg.AssetExecutionContext, config: LtvConfig, clickhouse: ClickHouseResource,
              ml: MlResource, feast: FeastResource):
    """Learns horizon revenue per install from the first days (sessions, events, purchases, ad
    revenue, source, geo, device; Feast `ltv_model_v1` at install + early days), backtested on the
    newest matured cohorts (MAPE per cohort and source); the champion alias moves only if the
    held-out MAPE improves. Skipped (not failed) while the data cannot train one, e.g. fewer than
    two matured cohort days."""
    from ml import ltv

    client = clickhouse.get_client()
    frame = ltv.load_frame(client, feast.get_store(), config.early_days, config.horizon_days)
    reason = ltv.cannot_train(frame, config.horizon_days)
    if reason:
        return skipped(reason, installs=len(frame), matured_installs=int(frame["is_mature"].astype(bool).sum()))
    version = {"raw_events_rows": int(client.command("SELECT count() FROM raw.events")),
               "feast_feature_service": ltv.FEATURE_SERVICE}
    result = ltv.train(frame, config.early_days, config.horizon_days, version)
    from unmogrowp import charts

    m = result["metrics"]
    return dg.MaterializeResult(metadata={
        md.ROW_COUNT: int(m["train_rows"] + m["test_rows"]), "mlflow_run": ml.run_link(result["run_id"]),
        "backtest_by_cohort": md.picture(charts.ltv_backtest(result["backtest_by_cohort"]),
                                         "LTV backtest: predicted vs actual revenue per held-out cohort"),
        "feast_feature_service": feast.ui_link("feature-service", ltv.FEATURE_SERVICE),
        "mape_total": m["mape_total"], "mape_naive_multiplier": m["mape_naive_multiplier"],
        "mape_bgnbd_gamma_gamma": m["mape_bgnbd_gamma_gamma"],
        "mape_cohort_median": m["mape_cohort_median"], "train_seconds": m["train_seconds"],
        "backtest_mape": dg.MetadataValue.json(result["backtest"]), "mlflow_run_id": result["run_id"],
        "champion_gate": dg.MetadataValue.json(result["gate"])})


@dg.asset(deps=[ltv_model, *UPSTREAM], group_name="ml", kinds={"mlflow", "clickhouse"})
@retry_transient
def ltv_predictions(context: dg.AssetExecutionContext, config: LtvConfig, clickhouse: ClickHouseResource,
                    ml: MlResource, feast: FeastResource):
    """Scores every install whose early days are observed with `models:/ltv_regressor@champion`
    into `ml.ltv_predictions` (replaced), which fct_cohort_kpis turns into predicted LTV and ROAS.
    Without a champion: skipped, the table left empty (predicted LTV NULL, never 0)."""
    from ml import ltv

    client = clickhouse.get_client()
    frame = ltv.load_frame(client, feast.get_store(), config.early_days, config.horizon_days)
    reason = ltv.cannot_predict(frame, config.early_days)
    out = None if reason else ltv.predict(frame, config.horizon_days)
    replace_window(client, CH_LTV, None if reason else pa.Table.from_pandas(out, preserve_index=False),
                   dates=("install_date",))
    if reason:
        return skipped(reason, installs=0, **{md.ROW_COUNT: 0})
    return dg.MaterializeResult(metadata={"installs": len(out),
                                          "predicted_revenue_usd": float(out["predicted_revenue"].sum()),
                                          **md.clickhouse_partition_metadata(context, client, CH_LTV, None)})

