"""SDK event contract, version 1 (SPEC §1.1)."""

from datetime import timedelta

from unmogrowp.contracts.base import ALL, Contract, Field

EVENT_CONTRACT_VERSION = "1.0.0"
TOUCH_TYPES = ("impression", "click")
EVENT_TYPES = ("impression", "click", "install", "session_start", "app_open", "in_app_event",
               "purchase", "ad_revenue", "uninstall")
PLATFORMS = ("ios", "android")
# event_ts may be at most this far after received_ts (client clock skew) ...
MAX_CLOCK_SKEW = timedelta(hours=1)
# ... and at most this far before it (late arrival); older events are quarantined as too_late.
LATE_ARRIVAL_LIMIT = timedelta(days=7)


def _f(name, kind, required=(), allowed=(ALL,), **kw) -> Field:
    return Field(name, kind, frozenset(required), frozenset(allowed), **kw)


EVENT_FIELDS = (
    _f("event_id", "uuid", [ALL], description="UUID, the dedup key"),
    _f("app_id", "string", [ALL]),
    _f("event_type", "enum", [ALL], values=frozenset(EVENT_TYPES)),
    _f("event_ts", "timestamp", [ALL], description="when it happened (UTC, ms); install_ts for installs"),
    _f("received_ts", "timestamp", [ALL], description="when the ingestion edge received it"),
    _f("platform", "enum", [ALL], values=frozenset(PLATFORMS)),
    _f("device_id", "uuid", zero_is_null=True, description="IDFA/GAID; zeroed (LAT) means absent"),
    _f("idfv", "string"),
    _f("android_id", "string"),
    _f("ip", "ip"),
    _f("user_agent", "string"),
    _f("country", "country"),
    _f("os_version", "string"),
    _f("app_version", "string"),
    _f("sdk_version", "string"),
    _f("user_id", "string"),
    # touches
    _f("touch_id", "string", TOUCH_TYPES, TOUCH_TYPES),
    _f("media_source", "string", TOUCH_TYPES, TOUCH_TYPES),
    _f("campaign_id", "string", TOUCH_TYPES, TOUCH_TYPES),
    _f("adset_id", "string", (), TOUCH_TYPES),
    _f("ad_id", "string", (), TOUCH_TYPES),
    _f("site_id", "string", (), TOUCH_TYPES, description="sub-publisher"),
    _f("click_id", "string", (), TOUCH_TYPES),
    _f("is_retargeting", "bool", (), TOUCH_TYPES),
    # installs (Android store referrer)
    _f("install_begin_ts", "timestamp", (), ["install"]),
    _f("referrer_click_ts", "timestamp", (), ["install"]),
    _f("referrer_click_id", "string", (), ["install"]),
    # in-app events and revenue
    _f("event_name", "string", ["in_app_event"], ["in_app_event", "purchase"]),
    _f("revenue", "float", ["purchase", "ad_revenue"], ["purchase", "ad_revenue"],
       min_value=0.0, max_value=1e6),
    _f("currency", "currency", ["purchase", "ad_revenue"], ["purchase", "ad_revenue"]),
    _f("ad_network", "string", (), ["ad_revenue"]),
)

EVENT_CONTRACT = Contract(
    name="sdk_event",
    version=EVENT_CONTRACT_VERSION,
    fields=EVENT_FIELDS,
    type_field="event_type",
    record_types=EVENT_TYPES,
    extra_checks=(
        ("event_ts_in_future",
         f"x_event_ts > x_received_ts + INTERVAL {int(MAX_CLOCK_SKEW.total_seconds())} SECOND"),
        ("too_late",
         f"x_event_ts < x_received_ts - INTERVAL {int(LATE_ARRIVAL_LIMIT.total_seconds())} SECOND"),
    ),
)
