//! WriteRecords as a typed operation: records (already merged with CommonAttributes) are
//! checked as the service checks them, applied to their table under the table's own lock with
//! the service's identity rules, and logged before the answer.

use crate::engine::Engine;
use crate::engine::catalog::{FUTURE_NS, reserved_column};
use crate::engine::error::{ApiError, ApiErrorKind, ApiResult, RejectedRecord};
use crate::engine::state::storage_error;
use crate::engine::store::{Apply, Measure, MeasureType, NewRecord, ScalarValue, StoreUndo};

/// What a record measures, as sent: a value with its type, or MULTI values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeasureInput<'a> {
    /// `MeasureValueType` (`DOUBLE`, `BIGINT`, `VARCHAR`, `BOOLEAN`) and `MeasureValue`.
    Single(&'a str, &'a str),
    /// `MeasureValues`: (name, value, type).
    Multi(&'a [(&'a str, &'a str, &'a str)]),
}

/// One record of a WriteRecords request, merged with the request's CommonAttributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordInput<'a> {
    /// Dimensions, (name, value), in the order given.
    pub dimensions: Vec<(&'a str, &'a str)>,
    /// The measure name.
    pub measure_name: &'a str,
    /// The value(s).
    pub value: MeasureInput<'a>,
    /// The record's time, ns since the epoch.
    pub time_ns: i64,
    /// The record's time unit in ns (TIMESTAMP values are counts of it).
    pub time_unit_ns: i64,
    /// The version given, if any.
    pub version: Option<i64>,
}

/// How many records went to each store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ingested {
    /// Records with times within the memory retention.
    pub memory: u64,
    /// Older records (tables with magnetic store writes on).
    pub magnetic: u64,
}

/// An epoch count in `unit_ns` nanoseconds, as ns; `None` if it is not a non-negative integer
/// or lies past 2262-04-11.
pub fn parse_epoch(text: &str, unit_ns: i64) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok()?.checked_mul(unit_ns)
}

/// ISO-8601 UTC with milliseconds, as rejection reasons print times.
fn iso_ms(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

impl Engine {
    /// WriteRecords into `database`.`table`: every record is checked and applied in order; the
    /// accepted ones are in the write-ahead log (synced) before this returns. Rejected records
    /// make it a [`ApiErrorKind::RejectedRecords`] error listing them by index (the others are
    /// written).
    pub fn write_records(&self, database: &str, table: &str, records: &[RecordInput<'_>]) -> ApiResult<Ingested> {
        let now = self.clock.now_ns();
        // The catalog's lock only long enough to find the table.
        let target = self.catalog().table(database, table)?.write_target(now);
        let newest = now.saturating_add(FUTURE_NS);
        let window = if target.magnetic_writes { "data ingestion window" } else { "memory store" };

        let mut ingested = Ingested::default();
        let mut rejected = Vec::new();
        let (mut accepted, mut accepted_magnetic) = (Vec::new(), Vec::new());
        let logging = self.persistence.is_some();
        let mut undo = StoreUndo::default();
        let mut data = target.data.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        data.memory.expire_before(target.oldest_kept);
        for (index, input) in records.iter().enumerate() {
            let outcome = input.finish(target.required_dimension.as_deref()).and_then(|r| {
                if r.time_ns < target.oldest_writable || r.time_ns >= newest {
                    return Err(format!(
                        "The record timestamp is outside the time range [{}, {}) of the {window}.",
                        iso_ms(target.oldest_writable),
                        iso_ms(newest)
                    ));
                }
                Ok(r)
            });
            let record = match outcome {
                Ok(r) => r,
                Err(reason) => {
                    rejected.push(RejectedRecord { index, reason, existing_version: None });
                    continue;
                }
            };
            let to_memory = record.time_ns >= target.memory_floor;
            let in_files = data.is_magnetic(record.time_ns);
            let applied = match data.apply_undoable(&record, &mut undo) {
                Ok(applied) => applied,
                Err(e) => {
                    data.undo(undo);
                    return Err(storage_error(e));
                }
            };
            match applied {
                Apply::Written => {
                    if to_memory {
                        ingested.memory += 1;
                    } else {
                        ingested.magnetic += 1;
                    }
                    if logging {
                        if in_files { &mut accepted_magnetic } else { &mut accepted }.push(record);
                    }
                }
                Apply::Conflict { reason, existing_version } => {
                    rejected.push(RejectedRecord { index, reason, existing_version: Some(existing_version) })
                }
                Apply::Invalid(reason) => rejected.push(RejectedRecord { index, reason, existing_version: None }),
            }
        }
        // Logged in apply order while the table is locked, so that no other request sees the
        // records before they are in the log; a failed log write takes them back. Synced after
        // the lock is released, so that concurrent requests share one sync.
        let logged = match &self.persistence {
            Some(p) if !accepted.is_empty() || !accepted_magnetic.is_empty() => {
                match p.log(target.id, accepted, accepted_magnetic) {
                    Ok(logged) => Some(logged),
                    Err(e) => {
                        data.undo(undo);
                        return Err(storage_error(e));
                    }
                }
            }
            _ => None,
        };
        drop(data);
        if let (Some(p), Some(logged)) = (&self.persistence, logged) {
            p.sync_to(&logged).map_err(storage_error)?;
        }
        if !rejected.is_empty() {
            return Err(ApiError {
                kind: ApiErrorKind::RejectedRecords,
                message: "One or more records have been rejected. See RejectedRecords for details.".into(),
                rejected,
            });
        }
        Ok(ingested)
    }
}

impl RecordInput<'_> {
    /// Per-record checks (a failure rejects this record only) and the record to store.
    fn finish(&self, required_dimension: Option<&str>) -> Result<NewRecord, String> {
        let mut size = self.measure_name.len() + 16;
        for (name, value) in &self.dimensions {
            if let Some(why) = reserved_column(name) {
                return Err(format!("Dimension name {name} {why}."));
            }
            if name.len() > 60 {
                return Err(format!("Dimension name {name} is longer than 60 bytes."));
            }
            size += name.len() + value.len();
        }
        if self.dimensions.len() > 128 {
            return Err("A record can have at most 128 dimensions.".into());
        }
        if let Some(required) = required_dimension
            && !self.dimensions.iter().any(|(n, _)| *n == required)
        {
            return Err(format!(
                "The record is missing the dimension {required}, which the table's partition key requires."
            ));
        }
        if let Some(why) = reserved_column(self.measure_name) {
            return Err(format!("Measure name {} {why}.", self.measure_name));
        }
        if self.measure_name.len() > 256 {
            return Err("Measure name is longer than 256 bytes.".into());
        }
        let measure = match &self.value {
            MeasureInput::Single(ty, v) => {
                size += v.len();
                Measure::Single(parse_value(ty, v, self.time_unit_ns)?)
            }
            MeasureInput::Multi(values) => {
                if values.len() > 256 {
                    return Err("A MULTI record can have at most 256 measures.".into());
                }
                let mut attrs = Vec::with_capacity(values.len());
                for &(name, v, ty) in values.iter() {
                    if let Some(why) = reserved_column(name) {
                        return Err(format!("Measure name {name} {why}."));
                    }
                    if ty == "MULTI" {
                        return Err(format!("Measure {name} cannot be of type MULTI."));
                    }
                    if self.dimensions.iter().any(|(d, _)| *d == name) {
                        return Err(format!("Measure {name} has the name of one of the record's dimensions."));
                    }
                    size += name.len() + v.len();
                    attrs.push((name.to_string(), parse_value(ty, v, self.time_unit_ns)?));
                }
                attrs.sort_by(|a, b| a.0.cmp(&b.0));
                if attrs.windows(2).any(|w| w[0].0 == w[1].0) {
                    return Err("The measure names of a MULTI record must be unique.".into());
                }
                Measure::Multi(attrs)
            }
        };
        if size > 2048 {
            return Err(format!("The record is {size} bytes; records are limited to 2048 bytes."));
        }
        let mut dimensions: Vec<(String, String)> =
            self.dimensions.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        dimensions.sort();
        Ok(NewRecord {
            dimensions,
            measure_name: self.measure_name.to_string(),
            time_ns: self.time_ns,
            version: self.version,
            measure,
        })
    }
}

/// A measure value in its declared type. TIMESTAMP values are epoch counts in the record's
/// time unit.
fn parse_value(ty: &str, v: &str, unit_ns: i64) -> Result<ScalarValue, String> {
    let bad = |t: MeasureType| format!("Measure value {v} is not a valid {}.", t.name());
    Ok(match ty {
        "BIGINT" => ScalarValue::Bigint(v.trim().parse().map_err(|_| bad(MeasureType::Bigint))?),
        "VARCHAR" => ScalarValue::Varchar(v.to_string()),
        "BOOLEAN" => match v.to_ascii_lowercase().as_str() {
            "true" => ScalarValue::Boolean(true),
            "false" => ScalarValue::Boolean(false),
            _ => return Err(bad(MeasureType::Boolean)),
        },
        "TIMESTAMP" => {
            ScalarValue::Timestamp(parse_epoch(v.trim(), unit_ns).ok_or_else(|| bad(MeasureType::Timestamp))?)
        }
        _ => {
            let x: f64 = v.trim().parse().map_err(|_| bad(MeasureType::Double))?;
            if !x.is_finite() {
                return Err(format!("Measure value {v} is not a finite DOUBLE: NaN and Infinity cannot be written."));
            }
            ScalarValue::Double(x)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::catalog::{
        CreateDatabase, CreateTable, Enforcement, PartitionKey, PartitionKeyType, TableSchema,
    };
    use crate::engine::{Clock, EngineConfig};

    const NOW: i64 = 1_796_040_000_000_000_000;

    fn record<'a>(sensor: &'a str, value: &'a str, time_ns: i64, version: Option<i64>) -> RecordInput<'a> {
        RecordInput {
            dimensions: vec![("sensor", sensor)],
            measure_name: "temperature",
            value: MeasureInput::Single("DOUBLE", value),
            time_ns,
            time_unit_ns: 1_000_000,
            version,
        }
    }

    #[test]
    fn records_follow_the_identity_rules_and_rejections_name_their_index() {
        let engine = Engine::open(EngineConfig { clock: Clock::manual(NOW), ..Default::default() }).unwrap();
        engine.create_database(CreateDatabase { name: "ruuvi".into(), ..Default::default() }).unwrap();
        let schema = TableSchema {
            composite_partition_key: vec![PartitionKey {
                kind: PartitionKeyType::Dimension,
                name: Some("sensor".into()),
                enforcement_in_record: Some(Enforcement::Required),
            }],
        };
        let table = CreateTable {
            database: "ruuvi".into(),
            name: "sensors".into(),
            schema: Some(schema),
            ..Default::default()
        };
        engine.create_table(table).unwrap();
        let t = NOW - 1_000_000_000;
        let first = engine.write_records("ruuvi", "sensors", &[record("a", "20.5", t, None)]).unwrap();
        assert_eq!(first, Ingested { memory: 1, magnetic: 0 });

        let mut no_dimension = record("a", "1", t, None);
        no_dimension.dimensions.clear();
        let batch = [
            record("a", "20.5", t, None),                        // an identical repeat: accepted
            record("a", "21.0", t, None),                        // another value, same version: conflict
            record("a", "21.0", t, Some(2)),                     // a higher version: an upsert
            record("a", "22.0", t, Some(1)),                     // a lower version: conflict
            record("b", "1", NOW - 7 * 3_600_000_000_000, None), // older than the memory store
            no_dimension,                                        // lacks the required dimension
            record("b", "x", t, None),                           // not a DOUBLE
        ];
        let err = engine.write_records("ruuvi", "sensors", &batch).unwrap_err();
        assert_eq!(err.kind, ApiErrorKind::RejectedRecords);
        let rejected: Vec<(usize, Option<i64>)> = err.rejected.iter().map(|r| (r.index, r.existing_version)).collect();
        assert_eq!(rejected, [(1, Some(1)), (3, Some(2)), (4, None), (5, None), (6, None)]);
        assert!(err.rejected[2].reason.contains("outside the time range"), "{}", err.rejected[2].reason);
        assert!(err.rejected[3].reason.contains("sensor"), "{}", err.rejected[3].reason);
        assert_eq!(engine.row_count("ruuvi", "sensors").unwrap(), 1);
        let missing = engine.write_records("ruuvi", "nope", &[record("a", "1", t, None)]).unwrap_err();
        assert_eq!(missing.kind, ApiErrorKind::ResourceNotFound);
    }
}
