//! Rendering Arrow values as Timestream `Datum`s, with the service's scalar text forms.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, IntervalUnit, TimeUnit};
use serde_json::{Value, json};

use super::{ScalarType, TsType};

/// `YYYY-MM-DD HH:MM:SS.nnnnnnnnn`, UTC.
pub fn format_timestamp_ns(ns: i64) -> String {
    let mut out = String::with_capacity(29);
    write_timestamp_ns(&mut out, ns);
    out
}

/// Appends `value` zero-padded to `width` digits.
fn push_digits(out: &mut String, value: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut v = value;
    let mut k = buf.len();
    while v > 0 || buf.len() - k < width {
        k -= 1;
        buf[k] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend(buf[k..].iter().map(|&b| b as char));
}

/// Appends [`format_timestamp_ns`] of `ns` (every i64 is a year between 1677 and 2262, so the
/// civil date needs no special cases).
fn write_timestamp_ns(out: &mut String, ns: i64) {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000) as u64;
    let (days, second_of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400) as u64);
    // Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    push_digits(out, year as u64, 4);
    out.push('-');
    push_digits(out, month as u64, 2);
    out.push('-');
    push_digits(out, day as u64, 2);
    out.push(' ');
    push_digits(out, second_of_day / 3600, 2);
    out.push(':');
    push_digits(out, second_of_day / 60 % 60, 2);
    out.push(':');
    push_digits(out, second_of_day % 60, 2);
    out.push('.');
    push_digits(out, frac, 9);
}

/// A double the way Java's `Double.toString` writes it (as the service does): shortest
/// round-trip digits, at least one decimal, scientific notation outside [1e-3, 1e7).
pub fn format_double(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    let a = x.abs();
    if (1e-3..1e7).contains(&a) {
        let s = format!("{x}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let s = format!("{x:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') { mantissa.to_string() } else { format!("{mantissa}.0") };
        format!("{mantissa}E{exp}")
    }
}

fn interval_day_to_second(ns: i128) -> String {
    let sign = if ns < 0 { "-" } else { "" };
    let ns = ns.unsigned_abs();
    let (days, rest) = (ns / 86_400_000_000_000, ns % 86_400_000_000_000);
    let (h, m, s, frac) =
        (rest / 3_600_000_000_000, rest / 60_000_000_000 % 60, rest / 1_000_000_000 % 60, rest % 1_000_000_000);
    format!("{sign}{days} {h:02}:{m:02}:{s:02}.{frac:09}")
}

fn scalar(v: String) -> Value {
    json!({ "ScalarValue": v })
}

fn null() -> Value {
    json!({ "NullValue": true })
}

/// The `Datum` of row `i` of `array`, whose Timestream type is `t`.
pub fn render_datum(array: &ArrayRef, i: usize, t: &TsType) -> Value {
    if array.is_null(i) {
        return null();
    }
    match (t, array.data_type()) {
        (TsType::TimeSeries(value_type), DataType::List(_)) => {
            let points = array.as_list::<i32>().value(i);
            let points = points.as_struct();
            let (times, values) = (points.column(0), points.column(1));
            let data: Vec<Value> = (0..points.len())
                .map(|j| json!({ "Time": render_text(times, j).unwrap_or_default(), "Value": render_datum(values, j, value_type) }))
                .collect();
            json!({ "TimeSeriesValue": data })
        }
        (TsType::Array(item), _) => {
            let values = match array.data_type() {
                DataType::LargeList(_) => array.as_list::<i64>().value(i),
                DataType::FixedSizeList(..) => array.as_fixed_size_list().value(i),
                _ => array.as_list::<i32>().value(i),
            };
            json!({ "ArrayValue": (0..values.len()).map(|j| render_datum(&values, j, item)).collect::<Vec<_>>() })
        }
        (TsType::Row(fields), DataType::Struct(_)) => {
            let s = array.as_struct();
            let data: Vec<Value> =
                fields.iter().enumerate().map(|(k, (_, ft))| render_datum(s.column(k), i, ft)).collect();
            json!({ "RowValue": { "Data": data } })
        }
        (TsType::Scalar(ScalarType::Unknown), _) => null(),
        _ => render_text(array, i).map_or_else(null, scalar),
    }
}

/// Appends the `Datum` of row `i` of `array` as JSON text: what serializing [`render_datum`]
/// gives, written directly for scalars (the bulk of every result).
pub fn write_datum_json(out: &mut String, array: &ArrayRef, i: usize, t: &TsType) {
    if array.is_null(i) || matches!(t, TsType::Scalar(ScalarType::Unknown)) {
        out.push_str("{\"NullValue\":true}");
        return;
    }
    if let TsType::Scalar(_) = t {
        let start = out.len();
        out.push_str("{\"ScalarValue\":\"");
        let text_at = out.len();
        let written = match array.data_type() {
            DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                write_timestamp_ns(out, array.as_primitive::<TimestampNanosecondType>().value(i));
                true
            }
            DataType::Float64 => {
                out.push_str(&format_double(array.as_primitive::<Float64Type>().value(i)));
                true
            }
            DataType::Int64 => {
                push_signed(out, array.as_primitive::<Int64Type>().value(i));
                true
            }
            _ => match render_text(array, i) {
                Some(text) => {
                    out.push_str(&text);
                    true
                }
                None => false,
            },
        };
        if written && !out[text_at..].bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
            out.push_str("\"}");
            return;
        }
        out.truncate(start);
    }
    // Text that needs escaping, and nested values: through serde_json.
    out.push_str(&render_datum(array, i, t).to_string());
}

/// The text of row `i` of `array` (Timestream type `t`) as a file export writes it: a scalar's
/// ScalarValue text, a nested value (ARRAY, ROW, TIMESERIES) as JSON; `None` for NULL.
pub fn cell_text(array: &ArrayRef, i: usize, t: &TsType) -> Option<String> {
    if array.is_null(i) || matches!(t, TsType::Scalar(ScalarType::Unknown)) {
        return None;
    }
    match t {
        TsType::Scalar(_) => render_text(array, i),
        _ => Some(plain_json(array, i, t).to_string()),
    }
}

/// Row `i` of `array` as plain JSON: numbers and booleans as themselves (a non-finite double
/// as its text), other scalars as their ScalarValue text, an ARRAY as a list, a ROW as an
/// object of its fields, a TIMESERIES as a list of `{"time", "value"}`.
fn plain_json(array: &ArrayRef, i: usize, t: &TsType) -> Value {
    if array.is_null(i) {
        return Value::Null;
    }
    match (t, array.data_type()) {
        (TsType::TimeSeries(value_type), DataType::List(_)) => {
            let points = array.as_list::<i32>().value(i);
            let points = points.as_struct();
            let (times, values) = (points.column(0), points.column(1));
            (0..points.len())
                .map(|j| json!({ "time": render_text(times, j), "value": plain_json(values, j, value_type) }))
                .collect()
        }
        (TsType::Array(item), _) => {
            let values = match array.data_type() {
                DataType::LargeList(_) => array.as_list::<i64>().value(i),
                DataType::FixedSizeList(..) => array.as_fixed_size_list().value(i),
                _ => array.as_list::<i32>().value(i),
            };
            (0..values.len()).map(|j| plain_json(&values, j, item)).collect()
        }
        (TsType::Row(fields), DataType::Struct(_)) => {
            let s = array.as_struct();
            let object: serde_json::Map<String, Value> = fields
                .iter()
                .enumerate()
                .map(|(k, (name, ft))| (name.clone(), plain_json(s.column(k), i, ft)))
                .collect();
            Value::Object(object)
        }
        (TsType::Scalar(ScalarType::Boolean), DataType::Boolean) => Value::Bool(array.as_boolean().value(i)),
        (TsType::Scalar(ScalarType::Bigint), DataType::Int64) => {
            Value::from(array.as_primitive::<Int64Type>().value(i))
        }
        (TsType::Scalar(ScalarType::Integer), DataType::Int32) => {
            Value::from(array.as_primitive::<Int32Type>().value(i))
        }
        (TsType::Scalar(ScalarType::Double), DataType::Float64) => {
            let x = array.as_primitive::<Float64Type>().value(i);
            serde_json::Number::from_f64(x).map_or_else(|| Value::String(format_double(x)), Value::Number)
        }
        (TsType::Scalar(ScalarType::Unknown), _) => Value::Null,
        _ => render_text(array, i).map_or(Value::Null, Value::String),
    }
}

fn push_signed(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    push_digits(out, v.unsigned_abs(), 1);
}

/// The ScalarValue text of a scalar at row `i`, or `None` for a type without one.
fn render_text(array: &ArrayRef, i: usize) -> Option<String> {
    use DataType as D;
    Some(match array.data_type() {
        D::Utf8 => array.as_string::<i32>().value(i).to_string(),
        D::LargeUtf8 => array.as_string::<i64>().value(i).to_string(),
        D::Utf8View => array.as_string_view().value(i).to_string(),
        D::Boolean => array.as_boolean().value(i).to_string(),
        D::Int8 => array.as_primitive::<Int8Type>().value(i).to_string(),
        D::Int16 => array.as_primitive::<Int16Type>().value(i).to_string(),
        D::Int32 => array.as_primitive::<Int32Type>().value(i).to_string(),
        D::Int64 => array.as_primitive::<Int64Type>().value(i).to_string(),
        D::UInt8 => array.as_primitive::<UInt8Type>().value(i).to_string(),
        D::UInt16 => array.as_primitive::<UInt16Type>().value(i).to_string(),
        D::UInt32 => array.as_primitive::<UInt32Type>().value(i).to_string(),
        D::UInt64 => array.as_primitive::<UInt64Type>().value(i).to_string(),
        D::Float32 => format_double(f64::from(array.as_primitive::<Float32Type>().value(i))),
        D::Float64 => format_double(array.as_primitive::<Float64Type>().value(i)),
        D::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(i).saturating_mul(1_000_000_000),
                TimeUnit::Millisecond => {
                    array.as_primitive::<TimestampMillisecondType>().value(i).saturating_mul(1_000_000)
                }
                TimeUnit::Microsecond => {
                    array.as_primitive::<TimestampMicrosecondType>().value(i).saturating_mul(1_000)
                }
                TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(i),
            };
            format_timestamp_ns(v)
        }
        D::Date32 => {
            let days = array.as_primitive::<Date32Type>().value(i);
            (chrono::NaiveDate::from_ymd_opt(1970, 1, 1)? + chrono::Duration::days(i64::from(days)))
                .format("%Y-%m-%d")
                .to_string()
        }
        D::Time64(TimeUnit::Nanosecond) => {
            let ns = array.as_primitive::<Time64NanosecondType>().value(i);
            let s = ns / 1_000_000_000;
            format!("{:02}:{:02}:{:02}.{:09}", s / 3600, s / 60 % 60, s % 60, ns % 1_000_000_000)
        }
        D::Duration(TimeUnit::Nanosecond) => {
            interval_day_to_second(i128::from(array.as_primitive::<DurationNanosecondType>().value(i)))
        }
        D::Duration(TimeUnit::Microsecond) => {
            interval_day_to_second(i128::from(array.as_primitive::<DurationMicrosecondType>().value(i)) * 1_000)
        }
        D::Duration(TimeUnit::Millisecond) => {
            interval_day_to_second(i128::from(array.as_primitive::<DurationMillisecondType>().value(i)) * 1_000_000)
        }
        D::Duration(TimeUnit::Second) => {
            interval_day_to_second(i128::from(array.as_primitive::<DurationSecondType>().value(i)) * 1_000_000_000)
        }
        D::Interval(IntervalUnit::MonthDayNano) => {
            let v = array.as_primitive::<IntervalMonthDayNanoType>().value(i);
            interval_day_to_second(i128::from(v.days) * 86_400_000_000_000 + i128::from(v.nanoseconds))
        }
        D::Interval(IntervalUnit::DayTime) => {
            let v = array.as_primitive::<IntervalDayTimeType>().value(i);
            interval_day_to_second(i128::from(v.days) * 86_400_000_000_000 + i128::from(v.milliseconds) * 1_000_000)
        }
        D::Interval(IntervalUnit::YearMonth) => {
            let months = array.as_primitive::<IntervalYearMonthType>().value(i);
            format!("{}-{}", months / 12, months % 12)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Float64Array, Int64Array, StringArray, TimestampNanosecondArray};

    use super::*;

    #[test]
    fn timestamps_match_chrono_across_the_range() {
        let samples = [i64::MIN, i64::MIN + 1, -1, 0, 1, 951_782_400_000_000_000, 1_796_040_000_123_456_789, i64::MAX];
        let steps = (-999..1000).map(|k| k * (i64::MAX / 1000) + k * 7_919);
        for ns in samples.into_iter().chain(steps) {
            let expected = chrono::DateTime::from_timestamp_nanos(ns).format("%Y-%m-%d %H:%M:%S%.9f").to_string();
            assert_eq!(format_timestamp_ns(ns), expected, "{ns}");
        }
    }

    #[test]
    fn datum_text_is_the_serialized_datum() {
        let arrays: Vec<(ArrayRef, TsType)> = vec![
            (
                Arc::new(StringArray::from(vec![Some("sauna"), Some("a \"quoted\"\n\\ name"), None])),
                TsType::Scalar(ScalarType::Varchar),
            ),
            (
                Arc::new(Float64Array::from(vec![Some(21.5), Some(f64::NAN), Some(1e21)])),
                TsType::Scalar(ScalarType::Double),
            ),
            (Arc::new(Int64Array::from(vec![Some(i64::MIN), None, Some(42)])), TsType::Scalar(ScalarType::Bigint)),
            (
                Arc::new(
                    TimestampNanosecondArray::from(vec![Some(-1), Some(0), Some(1_796_040_000_000_000_001)])
                        .with_timezone("UTC"),
                ),
                TsType::Scalar(ScalarType::Timestamp),
            ),
        ];
        for (array, t) in &arrays {
            for i in 0..array.len() {
                let mut text = String::new();
                write_datum_json(&mut text, array, i, t);
                assert_eq!(text, render_datum(array, i, t).to_string());
            }
        }
    }
}
