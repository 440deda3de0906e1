"""Data-driven multi-touch credit (Markov, Shapley), beside the dbt models it reads and feeds."""

import dagster as dg
from pydantic import Field

from assets.partitions import DAILY, date_window
from assets.resources import ClickHouseResource
from unmogrowp.mta import MAX_ORDER, build_algorithmic_credits

PATH_MODELS = [dg.AssetKey(["marts", "mta", "mta_conversion_paths"]),
               dg.AssetKey(["marts", "mta", "mta_nonconverting_paths"])]


class MtaConfig(dg.Config):
    markov_order: int = Field(default=1, ge=1, le=MAX_ORDER,
                              description="Markov order k: a state is the last k channels of the path")


@dg.asset(partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run(), deps=PATH_MODELS,
          group_name="marts_mta", kinds={"python", "clickhouse"}, pool="dbt_daily")
def mta_algorithmic_credits(context: dg.AssetExecutionContext, config: MtaConfig, clickhouse: ClickHouseResource):
    """Markov (order 1-3, removal effect, converting and null paths) and Shapley (over channel
    sets) channel totals as ChannelAttribution and DP6 define them, per app on the run's
    install dates, disaggregated per conversion and touch (IPF) into `mta.algorithmic_credits`."""
    start, end = date_window(context)
    result = build_algorithmic_credits(clickhouse.get_client(), start, end, order=config.markov_order)
    gap = max((g for app in result["apps"].values() for g in app["ipf_gap"].values()), default=0.0)
    return dg.MaterializeResult(metadata={"rows": result["rows"], "markov_order": result["markov_order"],
                                          "max_ipf_gap": gap, "apps": dg.MetadataValue.json(result["apps"])})
