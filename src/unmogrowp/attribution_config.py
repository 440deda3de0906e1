"""Attribution config tables: the package's defaults (the dbt seeds) and the user's own rows.

A deployment adds networks, window overrides, targeting, exchange rates or anonymous IP ranges
without editing tracked files: a CSV of the same name and columns under ``<UNMOGROWP_HOME>/config/``
is loaded beside the defaults (``warehouse_databases`` copies it to ``config_user.<name>``; the dbt
models read both, the user's rows first).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import yaml

SEEDS = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"
TABLES = ("network_priority", "attribution_window_overrides", "campaign_targeting", "fx_rates",
          "anonymous_ip_ranges")
USER_DATABASE = "config_user"


def user_dir(home: Path) -> Path:
    return Path(home) / "config"


def _read(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def columns(name: str) -> list[str]:
    with open(SEEDS / f"{name}.csv", newline="") as fh:
        return next(csv.reader(fh))


def user_rows(home: Path, name: str) -> list[dict[str, str]]:
    """The user's rows of config table ``name``; a file whose header differs from the default's is
    refused (a misspelt column must not silently configure nothing)."""
    path = user_dir(home) / f"{name}.csv"
    rows = _read(path)
    if path.is_file():
        with open(path, newline="") as fh:
            header = next(csv.reader(fh), [])
        expected = columns(name)
        if header != expected:
            raise ValueError(f"{path}: columns {header} differ from the default {name} columns {expected}")
    return rows


def rows(home: Path, name: str) -> list[dict[str, str]]:
    """Defaults and user rows of ``name``, the user's first."""
    return user_rows(home, name) + _read(SEEDS / f"{name}.csv")


def known_networks(home: Path) -> list[str]:
    return sorted({r["media_source"] for r in rows(home, "network_priority")})




def column_types(name: str) -> dict[str, str]:
    """The seed's ClickHouse column types (``_seeds.yml``), in the CSV's column order."""
    seeds = yaml.safe_load((SEEDS / "_seeds.yml").read_text())["seeds"]
    types = next(s for s in seeds if s["name"] == name).get("config", {}).get("column_types", {})
    return {c: types.get(c, "Nullable(String)") for c in columns(name)}


def load_user_config(client, home: Path) -> dict[str, int]:
    """Replace ``config_user.<name>`` with the user's rows for every config table (empty without a
    file); returns the row counts. Files are validated before any table changes."""
    user = {name: user_rows(home, name) for name in TABLES}  # raises on a bad file, before writing
    client.command(f"CREATE DATABASE IF NOT EXISTS {USER_DATABASE}")
    for name, rows_ in user.items():
        types = column_types(name)
        table = f"{USER_DATABASE}.{name}"
        client.command(f"CREATE TABLE IF NOT EXISTS {table} ("
                       + ", ".join(f"`{c}` {t}" for c, t in types.items()) + ") ENGINE = MergeTree ORDER BY tuple()")
        client.command(f"TRUNCATE TABLE {table}")
        if rows_:
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=list(types))
            writer.writeheader()
            writer.writerows(rows_)
            client.raw_insert(table, column_names=list(types), insert_block=out.getvalue().encode(),
                              fmt="CSVWithNames", settings={"input_format_csv_empty_as_default": 1})
    return {name: len(r) for name, r in user.items()}
