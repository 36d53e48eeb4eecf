//! `LocalTimestream` from Python: the engine on a background thread of the current process.

use std::time::Duration;

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::engine::{Clock, EngineConfig, EngineThread};
use crate::error::Error;

/// A running engine. The Python class `ruuvistream.LocalTimestream` wraps it.
#[pyclass(module = "ruuvistream._native", name = "LocalTimestream")]
pub struct PyLocalTimestream {
    inner: EngineThread,
}

#[pymethods]
impl PyLocalTimestream {
    /// Starts the engine on `bind`:`port` (0 = any free port). With `now_ns`, the engine's
    /// clock is manual and starts there; with `data_dir`, it keeps its data there.
    #[new]
    #[pyo3(signature = (bind = "127.0.0.1", port = 0, now_ns = None, log_requests = false, data_dir = None))]
    fn new(
        py: Python<'_>,
        bind: &str,
        port: u16,
        now_ns: Option<i64>,
        log_requests: bool,
        data_dir: Option<std::path::PathBuf>,
    ) -> PyResult<Self> {
        let config = EngineConfig {
            bind: bind.to_string(),
            port,
            clock: now_ns.map_or(Clock::System, Clock::manual),
            log_requests,
            data_dir,
            ..Default::default()
        };
        let inner = py.detach(move || EngineThread::start(config)).map_err(|e| match e {
            Error::Io(e) => PyOSError::new_err(e.to_string()),
            other => PyRuntimeError::new_err(other.to_string()),
        })?;
        Ok(Self { inner })
    }

    /// `http://host:port`, for `endpoint_url=` of boto3 and the AWS CLI.
    #[getter]
    fn endpoint_url(&self) -> &str {
        self.inner.endpoint_url()
    }

    /// Whether the engine is serving.
    #[getter]
    fn running(&self) -> bool {
        self.inner.is_running()
    }

    /// The engine's "now", ns since the epoch.
    fn now_ns(&self) -> i64 {
        self.inner.clock().now_ns()
    }

    /// Sets a manual clock (ValueError for the system clock).
    fn set_now_ns(&self, ns: i64) -> PyResult<()> {
        if self.inner.clock().set_ns(ns) { Ok(()) } else { Err(manual_only()) }
    }

    /// Moves a manual clock forward by `seconds` (ValueError for the system clock).
    fn advance(&self, seconds: f64) -> PyResult<()> {
        let d = Duration::try_from_secs_f64(seconds).map_err(|_| PyValueError::new_err("seconds must be >= 0"))?;
        if self.inner.clock().advance(d) { Ok(()) } else { Err(manual_only()) }
    }

    /// Stops the engine, letting in-flight requests finish. Idempotent.
    fn stop(&mut self, py: Python<'_>) {
        py.detach(|| self.inner.shutdown());
    }
}

fn manual_only() -> PyErr {
    PyValueError::new_err("the engine runs on the system clock; start it with now=... to control time")
}
