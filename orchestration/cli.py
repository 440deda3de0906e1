"""``unmogrowp``: the platform's command line."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, date, datetime

from orchestration import defaults
from unmogrowp.clickhouse import manager
from unmogrowp.config import (
    DEFAULT_CLICKHOUSE_PORT,
    PARTITIONS_START_ENV,
    ConfigError,
    Settings,
    first_landing_date,
    load_settings,
    with_landing,
)
from unmogrowp.windows import as_utc

HOUR_FORMATS = "YYYY-MM-DD, YYYY-MM-DDTHH, YYYY-MM-DDTHH:00 or Dagster's YYYY-MM-DD-HH:00, UTC"


class UsageError(ValueError):
    """Bad input found after parsing; reported like an argparse error (exit 2)."""


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line on stderr (no usage block), exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {_one_line(message)}\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Ends every option's help with "(required)" or its default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.required and action.option_strings:
            return f"{text} (required)"
        if action.default is None or "default" in text:
            return text  # a None default is explained in the help text itself
        return super()._get_help_string(action)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _settings() -> Settings:
    try:
        return load_settings()
    except ValueError as e:  # e.g. a port or retention variable that is not a number
        raise ConfigError(f"environment: {e}") from e


def _clickhouse(args: argparse.Namespace) -> int:
    settings = _settings()
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
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: expected YYYY-MM-DD") from None


def _hour(text: str) -> datetime:
    """An hour (UTC): 2026-09-01, 2026-09-01T05, 2026-09-01T05:00 or 2026-09-01-05:00."""
    t = text.strip().replace(" ", "T")
    if len(t) == 16 and t[10] == "-":  # Dagster's partition key form
        t = t[:10] + "T" + t[11:]
    try:
        parsed = datetime.fromisoformat(t if len(t) != 13 else t + ":00")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an hour: expected {HOUR_FORMATS}") from None
    parsed = as_utc(parsed)
    if parsed.minute or parsed.second or parsed.microsecond:  # checked in UTC: partitions are UTC hours
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole hour: minutes and seconds must be 0")
    return parsed


def _time(text: str) -> datetime:
    """A moment (UTC unless an offset is given): 2026-09-08 12:30, 2026-09-08T12:30, 2026-09-08."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time: expected 'YYYY-MM-DD HH:MM' (UTC)") from None
    return as_utc(parsed)


def _int_from(low: int, high: int | None = None):
    """An argparse type: a whole number in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number {bound}")
        return value

    return parse


def _text(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a non-empty value")
    return text.strip()


def _identifier(text: str) -> str:
    """An erase id: a value that can identify one person (privacy.erasure.identifier_problem)."""
    from unmogrowp.privacy.erasure import identifier_problem

    problem = identifier_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(f"{text!r} is not an identifier: {problem}")
    return text


def _fmt_hour(t: datetime) -> str:
    return f"{t:%Y-%m-%dT%H:00}"


def _validate_generate(args: argparse.Namespace) -> None:
    if args.start > args.end:
        raise UsageError(f"--start {args.start} is after --end {args.end} (--end is the last day, inclusive)")


def _validate_run(args: argparse.Namespace, settings: Settings) -> Settings:
    """Refuse a range, as-of or landing zone the pipeline cannot use, before anything is started or
    written; returns the settings the run uses (``--landing`` applied)."""
    if args.start >= args.end:
        raise UsageError(f"--start {_fmt_hour(args.start)} is not before --end {_fmt_hour(args.end)} "
                         "(--end is exclusive: the last hour run is --end minus one hour)")
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    if args.end > now:  # the last hourly partition is the last whole hour
        raise UsageError(f"--end {_fmt_hour(args.end)} is after the current hour {_fmt_hour(now)} UTC: "
                         "hours that have not ended have no partition yet")
    as_of = getattr(args, "as_of", None)
    if as_of is not None and as_of > args.end:
        raise UsageError(f"--as-of {as_of:%Y-%m-%d %H:%M} is after --end {_fmt_hour(args.end)} UTC: the run "
                         "loads no landing hour after --end, so no data is complete to a later time")
    if as_of is not None and as_of <= args.start:
        raise UsageError(f"--as-of {as_of:%Y-%m-%d %H:%M} is not after --start {_fmt_hour(args.start)} UTC: "
                         "every cohort of the run would stay immature")
    if args.landing:
        settings = with_landing(settings, args.landing)
    landed = _check_landing(settings, "--landing" if args.landing else "the landing zone (UNMOGROWP_LANDING_URI)")
    first = datetime.combine(date.fromisoformat(settings.partitions_start), datetime.min.time(), UTC)
    if args.start < first:
        raise UsageError(_before_first_partition(args.start, first, settings, landed))
    return settings


def _before_first_partition(start: datetime, first: datetime, settings: Settings, landed: date) -> str:
    """Why --start is refused, and the UNMOGROWP_PARTITIONS_START that would take it."""
    text = f"--start {_fmt_hour(start)} is before the first partition {_fmt_hour(first)} UTC"
    if settings.partitions_start_source == "landing":
        return (f"{text}, the landing zone's first dt= date: nothing landed before it "
                f"(set {PARTITIONS_START_ENV}=YYYY-MM-DD to start earlier anyway)")
    origin = (f"{PARTITIONS_START_ENV}={settings.partitions_start}" if settings.partitions_start_source
              == PARTITIONS_START_ENV else f"the default; {PARTITIONS_START_ENV} is unset")
    landed = min(landed, date.fromisoformat(first_landing_date(settings.landing_uri) or landed.isoformat()))
    where = ("the landing zone's first dt= date" if landed <= start.date()
             else f"the --start date; the landing zone starts at {landed}")
    return (f"{text} ({origin}): set {PARTITIONS_START_ENV}={min(landed, start.date())} ({where}), for the "
            "definitions everywhere they load (dagster dev, the daemon, this command)")


def _check_landing(settings: Settings, what: str) -> date:
    """Refuse a landing root without event batches; returns its first event batch date (dt=)."""
    from unmogrowp.landing import LandingStore, is_event_key

    expected = "expected a landing root with event batches under events/ (see `unmogrowp generate`)"
    uri = settings.landing_uri
    store = LandingStore(uri, settings.storage_options(uri))
    if not store.is_s3 and not store.path.is_dir():
        state = "is not a directory" if store.path.exists() else "does not exist"
        raise UsageError(f"{what} {uri} {state}: {expected}")
    try:
        keys = [f.key for f in store.list("events/")]
    except Exception as e:  # S3: no bucket, no credentials, endpoint down
        raise UsageError(f"{what} {uri} cannot be listed ({type(e).__name__}: {e})") from e
    dates = sorted(k.split("/dt=", 1)[1][:10] for k in keys if is_event_key(k))
    if not dates:
        raise UsageError(f"{what} {uri} holds no event batches under "
                         f"events/app_id=<app>/dt=<YYYY-MM-DD>/hr=<HH>/: {expected}")
    try:
        return date.fromisoformat(dates[0])
    except ValueError:
        raise UsageError(f"{what} {uri} has an event batch under dt={dates[0]}, which is not a date") from None


def _generate(args: argparse.Namespace) -> int:
    _validate_generate(args)
    settings = _settings()

    from unmogrowp.generator.simulate import SimConfig
    from unmogrowp.generator.writer import generate

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
    settings = _validate_run(args, _settings())

    from orchestration.launcher import Progress
    from orchestration.pipeline import PIPELINE_JOBS, dagster_home, format_summary, run_pipeline

    as_of = f"; cohort maturity as of {args.as_of:%Y-%m-%d %H:%M} UTC" if args.as_of else ""
    print(f"launching {len(PIPELINE_JOBS)} runs on the Dagster instance in {dagster_home(settings)} "
          f"(logs: the Dagster UI, `make dev`; partitions from {settings.partitions_start}{as_of})", file=sys.stderr)
    summary = run_pipeline(settings, args.start, args.end, landing_uri=args.landing, as_of=args.as_of,
                           progress=Progress(len(PIPELINE_JOBS), stream=sys.stderr))
    print(format_summary(summary, args.start, args.end))
    return 0 if summary.success else 1


def _erase(args: argparse.Namespace) -> int:
    import json

    settings = _settings()

    from orchestration.pipeline import run_erasure
    from unmogrowp.privacy.erasure import NotAnIdentifier

    try:
        report = run_erasure(settings, args.id, args.requested_by)
    except NotAnIdentifier as e:  # e.g. a network name of the user's config (checked before anything is written)
        raise UsageError(f"argument --id: {e}") from e
    print(json.dumps({"request_id": report.request_id, "deleted": report.deleted, "remaining": report.remaining,
                      "verified": report.verified}, indent=2))
    return 0 if report.verified else 1


def _report(args: argparse.Namespace) -> int:
    """Build the daily growth report of --date from the ClickHouse marts and write it as one HTML file."""
    import logging
    import re
    from pathlib import Path

    import clickhouse_connect
    from clickhouse_connect.driver.exceptions import ClickHouseError

    from unmogrowp import growth_report

    settings = _settings()
    ch = settings.clickhouse
    name = f"growth_{args.date.isoformat()}.html"
    out = Path(args.out) if args.out else settings.home / "reports" / name
    if out.is_dir() or (args.out or "").endswith(("/", os.sep)):  # a directory, existing or to be made
        out = out / name
    driver_log = logging.getLogger("clickhouse_connect")
    level = driver_log.level
    driver_log.setLevel(logging.CRITICAL)  # it logs its own "Unexpected Http Driver Exception" line
    try:
        client = clickhouse_connect.get_client(host=ch.host, port=ch.port, username=ch.user, password=ch.password,
                                               secure=ch.secure, database=ch.database)
    except Exception as e:  # refused, timed out, wrong credentials: nothing to report from
        hint = " (start it with `unmogrowp clickhouse start`)" if ch.managed else ""
        why = re.search(r"\[Errno -?\d+\][^\"')]*", str(e))
        raise manager.ServerError(f"the ClickHouse server at {ch.url} is not reachable{hint}: "
                                  f"{why.group(0).strip() if why else f'{type(e).__name__}: {str(e)[:300]}'}") from None
    finally:
        driver_log.setLevel(level)
    mlflow_db = settings.home / "mlflow" / "mlflow.db"  # ml.tracking.local_store's sqlite file
    tracking_uri = settings.mlflow_tracking_uri or (f"sqlite:///{mlflow_db}" if mlflow_db.is_file() else None)
    try:
        report = growth_report.build_report(client, args.date, mlflow_tracking_uri=tracking_uri)
    except growth_report.ReportError as e:
        raise UsageError(str(e)) from None
    except ClickHouseError as e:
        raise manager.ServerError(f"ClickHouse at {ch.url} failed while building the report: {e}") from None
    finally:
        client.close()
    print(growth_report.write_report(report, out))
    if not report.has_data:
        print(f"no data for {args.date.isoformat()}: the report says so", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="unmogrowp", description=__doc__, formatter_class=_HelpFormatter,
                     epilog="Exit codes: 0 done, 1 failed while running, 2 bad input or configuration "
                            "(nothing written), 3 clickhouse status: not running.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, formatter_class=_HelpFormatter)

    ch = command("clickhouse", "manage the local ClickHouse server")
    ch.add_argument("action", choices=("start", "stop", "status"), help="start, stop or status")
    ch.add_argument("--port", type=_int_from(1, 65535), metavar="PORT",
                    help=f"TCP port for start (default: UNMOGROWP_CLICKHOUSE_PORT or {DEFAULT_CLICKHOUSE_PORT})")
    ch.set_defaults(func=_clickhouse)

    gen = command("generate", "write realistic landing files (and the answers beside them)")
    gen.add_argument("--out", metavar="PATH",
                     help="directory or s3:// prefix where landing/ and answers/ go (default: UNMOGROWP_HOME)")
    gen.add_argument("--apps", type=_int_from(1), default=defaults.APPS, metavar="N", help="number of apps, at least 1")
    gen.add_argument("--start", type=_date, default=defaults.START, metavar="YYYY-MM-DD", help="first day, UTC")
    gen.add_argument("--end", type=_date, default=defaults.END, metavar="YYYY-MM-DD",
                     help="last day, UTC, inclusive, not before --start")
    gen.add_argument("--seed", type=int, default=defaults.SEED, metavar="N", help="random seed (same seed, same files)")
    gen.add_argument("--installs-per-day", type=_int_from(1), default=defaults.INSTALLS_PER_DAY, metavar="N",
                     help="installs per app and day, at least 1")
    gen.add_argument("--activity-days-after", type=_int_from(0), default=defaults.ACTIVITY_DAYS_AFTER, metavar="DAYS",
                     help="users keep playing this many days after --end (lets late cohort days mature)")
    gen.add_argument("--quiet", action="store_true", help="no progress bars")
    gen.set_defaults(func=_generate)

    run = command("run", "materialize the pipeline through Dagster for a range of landing hours")
    run.add_argument("--landing", metavar="URI",
                     help="landing root holding events/: a directory, file:// or s3:// URI "
                          "(default: UNMOGROWP_LANDING_URI or UNMOGROWP_HOME/landing)")
    run.add_argument("--start", type=_hour, required=True, metavar="HOUR",
                     help="first landing hour, not before the first partition (UNMOGROWP_PARTITIONS_START; "
                          f"unset locally: the landing zone's first dt= date); {HOUR_FORMATS}")
    run.add_argument("--end", type=_hour, required=True, metavar="HOUR",
                     help="end hour, exclusive, after --start; same formats")
    run.add_argument("--as-of", type=_time, metavar="'YYYY-MM-DD HH:MM'",
                     help="judge cohort maturity as of this time (UTC), after --start and not after --end; it "
                          "caps each app's latest event (default: each app's latest event)")
    run.set_defaults(func=_run)

    erase = command("erase", "erase a device or user everywhere (Delta, ClickHouse, Feast) and audit it")
    erase.add_argument("--id", action="append", required=True, type=_identifier, metavar="ID",
                       help="an advertising id, IDFV, Android id or user id, exactly as in the data (repeatable); "
                            "refused: fewer than 8 characters, whitespace, one repeated character (the zeroed "
                            "IDFA), a value of the data such as a platform, event type or network name")
    erase.add_argument("--requested-by", required=True, type=_text, metavar="WHO",
                       help="who asked (kept in the audit record)")
    erase.set_defaults(func=_erase)

    report = command("report", "write the daily growth report (one self-contained HTML file) from the marts")
    report.add_argument("--date", type=_date, required=True, metavar="YYYY-MM-DD", help="install date to report, UTC")
    report.add_argument("--out", metavar="PATH",
                        help="file to write, or an existing directory for growth_YYYY-MM-DD.html in it "
                             "(default: UNMOGROWP_HOME/reports/growth_YYYY-MM-DD.html)")
    report.set_defaults(func=_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Exit 2 for bad input or configuration (before anything is written), 1 for a failure while running."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, ConfigError) as e:
        print(f"unmogrowp {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except manager.ServerError as e:
        print(f"unmogrowp {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"unmogrowp {args.command}: interrupted (a launched run was asked to stop)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
