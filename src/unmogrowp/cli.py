"""``unmogrowp``: the platform's command line."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime, timedelta

from unmogrowp.clickhouse import manager
from unmogrowp.config import ConfigError, load_settings


def _clickhouse(args: argparse.Namespace) -> int:
    settings = load_settings()
    ch = settings.clickhouse
    if not ch.managed:
        print(f"LAKEHOUSE_ENV={settings.env} uses the ClickHouse server at {ch.url}; "
              "there is no local server to manage", file=sys.stderr)
        return 2
    port = args.port or ch.port
    if args.action == "start":
        state, started = manager.start(settings.home, port)
        print(state.url)
        if not started:
            print(f"(already running, pid {state.pid})", file=sys.stderr)
        return 0
    if args.action == "stop":
        stopped = manager.stop(settings.home)
        print("stopped" if stopped else "not running")
        return 0
    state = manager.status(settings.home)
    if state is None:
        print(f"not running (data would be in {settings.home / 'clickhouse' / 'data'})")
        return 3
    print(f"running  {state.url}  pid {state.pid}  chDB {state.version}  "
          f"up {time.time() - state.started_at:.0f} s  data {state.data_path}")
    return 0


def _date(text: str) -> date:
    return date.fromisoformat(text)


def _hour(text: str) -> datetime:
    """An hour (UTC): 2026-09-01, 2026-09-01T05, 2026-09-01T05:00 or 2026-09-01-05:00."""
    t = text.strip().replace(" ", "T")
    if len(t) == 16 and t[10] == "-":  # Dagster's partition key form
        t = t[:10] + "T" + t[11:]
    parsed = datetime.fromisoformat(t if len(t) != 13 else t + ":00")
    if parsed.minute or parsed.second:
        raise argparse.ArgumentTypeError(f"{text}: give a whole hour")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _generate(args: argparse.Namespace) -> int:
    from unmogrowp.generator.simulate import SimConfig
    from unmogrowp.generator.writer import generate

    settings = load_settings()
    out = args.out or str(settings.home)
    t0 = time.perf_counter()
    result = generate(out, args.apps, args.start, args.end, args.seed,
                      SimConfig(installs_per_day=args.installs_per_day,
                                activity_days_after=args.activity_days_after), progress=not args.quiet)
    seconds = time.perf_counter() - t0
    print(f"{result.events:,} events in {result.files:,} batches and {result.cost_files:,} cost reports "
          f"written to {out.rstrip('/')}/landing in {seconds:.1f} s ({result.events / seconds:,.0f} events/s)")
    print(f"ground truth: {out.rstrip('/')}/answers/ (fraud_labels.parquet, manifest.json); faults: "
          + ", ".join(f"{k} {len(v) if isinstance(v, list) else v}" for k, v in result.faults.items()))
    return 0


def _run(args: argparse.Namespace) -> int:
    from orchestration.pipeline import format_summary, run_pipeline

    settings = load_settings()
    end = args.end if args.end > args.start else args.start + timedelta(hours=1)
    summary = run_pipeline(settings, args.start, end, landing_uri=args.landing)
    print(format_summary(summary, args.start, end))
    return 0 if summary.success else 1


def _erase(args: argparse.Namespace) -> int:
    import json

    from orchestration.pipeline import run_erasure

    report = run_erasure(load_settings(), args.id, args.requested_by)
    print(json.dumps({"request_id": report.request_id, "deleted": report.deleted, "remaining": report.remaining,
                      "verified": report.verified}, indent=2))
    return 0 if report.verified else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unmogrowp", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    ch = sub.add_parser("clickhouse", help="manage the local ClickHouse server")
    ch.add_argument("action", choices=("start", "stop", "status"))
    ch.add_argument("--port", type=int, help="default: UNMOGROWP_CLICKHOUSE_PORT or 18123")
    ch.set_defaults(func=_clickhouse)

    gen = sub.add_parser("generate", help="write realistic landing files (and the answers beside them)")
    gen.add_argument("--out", help="directory or s3:// prefix; landing/ and answers/ go under it "
                                   "(default: UNMOGROWP_HOME)")
    gen.add_argument("--apps", type=int, default=3)
    gen.add_argument("--start", type=_date, default=date(2026, 9, 1))
    gen.add_argument("--end", type=_date, default=date(2026, 9, 7), help="last day, inclusive")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--installs-per-day", type=int, default=6000, help="per app")
    gen.add_argument("--activity-days-after", type=int, default=0,
                     help="users keep playing this many days after --end (lets late cohort days mature)")
    gen.add_argument("--quiet", action="store_true", help="no progress bars")
    gen.set_defaults(func=_generate)

    run = sub.add_parser("run", help="materialize the pipeline through Dagster for a range of landing hours")
    run.add_argument("--landing", help="landing root (dir or s3://…; default UNMOGROWP_LANDING_URI)")
    run.add_argument("--start", type=_hour, required=True, help="first landing hour (UTC)")
    run.add_argument("--end", type=_hour, required=True, help="end hour, exclusive (UTC)")
    run.set_defaults(func=_run)

    erase = sub.add_parser("erase", help="erase a device or user everywhere (Delta, ClickHouse, Feast) and audit it")
    erase.add_argument("--id", action="append", required=True,
                       help="an advertising id, IDFV, Android id or user id (repeatable)")
    erase.add_argument("--requested-by", required=True, help="who asked (kept in the audit record)")
    erase.set_defaults(func=_erase)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, manager.ServerError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
