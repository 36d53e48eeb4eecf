"""Type stubs for the native extension module (checked against it by ``mypy.stubtest``)."""

import os
from typing import Any, final

__version__: str

def decode_list(payloads: list[Any], errors: str = "raise") -> Any: ...
def decode_arrow(payloads: Any, errors: str = "raise") -> Any: ...
def decode_one(payload: Any) -> dict[str, Any]: ...
def decode_gateway(documents: list[bytes], errors: str = "raise") -> Any: ...
def reading_schema(context: bool = False, error: bool = False) -> Any: ...
def simulate(
    sensors: int = 4,
    duration: str = "1h",
    interval: str = "5s",
    seed: int = 0,
    start: str | None = None,
    air_sensors: int = 0,
    loss: float = 0.1,
    repeat: float = 0.05,
    site: str = "home",
    raw: bool = False,
) -> Any: ...
def simulated_sensors(
    sensors: int = 4, air_sensors: int = 0, seed: int = 0, site: str = "home"
) -> list[dict[str, Any]]: ...
def cli_main(argv: list[str]) -> int: ...
def repair_data_dir(data_dir: str | os.PathLike[str]) -> tuple[list[str], int, int, str | None, bool, str]: ...

@final
class LocalTimestream:
    def __new__(
        cls,
        bind: str = "127.0.0.1",
        port: int = 0,
        now_ns: int | None = None,
        log_requests: bool = False,
        data_dir: str | None = None,
        credentials_file: str | None = None,
        keys: list[tuple[str, str, str | None, str | None]] | None = None,
        allow_anonymous: bool = False,
        query_memory_limit: int | None = None,
        query_timeout_s: float | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        unload_root: str | None = None,
    ) -> LocalTimestream: ...
    @property
    def signing_key(self) -> tuple[str, str] | None: ...
    @property
    def endpoint_url(self) -> str: ...
    @property
    def running(self) -> bool: ...
    def now_ns(self) -> int: ...
    def set_now_ns(self, ns: int) -> None: ...
    def advance(self, seconds: float) -> None: ...
    def stop(self) -> None: ...

@final
class Timestream:
    def __new__(
        cls,
        endpoint_url: str | None = None,
        region: str | None = None,
        max_attempts: int = 5,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        ca_file: str | None = None,
    ) -> Timestream: ...
    def write(
        self,
        database: str,
        table: str,
        readings: Any,
        *,
        layout: str = "multi",
        measure_name: str = "ruuvi",
        measures: list[tuple[str, str]] | None = None,
        labels: dict[str, dict[str, str]] | None = None,
        time_unit: str = "ms",
        version: int | None = None,
        concurrency: int = 8,
        progress: Any = None,
    ) -> dict[str, Any]: ...
    def query(self, sql: str, page_rows: int | None = None) -> Any: ...
    def query_batches(self, sql: str, page_rows: int | None = None) -> QueryBatches: ...
    def create_database(self, database: str, *, if_not_exists: bool = False) -> None: ...
    def create_table(
        self,
        database: str,
        table: str,
        *,
        memory_retention: str = "6h",
        magnetic_retention: str = "73000d",
        magnetic_writes: bool = False,
        if_not_exists: bool = False,
    ) -> None: ...
    def update_table(
        self,
        database: str,
        table: str,
        *,
        memory_retention: str,
        magnetic_retention: str,
        magnetic_writes: bool = False,
    ) -> None: ...
    def describe_table(self, database: str, table: str) -> dict[str, Any]: ...
    def list_databases(self) -> list[str]: ...
    def list_tables(self, database: str) -> list[str]: ...
    def delete_table(self, database: str, table: str) -> None: ...
    def delete_database(self, database: str) -> None: ...

@final
class QueryBatches:
    @property
    def schema(self) -> Any: ...
    def next_batch(self) -> Any: ...
    def close(self) -> None: ...
