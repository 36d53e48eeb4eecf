//! `LocalTimestream` from Python: the engine on a background thread of the current process.

use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::errors::to_py;
use crate::engine::auth::{Databases, Grants, Keys, SigV4};
use crate::engine::{Clock, EngineConfig, EngineThread, QueryLimits, TlsFiles};

/// An access key from Python: id, secret, readable and writable databases (`*` or a list).
type KeySpec = (String, String, Option<String>, Option<String>);

/// A running engine. The Python class `ruuvistream.LocalTimestream` wraps it.
#[pyclass(module = "ruuvistream._native", name = "LocalTimestream")]
pub struct PyLocalTimestream {
    inner: EngineThread,
    signing: Option<(String, String)>,
}

#[pymethods]
impl PyLocalTimestream {
    /// Starts the engine on `bind`:`port` (0 = any free port). With `now_ns`, the engine's
    /// clock is manual and starts there; with `data_dir`, it keeps its data there; with
    /// `unload_root`, UNLOAD writes its exports under it.
    ///
    /// `keys` are (access key id, secret, readable databases, writable databases), the
    /// databases as `*` or a comma-separated list (`None`: every database); with keys or a
    /// `credentials_file`, every request must be signed with one of them.
    #[new]
    #[pyo3(signature = (bind = "127.0.0.1", port = 0, now_ns = None, log_requests = false, data_dir = None,
                        credentials_file = None, keys = None, allow_anonymous = false, query_memory_limit = None,
                        query_timeout_s = None, tls_cert = None, tls_key = None, unload_root = None))]
    #[allow(clippy::too_many_arguments)] // keyword arguments of the Python class
    fn new(
        py: Python<'_>,
        bind: &str,
        port: u16,
        now_ns: Option<i64>,
        log_requests: bool,
        data_dir: Option<std::path::PathBuf>,
        credentials_file: Option<std::path::PathBuf>,
        keys: Option<Vec<KeySpec>>,
        allow_anonymous: bool,
        query_memory_limit: Option<usize>,
        query_timeout_s: Option<f64>,
        tls_cert: Option<std::path::PathBuf>,
        tls_key: Option<std::path::PathBuf>,
        unload_root: Option<std::path::PathBuf>,
    ) -> PyResult<Self> {
        let mut all = match credentials_file {
            Some(path) => Some(Keys::load(&path).map_err(to_py)?),
            None => None,
        };
        let mut signing = None;
        for (id, secret, read, write) in keys.unwrap_or_default() {
            let grants = match (read, write) {
                (None, None) => Grants::all(),
                (read, write) => Grants {
                    read: read.as_deref().map_or_else(Databases::none, Databases::parse),
                    write: write.as_deref().map_or_else(Databases::none, Databases::parse),
                },
            };
            signing.get_or_insert_with(|| (id.clone(), secret.clone()));
            all.get_or_insert_with(Keys::default).add(&id, &secret, grants).map_err(to_py)?;
        }
        let mut query = QueryLimits::default();
        if let Some(m) = query_memory_limit {
            query.memory = m;
        }
        if let Some(t) = query_timeout_s {
            query.timeout =
                Duration::try_from_secs_f64(t).map_err(|_| PyValueError::new_err("query_timeout must be > 0"))?;
        }
        let mut config = EngineConfig {
            bind: bind.to_string(),
            port,
            clock: now_ns.map_or(Clock::System, Clock::manual),
            log_requests,
            data_dir,
            unload_root,
            allow_anonymous,
            query,
            tls: tls_cert.zip(tls_key).map(|(cert, key)| TlsFiles { cert, key }),
            ..Default::default()
        };
        if let Some(keys) = all {
            config.authenticator = Arc::new(SigV4::new(keys));
        }
        let inner = py.detach(move || EngineThread::start(config)).map_err(to_py)?;
        Ok(Self { inner, signing })
    }

    /// The first access key given in `keys` (id, secret), for the boto3 clients the Python
    /// class makes; `None` without keys.
    #[getter]
    fn signing_key(&self) -> Option<(String, String)> {
        self.signing.clone()
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

/// What `repair_data_dir` returns: (problems, rows kept, rows lost, where the damaged files were
/// copied, whether the catalog was rebuilt, the report as text).
type RepairTuple = (Vec<String>, usize, u64, Option<String>, bool, String);

/// Salvages a damaged data directory (`ruuvistream repair`).
#[pyfunction]
pub fn repair_data_dir(py: Python<'_>, data_dir: std::path::PathBuf) -> PyResult<RepairTuple> {
    let now = Clock::System.now_ns();
    let report = py
        .detach(|| crate::engine::store::repair(&data_dir, "us-east-1", "000000000000", now))
        .map_err(|e| to_py(e.into()))?;
    let text = report.to_string();
    let aside = report.aside.map(|p| p.display().to_string());
    Ok((report.problems, report.rows_kept, report.rows_lost, aside, report.catalog_rebuilt, text))
}
