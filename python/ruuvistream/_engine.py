"""The embedded Timestream-compatible engine, in-process."""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Union

from ruuvistream import _native

TimeLike = Union[_dt.datetime, int, float]


def _to_ns(value: TimeLike) -> int:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            raise ValueError("times must be timezone-aware (e.g. datetime(..., tzinfo=timezone.utc))")
        return int(value.timestamp()) * 1_000_000_000 + value.microsecond * 1000
    return int(value * 1_000_000_000) if isinstance(value, float) else int(value)


Credentials = Union[str, "os.PathLike[str]", Mapping[str, Union[str, Mapping[str, Any]]]]


def _databases(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return ",".join(str(v) for v in value)


class LocalTimestream:
    """A Timestream-compatible engine running in this process, on a background thread.

    boto3, the AWS CLI and the AWS SDKs talk to it over HTTP exactly as to the real service;
    point them at :attr:`endpoint_url`. By default any credentials are accepted; with
    ``credentials`` every request must be signed (AWS Signature Version 4) with one of the
    given keys: a mapping of access key id to secret (full access), or to
    ``{"secret": ..., "read": [...], "write": [...]}`` to limit the key to reading some
    databases (``"*"`` for all) and writing others; or the path of a file in the AWS
    shared-credentials format (see the README). ``port=0`` picks a free port. Pass ``now``
    (an aware datetime, or seconds since the epoch as a float, or nanoseconds as an int) to
    run the engine on a manual clock that only moves with
    :meth:`advance` and :meth:`set_now`, which is how retention can be shown without waiting.
    With ``data_dir`` the engine keeps its catalog and every acknowledged write there (synced
    to disk before each answer) and finds them again when restarted on the same directory;
    without it, everything is in memory.

    >>> with LocalTimestream() as ts:
    ...     ts.endpoint_url.startswith("http://127.0.0.1:")
    True
    """

    def __init__(
        self,
        port: int = 0,
        *,
        bind: str = "127.0.0.1",
        now: TimeLike | None = None,
        log_requests: bool = False,
        data_dir: str | os.PathLike[str] | None = None,
        credentials: Credentials | None = None,
        allow_anonymous: bool = False,
        query_memory_limit: int | None = None,
        query_timeout: _dt.timedelta | float | None = None,
        tls: tuple[str | os.PathLike[str], str | os.PathLike[str]] | None = None,
        unload_root: str | os.PathLike[str] | None = None,
    ) -> None:
        """Start the engine; it serves until :meth:`stop` (or the end of a ``with`` block).

        ``query_memory_limit`` (bytes) and ``query_timeout`` (a timedelta or seconds) bound
        each query; the defaults are a quarter of the machine's memory shared among the query
        slots (one per CPU) and one hour.
        ``allow_anonymous`` lets an engine without ``credentials`` listen beyond loopback.
        ``tls`` is a (certificate chain, private key) pair of PEM files to serve HTTPS with.
        ``unload_root`` is the directory UNLOAD writes to: ``TO 's3://bucket/folder/'`` is
        ``unload_root/bucket/folder/`` (without it, UNLOAD is refused).
        """
        credentials_file: str | None = None
        keys: list[tuple[str, str, str | None, str | None]] | None = None
        if isinstance(credentials, (str, os.PathLike)):
            credentials_file = os.fspath(credentials)
        elif credentials is not None:
            keys = []
            for key_id, spec in credentials.items():
                if isinstance(spec, str):
                    keys.append((key_id, spec, None, None))
                else:
                    keys.append((key_id, spec["secret"], _databases(spec.get("read")), _databases(spec.get("write"))))
        timeout = query_timeout.total_seconds() if isinstance(query_timeout, _dt.timedelta) else query_timeout
        self._native = _native.LocalTimestream(
            bind,
            port,
            None if now is None else _to_ns(now),
            log_requests,
            None if data_dir is None else os.fspath(data_dir),
            credentials_file,
            keys,
            allow_anonymous,
            query_memory_limit,
            timeout,
            None if tls is None else os.fspath(tls[0]),
            None if tls is None else os.fspath(tls[1]),
            None if unload_root is None else os.fspath(unload_root),
        )

    @property
    def endpoint_url(self) -> str:
        """``http://host:port``, for ``endpoint_url=`` of boto3 and ``--endpoint-url`` of the CLI."""
        return str(self._native.endpoint_url)

    @property
    def running(self) -> bool:
        """Whether the engine is serving."""
        return bool(self._native.running)

    @property
    def now(self) -> _dt.datetime:
        """The engine's current time (UTC)."""
        ns = self._native.now_ns()
        return _dt.datetime.fromtimestamp(ns // 1_000_000_000, _dt.timezone.utc) + _dt.timedelta(
            microseconds=(ns % 1_000_000_000) // 1000
        )

    def set_now(self, when: TimeLike) -> None:
        """Set the manual clock (``ValueError`` when the engine runs on the system clock)."""
        self._native.set_now_ns(_to_ns(when))

    def advance(self, by: _dt.timedelta | float) -> None:
        """Move the manual clock forward by a timedelta or a number of seconds."""
        seconds = by.total_seconds() if isinstance(by, _dt.timedelta) else float(by)
        self._native.advance(seconds)

    def client(
        self,
        service: str,
        region_name: str = "us-east-1",
        *,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Return a boto3 client for ``"timestream-write"`` or ``"timestream-query"`` bound to this engine.

        It signs with the given key, else with the first key of a ``credentials`` mapping, else
        with a placeholder key that an engine without credentials accepts. Other keyword
        arguments go to :func:`boto3.client` (``verify=`` the CA bundle of a TLS engine, say).
        """
        import boto3

        key_id, secret = self._native.signing_key or ("local", "local")
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=region_name,
            aws_access_key_id=aws_access_key_id or key_id,
            aws_secret_access_key=aws_secret_access_key or secret,
            **kwargs,
        )

    def stop(self) -> None:
        """Stop serving, letting requests in flight finish. Safe to call twice."""
        self._native.stop()

    def __enter__(self) -> LocalTimestream:
        """Return the running engine."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the engine."""
        self.stop()

    def __repr__(self) -> str:
        """Show where it serves."""
        state = "running" if self.running else "stopped"
        return f"LocalTimestream({self.endpoint_url!r}, {state})"


@dataclass(frozen=True)
class RepairReport:
    """What :func:`repair` found and did.

    ``problems`` lists each problem with the file it concerns; ``rows_kept`` counts the rows the
    repaired directory holds and ``rows_lost`` those known to be lost (a damaged stretch of the
    write-ahead log holds an unknown number more); ``aside`` is where the damaged files were
    copied; ``catalog_rebuilt`` says the catalog was lost, so the tables are now in database
    ``recovered`` as ``table-<id>``. ``str(report)`` is the report ``ruuvistream repair``
    prints.
    """

    problems: list[str]
    rows_kept: int
    rows_lost: int
    aside: str | None
    catalog_rebuilt: bool
    text: str

    @property
    def clean(self) -> bool:
        """Whether the directory was sound (and so left unchanged)."""
        return not self.problems

    def __str__(self) -> str:
        """Return the report as ``ruuvistream repair`` prints it."""
        return self.text


def repair(data_dir: str | os.PathLike[str]) -> RepairReport:
    """Salvage a damaged engine data directory, keeping every readable row.

    An engine refuses to start on a directory with a missing or damaged file (raising
    :class:`~ruuvistream.DataDirectoryError`) and changes nothing; this is the step that
    changes it, when you ask. Files that pass their checksums and every intact entry of the
    write-ahead log are kept, the damaged files are copied to ``damaged/`` inside the
    directory, and the report says what was lost. A sound directory is left as it is. The
    directory must not be in use.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with LocalTimestream(data_dir=d) as ts:
    ...         ts.client("timestream-write").create_database(DatabaseName="ruuvi")["Database"]["DatabaseName"]
    ...     repair(d).clean
    'ruuvi'
    True
    """
    problems, kept, lost, aside, rebuilt, text = _native.repair_data_dir(os.fspath(data_dir))
    return RepairReport(problems, kept, lost, aside, rebuilt, text)
