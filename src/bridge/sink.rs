//! Where the drainer writes: Timestream (or any compatible endpoint) through the crate's client,
//! or, for `ruuvistream serve --bridge`, the engine of the same process, called directly: the
//! same per-record checks, identity rules and write-ahead log as a WriteRecords request, without
//! the JSON, signing and HTTP in between (nor the credentials and certificates they would need,
//! nor the access keys' grants: the bridge is the operator's own). A record that a request's
//! validation would refuse, failing the whole request, is refused alone here.

use std::sync::Arc;

use crate::client::{Retention, Timestream, WriteOptions};
use crate::error::{Error, Result};
use crate::records::{MAX_RECORDS_PER_REQUEST, Record, TimeUnit};

/// A record that was not written, by its index in what was given, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rejected {
    /// Its index in the records given.
    pub index: usize,
    /// Why.
    pub reason: String,
}

/// What writing one table's records did.
#[derive(Debug, Default)]
pub(super) struct Written {
    /// Records written.
    pub written: usize,
    /// Records refused for good.
    pub refused: Vec<Rejected>,
}

/// Where the bridge's records go.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Sink {
    /// Through the client (WriteRecords requests of up to 100 records, 4 at once, retried).
    Client(Timestream),
    /// Into the engine of this process.
    #[cfg(feature = "engine")]
    Engine(Arc<crate::engine::Engine>),
}

/// How many WriteRecords calls run at once.
const CONCURRENCY: usize = 4;

/// Records per call into an engine of this process: no request limit applies, and each call
/// syncs the engine's log once, so calls are larger than requests (while the table's lock is
/// held for a few milliseconds at most).
#[cfg(feature = "engine")]
const ENGINE_CALL_RECORDS: usize = 1000;

impl Sink {
    /// Writes `records` (times in `unit`) to `database`.`table`. An error means nothing
    /// is known to be refused for good, and the whole write may be tried again (records
    /// written twice with the same value are kept once); a missing table is a
    /// `ResourceNotFoundException` service error.
    pub(super) async fn write(
        &self,
        database: &str,
        table: &str,
        unit: TimeUnit,
        records: &Arc<[Record]>,
    ) -> Result<Written> {
        match self {
            Self::Client(ts) => {
                let requests = crate::records::batches(
                    records.to_vec(),
                    (0..records.len()).collect(),
                    unit,
                    MAX_RECORDS_PER_REQUEST,
                );
                let options = WriteOptions { concurrency: CONCURRENCY, ..WriteOptions::default() };
                let report = ts.write_batches(database, table, requests, &options).await?;
                if let Some(r) = report.rejected.iter().find(|r| r.retryable) {
                    return Err(Error::Connection { operation: "WriteRecords", message: r.reason.clone() });
                }
                let refused =
                    report.rejected.into_iter().map(|r| Rejected { index: r.row, reason: r.reason }).collect();
                Ok(Written { written: report.records_ingested, refused })
            }
            #[cfg(feature = "engine")]
            Self::Engine(engine) => engine::write(engine, database, table, unit, records).await,
        }
    }

    /// Creates the database and the table, whichever is missing (the table with the default
    /// retention).
    pub(super) async fn create(&self, database: &str, table: &str) -> Result<()> {
        match self {
            Self::Client(ts) => {
                ts.create_database(database, true).await?;
                ts.create_table(database, table, &Retention::default(), true).await
            }
            #[cfg(feature = "engine")]
            Self::Engine(engine) => {
                // The catalog is written and synced: off the async threads.
                let (engine, database, table) = (engine.clone(), database.to_string(), table.to_string());
                tokio::task::spawn_blocking(move || engine::create(&engine, &database, &table))
                    .await
                    .map_err(|e| Error::Io(std::io::Error::other(e)))?
            }
        }
    }
}

/// A missing database or table, as the service says it.
pub(super) fn is_missing(e: &Error) -> bool {
    matches!(e, Error::Service { code, .. } if code == "ResourceNotFoundException")
}

#[cfg(feature = "engine")]
mod engine {
    use std::sync::Arc;

    use super::{CONCURRENCY, ENGINE_CALL_RECORDS, Rejected, Written};
    use crate::engine::Engine;
    use crate::engine::catalog::{CreateDatabase, CreateTable};
    use crate::engine::write::{MeasureInput, RecordInput};
    use crate::engine::{ApiError, ApiErrorKind};
    use crate::error::{Error, Result};
    use crate::records::{Measure, Record, TimeUnit};

    /// The engine's answer as the client would have given it.
    fn error(operation: &'static str, e: ApiError) -> Error {
        Error::Service { operation, code: e.kind.code().to_string(), message: e.message }
    }

    /// One WriteRecords call's worth of records into the engine (its lock, log and sync, as for
    /// a request), on a blocking thread.
    fn write_chunk(
        engine: &Engine,
        database: &str,
        table: &str,
        unit: TimeUnit,
        records: &[Record],
    ) -> Result<Written> {
        let unit_ns = unit.ns();
        let multi: Vec<Vec<(&str, &str, &str)>> = records
            .iter()
            .map(|r| match &r.measure {
                Measure::Multi(values) => {
                    values.iter().map(|v| (v.name.as_str(), v.value.as_str(), v.value_type.name())).collect()
                }
                Measure::Single { .. } => Vec::new(),
            })
            .collect();
        let inputs: Vec<RecordInput<'_>> = records
            .iter()
            .zip(&multi)
            .map(|(r, values)| RecordInput {
                dimensions: r.dimensions.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
                measure_name: &r.measure_name,
                value: match &r.measure {
                    Measure::Single { value, value_type } => MeasureInput::Single(value_type.name(), value),
                    Measure::Multi(_) => MeasureInput::Multi(values),
                },
                time_ns: r.time.saturating_mul(unit_ns),
                time_unit_ns: unit_ns,
                version: r.version,
            })
            .collect();
        match engine.write_records(database, table, &inputs) {
            Ok(_) => Ok(Written { written: records.len(), refused: Vec::new() }),
            Err(e) if e.kind == ApiErrorKind::RejectedRecords => Ok(Written {
                written: records.len() - e.rejected.len(),
                refused: e.rejected.into_iter().map(|r| Rejected { index: r.index, reason: r.reason }).collect(),
            }),
            Err(e) => Err(error("WriteRecords", e)),
        }
    }

    /// What one call gave: where its records start, and its outcome.
    type Call = std::result::Result<(usize, Result<Written>), tokio::task::JoinError>;

    /// Adds a call's outcome to `written`, or keeps its failure (the first one is the one to act
    /// on: a missing table, say; the step is then tried again whole).
    fn settle(done: Call, written: &mut Written, failure: &mut Option<Error>) {
        match done {
            Ok((first, Ok(w))) => {
                written.written += w.written;
                written.refused.extend(w.refused.into_iter().map(|r| Rejected { index: first + r.index, ..r }));
            }
            Ok((_, Err(e))) => _ = failure.get_or_insert(e),
            Err(e) => _ = failure.get_or_insert(Error::Io(std::io::Error::other(e))),
        }
    }

    pub(super) async fn write(
        engine: &Arc<Engine>,
        database: &str,
        table: &str,
        unit: TimeUnit,
        records: &Arc<[Record]>,
    ) -> Result<Written> {
        let mut calls = tokio::task::JoinSet::new();
        let (mut written, mut failure) = (Written::default(), None);
        for first in (0..records.len()).step_by(ENGINE_CALL_RECORDS) {
            if calls.len() == CONCURRENCY
                && let Some(done) = calls.join_next().await
            {
                settle(done, &mut written, &mut failure);
            }
            if failure.is_some() {
                break;
            }
            let (engine, records) = (engine.clone(), records.clone());
            let (database, table) = (database.to_string(), table.to_string());
            calls.spawn_blocking(move || {
                let chunk = &records[first..(first + ENGINE_CALL_RECORDS).min(records.len())];
                (first, write_chunk(&engine, &database, &table, unit, chunk))
            });
        }
        while let Some(done) = calls.join_next().await {
            settle(done, &mut written, &mut failure);
        }
        match failure {
            Some(e) => Err(e),
            None => {
                written.refused.sort_by_key(|r| r.index);
                Ok(written)
            }
        }
    }

    pub(super) fn create(engine: &Engine, database: &str, table: &str) -> Result<()> {
        let exists = |e: &ApiError| e.kind == ApiErrorKind::Conflict;
        match engine.create_database(CreateDatabase { name: database.into(), ..Default::default() }) {
            Ok(_) => {}
            Err(e) if exists(&e) => {}
            Err(e) => return Err(error("CreateDatabase", e)),
        }
        let create = CreateTable { database: database.into(), name: table.into(), ..Default::default() };
        match engine.create_table(create) {
            Ok(_) => Ok(()),
            Err(e) if exists(&e) => Ok(()),
            Err(e) => Err(error("CreateTable", e)),
        }
    }
}
