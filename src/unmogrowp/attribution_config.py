"""Attribution config tables: the package's defaults (the dbt seeds) and the user's own rows.

A deployment adds networks, window overrides, targeting, exchange rates or anonymous IP ranges
without editing tracked files: a CSV of the same name and columns under ``<UNMOGROWP_HOME>/config/``
is loaded beside the defaults (the ``config_user/*`` assets copy it to ``config_user.<name>``; the
``stg_config__*`` views put the user's rows first and every model reads those).
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


def _check_values(home: Path, name: str, rows_: list[dict[str, str]]) -> None:
    """A blank value in a column the seed types non-Nullable would load as 0 or '' (a top priority,
    a window switched off, a zero exchange rate): refused, with the line."""
    required = [c for c, t in column_types(name).items() if not t.startswith("Nullable")]
    for line, row in enumerate(rows_, start=2):
        blank = [c for c in required if not (row.get(c) or "").strip()]
        if blank:
            raise ValueError(f"{user_dir(home) / (name + '.csv')} line {line}: {', '.join(blank)} must not be blank")


def load_user_config(client, home: Path) -> dict[str, int]:
    """Replace ``config_user.<name>`` with the user's rows for every config table (empty without a
    file); returns the row counts. Every file is checked and loaded into a staging table first, then
    all tables are swapped (EXCHANGE): a bad file or value changes nothing, readers never see half."""
    user = {name: user_rows(home, name) for name in TABLES}  # raises on a bad header, before writing
    for name, rows_ in user.items():
        _check_values(home, name, rows_)
    client.command(f"CREATE DATABASE IF NOT EXISTS {USER_DATABASE}")
    for name, rows_ in user.items():
        types = column_types(name)
        ddl = ", ".join(f"`{c}` {t}" for c, t in types.items())
        table, new = f"{USER_DATABASE}.{name}", f"{USER_DATABASE}.{name}__new"
        client.command(f"CREATE TABLE IF NOT EXISTS {table} ({ddl}) ENGINE = MergeTree ORDER BY tuple()")
        client.command(f"DROP TABLE IF EXISTS {new}")
        client.command(f"CREATE TABLE {new} ({ddl}) ENGINE = MergeTree ORDER BY tuple()")
        if rows_:
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=list(types))
            writer.writeheader()
            writer.writerows(rows_)
            client.raw_insert(new, column_names=list(types), insert_block=out.getvalue().encode(),
                              fmt="CSVWithNames", settings={"input_format_csv_empty_as_default": 1})
    for name in user:
        client.command(f"EXCHANGE TABLES {USER_DATABASE}.{name}__new AND {USER_DATABASE}.{name}")
        client.command(f"DROP TABLE {USER_DATABASE}.{name}__new")
    return {name: len(r) for name, r in user.items()}
