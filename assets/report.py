"""The daily growth report: one self-contained HTML page per install date (`unmogrowp report` writes the same)."""

from pathlib import Path

import dagster as dg

from assets import metadata as md
from assets.partitions import DAILY, date_window
from assets.resources import ClickHouseResource, MlResource
from assets.retries import retry_transient
from unmogrowp.windows import date_strings

MARTS = [dg.AssetKey(["marts", "attribution", "fct_installs"]), dg.AssetKey(["marts", "cohorts", "fct_cohort_kpis"]),
         dg.AssetKey(["marts", "cohorts", "fct_cohort_retention"]),
         dg.AssetKey(["marts", "fraud", "fct_fraud_decisions"]),
         dg.AssetKey(["marts", "reporting", "fct_channel_credits"]), dg.AssetKey("fraud_scores"),
         dg.AssetKey("mta_algorithmic_credits")]


def report_path(home: str | Path, day: str) -> Path:
    return Path(home) / "reports" / f"growth_{day}.html"


@dg.asset(partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run(), deps=MARTS, group_name="reporting",
          kinds={"html", "clickhouse"})
@retry_transient
def growth_report(context: dg.AssetExecutionContext, clickhouse: ClickHouseResource, ml: MlResource):
    """The day's growth report as one HTML file with its charts inlined (opens with no network):
    headline KPIs, attribution by network and status, cohort retention, ROAS curves, fraud decisions
    and CTIT per site, model health and multi-touch credit, in
    `UNMOGROWP_HOME/reports/growth_<date>.html`."""
    from unmogrowp import growth_report as gr

    client = clickhouse.get_client()
    tracking_uri = ml.configure()
    pages = {}
    for day in date_strings(*date_window(context)):
        report = gr.build_report(client, gr.date.fromisoformat(day), mlflow_tracking_uri=tracking_uri)
        path = gr.write_report(report, report_path(ml.home, day))
        pages[day] = {md.ROW_COUNT: int(report.kpis["installs_all_kinds"]),  # the installs the page reports
                      "path": dg.MetadataValue.path(str(path)), "url": dg.MetadataValue.url(path.resolve().as_uri()),
                      "bytes": path.stat().st_size, "has_data": report.has_data,
                      **{k: v for k, v in report.kpis.items() if type(v) in (int, float)}}
    return dg.MaterializeResult(metadata=md.per_partition(context, pages))
