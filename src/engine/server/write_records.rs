//! WriteRecords: the hot path of the write API. The body is deserialised straight into borrowed
//! structs (no JSON tree, no copies of the strings), checked with the service's constraints,
//! merged with CommonAttributes, and applied record by record.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::engine::Engine;
use crate::engine::catalog::{FUTURE_NS, reserved_column};
use crate::engine::error::{ApiError, ApiErrorKind, ApiResult, RejectedRecord};
use crate::engine::local::storage_error;
use crate::engine::store::{Apply, Measure, MeasureType, NewRecord, ScalarValue, Undo};

type Text<'a> = Cow<'a, str>;

/// The WriteRecords request as sent.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct WriteRecordsRequest<'a> {
    #[serde(borrow)]
    database_name: Option<Text<'a>>,
    #[serde(borrow)]
    table_name: Option<Text<'a>>,
    #[serde(borrow)]
    common_attributes: Option<RecordIn<'a>>,
    #[serde(borrow)]
    records: Option<Vec<RecordIn<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RecordIn<'a> {
    #[serde(borrow)]
    dimensions: Option<Vec<DimensionIn<'a>>>,
    #[serde(borrow)]
    measure_name: Option<Text<'a>>,
    #[serde(borrow)]
    measure_value: Option<Text<'a>>,
    #[serde(borrow)]
    measure_value_type: Option<Text<'a>>,
    #[serde(borrow)]
    time: Option<Text<'a>>,
    #[serde(borrow)]
    time_unit: Option<Text<'a>>,
    version: Option<i64>,
    #[serde(borrow)]
    measure_values: Option<Vec<MeasureValueIn<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DimensionIn<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    value: Option<Text<'a>>,
    #[serde(borrow)]
    dimension_value_type: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MeasureValueIn<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    value: Option<Text<'a>>,
    #[serde(borrow)]
    r#type: Option<Text<'a>>,
}

impl WriteRecordsRequest<'_> {
    /// The database it writes into, if it names one.
    pub(super) fn database(&self) -> Option<&str> {
        self.database_name.as_deref()
    }
}

/// Parses the body; a wrong JSON type anywhere is a SerializationException.
pub(super) fn parse(body: &[u8]) -> ApiResult<WriteRecordsRequest<'_>> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::serialization(format!("Cannot read the WriteRecords request: {e}")))
}

// Paths are built only when a check fails: valid records, the hot path, allocate none.

fn check_len(v: &str, path: impl FnOnce() -> String, min: usize, max: usize) -> ApiResult<()> {
    if v.len() < min {
        return Err(ApiError::constraint(
            v,
            &path(),
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if v.len() > max {
        return Err(ApiError::constraint(v, &path(), &format!("Member must have length less than or equal to {max}")));
    }
    Ok(())
}

fn check_enum<'v>(v: &'v str, path: impl FnOnce() -> String, allowed: &[&str]) -> ApiResult<&'v str> {
    if allowed.contains(&v) {
        Ok(v)
    } else {
        Err(ApiError::constraint(v, &path(), &format!("Member must satisfy enum value set: [{}]", allowed.join(", "))))
    }
}

/// Where a record sits in the request, as Coral paths name it.
#[derive(Clone, Copy)]
enum At {
    Common,
    Record(usize),
}

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Common => f.write_str("commonAttributes"),
            Self::Record(i) => write!(f, "records.{}.member", i + 1),
        }
    }
}

fn required<'b, 'a>(v: &'b Option<Text<'a>>, path: impl FnOnce() -> String) -> ApiResult<&'b str> {
    v.as_deref().ok_or_else(|| ApiError::missing(&path()))
}

/// A record's members, shape-checked.
struct RawRecord<'b> {
    dimensions: Option<Vec<(&'b str, &'b str)>>,
    measure_name: Option<&'b str>,
    measure_value: Option<&'b str>,
    value_type: Option<&'b str>,
    time: Option<&'b str>,
    time_unit: Option<&'b str>,
    version: Option<i64>,
    measure_values: Option<Vec<(&'b str, &'b str, &'b str)>>,
}

const VALUE_TYPES: &[&str] = &["DOUBLE", "BIGINT", "VARCHAR", "BOOLEAN", "TIMESTAMP", "MULTI"];
const TIME_UNITS: &[&str] = &["MILLISECONDS", "SECONDS", "MICROSECONDS", "NANOSECONDS"];

impl<'b> RawRecord<'b> {
    /// Checks one record; `at` says where it is, for error paths.
    fn check(r: &'b RecordIn<'_>, at: At) -> ApiResult<Self> {
        let dimensions = match &r.dimensions {
            None => None,
            Some(list) => {
                if list.len() > 128 {
                    return Err(ApiError::constraint(
                        &format!("{} dimensions", list.len()),
                        &format!("{at}.dimensions"),
                        "Member must have length less than or equal to 128",
                    ));
                }
                let mut dims = Vec::with_capacity(list.len());
                for (i, d) in list.iter().enumerate() {
                    let path = || format!("{at}.dimensions.{}.member", i + 1);
                    let name = required(&d.name, || format!("{}.name", path()))?;
                    check_len(name, || format!("{}.name", path()), 1, usize::MAX)?;
                    let value = required(&d.value, || format!("{}.value", path()))?;
                    if let Some(t) = &d.dimension_value_type {
                        check_enum(t, || format!("{}.dimensionValueType", path()), &["VARCHAR"])?;
                    }
                    dims.push((name, value));
                }
                Some(dims)
            }
        };
        let measure_name = r.measure_name.as_deref();
        if let Some(n) = measure_name {
            check_len(n, || format!("{at}.measureName"), 1, usize::MAX)?;
        }
        let measure_value = r.measure_value.as_deref();
        if let Some(v) = measure_value {
            check_len(v, || format!("{at}.measureValue"), 1, 2048)?;
        }
        let value_type = r
            .measure_value_type
            .as_deref()
            .map(|t| check_enum(t, || format!("{at}.measureValueType"), VALUE_TYPES))
            .transpose()?;
        let time = r.time.as_deref();
        if let Some(t) = time {
            check_len(t, || format!("{at}.time"), 1, 256)?;
        }
        let time_unit =
            r.time_unit.as_deref().map(|t| check_enum(t, || format!("{at}.timeUnit"), TIME_UNITS)).transpose()?;
        if let Some(v) = r.version
            && v < 1
        {
            return Err(ApiError::constraint(
                &v.to_string(),
                &format!("{at}.version"),
                "Member must have value greater than or equal to 1",
            ));
        }
        let measure_values = match &r.measure_values {
            None => None,
            Some(list) => {
                let mut out = Vec::with_capacity(list.len());
                for (i, m) in list.iter().enumerate() {
                    let path = || format!("{at}.measureValues.{}.member", i + 1);
                    let name = required(&m.name, || format!("{}.name", path()))?;
                    check_len(name, || format!("{}.name", path()), 1, usize::MAX)?;
                    let value = required(&m.value, || format!("{}.value", path()))?;
                    check_len(value, || format!("{}.value", path()), 1, 2048)?;
                    let ty = required(&m.r#type, || format!("{}.type", path()))?;
                    check_enum(ty, || format!("{}.type", path()), VALUE_TYPES)?;
                    out.push((name, value, ty));
                }
                Some(out)
            }
        };
        Ok(Self {
            dimensions,
            measure_name,
            measure_value,
            value_type,
            time,
            time_unit,
            version: r.version,
            measure_values,
        })
    }
}

/// ISO-8601 UTC with milliseconds, as rejection reasons print times.
fn iso_ms(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

impl Engine {
    pub(super) fn write_records(&self, req: &WriteRecordsRequest<'_>) -> ApiResult<Value> {
        let db = required(&req.database_name, || "databaseName".into())?;
        let table_name = required(&req.table_name, || "tableName".into())?;
        let records = req.records.as_ref().ok_or_else(|| ApiError::missing("records"))?;
        if records.is_empty() || records.len() > 100 {
            let constraint = if records.is_empty() {
                "Member must have length greater than or equal to 1"
            } else {
                "Member must have length less than or equal to 100"
            };
            return Err(ApiError::constraint(&format!("{} records", records.len()), "records", constraint));
        }
        let common = req.common_attributes.as_ref().map(|c| RawRecord::check(c, At::Common)).transpose()?;
        let parsed: Vec<RawRecord<'_>> =
            records.iter().enumerate().map(|(i, r)| RawRecord::check(r, At::Record(i))).collect::<ApiResult<_>>()?;
        let merged: Vec<Merged<'_>> =
            parsed.iter().map(|r| Merged::new(r, common.as_ref())).collect::<ApiResult<_>>()?;

        let now = self.clock.now_ns();
        let mut c = self.catalog();
        let table = c.table_mut(db, table_name)?;
        table.data.expire_before(table.oldest_kept(now));
        let memory_floor = table.memory_floor(now);
        let oldest = table.oldest_writable(now);
        let newest = now.saturating_add(FUTURE_NS);
        let window = if table.magnetic_writes { "data ingestion window" } else { "memory store" };

        let (mut memory, mut magnetic) = (0u64, 0u64);
        let mut rejected = Vec::new();
        let mut accepted = Vec::new();
        let logging = self.persistence.is_some();
        let mut undo = Undo::default();
        for (index, m) in merged.into_iter().enumerate() {
            let outcome = m.finish(table.required_dimension.as_deref()).and_then(|r| {
                if r.time_ns < oldest || r.time_ns >= newest {
                    return Err(format!(
                        "The record timestamp is outside the time range [{}, {}) of the {window}.",
                        iso_ms(oldest),
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
            let to_memory = record.time_ns >= memory_floor;
            let logged = logging.then(|| record.clone());
            match table.data.apply_undoable(record, &mut undo) {
                Apply::Written => {
                    if to_memory {
                        memory += 1;
                    } else {
                        magnetic += 1;
                    }
                    accepted.extend(logged);
                }
                Apply::Conflict { reason, existing_version } => {
                    rejected.push(RejectedRecord { index, reason, existing_version: Some(existing_version) })
                }
                Apply::Invalid(reason) => rejected.push(RejectedRecord { index, reason, existing_version: None }),
            }
        }
        // Logged in apply order while the catalog is locked, so that no other request sees the
        // records before they are in the log; a failed log write takes them back. Synced after
        // the lock is released, so that concurrent requests share one sync.
        let logged = match &self.persistence {
            Some(p) if !accepted.is_empty() => match p.log(table.id, accepted) {
                Ok(logged) => Some(logged),
                Err(e) => {
                    table.data.undo(undo);
                    return Err(storage_error(e));
                }
            },
            _ => None,
        };
        drop(c);
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
        Ok(
            json!({ "RecordsIngested": { "Total": memory + magnetic, "MemoryStore": memory, "MagneticStore": magnetic } }),
        )
    }
}

struct Merged<'a> {
    dimensions: Vec<(&'a str, &'a str)>,
    measure_name: &'a str,
    value: Value2<'a>,
    time_ns: i64,
    time_unit_ns: i64,
    version: Option<i64>,
}

enum Value2<'a> {
    Single(&'a str, &'a str),
    Multi(&'a [(&'a str, &'a str, &'a str)]),
}

fn unit_ns(unit: &str) -> i64 {
    match unit {
        "SECONDS" => 1_000_000_000,
        "MICROSECONDS" => 1_000,
        "NANOSECONDS" => 1,
        _ => 1_000_000,
    }
}

/// An epoch count in `unit_ns` nanoseconds, as ns; `None` if it is not a non-negative integer
/// or lies past 2262-04-11.
fn parse_epoch(text: &str, unit_ns: i64) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok()?.checked_mul(unit_ns)
}

impl<'a> Merged<'a> {
    fn new(r: &'a RawRecord<'a>, common: Option<&'a RawRecord<'a>>) -> ApiResult<Self> {
        let pick = |f: fn(&RawRecord<'a>) -> Option<&'a str>| f(r).or_else(|| common.and_then(f));
        let mut dimensions: Vec<(&str, &str)> = Vec::new();
        if let Some(c) = common.and_then(|c| c.dimensions.as_ref()) {
            dimensions.extend(c.iter().copied());
        }
        if let Some(own) = &r.dimensions {
            for (name, value) in own {
                if dimensions.iter().any(|(n, _)| n == name) {
                    return Err(ApiError::validation(format!(
                        "Dimensions may not overlap between the record and CommonAttributes, and a record must contain dimensions with unique names: {name} appears twice."
                    )));
                }
                dimensions.push((name, value));
            }
        }
        let measure_name = pick(|x| x.measure_name).ok_or_else(|| {
            ApiError::validation("MeasureName must be specified on the record or in CommonAttributes.")
        })?;
        let value_type = pick(|x| x.value_type).unwrap_or("DOUBLE");
        let measure_values = r.measure_values.as_deref().or_else(|| common.and_then(|c| c.measure_values.as_deref()));
        let value = match (value_type, measure_values, pick(|x| x.measure_value)) {
            ("MULTI", Some(values), None) if !values.is_empty() => Value2::Multi(values),
            ("MULTI", _, Some(_)) => {
                return Err(ApiError::validation("A MULTI record carries MeasureValues, not MeasureValue."));
            }
            ("MULTI", _, None) => return Err(ApiError::validation("A MULTI record must have MeasureValues.")),
            (_, Some(_), _) => {
                return Err(ApiError::validation("MeasureValues may only be given with MeasureValueType MULTI."));
            }
            ("TIMESTAMP", None, _) => {
                return Err(ApiError::validation(
                    "MeasureValueType TIMESTAMP is only supported for measures of MULTI records.",
                ));
            }
            (t, None, Some(v)) => Value2::Single(t, v),
            (t, None, None) => {
                return Err(ApiError::validation(format!("A {t} record must have a MeasureValue.")));
            }
        };
        let unit = unit_ns(pick(|x| x.time_unit).unwrap_or("MILLISECONDS"));
        let time = pick(|x| x.time).ok_or_else(|| ApiError::validation("Invalid time for record."))?;
        let time_ns = parse_epoch(time, unit).ok_or_else(|| ApiError::validation("Invalid time for record."))?;
        let version = r.version.or_else(|| common.and_then(|c| c.version));
        Ok(Self { dimensions, measure_name, value, time_ns, time_unit_ns: unit, version })
    }

    /// Per-record checks (a failure rejects this record only) and the record to store.
    fn finish(self, required_dimension: Option<&str>) -> Result<NewRecord, String> {
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
        let measure = match self.value {
            Value2::Single(ty, v) => {
                size += v.len();
                Measure::Single(parse_value(ty, v, self.time_unit_ns)?)
            }
            Value2::Multi(values) => {
                if values.len() > 256 {
                    return Err("A MULTI record can have at most 256 measures.".into());
                }
                let mut attrs = Vec::with_capacity(values.len());
                for (name, v, ty) in values {
                    if let Some(why) = reserved_column(name) {
                        return Err(format!("Measure name {name} {why}."));
                    }
                    if *ty == "MULTI" {
                        return Err(format!("Measure {name} cannot be of type MULTI."));
                    }
                    if self.dimensions.iter().any(|(d, _)| d == name) {
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
