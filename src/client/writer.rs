//! Batched, concurrent WriteRecords with a report of every rejected record.

use std::sync::Arc;

use arrow_array::RecordBatch;
use aws_sdk_timestreamwrite::operation::write_records::WriteRecordsError;
use aws_sdk_timestreamwrite::types as sdk;
use tokio::task::JoinSet;

use super::{Target, Timestream, sdk_error};
use crate::error::{Error, Result};
use crate::records::{Mapping, Measure, TimeUnit, ValueType, WriteBatch, batches};

/// How far a write has come, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Records answered (ingested or rejected) so far.
    pub records_done: usize,
    /// Records to write in all.
    pub records_total: usize,
    /// Requests answered so far.
    pub requests_done: usize,
    /// Requests in all.
    pub requests_total: usize,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// How to write.
#[derive(Clone)]
pub struct WriteOptions {
    /// Requests in flight at once (default 8).
    pub concurrency: usize,
    /// Records per request (at most 100, the default).
    pub records_per_request: usize,
    /// Called after every answered request.
    pub progress: Option<ProgressFn>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self { concurrency: 8, records_per_request: 100, progress: None }
    }
}

impl std::fmt::Debug for WriteOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteOptions")
            .field("concurrency", &self.concurrency)
            .field("records_per_request", &self.records_per_request)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// A record that was not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRecord {
    /// The input row it came from.
    pub row: usize,
    /// Its measure name (with one record per measure, this says which one).
    pub measure_name: String,
    /// Why: the service's reason, or why the row gave no record.
    pub reason: String,
    /// The version already stored, when a different value exists for the same identity.
    pub existing_version: Option<i64>,
    /// Whether writing it again may succeed: the service did not refuse it, its request failed
    /// (throttling, server errors, timeouts or a lost connection, after every retry).
    pub retryable: bool,
}

/// What a write did. Every input row's records are either counted in `records_ingested` or
/// listed in `rejected`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Records written.
    pub records_ingested: usize,
    /// Of those, written to the memory store (as the service reported them; requests with a
    /// rejected record report no split).
    pub memory_store: usize,
    /// Of those, written to the magnetic store (same caveat).
    pub magnetic_store: usize,
    /// Records not written, by input row.
    pub rejected: Vec<RejectedRecord>,
    /// WriteRecords requests sent.
    pub requests: usize,
}

impl WriteReport {
    fn absorb(&mut self, other: WriteReport) {
        self.records_ingested += other.records_ingested;
        self.memory_store += other.memory_store;
        self.magnetic_store += other.magnetic_store;
        self.rejected.extend(other.rejected);
        self.requests += other.requests;
    }
}

fn value_type(t: ValueType) -> sdk::MeasureValueType {
    match t {
        ValueType::Double => sdk::MeasureValueType::Double,
        ValueType::Bigint => sdk::MeasureValueType::Bigint,
        ValueType::Varchar => sdk::MeasureValueType::Varchar,
        ValueType::Boolean => sdk::MeasureValueType::Boolean,
        ValueType::Timestamp => sdk::MeasureValueType::Timestamp,
    }
}

fn time_unit(t: TimeUnit) -> sdk::TimeUnit {
    match t {
        TimeUnit::Seconds => sdk::TimeUnit::Seconds,
        TimeUnit::Milliseconds => sdk::TimeUnit::Milliseconds,
        TimeUnit::Microseconds => sdk::TimeUnit::Microseconds,
        TimeUnit::Nanoseconds => sdk::TimeUnit::Nanoseconds,
    }
}

fn dimensions(dims: &[(String, String)]) -> Result<Vec<sdk::Dimension>> {
    dims.iter()
        .map(|(n, v)| {
            sdk::Dimension::builder()
                .name(n)
                .value(v)
                .dimension_value_type(sdk::DimensionValueType::Varchar)
                .build()
                .map_err(|e| Error::InvalidArgument(e.to_string()))
        })
        .collect()
}

/// A batch as the SDK's CommonAttributes and records.
fn request_parts(b: &WriteBatch) -> Result<(sdk::Record, Vec<sdk::Record>)> {
    let common = sdk::Record::builder()
        .set_dimensions((!b.common_dimensions.is_empty()).then(|| dimensions(&b.common_dimensions)).transpose()?)
        .set_measure_name(b.common_measure_name.clone())
        .set_measure_value_type(b.common_value_type.map(value_type))
        .time_unit(time_unit(b.time_unit))
        .build();
    let records = b
        .records
        .iter()
        .map(|r| {
            let mut rec = sdk::Record::builder()
                .set_dimensions((!r.dimensions.is_empty()).then(|| dimensions(&r.dimensions)).transpose()?)
                .set_measure_name((!r.measure_name.is_empty()).then(|| r.measure_name.clone()))
                .time(r.time.to_string())
                .set_version(r.version);
            rec = match &r.measure {
                Measure::Single { value, value_type: t } => {
                    let rec = rec.measure_value(value);
                    if b.common_value_type.is_some() { rec } else { rec.measure_value_type(value_type(*t)) }
                }
                Measure::Multi(values) => {
                    let values = values
                        .iter()
                        .map(|v| {
                            sdk::MeasureValue::builder()
                                .name(&v.name)
                                .value(&v.value)
                                .r#type(value_type(v.value_type))
                                .build()
                                .map_err(|e| Error::InvalidArgument(e.to_string()))
                        })
                        .collect::<Result<Vec<_>>>()?;
                    rec.set_measure_values(Some(values)).measure_value_type(sdk::MeasureValueType::Multi)
                }
            };
            Ok(rec.build())
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((common, records))
}

/// Whether an error would fail every request of a write alike (no such table, no access).
fn is_fatal(e: &Error) -> bool {
    matches!(e, Error::Service { code, .. } if code == "ResourceNotFoundException" || code == "AccessDeniedException")
}

/// Sends one batch; rejected records, and a request that failed after its retries, are a report,
/// not an error. Errors that no other request would escape (no such table, no access) end the
/// write.
async fn send(
    client: aws_sdk_timestreamwrite::Client,
    target: Target,
    db: Arc<str>,
    table: Arc<str>,
    b: WriteBatch,
) -> Result<WriteReport> {
    let (common, records) = request_parts(&b)?;
    let n = records.len();
    let measure_of = |i: usize| {
        let name = &b.records[i].measure_name;
        if name.is_empty() { b.common_measure_name.clone().unwrap_or_default() } else { name.clone() }
    };
    let sent = client
        .write_records()
        .database_name(&*db)
        .table_name(&*table)
        .common_attributes(common)
        .set_records(Some(records))
        .send()
        .await;
    let mut report = WriteReport { requests: 1, ..WriteReport::default() };
    // Every record of the request, rejected for one reason.
    let reject_all = |report: &mut WriteReport, reason: &str, retryable: bool| {
        report.rejected.extend(b.rows.iter().enumerate().map(|(i, &row)| RejectedRecord {
            row,
            measure_name: measure_of(i),
            reason: reason.to_string(),
            existing_version: None,
            retryable,
        }));
    };
    match sent {
        Ok(out) => {
            let ingested = out.records_ingested();
            report.records_ingested = ingested.map_or(n, |r| r.total() as usize);
            report.memory_store = ingested.map_or(0, |r| r.memory_store() as usize);
            report.magnetic_store = ingested.map_or(0, |r| r.magnetic_store() as usize);
        }
        Err(e) => {
            let service = e.as_service_error();
            if let Some(WriteRecordsError::RejectedRecordsException(r)) = service {
                for rr in r.rejected_records() {
                    let i = usize::try_from(rr.record_index()).unwrap_or(usize::MAX);
                    if let Some(&row) = b.rows.get(i) {
                        report.rejected.push(RejectedRecord {
                            row,
                            measure_name: measure_of(i),
                            reason: rr.reason().unwrap_or_default().to_string(),
                            existing_version: rr.existing_version(),
                            retryable: false,
                        });
                    }
                }
                report.records_ingested = n.saturating_sub(report.rejected.len());
            } else if let Some(WriteRecordsError::ValidationException(v)) = service {
                // The request as a whole was refused: each of its records is reported.
                reject_all(&mut report, &format!("ValidationException: {}", v.message()), false);
            } else {
                match sdk_error("WriteRecords", e, &target) {
                    // Every other request would fail the same way: stop.
                    err @ Error::Service { .. } if is_fatal(&err) => return Err(err),
                    // Throttling, server errors or timeouts after every retry, a lost connection:
                    // this request's records are reported, the others go on.
                    err => reject_all(&mut report, &format!("not written: {}", err.detail()), true),
                }
            }
        }
    }
    Ok(report)
}

impl Timestream {
    /// Writes readings (an Arrow batch in the canonical readings schema, with `time`) with
    /// `mapping`: rows that give no record and records the service rejects are in the report's
    /// `rejected`, by input row.
    pub async fn write(
        &self,
        database: &str,
        table: &str,
        readings: &RecordBatch,
        mapping: &Mapping,
        options: &WriteOptions,
    ) -> Result<WriteReport> {
        let mapped = mapping.map(readings)?;
        let mut report = WriteReport {
            rejected: mapped
                .rejected
                .into_iter()
                .map(|(row, reason)| RejectedRecord {
                    row,
                    measure_name: String::new(),
                    reason,
                    existing_version: None,
                    retryable: false,
                })
                .collect(),
            ..WriteReport::default()
        };
        let requests = batches(mapped.records, mapped.rows, mapping.time_unit, options.records_per_request);
        report.absorb(self.write_batches(database, table, requests, options).await?);
        report.rejected.sort_by_key(|r| r.row);
        Ok(report)
    }

    /// Sends prepared requests, `options.concurrency` at a time.
    pub async fn write_batches(
        &self,
        database: &str,
        table: &str,
        requests: Vec<WriteBatch>,
        options: &WriteOptions,
    ) -> Result<WriteReport> {
        let (db, tbl): (Arc<str>, Arc<str>) = (database.into(), table.into());
        let records_total = requests.iter().map(|b| b.records.len()).sum();
        let requests_total = requests.len();
        let mut report = WriteReport::default();
        let mut in_flight = JoinSet::new();
        let mut pending = requests.into_iter();
        let concurrency = options.concurrency.max(1);
        loop {
            while in_flight.len() < concurrency {
                let Some(b) = pending.next() else { break };
                in_flight.spawn(send(self.write.clone(), self.target.clone(), db.clone(), tbl.clone(), b));
            }
            let Some(joined) = in_flight.join_next().await else { break };
            let part =
                joined.map_err(|e| Error::Connection { operation: "WriteRecords", message: e.to_string() })??;
            report.absorb(part);
            let records_done = report.records_ingested + report.rejected.len();
            if let Some(progress) = &options.progress {
                progress(Progress { records_done, records_total, requests_done: report.requests, requests_total });
            }
        }
        Ok(report)
    }
}
