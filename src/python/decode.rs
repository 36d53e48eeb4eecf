//! Decoding from Python: lists of bytes or hex, Arrow arrays, single payloads, Gateway JSON.

use arrow_array::RecordBatch;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyString};
use pyo3_arrow::input::AnyArray;
use pyo3_arrow::{PySchema, PyTable};

use super::errors::{decode_error, to_py};
use crate::error::{Error, GatewayError};
use crate::ruuvi::{self, OnError, Payload, Reading, ReadingsBuilder, gateway};

/// `"raise"` or `"null"`.
pub fn on_error(errors: &str) -> PyResult<OnError> {
    match errors {
        "raise" => Ok(OnError::Raise),
        "null" => Ok(OnError::Null),
        other => Err(PyValueError::new_err(format!("errors must be 'raise' or 'null', not {other:?}"))),
    }
}

fn table(batches: Vec<RecordBatch>, context: bool, error: bool) -> PyResult<PyTable> {
    let schema = batches.first().map_or_else(|| ruuvi::reading_schema(context, error), RecordBatch::schema);
    PyTable::try_new(batches, schema)
}

/// One payload as Python sees it.
enum Item<'a> {
    Bytes(&'a [u8]),
    Hex(&'a str),
    Owned(Vec<u8>),
    Null,
}

unsafe extern "C" {
    // Part of the stable ABI only from 3.10, but exported with this signature by every CPython
    // 3.x, including the 3.9 that this abi3 module supports. pyo3 hides it below 3.10.
    fn PyUnicode_AsUTF8AndSize(unicode: *mut pyo3::ffi::PyObject, size: *mut pyo3::ffi::Py_ssize_t) -> *const u8;
}

/// The UTF-8 text of a `str` without copying it (for ASCII strings CPython hands out its own
/// buffer, which lives as long as the string).
fn str_utf8<'a>(s: &'a Bound<'_, PyString>) -> PyResult<&'a str> {
    let mut size: pyo3::ffi::Py_ssize_t = 0;
    // SAFETY: `s` is a live str object, and the GIL is held; the returned buffer is owned by
    // the string and valid for its lifetime, which `'a` ties the result to.
    let data = unsafe { PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut size) };
    if data.is_null() {
        return Err(PyErr::fetch(s.py()));
    }
    let len = usize::try_from(size).map_err(|_| PyValueError::new_err("negative string size"))?;
    // SAFETY: CPython guarantees `len` valid bytes at `data`, UTF-8 encoded.
    let bytes = unsafe { std::slice::from_raw_parts(data, len) };
    std::str::from_utf8(bytes).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Decodes a list of `bytes` (any shape) and `str` (hex) items, `None` giving a row of nulls.
#[pyfunction]
#[pyo3(signature = (payloads, errors = "raise"))]
pub fn decode_list(py: Python<'_>, payloads: &Bound<'_, PyList>, errors: &str) -> PyResult<PyTable> {
    let mode = on_error(errors)?;
    // Borrow every item's bytes first (the list keeps them alive), then decode without the GIL.
    let items: Vec<Bound<'_, PyAny>> = payloads.iter().collect();
    let mut inputs = Vec::with_capacity(items.len());
    for (row, item) in items.iter().enumerate() {
        inputs.push(if let Ok(b) = item.cast::<PyBytes>() {
            Item::Bytes(b.as_bytes())
        } else if let Ok(s) = item.cast::<PyString>() {
            Item::Hex(str_utf8(s)?)
        } else if let Ok(b) = item.cast::<PyByteArray>() {
            Item::Owned(b.to_vec())
        } else if item.is_none() {
            Item::Null
        } else {
            let ty = item.get_type().name()?;
            return Err(PyTypeError::new_err(format!("row {row}: expected bytes, bytearray or a hex str, not {ty}")));
        });
    }
    let payloads: Vec<Option<Payload<'_>>> = inputs
        .iter()
        .map(|item| match item {
            Item::Bytes(bytes) => Some(Payload::Bytes(bytes)),
            Item::Hex(text) => Some(Payload::Hex(text)),
            Item::Owned(bytes) => Some(Payload::Bytes(bytes)),
            Item::Null => None,
        })
        .collect();
    let batch = py.detach(|| ruuvi::decode_payloads(payloads.iter().copied(), payloads.len(), mode));
    table(vec![batch.map_err(to_py)?], false, mode == OnError::Null)
}

/// Decodes an Arrow array or chunked array (anything with `__arrow_c_array__` or
/// `__arrow_c_stream__`) of binary payloads or hex strings.
#[pyfunction]
#[pyo3(signature = (payloads, errors = "raise"))]
pub fn decode_arrow(py: Python<'_>, payloads: AnyArray, errors: &str) -> PyResult<PyTable> {
    let mode = on_error(errors)?;
    let (chunks, _field) = payloads.into_chunked_array()?.into_inner();
    let batches = py.detach(|| ruuvi::decode_chunks(&chunks, mode)).map_err(to_py)?;
    table(batches, false, mode == OnError::Null)
}

/// Decodes one payload (bytes in any shape, or hex) into a dict with every column of the
/// reading schema.
#[pyfunction]
pub fn decode_one<'py>(py: Python<'py>, payload: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    let decoded = if let Ok(b) = payload.cast::<PyBytes>() {
        ruuvi::decode(b.as_bytes())
    } else if let Ok(s) = payload.cast::<PyString>() {
        ruuvi::decode_hex(&s.to_cow()?)
    } else {
        let ty = payload.get_type().name()?;
        return Err(PyTypeError::new_err(format!("expected bytes or a hex str, not {ty}")));
    };
    reading_dict(py, &decoded.map_err(|e| decode_error(e, None, ""))?)
}

fn reading_dict<'py>(py: Python<'py>, r: &Reading) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("mac", r.mac.map(|m| m.to_string()))?;
    d.set_item("data_format", r.data_format.code())?;
    d.set_item("temperature", r.temperature)?;
    d.set_item("humidity", r.humidity)?;
    d.set_item("pressure", r.pressure)?;
    d.set_item("acceleration_x", r.acceleration_x)?;
    d.set_item("acceleration_y", r.acceleration_y)?;
    d.set_item("acceleration_z", r.acceleration_z)?;
    d.set_item("battery_voltage", r.battery_voltage)?;
    d.set_item("tx_power", r.tx_power)?;
    d.set_item("movement_counter", r.movement_counter)?;
    d.set_item("measurement_sequence", r.measurement_sequence)?;
    d.set_item("pm1_0", r.pm1_0)?;
    d.set_item("pm2_5", r.pm2_5)?;
    d.set_item("pm4_0", r.pm4_0)?;
    d.set_item("pm10_0", r.pm10_0)?;
    d.set_item("co2", r.co2)?;
    d.set_item("voc", r.voc)?;
    d.set_item("nox", r.nox)?;
    d.set_item("luminosity", r.luminosity)?;
    d.set_item("calibration_in_progress", r.calibration_in_progress)?;
    Ok(d)
}

/// Decodes Ruuvi Gateway JSON texts (each `bytes` holding one or more JSON documents) into
/// readings with `time`, `rssi` and `gateway_mac`.
#[pyfunction]
#[pyo3(signature = (documents, errors = "raise"))]
pub fn decode_gateway(py: Python<'_>, documents: Vec<Vec<u8>>, errors: &str) -> PyResult<PyTable> {
    let mode = on_error(errors)?;
    let batch = py.detach(|| -> Result<RecordBatch, Error> {
        let mut b = ReadingsBuilder::new(true, mode == OnError::Null, documents.len());
        for doc in &documents {
            let results = match std::str::from_utf8(doc) {
                Ok(text) => gateway::parse_documents(text),
                Err(e) => vec![Err(GatewayError::Shape(format!("not UTF-8 text: {e}")))],
            };
            for r in results {
                match r {
                    Ok(o) => b.push_observation(&o),
                    Err(e) if mode == OnError::Raise => return Err(e.into()),
                    Err(e) => b.push_null(Some(&e.to_string())),
                }
            }
        }
        b.finish()
    });
    table(vec![batch.map_err(to_py)?], true, mode == OnError::Null)
}

/// The canonical reading schema (see `ruuvistream.READING_SCHEMA`).
#[pyfunction]
#[pyo3(signature = (context = false, error = false))]
pub fn reading_schema(context: bool, error: bool) -> PySchema {
    PySchema::new(ruuvi::reading_schema(context, error))
}
