"""`make demo`: generate a week of traffic for 3 apps, then run the pipeline through Dagster."""

import argparse
import json
import shutil
import sys
import time
from datetime import UTC, datetime

import clickhouse_connect
import pyarrow.parquet as pq

from assets.outcomes import SKIPPED
from data_quality import runner
from orchestration.defaults import APPS, DEMO_ACTIVITY_DAYS_AFTER, END, INSTALLS_PER_DAY, SEED, START
from orchestration.launcher import Progress
from orchestration.pipeline import PIPELINE_JOBS, dagster_home, format_summary, run_pipeline
from unmogrowp import marts
from unmogrowp.clickhouse import manager
from unmogrowp.config import load_settings
from unmogrowp.generator.simulate import SimConfig
from unmogrowp.generator.writer import GENERATOR_VERSION, generate
from unmogrowp.ingest.events import landing_range
from unmogrowp.landing import LandingStore
from unmogrowp.warehouse import DATABASES

# The week's cohorts are observed for 8-14 days, so the LTV model predicts D7 from the first 3 days
# here (SPEC §6's D30 needs 30 days of activity after the last cohort; the asset's default is 30).
LTV_CONFIG = {"config": {"early_days": 3, "horizon_days": 7}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.demo", description=__doc__)
    parser.add_argument("--redis", action="store_true",
                        help="also materialize into a local redis-server and read the vectors back from it")
    args = parser.parse_args(argv)
    settings = load_settings()
    print(f"environment: {settings.env}   home: {settings.home}")
    state, started = manager.start(settings.home, settings.clickhouse.port)
    print(f"local ClickHouse server: {state.url} (chDB {state.version}, "
          f"{'started' if started else 'already running'})")

    manifest_path = settings.home / "answers" / "manifest.json"
    wanted = {"generator": GENERATOR_VERSION, "activity_days_after": DEMO_ACTIVITY_DAYS_AFTER, "apps": APPS,
              "start": START.isoformat(), "end": END.isoformat(), "seed": SEED}
    have = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    if have and {k: (len(have[k]) if k == "apps" else have.get(k)) for k in wanted} == wanted:
        print(f"landing data already generated: {have['events']:,} events in {have['event_files']:,} files")
    else:
        # a different generation: start from an empty lake and warehouse, not a mix of both
        for sub in ("landing", "answers", "lake", "feast"):
            shutil.rmtree(settings.home / sub, ignore_errors=True)
        client = clickhouse_connect.get_client(host=settings.clickhouse.host, port=settings.clickhouse.port)
        for database in DATABASES:
            client.command(f"DROP DATABASE IF EXISTS {database}")
        t0 = time.perf_counter()
        sim = SimConfig(installs_per_day=INSTALLS_PER_DAY, activity_days_after=DEMO_ACTIVITY_DAYS_AFTER)
        result = generate(str(settings.home), APPS, START, END, SEED, sim)
        seconds = time.perf_counter() - t0
        print(f"generated {result.events:,} events ({result.files:,} batches, {result.cost_files} cost reports) "
              f"in {seconds:.0f} s = {result.events / seconds:,.0f} events/s")

    # late uploads land days after END
    start, end = landing_range(LandingStore(settings.landing_uri, settings.storage_options(settings.landing_uri)))
    print(f"\nRunning the pipeline through the Dagster instance in {dagster_home(settings)} "
          f"(run logs: the Dagster UI, `make dev`)")
    summary = run_pipeline(settings, start, end, op_config={"ltv_model": LTV_CONFIG, "ltv_predictions": LTV_CONFIG},
                           progress=Progress(len(PIPELINE_JOBS)))
    print()
    print(format_summary(summary, start, end))
    landed = summary.metadata.get("silver_events", {}).get("landed", 0)
    events_seconds = sum(v for k, v in summary.seconds.items() if "events" in k)
    if landed:
        print(f"  events job: {landed:,} lines through bronze, silver and ClickHouse in {events_seconds:.0f} s "
              f"({landed / events_seconds:,.0f} lines/s)")
    client = clickhouse_connect.get_client(host=settings.clickhouse.host, port=settings.clickhouse.port)
    print()
    print(marts.summary(client))
    truth = pq.read_table(settings.home / "answers" / "attribution_truth.parquet")
    print("Agreement with the generator's ground truth (winning touch = designed touch):")
    for cls, figures in marts.attribution_agreement(client, truth).items():
        print(f"  {cls:<20} {figures['installs']:>8,} installs  {figures['agreement']:.2%}")
    print_fraud_and_ltv(client, summary, settings)
    print_feature_store(summary, settings, redis=args.redis)
    gx = {k: v for k, v in summary.checks.items() if k.split(":")[-1].startswith("gx_")}
    print(f"\nGreat Expectations: {sum(gx.values())} of {len(gx)} suites passed "
          f"({', '.join(sorted(k.split(':')[-1] for k in gx))}); Data Docs: {runner.docs_index(settings.home)}")
    print("\nNext: `make dev` opens the Dagster UI on http://127.0.0.1:3000")
    return 0 if summary.success else 1


def print_fraud_and_ltv(client, summary, settings) -> None:
    from unmogrowp.fraud import report

    print("\nFraud decisions (share of all installs, by reason and action):")
    for row in report.decision_shares(client).itertuples():
        print(f"  {row.reason:<22} {row.action:<7} {row.installs:>7,} installs  {row.share:.2%}")
    labels = pq.read_table(settings.home / "answers" / "fraud_labels.parquet").to_pandas()
    inj = report.injection_rule_metrics(client, labels)
    print(f"Click-injection rule vs ground truth: caught {inj['caught']:,} of {inj['injected_installs']:,} "
          f"injected installs ({inj['recall']:.1%}), false rejections {inj['false_rejections']:,} "
          f"({inj['false_rejection_rate']:.3%} of the other installs)")
    fm = summary.metadata.get("fraud_model")
    if fm and SKIPPED not in fm:
        recalls = ", ".join(f"{k[len('recall_'):]} {v:.1%}" for k, v in fm.items() if k.startswith("recall_"))
        print(f"Fraud model (held-out days): ROC-AUC {fm['roc_auc']:.4f}, PR-AUC {fm['pr_auc']:.4f}, "
              f"precision {fm['precision']:.1%} / recall {fm['recall']:.1%} at 0.5; recall by type: {recalls}; "
              f"champion gate {fm['champion_gate']}")
    cq = summary.metadata.get("click_quality_model")
    if cq and SKIPPED not in cq:
        print(f"Click-quality model (TalkingData format, {cq['clicks']:,} generated clicks, "
              f"{cq['positive_share']:.2%} led to an install): held-out ROC-AUC {cq['roc_auc']:.4f}")
    fs = summary.metadata.get("fraud_scores")
    if fs:
        print(f"Fraud scoring: {fs['installs']:,} installs at {fs['installs_per_s']:,} installs/s "
              f"(model version {fs['model_version']})")
    lm = summary.metadata.get("ltv_model")
    if lm and SKIPPED not in lm:
        bt = lm["backtest_mape"]
        print(f"LTV backtest (D7 revenue from the first 3 days, held-out cohorts): MAPE total {lm['mape_total']:.1%} "
              f"(BG/NBD + Gamma-Gamma baseline {lm['mape_bgnbd_gamma_gamma']:.1%}, "
              f"naive early-revenue multiplier {lm['mape_naive_multiplier']:.1%})")
        print("  by cohort: " + ", ".join(f"{k} {v:.1%}" for k, v in bt["by_cohort"].items()))
        print("  by source: " + ", ".join(f"{k} {v:.1%}" for k, v in bt["by_source"].items()))


def print_feature_store(summary, settings, redis: bool = False) -> None:
    """Materialization figures and a few online vectors (sqlite; Redis too with ``redis``)."""
    from ml import feature_store as fstore
    from unmogrowp import redis_local

    print("\nFeature store (Feast):")
    for asset in ("fraud_online_features", "campaign_online_features"):
        m = summary.metadata.get(asset)
        if m:
            print(f"  {asset:<25} {m['rows']} in {m['seconds']:.1f} s ({m['rows_per_s']:,} rows/s) "
                  f"into {m['online_store']}")
    targets = [fstore.StoreTarget.of(settings)]
    proc = None
    if redis:
        proc, url = redis_local.start(settings.home / "redis")
        targets.append(fstore.StoreTarget.of(settings, online="redis", redis_url=url))
    try:
        for target in targets:
            store = fstore.get_store(target)
            if target.online == "redis":
                fstore.apply(store, target)
                fstore.materialize(store, ["device_fraud_features", "site_fraud_features", "campaign_daily_kpis"],
                                   datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC))
            for view, names in (("device_fraud_features", ["ctit_s", "ip_installs_24h", "is_anonymous_ip"]),
                                ("campaign_daily_kpis", ["installs", "ecpi", "fraud_tag_rate"])):
                keys = store.get_feature_view(view).join_keys
                latest = fstore.latest_rows(store, view, datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC))
                rows = latest.sort_values(keys).head(2)[keys].to_dict("records")
                got = store.get_online_features(features=[f"{view}:{n}" for n in names], entity_rows=rows).to_dict()
                for i, row in enumerate(rows):
                    entity = ", ".join(f"{k}={str(v)[:16]}" for k, v in row.items())
                    values = ", ".join(f"{n}={got[n][i]!r:.10}" for n in names)
                    print(f"  [{target.online}] {view}({entity}): {values}")
    finally:
        if proc:
            redis_local.stop(proc)


if __name__ == "__main__":
    sys.exit(main())
