"""DuckDB on the files of the year-long engine run, and the run's figures against its targets.

``cargo bench --features engine,mimalloc --bench scale`` (``make bench-scale``) writes a year
of 100 sensors into a persistent engine under ``out/bench-scale/data`` and its figures to
``out/bench-scale/results.json``. This script then, in the same run:

- has DuckDB read the engine's magnetic store directly (``read_parquet(.../**/*.parquet,
  hive_partitioning = true)``) and checks it sees every row the engine wrote;
- writes the same rows with DuckDB (``COPY ... (FORMAT parquet, COMPRESSION zstd)``) and
  compares the sizes;
- times DuckDB's daily averages per sensor over the engine's own files (the median of three,
  with ``--duckdb-threads`` threads) against the engine's time for the same query;

and prints every target of the benchmark with its figure and whether it is met. The last line
is one JSON object with the comparison's figures. Exit status 1 if DuckDB's rows disagree.

    .venv/bin/python benches/compare_scale.py out/bench-scale
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=Path, help="the bench's directory (with results.json and data/)")
    parser.add_argument("--duckdb-threads", type=int, default=2)
    args = parser.parse_args()
    results = json.loads((args.dir / "results.json").read_text())
    tables = args.dir / "data" / "tables"
    files = f"{tables}/*/**/*.parquet"
    con = duckdb.connect()
    con.execute(f"SET threads = {args.duckdb_threads}")
    con.execute("SET TimeZone = 'UTC'")
    source = f"read_parquet('{files}', hive_partitioning = true, union_by_name = true)"

    [(rows, sensors)] = con.execute(f"SELECT count(*), count(DISTINCT mac) FROM {source}").fetchall()
    same = rows == results["rows"] and sensors == results["sensors"]

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "duckdb.parquet"
        con.execute(
            f"COPY (SELECT * EXCLUDE (date) FROM {source} ORDER BY mac, time) TO '{out}' "
            "(FORMAT parquet, COMPRESSION zstd)"
        )
        duck_bytes = out.stat().st_size

    # Days in UTC, as the engine's bin(time, 1d): on the naive timestamp, so that DuckDB need
    # not consult time zone rules for every row.
    daily = f"SELECT mac, date_trunc('day', time::TIMESTAMP) AS day, avg(temperature) AS t FROM {source} GROUP BY ALL"
    times = []
    for _ in range(3):
        t = time.perf_counter()
        answer = con.execute(daily).fetchall()
        times.append((time.perf_counter() - t) * 1000)
    duck_daily_ms = statistics.median(times)
    same = same and len(answer) == results["daily_averages_rows"]

    r = results
    mib_per_million = r["resident_mib_end"] / (r["rows"] / 1e6)
    rows_out = [
        ("ingest, all", f"{r['records_per_second']:,.0f} records/s", r["records_per_second"] >= 150_000),
        ("ingest, last month / first", f"{r['last_month_vs_first']:.2f}", r["last_month_vs_first"] >= 0.9),
        (
            "WriteRecords p99 during a pass / idle",
            f"{r['write_p99_ms_during_pass']:.1f} / {r['write_p99_ms_idle']:.1f} ms",
            r["write_p99_ms_during_pass"] <= 2 * r["write_p99_ms_idle"],
        ),
        (
            "resident memory at the end",
            f"{r['resident_mib_end']:.0f} MiB (peak {r['resident_mib_peak']:.0f}; "
            f"{mib_per_million:.1f} MiB per million rows)",
            r["resident_mib_end"] <= 1024,
        ),
        (
            "on disk / DuckDB zstd",
            f"{r['disk_bytes'] / 2**20:.0f} / {duck_bytes / 2**20:.0f} MiB = {r['disk_bytes'] / duck_bytes:.2f}",
            r["disk_bytes"] <= 1.5 * duck_bytes,
        ),
        ("restart", f"{r['restart_ms']:.0f} ms", r["restart_ms"] <= 3000),
        ("one sensor's day", f"{r['sensor_day_ms']:.1f} ms", r["sensor_day_ms"] <= 20),
        (
            "daily averages per sensor, engine / DuckDB",
            f"{r['daily_averages_ms']:.0f} / {duck_daily_ms:.0f} ms = {r['daily_averages_ms'] / duck_daily_ms:.2f}",
            r["daily_averages_ms"] <= 2 * duck_daily_ms,
        ),
    ]
    for shape in r["walkthrough"]:
        rows_out.append(
            (
                f"walkthrough: {shape['name']} (last week), year / week in memory",
                f"{shape['ms']:.0f} / {shape['in_memory_week_ms']:.0f} ms",
                shape["ms"] <= shape["in_memory_week_ms"] * 1.1,
            )
        )
    print(f"{r['rows']:,.0f} rows: {r['sensors']} sensors, {r['days']} days")
    for name, figure, met in rows_out:
        print(f"  {'met ' if met else 'MISSED'}  {name}: {figure}")
    print(f"  DuckDB reads the engine's files: {rows:,} rows, {sensors} sensors ({'same' if same else 'MISMATCH'})")
    summary = {
        "duckdb_rows": rows,
        "duckdb_zstd_bytes": duck_bytes,
        "duckdb_daily_averages_ms": duck_daily_ms,
        "targets_met": sum(met for _, _, met in rows_out),
        "targets": len(rows_out),
    }
    print(json.dumps(summary))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
