"""ruuvistream's Timestream client vs awswrangler (and boto3 by hand) on the same engine and data, in one run.

What it measures. One embedded engine (``ruuvistream.LocalTimestream``, in this process, on a
fixed clock) serves every client over the same HTTP API, so the peers differ only in the client.

  a. Query → pandas. Simulated Ruuvi readings, one a minute per sensor, are written with
     ``Timestream.write`` (one MULTI record per reading, time in ns) until the table holds at least
     ``--rows`` records; one sensor in ten is a Ruuvi Air (format E1), which has no movement
     counter, so ``movement_counter`` is a BIGINT column with nulls. Then
     ``SELECT mac, time, temperature, humidity, pressure, movement_counter`` over the whole table
     is read into a pandas DataFrame three ways:

       1. ``ruuvistream.Timestream(endpoint_url).query(sql).to_pandas()``;
       2. ``awswrangler.timestream.query(sql, boto3_session=...)``, pointed at the engine with
          ``wr.config.timestream_query_endpoint_url`` (the ``WR_TIMESTREAM_QUERY_ENDPOINT_URL``
          variable does the same) and a session with placeholder credentials;
       3. boto3's ``query`` paginator, each row parsed by hand into a dict (numbers with
          ``float``/``int``, then ``pd.to_datetime`` for the times and ``Int64`` for the BIGINT
          column), the dicts made into a DataFrame: what a reader of the original walkthrough writes.

     The first run of each is checked before anything is timed: the same rows (sorted by mac and
     time) with the same values. ruuvistream and the hand parser must agree exactly. awswrangler
     loses fidelity in known ways, which are reported, not failed on: its times are naive (no
     UTC) and cut to microseconds, and a BIGINT column with nulls becomes float64. Anything else
     that differs prints MISMATCH and the script exits with status 1 at the end.

  b. Writing ``--write-rows`` readings (format 5, one MULTI record each, the ten format 5 fields
     and rssi as measures, dimensions ``mac``, ``location`` and ``site``, time in ms) into a fresh
     table with ``Timestream.write`` (Arrow in) and with ``awswrangler.timestream.write`` (the
     same readings as a DataFrame, ``measure_col`` the measure list, ``dimensions_cols`` the three
     dimensions, ``measure_name="ruuvi"``). Building the DataFrame is not timed. After each write,
     both tables must hold every reading: the same ``count(*)``, MACs, ``sum(movement_counter)``
     and (to 1e-9) ``sum(temperature)``, and neither writer may report a rejected record.
     awswrangler cannot send NANOSECONDS from a DataFrame, hence ms for both; it rounds times to
     the ms where ruuvistream rounds down, which moves some times by 1 ms but no record.

Each way runs ``--repeat`` times (after the checked run, for queries); the tables show medians,
rows/s and how many times faster ruuvistream is (the issue's targets: 20x awswrangler for query →
pandas, 10x for writes). The last line of output is one JSON object with every figure.

Caveats. Client and engine share this machine's cores (2 on the build machine): the engine answers
on its own threads while the client parses, so every figure includes the engine's work and the two
compete for the cores. ruuvistream's client releases the GIL; awswrangler and boto3 parse in
Python under it. awswrangler writes with one thread per core (its default),
ruuvistream with 8 requests in flight (its default). With ``--workdir`` the engine keeps its data
there (write-ahead log synced before each answer), which slows writes for both writers alike.

Run it against a release build (``make bench`` installs the release wheel and awswrangler, then
runs this script):

    .venv/bin/python benches/compare_awswrangler.py                  # 1M rows each way
    .venv/bin/python benches/compare_awswrangler.py --rows 20000 --write-rows 20000 --repeat 1   # a quick check
    .venv/bin/python benches/compare_awswrangler.py --skip-write     # query → pandas only
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import math
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pyarrow as pa

import ruuvistream

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)
DATABASE = "ruuvi"
QUERY_TABLE = "sensors"
QUERY_COLUMNS = ("mac", "time", "temperature", "humidity", "pressure", "movement_counter")
QUERY_SQL = f"SELECT {', '.join(QUERY_COLUMNS)} FROM {DATABASE}.{QUERY_TABLE}"
# The format 5 fields and the receiver's rssi: the measure columns ruuvistream writes by default.
WRITE_MEASURES = (
    "temperature",
    "humidity",
    "pressure",
    "acceleration_x",
    "acceleration_y",
    "acceleration_z",
    "battery_voltage",
    "tx_power",
    "movement_counter",
    "measurement_sequence",
    "rssi",
)
DIMENSIONS = ("mac", "location", "site")
MEASURE_NAME = "ruuvi"
MAX_MINUTES = 7 * 1440  # a week of readings per sensor at most; more rows means more sensors
AIR_SHARE = 10  # one sensor in ten is a Ruuvi Air, whose readings have no movement counter
TARGET_QUERY, TARGET_WRITE = 20.0, 10.0
# Arrow's integer types as pandas' nullable ones, as QueryResult.to_pandas gives them.
NULLABLE_INTS = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
}


# --- Data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """How many sensors, for how many minutes, hold ``rows`` readings."""

    sensors: int
    air_sensors: int
    minutes: int

    @property
    def rows(self) -> int:
        return (self.sensors + self.air_sensors) * self.minutes

    @property
    def memory_retention(self) -> str:
        """Hours enough for the oldest reading, with a margin."""
        return f"{math.ceil(self.minutes / 60) + 2}h"


def plan(rows: int, with_air: bool) -> Plan:
    """The fewest sensors that hold ``rows`` readings in at most a week each."""
    total = max(2 if with_air else 1, math.ceil(rows / MAX_MINUTES))
    air = max(1, total // AIR_SHARE) if with_air else 0
    return Plan(total - air, air, math.ceil(rows / total))


def simulate(p: Plan, seed: int) -> pa.Table:
    """One reading a minute per sensor, ending a minute before the engine's clock; none lost."""
    start = NOW - dt.timedelta(minutes=p.minutes + 1)
    return ruuvistream.simulate(
        sensors=p.sensors,
        air_sensors=p.air_sensors,
        duration=dt.timedelta(minutes=p.minutes),
        interval="1m",
        start=start,
        seed=seed,
        loss=0.0,
        repeat=0.0,
    )


def labels_of(p: Plan, seed: int) -> dict[str, dict[str, str]]:
    """Each simulated sensor's location and site, by MAC."""
    sensors = ruuvistream.simulated_sensors(p.sensors, air_sensors=p.air_sensors, seed=seed)
    return {s["mac"]: {"location": s["location"], "site": s["site"]} for s in sensors}


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --- Query → pandas, three ways -----------------------------------------------------------------


def via_ruuvistream(ts: ruuvistream.Timestream) -> pd.DataFrame:
    return ts.query(QUERY_SQL).to_pandas()


def via_awswrangler(session: Any) -> pd.DataFrame:
    import awswrangler as wr

    return wr.timestream.query(QUERY_SQL, boto3_session=session)


def scalar(datum: dict[str, Any], kind: str) -> Any:
    """A Datum as a Python value, as a hand-written reader converts it."""
    if datum.get("NullValue"):
        return None
    text = datum["ScalarValue"]
    if kind == "DOUBLE":
        return float(text)
    if kind in ("BIGINT", "INTEGER"):
        return int(text)
    if kind == "BOOLEAN":
        return text == "true"
    return text  # VARCHAR, and TIMESTAMP text for pd.to_datetime below


def via_boto3(client: Any) -> pd.DataFrame:
    """The paginator, rows → dicts → DataFrame, types by hand."""
    rows: list[dict[str, Any]] = []
    columns: list[tuple[str, str]] = []
    for page in client.get_paginator("query").paginate(QueryString=QUERY_SQL):
        columns = [(c["Name"], c["Type"]["ScalarType"]) for c in page["ColumnInfo"]]
        for row in page["Rows"]:
            rows.append({name: scalar(d, kind) for (name, kind), d in zip(columns, row["Data"])})
    df = pd.DataFrame(rows, columns=[name for name, _ in columns])
    for name, kind in columns:
        if kind == "TIMESTAMP":
            df[name] = pd.to_datetime(df[name], utc=True)
        elif kind == "BIGINT":
            df[name] = df[name].astype("Int64")
    return df


def by_mac_and_time(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["mac", "time"], kind="stable").reset_index(drop=True)


def frame_differences(a: pd.DataFrame, b: pd.DataFrame, check_dtype: bool) -> str | None:
    try:
        pd.testing.assert_frame_equal(a, b, check_dtype=check_dtype, check_exact=True)
    except AssertionError as e:
        return str(e)
    return None


@dataclass
class QueryCheck:
    rows: dict[str, int]
    mismatches: list[str] = field(default_factory=list)
    fidelity: dict[str, Any] = field(default_factory=dict)

    @property
    def agree(self) -> bool:
        return not self.mismatches


def check_query(ours: pd.DataFrame, wrangler: pd.DataFrame, hand: pd.DataFrame, expected_rows: int) -> QueryCheck:
    """Same rows and values; awswrangler's known losses are measured, not failed on."""
    check = QueryCheck({"ruuvistream": len(ours), "awswrangler": len(wrangler), "boto3": len(hand)})
    if set(check.rows.values()) != {expected_rows}:
        check.mismatches.append(f"row counts {check.rows}, {expected_rows} written")
        return check
    ours, wrangler, hand = by_mac_and_time(ours), by_mac_and_time(wrangler), by_mac_and_time(hand)
    if (diff := frame_differences(ours, hand, check_dtype=True)) is not None:
        check.mismatches.append(f"ruuvistream vs boto3 by hand: {diff}")

    ns = ours["time"].astype("int64")
    check.fidelity = {
        "time_dtype": {"ruuvistream": str(ours["time"].dtype), "awswrangler": str(wrangler["time"].dtype)},
        "bigint_dtype": {
            "ruuvistream": str(ours["movement_counter"].dtype),
            "awswrangler": str(wrangler["movement_counter"].dtype),
        },
        "rows_with_sub_us_time_lost": int((ns % 1000 != 0).sum()),
        "bigint_nulls": int(ours["movement_counter"].isna().sum()),
    }
    # What awswrangler should give if it loses only what it is known to lose.
    lossy = ours.copy()
    lossy["time"] = ours["time"].dt.tz_localize(None).dt.floor("us").astype("datetime64[us]")
    lossy["movement_counter"] = ours["movement_counter"].astype("float64")
    if (diff := frame_differences(lossy, wrangler, check_dtype=False)) is not None:
        check.mismatches.append(f"ruuvistream (cut to awswrangler's fidelity) vs awswrangler: {diff}")
    return check


@dataclass
class QueryFigures:
    rows: int
    seconds: dict[str, float]
    check: QueryCheck

    def rows_per_s(self, way: str) -> float:
        return self.rows / self.seconds[way]

    def ratio(self, way: str) -> float:
        return self.seconds[way] / self.seconds["ruuvistream"]


def compare_query(ts: ruuvistream.Timestream, session: Any, url: str, args: argparse.Namespace) -> QueryFigures:
    p = plan(args.rows, with_air=True)
    readings = simulate(p, args.seed)
    ts.create_table(DATABASE, QUERY_TABLE, memory_retention=p.memory_retention)
    start = time.perf_counter()
    report = ts.write(DATABASE, QUERY_TABLE, readings, time_unit="ns", progress=False)
    load_s = time.perf_counter() - start
    if report.rejected or report.records_ingested != readings.num_rows:
        sys.exit(f"loading: {report.records_ingested} of {readings.num_rows} records, {len(report.rejected)} rejected")
    print(
        f"query table: {p.sensors + p.air_sensors} sensors ({p.air_sensors} Ruuvi Air) x {p.minutes:,} minutes = "
        f"{readings.num_rows:,} MULTI records, loaded in {load_s:.1f} s",
        flush=True,
    )
    client = session.client("timestream-query", endpoint_url=url)
    ways: dict[str, Callable[[], pd.DataFrame]] = {
        "ruuvistream": lambda: via_ruuvistream(ts),
        "awswrangler": lambda: via_awswrangler(session),
        "boto3": lambda: via_boto3(client),
    }
    first = {way: run() for way, run in ways.items()}
    check = check_query(first["ruuvistream"], first["awswrangler"], first["boto3"], readings.num_rows)
    for mismatch in check.mismatches:
        print(f"MISMATCH in query → pandas: {mismatch}", file=sys.stderr)
    del first
    seconds = {}
    for way, run in ways.items():
        seconds[way] = median_seconds(run, args.repeat)
        print(f"  {way}: {seconds[way]:.3f} s", flush=True)
    return QueryFigures(readings.num_rows, seconds, check)


# --- Writes -------------------------------------------------------------------------------------


def wrangler_frame(readings: pa.Table, labels: dict[str, dict[str, str]]) -> pd.DataFrame:
    """The readings as awswrangler takes them: time, measures (nullable ints), dimensions."""
    df = readings.select(["time", *WRITE_MEASURES, "mac"]).to_pandas(types_mapper=NULLABLE_INTS.get)
    df["location"] = df["mac"].map(lambda mac: labels[mac]["location"])
    df["site"] = df["mac"].map(lambda mac: labels[mac]["site"])
    return df


def write_ruuvistream(ts: ruuvistream.Timestream, table: str, readings: pa.Table, labels: Any) -> None:
    report = ts.write(
        DATABASE, table, readings, measures=list(WRITE_MEASURES), labels=labels, time_unit="ms", progress=False
    )
    if report.rejected or report.records_ingested != readings.num_rows:
        raise AssertionError(
            f"ruuvistream wrote {report.records_ingested} of {readings.num_rows}, rejected {report.rejected[:3]}"
        )


def write_awswrangler(session: Any, table: str, df: pd.DataFrame) -> None:
    import awswrangler as wr

    with warnings.catch_warnings():
        # Each time with nanoseconds warns that they are dropped; the fidelity note says so once.
        warnings.filterwarnings("ignore", "Discarding nonzero nanoseconds", UserWarning)
        rejected = wr.timestream.write(
            df,
            DATABASE,
            table,
            time_col="time",
            measure_col=list(WRITE_MEASURES),
            dimensions_cols=list(DIMENSIONS),
            measure_name=MEASURE_NAME,
            time_unit="MILLISECONDS",
            boto3_session=session,
        )
    if rejected:
        raise AssertionError(f"awswrangler: {len(rejected)} records rejected, e.g. {rejected[:3]}")


def table_summary(ts: ruuvistream.Timestream, table: str) -> dict[str, Any]:
    sql = (
        "SELECT count(*) AS records, count(DISTINCT mac) AS macs, sum(movement_counter) AS moves, "
        f"sum(temperature) AS temperature FROM {DATABASE}.{table}"
    )
    row = ts.query(sql).to_arrow().to_pylist()[0]
    return {k: (v if isinstance(v, float) else int(v)) for k, v in row.items()}


def summaries_agree(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(math.isclose(a[k], b[k], rel_tol=1e-9) if isinstance(a[k], float) else a[k] == b[k] for k in a)


@dataclass
class WriteFigures:
    rows: int
    seconds: dict[str, float]
    records: dict[str, int]
    mismatches: list[str]

    @property
    def agree(self) -> bool:
        return not self.mismatches

    def rows_per_s(self, way: str) -> float:
        return self.rows / self.seconds[way]

    def ratio(self) -> float:
        return self.seconds["awswrangler"] / self.seconds["ruuvistream"]


def compare_write(ts: ruuvistream.Timestream, session: Any, args: argparse.Namespace) -> WriteFigures:
    p = plan(args.write_rows, with_air=False)
    readings = simulate(p, args.seed + 1)
    labels = labels_of(p, args.seed + 1)
    df = wrangler_frame(readings, labels)
    print(f"writes: {p.sensors} sensors x {p.minutes:,} minutes = {readings.num_rows:,} readings", flush=True)
    ways: dict[str, Callable[[str], None]] = {
        "ruuvistream": lambda table: write_ruuvistream(ts, table, readings, labels),
        "awswrangler": lambda table: write_awswrangler(session, table, df),
    }
    times: dict[str, list[float]] = {way: [] for way in ways}
    mismatches: list[str] = []
    records: dict[str, int] = {}
    for i in range(args.repeat):
        summaries = {}
        for way, write in ways.items():
            table = f"write_{way}_{i}"
            ts.create_table(DATABASE, table, memory_retention=p.memory_retention)
            start = time.perf_counter()
            try:
                write(table)
            except AssertionError as e:
                mismatches.append(str(e))
            times[way].append(time.perf_counter() - start)
            summaries[way] = table_summary(ts, table)
            ts.delete_table(DATABASE, table)
            print(f"  {way} run {i + 1}: {times[way][-1]:.3f} s, {summaries[way]['records']:,} records", flush=True)
        records = {way: s["records"] for way, s in summaries.items()}
        if not summaries_agree(summaries["ruuvistream"], summaries["awswrangler"]):
            mismatches.append(f"the tables differ: {summaries}")
        if summaries["ruuvistream"]["records"] != readings.num_rows:
            mismatches.append(f"{summaries['ruuvistream']['records']} records of {readings.num_rows} readings")
    for mismatch in mismatches:
        print(f"MISMATCH in writes: {mismatch}", file=sys.stderr)
    return WriteFigures(readings.num_rows, {w: statistics.median(t) for w, t in times.items()}, records, mismatches)


# --- Output -------------------------------------------------------------------------------------

QUERY_WAYS = {
    "ruuvistream": "ruuvistream Timestream.query(sql).to_pandas()",
    "awswrangler": "awswrangler.timestream.query(sql)",
    "boto3": "boto3 paginator, rows parsed by hand",
}
WRITE_WAYS = {
    "ruuvistream": "ruuvistream Timestream.write(arrow)",
    "awswrangler": "awswrangler.timestream.write(df)",
}


def print_query(q: QueryFigures, repeat: int) -> None:
    print(f"\nquery → pandas, {q.rows:,} rows, median of {repeat}")
    print(f"{'way':<48} {'seconds':>9} {'rows/s':>12} {'ruuvistream is':>15}")
    for way, label in QUERY_WAYS.items():
        ratio = "" if way == "ruuvistream" else f"{q.ratio(way):.1f}x faster"
        print(f"{label:<48} {q.seconds[way]:>9.3f} {q.rows_per_s(way):>12,.0f} {ratio:>15}")
    print(f"answers: {'agree' if q.check.agree else 'MISMATCH'}; awswrangler's fidelity:")
    f = q.check.fidelity
    if f:
        print(
            f"  time {f['time_dtype']['awswrangler']} (ruuvistream {f['time_dtype']['ruuvistream']}): "
            f"no time zone, {f['rows_with_sub_us_time_lost']:,} of {q.rows:,} times lost their last 3 digits"
        )
        print(
            f"  BIGINT movement_counter {f['bigint_dtype']['awswrangler']} (ruuvistream "
            f"{f['bigint_dtype']['ruuvistream']}), {f['bigint_nulls']:,} nulls as NaN"
        )
    ok = q.ratio("awswrangler") >= TARGET_QUERY
    print(f"target {TARGET_QUERY:.0f}x awswrangler: {'met' if ok else 'NOT met'} ({q.ratio('awswrangler'):.1f}x)")


def print_write(w: WriteFigures, repeat: int) -> None:
    print(f"\nwrites, {w.rows:,} readings as MULTI records, median of {repeat}")
    print(f"{'way':<48} {'seconds':>9} {'records/s':>12} {'ruuvistream is':>15}")
    for way, label in WRITE_WAYS.items():
        ratio = "" if way == "ruuvistream" else f"{w.ratio():.1f}x faster"
        print(f"{label:<48} {w.seconds[way]:>9.3f} {w.rows_per_s(way):>12,.0f} {ratio:>15}")
    print(f"tables: {'agree' if w.agree else 'MISMATCH'} ({w.records})")
    ok = w.ratio() >= TARGET_WRITE
    print(f"target {TARGET_WRITE:.0f}x awswrangler: {'met' if ok else 'NOT met'} ({w.ratio():.1f}x)")


def summary(args: argparse.Namespace, q: QueryFigures | None, w: WriteFigures | None) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "benchmark": "compare_awswrangler",
        "ruuvistream": importlib.metadata.version("ruuvistream"),
        "awswrangler": importlib.metadata.version("awswrangler"),
        "boto3": importlib.metadata.version("boto3"),
        "pandas": pd.__version__,
        "repeat": args.repeat,
        "persistent": args.workdir is not None,
    }
    if q is not None:
        figures["query"] = {
            "sql": QUERY_SQL,
            "rows": q.rows,
            **{f"{way}_median_s": round(s, 4) for way, s in q.seconds.items()},
            **{f"{way}_rows_per_s": round(q.rows_per_s(way)) for way in q.seconds},
            "ratio_vs_awswrangler": round(q.ratio("awswrangler"), 2),
            "ratio_vs_boto3": round(q.ratio("boto3"), 2),
            "target_vs_awswrangler": TARGET_QUERY,
            "agree": q.check.agree,
            "awswrangler_fidelity": q.check.fidelity,
        }
    if w is not None:
        figures["write"] = {
            "rows": w.rows,
            "measures": len(WRITE_MEASURES),
            **{f"{way}_median_s": round(s, 4) for way, s in w.seconds.items()},
            **{f"{way}_records_per_s": round(w.rows_per_s(way)) for way in w.seconds},
            "ratio_vs_awswrangler": round(w.ratio(), 2),
            "target_vs_awswrangler": TARGET_WRITE,
            "records_in_tables": w.records,
            "agree": w.agree,
        }
    figures["all_agree"] = (q is None or q.check.agree) and (w is None or w.agree)
    return figures


# --- Main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="ruuvistream's Timestream client vs awswrangler and boto3 by hand, against one embedded "
        "engine: a query's rows into pandas, and readings written as MULTI records. Answers are checked "
        "before timing; medians, rows/s and ratios are printed, then one JSON line of every figure. "
        "Exits with status 1 if any answer differs beyond awswrangler's known losses.",
        epilog="Measure a release build: `make bench` installs the release wheel and awswrangler, then runs "
        "this script. A quick check: --rows 20000 --write-rows 20000 --repeat 1.",
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the query result (default 1,000,000)")
    parser.add_argument(
        "--write-rows", type=int, default=1_000_000, help="readings each writer writes (default 1,000,000)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each way; the median is shown (default 3)")
    parser.add_argument("--skip-query", action="store_true", help="leave out query → pandas")
    parser.add_argument("--skip-write", action="store_true", help="leave out the writes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated readings (default 0)")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="run the engine persistent, its data in a new directory under this one (default: in memory)",
    )
    args = parser.parse_args(argv)
    if min(args.rows, args.write_rows, args.repeat) < 1:
        parser.error("counts must be at least 1")
    if args.skip_query and args.skip_write:
        parser.error("nothing to do with both --skip-query and --skip-write")
    return args


def run(args: argparse.Namespace, data_dir: Path | None) -> dict[str, Any]:
    import awswrangler as wr
    import boto3

    with ruuvistream.LocalTimestream(now=NOW, data_dir=data_dir) as engine:
        url = engine.endpoint_url
        # awswrangler builds its clients from a boto3 Session and takes endpoints from its config.
        wr.config.timestream_query_endpoint_url = url
        wr.config.timestream_write_endpoint_url = url
        session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")
        ts = ruuvistream.Timestream(endpoint_url=url)
        ts.create_database(DATABASE)
        q = None if args.skip_query else compare_query(ts, session, url, args)
        w = None if args.skip_write else compare_write(ts, session, args)
    if q is not None:
        print_query(q, args.repeat)
    if w is not None:
        print_write(w, args.repeat)
    return summary(args, q, w)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        figures = run(args, Path(tempfile.mkdtemp(prefix="compare_awswrangler-", dir=args.workdir)))
    else:
        figures = run(args, None)
    print(json.dumps(figures))
    if not figures["all_agree"]:
        print("MISMATCH: the clients gave different answers (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
