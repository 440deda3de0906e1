"""Data-driven multi-touch credit (Markov, Shapley), beside the dbt models it reads and feeds."""

import dagster as dg

from orchestration.partitions import date_window
from orchestration.resources import ClickHouseResource
from unmogrowp.mta import build_algorithmic_credits

PATH_MODELS = [dg.AssetKey(["marts", "mta", "mta_conversion_paths"]),
               dg.AssetKey(["marts", "mta", "mta_nonconverting_paths"])]


def build_mta_assets(daily: dg.PartitionsDefinition) -> list:
    @dg.asset(partitions_def=daily, backfill_policy=dg.BackfillPolicy.single_run(), deps=PATH_MODELS,
              group_name="marts_mta", kinds={"python", "clickhouse"}, pool="dbt_daily")
    def mta_algorithmic_credits(context: dg.AssetExecutionContext, clickhouse: ClickHouseResource):
        """Markov (order 1, removal effect, fitted on converting and non-converting paths) and
        Shapley (exact, over channel sets) credit per conversion and touch, fitted per app on the
        install dates of the run; written to `mta.algorithmic_credits` (window replaced)."""
        start, end = date_window(context)
        client = clickhouse.get_client()
        summary = build_algorithmic_credits(client, start, end)
        rows = client.command("SELECT count() FROM mta.algorithmic_credits "
                              "WHERE install_date >= {s:Date} AND install_date <= {e:Date}",
                              parameters={"s": start, "e": end})
        return dg.MaterializeResult(metadata={"rows": rows, "apps": dg.MetadataValue.json(summary)})

    return [mta_algorithmic_credits]
