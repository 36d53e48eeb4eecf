"""The embedded Timestream-compatible engine vs DuckDB on the same sensor data, in one run.

What it measures. Simulated Ruuvi readings (``--sensors`` sensors, one reading a minute for
``--days`` days; temperature, humidity and pressure on a daily cycle plus noise, fixed by
``--seed``) are written twice: into the engine (``ruuvistream.LocalTimestream``, in this process)
through boto3 ``write_records``, as the walkthrough writes them (single-measure DOUBLE records,
dimensions ``location`` and ``site``, time in ms), and into one Parquet file (sorted by time, row
groups of 100k rows) that an in-process DuckDB connection queries. Then the walkthrough's three
query shapes run on both, each over the walkthrough's window of a few hours and over all the data:

  a. binned averages of the three measures (the walkthrough's QUERY_MULTI);
  b. INTERPOLATE_LINEAR over CREATE_TIME_SERIES at the times of a SEQUENCE;
  c. the same interpolation, CROSS JOIN UNNEST and an average per location.

DuckDB gets equivalent SQL (time_bucket; generate_series with two ASOF joins and the linear
formula). The engine's answers come two ways: through boto3 ``timestream-query`` (every page,
following NextToken; boto3 parses each page's JSON in Python) and through ruuvistream's own client
into an Arrow table; DuckDB's through ``fetchall()``. Each query runs once to warm up and to check that both
give the same answer (row counts, values within 1e-6 relative): a disagreement prints MISMATCH and
the script exits with status 1 at the end. Then each runs ``--repeat`` times; the table shows the
medians and the ratio engine/DuckDB (below 1 means the engine is faster). Last, a
``SELECT * ... WHERE time > ago(<window>)`` is paged through the boto3 paginator (rows counted,
not converted) and through ruuvistream's client to measure rows/s served to a client, with
DuckDB's fetchall of the same rows beside it.

The engine answers over HTTP, while DuckDB hands back Python objects directly: the boto3 ratio is
what a boto3 user sees (for large answers mostly boto3's parsing), the ruuvistream ratio what
the SQL engine and the wire cost. Ingest time is printed
for information only. The last line of output is one JSON object with every figure.

Run it against a release build (``make bench`` builds the wheel, then runs this script):

    .venv/bin/python benches/compare_duckdb.py                      # 100 sensors, 7 days: 3.0M rows
    .venv/bin/python benches/compare_duckdb.py --duckdb-threads 2   # DuckDB on as many cores as the engine
    .venv/bin/python benches/compare_duckdb.py --sensors 3 --days 1 --repeat 1   # a quick check
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import ruuvistream

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)
DATABASE, TABLE = "ruuvi", "sensors"
MEASURES = ("temperature", "humidity", "pressure")
SITES = ("home", "cabin", "greenhouse", "office", "barn")
WALKTHROUGH_LOCATION = "e7428453ecb1"  # the sensor QUERY_MULTI asks for in the walkthrough
MINUTE_MS = 60_000
DAY_MS = 1440 * MINUTE_MS
RECORDS_PER_REQUEST = 100
ROW_GROUP_ROWS = 100_000
SEQUENCE_LIMIT = 10_000  # Timestream fails a SEQUENCE of more entries
REL_TOLERANCE = 1e-6


# --- Data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Readings:
    """One reading a minute per sensor: arrays of shape (sensors, minutes)."""

    locations: list[str]
    sites: list[str]
    time_ms: np.ndarray
    values: dict[str, np.ndarray]

    @property
    def rows(self) -> int:
        return self.time_ms.size * len(MEASURES)


def mac_addresses(rng: np.random.Generator, n: int) -> list[str]:
    """The walkthrough's sensor first, then distinct random 12-hex MACs."""
    macs = [WALKTHROUGH_LOCATION]
    while len(macs) < n:
        mac = f"{int(rng.integers(0, 2**48)):012x}"
        if mac not in macs:
            macs.append(mac)
    return macs[:n]


def generate(sensors: int, days: int, seed: int) -> Readings:
    """Readings strictly inside (NOW - days, NOW): each sensor has its own second in the minute."""
    rng = np.random.default_rng(seed)
    minutes = days * 1440
    now_ms = int(NOW.timestamp() * 1000)
    phase = rng.integers(1, 59_000, size=(sensors, 1))
    jitter = rng.integers(0, 1_000, size=(sensors, minutes))
    time_ms = now_ms - days * DAY_MS + np.arange(minutes) * MINUTE_MS + phase + jitter
    # Warmest at 15:00 UTC, driest then; pressure drifts with a slow weather wave.
    day = np.sin(2 * np.pi * ((time_ms % DAY_MS) / DAY_MS - 0.375))
    weather = np.sin(2 * np.pi * time_ms / (3.3 * DAY_MS) + rng.uniform(0, 2 * np.pi, size=(sensors, 1)))
    temperature = rng.uniform(15, 24, (sensors, 1)) + rng.uniform(1, 6, (sensors, 1)) * day
    humidity = rng.uniform(35, 65, (sensors, 1)) - rng.uniform(3, 15, (sensors, 1)) * day
    pressure = rng.uniform(99_500, 102_500, (sensors, 1)) + 800 * weather
    values = {
        "temperature": np.round(temperature + rng.normal(0, 0.05, time_ms.shape), 2),
        "humidity": np.round(np.clip(humidity + rng.normal(0, 0.2, time_ms.shape), 0, 100), 2),
        "pressure": np.round(pressure + rng.normal(0, 5, time_ms.shape)),
    }
    sites = [SITES[s % len(SITES)] for s in range(sensors)]
    return Readings(mac_addresses(rng, sensors), sites, time_ms, values)


def to_arrow(data: Readings) -> pa.Table:
    """The rows as SQL sees them (one per measure), sorted by time."""
    sensors, minutes = data.time_ms.shape
    sensor = np.repeat(np.arange(sensors, dtype=np.int32), minutes * len(MEASURES))
    measure = np.tile(np.arange(len(MEASURES), dtype=np.int32), sensors * minutes)
    time_ms = np.repeat(data.time_ms.ravel(), len(MEASURES))
    value = np.stack([data.values[m] for m in MEASURES], axis=-1).ravel()
    order = np.argsort(time_ms, kind="stable")
    site_of_sensor = np.array([SITES.index(s) for s in data.sites], dtype=np.int32)
    return pa.table(
        {
            "location": pa.DictionaryArray.from_arrays(sensor[order], pa.array(data.locations)),
            "site": pa.DictionaryArray.from_arrays(site_of_sensor[sensor[order]], pa.array(SITES)),
            "measure_name": pa.DictionaryArray.from_arrays(measure[order], pa.array(MEASURES)),
            "time": pa.array(time_ms[order] * 1000, pa.timestamp("us")),
            "measure_value_double": pa.array(value[order], pa.float64()),
        }
    )


# --- Engine side --------------------------------------------------------------------------------


def create_table(client: Any, days: int) -> None:
    """A table whose memory store takes week-old writes."""
    client.create_database(DatabaseName=DATABASE)
    client.create_table(
        DatabaseName=DATABASE,
        TableName=TABLE,
        RetentionProperties={
            "MemoryStoreRetentionPeriodInHours": 24 * (days + 1),
            "MagneticStoreRetentionPeriodInDays": 365,
        },
    )


def sensor_day_requests(data: Readings, sensor: int, day: int) -> Iterator[dict[str, Any]]:
    """write_records arguments for one sensor's day, sharing its dimensions in CommonAttributes."""
    first, last = day * 1440, (day + 1) * 1440
    records = [
        {"MeasureName": m, "MeasureValue": repr(float(data.values[m][sensor, i])), "Time": str(data.time_ms[sensor, i])}
        for i in range(first, last)
        for m in MEASURES
    ]
    common = {
        "Dimensions": [
            {"Name": "location", "Value": data.locations[sensor]},
            {"Name": "site", "Value": data.sites[sensor]},
        ],
        "MeasureValueType": "DOUBLE",
        "TimeUnit": "MILLISECONDS",
    }
    for k in range(0, len(records), RECORDS_PER_REQUEST):
        yield {
            "DatabaseName": DATABASE,
            "TableName": TABLE,
            "CommonAttributes": common,
            "Records": records[k : k + RECORDS_PER_REQUEST],
        }


def write_sensor_day(client: Any, data: Readings, sensor: int, day: int) -> int:
    written = 0
    for request in sensor_day_requests(data, sensor, day):
        written += client.write_records(**request)["RecordsIngested"]["Total"]
    return written


def ingest(client: Any, data: Readings, threads: int) -> float:
    """Write every reading; return the seconds it took."""
    sensors, minutes = data.time_ms.shape
    jobs = [(s, d) for d in range(minutes // 1440) for s in range(sensors)]
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        written = sum(pool.map(lambda job: write_sensor_day(client, data, *job), jobs))
    elapsed = time.perf_counter() - start
    if written != data.rows:
        sys.exit(f"ingest: the engine took {written} records of {data.rows}")
    return elapsed


def engine_query(client: Any, sql: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every page of a query: (ColumnInfo, rows)."""
    rows: list[dict[str, Any]] = []
    page = client.query(QueryString=sql)
    rows.extend(page["Rows"])
    while "NextToken" in page:
        page = client.query(QueryString=sql, NextToken=page["NextToken"])
        rows.extend(page["Rows"])
    return page["ColumnInfo"], rows


def engine_datum(datum: dict[str, Any], column_type: dict[str, Any]) -> Any:
    """A Datum as a comparable value: numbers as float, timestamps as text, series as tuples."""
    if datum.get("NullValue"):
        return None
    if "ScalarValue" in datum:
        scalar = datum["ScalarValue"]
        return float(scalar) if column_type.get("ScalarType") in ("DOUBLE", "BIGINT", "INTEGER") else scalar
    if "TimeSeriesValue" in datum:
        value_type = column_type["TimeSeriesMeasureValueColumnInfo"]["Type"]
        return tuple((p["Time"], engine_datum(p["Value"], value_type)) for p in datum["TimeSeriesValue"])
    if "ArrayValue" in datum:
        item_type = column_type["ArrayColumnInfo"]["Type"]
        return tuple(engine_datum(d, item_type) for d in datum["ArrayValue"])
    raise ValueError(f"unexpected datum {datum}")


def engine_rows(columns: list[dict[str, Any]], rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    types = [c["Type"] for c in columns]
    return [tuple(engine_datum(d, t) for d, t in zip(row["Data"], types)) for row in rows]


# --- DuckDB side --------------------------------------------------------------------------------


def duckdb_value(value: Any) -> Any:
    """A DuckDB value in the form engine_datum gives."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") + "000"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, list):
        return tuple(duckdb_value(v) for v in value)
    if isinstance(value, dict):
        return tuple(duckdb_value(v) for v in value.values())
    return value


def duckdb_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [tuple(duckdb_value(v) for v in row) for row in rows]


# --- The query shapes ---------------------------------------------------------------------------

# The walkthrough's SQL, its table renamed to ruuvi.sensors as in the walkthrough itself.
QUERY_MULTI = """select bin(time, {bin}) as binned_time, avg(case when measure_name='temperature' then measure_value::double else null end) as avg_temp,
avg(case when measure_name='humidity' then measure_value::double else null end) as avg_humidity,
avg(case when measure_name='pressure' then measure_value::double else null end) as avg_pressure
from ruuvi.sensors
where time > ago({time}) and location = '{location}'
group by bin(time, {bin})
order by bin(time, {bin})"""  # noqa: E501 (as the walkthrough writes it)

# The same over every location: one series of hourly bins per sensor.
QUERY_MULTI_ALL = """select location, bin(time, {bin}) as binned_time, avg(case when measure_name='temperature' then measure_value::double else null end) as avg_temp,
avg(case when measure_name='humidity' then measure_value::double else null end) as avg_humidity,
avg(case when measure_name='pressure' then measure_value::double else null end) as avg_pressure
from ruuvi.sensors
where time > ago({time})
group by location, bin(time, {bin})
order by location, bin(time, {bin})"""  # noqa: E501 (as the walkthrough writes it)

QUERY_INTERPOLATE = """SELECT location, measure_name, INTERPOLATE_LINEAR(
        CREATE_TIME_SERIES(time, measure_value::double),
            SEQUENCE(ago({start}), ago({stop}), {step})) AS v
        FROM ruuvi.sensors
        WHERE measure_name ='temperature' and time >= ago({since})
                GROUP BY location, measure_name"""

QUERY_UNNEST = """WITH interp_ts AS (
    SELECT location, INTERPOLATE_LINEAR(
        CREATE_TIME_SERIES(time, measure_value::double),
            SEQUENCE(ago({start}), ago({stop}), {step})) AS temp
        FROM ruuvi.sensors
        WHERE measure_name='temperature' and time>=ago({since})
        GROUP BY location
)
SELECT location, avg(t.temp_unnest) FROM interp_ts
CROSS JOIN UNNEST(temp) AS t (time, temp_unnest)
GROUP BY location
"""


@dataclass(frozen=True)
class Interval:
    """A duration written as Timestream writes it (``3h``) and as DuckDB does."""

    minutes: int

    @property
    def timestream(self) -> str:
        if self.minutes % 1440 == 0:
            return f"{self.minutes // 1440}d"
        return f"{self.minutes // 60}h" if self.minutes % 60 == 0 else f"{self.minutes}m"

    @property
    def duckdb(self) -> str:
        return f"INTERVAL {self.minutes} MINUTE"

    @property
    def ago(self) -> str:
        """NOW minus this, as a DuckDB TIMESTAMP literal (the Parquet times are UTC)."""
        when = NOW - dt.timedelta(minutes=self.minutes)
        return f"TIMESTAMP '{when:%Y-%m-%d %H:%M:%S}'"


def hours(n: int) -> Interval:
    return Interval(60 * n)


@dataclass(frozen=True)
class Shape:
    """One query, as the engine and as DuckDB are asked it."""

    name: str
    window: str
    engine_sql: str
    duckdb_sql: str


def binned_averages(window: str, since: Interval, bin_: Interval, location: str | None) -> Shape:
    """Shape a: QUERY_MULTI for one location, or grouped by location when there is none."""
    keys = "location, " if location is None else ""
    engine = (QUERY_MULTI_ALL if location is None else QUERY_MULTI).format(
        time=since.timestream, bin=bin_.timestream, location=location
    )
    where = "" if location is None else f" AND location = '{location}'"
    duck = f"""SELECT {keys}time_bucket({bin_.duckdb}, time) AS binned_time,
    avg(CASE WHEN measure_name = 'temperature' THEN measure_value_double END) AS avg_temp,
    avg(CASE WHEN measure_name = 'humidity' THEN measure_value_double END) AS avg_humidity,
    avg(CASE WHEN measure_name = 'pressure' THEN measure_value_double END) AS avg_pressure
FROM sensors WHERE time > {since.ago}{where}
GROUP BY {keys}binned_time ORDER BY {keys}binned_time"""
    return Shape("a binned averages", window, engine, duck)


def duckdb_interpolation(keys: Sequence[str], since: Interval, start: Interval, stop: Interval, step: Interval) -> str:
    """CTEs ending in ``interp(keys..., t, value)``: INTERPOLATE_LINEAR over SEQUENCE, in plain SQL.

    A time with a sample exactly on it takes that sample; one between two samples takes the line
    through them; one before the first or after the last sample has a NULL value (the engine
    leaves such times out of the series).
    """
    cols = ", ".join(keys)
    g_cols = ", ".join(f"g.{k}" for k in keys)

    def same(alias: str) -> str:
        return " AND ".join(f"g.{k} = {alias}.{k}" for k in keys)

    return f"""samples AS (
    SELECT {cols}, time, measure_value_double AS v FROM sensors
    WHERE measure_name = 'temperature' AND time >= {since.ago}
), targets AS (
    SELECT {cols}, s.t FROM (SELECT DISTINCT {cols} FROM samples)
    CROSS JOIN generate_series({start.ago}, {stop.ago}, {step.duckdb}) AS s(t)
), interp AS (
    SELECT {g_cols}, g.t, CASE
        WHEN p.time = g.t THEN p.v
        WHEN n.time IS NOT NULL THEN p.v + (n.v - p.v) * CAST(epoch_ns(g.t) - epoch_ns(p.time) AS DOUBLE)
            / CAST(epoch_ns(n.time) - epoch_ns(p.time) AS DOUBLE)
    END AS value
    FROM targets g
    ASOF LEFT JOIN samples p ON {same("p")} AND g.t >= p.time
    ASOF LEFT JOIN samples n ON {same("n")} AND g.t <= n.time
)"""


def interpolated_series(window: str, since: Interval, start: Interval, stop: Interval, step: Interval) -> Shape:
    """Shape b: one interpolated series per location and measure."""
    engine = QUERY_INTERPOLATE.format(
        start=start.timestream, stop=stop.timestream, step=step.timestream, since=since.timestream
    )
    duck = f"""WITH {duckdb_interpolation(("location", "measure_name"), since, start, stop, step)}
SELECT location, measure_name,
    coalesce(list({{'time': t, 'value': value}} ORDER BY t) FILTER (WHERE value IS NOT NULL), []) AS v
FROM interp GROUP BY location, measure_name"""
    return Shape("b interpolate series", window, engine, duck)


def unnested_average(window: str, since: Interval, start: Interval, stop: Interval, step: Interval) -> Shape:
    """Shape c: the interpolated series unnested and averaged per location."""
    engine = QUERY_UNNEST.format(
        start=start.timestream, stop=stop.timestream, step=step.timestream, since=since.timestream
    )
    duck = f"""WITH {duckdb_interpolation(("location",), since, start, stop, step)}
SELECT location, avg(value) FROM interp WHERE value IS NOT NULL GROUP BY location"""
    return Shape("c unnest + avg", window, engine, duck)


def sequence_step(days: int) -> Interval:
    """10 minutes, or coarser when a SEQUENCE over all days would pass Timestream's limit."""
    for minutes in (10, 20, 30, 60, 120, 360, 720, 1440):
        if days * 1440 // minutes + 1 <= SEQUENCE_LIMIT:
            return Interval(minutes)
    raise ValueError(f"--days {days} is too long for one SEQUENCE")


def shapes(days: int) -> list[Shape]:
    """The walkthrough's windows, then each shape over all the data."""
    everything = Interval(days * 1440)
    full = f"all {everything.timestream}"
    step = sequence_step(days)
    return [
        binned_averages("walkthrough 3h", hours(3), Interval(10), WALKTHROUGH_LOCATION),
        binned_averages(full, everything, hours(1), None),
        interpolated_series("walkthrough 4h-3h", hours(5), hours(4), hours(3), Interval(10)),
        interpolated_series(full, everything, everything, step, step),
        unnested_average("walkthrough 3h-2h", hours(4), hours(3), hours(2), Interval(30)),
        unnested_average(full, everything, everything, step, step),
    ]


# --- Checking and timing ------------------------------------------------------------------------


def sort_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    def key(value: Any) -> tuple[int, Any]:
        if value is None:
            return (0, "")
        if isinstance(value, str):
            return (1, value)
        if isinstance(value, float):
            return (2, round(value, 6))
        return (3, len(value))

    return tuple(key(v) for v in row)


def agree(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=REL_TOLERANCE, abs_tol=1e-12)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(agree(x, y) for x, y in zip(a, b))
    return bool(a == b)


def differences(engine: list[tuple[Any, ...]], duck: list[tuple[Any, ...]]) -> list[str]:
    """What differs between two answers, after sorting both; empty when they agree."""
    if len(engine) != len(duck):
        return [f"{len(engine)} rows from the engine, {len(duck)} from DuckDB"]
    pairs = zip(sorted(engine, key=sort_key), sorted(duck, key=sort_key))
    return [f"engine {a!r}\n    duckdb {b!r}" for a, b in pairs if not agree(a, b)]


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@dataclass
class Result:
    shape: str
    window: str
    rows: int
    engine_s: float
    duckdb_s: float
    agree: bool
    client_s: float = math.nan

    @property
    def ratio(self) -> float:
        return self.engine_s / self.duckdb_s if self.duckdb_s > 0 else math.inf

    @property
    def client_ratio(self) -> float:
        return self.client_s / self.duckdb_s if self.duckdb_s > 0 else math.inf


def arrow_query(ts: Any, sql: str) -> int:
    """The engine's answer through ruuvistream's own client, into an Arrow table."""
    return int(ts.query(sql).to_arrow().num_rows)


def compare(shape: Shape, client: Any, ts: Any, con: Any, repeat: int) -> Result:
    """Check one shape's answers, then time it on both (the engine through boto3 and through
    ruuvistream's client)."""
    engine = engine_rows(*engine_query(client, shape.engine_sql))
    duck = duckdb_rows(con.execute(shape.duckdb_sql).fetchall())
    diffs = differences(engine, duck)
    if diffs:
        print(f"MISMATCH in {shape.name} ({shape.window}): {len(diffs)} difference(s)", file=sys.stderr)
        print(f"  engine SQL:\n{shape.engine_sql}\n  DuckDB SQL:\n{shape.duckdb_sql}", file=sys.stderr)
        for diff in diffs[:5]:
            print(f"  {diff}", file=sys.stderr)
    if arrow_query(ts, shape.engine_sql) != len(engine):
        print(f"MISMATCH in {shape.name} ({shape.window}): ruuvistream's client got another row count", file=sys.stderr)
        diffs.append("row count through ruuvistream's client")
    engine_s = median_seconds(lambda: engine_query(client, shape.engine_sql), repeat)
    client_s = median_seconds(lambda: arrow_query(ts, shape.engine_sql), repeat)
    duckdb_s = median_seconds(lambda: con.execute(shape.duckdb_sql).fetchall(), repeat)
    return Result(shape.name, shape.window, len(engine), engine_s, duckdb_s, not diffs, client_s)


def paging(client: Any, ts: Any, con: Any, data: Readings, window: Interval) -> Result:
    """Rows/s of a large SELECT * paged to boto3 and to ruuvistream's client, next to DuckDB's
    fetchall of the same rows."""
    sql = f"SELECT * FROM {DATABASE}.{TABLE} WHERE time > ago({window.timestream})"
    since_ms = int(NOW.timestamp() * 1000) - window.minutes * MINUTE_MS
    expected = int((data.time_ms > since_ms).sum()) * len(MEASURES)
    start = time.perf_counter()
    pages = client.get_paginator("query").paginate(QueryString=sql)
    rows = sum(len(page["Rows"]) for page in pages)
    engine_s = time.perf_counter() - start
    start = time.perf_counter()
    arrow_rows = arrow_query(ts, sql)
    client_s = time.perf_counter() - start
    start = time.perf_counter()
    duck = len(con.execute(f"SELECT * FROM sensors WHERE time > {window.ago}").fetchall())
    duckdb_s = time.perf_counter() - start
    ok = rows == expected == duck == arrow_rows
    if not ok:
        print(
            f"MISMATCH in paging: boto3 {rows} rows, ruuvistream {arrow_rows}, DuckDB {duck}, expected {expected}",
            file=sys.stderr,
        )
    return Result("paging SELECT *", f"last {window.timestream}", rows, engine_s, duckdb_s, ok, client_s)


# --- Output -------------------------------------------------------------------------------------


def print_table(results: list[Result], paged: Result) -> None:
    print("\nengine times through boto3 (b3) and through ruuvistream's client (rs); ratios are engine/DuckDB")
    print(
        f"{'shape':<22} {'window':<18} {'rows':>9} {'b3 s':>9} {'rs s':>9} {'duckdb s':>9} "
        f"{'b3/duck':>8} {'rs/duck':>8}"
    )
    for r in [*results, paged]:
        flag = "" if r.agree else "  MISMATCH"
        print(
            f"{r.shape:<22} {r.window:<18} {r.rows:>9,} {r.engine_s:>9.4f} {r.client_s:>9.4f} {r.duckdb_s:>9.4f} "
            f"{r.ratio:>7.2f}x {r.client_ratio:>7.2f}x{flag}"
        )
    print(
        f"paging: {paged.rows / paged.engine_s:,.0f} rows/s to boto3, {paged.rows / paged.client_s:,.0f} rows/s to "
        f"ruuvistream's client (DuckDB fetchall {paged.rows / paged.duckdb_s:,.0f} rows/s)"
    )


def summary(
    args: argparse.Namespace, data: Readings, ingest_s: float, results: list[Result], paged: Result
) -> dict[str, Any]:
    import duckdb

    return {
        "benchmark": "compare_duckdb",
        "ruuvistream": importlib.metadata.version("ruuvistream"),
        "duckdb": duckdb.__version__,
        "sensors": args.sensors,
        "days": args.days,
        "rows": data.rows,
        "repeat": args.repeat,
        "duckdb_threads": args.duckdb_threads,
        "ingest_s": round(ingest_s, 3),
        "ingest_records_per_s": round(data.rows / ingest_s),
        "queries": [
            {
                "shape": r.shape,
                "window": r.window,
                "rows": r.rows,
                "engine_median_s": round(r.engine_s, 6),
                "client_median_s": round(r.client_s, 6),
                "duckdb_median_s": round(r.duckdb_s, 6),
                "ratio": round(r.ratio, 3),
                "client_ratio": round(r.client_ratio, 3),
                "agree": r.agree,
            }
            for r in results
        ],
        "paging": {
            "window": paged.window,
            "rows": paged.rows,
            "engine_s": round(paged.engine_s, 3),
            "engine_rows_per_s": round(paged.rows / paged.engine_s),
            "client_s": round(paged.client_s, 3),
            "client_rows_per_s": round(paged.rows / paged.client_s),
            "duckdb_fetchall_s": round(paged.duckdb_s, 3),
            "duckdb_rows_per_s": round(paged.rows / paged.duckdb_s),
            "agree": paged.agree,
        },
        "all_agree": all(r.agree for r in [*results, paged]),
    }


# --- Main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="The embedded Timestream-compatible engine (through boto3) vs DuckDB (on Parquet) "
        "on the same simulated Ruuvi readings: the walkthrough's three query shapes over a few hours "
        "and over all the data, answers checked to agree, medians and the ratio engine/DuckDB printed, "
        "then the rows/s of a large SELECT * paged to boto3. Ends with one JSON line of every figure; "
        "exits with status 1 if any answer differs.",
        epilog="Measure a release build: `make bench` installs the release wheel, then runs this script. "
        "A quick check of the answers: --sensors 3 --days 1 --repeat 1.",
    )
    parser.add_argument("--sensors", type=int, default=100, help="sensors, each a location (default 100)")
    parser.add_argument(
        "--days",
        type=int,
        default=7,
        help="days of one reading a minute, ending at the engine's clock (default 7: with 100 sensors, 3.0M rows)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per query after one warm-up (default 5)")
    parser.add_argument(
        "--duckdb-threads",
        type=int,
        default=os.cpu_count() or 1,
        help="DuckDB's thread count (default: every core; give the engine's core count for a like-for-like run)",
    )
    parser.add_argument("--ingest-threads", type=int, default=8, help="concurrent write_records callers (default 8)")
    parser.add_argument(
        "--page-hours",
        type=int,
        default=None,
        help="window of the paged SELECT * in hours (default: a third of the data, about 1M rows at default scale)",
    )
    parser.add_argument("--seed", type=int, default=42, help="seed of the simulated readings (default 42)")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where the Parquet file goes (default: a temporary directory, removed afterwards)",
    )
    args = parser.parse_args(argv)
    if min(args.sensors, args.days, args.repeat, args.duckdb_threads, args.ingest_threads) < 1:
        parser.error("counts must be at least 1")
    return args


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    import duckdb

    data = generate(args.sensors, args.days, args.seed)
    print(f"{args.sensors} sensors x {args.days} days x 1440 minutes x {len(MEASURES)} measures = {data.rows:,} rows")
    parquet = workdir / "sensors.parquet"
    pq.write_table(to_arrow(data), parquet, row_group_size=ROW_GROUP_ROWS)
    con = duckdb.connect()
    con.execute(f"SET threads = {args.duckdb_threads}")
    con.execute(f"CREATE VIEW sensors AS SELECT * FROM read_parquet('{parquet}')")

    with ruuvistream.LocalTimestream(now=NOW) as engine:
        writer = engine.client("timestream-write")
        create_table(writer, args.days)
        ingest_s = ingest(writer, data, args.ingest_threads)
        print(f"ingest: {data.rows:,} records in {ingest_s:.1f} s, {data.rows / ingest_s:,.0f} records/s")
        client = engine.client("timestream-query")
        ts = ruuvistream.Timestream(endpoint_url=engine.endpoint_url)
        results = []
        for shape in shapes(args.days):
            results.append(compare(shape, client, ts, con, args.repeat))
            r = results[-1]
            print(
                f"  {r.shape} ({r.window}): engine {r.engine_s:.4f} s via boto3, {r.client_s:.4f} s via ruuvistream, "
                f"DuckDB {r.duckdb_s:.4f} s",
                flush=True,
            )
        page_hours = args.page_hours or max(1, math.ceil(args.days * 24 / 3))
        paged = paging(client, ts, con, data, hours(page_hours))
    print_table(results, paged)
    return summary(args, data, ingest_s, results, paged)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        figures = run(args, args.workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="compare_duckdb-") as tmp:
            figures = run(args, Path(tmp))
    print(json.dumps(figures))
    if not figures["all_agree"]:
        print("MISMATCH: the engine and DuckDB gave different answers (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
