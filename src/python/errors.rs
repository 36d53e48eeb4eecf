//! The one place where the crate's errors become Python exceptions (classes defined in
//! `python/ruuvistream/exceptions.py`).

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

use crate::error::{DecodeError, Error, GatewayError};

pyo3::import_exception!(ruuvistream.exceptions, RuuvistreamError);
pyo3::import_exception!(ruuvistream.exceptions, NotRuuviError);
pyo3::import_exception!(ruuvistream.exceptions, UnsupportedFormatError);
pyo3::import_exception!(ruuvistream.exceptions, WrongLengthError);
pyo3::import_exception!(ruuvistream.exceptions, BadHexError);
pyo3::import_exception!(ruuvistream.exceptions, BadUrlError);
pyo3::import_exception!(ruuvistream.exceptions, GatewayJsonError);
pyo3::import_exception!(ruuvistream.exceptions, TimestreamError);
pyo3::import_exception!(ruuvistream.exceptions, ValidationError);
pyo3::import_exception!(ruuvistream.exceptions, ResourceNotFoundError);
pyo3::import_exception!(ruuvistream.exceptions, ConflictError);
pyo3::import_exception!(ruuvistream.exceptions, AccessDeniedError);
pyo3::import_exception!(ruuvistream.exceptions, TimestreamConnectionError);
pyo3::import_exception!(ruuvistream.exceptions, DataDirectoryError);

/// Converts a crate error into the matching Python exception, with its fields as attributes.
pub fn to_py(err: Error) -> PyErr {
    match err {
        Error::Decode { row, source } => decode_error(source, Some(row), &format!("row {row}: ")),
        Error::Gateway(e) => gateway_error(e),
        Error::InvalidArgument(m) => PyValueError::new_err(m),
        Error::Io(e) => PyOSError::new_err(e.to_string()),
        Error::Damaged(m) => DataDirectoryError::new_err(m),
        e @ Error::Arrow(_) => RuuvistreamError::new_err(e.to_string()),
        // A value in a query result that its column type cannot hold: the server's fault.
        e @ Error::Type(_) => RuuvistreamError::new_err(e.to_string()),
        Error::Service { operation, code, message } => {
            let text = format!("{operation}: {code}: {message}");
            let err = match code.as_str() {
                "ValidationException" => ValidationError::new_err(text),
                "ResourceNotFoundException" => ResourceNotFoundError::new_err(text),
                "ConflictException" => ConflictError::new_err(text),
                "AccessDeniedException" => AccessDeniedError::new_err(text),
                _ => TimestreamError::new_err(text),
            };
            Python::attach(|py| {
                let value = err.value(py);
                let _ = value.setattr("code", code).and_then(|()| value.setattr("operation", operation));
            });
            err
        }
        Error::Connection { operation, message } => {
            TimestreamConnectionError::new_err(format!("{operation}: {message}"))
        }
    }
}

/// A decoding failure as an exception; `row` is the input row of a batch, if any, and `context`
/// goes before the message (`"row 3: "`).
pub fn decode_error(e: DecodeError, row: Option<usize>, context: &str) -> PyErr {
    let message = format!("{context}{e}");
    let err = match &e {
        DecodeError::Empty | DecodeError::NotRuuvi(_) => NotRuuviError::new_err(message),
        DecodeError::BadHex { .. } => BadHexError::new_err(message),
        DecodeError::UnsupportedFormat { .. } => UnsupportedFormatError::new_err(message),
        DecodeError::WrongLength { .. } => WrongLengthError::new_err(message),
        DecodeError::BadUrl(_) => BadUrlError::new_err(message),
    };
    Python::attach(|py| {
        let value = err.value(py);
        let set = |k: &str, v: Option<usize>| value.setattr(k, v);
        let attrs = match e {
            DecodeError::BadHex { position, .. } => set("position", Some(position)),
            DecodeError::UnsupportedFormat { format, .. } => set("format", Some(usize::from(format))),
            DecodeError::WrongLength { format, expected, actual } => set("format", Some(usize::from(format)))
                .and_then(|()| set("expected", Some(expected)))
                .and_then(|()| set("actual", Some(actual))),
            _ => Ok(()),
        };
        // Attributes are a convenience: failing to set one must not hide the error itself.
        let _ = attrs.and_then(|()| set("row", row));
    });
    err
}

fn gateway_error(e: GatewayError) -> PyErr {
    match e {
        GatewayError::Decode { mac, source } => {
            let err = decode_error(source, None, &format!("tag {mac}: "));
            Python::attach(|py| {
                let _ = err.value(py).setattr("mac", mac);
            });
            err
        }
        other => GatewayJsonError::new_err(other.to_string()),
    }
}
