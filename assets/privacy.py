"""Erasure as a Dagster job: one op, configured with the identifiers and the requester."""

import dagster as dg

from orchestration.resources import ClickHouseResource, FeastResource, LakeResource

ERASURE_JOB = "erasure_job"


class ErasureConfig(dg.Config):
    identifiers: list[str]  # advertising ids, IDFVs, Android ids or user ids of one person
    requested_by: str


@dg.op(tags={"kind": "privacy"})
def erase_subject(context: dg.OpExecutionContext, config: ErasureConfig, lake: LakeResource,
                  clickhouse: ClickHouseResource, feast: FeastResource) -> dg.Output:
    """Deletes the person's rows from every Delta table (then vacuums), every ClickHouse table and
    the Feast online store, verifies nothing matches any more, and appends `audit/erasures`."""
    from unmogrowp.privacy.erasure import erase

    report = erase(lake.get_lake(), clickhouse.get_client(), feast.get_store(), config.identifiers,
                   config.requested_by)
    if not report.verified:
        raise dg.Failure(f"erasure {report.request_id} left rows behind: {report.remaining}")
    return dg.Output(report.request_id, metadata={
        "request_id": report.request_id, "deleted": dg.MetadataValue.json(report.deleted),
        "rows_deleted": sum(report.deleted.values())})


@dg.job(name=ERASURE_JOB, description="Erase a device or user everywhere (GDPR/CCPA) and write the audit record.")
def erasure_job():
    erase_subject()
