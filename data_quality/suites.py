"""Expectation suites, written in code. Each invariant lives in one place: dbt tests cover the SQL
models' keys and the credits sums; these suites cover the lake tables, the feature tables and the
mart invariants dbt does not (attribution rate against the trailing week, retention monotonicity).
"""

from __future__ import annotations

from datetime import UTC, datetime

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd
from great_expectations.expectations.row_conditions import Column

from unmogrowp.contracts.base import ALL, Contract
from unmogrowp.contracts.cost import COST_CONTRACT, COST_KEY
from unmogrowp.contracts.events import EVENT_CONTRACT, EVENT_TYPES
from unmogrowp.ingest.events import BRONZE_SCHEMA, LINEAGE

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
CURRENCY = r"^[A-Z]{3}$"
# features present on every install (CTIT is present on every install with a winning touch)
FEATURE_NOT_NULL = ("device_key", "match_method", "ip_installs_24h", "ip_devices_24h", "sessions_24h",
                    "device_clicks_7d", "is_anonymous_ip")
FEATURE_NON_NEGATIVE = ("ctit_s", "log_ctit", "geo_distance_km", "device_clicks_7d", "ip_installs_1h",
                        "ip_installs_24h", "ip_devices_24h", "ip_clicks_1h", "ip_clicks_24h", "sessions_24h",
                        "events_24h", "purchases_24h", "time_to_first_session_s")
DRIFT_COLUMNS = ("log_ctit", "ip_installs_24h", "sessions_24h", "device_clicks_7d")
DRIFT_BAND = 0.5  # a key feature's mean may move by half its previous value (plus an absolute floor)
DRIFT_FLOOR = 0.25
ATTRIBUTION_RATE_BAND = (0.5, 2.0)  # a network's share of installs against its trailing-week share


def _contract_expectations(contract: Contract) -> list:
    """Required fields, enums, ranges and currency codes from the contract's own field rules."""
    out = []
    for f in contract.fields:
        if ALL in f.required_for:
            out.append(gxe.ExpectColumnValuesToNotBeNull(column=f.name))
        elif f.required_for and contract.type_field:
            types = sorted(f.required_for)
            out.append(gxe.ExpectColumnValuesToNotBeNull(
                column=f.name, row_condition=Column(contract.type_field).is_in(types)))
        if f.kind == "enum" and f.values:
            out.append(gxe.ExpectColumnValuesToBeInSet(column=f.name, value_set=sorted(f.values)))
        if f.min_value is not None or f.max_value is not None:
            out.append(gxe.ExpectColumnValuesToBeBetween(column=f.name, min_value=f.min_value, max_value=f.max_value))
        if f.kind == "currency":
            out.append(gxe.ExpectColumnValuesToMatchRegex(column=f.name, regex=CURRENCY))
    return out


def bronze_events(now: datetime) -> gx.ExpectationSuite:
    """Landed lines: the bronze schema, lineage on every row, a raw line unless the file was unreadable."""
    return gx.ExpectationSuite(name="bronze_events", expectations=[
        gxe.ExpectTableColumnsToMatchSet(column_set=BRONZE_SCHEMA.names, exact_match=True),
        *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in ("source_file", "line_number", "landing_hour")],
        gxe.ExpectColumnValuesToNotBeNull(column="raw_line", row_condition=Column("read_error").is_null()),
        gxe.ExpectColumnValuesToBeBetween(column="line_number", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="landing_hour", min_value=EARLIEST, max_value=now),
    ])


def silver_events(now: datetime) -> gx.ExpectationSuite:
    """Typed events: the contract's rules re-checked after the write, unique event ids in the
    window and sane timestamps."""
    return gx.ExpectationSuite(name="silver_events", expectations=[
        gxe.ExpectTableColumnsToMatchSet(column_set=[*LINEAGE.names, *EVENT_CONTRACT.names], exact_match=True),
        gxe.ExpectColumnValuesToBeUnique(column="event_id"),
        gxe.ExpectColumnValuesToBeInSet(column="event_type", value_set=list(EVENT_TYPES)),
        gxe.ExpectColumnValuesToBeBetween(column="event_ts", min_value=EARLIEST, max_value=now),
        gxe.ExpectColumnValuesToBeBetween(column="received_ts", min_value=EARLIEST, max_value=now),
        *_contract_expectations(EVENT_CONTRACT),
    ])


def known_networks(networks: list[str]) -> gx.ExpectationSuite:
    """Touches come from networks the attribution config lists (a warning: others rank last)."""
    return gx.ExpectationSuite(name="known_networks", expectations=[
        gxe.ExpectColumnValuesToBeInSet(column="media_source", value_set=networks),
    ])


def cost_current() -> gx.ExpectationSuite:
    """Current cost: one row per cost key, non-negative spend, currency codes."""
    return gx.ExpectationSuite(name="cost_current", expectations=[
        gxe.ExpectCompoundColumnsToBeUnique(column_list=list(COST_KEY)),
        *_contract_expectations(COST_CONTRACT),
    ])


def fraud_install_features() -> gx.ExpectationSuite:
    """Every install with a winning touch has its CTIT; counts and activity are present and
    non-negative; one row per install."""
    return gx.ExpectationSuite(name="fraud_install_features", expectations=[
        gxe.ExpectColumnValuesToNotBeNull(column="ctit_s", row_condition=Column("winning_touch_id").is_not_null()),
        *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in FEATURE_NOT_NULL],
        *[gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0) for c in FEATURE_NON_NEGATIVE],
        gxe.ExpectColumnValuesToBeInSet(column="is_anonymous_ip", value_set=[0, 1]),
        gxe.ExpectColumnValuesToBeUnique(column="install_id"),
    ])


def fraud_feature_drift(previous: pd.DataFrame) -> gx.ExpectationSuite:
    """Key means against the previous feature day's."""
    expectations = []
    for c in DRIFT_COLUMNS:
        mean = float(previous[c].mean())
        if pd.notna(mean):
            band = max(abs(mean) * DRIFT_BAND, DRIFT_FLOOR)
            expectations.append(gxe.ExpectColumnMeanToBeBetween(column=c, min_value=mean - band,
                                                                max_value=mean + band))
    return gx.ExpectationSuite(name="fraud_feature_drift", expectations=expectations)


def attribution_rate() -> gx.ExpectationSuite:
    """Each network's share of a day's installs stays within a band of its trailing-week share."""
    low, high = ATTRIBUTION_RATE_BAND
    return gx.ExpectationSuite(name="attribution_rate", expectations=[
        gxe.ExpectColumnValuesToBeBetween(column="ratio_to_trailing_week", min_value=low, max_value=high,
                                          row_condition=Column("trailing_installs") >= 50),
    ])


def cohort_retention() -> gx.ExpectationSuite:
    """Rolling retention (active on day N or later) is never below classic (active on day N)."""
    return gx.ExpectationSuite(name="cohort_retention", expectations=[
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="retained_rolling", column_B="retained_classic",
                                                    or_equal=True, ignore_row_if="either_value_is_missing"),
    ])
