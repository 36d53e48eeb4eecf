"""Type stubs for the native extension module (checked against it by ``mypy.stubtest``)."""

from typing import Any

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
