//! The Timestream type model and its mapping to Apache Arrow, in one place for both directions:
//! the engine renders Arrow results as ColumnInfo and Datum, the client turns them back into
//! Arrow, and a round trip is the identity.
//!
//! | Timestream | Arrow |
//! |---|---|
//! | VARCHAR | utf8 |
//! | BOOLEAN | bool |
//! | BIGINT | int64 |
//! | INTEGER | int32 |
//! | DOUBLE | float64 |
//! | TIMESTAMP | timestamp[ns, UTC] |
//! | DATE | date32 |
//! | TIME | time64[ns] |
//! | INTERVAL_DAY_TO_SECOND | duration[ns] |
//! | INTERVAL_YEAR_TO_MONTH | interval[year_month] |
//! | UNKNOWN (a bare NULL) | null |
//! | ARRAY(t) | list(t) |
//! | ROW(a t, …) | struct(a t, …) |
//! | TIMESERIES(t) | list(struct(time timestamp[ns, UTC], value t)), the list field marked with metadata `timestream.type = timeseries` |

mod datum;
mod render;

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, IntervalUnit, TimeUnit};
use serde_json::{Value, json};

pub use crate::error::TypeError;
pub use datum::{
    BatchBuilder, ColumnBuilder, Datum, parse_boolean, parse_date, parse_double, parse_interval_day_to_second_ns,
    parse_interval_year_to_month, parse_time_ns, parse_timestamp_ns, rows_to_batch,
};
pub use render::{cell_text, format_double, format_timestamp_ns, render_datum, write_datum_json};

/// Field metadata key that marks a list of (time, value) structs as a TIMESERIES.
pub const TYPE_METADATA_KEY: &str = "timestream.type";

/// A Timestream scalar type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarType {
    /// VARCHAR.
    Varchar,
    /// BOOLEAN.
    Boolean,
    /// BIGINT.
    Bigint,
    /// INTEGER.
    Integer,
    /// DOUBLE.
    Double,
    /// TIMESTAMP (nanoseconds, UTC).
    Timestamp,
    /// DATE.
    Date,
    /// TIME.
    Time,
    /// INTERVAL_DAY_TO_SECOND.
    IntervalDayToSecond,
    /// INTERVAL_YEAR_TO_MONTH.
    IntervalYearToMonth,
    /// UNKNOWN: the type of a bare NULL.
    Unknown,
}

impl ScalarType {
    /// The API's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Varchar => "VARCHAR",
            Self::Boolean => "BOOLEAN",
            Self::Bigint => "BIGINT",
            Self::Integer => "INTEGER",
            Self::Double => "DOUBLE",
            Self::Timestamp => "TIMESTAMP",
            Self::Date => "DATE",
            Self::Time => "TIME",
            Self::IntervalDayToSecond => "INTERVAL_DAY_TO_SECOND",
            Self::IntervalYearToMonth => "INTERVAL_YEAR_TO_MONTH",
            Self::Unknown => "UNKNOWN",
        }
    }

    /// The type for an API name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "VARCHAR" => Self::Varchar,
            "BOOLEAN" => Self::Boolean,
            "BIGINT" => Self::Bigint,
            "INTEGER" => Self::Integer,
            "DOUBLE" => Self::Double,
            "TIMESTAMP" => Self::Timestamp,
            "DATE" => Self::Date,
            "TIME" => Self::Time,
            "INTERVAL_DAY_TO_SECOND" => Self::IntervalDayToSecond,
            "INTERVAL_YEAR_TO_MONTH" => Self::IntervalYearToMonth,
            "UNKNOWN" => Self::Unknown,
            _ => return None,
        })
    }
}

/// A Timestream column type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TsType {
    /// A scalar.
    Scalar(ScalarType),
    /// ARRAY of an element type.
    Array(Box<TsType>),
    /// ROW of named fields.
    Row(Vec<(String, TsType)>),
    /// TIMESERIES of a value type.
    TimeSeries(Box<TsType>),
}

/// The timestamp type every TIMESTAMP maps to.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

impl TsType {
    /// The Arrow type for this Timestream type.
    pub fn to_arrow(&self) -> DataType {
        match self {
            Self::Scalar(s) => match s {
                ScalarType::Varchar => DataType::Utf8,
                ScalarType::Boolean => DataType::Boolean,
                ScalarType::Bigint => DataType::Int64,
                ScalarType::Integer => DataType::Int32,
                ScalarType::Double => DataType::Float64,
                ScalarType::Timestamp => timestamp_type(),
                ScalarType::Date => DataType::Date32,
                ScalarType::Time => DataType::Time64(TimeUnit::Nanosecond),
                ScalarType::IntervalDayToSecond => DataType::Duration(TimeUnit::Nanosecond),
                ScalarType::IntervalYearToMonth => DataType::Interval(IntervalUnit::YearMonth),
                ScalarType::Unknown => DataType::Null,
            },
            Self::Array(t) => DataType::List(Arc::new(Field::new("item", t.to_arrow(), true))),
            Self::Row(fields) => {
                DataType::Struct(fields.iter().map(|(n, t)| Field::new(n, t.to_arrow(), true)).collect())
            }
            Self::TimeSeries(t) => {
                let point = DataType::Struct(
                    vec![Field::new("time", timestamp_type(), false), Field::new("value", t.to_arrow(), true)].into(),
                );
                DataType::List(Arc::new(Field::new("item", point, true)))
            }
        }
    }

    /// The Arrow field for a column of this type (TIMESERIES carries its marker).
    pub fn to_field(&self, name: &str) -> Field {
        let f = Field::new(name, self.to_arrow(), true);
        if matches!(self, Self::TimeSeries(_)) {
            f.with_metadata(HashMap::from([(TYPE_METADATA_KEY.to_string(), "timeseries".to_string())]))
        } else {
            f
        }
    }

    /// The Timestream type of an Arrow field, if it has one. A list of structs of exactly
    /// (`time` timestamp, `value`) is a TIMESERIES (also when the field carries the marker).
    pub fn from_field(field: &Field) -> Option<Self> {
        if let DataType::List(item) = field.data_type()
            && let DataType::Struct(fields) = item.data_type()
            && fields.len() == 2
            && (field.metadata().get(TYPE_METADATA_KEY).map(String::as_str) == Some("timeseries")
                || (fields[0].name() == "time"
                    && matches!(fields[0].data_type(), DataType::Timestamp(..))
                    && fields[1].name() == "value"))
        {
            return Some(Self::TimeSeries(Box::new(Self::from_field(&fields[1])?)));
        }
        Self::from_arrow(field.data_type())
    }

    /// The Timestream type of an Arrow type (integers widen to BIGINT or INTEGER, floats to
    /// DOUBLE, strings and timestamps of any kind map to VARCHAR and TIMESTAMP).
    pub fn from_arrow(t: &DataType) -> Option<Self> {
        use DataType as D;
        Some(match t {
            D::Utf8 | D::LargeUtf8 | D::Utf8View => Self::Scalar(ScalarType::Varchar),
            D::Boolean => Self::Scalar(ScalarType::Boolean),
            D::Int64 | D::UInt32 | D::UInt64 => Self::Scalar(ScalarType::Bigint),
            D::Int8 | D::Int16 | D::Int32 | D::UInt8 | D::UInt16 => Self::Scalar(ScalarType::Integer),
            D::Float16 | D::Float32 | D::Float64 | D::Decimal128(..) | D::Decimal256(..) => {
                Self::Scalar(ScalarType::Double)
            }
            D::Timestamp(..) => Self::Scalar(ScalarType::Timestamp),
            D::Date32 | D::Date64 => Self::Scalar(ScalarType::Date),
            D::Time32(_) | D::Time64(_) => Self::Scalar(ScalarType::Time),
            D::Duration(_) | D::Interval(IntervalUnit::DayTime) | D::Interval(IntervalUnit::MonthDayNano) => {
                Self::Scalar(ScalarType::IntervalDayToSecond)
            }
            D::Interval(IntervalUnit::YearMonth) => Self::Scalar(ScalarType::IntervalYearToMonth),
            D::Null => Self::Scalar(ScalarType::Unknown),
            D::List(f) | D::LargeList(f) | D::FixedSizeList(f, _) | D::ListView(f) | D::LargeListView(f) => {
                Self::Array(Box::new(Self::from_field(f)?))
            }
            D::Struct(fields) => {
                Self::Row(fields.iter().map(|f| Some((f.name().clone(), Self::from_field(f)?))).collect::<Option<_>>()?)
            }
            D::Dictionary(_, v) => Self::from_arrow(v)?,
            _ => return None,
        })
    }

    /// The API's `Type` structure.
    pub fn type_json(&self) -> Value {
        match self {
            Self::Scalar(s) => json!({ "ScalarType": s.name() }),
            Self::Array(t) => json!({ "ArrayColumnInfo": { "Type": t.type_json() } }),
            Self::Row(fields) => {
                json!({ "RowColumnInfo": fields.iter().map(|(n, t)| column_info_json(n, t)).collect::<Vec<_>>() })
            }
            Self::TimeSeries(t) => json!({ "TimeSeriesMeasureValueColumnInfo": { "Type": t.type_json() } }),
        }
    }

    /// Parses the API's `Type` structure.
    pub fn from_type_json(v: &Value) -> Option<Self> {
        if let Some(s) = v.get("ScalarType").and_then(Value::as_str) {
            return ScalarType::from_name(s).map(Self::Scalar);
        }
        if let Some(a) = v.get("ArrayColumnInfo") {
            return Some(Self::Array(Box::new(Self::from_type_json(a.get("Type")?)?)));
        }
        if let Some(t) = v.get("TimeSeriesMeasureValueColumnInfo") {
            return Some(Self::TimeSeries(Box::new(Self::from_type_json(t.get("Type")?)?)));
        }
        let fields = v.get("RowColumnInfo")?.as_array()?;
        Some(Self::Row(
            fields
                .iter()
                .map(|c| {
                    Some((
                        c.get("Name").and_then(Value::as_str).unwrap_or("").to_string(),
                        Self::from_type_json(c.get("Type")?)?,
                    ))
                })
                .collect::<Option<_>>()?,
        ))
    }
}

/// A `ColumnInfo` structure.
pub fn column_info_json(name: &str, t: &TsType) -> Value {
    json!({ "Name": name, "Type": t.type_json() })
}
