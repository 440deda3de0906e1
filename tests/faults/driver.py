"""Run the ingestion stages chunk by chunk (bronze → silver → ClickHouse per day), as the events
job does; the fault tests start it as a process and kill it in the middle."""

import sys
import time
from datetime import UTC, datetime, timedelta

import clickhouse_connect

from unmogrowp.ingest import events, warehouse
from unmogrowp.lake import Lake
from unmogrowp.landing import LandingStore
from unmogrowp.windows import chunks

START = datetime(2026, 9, 1, tzinfo=UTC)
END = START + timedelta(days=8)


def ingest(lake_uri: str, landing: str, port: int, start: datetime = START, end: datetime = END,
           hours: int = 24) -> None:
    lake, store = Lake(lake_uri), LandingStore(landing)
    client = clickhouse_connect.get_client(host="127.0.0.1", port=port)
    for s, e in chunks(start, end, hours):
        t0 = time.time()
        events.load_bronze(lake, store, events.event_files(store, s, e), s, e)
        events.build_silver(lake, s, e)
        warehouse.load_events(client, lake, s, e)
        print(f"chunk {s.isoformat()} {t0:.3f} {time.time():.3f}", flush=True)


if __name__ == "__main__":
    # lake landing port [start end hours]
    window = [datetime.fromisoformat(a) for a in sys.argv[4:6]]
    ingest(sys.argv[1], sys.argv[2], int(sys.argv[3]), *window, *[int(a) for a in sys.argv[6:7]])
