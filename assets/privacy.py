"""The ops of the privacy jobs (orchestration/privacy.py): erasure (configured with the request file
`unmogrowp erase` writes: the identifiers never go into the run config, its logs or metadata) and the
retention limit on raw identifiers."""

from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg

from assets.resources import ClickHouseResource, FeastResource, LakeResource, PrivacyResource
from unmogrowp.privacy import RAW_DAYS, SILVER_DAYS


class ErasureConfig(dg.Config):
    # <home>/privacy/erasure_requests/<request id>.json (mode 0600): the person's identifiers and the
    # requester; removed once the erasure is verified
    request_file: str


@dg.op(tags={"kind": "privacy"})
def erase_subject(context: dg.OpExecutionContext, config: ErasureConfig, lake: LakeResource,
                  clickhouse: ClickHouseResource, feast: FeastResource, privacy: PrivacyResource) -> dg.Output:
    """Deletes the person's rows from every Delta table (then vacuums), every ClickHouse table and
    the Feast online store, lists their identifiers' keyed hashes so ingestion drops replays,
    verifies nothing matches any more, and appends `audit/erasures`."""
    from unmogrowp.privacy.erasure import erase, read_request

    request = read_request(config.request_file)
    report = erase(lake.get_lake(), clickhouse.get_client(), feast.get_store(), request.identifiers,
                   request.requested_by, request_id=request.request_id, home=feast.home,
                   privacy_key=privacy.privacy_key, audit_salt=privacy.audit_salt)
    if not report.verified:
        raise dg.Failure(f"erasure {report.request_id} left rows behind: {report.remaining}")
    Path(config.request_file).unlink(missing_ok=True)
    return dg.Output(report.request_id, metadata={
        "request_id": report.request_id, "deleted": dg.MetadataValue.json(report.deleted),
        "rows_deleted": sum(report.deleted.values())})


class RetentionConfig(dg.Config):
    as_of: str = ""  # YYYY-MM-DD the limits count back from; empty = today (UTC)
    raw_days: int = RAW_DAYS  # landing lines and full IPs
    silver_days: int = SILVER_DAYS  # silver rows and their ClickHouse mirror


@dg.op(tags={"kind": "privacy"})
def apply_retention(context: dg.OpExecutionContext, config: RetentionConfig, lake: LakeResource,
                    clickhouse: ClickHouseResource) -> dg.Output:
    """Deletes bronze and quarantined landing lines older than raw_days, truncates silver's (and
    raw.events') IPs of that age to their networks, and deletes silver rows older than silver_days."""
    from unmogrowp.privacy import retention

    as_of = date.fromisoformat(config.as_of) if config.as_of else datetime.now(UTC).date()
    policy = retention.RetentionPolicy(config.raw_days, config.silver_days)
    report = retention.apply(lake.get_lake(), clickhouse.get_client(), as_of, policy)
    context.log.info(f"retention as of {as_of}: deleted {report.deleted}, {report.ips_truncated} IPs truncated")
    return dg.Output(report.ips_truncated, metadata={
        "as_of": as_of.isoformat(), "raw_cutoff": report.raw_cutoff, "silver_cutoff": report.silver_cutoff,
        "deleted": dg.MetadataValue.json(report.deleted), "ips_truncated": report.ips_truncated,
        "dates_truncated": dg.MetadataValue.json(report.dates_truncated)})

