"""``unmogrowp``: the platform's command line."""

from __future__ import annotations

import argparse
import sys
import time

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unmogrowp", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    ch = sub.add_parser("clickhouse", help="manage the local ClickHouse server")
    ch.add_argument("action", choices=("start", "stop", "status"))
    ch.add_argument("--port", type=int, help="default: UNMOGROWP_CLICKHOUSE_PORT or 18123")
    ch.set_defaults(func=_clickhouse)
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
