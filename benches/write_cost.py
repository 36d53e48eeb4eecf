"""Metered Timestream write volume per 1,000 Ruuvi readings: the walkthrough's layout vs ruuvistream's.

What it computes. Simulated readings (``--sensors`` RuuviTags, one reading every ``--interval`` for
``--duration``, none lost, fixed by ``--seed``) are turned into the WriteRecords requests each
layout sends, as JSON bodies, and each body is metered by the service's rule. No engine and no
network: the figures are exact for the requests and deterministic.

The layouts:

  walkthrough       as the original walkthrough writes (reference/seed-walkthrough.md): one
                    request per reading; CommonAttributes hold the dimensions ``location`` and
                    ``site``, ``MeasureValueType`` DOUBLE, the time (ms) and its unit; one
                    single-measure record per measure it keeps (temperature, humidity, pressure,
                    battery, txPower).
  walkthrough, all  the same, but every field of the walkthrough's reading (all of format 5 and
                    rssi) as a single-measure record, as its function writes without its filter.
  single, batched   ruuvistream's ``write(layout="single")``: one record per measure, 100 records
                    per request, each series' dimensions once per request as CommonAttributes,
                    time per record; for the walkthrough's five measures and for every measure.
  multi             ruuvistream's default ``write()``: one MULTI record (``ruuvi``) per reading,
                    100 per request, dimensions and measure name in CommonAttributes; for the
                    walkthrough's five measures and for every measure (the default).

ruuvistream's requests are built as ``src/records/mapping.rs`` and ``batching.rs`` build them
(measure columns, null values left out, doubles as Rust prints them, series in first-seen order,
``WriteBatch::to_request``); ruuvistream has no Python API that hands out request bodies. Its
dimensions are ``mac`` plus, unless ``--no-labels``, the walkthrough's ``location`` and ``site``
given as ``labels``; more dimensions than the walkthrough's, so the comparison does not flatter it.

The metering rule (AWS Timestream Developer Guide, "Metering and pricing: Writes",
docs.aws.amazon.com/timestream/latest/developerguide/metering-and-pricing.writes.html; the
project's reference/timestream.md does not state it: its §3.1 gives the limits used here, at most
100 records per WriteRecords request and 2 KB per record, and §3.4 how CommonAttributes merge into
each record):

  - an event's size is 8 bytes for its timestamp, plus the UTF-8 length of each dimension name,
    dimension value and measure name, plus each measure value: 8 bytes for DOUBLE and BIGINT, 1
    for BOOLEAN, the UTF-8 length for VARCHAR;
  - a write is metered in units of 1 KiB, and what CommonAttributes hold counts once per write
    (the guide's example: 52 bytes of common attributes and 36 events of 27 bytes fill one 1 KiB
    write), so a request of a few small records still costs a whole KiB.

Read as follows where the guide is silent [M]: a request over 1 KiB costs ceil(bytes / 1024) units
(the guide only shows writes up to 1 KiB; the pricing page rounds data written up to the KB); in a
MULTI record the record's measure name and each attribute's name and value all count; TIMESTAMP
values count 8 bytes; TimeUnit, MeasureValueType, DimensionValueType, Version and the database and
table names are not counted. The pricing page's "repeated dimensions are charged once" changes
nothing here: every layout already sends its dimensions once per request.

Printed per layout: records and WriteRecords requests per 1,000 readings, JSON request-body bytes
per record (compact JSON, about what goes over the wire), metered bytes per record, metered KiB
per 1,000 readings and how many times ruuvistream's default that is. The last line is one JSON
object with every figure.

    .venv/bin/python benches/write_cost.py
    .venv/bin/python benches/write_cost.py --sensors 100 --duration 1h --interval 5s
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import math
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa

import ruuvistream

START = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.timezone.utc)
DATABASE, TABLE = "ruuvi", "sensors"  # the walkthrough's names
KIB = 1024
MAX_RECORDS_PER_REQUEST = 100  # reference/timestream.md §3.1
MAX_RECORD_BYTES = 2048  # reference/timestream.md §3.1
TIMESTAMP_BYTES = 8
FIXED_VALUE_BYTES = {"DOUBLE": 8, "BIGINT": 8, "TIMESTAMP": 8, "BOOLEAN": 1}
# Columns that are not measures (src/records/mapping.rs, NOT_MEASURES).
NOT_MEASURES = ("mac", "data_format", "time", "gateway_mac", "error")
# The walkthrough's reading, in its order: (our column, its name, factor to its unit).
WALKTHROUGH_FIELDS = (
    ("rssi", "rssi", 1),
    ("temperature", "temperature", 1),
    ("humidity", "humidity", 1),
    ("pressure", "pressure", 1),
    ("acceleration_x", "accelerationX", 1000),  # g → mG
    ("acceleration_y", "accelerationY", 1000),
    ("acceleration_z", "accelerationZ", 1000),
    ("battery_voltage", "battery", 1000),  # V → mV
    ("tx_power", "txPower", 1),
    ("movement_counter", "movementCounter", 1),
    ("measurement_sequence", "measurementSequenceNumber", 1),
)
# What ruuvi_data_to_records keeps.
WALKTHROUGH_KEEPS = ("temperature", "humidity", "pressure", "battery", "txPower")
BASELINE = "multi, all measures (ruuvistream default)"


# --- Metering -----------------------------------------------------------------------------------


def utf8(text: str) -> int:
    return len(text.encode())


def value_bytes(value: str, kind: str) -> int:
    return FIXED_VALUE_BYTES.get(kind, utf8(value))


def event_bytes(record: dict[str, Any], kind: str) -> int:
    """The metered size of what one record (or the CommonAttributes) carries."""
    size = sum(utf8(d["Name"]) + utf8(d["Value"]) for d in record.get("Dimensions", []))
    size += utf8(record.get("MeasureName", ""))
    if "MeasureValue" in record:
        size += value_bytes(record["MeasureValue"], record.get("MeasureValueType", kind))
    size += sum(utf8(v["Name"]) + value_bytes(v["Value"], v["Type"]) for v in record.get("MeasureValues", []))
    if "Time" in record:
        size += TIMESTAMP_BYTES
    return size


@dataclass(frozen=True)
class Metered:
    """One request: its metered bytes, the 1 KiB units it costs, its largest record."""

    bytes: int
    units: int
    largest_record: int


def meter(request: dict[str, Any]) -> Metered:
    common = request.get("CommonAttributes", {})
    kind = common.get("MeasureValueType", "DOUBLE")  # the API's default type
    shared = event_bytes(common, kind)
    records = [event_bytes(r, kind) for r in request["Records"]]
    size = shared + sum(records)
    return Metered(size, max(1, math.ceil(size / KIB)), shared + max(records))


# --- Readings -----------------------------------------------------------------------------------


def readings_rows(readings: pa.Table) -> list[dict[str, Any]]:
    """The readings as dicts, with the time as integer ns."""
    times = readings.column("time").cast(pa.int64()).to_pylist()
    rows = readings.drop_columns(["time"]).to_pylist()
    for row, ns in zip(rows, times):
        row["time_ns"] = ns
    return rows


def measure_kinds(schema: pa.Schema) -> dict[str, str]:
    """Each measure column's value type, as mapping.rs gives it."""
    kinds = {}
    for f in schema:
        if f.name in NOT_MEASURES:
            continue
        if pa.types.is_floating(f.type):
            kinds[f.name] = "DOUBLE"
        elif pa.types.is_integer(f.type):
            kinds[f.name] = "BIGINT"
        elif pa.types.is_boolean(f.type):
            kinds[f.name] = "BOOLEAN"
        elif pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
            kinds[f.name] = "VARCHAR"
    return kinds


def rust_text(value: Any) -> str | None:
    """A value as mapping.rs renders it (Rust's Display); None where it writes nothing."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        text = repr(value)
        if "e" in text:
            return format(Decimal(text), "f")  # Rust never prints an exponent
        return text[:-2] if text.endswith(".0") else text
    return str(value)


# --- Requests -----------------------------------------------------------------------------------


def walkthrough_requests(
    rows: list[dict[str, Any]], sensors: dict[str, dict[str, str]], keep: Sequence[str] | None
) -> Iterator[dict[str, Any]]:
    """One write_records call per reading, as the walkthrough makes it."""
    for row in rows:
        dims = sensors[row["mac"]]
        records = []
        for column, name, factor in WALKTHROUGH_FIELDS:
            value = row[column]
            if value is None or (keep is not None and name not in keep):
                continue
            if factor != 1:
                value = round(value * factor)
            elif isinstance(value, float) and value.is_integer():
                value = int(value)
            records.append({"MeasureName": name, "MeasureValue": str(value)})
        yield {
            "DatabaseName": DATABASE,
            "TableName": TABLE,
            "CommonAttributes": {
                "Dimensions": [
                    {"Name": "location", "Value": dims["location"]},
                    {"Name": "site", "Value": dims["site"]},
                ],
                "MeasureValueType": "DOUBLE",
                "Time": str(row["time_ns"] // 1_000_000),
                "TimeUnit": "MILLISECONDS",
            },
            "Records": records,
        }


@dataclass
class Record:
    """A record of mapping.rs: the measure is (value, type) or a list of (name, value, type)."""

    measure_name: str
    single: tuple[str, str] | None
    multi: list[tuple[str, str, str]] | None
    time: int


def ruuvistream_records(
    rows: list[dict[str, Any]],
    kinds: dict[str, str],
    measures: Sequence[str] | None,
    labels: dict[str, dict[str, str]],
    multi: bool,
) -> Iterator[tuple[tuple[tuple[str, str], ...], Record]]:
    """(dimensions, record) pairs as Mapping::map gives them, time in ms (write()'s default)."""
    columns = list(kinds) if measures is None else list(measures)
    for row in rows:
        mac = row["mac"]
        dims = tuple(sorted([("mac", mac), *labels.get(mac, {}).items()]))
        t = row["time_ns"] // 1_000_000
        values = []
        for column in columns:
            if row[column] is None or (text := rust_text(row[column])) is None:
                continue
            values.append((column, text, kinds[column]))
        if multi:
            yield dims, Record("ruuvi", None, values, t)
        else:
            for name, text, kind in values:
                yield dims, Record(name, (text, kind), None, t)


def record_json(r: Record, common_name: bool, common_kind: bool) -> dict[str, Any]:
    """Record::to_json without what the batch holds in common."""
    out: dict[str, Any] = {}
    if not common_name:
        out["MeasureName"] = r.measure_name
    if r.single is not None:
        out["MeasureValue"] = r.single[0]
        if not common_kind:
            out["MeasureValueType"] = r.single[1]
    else:
        out["MeasureValues"] = [{"Name": n, "Value": v, "Type": k} for n, v, k in r.multi or []]
        out["MeasureValueType"] = "MULTI"
    out["Time"] = str(r.time)
    return out


def ruuvistream_requests(pairs: Iterator[tuple[tuple[tuple[str, str], ...], Record]]) -> Iterator[dict[str, Any]]:
    """batches() then WriteBatch::to_request: 100 records of one series per request."""
    series: dict[tuple[tuple[str, str], ...], list[Record]] = {}
    for dims, record in pairs:
        series.setdefault(dims, []).append(record)
    for dims, members in series.items():
        for k in range(0, len(members), MAX_RECORDS_PER_REQUEST):
            chunk = members[k : k + MAX_RECORDS_PER_REQUEST]
            name = chunk[0].measure_name if all(r.measure_name == chunk[0].measure_name for r in chunk) else None
            kinds = {r.single[1] if r.single is not None else None for r in chunk}
            kind = next(iter(kinds)) if len(kinds) == 1 else None
            common: dict[str, Any] = {
                "Dimensions": [{"Name": n, "Value": v, "DimensionValueType": "VARCHAR"} for n, v in dims]
            }
            if name is not None:
                common["MeasureName"] = name
            if kind is not None:
                common["MeasureValueType"] = kind
            common["TimeUnit"] = "MILLISECONDS"
            yield {
                "DatabaseName": DATABASE,
                "TableName": TABLE,
                "CommonAttributes": common,
                "Records": [record_json(r, name is not None, kind is not None) for r in chunk],
            }


# --- Layouts and figures ------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    layout: str
    readings: int
    records: int
    requests: int
    body_bytes: int
    metered_bytes: int
    units: int
    largest_record: int

    def per_1000(self, n: int) -> float:
        return n * 1000 / self.readings

    def to_json(self, baseline: Figures) -> dict[str, Any]:
        return {
            "layout": self.layout,
            "records_per_1000_readings": round(self.per_1000(self.records), 2),
            "requests_per_1000_readings": round(self.per_1000(self.requests), 2),
            "body_bytes_per_record": round(self.body_bytes / self.records, 2),
            "metered_bytes_per_record": round(self.metered_bytes / self.records, 2),
            "metered_kib_per_1000_readings": round(self.per_1000(self.units), 2),
            "vs_ruuvistream_default": round(self.units / baseline.units, 2),
            "largest_record_bytes": self.largest_record,
        }


def figures(layout: str, readings: int, requests: Iterator[dict[str, Any]]) -> Figures:
    records = n_requests = body = metered = units = largest = 0
    for request in requests:
        m = meter(request)
        n_requests += 1
        records += len(request["Records"])
        body += len(json.dumps(request, separators=(",", ":")).encode())
        metered += m.bytes
        units += m.units
        largest = max(largest, m.largest_record)
    return Figures(layout, readings, records, n_requests, body, metered, units, largest)


def compute(args: argparse.Namespace) -> tuple[list[Figures], dict[str, Any]]:
    readings = ruuvistream.simulate(
        sensors=args.sensors,
        duration=args.duration,
        interval=args.interval,
        seed=args.seed,
        start=START,
        loss=0.0,
        repeat=0.0,
    )
    rows = readings_rows(readings)
    sensors = {s["mac"]: s for s in ruuvistream.simulated_sensors(args.sensors, seed=args.seed)}
    labels = {mac: {"location": s["location"], "site": s["site"]} for mac, s in sensors.items()} if args.labels else {}
    kinds = measure_kinds(readings.schema)
    # The walkthrough's five measures, by our column names.
    five = [column for column, name, _ in WALKTHROUGH_FIELDS if name in WALKTHROUGH_KEEPS]
    n = len(rows)

    def ours(measures: Sequence[str] | None, multi: bool) -> Iterator[dict[str, Any]]:
        return ruuvistream_requests(ruuvistream_records(rows, kinds, measures, labels, multi))

    out = [
        figures(
            "walkthrough (5 measures, a request per reading)", n, walkthrough_requests(rows, sensors, WALKTHROUGH_KEEPS)
        ),
        figures("walkthrough, all measures", n, walkthrough_requests(rows, sensors, None)),
        figures("single, batched, 5 measures", n, ours(five, multi=False)),
        figures("single, batched, all measures", n, ours(None, multi=False)),
        figures("multi, 5 measures", n, ours(five, multi=True)),
        figures(BASELINE, n, ours(None, multi=True)),
    ]
    measures = [c for c in kinds if any(row[c] is not None for row in rows)]
    context = {"readings": n, "sensors": args.sensors, "all_measures": measures, "walkthrough_measures": five}
    return out, context


def print_table(rows: list[Figures], context: dict[str, Any]) -> None:
    baseline = rows[-1]
    print(
        f"{context['readings']:,} readings from {context['sensors']} sensors; all measures: "
        f"{', '.join(context['all_measures'])}"
    )
    print(
        f"\n{'layout':<50} {'records':>8} {'requests':>9} {'body B':>8} {'metered B':>10} {'metered KiB':>12} "
        f"{'vs default':>11}"
    )
    print(f"{'':<50} {'/1k rdg':>8} {'/1k rdg':>9} {'/record':>8} {'/record':>10} {'/1k readings':>12} {'':>11}")
    for r in rows:
        j = r.to_json(baseline)
        print(
            f"{r.layout:<50} {j['records_per_1000_readings']:>8,.0f} {j['requests_per_1000_readings']:>9,.1f} "
            f"{j['body_bytes_per_record']:>8.1f} {j['metered_bytes_per_record']:>10.1f} "
            f"{j['metered_kib_per_1000_readings']:>12,.1f} {j['vs_ruuvistream_default']:>10.2f}x"
        )
    walkthrough, multi5 = rows[0], rows[4]
    print(
        f"\nthe walkthrough's own five measures: {walkthrough.per_1000(walkthrough.units):,.0f} KiB per 1,000 readings "
        f"as it writes them, {multi5.per_1000(multi5.units):,.1f} KiB as MULTI records, "
        f"{walkthrough.units / multi5.units:.1f}x less"
    )
    largest = max(r.largest_record for r in rows)
    if largest > MAX_RECORD_BYTES:
        print(f"WARNING: a record of {largest} bytes is over the 2 KB record limit", file=sys.stderr)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Timestream's metered write volume per 1,000 simulated Ruuvi readings, for the walkthrough's "
        "layout and ruuvistream's, computed from the WriteRecords request bodies each would send. Ends with one "
        "JSON line of every figure.",
    )
    parser.add_argument("--sensors", type=int, default=4, help="RuuviTags (default 4, as in the walkthrough)")
    parser.add_argument("--duration", default="24h", help="how long they broadcast (default 24h)")
    parser.add_argument("--interval", default="1m", help="time between a sensor's readings (default 1m)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated readings (default 0)")
    parser.add_argument(
        "--labels",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="give ruuvistream's records the walkthrough's location and site dimensions besides mac (default: yes)",
    )
    args = parser.parse_args(argv)
    if args.sensors < 1:
        parser.error("--sensors must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rows, context = compute(args)
    print_table(rows, context)
    baseline = rows[-1]
    print(
        json.dumps(
            {
                "benchmark": "write_cost",
                "ruuvistream": importlib.metadata.version("ruuvistream"),
                "duration": args.duration,
                "interval": args.interval,
                "seed": args.seed,
                "labels": args.labels,
                **context,
                "layouts": [r.to_json(baseline) for r in rows],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
