"""The Timestream client: readings in, Arrow out."""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Callable, Literal, Union

import pyarrow as pa

from ruuvistream import _native

Layout = Literal["multi", "single"]
TimeUnit = Literal["s", "ms", "us", "ns"]
ProgressArg = Union[bool, Callable[[int, int], None]]


@dataclass(frozen=True)
class RejectedRecord:
    """A record that was not written, with the input row it came from."""

    row: int
    measure_name: str
    reason: str
    existing_version: int | None = None


@dataclass(frozen=True)
class WriteReport:
    """What :meth:`Timestream.write` did: every record is either ingested or in ``rejected``.

    ``memory_store`` and ``magnetic_store`` split ``records_ingested`` as the service reports
    it (requests with a rejected record report no split).
    """

    records_ingested: int
    memory_store: int
    magnetic_store: int
    requests: int
    rejected: list[RejectedRecord]

    @property
    def rejected_rows(self) -> list[int]:
        """The input rows with at least one rejected record, in order."""
        return sorted({r.row for r in self.rejected})


_PANDAS_NULLABLE: dict[pa.DataType, str] = {
    pa.int64(): "Int64",
    pa.int32(): "Int32",
    pa.bool_(): "boolean",
}


class QueryResult:
    """The result of :meth:`Timestream.query`: Arrow record batches, one per page.

    Pages arrive in the background while earlier ones are converted. Read them once with
    :meth:`iter_batches`, or all at once with :meth:`to_arrow` (kept, so later calls are free),
    :meth:`to_pandas` or :meth:`to_polars`. The result is also an Arrow stream
    (``__arrow_c_stream__``), so ``pyarrow.table(result)`` and ``polars.from_arrow(result)``
    take it directly. Closing it (or leaving its ``with`` block) before the end cancels the
    query.
    """

    def __init__(self, native: Any) -> None:
        self._native = native
        self._schema: pa.Schema = pa.schema(native.schema)
        self._table: pa.Table | None = None
        self._started = False

    @property
    def schema(self) -> pa.Schema:
        """The result's columns.

        TIMESTAMP is timestamp[ns, UTC], BIGINT int64, TIMESERIES list<struct<time, value>>.
        """
        return self._schema

    def iter_batches(self) -> Iterator[pa.RecordBatch]:
        """Yield the batches as they arrive (only once, unless :meth:`to_arrow` has kept them)."""
        if self._table is not None:
            yield from self._table.to_batches()
            return
        if self._started:
            raise RuntimeError("the batches were already read; use to_arrow() to keep them")
        self._started = True
        while (batch := self._native.next_batch()) is not None:
            yield pa.record_batch(batch)

    def to_arrow(self) -> pa.Table:
        """Return every row as one :class:`pyarrow.Table`."""
        if self._table is None:
            schema = self.schema
            self._table = pa.Table.from_batches(list(self.iter_batches()), schema=schema)
        return self._table

    def to_pandas(self, **kwargs: Any) -> Any:
        """Return every row as a pandas DataFrame.

        Integers and booleans become pandas' nullable types, so that a missing value does not
        turn a column into floats; timestamps keep their nanoseconds. ``kwargs`` go to
        :meth:`pyarrow.Table.to_pandas`.
        """
        import pandas as pd  # type: ignore[import-untyped]

        kwargs.setdefault("types_mapper", {t: pd.api.types.pandas_dtype(d) for t, d in _PANDAS_NULLABLE.items()}.get)
        return self.to_arrow().to_pandas(**kwargs)

    def to_polars(self) -> Any:
        """Return every row as a polars DataFrame."""
        import polars as pl

        return pl.from_arrow(self.to_arrow())

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """Export every row as an Arrow C stream (the Arrow PyCapsule interface)."""
        return self.to_arrow().__arrow_c_stream__(requested_schema)

    @property
    def num_rows(self) -> int:
        """The number of rows (reads every page)."""
        return int(self.to_arrow().num_rows)

    def close(self) -> None:
        """Stop reading; the query is cancelled if pages are left."""
        self._native.close()

    def __enter__(self) -> QueryResult:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"{self._table.num_rows} rows" if self._table is not None else "streaming"
        return f"QueryResult({', '.join(self.schema.names)}; {state})"


def _progress_callback(progress: ProgressArg, what: str) -> tuple[Callable[[int, int], None] | None, Any]:
    if callable(progress):
        return progress, None
    if not progress:
        return None, None
    try:
        from tqdm.auto import tqdm  # type: ignore[import-untyped]
    except ImportError:
        return None, None
    bar = tqdm(desc=what, unit="records")

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return update, bar


class Timestream:
    """A connection to Amazon Timestream, or to a compatible endpoint such as LocalTimestream.

    With ``endpoint_url=None`` it connects to AWS with the default credential and region chain
    (environment, profile, instance role) and endpoint discovery. With an endpoint URL it talks
    to that server; where no credentials are configured, it signs with placeholder ones, which
    the embedded engine accepts. Every call releases the GIL.

    >>> from ruuvistream import LocalTimestream, Timestream, simulate
    >>> with LocalTimestream() as engine:
    ...     ts = Timestream(endpoint_url=engine.endpoint_url)
    ...     ts.create_database("ruuvi")
    ...     ts.create_table("ruuvi", "sensors", memory_retention="24h", magnetic_retention="7d")
    ...     report = ts.write("ruuvi", "sensors", simulate(sensors=2, duration="10m"))
    ...     result = ts.query("SELECT mac, count(*) AS n FROM ruuvi.sensors GROUP BY mac")
    ...     (report.rejected, result.to_arrow().num_rows)
    ([], 2)
    """

    def __init__(
        self,
        endpoint_url: str | None = None,
        region: str | None = None,
        *,
        max_attempts: int = 5,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        ca_file: str | os.PathLike[str] | None = None,
    ) -> None:
        """Connect.

        ``max_attempts`` bounds the tries per request: throttling, server errors and timeouts
        are retried with jittered exponential backoff. Requests are signed with the given key
        (an engine started with ``credentials`` requires one of its keys), else with the
        default AWS credential chain. ``ca_file`` is a PEM file of certificate authorities to
        trust besides the system's, for an ``https://`` engine whose certificate a private CA
        signed (``ValueError`` if it holds no usable certificate).
        """
        self._native = _native.Timestream(
            endpoint_url,
            region,
            max_attempts,
            aws_access_key_id,
            aws_secret_access_key,
            None if ca_file is None else os.fspath(ca_file),
        )

    def write(
        self,
        database: str,
        table: str,
        readings: Any,
        *,
        layout: Layout = "multi",
        measure_name: str = "ruuvi",
        measures: Mapping[str, str] | Sequence[str] | None = None,
        labels: Mapping[str, Mapping[str, str]] | None = None,
        time_unit: TimeUnit = "ms",
        version: int | None = None,
        concurrency: int = 8,
        progress: ProgressArg = True,
    ) -> WriteReport:
        """Write readings into a table.

        ``readings`` is a table in :data:`READING_SCHEMA_WITH_CONTEXT` (from :func:`simulate`
        or :func:`decode_gateway`), or any Arrow table or stream with ``mac``, ``time`` and
        measure columns.

        ``layout="multi"`` writes one MULTI record per reading named ``measure_name``;
        ``layout="single"`` one record per measure, as the original walkthrough does.
        ``measures`` picks columns (a list) or picks and renames them (a dict column → name);
        by default every measure column is written, leaving out a reading's null values.
        ``labels`` adds dimensions by MAC, e.g. ``{"CB:B8:33:4C:88:4F": {"location": "sauna"}}``.
        Records are sent 100 per request, ``concurrency`` requests at a time, the dimensions of
        each sensor once per request as common attributes. ``progress`` shows a tqdm bar when
        tqdm is installed, or is called as ``progress(done, total)``.

        Rows that give no record (no MAC, no time, a decoding error) and records the service
        rejects are listed in the report by input row; nothing is dropped silently.
        """
        if isinstance(measures, Mapping):
            pairs = list(measures.items())
        elif measures is not None:
            pairs = [(m, m) for m in measures]
        else:
            pairs = None
        label_map = {mac: dict(dims) for mac, dims in (labels or {}).items()}
        callback, bar = _progress_callback(progress, f"{database}.{table}")
        try:
            raw = self._native.write(
                database,
                table,
                readings,
                layout=layout,
                measure_name=measure_name,
                measures=pairs,
                labels=label_map,
                time_unit=time_unit,
                version=version,
                concurrency=concurrency,
                progress=callback,
            )
        finally:
            if bar is not None:
                bar.close()
        rejected = [RejectedRecord(*r) for r in raw.pop("rejected")]
        return WriteReport(rejected=rejected, **raw)

    def query(self, sql: str, *, page_rows: int | None = None) -> QueryResult:
        """Run a query.

        Errors in the SQL raise here; rows come from the result object. ``page_rows`` caps the
        rows per page (MaxRows, 1 to 1000); by default pages fill up to 1 MB.
        """
        return QueryResult(self._native.query_batches(sql, page_rows))

    def create_database(self, database: str, *, if_not_exists: bool = False) -> None:
        """Create a database."""
        self._native.create_database(database, if_not_exists=if_not_exists)

    def create_table(
        self,
        database: str,
        table: str,
        *,
        memory_retention: str = "6h",
        magnetic_retention: str = "73000d",
        magnetic_writes: bool = False,
        if_not_exists: bool = False,
    ) -> None:
        """Create a table.

        Records stay ``memory_retention`` in the memory store (whole hours; only records newer
        than that can be written, unless ``magnetic_writes``) and then ``magnetic_retention`` in
        the magnetic store (whole days).
        """
        self._native.create_table(
            database,
            table,
            memory_retention=memory_retention,
            magnetic_retention=magnetic_retention,
            magnetic_writes=magnetic_writes,
            if_not_exists=if_not_exists,
        )

    def update_table(
        self,
        database: str,
        table: str,
        *,
        memory_retention: str,
        magnetic_retention: str,
        magnetic_writes: bool = False,
    ) -> None:
        """Change a table's retention."""
        self._native.update_table(
            database,
            table,
            memory_retention=memory_retention,
            magnetic_retention=magnetic_retention,
            magnetic_writes=magnetic_writes,
        )

    def describe_table(self, database: str, table: str) -> dict[str, Any]:
        """Describe a table: its status and retention."""
        return dict(self._native.describe_table(database, table))

    def list_databases(self) -> list[str]:
        """List every database's name."""
        return list(self._native.list_databases())

    def list_tables(self, database: str) -> list[str]:
        """List the names of a database's tables."""
        return list(self._native.list_tables(database))

    def delete_table(self, database: str, table: str) -> None:
        """Delete a table and its data."""
        self._native.delete_table(database, table)

    def delete_database(self, database: str) -> None:
        """Delete a database (it must have no tables)."""
        self._native.delete_database(database)


class Identifier(str):
    """A name to put into SQL as a quoted identifier (``"my-table"``), not as a string."""


_UNITS = [(86_400_000_000_000, "d"), (3_600_000_000_000, "h"), (60_000_000_000, "m"), (1_000_000_000, "s"),
          (1_000_000, "ms"), (1_000, "us"), (1, "ns")]  # fmt: skip


def sql_literal(value: Any) -> str:
    """Render ``value`` as a Timestream SQL literal.

    Strings are quoted (with ``'`` doubled); numbers, booleans and ``NULL`` as they are; aware
    datetimes as ``from_iso8601_timestamp(...)``; timedeltas as interval literals (``10m``);
    an :class:`Identifier` as a quoted name.

    >>> sql_literal("it's"), sql_literal(_dt.timedelta(hours=3)), sql_literal(None)
    ("'it''s'", '3h', 'NULL')
    """
    if value is None:
        return "NULL"
    if isinstance(value, Identifier):
        return '"' + value.replace('"', '""') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value} has no SQL literal")
        text = repr(value)
        # In parentheses, a minus can never join one before it into a `--` comment.
        return f"({text})" if text.startswith("-") else text
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            raise ValueError("datetimes must be timezone-aware")
        return f"from_iso8601_timestamp('{value.astimezone(_dt.timezone.utc).isoformat()}')"
    if isinstance(value, _dt.timedelta):
        ns = (value.days * 86_400 + value.seconds) * 1_000_000_000 + value.microseconds * 1000
        if ns < 0:
            raise ValueError("intervals must not be negative")
        for size, unit in _UNITS:
            if ns % size == 0:
                return f"{ns // size}{unit}"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


_PLACEHOLDER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def format_sql(template: str, /, **values: Any) -> str:
    """Fill ``{name}`` placeholders with :func:`sql_literal` of the values.

    A value can never change the shape of the query. Placeholders stand for whole literals:
    write ``location = {location}``, not ``location = '{location}'``.

    >>> format_sql("SELECT * FROM ruuvi.sensors WHERE location = {loc} AND time > ago({window})",
    ...            loc="sauna' OR '1'='1", window=_dt.timedelta(hours=3))
    "SELECT * FROM ruuvi.sensors WHERE location = 'sauna'' OR ''1''=''1' AND time > ago(3h)"
    """
    out = []
    for literal, field, spec, conversion in string.Formatter().parse(template):
        out.append(literal)
        if field is None:
            continue
        if spec or conversion or not _PLACEHOLDER.match(field):
            raise ValueError(f"placeholders are plain names, like {{location}}: got {{{field}}}")
        if field not in values:
            raise KeyError(field)
        out.append(sql_literal(values[field]))
    return "".join(out)
