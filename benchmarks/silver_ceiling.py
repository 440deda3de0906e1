"""The floor under bronze → silver: how fast the ClickHouse engine alone reads and validates the lines.

Run: `.venv/bin/python benchmarks/silver_ceiling.py .lakehouse/landing` (after `make demo`). chDB reads
the gzip NDJSON batches natively (no Python, no Delta) and runs the event contract's validation SQL
over them; truncated files (which stop chDB's reader) are left out. If these stages alone take
longer than the 250k events/s target allows for the whole landing → ClickHouse path, the target
cannot be met with the full contract on this machine.
"""

import gzip
import os
import sys
import tempfile
import time
from pathlib import Path

import chdb

from unmogrowp.contracts.events import EVENT_CONTRACT


def main() -> None:
    landing = Path(sys.argv[1]).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        good = 0
        for path in (landing / "events").rglob("*.json.gz"):
            data = path.read_bytes()
            try:
                gzip.decompress(data)
            except (EOFError, OSError):
                continue
            target = Path(tmp) / "events" / path.relative_to(landing / "events")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            good += 1
        os.chdir(tmp)  # chDB reads files under the working directory only
        conn = chdb.connect(":memory:")
        glob = "events/*/*/*/*.json.gz"

        def timed(label: str, sql: str) -> float:
            t0 = time.perf_counter()
            out = conn.query(sql, "CSV").bytes().decode().strip()
            seconds = time.perf_counter() - t0
            print(f"{label:44} {seconds:6.2f} s   {out}")
            return seconds

        lines = int(conn.query(f"SELECT count() FROM file('{glob}', 'LineAsString')", "CSV").bytes())
        print(f"{good} intact batches, {lines:,} lines, 2 cores")
        read = timed("gunzip + split lines into memory", "CREATE TABLE raw ENGINE = Memory AS SELECT line AS raw_line, "
                     f"CAST(NULL, 'Nullable(String)') AS read_error FROM file('{glob}', 'LineAsString')")
        validation = EVENT_CONTRACT.validation_sql("raw", (), with_settings=False)
        validate = timed("contract validation, every output column",
                         f"SELECT count(), countIf(reason IS NULL), sum(isNull(cityHash64(*))) FROM ({validation}) "
                         "SETTINGS short_circuit_function_evaluation = 'disable'")
        both = read + validate
        print(f"read + validate alone: {lines / both:,.0f} lines/s; the 250k/s target leaves "
              f"{lines / 250_000 - both:.1f} s for bronze, silver and ClickHouse writes of {lines:,} lines")


if __name__ == "__main__":
    main()
