"""Exceptions raised by ruuvistream.

Every error ruuvistream raises derives from :class:`RuuvistreamError`. Errors about bad input also
derive from :class:`ValueError`, so code that already catches ``ValueError`` keeps working.
Invalid arguments (an unknown duration unit, a negative probability) raise plain ``ValueError``.
"""

from __future__ import annotations

__all__ = [
    "AccessDeniedError",
    "BadHexError",
    "BadUrlError",
    "ConflictError",
    "DataDirectoryError",
    "DecodeError",
    "GatewayJsonError",
    "NotRuuviError",
    "ResourceNotFoundError",
    "RuuvistreamError",
    "TimestreamConnectionError",
    "TimestreamError",
    "UnsupportedFormatError",
    "ValidationError",
    "WrongLengthError",
]


class RuuvistreamError(Exception):
    """Base class of every ruuvistream error."""


class DecodeError(RuuvistreamError, ValueError):
    """A payload could not be decoded.

    ``row`` is the index of the failing input in a batch (``None`` for a single payload) and
    ``mac`` the tag's MAC when the payload came from Gateway JSON.
    """

    row: int | None = None
    mac: str | None = None


class NotRuuviError(DecodeError):
    """The bytes hold no Ruuvi data (or nothing at all)."""


class UnsupportedFormatError(DecodeError):
    """A Ruuvi data format this decoder does not decode (``format`` is the format byte).

    Format 8 (encrypted) is only a proposal and was never shipped.
    """

    format: int | None = None


class WrongLengthError(DecodeError):
    """A known data format with the wrong number of bytes (``expected`` vs ``actual``)."""

    format: int | None = None
    expected: int | None = None
    actual: int | None = None


class BadHexError(DecodeError):
    """Text that should be hexadecimal is not (``position`` is the offending character)."""

    position: int | None = None


class BadUrlError(DecodeError):
    """A Ruuvi Eddystone URL (formats 2 and 4) with invalid text."""


class GatewayJsonError(RuuvistreamError, ValueError):
    """A document is not valid JSON, or not shaped like a Ruuvi Gateway message."""


class TimestreamError(RuuvistreamError):
    """Timestream (or the engine) refused a request.

    ``code`` is the service's error type (``"ThrottlingException"``, …) and ``operation`` the
    API operation (``"WriteRecords"``, …).
    """

    code: str | None = None
    operation: str | None = None


class ValidationError(TimestreamError, ValueError):
    """The request was invalid: bad SQL, a bad name, a value out of range."""


class ResourceNotFoundError(TimestreamError, LookupError):
    """The database or table does not exist."""


class ConflictError(TimestreamError):
    """The database or table already exists, or the query was cancelled."""


class AccessDeniedError(TimestreamError, PermissionError):
    """The credentials may not do this."""


class TimestreamConnectionError(RuuvistreamError, ConnectionError):
    """Timestream could not be reached, or no credentials were found."""


class DataDirectoryError(RuuvistreamError, OSError):
    """The engine's data directory is damaged or incomplete.

    A file is missing, fails its checksum or cannot be read; the message names it and what to
    do. The engine changed nothing: restore the file from a backup, or salvage every readable
    row with :func:`ruuvistream.repair` (``ruuvistream repair DIR`` on the command line).
    """
