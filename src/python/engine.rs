//! `LocalTimestream` from Python: the engine on a background thread of the current process.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use tokio::sync::oneshot;

use crate::engine::{Clock, EngineConfig, LocalTimestream};

/// A running engine. The Python class `ruuvistream.LocalTimestream` wraps it.
#[pyclass(module = "ruuvistream._native", name = "LocalTimestream")]
pub struct PyLocalTimestream {
    endpoint_url: String,
    clock: Clock,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
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
        let clock = now_ns.map_or(Clock::System, Clock::manual);
        let config = EngineConfig {
            bind: bind.to_string(),
            port,
            clock: clock.clone(),
            log_requests,
            data_dir,
            ..Default::default()
        };
        let (ready_tx, ready_rx) = mpsc::channel::<Result<String, String>>();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("ruuvistream-engine".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match LocalTimestream::start(config).await {
                        Ok(engine) => {
                            let _ = ready_tx.send(Ok(engine.endpoint_url()));
                            let _ = stopped.await;
                            engine.shutdown().await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                        }
                    }
                });
            })
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start the engine thread: {e}")))?;
        let ready = py.detach(move || ready_rx.recv_timeout(Duration::from_secs(30)));
        match ready {
            Ok(Ok(endpoint_url)) => Ok(Self { endpoint_url, clock, stop: Some(stop), thread: Some(thread) }),
            Ok(Err(e)) => Err(PyOSError::new_err(e)),
            Err(_) => Err(PyRuntimeError::new_err("the engine did not start within 30 s")),
        }
    }

    /// `http://host:port`, for `endpoint_url=` of boto3 and the AWS CLI.
    #[getter]
    fn endpoint_url(&self) -> &str {
        &self.endpoint_url
    }

    /// Whether the engine is serving.
    #[getter]
    fn running(&self) -> bool {
        self.stop.is_some()
    }

    /// The engine's "now", ns since the epoch.
    fn now_ns(&self) -> i64 {
        self.clock.now_ns()
    }

    /// Sets a manual clock (ValueError for the system clock).
    fn set_now_ns(&self, ns: i64) -> PyResult<()> {
        if self.clock.set_ns(ns) { Ok(()) } else { Err(manual_only()) }
    }

    /// Moves a manual clock forward by `seconds` (ValueError for the system clock).
    fn advance(&self, seconds: f64) -> PyResult<()> {
        let d = Duration::try_from_secs_f64(seconds).map_err(|_| PyValueError::new_err("seconds must be >= 0"))?;
        if self.clock.advance(d) { Ok(()) } else { Err(manual_only()) }
    }

    /// Stops the engine, letting in-flight requests finish. Idempotent.
    fn stop(&mut self, py: Python<'_>) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            py.detach(|| {
                let _ = thread.join();
            });
        }
    }
}

fn manual_only() -> PyErr {
    PyValueError::new_err("the engine runs on the system clock; start it with now=... to control time")
}

impl Drop for PyLocalTimestream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
