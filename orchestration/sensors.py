"""Sensors: new landing files start ingestion runs for the partitions they belong to."""

import json

import dagster as dg

from orchestration.resources import LandingResource
from unmogrowp.landing import LandingFile, is_cost_key, is_event_key


def _is_new(f: LandingFile, modified: float, keys_at_mark: set[str]) -> bool:
    return f.modified > modified or (f.modified == modified and f.key not in keys_at_mark)


def build_landing_sensor(events_job, cost_job, running: bool) -> dg.SensorDefinition:
    status = dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED

    @dg.sensor(name="landing_sensor", jobs=[events_job, cost_job], minimum_interval_seconds=60,
               default_status=status)
    def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingResource):
        """Requests an ingestion run for each landing hour / cost date with new files.

        The cursor is a high-water mark on modification time plus the keys seen at that time:
        landing files are immutable, so anything older has been requested already.
        """
        cursor = json.loads(context.cursor) if context.cursor else {"modified": 0.0, "keys": []}
        modified, keys = cursor["modified"], set(cursor["keys"])
        files = landing.get_store().list()
        new = [f for f in files if _is_new(f, modified, keys)]
        if not new:
            return dg.SkipReason(f"no landing files after {modified}")
        hours = sorted({f.event_hour.strftime("%Y-%m-%d-%H:00") for f in new if is_event_key(f.key)})
        dates = sorted({f.cost_date.isoformat() for f in new if is_cost_key(f.key)})
        top = max(f.modified for f in new)
        at_top = sorted({f.key for f in files if f.modified == top} | (keys if top == modified else set()))
        stamp = f"{top:.6f}:{len(at_top)}"
        requests = [dg.RunRequest(run_key=f"events:{h}:{stamp}", job_name=events_job.name, partition_key=h)
                    for h in hours]
        requests += [dg.RunRequest(run_key=f"cost:{d}:{stamp}", job_name=cost_job.name, partition_key=d)
                     for d in dates]
        return dg.SensorResult(run_requests=requests,
                               cursor=json.dumps({"modified": top, "keys": at_top}))

    return landing_sensor
