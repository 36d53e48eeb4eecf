//! The Python extension module `ruuvistream._native`. Nothing outside this module names pyo3.
//!
//! The public Python API lives in `python/ruuvistream/`; these functions are its engine room.

#![allow(unsafe_code)] // pyo3's macros expand to unsafe FFI glue

mod client;
mod decode;
mod engine;
mod errors;
mod simulate;

use pyo3::prelude::*;

/// Runs the `ruuvistream` command line with `argv` (program name first) and returns its exit
/// status. The Python package's console script calls this.
#[pyfunction]
fn cli_main(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.detach(|| crate::cli::run(argv))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(decode::decode_list, m)?)?;
    m.add_function(wrap_pyfunction!(decode::decode_arrow, m)?)?;
    m.add_function(wrap_pyfunction!(decode::decode_one, m)?)?;
    m.add_function(wrap_pyfunction!(decode::decode_gateway, m)?)?;
    m.add_function(wrap_pyfunction!(decode::reading_schema, m)?)?;
    m.add_function(wrap_pyfunction!(simulate::simulate, m)?)?;
    m.add_function(wrap_pyfunction!(simulate::simulated_sensors, m)?)?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    m.add_class::<engine::PyLocalTimestream>()?;
    m.add_function(wrap_pyfunction!(engine::repair_data_dir, m)?)?;
    m.add_class::<client::PyTimestream>()?;
    m.add_class::<client::PyQueryBatches>()?;
    Ok(())
}
