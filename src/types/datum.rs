//! Timestream `Datum`s back into Arrow: the inverse of [`render_datum`](super::render_datum).
//!
//! The query client receives `ColumnInfo` and `Row`s of `Datum`s; it moves each Datum into a
//! [`Datum`] (or hands the text of a scalar straight to [`ColumnBuilder::append_scalar`]) and a
//! [`ColumnBuilder`] per column builds exactly the Arrow type [`TsType::to_arrow`] names. The
//! scalar parsers read precisely the text forms the renderers write (reference/timestream.md
//! §4.4), so that Arrow → Datum → Arrow is the identity.
//!
//! Scalars are parsed by hand from bytes (no chrono formatter, no allocation): a typical Ruuvi
//! result (a VARCHAR, a TIMESTAMP and three DOUBLEs) is converted at millions of rows a second.

use std::sync::Arc;

use arrow_array::builder::{ArrayBuilder, BooleanBuilder, PrimitiveBuilder, StringBuilder};
use arrow_array::types::{
    ArrowPrimitiveType, Date32Type, DurationNanosecondType, Float64Type, Int32Type, Int64Type, IntervalYearMonthType,
    Time64NanosecondType, TimestampNanosecondType,
};
use arrow_array::{ArrayRef, ListArray, NullArray, RecordBatch, RecordBatchOptions, StructArray};
use arrow_buffer::{NullBuffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, FieldRef, Fields, Schema, SchemaRef};
use serde_json::Value;

use super::{ScalarType, TsType};
use crate::error::TypeError;

const NS_PER_SEC: i64 = 1_000_000_000;
const NS_PER_DAY: i64 = 86_400 * NS_PER_SEC;

/// An owned Timestream `Datum`, independent of any SDK: what a query result cell holds.
///
/// Exactly one of the API's `ScalarValue`, `ArrayValue`, `RowValue`, `TimeSeriesValue` or
/// `NullValue`; scalars keep the service's text, which [`ColumnBuilder`] parses by column type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datum {
    /// `NullValue: true`: a null of any type.
    Null,
    /// `ScalarValue`: the text of a scalar (`"35.0"`, `"2019-12-04 19:00:00.000000000"`, …).
    Scalar(String),
    /// `ArrayValue`: the elements of an ARRAY.
    Array(Vec<Datum>),
    /// `RowValue.Data`: the fields of a ROW, in the order of its type's fields.
    Row(Vec<Datum>),
    /// `TimeSeriesValue`: the points of a TIMESERIES, each its `Time` text (TIMESTAMP form) and
    /// `Value`.
    TimeSeries(Vec<(String, Datum)>),
}

impl Datum {
    /// Reads a `Datum` in the API's JSON shape (awsJson, as the engine and the service send it).
    ///
    /// ```
    /// use ruuvistream::types::Datum;
    /// let v = serde_json::json!({"ArrayValue": [{"ScalarValue": "1"}, {"NullValue": true}]});
    /// assert_eq!(Datum::from_json(&v).unwrap(), Datum::Array(vec![Datum::Scalar("1".into()), Datum::Null]));
    /// ```
    pub fn from_json(v: &Value) -> Result<Self, TypeError> {
        let bad = || TypeError::NotDatum(clip(&v.to_string()));
        let obj = v.as_object().ok_or_else(bad)?;
        if obj.get("NullValue").and_then(Value::as_bool) == Some(true) {
            return Ok(Self::Null);
        }
        if let Some(s) = obj.get("ScalarValue") {
            return s.as_str().map(|s| Self::Scalar(s.to_owned())).ok_or_else(bad);
        }
        if let Some(a) = obj.get("ArrayValue") {
            return a
                .as_array()
                .ok_or_else(bad)?
                .iter()
                .map(Self::from_json)
                .collect::<Result<_, _>>()
                .map(Self::Array);
        }
        if let Some(r) = obj.get("RowValue") {
            return Self::row_from_json(r).map(Self::Row);
        }
        if let Some(points) = obj.get("TimeSeriesValue") {
            return points
                .as_array()
                .ok_or_else(bad)?
                .iter()
                .map(|p| {
                    let time = p.get("Time").and_then(Value::as_str).ok_or_else(bad)?;
                    Ok((time.to_owned(), Self::from_json(p.get("Value").ok_or_else(bad)?)?))
                })
                .collect::<Result<_, _>>()
                .map(Self::TimeSeries);
        }
        Err(bad())
    }

    /// Reads a `Row` (`{"Data": [Datum, …]}`) in the API's JSON shape.
    pub fn row_from_json(v: &Value) -> Result<Vec<Self>, TypeError> {
        v.get("Data")
            .and_then(Value::as_array)
            .ok_or_else(|| TypeError::NotDatum(clip(&v.to_string())))?
            .iter()
            .map(Self::from_json)
            .collect()
    }
}

// ------------------------------------------------------------------------------------------------
// Scalar parsers.

/// The first 80 characters of `s`, for an error message.
fn clip(s: &str) -> String {
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn bad(expected: &'static str, text: &str) -> TypeError {
    TypeError::BadScalar { expected, text: clip(text) }
}

fn out_of_range(expected: &'static str, text: &str) -> TypeError {
    TypeError::OutOfRange { expected, text: clip(text) }
}

/// A type in Timestream SQL notation, for error messages.
fn type_text(t: &TsType) -> String {
    match t {
        TsType::Scalar(s) => s.name().to_owned(),
        TsType::Array(t) => format!("ARRAY({})", type_text(t)),
        TsType::Row(fields) => {
            let fields: Vec<String> = fields.iter().map(|(n, t)| format!("{n} {}", type_text(t))).collect();
            format!("ROW({})", fields.join(", "))
        }
        TsType::TimeSeries(t) => format!("TIMESERIES({})", type_text(t)),
    }
}

fn mismatch(t: &TsType, found: &'static str) -> TypeError {
    TypeError::Mismatch { expected: type_text(t), found }
}

/// A cursor over the bytes of a scalar's text.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Self { b: s.as_bytes(), i: 0 }
    }

    fn digit(&self) -> Option<u8> {
        self.b.get(self.i).map(|c| c.wrapping_sub(b'0')).filter(|d| *d <= 9)
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.b.get(self.i) == Some(&c);
        self.i += usize::from(hit);
        hit
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        self.eat(c).then_some(())
    }

    /// Exactly `n` ASCII digits.
    fn fixed(&mut self, n: usize) -> Option<u32> {
        let mut v = 0;
        for &c in self.b.get(self.i..self.i + n)? {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v * 10 + u32::from(d);
        }
        self.i += n;
        Some(v)
    }

    /// One to `max` (at most 18) ASCII digits.
    fn number(&mut self, max: usize) -> Option<i64> {
        let start = self.i;
        let mut v = 0;
        while let Some(d) = self.digit() {
            if self.i - start == max {
                return None;
            }
            v = v * 10 + i64::from(d);
            self.i += 1;
        }
        (self.i > start).then_some(v)
    }

    /// An optional `.` with one to nine digits, as nanoseconds.
    fn fraction(&mut self) -> Option<i64> {
        if !self.eat(b'.') {
            return Some(0);
        }
        let start = self.i;
        let mut v = 0;
        while let Some(d) = self.digit() {
            if self.i - start == 9 {
                return None;
            }
            v = v * 10 + i64::from(d);
            self.i += 1;
        }
        let n = self.i - start;
        (n > 0).then(|| v * 10i64.pow(9 - n as u32))
    }

    fn end(&self) -> Option<()> {
        (self.i == self.b.len()).then_some(())
    }

    /// `YYYY-MM-DD` (years beyond 0000–9999 with a sign, as chrono writes them), as days since
    /// 1970-01-01.
    fn date(&mut self) -> Option<i64> {
        let negative = self.eat(b'-');
        if !negative {
            self.eat(b'+');
        }
        let year = self.number(9)?;
        let year = if negative { -year } else { year };
        self.expect(b'-')?;
        let month = self.fixed(2)?;
        self.expect(b'-')?;
        let day = self.fixed(2)?;
        ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month))
            .then(|| days_from_civil(year, month, day))
    }

    /// `HH:MM:SS[.fffffffff]`, as nanoseconds since midnight.
    fn time_of_day(&mut self) -> Option<i64> {
        let h = self.fixed(2)?;
        self.expect(b':')?;
        let m = self.fixed(2)?;
        self.expect(b':')?;
        let s = self.fixed(2)?;
        if h > 23 || m > 59 || s > 59 {
            return None;
        }
        Some(i64::from(h * 3600 + m * 60 + s) * NS_PER_SEC + self.fraction()?)
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses TIMESTAMP text (`2022-07-07 17:42:32.939000000`: UTC, up to nine fractional digits,
/// fewer or none accepted, a `T` accepted for the space) as nanoseconds since the epoch.
///
/// ```
/// use ruuvistream::types::parse_timestamp_ns;
/// assert_eq!(parse_timestamp_ns("1970-01-01 00:00:01.000000005").unwrap(), 1_000_000_005);
/// assert_eq!(parse_timestamp_ns("1969-12-31 23:59:59.999999999").unwrap(), -1);
/// assert!(parse_timestamp_ns("2026-13-40 00:00:00.000000000").is_err());
/// ```
pub fn parse_timestamp_ns(text: &str) -> Result<i64, TypeError> {
    let mut c = Cursor::new(text);
    let parsed = (|| {
        let days = c.date()?;
        if !(c.eat(b' ') || c.eat(b'T')) {
            return None;
        }
        let ns = c.time_of_day()?;
        c.end()?;
        Some((days, ns))
    })();
    let (days, ns) = parsed.ok_or_else(|| bad("TIMESTAMP", text))?;
    // i128: the earliest timestamps are more than i64::MIN nanoseconds of whole days away.
    i64::try_from(i128::from(days) * i128::from(NS_PER_DAY) + i128::from(ns))
        .map_err(|_| out_of_range("TIMESTAMP", text))
}

/// Parses DATE text (`2022-05-21`) as days since 1970-01-01.
pub fn parse_date(text: &str) -> Result<i32, TypeError> {
    let mut c = Cursor::new(text);
    let days = c.date().filter(|_| c.end().is_some()).ok_or_else(|| bad("DATE", text))?;
    i32::try_from(days).map_err(|_| out_of_range("DATE", text))
}

/// Parses TIME text (`17:41:52.827000000`) as nanoseconds since midnight.
pub fn parse_time_ns(text: &str) -> Result<i64, TypeError> {
    let mut c = Cursor::new(text);
    c.time_of_day().filter(|_| c.end().is_some()).ok_or_else(|| bad("TIME", text))
}

/// Parses INTERVAL_DAY_TO_SECOND text (`1 00:00:00.000000000`, `-0 00:00:00.042800000`) as
/// nanoseconds.
pub fn parse_interval_day_to_second_ns(text: &str) -> Result<i64, TypeError> {
    const NAME: &str = "INTERVAL_DAY_TO_SECOND";
    let mut c = Cursor::new(text);
    let negative = c.eat(b'-');
    let parsed = (|| {
        let days = c.number(18)?;
        c.expect(b' ')?;
        let ns = c.time_of_day()?;
        c.end()?;
        Some(i128::from(days) * i128::from(NS_PER_DAY) + i128::from(ns))
    })();
    let ns = parsed.ok_or_else(|| bad(NAME, text))?;
    i64::try_from(if negative { -ns } else { ns }).map_err(|_| out_of_range(NAME, text))
}

/// Parses INTERVAL_YEAR_TO_MONTH text (`1-0`, `0-8`, `4-2`) as months.
///
/// Negative intervals are read both as Presto writes them (`-1-1`: minus one year and one
/// month) and as [`render_datum`](super::render_datum) writes them (`-1--1`, `0--5`: the
/// signed quotient and remainder of the months by 12).
pub fn parse_interval_year_to_month(text: &str) -> Result<i32, TypeError> {
    const NAME: &str = "INTERVAL_YEAR_TO_MONTH";
    let mut c = Cursor::new(text);
    let negative = c.eat(b'-');
    let parsed = (|| {
        let years = c.number(10)?;
        c.expect(b'-')?;
        let negative_months = c.eat(b'-');
        let months = c.number(2)?;
        c.end()?;
        if months > 11 || (negative_months && !negative && years != 0) {
            return None;
        }
        Some(match (negative, negative_months) {
            (_, true) => (if negative { -years } else { years }) * 12 - months,
            (true, false) => -(years * 12 + months),
            (false, false) => years * 12 + months,
        })
    })();
    let months = parsed.ok_or_else(|| bad(NAME, text))?;
    i32::try_from(months).map_err(|_| out_of_range(NAME, text))
}

/// Parses DOUBLE text in Java's `Double.toString` forms (`35.0`, `1.6554878837710001E9`,
/// `1.0E-5`, `NaN`, `Infinity`, `-Infinity`), and any other decimal form Rust reads.
pub fn parse_double(text: &str) -> Result<f64, TypeError> {
    match text {
        "NaN" => Ok(f64::NAN),
        "Infinity" | "+Infinity" => Ok(f64::INFINITY),
        "-Infinity" => Ok(f64::NEG_INFINITY),
        _ => text.parse().map_err(|_| bad("DOUBLE", text)),
    }
}

/// Parses BOOLEAN text (`true`, `false`, in any case).
pub fn parse_boolean(text: &str) -> Result<bool, TypeError> {
    if text.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if text.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(bad("BOOLEAN", text))
    }
}

fn parse_int<T: std::str::FromStr<Err = std::num::ParseIntError>>(
    expected: &'static str,
    text: &str,
) -> Result<T, TypeError> {
    use std::num::IntErrorKind;
    text.parse().map_err(|e: std::num::ParseIntError| match e.kind() {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => out_of_range(expected, text),
        _ => bad(expected, text),
    })
}

// ------------------------------------------------------------------------------------------------
// Builders.

/// Builds one Arrow column of a Timestream type from `Datum`s, page after page.
///
/// The array [`finish`](Self::finish) returns has exactly the type [`TsType::to_arrow`] gives.
/// When a value cannot be converted, [`append`](Self::append) says why and appends a null in its
/// place (in an ARRAY, ROW or TIMESERIES, the whole value becomes null), so the column stays
/// consistent and a caller may go on, for example to collect every error.
///
/// ```
/// use arrow_array::Array;
/// use ruuvistream::types::{ColumnBuilder, Datum, ScalarType, TsType};
///
/// let mut b = ColumnBuilder::new(&TsType::Scalar(ScalarType::Timestamp));
/// b.append(Datum::Scalar("2019-12-04 19:00:00.000000000".into())).unwrap();
/// b.append(Datum::Null).unwrap();
/// assert!(b.append_scalar("yesterday").is_err());
/// let column = b.finish();
/// assert_eq!((column.len(), column.null_count()), (3, 2));
/// ```
#[derive(Debug)]
pub struct ColumnBuilder {
    ty: TsType,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Varchar(StringBuilder),
    Boolean(BooleanBuilder),
    Bigint(PrimitiveBuilder<Int64Type>),
    Integer(PrimitiveBuilder<Int32Type>),
    Double(PrimitiveBuilder<Float64Type>),
    Timestamp(PrimitiveBuilder<TimestampNanosecondType>),
    Date(PrimitiveBuilder<Date32Type>),
    Time(PrimitiveBuilder<Time64NanosecondType>),
    DayToSecond(PrimitiveBuilder<DurationNanosecondType>),
    YearToMonth(PrimitiveBuilder<IntervalYearMonthType>),
    /// UNKNOWN holds only nulls: their count.
    Unknown(usize),
    Array(Box<ListState>),
    Row(Box<RowState>),
    TimeSeries(Box<SeriesState>),
}

/// Offsets and validity of a list column.
#[derive(Debug)]
struct Offsets {
    offsets: Vec<i32>,
    nulls: NullBufferBuilder,
}

impl Offsets {
    fn new(capacity: usize) -> Self {
        let mut offsets = Vec::with_capacity(capacity + 1);
        offsets.push(0);
        Self { offsets, nulls: NullBufferBuilder::new(capacity) }
    }

    fn last(&self) -> i32 {
        self.offsets.last().copied().unwrap_or(0)
    }

    /// Ends the current list at `child_len` elements of the child.
    fn close(&mut self, valid: bool, child_len: usize) -> Result<(), TypeError> {
        match i32::try_from(child_len) {
            Ok(end) => {
                self.offsets.push(end);
                self.nulls.append(valid);
                Ok(())
            }
            Err(_) => {
                self.null();
                Err(ArrowError::OffsetOverflowError(child_len).into())
            }
        }
    }

    fn null(&mut self) {
        self.offsets.push(self.last());
        self.nulls.append_null();
    }

    fn finish(&mut self) -> (OffsetBuffer<i32>, Option<NullBuffer>) {
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        (OffsetBuffer::new(ScalarBuffer::from(offsets)), self.nulls.finish())
    }
}

#[derive(Debug)]
struct ListState {
    field: FieldRef,
    offsets: Offsets,
    items: ColumnBuilder,
}

#[derive(Debug)]
struct RowState {
    fields: Fields,
    children: Vec<ColumnBuilder>,
    nulls: NullBufferBuilder,
}

#[derive(Debug)]
struct SeriesState {
    field: FieldRef,
    point_fields: Fields,
    offsets: Offsets,
    times: PrimitiveBuilder<TimestampNanosecondType>,
    values: ColumnBuilder,
}

fn primitive<T: ArrowPrimitiveType>(capacity: usize, t: DataType) -> PrimitiveBuilder<T> {
    PrimitiveBuilder::with_capacity(capacity).with_data_type(t)
}

fn put<T: ArrowPrimitiveType>(b: &mut PrimitiveBuilder<T>, v: Result<T::Native, TypeError>) -> Result<(), TypeError> {
    match v {
        Ok(v) => {
            b.append_value(v);
            Ok(())
        }
        Err(e) => {
            b.append_null();
            Err(e)
        }
    }
}

impl ColumnBuilder {
    /// A builder for a column of type `t`.
    pub fn new(t: &TsType) -> Self {
        Self::with_capacity(t, 0)
    }

    /// A builder for a column of type `t`, with room for `capacity` values.
    pub fn with_capacity(t: &TsType, capacity: usize) -> Self {
        let dt = t.to_arrow();
        let kind = match t {
            TsType::Scalar(s) => match s {
                ScalarType::Varchar => Kind::Varchar(StringBuilder::with_capacity(capacity, capacity * 16)),
                ScalarType::Boolean => Kind::Boolean(BooleanBuilder::with_capacity(capacity)),
                ScalarType::Bigint => Kind::Bigint(primitive(capacity, dt)),
                ScalarType::Integer => Kind::Integer(primitive(capacity, dt)),
                ScalarType::Double => Kind::Double(primitive(capacity, dt)),
                ScalarType::Timestamp => Kind::Timestamp(primitive(capacity, dt)),
                ScalarType::Date => Kind::Date(primitive(capacity, dt)),
                ScalarType::Time => Kind::Time(primitive(capacity, dt)),
                ScalarType::IntervalDayToSecond => Kind::DayToSecond(primitive(capacity, dt)),
                ScalarType::IntervalYearToMonth => Kind::YearToMonth(primitive(capacity, dt)),
                ScalarType::Unknown => Kind::Unknown(0),
            },
            // The fields are taken from `to_arrow` so that the result has its type exactly.
            TsType::Array(item) => {
                let DataType::List(field) = dt else { unreachable!("to_arrow maps an ARRAY to a list") };
                Kind::Array(Box::new(ListState {
                    field,
                    offsets: Offsets::new(capacity),
                    items: Self::with_capacity(item, capacity),
                }))
            }
            TsType::Row(fields) => {
                let DataType::Struct(struct_fields) = dt else { unreachable!("to_arrow maps a ROW to a struct") };
                Kind::Row(Box::new(RowState {
                    fields: struct_fields,
                    children: fields.iter().map(|(_, t)| Self::with_capacity(t, capacity)).collect(),
                    nulls: NullBufferBuilder::new(capacity),
                }))
            }
            TsType::TimeSeries(value) => {
                let DataType::List(field) = dt else { unreachable!("to_arrow maps a TIMESERIES to a list") };
                let DataType::Struct(point_fields) = field.data_type().clone() else {
                    unreachable!("to_arrow maps a TIMESERIES point to a struct")
                };
                Kind::TimeSeries(Box::new(SeriesState {
                    times: primitive(capacity, point_fields[0].data_type().clone()),
                    field,
                    point_fields,
                    offsets: Offsets::new(capacity),
                    values: Self::with_capacity(value, capacity),
                }))
            }
        };
        Self { ty: t.clone(), kind }
    }

    /// The Timestream type of the column.
    pub fn ts_type(&self) -> &TsType {
        &self.ty
    }

    /// How many values were appended since the last [`finish`](Self::finish).
    pub fn len(&self) -> usize {
        match &self.kind {
            Kind::Varchar(b) => b.len(),
            Kind::Boolean(b) => b.len(),
            Kind::Bigint(b) => b.len(),
            Kind::Integer(b) => b.len(),
            Kind::Double(b) => b.len(),
            Kind::Timestamp(b) => b.len(),
            Kind::Date(b) => b.len(),
            Kind::Time(b) => b.len(),
            Kind::DayToSecond(b) => b.len(),
            Kind::YearToMonth(b) => b.len(),
            Kind::Unknown(n) => *n,
            Kind::Array(s) => s.offsets.nulls.len(),
            Kind::Row(s) => s.nulls.len(),
            Kind::TimeSeries(s) => s.offsets.nulls.len(),
        }
    }

    /// Whether no value was appended since the last [`finish`](Self::finish).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a value.
    pub fn append(&mut self, d: Datum) -> Result<(), TypeError> {
        match d {
            Datum::Null => {
                self.append_null();
                Ok(())
            }
            Datum::Scalar(s) => self.append_scalar(&s),
            Datum::Array(items) => self.append_array(items),
            Datum::Row(values) => self.append_row(values),
            Datum::TimeSeries(points) => self.append_series(points),
        }
    }

    /// Appends a `ScalarValue` given by its text.
    pub fn append_scalar(&mut self, text: &str) -> Result<(), TypeError> {
        match &mut self.kind {
            Kind::Varchar(b) => {
                b.append_value(text);
                Ok(())
            }
            Kind::Boolean(b) => match parse_boolean(text) {
                Ok(v) => {
                    b.append_value(v);
                    Ok(())
                }
                Err(e) => {
                    b.append_null();
                    Err(e)
                }
            },
            Kind::Bigint(b) => put(b, parse_int("BIGINT", text)),
            Kind::Integer(b) => put(b, parse_int("INTEGER", text)),
            Kind::Double(b) => put(b, parse_double(text)),
            Kind::Timestamp(b) => put(b, parse_timestamp_ns(text)),
            Kind::Date(b) => put(b, parse_date(text)),
            Kind::Time(b) => put(b, parse_time_ns(text)),
            Kind::DayToSecond(b) => put(b, parse_interval_day_to_second_ns(text)),
            Kind::YearToMonth(b) => put(b, parse_interval_year_to_month(text)),
            Kind::Unknown(_) | Kind::Array(_) | Kind::Row(_) | Kind::TimeSeries(_) => {
                self.append_null();
                Err(mismatch(&self.ty, "a ScalarValue"))
            }
        }
    }

    /// Appends a null.
    pub fn append_null(&mut self) {
        match &mut self.kind {
            Kind::Varchar(b) => b.append_null(),
            Kind::Boolean(b) => b.append_null(),
            Kind::Bigint(b) => b.append_null(),
            Kind::Integer(b) => b.append_null(),
            Kind::Double(b) => b.append_null(),
            Kind::Timestamp(b) => b.append_null(),
            Kind::Date(b) => b.append_null(),
            Kind::Time(b) => b.append_null(),
            Kind::DayToSecond(b) => b.append_null(),
            Kind::YearToMonth(b) => b.append_null(),
            Kind::Unknown(n) => *n += 1,
            Kind::Array(s) => s.offsets.null(),
            Kind::Row(s) => {
                for child in &mut s.children {
                    child.append_null();
                }
                s.nulls.append_null();
            }
            Kind::TimeSeries(s) => s.offsets.null(),
        }
    }

    fn append_array(&mut self, items: Vec<Datum>) -> Result<(), TypeError> {
        let Kind::Array(s) = &mut self.kind else {
            self.append_null();
            return Err(mismatch(&self.ty, "an ArrayValue"));
        };
        for item in items {
            if let Err(e) = s.items.append(item) {
                s.offsets.close(false, s.items.len())?;
                return Err(e);
            }
        }
        s.offsets.close(true, s.items.len())
    }

    fn append_row(&mut self, values: Vec<Datum>) -> Result<(), TypeError> {
        let Kind::Row(s) = &mut self.kind else {
            self.append_null();
            return Err(mismatch(&self.ty, "a RowValue"));
        };
        if values.len() != s.children.len() {
            let fields = s.children.len();
            self.append_null();
            return Err(TypeError::RowWidth { expected: type_text(&self.ty), fields, actual: values.len() });
        }
        let mut result = Ok(());
        for (child, value) in s.children.iter_mut().zip(values) {
            if result.is_ok() {
                result = child.append(value);
            } else {
                child.append_null();
            }
        }
        s.nulls.append(result.is_ok());
        result
    }

    fn append_series(&mut self, points: Vec<(String, Datum)>) -> Result<(), TypeError> {
        let Kind::TimeSeries(s) = &mut self.kind else {
            self.append_null();
            return Err(mismatch(&self.ty, "a TimeSeriesValue"));
        };
        for (time, value) in points {
            let result = parse_timestamp_ns(&time).and_then(|t| {
                s.times.append_value(t);
                s.values.append(value)
            });
            if let Err(e) = result {
                s.offsets.close(false, s.times.len())?;
                return Err(e);
            }
        }
        s.offsets.close(true, s.times.len())
    }

    /// The column built so far, which has type `self.ts_type().to_arrow()`; the builder starts
    /// over empty.
    pub fn finish(&mut self) -> ArrayRef {
        match &mut self.kind {
            Kind::Varchar(b) => Arc::new(b.finish()),
            Kind::Boolean(b) => Arc::new(b.finish()),
            Kind::Bigint(b) => Arc::new(b.finish()),
            Kind::Integer(b) => Arc::new(b.finish()),
            Kind::Double(b) => Arc::new(b.finish()),
            Kind::Timestamp(b) => Arc::new(b.finish()),
            Kind::Date(b) => Arc::new(b.finish()),
            Kind::Time(b) => Arc::new(b.finish()),
            Kind::DayToSecond(b) => Arc::new(b.finish()),
            Kind::YearToMonth(b) => Arc::new(b.finish()),
            Kind::Unknown(n) => Arc::new(NullArray::new(std::mem::take(n))),
            Kind::Array(s) => {
                let (offsets, nulls) = s.offsets.finish();
                Arc::new(ListArray::new(s.field.clone(), offsets, s.items.finish(), nulls))
            }
            Kind::Row(s) => {
                let len = s.nulls.len();
                let nulls = s.nulls.finish();
                if s.children.is_empty() {
                    Arc::new(StructArray::new_empty_fields(len, nulls))
                } else {
                    let columns = s.children.iter_mut().map(Self::finish).collect();
                    Arc::new(StructArray::new(s.fields.clone(), columns, nulls))
                }
            }
            Kind::TimeSeries(s) => {
                let (offsets, nulls) = s.offsets.finish();
                let points =
                    StructArray::new(s.point_fields.clone(), vec![Arc::new(s.times.finish()), s.values.finish()], None);
                Arc::new(ListArray::new(s.field.clone(), offsets, Arc::new(points), nulls))
            }
        }
    }
}

/// Builds Arrow record batches from rows of `Datum`s, page after page: one [`ColumnBuilder`]
/// per column.
///
/// ```
/// use ruuvistream::types::{BatchBuilder, Datum, ScalarType, TsType};
///
/// let mut b = BatchBuilder::new(&[("temperature".into(), TsType::Scalar(ScalarType::Double))]);
/// b.append_row([Datum::Scalar("21.5".into())]).unwrap();
/// b.append_row([Datum::Null]).unwrap();
/// let batch = b.finish().unwrap();
/// assert_eq!(batch.num_rows(), 2);
/// ```
#[derive(Debug)]
pub struct BatchBuilder {
    schema: SchemaRef,
    columns: Vec<ColumnBuilder>,
    /// Rows since the last `finish`.
    pending: usize,
    /// Rows since the builder was made, for error messages.
    appended: usize,
}

impl BatchBuilder {
    /// A builder for batches with these columns (name and type, as `ColumnInfo` gives them).
    pub fn new(columns: &[(String, TsType)]) -> Self {
        Self::with_capacity(columns, 0)
    }

    /// A builder for batches with these columns, with room for `rows` rows.
    pub fn with_capacity(columns: &[(String, TsType)], rows: usize) -> Self {
        let schema = Arc::new(Schema::new(columns.iter().map(|(n, t)| t.to_field(n)).collect::<Vec<_>>()));
        let columns = columns.iter().map(|(_, t)| ColumnBuilder::with_capacity(t, rows)).collect();
        Self { schema, columns, pending: 0, appended: 0 }
    }

    /// The schema of the batches: [`TsType::to_field`] of each column.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// How many rows were appended since the last [`finish`](Self::finish).
    pub fn len(&self) -> usize {
        self.pending
    }

    /// Whether no row was appended since the last [`finish`](Self::finish).
    pub fn is_empty(&self) -> bool {
        self.pending == 0
    }

    /// Appends a row: one value per column, in order.
    ///
    /// On error the row is still appended, with a null for each value that could not be
    /// converted (or that is missing); the error names the row (counted from the builder's
    /// creation, across batches) and the column of the first such value.
    pub fn append_row(&mut self, row: impl IntoIterator<Item = Datum>) -> Result<(), TypeError> {
        let index = self.appended;
        self.appended += 1;
        self.pending += 1;
        let mut values = row.into_iter();
        let mut given = 0;
        let mut first_error = None;
        for (k, column) in self.columns.iter_mut().enumerate() {
            let Some(value) = values.next() else {
                column.append_null();
                continue;
            };
            given += 1;
            if let Err(e) = column.append(value)
                && first_error.is_none()
            {
                let column = self.schema.field(k).name().clone();
                first_error = Some(TypeError::At { row: index, column, source: Box::new(e) });
            }
        }
        given += values.count();
        if given != self.columns.len() {
            return Err(TypeError::RowLength { row: index, expected: self.columns.len(), actual: given });
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The batch of the rows appended so far; the builder starts over empty.
    pub fn finish(&mut self) -> Result<RecordBatch, TypeError> {
        let columns = self.columns.iter_mut().map(ColumnBuilder::finish).collect();
        let options = RecordBatchOptions::new().with_row_count(Some(std::mem::take(&mut self.pending)));
        Ok(RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)?)
    }
}

/// Builds one record batch from rows of `Datum`s, with columns named and typed as given.
///
/// ```
/// use ruuvistream::types::{Datum, ScalarType, TsType, rows_to_batch};
///
/// let schema = [
///     ("time".to_string(), TsType::Scalar(ScalarType::Timestamp)),
///     ("vals".to_string(), TsType::Array(Box::new(TsType::Scalar(ScalarType::Integer)))),
/// ];
/// let row = serde_json::json!({"Data": [
///     {"ScalarValue": "2019-12-04 19:00:00.000000000"},
///     {"ArrayValue": [{"ScalarValue": "1"}, {"ScalarValue": "2"}]},
/// ]});
/// let batch = rows_to_batch(&schema, vec![Datum::row_from_json(&row).unwrap()]).unwrap();
/// assert_eq!((batch.num_rows(), batch.num_columns()), (1, 2));
/// ```
pub fn rows_to_batch(schema: &[(String, TsType)], rows: Vec<Vec<Datum>>) -> Result<RecordBatch, TypeError> {
    let mut b = BatchBuilder::with_capacity(schema, rows.len());
    for row in rows {
        b.append_row(row)?;
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{format_double, format_timestamp_ns, render_datum};
    use arrow_array::cast::AsArray;
    use arrow_array::{
        Array, BooleanArray, Date32Array, DurationNanosecondArray, Float64Array, Int32Array, Int64Array,
        IntervalYearMonthArray, StringArray, Time64NanosecondArray, TimestampNanosecondArray,
    };
    use arrow_schema::Field;
    use serde_json::json;

    fn s(t: ScalarType) -> TsType {
        TsType::Scalar(t)
    }

    fn ts(text: &str) -> i64 {
        parse_timestamp_ns(text).unwrap()
    }

    fn chrono_ns(text: &str) -> i64 {
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
            .unwrap()
            .and_utc()
            .timestamp_nanos_opt()
            .unwrap()
    }

    #[test]
    fn timestamps_parse_like_chrono() {
        for text in [
            "2022-07-07 17:42:32.939000000",
            "2019-12-04 19:00:00.000000000",
            "1970-01-01 00:00:00.000000000",
            "1969-12-31 23:59:59.999999999",
            "1900-02-28 12:34:56.000000001",
            "2000-02-29 23:59:59.123456789",
            "2262-04-11 23:47:16.854775807",
            "1677-09-21 00:12:43.145224192",
            "1677-09-21 00:12:44.000000000",
            "2026-11-30 12:00:00.000000000",
        ] {
            assert_eq!(ts(text), chrono_ns(text), "{text}");
            assert_eq!(format_timestamp_ns(ts(text)), text);
        }
        assert_eq!(ts("2262-04-11 23:47:16.854775807"), i64::MAX);
        assert_eq!(ts("1677-09-21 00:12:43.145224192"), i64::MIN);
    }

    #[test]
    fn timestamps_accept_fewer_digits() {
        assert_eq!(ts("2022-06-17 10:15:20"), chrono_ns("2022-06-17 10:15:20.0"));
        assert_eq!(ts("2022-06-17 10:15:20.5"), ts("2022-06-17 10:15:20.500000000"));
        assert_eq!(ts("2022-06-17T10:15:20.123"), ts("2022-06-17 10:15:20.123000000"));
        assert_eq!(ts("1969-12-31 23:59:59.9"), -100_000_000);
    }

    #[test]
    fn bad_timestamps_are_errors() {
        for text in [
            "",
            "2026-13-40 00:00:00.000000000",
            "2026-02-29 00:00:00",
            "1900-02-29 00:00:00",
            "2026-00-10 00:00:00",
            "2026-01-00 00:00:00",
            "2026-04-31 00:00:00",
            "2026-01-01 24:00:00",
            "2026-01-01 23:60:00",
            "2026-01-01 23:59:60",
            "2026-01-01 1:00:00",
            "2026-01-01 01:00:00.",
            "2026-01-01 01:00:00.0000000001",
            "2026-01-01 01:00:00Z",
            "2026-01-01  01:00:00",
            " 2026-01-01 01:00:00",
            "2026-01-01",
            "2026-1-01 01:00:00",
            "２０２６-01-01 01:00:00",
            "2026-01-01 01:00:0a",
        ] {
            assert!(
                matches!(parse_timestamp_ns(text), Err(TypeError::BadScalar { expected: "TIMESTAMP", .. })),
                "{text:?}"
            );
        }
        for text in ["2262-04-11 23:47:16.854775808", "1677-09-21 00:12:43.145224191", "9999-12-31 00:00:00"] {
            assert!(matches!(parse_timestamp_ns(text), Err(TypeError::OutOfRange { .. })), "{text:?}");
        }
        assert_eq!(
            parse_timestamp_ns("2026-13-40 00:00:00").unwrap_err().to_string(),
            r#"not a TIMESTAMP: "2026-13-40 00:00:00""#
        );
        assert_eq!(
            parse_timestamp_ns("1677-01-01 00:00:00").unwrap_err().to_string(),
            r#"TIMESTAMP out of range: "1677-01-01 00:00:00""#
        );
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(parse_date("1970-01-01").unwrap(), 0);
        assert_eq!(parse_date("2022-05-21").unwrap(), 19_133);
        assert_eq!(parse_date("2022-05-23").unwrap(), 19_135);
        assert_eq!(parse_date("1969-12-31").unwrap(), -1);
        assert_eq!(parse_date("0000-03-01").unwrap(), -719_468);
        assert_eq!(parse_date("-0001-12-31").unwrap(), -719_529);
        assert_eq!(parse_date("+10000-01-01").unwrap(), 2_932_897);
        assert_eq!(parse_time_ns("17:41:52.827000000").unwrap(), (17 * 3600 + 41 * 60 + 52) * NS_PER_SEC + 827_000_000);
        assert_eq!(parse_time_ns("00:00:00.000000000").unwrap(), 0);
        assert_eq!(parse_time_ns("23:59:59.999999999").unwrap(), NS_PER_DAY - 1);
        assert_eq!(parse_time_ns("12:00:00").unwrap(), NS_PER_DAY / 2);
        for text in ["", "2022-05-32", "2022-05-21 ", "2022/05/21", "99999999999-01-01"] {
            assert!(parse_date(text).is_err(), "{text:?}");
        }
        for text in ["24:00:00.000000000", "1:00:00", "12:00", "12:00:00 ", "-01:00:00"] {
            assert!(parse_time_ns(text).is_err(), "{text:?}");
        }
        assert_eq!(parse_time_ns("25:00:00").unwrap_err().to_string(), r#"not a TIME: "25:00:00""#);
    }

    #[test]
    fn intervals() {
        let d = parse_interval_day_to_second_ns;
        assert_eq!(d("1 00:00:00.000000000").unwrap(), NS_PER_DAY);
        assert_eq!(d("0 00:00:00.042800000").unwrap(), 42_800_000);
        assert_eq!(d("-0 00:00:00.042800000").unwrap(), -42_800_000);
        assert_eq!(d("-2 01:00:00.000000000").unwrap(), -2 * NS_PER_DAY - 3600 * NS_PER_SEC);
        assert_eq!(d("106751 23:47:16.854775807").unwrap(), i64::MAX);
        assert_eq!(d("-106751 23:47:16.854775808").unwrap(), i64::MIN);
        assert!(matches!(d("106751 23:47:16.854775808"), Err(TypeError::OutOfRange { .. })));
        for text in ["", "1", "1 24:00:00", "1 00:00", "--1 00:00:00", "+1 00:00:00", "1d"] {
            assert!(matches!(d(text), Err(TypeError::BadScalar { .. })), "{text:?}");
        }
        let ym = parse_interval_year_to_month;
        assert_eq!(ym("1-0").unwrap(), 12);
        assert_eq!(ym("0-8").unwrap(), 8);
        assert_eq!(ym("4-2").unwrap(), 50);
        assert_eq!(ym("-1-1").unwrap(), -13); // Presto
        assert_eq!(ym("-1--1").unwrap(), -13); // render_datum
        assert_eq!(ym("0--5").unwrap(), -5);
        assert_eq!(ym("-0-5").unwrap(), -5);
        assert_eq!(ym("178956970-7").unwrap(), i32::MAX);
        assert_eq!(ym("-178956970--8").unwrap(), i32::MIN);
        assert!(matches!(ym("178956970-8"), Err(TypeError::OutOfRange { .. })));
        for text in ["", "1", "1-12", "1--1", "1-", "-", "1-0-0", "a-b", "1 -0"] {
            assert!(matches!(ym(text), Err(TypeError::BadScalar { .. })), "{text:?}");
        }
        assert_eq!(ym("1-12").unwrap_err().to_string(), r#"not an INTERVAL_YEAR_TO_MONTH: "1-12""#);
    }

    #[test]
    fn doubles_and_the_rest() {
        for (text, v) in [
            ("2.5", 2.5),
            ("35.0", 35.0),
            ("2.213363839400643", 2.213363839400643),
            ("1.6554878837710001E9", 1.6554878837710001E9),
            ("1.0E10", 1e10),
            ("1.0E-5", 1e-5),
            ("-0.0", -0.0),
            ("Infinity", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
            ("5.0E-324", 5e-324),
            ("1.7976931348623157E308", f64::MAX),
        ] {
            assert_eq!(parse_double(text).unwrap().to_bits(), f64::to_bits(v), "{text}");
            assert_eq!(format_double(v), text);
        }
        assert!(parse_double("NaN").unwrap().is_nan());
        // Java writes the smallest subnormal with one more digit than needed.
        assert_eq!(parse_double("4.9E-324").unwrap(), 5e-324);
        for text in ["", "1,5", "1.0E", "0x10", " 1.0", "one"] {
            assert_eq!(parse_double(text).unwrap_err().to_string(), format!("not a DOUBLE: {text:?}"));
        }
        assert!(parse_boolean("true").unwrap());
        assert!(!parse_boolean("false").unwrap());
        assert!(parse_boolean("1").is_err());
        assert_eq!(parse_int::<i64>("BIGINT", "-9223372036854775808").unwrap(), i64::MIN);
        assert!(matches!(parse_int::<i64>("BIGINT", "9223372036854775808"), Err(TypeError::OutOfRange { .. })));
        assert!(matches!(parse_int::<i32>("INTEGER", "2147483648"), Err(TypeError::OutOfRange { .. })));
        assert!(matches!(parse_int::<i32>("INTEGER", "1.0"), Err(TypeError::BadScalar { .. })));
        let long = "x".repeat(200);
        let message = parse_double(&long).unwrap_err().to_string();
        assert!(message.len() < 100 && message.ends_with("…\""), "{message}");
    }

    #[test]
    fn datum_json_shapes() {
        let row = json!({"Data":[
          {"ScalarValue":"host-1"},
          {"NullValue":true},
          {"TimeSeriesValue":[{"Time":"2019-12-04 19:00:00.000000000","Value":{"ScalarValue":"35.0"}}]},
          {"ArrayValue":[{"ScalarValue":"1"},{"ScalarValue":"2"}]},
          {"RowValue":{"Data":[{"ScalarValue":"1"},{"ScalarValue":"x"}]}}
        ]});
        let data = Datum::row_from_json(&row).unwrap();
        let sc = |s: &str| Datum::Scalar(s.into());
        assert_eq!(
            data,
            vec![
                sc("host-1"),
                Datum::Null,
                Datum::TimeSeries(vec![("2019-12-04 19:00:00.000000000".into(), sc("35.0"))]),
                Datum::Array(vec![sc("1"), sc("2")]),
                Datum::Row(vec![sc("1"), sc("x")]),
            ]
        );
        let schema = [
            ("hostname".to_string(), s(ScalarType::Varchar)),
            ("n".to_string(), s(ScalarType::Unknown)),
            ("cpu_utilization".to_string(), TsType::TimeSeries(Box::new(s(ScalarType::Double)))),
            ("vals".to_string(), TsType::Array(Box::new(s(ScalarType::Integer)))),
            (
                "r".to_string(),
                TsType::Row(vec![("a".into(), s(ScalarType::Bigint)), ("b".into(), s(ScalarType::Varchar))]),
            ),
        ];
        let batch = rows_to_batch(&schema, vec![data]).unwrap();
        assert_eq!(batch.column(0).as_string::<i32>().value(0), "host-1");
        assert_eq!(batch.column(1).data_type(), &DataType::Null);
        let series = batch.column(2).as_list::<i32>().value(0);
        let points = series.as_struct();
        assert_eq!(points.column(0).as_primitive::<TimestampNanosecondType>().value(0), ts("2019-12-04 19:00:00"));
        assert_eq!(points.column(1).as_primitive::<Float64Type>().value(0), 35.0);
        assert_eq!(batch.column(3).as_list::<i32>().value(0).as_primitive::<Int32Type>().values(), &[1, 2]);
        let r = batch.column(4).as_struct();
        assert_eq!(r.column(0).as_primitive::<Int64Type>().value(0), 1);
        assert_eq!(batch.schema().field(2), &schema[2].1.to_field("cpu_utilization"));

        for bad in [
            json!("x"),
            json!({}),
            json!({"NullValue": false}),
            json!({"ScalarValue": 1}),
            json!({"ArrayValue": {}}),
            json!({"RowValue": []}),
            json!({"TimeSeriesValue": [{"Time": "t"}]}),
            json!({"TimeSeriesValue": [{"Value": {"NullValue": true}}]}),
        ] {
            assert!(matches!(Datum::from_json(&bad), Err(TypeError::NotDatum(_))), "{bad}");
        }
    }

    fn round_trip(t: &TsType, original: &ArrayRef) {
        assert_eq!(original.data_type(), &t.to_arrow());
        let mut b = ColumnBuilder::new(t);
        for pass in 0..2 {
            for i in 0..original.len() {
                let text = render_datum(original, i, t).to_string();
                let d = Datum::from_json(&serde_json::from_str(&text).unwrap()).unwrap();
                b.append(d).unwrap_or_else(|e| panic!("{text}: {e}"));
            }
            assert_eq!(b.len(), original.len());
            let rebuilt = b.finish();
            assert_eq!(rebuilt.data_type(), original.data_type(), "pass {pass}");
            assert_eq!(rebuilt.to_data(), original.to_data(), "pass {pass}");
            assert!(b.is_empty());
        }
    }

    #[test]
    fn scalar_edge_values_round_trip() {
        let cases: Vec<(ScalarType, ArrayRef)> = vec![
            (
                ScalarType::Varchar,
                Arc::new(StringArray::from(vec![Some(""), None, Some("ö°C 🌡"), Some("a\"b\\c\n\u{0}"), Some("NaN")])),
            ),
            (ScalarType::Boolean, Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)]))),
            (
                ScalarType::Bigint,
                Arc::new(Int64Array::from(vec![Some(i64::MIN), Some(i64::MAX), None, Some(0), Some(-1)])),
            ),
            (ScalarType::Integer, Arc::new(Int32Array::from(vec![Some(i32::MIN), Some(i32::MAX), None, Some(0)]))),
            (
                ScalarType::Double,
                Arc::new(Float64Array::from(vec![
                    Some(f64::NAN),
                    Some(f64::INFINITY),
                    Some(f64::NEG_INFINITY),
                    Some(-0.0),
                    Some(0.0),
                    None,
                    Some(f64::MIN_POSITIVE),
                    Some(5e-324),
                    Some(f64::MAX),
                    Some(f64::MIN),
                    Some(1e7),
                    Some(9_999_999.999_999_998),
                    Some(1e-3),
                    Some(0.000_999_999_999_999_999_9),
                    Some(0.1 + 0.2),
                ])),
            ),
            (
                ScalarType::Timestamp,
                Arc::new(
                    TimestampNanosecondArray::from(vec![
                        Some(i64::MIN),
                        Some(i64::MAX),
                        Some(-1),
                        Some(0),
                        None,
                        Some(-86_400_000_000_001),
                        Some(1_667_000_000_123_456_789),
                    ])
                    .with_timezone("UTC"),
                ),
            ),
            (
                ScalarType::Date,
                Arc::new(Date32Array::from(vec![Some(0), Some(-1), None, Some(-719_468), Some(106_751)])),
            ),
            (ScalarType::Time, Arc::new(Time64NanosecondArray::from(vec![Some(0), Some(NS_PER_DAY - 1), None]))),
            (
                ScalarType::IntervalDayToSecond,
                Arc::new(DurationNanosecondArray::from(vec![
                    Some(i64::MIN),
                    Some(i64::MAX),
                    Some(-1),
                    Some(0),
                    None,
                    Some(42_800_000),
                ])),
            ),
            (
                ScalarType::IntervalYearToMonth,
                Arc::new(IntervalYearMonthArray::from(vec![
                    Some(i32::MIN),
                    Some(i32::MAX),
                    Some(-1),
                    Some(-12),
                    Some(-13),
                    None,
                    Some(50),
                ])),
            ),
            (ScalarType::Unknown, Arc::new(NullArray::new(3))),
        ];
        for (t, array) in cases {
            round_trip(&s(t), &array);
        }
    }

    #[test]
    fn nested_values_round_trip() {
        // ARRAY(ROW(t TIMESTAMP, v ARRAY(DOUBLE))) with nulls at every level.
        let row_type = TsType::Row(vec![
            ("t".into(), s(ScalarType::Timestamp)),
            ("v".into(), TsType::Array(Box::new(s(ScalarType::Double)))),
        ]);
        let t = TsType::Array(Box::new(row_type.clone()));
        let DataType::Struct(row_fields) = row_type.to_arrow() else { unreachable!() };
        let doubles: ArrayRef = Arc::new(Float64Array::from(vec![Some(1.5), None, Some(f64::NAN), Some(-0.0)]));
        let v: ArrayRef = Arc::new(ListArray::new(
            Arc::new(Field::new("item", DataType::Float64, true)),
            OffsetBuffer::from_lengths([2, 0, 2, 0]),
            doubles,
            Some(NullBuffer::from(vec![true, true, true, false])),
        ));
        let times: ArrayRef =
            Arc::new(TimestampNanosecondArray::from(vec![Some(-5), None, Some(i64::MAX), None]).with_timezone("UTC"));
        let rows: ArrayRef = Arc::new(StructArray::new(
            row_fields,
            vec![times, v],
            Some(NullBuffer::from(vec![true, true, true, false])),
        ));
        let DataType::List(item) = t.to_arrow() else { unreachable!() };
        let array: ArrayRef = Arc::new(ListArray::new(
            item,
            OffsetBuffer::from_lengths([3, 0, 0, 1]),
            rows,
            Some(NullBuffer::from(vec![true, false, true, true])),
        ));
        round_trip(&t, &array);

        // TIMESERIES of each scalar type.
        for value_type in [ScalarType::Double, ScalarType::Bigint, ScalarType::Varchar, ScalarType::Boolean] {
            let t = TsType::TimeSeries(Box::new(s(value_type)));
            let mut b = ColumnBuilder::new(&t);
            let v = match value_type {
                ScalarType::Double => "35.0",
                ScalarType::Bigint => "-7",
                ScalarType::Varchar => "",
                _ => "true",
            };
            let points = vec![
                ("1969-12-31 23:59:59.999999999".to_string(), Datum::Scalar(v.into())),
                ("2262-04-11 23:47:16.854775807".to_string(), Datum::Null),
            ];
            b.append(Datum::TimeSeries(points)).unwrap();
            b.append(Datum::Null).unwrap();
            b.append(Datum::TimeSeries(vec![])).unwrap();
            let array = b.finish();
            assert_eq!(array.data_type(), &t.to_arrow());
            assert_eq!((array.len(), array.null_count()), (3, 1));
            round_trip(&t, &array);
        }

        // An empty ROW.
        let t = TsType::Row(vec![]);
        round_trip(&t, &(Arc::new(StructArray::new_empty_fields(2, Some(NullBuffer::from(vec![true, false])))) as _));
    }

    #[test]
    fn errors_leave_the_builder_consistent() {
        let t = TsType::Array(Box::new(TsType::Row(vec![
            ("a".into(), s(ScalarType::Bigint)),
            ("s".into(), TsType::TimeSeries(Box::new(s(ScalarType::Double)))),
        ])));
        let mut b = ColumnBuilder::new(&t);
        let sc = |s: &str| Datum::Scalar(s.into());
        let good = || {
            Datum::Array(vec![Datum::Row(vec![
                sc("1"),
                Datum::TimeSeries(vec![("2020-01-01 00:00:00.000000000".into(), sc("1.0"))]),
            ])])
        };
        b.append(good()).unwrap();
        let bad_values = [
            (sc("1"), "expected ARRAY(ROW(a BIGINT, s TIMESERIES(DOUBLE))), got a ScalarValue"),
            (Datum::Array(vec![sc("1")]), "expected ROW(a BIGINT, s TIMESERIES(DOUBLE)), got a ScalarValue"),
            (
                Datum::Array(vec![Datum::Row(vec![sc("1")])]),
                "expected ROW(a BIGINT, s TIMESERIES(DOUBLE)) with 2 fields, got a RowValue with 1",
            ),
            (Datum::Array(vec![Datum::Row(vec![sc("x"), Datum::Null])]), "not a BIGINT: \"x\""),
            (
                Datum::Array(vec![Datum::Row(vec![
                    sc("1"),
                    Datum::TimeSeries(vec![("2020-01-01 00:00:00".into(), sc("1.0")), ("later".into(), sc("2.0"))]),
                ])]),
                "not a TIMESTAMP: \"later\"",
            ),
            (
                Datum::Array(vec![
                    Datum::Null,
                    Datum::Row(vec![
                        Datum::Null,
                        Datum::TimeSeries(vec![("2020-01-01 00:00:00".into(), Datum::Array(vec![]))]),
                    ]),
                ]),
                "expected DOUBLE, got an ArrayValue",
            ),
        ];
        for (value, message) in bad_values {
            assert_eq!(b.append(value).unwrap_err().to_string(), message);
            b.append(good()).unwrap();
        }
        let array = b.finish();
        assert_eq!((array.len(), array.null_count()), (13, 6));
        array.to_data().validate_full().unwrap();
        for i in (0..13).step_by(2) {
            assert_eq!(render_datum(&array, i, &t), render_datum(&array, 0, &t));
        }

        let mut u = ColumnBuilder::new(&s(ScalarType::Unknown));
        assert!(u.append(Datum::Null).is_ok());
        assert_eq!(u.append(sc("1")).unwrap_err().to_string(), "expected UNKNOWN, got a ScalarValue");
        assert_eq!(u.finish().len(), 2);
    }

    #[test]
    fn batches_name_the_row_and_column() {
        let schema = [("a".to_string(), s(ScalarType::Integer)), ("b".to_string(), s(ScalarType::Date))];
        let sc = |s: &str| Datum::Scalar(s.into());
        let mut b = BatchBuilder::new(&schema);
        b.append_row([sc("1"), sc("2020-01-01")]).unwrap();
        assert_eq!(
            b.append_row([sc("1"), sc("2020-02-30")]).unwrap_err().to_string(),
            "row 1, column \"b\": not a DATE: \"2020-02-30\""
        );
        assert_eq!(b.append_row([sc("1")]).unwrap_err().to_string(), "row 2 has 1 values for 2 columns");
        assert_eq!(
            b.append_row([sc("1"), Datum::Null, Datum::Null]).unwrap_err().to_string(),
            "row 3 has 3 values for 2 columns"
        );
        let batch = b.finish().unwrap();
        assert_eq!(batch.num_rows(), 4);
        assert_eq!(batch.column(1).null_count(), 3);
        b.append_row([Datum::Null, Datum::Null]).unwrap();
        assert_eq!(
            b.append_row([sc("x"), Datum::Null]).unwrap_err().to_string(),
            "row 5, column \"a\": not an INTEGER: \"x\""
        );
        assert_eq!(b.finish().unwrap().num_rows(), 2);
        assert_eq!(rows_to_batch(&[], vec![vec![], vec![]]).unwrap().num_rows(), 2);
    }
}
