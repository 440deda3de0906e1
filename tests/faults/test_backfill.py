"""A backfill of a past day while the hourly runs go on: both write bronze, silver and ClickHouse
at once, and the result equals one sequential run (no event twice, none lost)."""

import os
import subprocess
import sys
from datetime import timedelta

from tests.conftest import REPO, private_clickhouse
from tests.faults.driver import START, ingest
from tests.faults.test_kill_and_rerun import _state
from unmogrowp.clickhouse import manager
from unmogrowp.lake import Lake

DAY1, DAY2, DAY3 = START, START + timedelta(days=1), START + timedelta(days=2)


def _driver(lake_uri, landing, port, start, end, hours):
    return subprocess.Popen([sys.executable, "-m", "tests.faults.driver", lake_uri, landing, str(port),
                             start.isoformat(), end.isoformat(), str(hours)],
                            cwd=REPO, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _span(stdout: str) -> tuple[float, float]:
    """When the process's first chunk began and its last chunk ended."""
    times = [line.split()[2:4] for line in stdout.splitlines() if line.startswith("chunk ")]
    return float(times[0][0]), float(times[-1][1])


def test_backfill_beside_hourly_runs_counts_each_event_once(generated, tmp_path):
    out, _ = generated
    landing = str(out / "landing")
    ref_state, ref_client = private_clickhouse(tmp_path / "ref")
    state, client = private_clickhouse(tmp_path / "home")
    try:
        ref_lake = (tmp_path / "ref" / "lake").as_uri()
        ingest(ref_lake, landing, ref_state.port, DAY1, DAY3)  # one sequential run of both days
        reference = _state(Lake(ref_lake), ref_client)

        lake = (tmp_path / "home" / "lake").as_uri()
        ingest(lake, landing, state.port, DAY1, DAY2)  # day 1 was loaded once already
        hourly = _driver(lake, landing, state.port, DAY2, DAY3, 1)  # day 2, hour by hour
        backfill = _driver(lake, landing, state.port, DAY1, DAY2, 24)  # day 1 again, at the same time
        (h_out, h_err), (b_out, b_err) = (p.communicate(timeout=900) for p in (hourly, backfill))
        assert (hourly.returncode, backfill.returncode) == (0, 0), (h_err, b_err)
        (h0, h1), (b0, b1) = _span(h_out), _span(b_out)
        assert b0 < h1 and h0 < b1, "the backfill and the hourly runs did not overlap"
        assert h_out.count("chunk ") == 24
        assert _state(Lake(lake), client) == reference
    finally:
        manager.stop(tmp_path / "ref")
        manager.stop(tmp_path / "home")
