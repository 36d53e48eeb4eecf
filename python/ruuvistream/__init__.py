"""Ruuvi sensor data into Amazon Timestream and back out as Apache Arrow.

Decode every Ruuvi broadcast format from bare payloads, BLE advertisements and Ruuvi Gateway
JSON into Arrow tables, and simulate sensors when you own none:

>>> import ruuvistream
>>> t = ruuvistream.decode(["0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F"])
>>> row = t.to_pylist()[0]
>>> row["temperature"], row["humidity"], row["pressure"], row["mac"]
(24.3, 53.49, 100044.0, 'CB:B8:33:4C:88:4F')

Tables are :class:`pyarrow.Table` objects handed over through the Arrow PyCapsule interface
without copying; use ``.to_pandas()`` or ``polars.from_arrow(...)`` from there.
"""

from __future__ import annotations

import datetime as _dt
import json as _json
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Union

import pyarrow as pa

from ruuvistream import _native
from ruuvistream._client import (
    Identifier,
    QueryResult,
    RejectedRecord,
    Timestream,
    WriteReport,
    format_sql,
    sql_literal,
)
from ruuvistream._engine import LocalTimestream, RepairReport, repair
from ruuvistream.exceptions import (
    AccessDeniedError,
    BadHexError,
    BadUrlError,
    ConflictError,
    DataDirectoryError,
    DecodeError,
    GatewayJsonError,
    NotRuuviError,
    ResourceNotFoundError,
    RuuvistreamError,
    TimestreamConnectionError,
    TimestreamError,
    UnsupportedFormatError,
    ValidationError,
    WrongLengthError,
)

__all__ = [
    "READING_SCHEMA",
    "READING_SCHEMA_WITH_CONTEXT",
    "AccessDeniedError",
    "BadHexError",
    "BadUrlError",
    "ConflictError",
    "DataDirectoryError",
    "DecodeError",
    "GatewayJsonError",
    "Identifier",
    "LocalTimestream",
    "NotRuuviError",
    "QueryResult",
    "RejectedRecord",
    "RepairReport",
    "ResourceNotFoundError",
    "RuuvistreamError",
    "Timestream",
    "TimestreamConnectionError",
    "TimestreamError",
    "UnsupportedFormatError",
    "ValidationError",
    "WriteReport",
    "WrongLengthError",
    "__version__",
    "decode",
    "decode_gateway",
    "decode_one",
    "format_sql",
    "repair",
    "simulate",
    "simulated_sensors",
    "sql_literal",
]

__version__: str = _native.__version__

#: The canonical reading schema: one column per field of every Ruuvi format, null where a format
#: lacks the field or the sensor reported it "not available".
READING_SCHEMA: pa.Schema = pa.schema(_native.reading_schema())

#: :data:`READING_SCHEMA` plus ``time`` (timestamp[ns, UTC]), ``rssi`` (int16) and
#: ``gateway_mac`` (string): readings from Gateway JSON and the simulator.
READING_SCHEMA_WITH_CONTEXT: pa.Schema = pa.schema(_native.reading_schema(context=True))

Payload = Union[bytes, str, None]
Errors = Literal["raise", "null"]
DurationLike = Union[str, float, int, _dt.timedelta]


def decode(payloads: Iterable[Payload] | Any, *, errors: Errors = "raise") -> pa.Table:
    """Decode many Ruuvi payloads into a table in :data:`READING_SCHEMA`.

    Each payload is ``bytes`` or a hex ``str`` in any shape Ruuvi data travels in: a bare
    payload (format byte first), manufacturer data starting with the company id ``9904``, or a
    whole advertisement (AD structures, as Ruuvi Gateway relays it in ``data``). A Ruuvi URL
    (``https://ruu.vi/#...``, formats 2 and 4) is accepted as text. ``None`` gives a row of nulls.

    ``payloads`` may also be a pyarrow (or any Arrow PyCapsule) binary array holding bytes or
    string array holding hex, chunked or not; it is read without copying.

    With ``errors="raise"`` (the default) the first payload that does not decode raises a
    :class:`DecodeError` subclass whose ``row`` attribute is its index. With ``errors="null"``
    it becomes a row of nulls and the table gets an ``error`` column saying why (null for rows
    that decoded).

    >>> t = decode(["0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F", "05FF"], errors="null")
    >>> t.column("temperature").to_pylist(), t.column("error").to_pylist()
    ([24.3, None], [None, 'wrong length for Ruuvi data format 5: expected 24 bytes, got 2'])
    """
    if errors not in ("raise", "null"):
        raise ValueError(f"errors must be 'raise' or 'null', not {errors!r}")
    if isinstance(payloads, (bytes, bytearray, str)):
        raise TypeError("decode() takes a list of payloads; for a single payload use decode_one()")
    if hasattr(payloads, "__arrow_c_array__") or hasattr(payloads, "__arrow_c_stream__"):
        return pa.table(_native.decode_arrow(payloads, errors))
    items = payloads if isinstance(payloads, list) else list(payloads)
    return pa.table(_native.decode_list(items, errors))


def decode_one(payload: bytes | str) -> dict[str, Any]:
    """Decode one payload into a dict with every column of :data:`READING_SCHEMA`.

    Raises a :class:`DecodeError` subclass if it does not decode.

    >>> r = decode_one("0201061BFF99040512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F")
    >>> r["data_format"], r["battery_voltage"], r["tx_power"], r["pm2_5"]
    (5, 2.977, 4, None)
    """
    if isinstance(payload, bytearray):
        payload = bytes(payload)
    return _native.decode_one(payload)


def decode_gateway(
    documents: str | bytes | Mapping[str, Any] | Iterable[str | bytes | Mapping[str, Any]],
    *,
    errors: Errors = "raise",
) -> pa.Table:
    """Decode Ruuvi Gateway JSON into a table in :data:`READING_SCHEMA_WITH_CONTEXT`.

    Accepts the Gateway's HTTP POST body (and ``/history`` answer) with ``gw_mac`` or the older
    ``gwmac``, its MQTT messages, Ruuvi Cloud answers, "decoded only" messages, and the
    simulator's JSON lines. Timestamps may be numbers or strings, MACs with or without colons.
    ``documents`` is one text (holding one document, or several as JSON lines), one parsed
    ``dict``, or an iterable of either. One row is produced per advertisement.

    >>> body = {"data": {"gw_mac": "C8:25:2D:8E:9C:2C", "timestamp": "1653633988", "tags": {
    ...     "C6:A5:B9:E0:AD:06": {"rssi": -71, "timestamp": "1653633986",
    ...     "data": "0201061BFF99040513C85714C7CC00240008041CAB76F41C3CC6A5B9E0AD06"}}}}
    >>> row = decode_gateway(body).to_pylist()[0]
    >>> row["mac"], row["temperature"], row["rssi"], str(row["time"])
    ('C6:A5:B9:E0:AD:06', 25.32, -71, '2022-05-27 06:46:26+00:00')
    """
    if errors not in ("raise", "null"):
        raise ValueError(f"errors must be 'raise' or 'null', not {errors!r}")
    if isinstance(documents, (str, bytes, bytearray, Mapping)):
        documents = [documents]
    texts = [_document_bytes(d) for d in documents]
    return pa.table(_native.decode_gateway(texts, errors))


def _document_bytes(doc: str | bytes | bytearray | Mapping[str, Any]) -> bytes:
    if isinstance(doc, str):
        return doc.encode()
    if isinstance(doc, (bytes, bytearray)):
        return bytes(doc)
    if isinstance(doc, Mapping):
        return _json.dumps(doc).encode()
    raise TypeError(f"a Gateway document must be str, bytes or dict, not {type(doc).__name__}")


def _duration(value: DurationLike) -> str:
    if isinstance(value, _dt.timedelta):
        return f"{value.total_seconds()}s"
    if isinstance(value, (int, float)):
        return f"{float(value)}s"
    return value


def _time(value: str | _dt.datetime | None) -> str | None:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            raise ValueError("start must be timezone-aware (e.g. datetime(..., tzinfo=timezone.utc))")
        return value.isoformat()
    return value


def simulate(
    sensors: int = 4,
    duration: DurationLike = "1h",
    interval: DurationLike = "5s",
    *,
    seed: int = 0,
    start: str | _dt.datetime | None = None,
    air_sensors: int = 0,
    loss: float = 0.1,
    repeat: float = 0.05,
    site: str = "home",
    raw: bool = False,
) -> pa.Table:
    """Simulate Ruuvi sensors and return what a receiver would have heard.

    ``sensors`` RuuviTags (data format 5) and ``air_sensors`` Ruuvi Air sensors (format E1)
    broadcast every ``interval`` for ``duration`` (``"24h"``, ``"5s"``, a number of seconds or
    a ``timedelta``) from ``start`` (RFC 3339 text or an aware datetime; by default the
    simulation ends at the start of the current minute, so its data is recent enough for
    Timestream's memory store). Each sits at a named location with its own diurnal climate, shared
    weather-driven pressure, battery drain, movement events and sequence counters. A broadcast
    is lost with probability ``loss`` and received twice with probability ``repeat``. The same
    ``seed`` gives the same data.

    The packets are encoded as real advertisements and decoded by the real decoder; the result
    is in :data:`READING_SCHEMA_WITH_CONTEXT`. With ``raw=True`` you get the packets instead:
    ``time``, ``sensor``, ``mac``, ``location``, ``rssi`` and ``advertisement`` (bytes).

    >>> t = simulate(sensors=2, duration="1m", interval="10s", loss=0, repeat=0)
    >>> t.num_rows, sorted(set(t.column("data_format").to_pylist()))
    (12, [5])
    """
    return pa.table(
        _native.simulate(
            sensors,
            _duration(duration),
            _duration(interval),
            seed,
            _time(start),
            air_sensors,
            loss,
            repeat,
            site,
            raw,
        )
    )


def simulated_sensors(
    sensors: int = 4, *, air_sensors: int = 0, seed: int = 0, site: str = "home"
) -> list[dict[str, Any]]:
    """Describe the sensors :func:`simulate` creates with the same arguments.

    Returns one dict per sensor with ``mac``, ``location``, ``site``, ``data_format`` (the
    format byte, as in decoded readings) and ``format`` (its name as Ruuvi writes it: ``"5"``,
    ``"E1"``): the mapping from MAC to location that Timestream dimensions are built from.

    >>> [s["location"] for s in simulated_sensors(3)]
    ['bedroom', 'bathroom', 'greenhouse']
    >>> [(s["data_format"], s["format"]) for s in simulated_sensors(1, air_sensors=1)]
    [(5, '5'), (225, 'E1')]
    """
    return _native.simulated_sensors(sensors, air_sensors, seed, site)
