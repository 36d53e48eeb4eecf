//! Timestream records from readings.
//!
//! [`Mapping`] turns readings (an Arrow batch in the canonical schema of
//! [`reading_schema`](crate::ruuvi::reading_schema), with its `time` column) into Timestream
//! records: one MULTI record per reading ([`Layout::Multi`], the default) or one record per
//! measure ([`Layout::Single`], as the original walkthrough writes them). [`batches`] groups the
//! records into WriteRecords requests of at most 100, moving what the records of a request share
//! into its CommonAttributes (a sensor's own requests first, then the rest of every sensor
//! together). Every record remembers the input row it came from, and a row that
//! cannot become a record is reported with its reason, never dropped.
//!
//! ```
//! use ruuvistream::records::{Mapping, batches};
//! use ruuvistream::ruuvi::observations_to_batch;
//! use ruuvistream::ruuvi::simulator::{Simulator, SimulatorConfig};
//!
//! let sim = Simulator::new(SimulatorConfig { sensors: 2, duration: std::time::Duration::from_secs(600), ..Default::default() })?;
//! let readings = observations_to_batch(&sim.observations(None).collect::<Vec<_>>())?;
//! let mapped = Mapping::default().map(&readings)?;
//! assert!(mapped.rejected.is_empty());
//! let requests = batches(mapped.records, mapped.rows, Mapping::default().time_unit, 100);
//! // A full request holds one sensor's records, its dimensions written once as common
//! // attributes; what is left of each sensor shares a request, each record naming its sensor.
//! assert!(requests.iter().all(|b| b.records.len() <= 100));
//! let named = |b: &ruuvistream::records::WriteBatch| {
//!     b.records.iter().all(|r| b.common_dimensions.iter().chain(&r.dimensions).any(|(name, _)| name == "mac"))
//! };
//! assert!(requests.iter().all(named));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod batching;
mod mapping;

pub use batching::{MAX_RECORDS_PER_REQUEST, WriteBatch, batches};
pub use mapping::{Layout, Mapped, Mapping, measure_columns};

use serde_json::{Value, json};

/// The type of a measure value, as WriteRecords names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum ValueType {
    /// A 64-bit float.
    Double,
    /// A 64-bit integer.
    Bigint,
    /// Text.
    Varchar,
    /// true or false.
    Boolean,
    /// A time, in the record's time unit (only inside MULTI records).
    Timestamp,
}

impl ValueType {
    /// The API's name of the type (`DOUBLE`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Double => "DOUBLE",
            Self::Bigint => "BIGINT",
            Self::Varchar => "VARCHAR",
            Self::Boolean => "BOOLEAN",
            Self::Timestamp => "TIMESTAMP",
        }
    }
}

/// The unit of a record's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize, serde::Deserialize)]
pub enum TimeUnit {
    /// Seconds since the epoch.
    Seconds,
    /// Milliseconds since the epoch (the service's default).
    #[default]
    Milliseconds,
    /// Microseconds since the epoch.
    Microseconds,
    /// Nanoseconds since the epoch.
    Nanoseconds,
}

impl TimeUnit {
    /// The API's name of the unit (`MILLISECONDS`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Seconds => "SECONDS",
            Self::Milliseconds => "MILLISECONDS",
            Self::Microseconds => "MICROSECONDS",
            Self::Nanoseconds => "NANOSECONDS",
        }
    }

    /// Parses `s`, `ms`, `us` or `ns` (or the API's names, in any case).
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_lowercase().as_str() {
            "s" | "seconds" => Self::Seconds,
            "ms" | "milliseconds" => Self::Milliseconds,
            "us" | "microseconds" => Self::Microseconds,
            "ns" | "nanoseconds" => Self::Nanoseconds,
            _ => return None,
        })
    }

    /// Nanoseconds in one unit.
    pub fn ns(self) -> i64 {
        match self {
            Self::Seconds => 1_000_000_000,
            Self::Milliseconds => 1_000_000,
            Self::Microseconds => 1_000,
            Self::Nanoseconds => 1,
        }
    }

    /// A time in ns since the epoch in this unit (rounded down).
    pub fn from_ns(self, ns: i64) -> i64 {
        ns.div_euclid(self.ns())
    }
}

/// One named value of a MULTI record.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MeasureValue {
    /// The attribute's name.
    pub name: String,
    /// The value as text, as WriteRecords carries it.
    pub value: String,
    /// Its type.
    pub value_type: ValueType,
}

/// What a record measures.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Measure {
    /// One value (`MeasureValue` + `MeasureValueType`).
    Single {
        /// The value as text.
        value: String,
        /// Its type.
        value_type: ValueType,
    },
    /// Named values (`MeasureValueType: MULTI`).
    Multi(Vec<MeasureValue>),
}

/// One Timestream record. In a [`WriteBatch`], the parts held in common by the batch are left
/// out here: the dimensions in its CommonAttributes, and the measure name when it is there.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// Dimension names and values.
    pub dimensions: Vec<(String, String)>,
    /// The measure name.
    pub measure_name: String,
    /// The value(s).
    pub measure: Measure,
    /// The time, in the unit of the batch.
    pub time: i64,
    /// The record version (`None` lets the service use its default).
    pub version: Option<i64>,
}

impl Record {
    /// The record in the WriteRecords JSON shape (as boto3 takes it), leaving out what is empty.
    pub fn to_json(&self) -> Value {
        let mut o = serde_json::Map::new();
        if !self.dimensions.is_empty() {
            o.insert("Dimensions".into(), dimensions_json(&self.dimensions));
        }
        if !self.measure_name.is_empty() {
            o.insert("MeasureName".into(), json!(self.measure_name));
        }
        match &self.measure {
            Measure::Single { value, value_type } => {
                o.insert("MeasureValue".into(), json!(value));
                o.insert("MeasureValueType".into(), json!(value_type.name()));
            }
            Measure::Multi(values) => {
                o.insert(
                    "MeasureValues".into(),
                    values
                        .iter()
                        .map(|v| json!({"Name": v.name, "Value": v.value, "Type": v.value_type.name()}))
                        .collect(),
                );
                o.insert("MeasureValueType".into(), json!("MULTI"));
            }
        }
        o.insert("Time".into(), json!(self.time.to_string()));
        if let Some(v) = self.version {
            o.insert("Version".into(), json!(v));
        }
        Value::Object(o)
    }
}

fn dimensions_json(dimensions: &[(String, String)]) -> Value {
    dimensions.iter().map(|(n, v)| json!({"Name": n, "Value": v, "DimensionValueType": "VARCHAR"})).collect()
}
