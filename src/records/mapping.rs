//! Readings (Arrow, canonical schema) → Timestream records.

use std::collections::HashMap;
use std::fmt::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimestampNanosecondType, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Schema};

use super::{Measure, MeasureValue, Record, TimeUnit, ValueType};
use crate::error::{Error, Result};

/// Columns of the canonical schema that are not measures: the sensor's identity, the
/// receiver's context and the decoder's verdict.
const NOT_MEASURES: [&str; 5] = ["mac", "data_format", "time", "gateway_mac", "error"];

/// The measure columns of a readings schema, in order: everything but `mac`, `data_format`,
/// `time`, `gateway_mac` and `error`.
pub fn measure_columns(schema: &Schema) -> Vec<String> {
    schema.fields().iter().map(|f| f.name().clone()).filter(|n| !NOT_MEASURES.contains(&n.as_str())).collect()
}

/// How readings become records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// One MULTI record per reading, named `measure_name`, with one attribute per measure.
    Multi {
        /// The records' measure name.
        measure_name: String,
    },
    /// One record per measure, named after the measure (the original walkthrough's layout).
    Single,
}

impl Default for Layout {
    fn default() -> Self {
        Self::Multi { measure_name: "ruuvi".into() }
    }
}

/// The mapping from readings to records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mapping {
    /// MULTI (default) or single-measure records.
    pub layout: Layout,
    /// The measures to write, as (column, measure name) pairs; `None` writes every measure
    /// column ([`measure_columns`]) under its own name. A reading's null values are left out
    /// (Timestream has no null measure values).
    pub measures: Option<Vec<(String, String)>>,
    /// Dimensions added to every record of a sensor, by MAC (as the `mac` column spells it),
    /// e.g. `site` and `location`.
    pub labels: HashMap<String, Vec<(String, String)>>,
    /// The name of the dimension that holds the sensor's MAC (default `mac`).
    pub mac_dimension: Option<String>,
    /// The unit records carry their time in (default milliseconds; times are rounded down).
    pub time_unit: TimeUnit,
    /// A version for every record (`None` leaves the service's default).
    pub version: Option<i64>,
}

/// Records mapped from readings: each with the index of its input row, and the rows that gave
/// no record, with the reason.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mapped {
    /// The records, in input order.
    pub records: Vec<Record>,
    /// The input row of each record.
    pub rows: Vec<usize>,
    /// Rows that gave no record: (row, reason).
    pub rejected: Vec<(usize, String)>,
}

/// One measure column, ready to render cells.
struct Column<'a> {
    name: String,
    array: &'a dyn Array,
    value_type: ValueType,
}

impl Column<'_> {
    /// Appends the text of row `i` to `out`; false (and nothing appended) for null.
    fn render(&self, i: usize, out: &mut String) -> bool {
        let a = self.array;
        if a.is_null(i) {
            return false;
        }
        let _ = match a.data_type() {
            DataType::Float64 => write_double(out, a.as_primitive::<Float64Type>().value(i)),
            DataType::Float32 => write_double(out, f64::from(a.as_primitive::<Float32Type>().value(i))),
            DataType::Int8 => write!(out, "{}", a.as_primitive::<Int8Type>().value(i)),
            DataType::Int16 => write!(out, "{}", a.as_primitive::<Int16Type>().value(i)),
            DataType::Int32 => write!(out, "{}", a.as_primitive::<Int32Type>().value(i)),
            DataType::Int64 => write!(out, "{}", a.as_primitive::<Int64Type>().value(i)),
            DataType::UInt8 => write!(out, "{}", a.as_primitive::<UInt8Type>().value(i)),
            DataType::UInt16 => write!(out, "{}", a.as_primitive::<UInt16Type>().value(i)),
            DataType::UInt32 => write!(out, "{}", a.as_primitive::<UInt32Type>().value(i)),
            DataType::UInt64 => write!(out, "{}", a.as_primitive::<UInt64Type>().value(i)),
            DataType::Boolean => write!(out, "{}", a.as_boolean().value(i)),
            DataType::Utf8 => write!(out, "{}", a.as_string::<i32>().value(i)),
            DataType::LargeUtf8 => write!(out, "{}", a.as_string::<i64>().value(i)),
            _ => return false,
        };
        true
    }
}

/// Doubles as the shortest text that reads back to the same value; NaN and infinities, which
/// Timestream refuses, are treated as missing by the caller.
fn write_double(out: &mut String, x: f64) -> std::fmt::Result {
    write!(out, "{x}")
}

fn value_type(t: &DataType) -> Option<ValueType> {
    Some(match t {
        DataType::Float32 | DataType::Float64 => ValueType::Double,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => ValueType::Bigint,
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => ValueType::Bigint,
        DataType::Boolean => ValueType::Boolean,
        DataType::Utf8 | DataType::LargeUtf8 => ValueType::Varchar,
        _ => return None,
    })
}

fn bad(message: String) -> Error {
    Error::InvalidArgument(message)
}

impl Mapping {
    /// The mapping with the walkthrough's layout: one record per measure.
    pub fn single() -> Self {
        Self { layout: Layout::Single, ..Self::default() }
    }

    /// Maps a batch of readings (the canonical schema with its `time` column; other columns
    /// may be left out). Rows without a MAC, a time or any measure value, and rows that carry
    /// a decoding `error`, are reported in [`Mapped::rejected`].
    pub fn map(&self, batch: &RecordBatch) -> Result<Mapped> {
        let schema = batch.schema();
        let column = |name: &str| batch.column_by_name(name);
        let mac = column("mac").ok_or_else(|| bad("the readings have no `mac` column".into()))?;
        let mac = mac.as_string_opt::<i32>().ok_or_else(|| bad("`mac` must be a string column".into()))?;
        let time = column("time").ok_or_else(|| {
            bad("the readings have no `time` column (decode with context, or simulate, to get one)".into())
        })?;
        let time = arrow_cast::cast(time, &DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, None))
            .map_err(|e| bad(format!("`time` must be a timestamp column: {e}")))?;
        let time = time.as_primitive::<TimestampNanosecondType>();
        let error: Option<&StringArray> = column("error").and_then(|e| e.as_string_opt::<i32>());

        let wanted: Vec<(String, String)> = match &self.measures {
            Some(m) => m.clone(),
            None => measure_columns(&schema).into_iter().map(|c| (c.clone(), c)).collect(),
        };
        let mut columns = Vec::with_capacity(wanted.len());
        for (col, name) in wanted {
            let array = column(&col).ok_or_else(|| bad(format!("the readings have no column `{col}`")))?;
            let value_type = value_type(array.data_type())
                .ok_or_else(|| bad(format!("column `{col}` has type {}, which no measure has", array.data_type())))?;
            columns.push(Column { name, array: array.as_ref(), value_type });
        }
        if columns.is_empty() {
            return Err(bad("no measures to write".into()));
        }
        let mac_dimension = self.mac_dimension.as_deref().unwrap_or("mac");

        let mut out = Mapped::default();
        let mut text = String::new();
        for row in 0..batch.num_rows() {
            if let Some(e) = error.filter(|e| e.is_valid(row)) {
                out.rejected.push((row, format!("the reading could not be decoded: {}", e.value(row))));
                continue;
            }
            if mac.is_null(row) {
                out.rejected.push((row, format!("the reading has no MAC for the `{mac_dimension}` dimension")));
                continue;
            }
            if time.is_null(row) {
                out.rejected.push((row, "the reading has no time".into()));
                continue;
            }
            let mac_value = mac.value(row);
            let mut dimensions = vec![(mac_dimension.to_string(), mac_value.to_string())];
            if let Some(labels) = self.labels.get(mac_value) {
                dimensions.extend(labels.iter().cloned());
            }
            dimensions.sort();
            let t = self.time_unit.from_ns(time.value(row));
            let mut values = Vec::with_capacity(columns.len());
            for c in &columns {
                text.clear();
                if !c.render(row, &mut text) || matches!(text.as_str(), "NaN" | "inf" | "-inf") {
                    continue;
                }
                values.push(MeasureValue { name: c.name.clone(), value: text.clone(), value_type: c.value_type });
            }
            if values.is_empty() {
                out.rejected.push((row, "the reading has no measure values".into()));
                continue;
            }
            match &self.layout {
                Layout::Multi { measure_name } => {
                    out.records.push(Record {
                        dimensions,
                        measure_name: measure_name.clone(),
                        measure: Measure::Multi(values),
                        time: t,
                        version: self.version,
                    });
                    out.rows.push(row);
                }
                Layout::Single => {
                    for v in values {
                        out.records.push(Record {
                            dimensions: dimensions.clone(),
                            measure_name: v.name,
                            measure: Measure::Single { value: v.value, value_type: v.value_type },
                            time: t,
                            version: self.version,
                        });
                        out.rows.push(row);
                    }
                }
            }
        }
        Ok(out)
    }
}
