"""Data-driven multi-touch credit (Markov, Shapley), beside the dbt models it reads and feeds."""

import dagster as dg
from pydantic import Field

from assets import metadata as md
from assets.partitions import DAILY, date_window
from assets.resources import CLICKHOUSE_POOL, ClickHouseResource
from assets.retries import retry_transient
from unmogrowp.mta import MAX_ORDER, build_algorithmic_credits
from unmogrowp.warehouse import MTA

CREDITS = f"{MTA}.algorithmic_credits"
# installs credited per channel by every model of the run's dates (what marts.fct_channel_credits
# shows once the reporting views are built): the heuristics beside Markov and Shapley
CREDIT_BY_MODEL_SQL = f"""
SELECT media_source AS channel, model, sum(credit) AS credit, sum(credited_value) AS value
FROM (
    SELECT media_source, model, credit, credited_value FROM marts.mta_heuristic_credits
    WHERE conversion_type = 'install' AND install_date BETWEEN {{s:Date}} AND {{e:Date}}
    UNION ALL
    SELECT media_source, model, credit, credited_value FROM {CREDITS}
    WHERE conversion_type = 'install' AND install_date BETWEEN {{s:Date}} AND {{e:Date}}
)
GROUP BY channel, model ORDER BY channel, model"""

PATH_MODELS = [dg.AssetKey(["marts", "mta", "mta_conversion_paths"]),
               dg.AssetKey(["marts", "mta", "mta_nonconverting_paths"])]


class MtaConfig(dg.Config):
    markov_order: int = Field(default=1, ge=1, le=MAX_ORDER,
                              description="Markov order k: a state is the last k channels of the path")


@dg.asset(partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run(), deps=PATH_MODELS,
          group_name="attribution", kinds={"python", "clickhouse"}, pool=CLICKHOUSE_POOL)
@retry_transient
def mta_algorithmic_credits(context: dg.AssetExecutionContext, config: MtaConfig, clickhouse: ClickHouseResource):
    """Markov (order 1-3, removal effect, converting and null paths) and Shapley (over channel
    sets) channel totals as ChannelAttribution and DP6 define them, per app on the run's
    install dates, disaggregated per conversion and touch (IPF) into `mta.algorithmic_credits`."""
    start, end = date_window(context)
    from unmogrowp import charts

    client = clickhouse.get_client()
    result = build_algorithmic_credits(client, start, end, order=config.markov_order)
    gap = max((g for app in result["apps"].values() for g in app["ipf_gap"].values()), default=0.0)
    png = charts.credit_comparison(client.query_df(CREDIT_BY_MODEL_SQL, parameters={"s": start, "e": end}))
    return dg.MaterializeResult(metadata={
        "rows": result["rows"], "markov_order": result["markov_order"], "max_ipf_gap": gap,
        "apps": dg.MetadataValue.json(result["apps"]),
        "credit_by_model": md.picture(png, "Conversions credited per channel: Markov and Shapley vs the heuristics"),
        **md.clickhouse_partition_metadata(context, client, CREDITS, "install_date")})
