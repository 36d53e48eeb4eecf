//! `ruuvistream.Timestream` from Python: the client on a shared tokio runtime, every call with
//! the GIL released.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use arrow_array::RecordBatch;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::{PyRecordBatch, PySchema, PyTable};
use tokio::runtime::Runtime;

use super::errors::to_py;
use crate::client::{Connect, QueryStream, Retention, Timestream, WriteOptions, WriteReport};
use crate::records::{Layout, Mapping, TimeUnit};

/// The runtime every client call runs on (two workers: requests are I/O bound).
fn runtime() -> PyResult<&'static Runtime> {
    static RUNTIME: OnceLock<std::io::Result<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("ruuvistream-client")
                .enable_all()
                .build()
        })
        .as_ref()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the client runtime: {e}")))
}

/// A connection to Timestream (AWS, or an explicit endpoint).
#[pyclass(module = "ruuvistream._native", name = "Timestream", frozen)]
pub struct PyTimestream {
    inner: Timestream,
}

/// Retention from the Python keyword arguments.
fn retention(memory: &str, magnetic: &str, magnetic_writes: bool) -> PyResult<Retention> {
    let mut retention = Retention::parse(memory, magnetic).map_err(to_py)?;
    retention.magnetic_writes = magnetic_writes;
    Ok(retention)
}

fn report_dict<'py>(py: Python<'py>, r: WriteReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("records_ingested", r.records_ingested)?;
    d.set_item("memory_store", r.memory_store)?;
    d.set_item("magnetic_store", r.magnetic_store)?;
    d.set_item("requests", r.requests)?;
    let rejected: Vec<(usize, String, String, Option<i64>)> =
        r.rejected.into_iter().map(|x| (x.row, x.measure_name, x.reason, x.existing_version)).collect();
    d.set_item("rejected", rejected)?;
    Ok(d)
}

#[pymethods]
impl PyTimestream {
    /// Connects to `endpoint_url` (e.g. a `LocalTimestream`), or to AWS when it is None;
    /// signs with the given access key, or the default credential chain.
    #[new]
    #[pyo3(signature = (endpoint_url = None, region = None, max_attempts = 5, access_key_id = None,
                        secret_access_key = None, ca_file = None))]
    fn new(
        py: Python<'_>,
        endpoint_url: Option<String>,
        region: Option<String>,
        max_attempts: u32,
        access_key_id: Option<String>,
        secret_access_key: Option<String>,
        ca_file: Option<std::path::PathBuf>,
    ) -> PyResult<Self> {
        let rt = runtime()?;
        let credentials = match (access_key_id, secret_access_key) {
            (Some(id), Some(secret)) => Some((id, secret)),
            (None, None) => None,
            _ => {
                return Err(pyo3::exceptions::PyValueError::new_err(
                    "give both aws_access_key_id and aws_secret_access_key, or neither",
                ));
            }
        };
        let opts = Connect { endpoint_url, region, max_attempts, credentials, ca_file, ..Connect::default() };
        let inner = py.detach(|| rt.block_on(Timestream::connect(&opts))).map_err(to_py)?;
        Ok(Self { inner })
    }

    /// Writes readings; returns the report as a dict (the Python class builds `WriteReport`).
    #[pyo3(signature = (database, table, readings, *, layout = "multi", measure_name = "ruuvi",
        measures = None, labels = None, time_unit = "ms", version = None, concurrency = 8, progress = None))]
    #[allow(clippy::too_many_arguments)] // mirrors the keyword arguments of the Python method
    fn write<'py>(
        &self,
        py: Python<'py>,
        database: &str,
        table: &str,
        readings: AnyRecordBatch,
        layout: &str,
        measure_name: &str,
        measures: Option<Vec<(String, String)>>,
        labels: Option<HashMap<String, HashMap<String, String>>>,
        time_unit: &str,
        version: Option<i64>,
        concurrency: usize,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let layout = match layout {
            "multi" => Layout::Multi { measure_name: measure_name.to_string() },
            "single" => Layout::Single,
            other => return Err(PyValueError::new_err(format!("layout must be 'multi' or 'single', not {other:?}"))),
        };
        let time_unit = TimeUnit::parse(time_unit)
            .ok_or_else(|| PyValueError::new_err(format!("time_unit must be s, ms, us or ns, not {time_unit:?}")))?;
        let labels = labels
            .unwrap_or_default()
            .into_iter()
            .map(|(mac, dims)| {
                let mut dims: Vec<(String, String)> = dims.into_iter().collect();
                dims.sort();
                (mac, dims)
            })
            .collect();
        let mapping = Mapping { layout, measures, labels, time_unit, version, ..Mapping::default() };
        let reader = readings.into_reader()?;
        let schema = reader.schema();
        let batches: Vec<RecordBatch> =
            reader.collect::<Result<_, _>>().map_err(|e| PyValueError::new_err(e.to_string()))?;
        let batch = datafusion::arrow::compute::concat_batches(&schema, &batches)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let options = WriteOptions {
            concurrency,
            progress: progress.map(|cb| {
                let cb = Arc::new(cb);
                Arc::new(move |p: crate::client::Progress| {
                    Python::attach(|py| {
                        // A failing progress display must not fail the write.
                        let _ = cb.call1(py, (p.records_done, p.records_total));
                    });
                }) as crate::client::ProgressFn
            }),
            ..WriteOptions::default()
        };
        let rt = runtime()?;
        let report = py.detach(|| rt.block_on(self.inner.write(database, table, &batch, &mapping, &options)));
        report_dict(py, report.map_err(to_py)?)
    }

    /// Runs a query to the end; returns an Arrow table.
    #[pyo3(signature = (sql, page_rows = None))]
    fn query(&self, py: Python<'_>, sql: &str, page_rows: Option<i32>) -> PyResult<PyTable> {
        let rt = runtime()?;
        let result = py.detach(|| rt.block_on(self.inner.query_stream(sql, page_rows).collect())).map_err(to_py)?;
        PyTable::try_new(result.batches, result.schema)
    }

    /// Starts a query whose batches are read one at a time.
    #[pyo3(signature = (sql, page_rows = None))]
    fn query_batches(&self, py: Python<'_>, sql: &str, page_rows: Option<i32>) -> PyResult<PyQueryBatches> {
        let rt = runtime()?;
        let mut stream = {
            let _guard = rt.enter();
            self.inner.query_stream(sql, page_rows)
        };
        py.detach(|| rt.block_on(stream.ready())).map_err(to_py)?;
        let schema = stream.schema().unwrap_or_else(|| Arc::new(arrow_schema::Schema::empty()));
        Ok(PyQueryBatches { schema, stream: std::sync::Mutex::new(Some(stream)) })
    }

    /// Creates a database (an existing one is fine with `if_not_exists`).
    #[pyo3(signature = (database, *, if_not_exists = false))]
    fn create_database(&self, py: Python<'_>, database: &str, if_not_exists: bool) -> PyResult<()> {
        let rt = runtime()?;
        py.detach(|| rt.block_on(self.inner.create_database(database, if_not_exists))).map_err(to_py)
    }

    /// Creates a table with retention given as durations (`"24h"`, `"7d"`).
    #[pyo3(signature = (database, table, *, memory_retention = "6h", magnetic_retention = "73000d",
        magnetic_writes = false, if_not_exists = false))]
    #[allow(clippy::too_many_arguments)] // mirrors the keyword arguments of the Python method
    fn create_table(
        &self,
        py: Python<'_>,
        database: &str,
        table: &str,
        memory_retention: &str,
        magnetic_retention: &str,
        magnetic_writes: bool,
        if_not_exists: bool,
    ) -> PyResult<()> {
        let retention = retention(memory_retention, magnetic_retention, magnetic_writes)?;
        let rt = runtime()?;
        py.detach(|| rt.block_on(self.inner.create_table(database, table, &retention, if_not_exists))).map_err(to_py)
    }

    /// Changes a table's retention.
    #[pyo3(signature = (database, table, *, memory_retention, magnetic_retention, magnetic_writes = false))]
    fn update_table(
        &self,
        py: Python<'_>,
        database: &str,
        table: &str,
        memory_retention: &str,
        magnetic_retention: &str,
        magnetic_writes: bool,
    ) -> PyResult<()> {
        let retention = retention(memory_retention, magnetic_retention, magnetic_writes)?;
        let rt = runtime()?;
        py.detach(|| rt.block_on(self.inner.update_table(database, table, &retention))).map_err(to_py)
    }

    /// DescribeTable as a dict (retention in hours and days).
    fn describe_table<'py>(&self, py: Python<'py>, database: &str, table: &str) -> PyResult<Bound<'py, PyDict>> {
        let rt = runtime()?;
        let info = py.detach(|| rt.block_on(self.inner.describe_table(database, table))).map_err(to_py)?;
        let d = PyDict::new(py);
        d.set_item("database", info.database)?;
        d.set_item("table", info.table)?;
        d.set_item("status", info.status)?;
        d.set_item("memory_retention_hours", info.retention.memory.as_secs() / 3600)?;
        d.set_item("magnetic_retention_days", info.retention.magnetic.as_secs() / 86_400)?;
        d.set_item("magnetic_writes", info.retention.magnetic_writes)?;
        Ok(d)
    }

    /// The names of all databases.
    fn list_databases(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let rt = runtime()?;
        py.detach(|| rt.block_on(self.inner.list_databases())).map_err(to_py)
    }

    /// The names of a database's tables.
    fn list_tables(&self, py: Python<'_>, database: &str) -> PyResult<Vec<String>> {
        let rt = runtime()?;
        py.detach(|| rt.block_on(self.inner.list_tables(database))).map_err(to_py)
    }

    /// Deletes a table.
    fn delete_table(&self, py: Python<'_>, database: &str, table: &str) -> PyResult<()> {
        let rt = runtime()?;
        py.detach(|| rt.block_on(self.inner.delete_table(database, table))).map_err(to_py)
    }

    /// Deletes a database (it must have no tables).
    fn delete_database(&self, py: Python<'_>, database: &str) -> PyResult<()> {
        let rt = runtime()?;
        py.detach(|| rt.block_on(self.inner.delete_database(database))).map_err(to_py)
    }
}

/// A query's batches, one per page, as they arrive; dropping it early cancels the query.
#[pyclass(module = "ruuvistream._native", name = "QueryBatches", frozen)]
pub struct PyQueryBatches {
    schema: arrow_schema::SchemaRef,
    stream: std::sync::Mutex<Option<QueryStream>>,
}

#[pymethods]
impl PyQueryBatches {
    /// The result's schema.
    #[getter]
    fn schema(&self) -> PySchema {
        PySchema::new(self.schema.clone())
    }

    /// The next batch, or None at the end.
    fn next_batch(&self, py: Python<'_>) -> PyResult<Option<PyRecordBatch>> {
        let rt = runtime()?;
        // The stream leaves the lock while it waits (without the GIL), so that another thread
        // asking for the schema or closing never waits on a lock held by a thread without the GIL.
        let taken = self.stream.lock().map_err(|_| PyRuntimeError::new_err("poisoned"))?.take();
        let Some(mut stream) = taken else { return Ok(None) };
        let next = py.detach(|| rt.block_on(stream.next_batch()));
        match next {
            Some(Ok(b)) => {
                *self.stream.lock().map_err(|_| PyRuntimeError::new_err("poisoned"))? = Some(stream);
                Ok(Some(PyRecordBatch::new(b)))
            }
            Some(Err(e)) => Err(to_py(e)),
            None => Ok(None),
        }
    }

    /// Stops reading: the query is cancelled if it has more pages.
    fn close(&self) -> PyResult<()> {
        let rt = runtime()?;
        let _guard = rt.enter();
        let taken = self.stream.lock().map_err(|_| PyRuntimeError::new_err("poisoned"))?.take();
        drop(taken);
        Ok(())
    }
}
