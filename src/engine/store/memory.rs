//! The in-memory store of one table, columnar.
//!
//! Rows are kept by the hour of their time: each hour holds Arrow builders, one per value column
//! (a `measure_value::<type>` column per single-measure type, a column per MULTI attribute),
//! next to plain vectors of each row's series, measure name, time and version, and the hour's
//! identity index (series, measure name, time → row). Writing a row appends to the builders;
//! nothing is allocated per value. A row replaced by a higher version (or undone) stays in the
//! builders, marked dead, and the index points to its successor; an hour with more dead rows
//! than live ones is rebuilt (`TableData::reclaim`).
//!
//! A query takes each hour as a record batch in the table's SQL layout, built from the
//! builders when a query first needs it and kept until a row of that hour changes (or a column
//! appears), so steady ingestion only rebuilds the current hour. A tiering pass copies the hours
//! leaving memory out as arrays ([`Frozen`]) and, with the table unlocked, makes them one batch
//! in the file layout ([`super::layout`]), sorted by series, measure name and time. Retention
//! drops whole hours, and marks the older rows of a partly expired hour dead.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::RangeInclusive;
use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampNanosecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType};
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, TimestampNanosecondArray, new_null_array};
use arrow_buffer::bit_util;
use arrow_schema::{ArrowError, DataType, SchemaRef};

use super::layout::{arrow_type, file_schema};

/// The type of a measure or multi-measure attribute: the same types a client writes (the
/// write-ahead log stores them by variant name).
pub use crate::records::ValueType as MeasureType;

/// The columns a table has had, with the types its measures are locked to (kept here so that
/// a restart knows them without reading the files).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Columns {
    /// Dimension names.
    pub dimensions: BTreeSet<String>,
    /// MULTI attribute names.
    pub attributes: BTreeSet<String>,
    /// Single-measure types written.
    pub singles: BTreeSet<MeasureType>,
    /// The type of every measure and attribute name.
    pub types: BTreeMap<String, MeasureType>,
    /// Every measure name: its kind and the dimensions written with it.
    #[serde(default)]
    pub measures: BTreeMap<String, (String, BTreeSet<String>)>,
}

/// One typed value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ScalarValue {
    /// A DOUBLE.
    Double(f64),
    /// A BIGINT.
    Bigint(i64),
    /// A VARCHAR.
    Varchar(String),
    /// A BOOLEAN.
    Boolean(bool),
    /// A TIMESTAMP, ns since the epoch.
    Timestamp(i64),
}

impl ScalarValue {
    /// Its type.
    pub fn kind(&self) -> MeasureType {
        match self {
            Self::Double(_) => MeasureType::Double,
            Self::Bigint(_) => MeasureType::Bigint,
            Self::Varchar(_) => MeasureType::Varchar,
            Self::Boolean(_) => MeasureType::Boolean,
            Self::Timestamp(_) => MeasureType::Timestamp,
        }
    }
}

/// What a record measures: one value, or named values (MULTI).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Measure {
    /// A single-measure record.
    Single(ScalarValue),
    /// A multi-measure record; attributes sorted by name.
    Multi(Vec<(String, ScalarValue)>),
}

/// A validated record, ready to apply (and the unit of the write-ahead log).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewRecord {
    /// Dimensions, sorted by name.
    pub dimensions: Vec<(String, String)>,
    /// The measure name.
    pub measure_name: String,
    /// Time, ns since the epoch.
    pub time_ns: i64,
    /// The version given, if any (default 1).
    pub version: Option<i64>,
    /// The value(s).
    pub measure: Measure,
}

/// What applying a record did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Apply {
    /// Stored (new, replaced, version bumped, or an identical repeat).
    Written,
    /// Refused: the reason and the version already stored.
    Conflict {
        /// The rejection reason.
        reason: String,
        /// The stored version.
        existing_version: i64,
    },
    /// Refused for another reason (a type change, a column clash).
    Invalid(String),
}

/// One hour's values of one column: an Arrow builder that can also be read row by row, or,
/// once [sealed](Col::seal), the array it built, which copies out at no cost (a tiering pass
/// seals the hours it takes, under the table's lock). A write into a sealed hour makes it a
/// builder again.
enum Col {
    Double(Float64Builder),
    Bigint(Int64Builder),
    Varchar(StringBuilder),
    Boolean(BooleanBuilder),
    Timestamp(TimestampNanosecondBuilder),
    Sealed(ArrayRef),
}

fn valid(validity: Option<&[u8]>, i: usize) -> bool {
    validity.is_none_or(|bits| bit_util::get_bit(bits, i))
}

impl Col {
    /// An empty column of type `t`.
    fn new(t: MeasureType) -> Self {
        match t {
            MeasureType::Double => Self::Double(Float64Builder::new()),
            MeasureType::Bigint => Self::Bigint(Int64Builder::new()),
            MeasureType::Varchar => Self::Varchar(StringBuilder::new()),
            MeasureType::Boolean => Self::Boolean(BooleanBuilder::new()),
            MeasureType::Timestamp => Self::Timestamp(TimestampNanosecondBuilder::new()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Double(b) => b.len(),
            Self::Bigint(b) => b.len(),
            Self::Varchar(b) => b.len(),
            Self::Boolean(b) => b.len(),
            Self::Timestamp(b) => b.len(),
            Self::Sealed(a) => a.len(),
        }
    }

    /// Appends `v`, or NULL when it is of another type (which the column ids rule out).
    fn push(&mut self, v: &ScalarValue) {
        self.unseal();
        match (self, v) {
            (Self::Double(b), ScalarValue::Double(x)) => b.append_value(*x),
            (Self::Bigint(b), ScalarValue::Bigint(x)) => b.append_value(*x),
            // Past 2 GiB of text Arrow's offsets would overflow: writes are refused before
            // ([`Hour::has_room`]), so only a replay could come here.
            (Self::Varchar(b), ScalarValue::Varchar(x)) if b.values_slice().len() + x.len() <= i32::MAX as usize => {
                b.append_value(x)
            }
            (Self::Boolean(b), ScalarValue::Boolean(x)) => b.append_value(*x),
            (Self::Timestamp(b), ScalarValue::Timestamp(x)) => b.append_value(*x),
            (c, _) => c.push_nulls(1),
        }
    }

    fn push_nulls(&mut self, n: usize) {
        self.unseal();
        match self {
            Self::Double(b) => b.append_nulls(n),
            Self::Bigint(b) => b.append_nulls(n),
            Self::Varchar(b) => b.append_nulls(n),
            Self::Boolean(b) => b.append_nulls(n),
            Self::Timestamp(b) => b.append_nulls(n),
            Self::Sealed(_) => unreachable!("unsealed above"),
        }
    }

    /// Turns the builder into the array it holds, without copying.
    fn seal(&mut self) {
        let array: ArrayRef = match self {
            Self::Double(b) => Arc::new(b.finish()),
            Self::Bigint(b) => Arc::new(b.finish()),
            Self::Varchar(b) => Arc::new(b.finish()),
            Self::Boolean(b) => Arc::new(b.finish()),
            Self::Timestamp(b) => Arc::new(b.finish().with_timezone("UTC")),
            Self::Sealed(_) => return,
        };
        *self = Self::Sealed(array);
    }

    /// A sealed column made a builder again (its values copied into it), to take more rows.
    fn unseal(&mut self) {
        let Self::Sealed(a) = self else { return };
        let n = a.len();
        *self = match a.data_type() {
            DataType::Float64 => {
                let mut b = Float64Builder::with_capacity(n);
                b.extend(a.as_primitive::<Float64Type>().iter());
                Self::Double(b)
            }
            DataType::Int64 => {
                let mut b = Int64Builder::with_capacity(n);
                b.extend(a.as_primitive::<Int64Type>().iter());
                Self::Bigint(b)
            }
            DataType::Utf8 => {
                let strings = a.as_string::<i32>();
                let mut b = StringBuilder::with_capacity(n, strings.values().len());
                b.extend(strings.iter());
                Self::Varchar(b)
            }
            DataType::Boolean => {
                let mut b = BooleanBuilder::with_capacity(n);
                b.extend(a.as_boolean().iter());
                Self::Boolean(b)
            }
            _ => {
                let mut b = TimestampNanosecondBuilder::with_capacity(n);
                b.extend(a.as_primitive::<TimestampNanosecondType>().iter());
                Self::Timestamp(b)
            }
        };
    }

    fn is_valid(&self, i: usize) -> bool {
        match self {
            Self::Double(b) => valid(b.validity_slice(), i),
            Self::Bigint(b) => valid(b.validity_slice(), i),
            Self::Varchar(b) => valid(b.validity_slice(), i),
            Self::Boolean(b) => valid(b.validity_slice(), i),
            Self::Timestamp(b) => valid(b.validity_slice(), i),
            Self::Sealed(a) => a.is_valid(i),
        }
    }

    /// The value of row `i`, if not NULL.
    fn get(&self, i: usize) -> Option<ScalarValue> {
        if !self.is_valid(i) {
            return None;
        }
        Some(match self {
            Self::Double(b) => ScalarValue::Double(b.values_slice()[i]),
            Self::Bigint(b) => ScalarValue::Bigint(b.values_slice()[i]),
            Self::Varchar(b) => ScalarValue::Varchar(varchar_at(b, i).to_string()),
            Self::Boolean(b) => ScalarValue::Boolean(bit_util::get_bit(b.values_slice(), i)),
            Self::Timestamp(b) => ScalarValue::Timestamp(b.values_slice()[i]),
            Self::Sealed(a) => match a.data_type() {
                DataType::Float64 => ScalarValue::Double(a.as_primitive::<Float64Type>().value(i)),
                DataType::Int64 => ScalarValue::Bigint(a.as_primitive::<Int64Type>().value(i)),
                DataType::Utf8 => ScalarValue::Varchar(a.as_string::<i32>().value(i).to_string()),
                DataType::Boolean => ScalarValue::Boolean(a.as_boolean().value(i)),
                _ => ScalarValue::Timestamp(a.as_primitive::<TimestampNanosecondType>().value(i)),
            },
        })
    }

    /// Whether row `i` holds `v` (compared as [`ScalarValue`] compares, without copying).
    fn holds(&self, i: usize, v: &ScalarValue) -> bool {
        if !self.is_valid(i) {
            return false;
        }
        match (self, v) {
            (Self::Double(b), ScalarValue::Double(x)) => b.values_slice()[i] == *x,
            (Self::Bigint(b), ScalarValue::Bigint(x)) => b.values_slice()[i] == *x,
            (Self::Varchar(b), ScalarValue::Varchar(x)) => varchar_at(b, i) == x,
            (Self::Boolean(b), ScalarValue::Boolean(x)) => bit_util::get_bit(b.values_slice(), i) == *x,
            (Self::Timestamp(b), ScalarValue::Timestamp(x)) => b.values_slice()[i] == *x,
            (Self::Sealed(a), v) => match (a.data_type(), v) {
                (DataType::Float64, ScalarValue::Double(x)) => a.as_primitive::<Float64Type>().value(i) == *x,
                (DataType::Int64, ScalarValue::Bigint(x)) => a.as_primitive::<Int64Type>().value(i) == *x,
                (DataType::Utf8, ScalarValue::Varchar(x)) => a.as_string::<i32>().value(i) == x,
                (DataType::Boolean, ScalarValue::Boolean(x)) => a.as_boolean().value(i) == *x,
                (DataType::Timestamp(..), ScalarValue::Timestamp(x)) => {
                    a.as_primitive::<TimestampNanosecondType>().value(i) == *x
                }
                _ => false,
            },
            _ => false,
        }
    }

    /// Bytes of text held (VARCHAR columns; 0 for the others).
    fn text_bytes(&self) -> usize {
        match self {
            Self::Varchar(b) => b.values_slice().len(),
            Self::Sealed(a) if a.data_type() == &DataType::Utf8 => a.as_string::<i32>().values().len(),
            _ => 0,
        }
    }

    /// The values so far as an array (the builder keeps them; a sealed column shares its own).
    fn array(&self) -> ArrayRef {
        match self {
            Self::Double(b) => Arc::new(b.finish_cloned()),
            Self::Bigint(b) => Arc::new(b.finish_cloned()),
            Self::Varchar(b) => Arc::new(b.finish_cloned()),
            Self::Boolean(b) => Arc::new(b.finish_cloned()),
            Self::Timestamp(b) => Arc::new(b.finish_cloned().with_timezone("UTC")),
            Self::Sealed(a) => a.clone(),
        }
    }
}

fn varchar_at(b: &StringBuilder, i: usize) -> &str {
    let offsets = b.offsets_slice();
    let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
    // Only `&str`s are appended, whole, so any range between two offsets is UTF-8.
    std::str::from_utf8(&b.values_slice()[start..end]).unwrap_or_default()
}

impl std::fmt::Debug for Col {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Col({} rows)", self.len())
    }
}

/// What a value column holds: one single-measure type, or one MULTI attribute of one type.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ColumnKind {
    Single(MeasureType),
    Attribute(Arc<str>, MeasureType),
}

impl ColumnKind {
    fn kind(&self) -> MeasureType {
        match self {
            Self::Single(t) | Self::Attribute(_, t) => *t,
        }
    }
}

/// The rows of one hour.
#[derive(Debug, Default)]
struct Hour {
    /// (series, measure name, time) → the row holding that identity.
    index: HashMap<(u32, u32, i64), u32>,
    series: Vec<u32>,
    measure: Vec<u32>,
    time: Vec<i64>,
    version: Vec<i64>,
    /// False for a row replaced, undone or expired.
    live: Vec<bool>,
    live_rows: usize,
    /// Value columns by column id, each as long as the hour (NULL where a row lacks the column);
    /// an hour has the columns its rows used, and those of lower ids.
    columns: Vec<Col>,
    /// The hour in the table's SQL layout, as a query last took it, with the layout's
    /// generation; dropped when a row changes.
    batch: Option<(u64, Arc<RecordBatch>)>,
    /// The rows in time order, and how many of them the last expiry passed, so that expiring
    /// part of the hour on every write does not scan it each time; dropped when a row is added.
    by_time: Option<(Vec<u32>, usize)>,
}

impl Hour {
    fn len(&self) -> usize {
        self.time.len()
    }

    /// Whether `row` holds exactly `measure` (`columns` are its values' column ids).
    fn holds(&self, row: usize, measure: &Measure, columns: &[u32]) -> bool {
        let holds = |id: &u32, v: &ScalarValue| self.columns.get(*id as usize).is_some_and(|c| c.holds(row, v));
        // Every value (as many as columns), and no other.
        values(measure).count() == columns.len()
            && columns.iter().zip(values(measure)).all(|(id, v)| holds(id, v))
            && self.columns.iter().filter(|c| c.is_valid(row)).count() == columns.len()
    }

    /// Appends a row and makes it its identity's row in the index, its values in the columns
    /// `ids` (of the types `kinds` gives by id).
    fn append(
        &mut self,
        key: (u32, u32, i64),
        version: i64,
        measure: &Measure,
        ids: &[u32],
        kinds: &[ColumnKind],
    ) -> u32 {
        let row = self.len();
        let (series, name, time) = key;
        let widest = ids.iter().copied().max().map_or(0, |m| m as usize + 1);
        while self.columns.len() < widest {
            let mut c = Col::new(kinds[self.columns.len()].kind());
            c.push_nulls(row);
            self.columns.push(c);
        }
        for (id, v) in ids.iter().zip(values(measure)) {
            // A name given twice keeps its first value.
            let c = &mut self.columns[*id as usize];
            if c.len() == row {
                c.push(v);
            }
        }
        for c in self.columns.iter_mut().filter(|c| c.len() == row) {
            c.push_nulls(1);
        }
        self.series.push(series);
        self.measure.push(name);
        self.time.push(time);
        self.version.push(version);
        self.live.push(true);
        self.live_rows += 1;
        self.batch = None;
        self.by_time = None;
        self.index.insert(key, row as u32);
        row as u32
    }

    /// Marks `row` dead (or alive again).
    fn set_live(&mut self, row: usize, live: bool) {
        if self.live[row] != live {
            self.live[row] = live;
            if live {
                self.live_rows += 1;
            } else {
                self.live_rows -= 1;
            }
            self.batch = None;
        }
    }

    /// Marks the rows older than `cutoff_ns` dead and drops them from the index, returning how
    /// many were live.
    fn expire_before(&mut self, cutoff_ns: i64) -> usize {
        let time = &self.time;
        let (order, mut passed) = self.by_time.take().unwrap_or_else(|| {
            let mut order: Vec<u32> = (0..time.len() as u32).collect();
            order.sort_by_key(|&row| time[row as usize]);
            (order, 0)
        });
        let mut dropped = 0;
        while let Some(&row) = order.get(passed) {
            let row = row as usize;
            if self.time[row] >= cutoff_ns {
                break;
            }
            if self.live[row] {
                self.index.remove(&self.key(row));
                self.set_live(row, false);
                dropped += 1;
            }
            passed += 1;
        }
        self.by_time = Some((order, passed));
        dropped
    }

    /// Whether the hour's VARCHAR columns can take `measure`'s text (Arrow offsets are 32-bit:
    /// 2 GiB of text per column and hour).
    fn has_room(&self, measure: &Measure, ids: &[u32]) -> bool {
        ids.iter().zip(values(measure)).all(|(id, v)| match (self.columns.get(*id as usize), v) {
            (Some(c), ScalarValue::Varchar(x)) => c.text_bytes() + x.len() <= i32::MAX as usize,
            _ => true,
        })
    }

    fn key(&self, row: usize) -> (u32, u32, i64) {
        (self.series[row], self.measure[row], self.time[row])
    }

    /// The live rows, in order.
    fn live_row_ids(&self) -> impl Iterator<Item = usize> + '_ {
        self.live.iter().enumerate().filter(|(_, l)| **l).map(|(i, _)| i)
    }
}

/// One change of [`TableData::apply_undoable`], to take back.
#[derive(Debug)]
enum RowUndo {
    Added { hour: i64, row: u32 },
    Replaced { hour: i64, old: u32, new: u32 },
    Bumped { hour: i64, row: u32, version: i64 },
}

/// What [`TableData::apply_undoable`] changed, so that a write whose log entry could not be
/// written leaves no trace: the rows it added or replaced and the versions it raised, and the
/// columns it added.
#[derive(Debug, Default)]
pub struct Undo {
    rows: Vec<RowUndo>,
    types: Vec<String>,
    dimensions: Vec<String>,
    attributes: Vec<String>,
    single_types: Vec<MeasureType>,
    measures: Vec<String>,
    measure_dimensions: Vec<(String, String)>,
}

/// The rows of one table, and what the table's columns are.
#[derive(Debug, Default)]
pub struct TableData {
    series: HashMap<Arc<[(String, String)]>, u32>,
    series_dimensions: Vec<Arc<[(String, String)]>>,
    measure_ids: HashMap<Arc<str>, u32>,
    measure_names: Vec<Arc<str>>,
    /// What each value column id holds, and the ids by single-measure type and by attribute.
    column_kinds: Vec<ColumnKind>,
    single_columns: Vec<(MeasureType, u32)>,
    attribute_columns: HashMap<Arc<str>, Vec<(MeasureType, u32)>>,
    /// Rows by the start of their hour.
    hours: BTreeMap<i64, Hour>,
    live_rows: usize,
    /// Rows marked dead since the hours were last checked for space to reclaim.
    dead_since_reclaim: usize,
    /// Changes whenever the SQL layout (the column set) changes.
    layout_generation: u64,
    /// Single-measure names and multi-measure attribute names, with the type they were first
    /// written with.
    types: HashMap<String, MeasureType>,
    /// Every dimension name seen.
    dimension_names: BTreeSet<String>,
    /// Multi-measure attribute names seen (they are columns too).
    attribute_names: BTreeSet<String>,
    /// The types single-measure records were written with (a `measure_value::<type>` column each).
    single_types: BTreeSet<MeasureType>,
    /// Every measure name written, with its kind (a type's name in lower case, or `multi`) and
    /// the dimensions it was written with (what SHOW MEASURES lists).
    measures: BTreeMap<String, (String, BTreeSet<String>)>,
    /// The shape of the last record whose columns were checked and remembered: a record of the
    /// same shape passes the checks and brings no new column (columns are only added, except by
    /// [`TableData::undo`], which forgets it). Sensors send records of one shape, so this
    /// spares most writes a lookup per name.
    last_shape: Option<Shape>,
}

/// What decides a record's columns: its measure name, the types of its measure or attributes,
/// and its dimension names; and the value column ids its values go to.
#[derive(Debug, Clone, PartialEq)]
struct Shape {
    measure_name: String,
    single: Option<MeasureType>,
    attributes: Vec<(String, MeasureType)>,
    dimensions: Vec<String>,
    columns: Arc<[u32]>,
}

impl Shape {
    fn of(r: &NewRecord, columns: Arc<[u32]>) -> Self {
        let (single, attributes) = match &r.measure {
            Measure::Single(v) => (Some(v.kind()), Vec::new()),
            Measure::Multi(attrs) => (None, attrs.iter().map(|(n, v)| (n.clone(), v.kind())).collect()),
        };
        let dimensions = r.dimensions.iter().map(|(n, _)| n.clone()).collect();
        Shape { measure_name: r.measure_name.clone(), single, attributes, dimensions, columns }
    }

    /// Whether `r` has this shape (compared without allocating).
    fn fits(&self, r: &NewRecord) -> bool {
        let typed = match &r.measure {
            Measure::Single(v) => self.single == Some(v.kind()) && self.attributes.is_empty(),
            Measure::Multi(attrs) => {
                self.single.is_none()
                    && attrs.len() == self.attributes.len()
                    && attrs.iter().zip(&self.attributes).all(|((n, v), (m, t))| v.kind() == *t && n == m)
            }
        };
        typed
            && self.measure_name == r.measure_name
            && r.dimensions.len() == self.dimensions.len()
            && r.dimensions.iter().zip(&self.dimensions).all(|((n, _), m)| n == m)
    }
}

/// The span of one hour of the memory store (a query's chunk).
pub const CHUNK_NS: i64 = 3_600_000_000_000;

fn chunk_of(time_ns: i64) -> i64 {
    time_ns.div_euclid(CHUNK_NS).saturating_mul(CHUNK_NS)
}

/// How many dead rows an hour may hold before [`TableData::reclaim`] rebuilds it (small in
/// tests, so that the model test reaches it).
const RECLAIM_FLOOR: usize = if cfg!(test) { 4 } else { 1024 };

/// A record's value(s), in order.
fn values(measure: &Measure) -> impl Iterator<Item = &ScalarValue> {
    let (single, attrs) = match measure {
        Measure::Single(v) => (Some(v), &[][..]),
        Measure::Multi(attrs) => (None, attrs.as_slice()),
    };
    single.into_iter().chain(attrs.iter().map(|(_, v)| v))
}

/// The value of dimension `name` in a series (its dimensions sorted by name).
fn dimension<'a>(series: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let i = series.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok()?;
    Some(series[i].1.as_str())
}

impl TableData {
    /// The number of rows.
    pub fn len(&self) -> usize {
        self.live_rows
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.live_rows == 0
    }

    /// Dimension names seen, sorted.
    pub fn dimension_names(&self) -> impl Iterator<Item = &str> {
        self.dimension_names.iter().map(String::as_str)
    }

    /// Every row as a record (its version given), in no particular order.
    pub fn records(&self) -> Vec<NewRecord> {
        let mut out = Vec::with_capacity(self.live_rows);
        for hour in self.hours.values() {
            out.extend(hour.live_row_ids().map(|row| self.record(hour, row)));
        }
        out
    }

    /// Row `row` of `hour` as a record.
    fn record(&self, hour: &Hour, row: usize) -> NewRecord {
        let mut single = None;
        let mut attrs = Vec::new();
        for (id, col) in hour.columns.iter().enumerate() {
            let Some(v) = col.get(row) else { continue };
            match &self.column_kinds[id] {
                ColumnKind::Single(_) => single = Some(v),
                ColumnKind::Attribute(name, _) => attrs.push((name.to_string(), v)),
            }
        }
        let measure = match single {
            Some(v) if attrs.is_empty() => Measure::Single(v),
            _ => {
                attrs.sort_by(|a, b| a.0.cmp(&b.0));
                Measure::Multi(attrs)
            }
        };
        NewRecord {
            dimensions: self.series_dimensions[hour.series[row] as usize].to_vec(),
            measure_name: self.measure_names[hour.measure[row] as usize].to_string(),
            time_ns: hour.time[row],
            version: Some(hour.version[row]),
            measure,
        }
    }

    /// The hours (their start, ns) that have rows, in order.
    pub fn chunk_starts(&self) -> Vec<i64> {
        self.hours.iter().filter(|(_, h)| h.live_rows > 0).map(|(s, _)| *s).collect()
    }

    /// Every hour's rows in the SQL layout of `schema` (this table's, as
    /// [`crate::engine::sql::table_schema`] gives it), in time order: those no row
    /// changed in since the last call as they were, the others built and kept.
    pub fn chunks(&mut self, schema: &SchemaRef) -> Result<Vec<(i64, Arc<RecordBatch>)>, ArrowError> {
        let generation = self.layout_generation;
        let mut built = Vec::new();
        for (start, hour) in &self.hours {
            if hour.live_rows > 0 && hour.batch.as_ref().is_none_or(|(g, _)| *g != generation) {
                built.push((*start, Arc::new(self.hour_batch(hour, self, schema)?)));
            }
        }
        for (start, batch) in built {
            if let Some(hour) = self.hours.get_mut(&start) {
                hour.batch = Some((generation, batch));
            }
        }
        Ok(self
            .hours
            .iter()
            .filter_map(|(start, h)| Some((*start, h.batch.as_ref().filter(|_| h.live_rows > 0)?.1.clone())))
            .collect())
    }

    /// Every row in the SQL layout of another table, `layout`, with its `schema` (a magnetic
    /// day loaded for writes, in its table's columns).
    pub fn batch_as(&self, layout: &TableData, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
        let batches = self
            .hours
            .values()
            .filter(|h| h.live_rows > 0)
            .map(|h| self.hour_batch(h, layout, schema))
            .collect::<Result<Vec<_>, _>>()?;
        arrow_select::concat::concat_batches(schema, &batches)
    }

    /// The column id of a single-measure type or an attribute, here.
    fn column_id(&self, kind: &ColumnKind) -> Option<u32> {
        match kind {
            ColumnKind::Single(t) => self.single_columns.iter().find(|(s, _)| s == t).map(|(_, id)| *id),
            ColumnKind::Attribute(n, t) => {
                self.attribute_columns.get(n)?.iter().find(|(s, _)| s == t).map(|(_, id)| *id)
            }
        }
    }

    /// One hour's live rows in the SQL layout of `layout` (dimensions, `measure_name`, `time`,
    /// single-measure types, attributes), sorted by time, then series (in the order the table
    /// first saw them) and measure name.
    fn hour_batch(&self, hour: &Hour, layout: &TableData, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
        let n = hour.len();
        let mut columns: Vec<ArrayRef> = Vec::new();
        for d in layout.dimension_names() {
            // Each series' value looked up once, for the series this hour has.
            let mut values: Vec<Option<Option<&str>>> = vec![None; self.series_dimensions.len()];
            let mut b = StringBuilder::with_capacity(n, n * 8);
            for s in &hour.series {
                let s = *s as usize;
                b.append_option(*values[s].get_or_insert_with(|| dimension(&self.series_dimensions[s], d)));
            }
            columns.push(Arc::new(b.finish()));
        }
        let mut names = StringBuilder::with_capacity(n, n * 8);
        for m in &hour.measure {
            names.append_value(&self.measure_names[*m as usize]);
        }
        columns.push(Arc::new(names.finish()));
        columns.push(Arc::new(TimestampNanosecondArray::from(hour.time.clone()).with_timezone("UTC")));
        let wanted = layout
            .single_types()
            .map(ColumnKind::Single)
            .chain(layout.attributes().map(|(name, t)| ColumnKind::Attribute(Arc::from(name), t)));
        for kind in wanted {
            let column = self.column_id(&kind).and_then(|id| hour.columns.get(id as usize));
            columns.push(match column {
                Some(c) => c.array(),
                None => new_null_array(&arrow_type(kind.kind()), n),
            });
        }
        let batch = RecordBatch::try_new(schema.clone(), columns)?;
        // Rows arrive mostly in time order: sorted (and live) rows are taken as they are.
        let key = |i: usize| (hour.time[i], hour.series[i], &*self.measure_names[hour.measure[i] as usize]);
        let sorted = (1..n).all(|i| key(i - 1) <= key(i));
        if sorted && hour.live_rows == n {
            return Ok(batch);
        }
        let mut rows: Vec<usize> = hour.live_row_ids().collect();
        if !sorted {
            rows.sort_unstable_by(|a, b| key(*a).cmp(&key(*b)));
        }
        let indices = arrow_array::UInt32Array::from_iter_values(rows.into_iter().map(|i| i as u32));
        arrow_select::take::take_record_batch(&batch, &indices)
    }

    /// The live rows whose time is in `times` in the file layout ([`super::layout`]): only the
    /// columns they use, sorted by series (their dimensions), measure name and time, with a
    /// version column if a version is not 1. `None` without rows.
    pub fn file_batch(&self, times: RangeInclusive<i64>) -> Result<Option<RecordBatch>, ArrowError> {
        self.frozen(times).file_batch()
    }

    /// Seals the value columns of the hours that hold times in `times`, so that
    /// [`TableData::frozen`] shares their arrays instead of copying them; a later write into
    /// one of those hours copies its columns back into builders. For rows about to leave
    /// memory: a tiering pass seals them under the table's lock in the time of a few
    /// allocations, where a copy of a day took 10–20 ms.
    pub fn seal(&mut self, times: RangeInclusive<i64>) {
        let end = *times.end();
        for (_, hour) in self.hours.range_mut(chunk_of(*times.start())..).take_while(|(s, _)| **s <= end) {
            hour.columns.iter_mut().for_each(Col::seal);
        }
    }

    /// A copy of the live rows whose time is in `times`, to turn into a file with the table
    /// unlocked ([`Frozen::file_batch`]): the hours' columns as arrays, nothing row by row.
    pub fn frozen(&self, times: RangeInclusive<i64>) -> Frozen {
        let hours = self
            .hours
            .range(chunk_of(*times.start())..)
            .take_while(|(s, _)| **s <= *times.end())
            .filter(|(_, h)| h.live_rows > 0)
            .map(|(_, h)| FrozenHour {
                series: h.series.clone(),
                measure: h.measure.clone(),
                time: h.time.clone(),
                version: h.version.clone(),
                live: h.live.iter().zip(&h.time).map(|(l, t)| *l && times.contains(t)).collect(),
                columns: h.columns.iter().map(Col::array).collect(),
            })
            .collect();
        Frozen {
            series_dimensions: self.series_dimensions.clone(),
            measure_names: self.measure_names.clone(),
            column_kinds: self.column_kinds.clone(),
            hours,
        }
    }

    /// The types of single-measure values written, in column order.
    pub fn single_types(&self) -> impl Iterator<Item = MeasureType> + '_ {
        self.single_types.iter().copied()
    }

    /// Multi-measure attribute names with their types, sorted by name.
    pub fn attributes(&self) -> impl Iterator<Item = (&str, MeasureType)> + '_ {
        self.attribute_names.iter().filter_map(|n| Some((n.as_str(), *self.types.get(n)?)))
    }

    /// The type a measure or attribute name is locked to, if written before.
    pub fn type_of(&self, name: &str) -> Option<MeasureType> {
        self.types.get(name).copied()
    }

    /// The columns and types written so far.
    pub fn columns(&self) -> Columns {
        Columns {
            dimensions: self.dimension_names.clone(),
            attributes: self.attribute_names.clone(),
            singles: self.single_types.clone(),
            types: self.types.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            measures: self.measures.clone(),
        }
    }

    /// Every measure name written: its kind (`double`, …, or `multi`) and its dimensions.
    pub fn measures(&self) -> &BTreeMap<String, (String, BTreeSet<String>)> {
        &self.measures
    }

    /// Starts from the columns and types a table had (after a restart, or for a day loaded
    /// from the magnetic store).
    pub fn seed_columns(&mut self, columns: &Columns) {
        self.dimension_names.extend(columns.dimensions.iter().cloned());
        self.attribute_names.extend(columns.attributes.iter().cloned());
        self.single_types.extend(columns.singles.iter().copied());
        for (k, v) in &columns.types {
            self.types.entry(k.clone()).or_insert(*v);
        }
        for (name, (kind, dims)) in &columns.measures {
            let entry = self.measures.entry(name.clone()).or_insert_with(|| (kind.clone(), BTreeSet::new()));
            entry.1.extend(dims.iter().cloned());
        }
        self.layout_generation += 1;
    }

    /// Checks `r` against the table's columns and types without changing anything.
    pub fn check_columns(&self, r: &NewRecord) -> Result<(), String> {
        let check_type = |name: &str, t: MeasureType| match self.types.get(name) {
            Some(&existing) if existing != t => {
                Err(format!("Measure {name} was written as {}; it cannot be written as {}.", existing.name(), t.name()))
            }
            _ => Ok(()),
        };
        match &r.measure {
            Measure::Single(v) => check_type(&r.measure_name, v.kind())?,
            Measure::Multi(attrs) => {
                for (name, v) in attrs {
                    check_type(name, v.kind())?;
                    if self.dimension_names.contains(name) {
                        return Err(format!("Measure {name} has the name of a dimension of this table."));
                    }
                }
            }
        }
        for (name, _) in &r.dimensions {
            if self.attribute_names.contains(name) {
                return Err(format!("Dimension {name} has the name of a measure of this table."));
            }
        }
        Ok(())
    }

    /// Applies a record with the service's identity rules: a new identity is stored; an equal
    /// value is an idempotent repeat (a higher version bumps the stored one); a different value
    /// needs a strictly higher version.
    pub fn apply(&mut self, r: &NewRecord) -> Apply {
        self.apply_undoable(r, &mut Undo::default())
    }

    /// [`TableData::apply`], noting in `undo` how to take the change back with
    /// [`TableData::undo`].
    pub fn apply_undoable(&mut self, r: &NewRecord, undo: &mut Undo) -> Apply {
        let known = self.last_shape.as_ref().is_some_and(|s| s.fits(r));
        if !known && let Err(reason) = self.check_columns(r) {
            return Apply::Invalid(reason);
        }
        let ids = self.value_columns(r);
        let version = r.version.unwrap_or(1);
        let key = (self.series_id(&r.dimensions), self.measure_id(&r.measure_name), r.time_ns);
        let start = chunk_of(r.time_ns);
        let kinds = &self.column_kinds;
        let hour = self.hours.entry(start).or_default();
        let existing = hour.index.get(&key).map(|row| (*row as usize, hour.holds(*row as usize, &r.measure, &ids)));
        if !existing.is_some_and(|(_, same)| same) && !hour.has_room(&r.measure, &ids) {
            return Apply::Invalid(
                "The memory store holds all the text it can for this record's hour (2 GiB per measure).".into(),
            );
        }
        match existing {
            Some((row, true)) => {
                // Versions are not columns: the hour's batch stays valid.
                if version > hour.version[row] {
                    undo.rows.push(RowUndo::Bumped { hour: start, row: row as u32, version: hour.version[row] });
                    hour.version[row] = version;
                }
            }
            Some((row, false)) => {
                let existing = hour.version[row];
                if version < existing {
                    return Apply::Conflict {
                        reason: format!(
                            "The record version {version} is lower than the existing version {existing}. A higher version is required to update the measure value."
                        ),
                        existing_version: existing,
                    };
                } else if version == existing {
                    return Apply::Conflict {
                        reason: "A record already exists with the same time, dimensions, measure name, and record version. A higher record version must be specified in order to update the measure value. Specifying record version is supported by the latest SDKs.".into(),
                        existing_version: existing,
                    };
                }
                hour.set_live(row, false);
                let new = hour.append(key, version, &r.measure, &ids, kinds);
                undo.rows.push(RowUndo::Replaced { hour: start, old: row as u32, new });
                self.dead_since_reclaim += 1;
            }
            None => {
                let row = hour.append(key, version, &r.measure, &ids, kinds);
                undo.rows.push(RowUndo::Added { hour: start, row });
                self.live_rows += 1;
            }
        }
        if !known {
            self.remember_columns(r, Some(undo));
            self.last_shape = Some(Shape::of(r, ids));
        }
        Apply::Written
    }

    /// Takes back what [`TableData::apply_undoable`] calls noted in `undo` did, newest first.
    pub fn undo(&mut self, undo: Undo) {
        self.last_shape = None;
        for change in undo.rows.into_iter().rev() {
            let at = match &change {
                RowUndo::Added { hour, .. } | RowUndo::Replaced { hour, .. } | RowUndo::Bumped { hour, .. } => *hour,
            };
            let Some(hour) = self.hours.get_mut(&at) else { continue };
            match change {
                RowUndo::Added { row, .. } => {
                    let row = row as usize;
                    hour.index.remove(&hour.key(row));
                    hour.set_live(row, false);
                    self.live_rows -= 1;
                    self.dead_since_reclaim += 1;
                }
                RowUndo::Replaced { old, new, .. } => {
                    hour.set_live(new as usize, false);
                    hour.set_live(old as usize, true);
                    hour.index.insert(hour.key(old as usize), old);
                }
                RowUndo::Bumped { row, version, .. } => hour.version[row as usize] = version,
            }
        }
        let columns = undo.dimensions.len() + undo.attributes.len() + undo.single_types.len();
        for n in &undo.types {
            self.types.remove(n);
        }
        for n in &undo.dimensions {
            self.dimension_names.remove(n);
        }
        for n in &undo.attributes {
            self.attribute_names.remove(n);
        }
        for t in &undo.single_types {
            self.single_types.remove(t);
        }
        for (m, d) in &undo.measure_dimensions {
            if let Some(entry) = self.measures.get_mut(m) {
                entry.1.remove(d);
            }
        }
        for m in &undo.measures {
            self.measures.remove(m);
        }
        if columns > 0 {
            self.layout_generation += 1;
        }
    }

    /// Re-applies a record that was accepted before (replaying the write-ahead log): it takes
    /// the identity whatever is stored, since its acceptance was decided then (an identity may
    /// have expired in between, which replay does not re-enact), except that an identical
    /// value keeps the higher version, as an idempotent repeat did.
    pub fn restore(&mut self, r: NewRecord) {
        let known = self.last_shape.as_ref().is_some_and(|s| s.fits(&r));
        let ids = self.value_columns(&r);
        if !known {
            self.remember_columns(&r, None);
            self.last_shape = Some(Shape::of(&r, ids.clone()));
        }
        let version = r.version.unwrap_or(1);
        let key = (self.series_id(&r.dimensions), self.measure_id(&r.measure_name), r.time_ns);
        let kinds = &self.column_kinds;
        let hour = self.hours.entry(chunk_of(r.time_ns)).or_default();
        match hour.index.get(&key).map(|row| *row as usize) {
            Some(row) if hour.holds(row, &r.measure, &ids) => hour.version[row] = hour.version[row].max(version),
            Some(row) => {
                hour.set_live(row, false);
                hour.append(key, version, &r.measure, &ids, kinds);
                self.dead_since_reclaim += 1;
            }
            None => {
                hour.append(key, version, &r.measure, &ids, kinds);
                self.live_rows += 1;
            }
        }
    }

    /// The value column ids of `r`'s values, in its order (from the last shape when it fits).
    fn value_columns(&mut self, r: &NewRecord) -> Arc<[u32]> {
        if let Some(shape) = self.last_shape.as_ref().filter(|s| s.fits(r)) {
            return shape.columns.clone();
        }
        match &r.measure {
            Measure::Single(v) => Arc::new([self.column(ColumnKind::Single(v.kind()))]),
            Measure::Multi(attrs) => {
                attrs.iter().map(|(n, v)| self.column(ColumnKind::Attribute(Arc::from(n.as_str()), v.kind()))).collect()
            }
        }
    }

    /// The id of a value column, made if new.
    fn column(&mut self, kind: ColumnKind) -> u32 {
        if let Some(id) = self.column_id(&kind) {
            return id;
        }
        let id = self.column_kinds.len() as u32;
        match &kind {
            ColumnKind::Single(t) => self.single_columns.push((*t, id)),
            ColumnKind::Attribute(n, t) => self.attribute_columns.entry(n.clone()).or_default().push((*t, id)),
        }
        self.column_kinds.push(kind);
        id
    }

    fn series_id(&mut self, dimensions: &[(String, String)]) -> u32 {
        if let Some(&id) = self.series.get(dimensions) {
            return id;
        }
        let id = self.series_dimensions.len() as u32;
        let shared: Arc<[(String, String)]> = Arc::from(dimensions);
        self.series.insert(shared.clone(), id);
        self.series_dimensions.push(shared);
        id
    }

    fn measure_id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.measure_ids.get(name) {
            return id;
        }
        let id = self.measure_names.len() as u32;
        let shared: Arc<str> = Arc::from(name);
        self.measure_ids.insert(shared.clone(), id);
        self.measure_names.push(shared);
        id
    }

    /// Adds the columns `r` brings (noted in `undo` to take back).
    pub fn remember_columns(&mut self, r: &NewRecord, mut undo: Option<&mut Undo>) {
        let mut new_column = false;
        if !self.measures.contains_key(&r.measure_name) {
            let kind = match &r.measure {
                Measure::Single(v) => v.kind().name().to_lowercase(),
                Measure::Multi(_) => "multi".to_string(),
            };
            self.measures.insert(r.measure_name.clone(), (kind, BTreeSet::new()));
            if let Some(u) = undo.as_mut() {
                u.measures.push(r.measure_name.clone());
            }
        }
        if let Some((_, dims)) = self.measures.get_mut(&r.measure_name) {
            for (name, _) in &r.dimensions {
                if !dims.contains(name) {
                    dims.insert(name.clone());
                    if let Some(u) = undo.as_mut() {
                        u.measure_dimensions.push((r.measure_name.clone(), name.clone()));
                    }
                }
            }
        }
        for (name, _) in &r.dimensions {
            if !self.dimension_names.contains(name) {
                self.dimension_names.insert(name.clone());
                if let Some(u) = undo.as_mut() {
                    u.dimensions.push(name.clone());
                }
                new_column = true;
            }
        }
        // The names this record types (its measure, or its MULTI attributes), without
        // allocating: this runs for every record written and replayed.
        let (single, attrs): (Option<MeasureType>, &[(String, ScalarValue)]) = match &r.measure {
            Measure::Single(v) => (Some(v.kind()), &[]),
            Measure::Multi(attrs) => (None, attrs),
        };
        let typed = single
            .map(|t| (r.measure_name.as_str(), t))
            .into_iter()
            .chain(attrs.iter().map(|(n, v)| (n.as_str(), v.kind())));
        for (name, t) in typed {
            if !self.types.contains_key(name) {
                self.types.insert(name.to_string(), t);
                if let Some(u) = undo.as_mut() {
                    u.types.push(name.to_string());
                }
            }
        }
        if let Some(t) = single
            && self.single_types.insert(t)
        {
            if let Some(u) = undo.as_mut() {
                u.single_types.push(t);
            }
            new_column = true;
        }
        for (name, _) in attrs {
            if !self.attribute_names.contains(name) {
                self.attribute_names.insert(name.clone());
                if let Some(u) = undo.as_mut() {
                    u.attributes.push(name.clone());
                }
                new_column = true;
            }
        }
        if new_column {
            // Every hour's batch has the old columns.
            self.layout_generation += 1;
        }
    }

    /// The rows the builders hold, dead ones included.
    #[cfg(test)]
    fn rows_held(&self) -> usize {
        self.hours.values().map(Hour::len).sum()
    }

    /// Rebuilds each hour whose dead rows (replaced or undone) outnumber its live ones and a
    /// floor, once enough rows died since the last check: rewriting the same identities over
    /// and over then holds memory in proportion to the rows, not to the rewrites. It renumbers
    /// rows, so it runs only where no [`Undo`] is pending ([`TableData::expire_before`]).
    fn reclaim(&mut self) {
        if self.dead_since_reclaim < RECLAIM_FLOOR {
            return;
        }
        self.dead_since_reclaim = 0;
        let wasteful: Vec<i64> = self
            .hours
            .iter()
            .filter(|(_, h)| h.len() - h.live_rows > h.live_rows.max(RECLAIM_FLOOR))
            .map(|(start, _)| *start)
            .collect();
        for start in wasteful {
            let Some(old) = self.hours.remove(&start) else { continue };
            if old.live_rows == 0 {
                continue;
            }
            let mut hour = Hour::default();
            for row in old.live_row_ids() {
                let r = self.record(&old, row);
                let ids = self.value_columns(&r);
                hour.append(old.key(row), old.version[row], &r.measure, &ids, &self.column_kinds);
            }
            self.hours.insert(start, hour);
        }
    }

    /// Deletes rows older than `cutoff_ns`, returning how many went (and reclaims the space of
    /// rows replaced since: see `TableData::reclaim`).
    pub fn expire_before(&mut self, cutoff_ns: i64) -> usize {
        self.reclaim();
        let start = chunk_of(cutoff_ns);
        let kept = self.hours.split_off(&start);
        let mut dropped: usize = self.hours.values().map(|h| h.live_rows).sum();
        self.hours = kept;
        if start < cutoff_ns
            && let Some(hour) = self.hours.get_mut(&start)
        {
            dropped += hour.expire_before(cutoff_ns);
        }
        self.live_rows -= dropped;
        dropped
    }
}

/// Rows of the memory store copied out of it, as arrays (see [`TableData::frozen`]).
#[derive(Debug)]
pub struct Frozen {
    series_dimensions: Vec<Arc<[(String, String)]>>,
    measure_names: Vec<Arc<str>>,
    column_kinds: Vec<ColumnKind>,
    hours: Vec<FrozenHour>,
}

/// One hour of [`Frozen`] rows; `live` marks the rows taken.
#[derive(Debug)]
struct FrozenHour {
    series: Vec<u32>,
    measure: Vec<u32>,
    time: Vec<i64>,
    version: Vec<i64>,
    live: Vec<bool>,
    columns: Vec<ArrayRef>,
}

impl Frozen {
    /// The number of rows taken.
    pub fn len(&self) -> usize {
        self.hours.iter().map(|h| h.live.iter().filter(|l| **l).count()).sum()
    }

    /// Whether no row was taken.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows in the file layout, as [`TableData::file_batch`] describes it.
    pub fn file_batch(&self) -> Result<Option<RecordBatch>, ArrowError> {
        let hours = &self.hours;
        let mut rows: Vec<(usize, usize)> = Vec::new();
        for (k, hour) in hours.iter().enumerate() {
            rows.extend(hour.live.iter().enumerate().filter(|(_, l)| **l).map(|(i, _)| (k, i)));
        }
        if rows.is_empty() {
            return Ok(None);
        }
        // Each series and measure name is ranked once by its text, then rows by rank.
        let mut series: Vec<u32> = rows.iter().map(|&(k, i)| hours[k].series[i]).collect();
        series.sort_unstable();
        series.dedup();
        series.sort_by(|a, b| self.series_dimensions[*a as usize].cmp(&self.series_dimensions[*b as usize]));
        let mut series_rank = vec![u32::MAX; self.series_dimensions.len()];
        series.iter().enumerate().for_each(|(rank, s)| series_rank[*s as usize] = rank as u32);
        let mut names: Vec<u32> = (0..self.measure_names.len() as u32).collect();
        names.sort_by(|a, b| self.measure_names[*a as usize].cmp(&self.measure_names[*b as usize]));
        let mut name_rank = vec![0u32; names.len()];
        names.iter().enumerate().for_each(|(rank, m)| name_rank[*m as usize] = rank as u32);
        rows.sort_unstable_by_key(|&(k, i)| {
            let h = &hours[k];
            (series_rank[h.series[i] as usize], name_rank[h.measure[i] as usize], h.time[i])
        });

        let dims: BTreeSet<&str> =
            series.iter().flat_map(|s| self.series_dimensions[*s as usize].iter().map(|(n, _)| n.as_str())).collect();
        let dims: Vec<&str> = dims.into_iter().collect();
        // The value columns these rows use: singles by type, then attributes by name (one type
        // each: the first column that has values).
        let used = |id: usize| rows.iter().any(|&(k, i)| hours[k].columns.get(id).is_some_and(|c| c.is_valid(i)));
        let mut singles: Vec<(MeasureType, usize)> = Vec::new();
        let mut attrs: BTreeMap<&str, (MeasureType, usize)> = BTreeMap::new();
        for (id, kind) in self.column_kinds.iter().enumerate() {
            match kind {
                ColumnKind::Single(t) if used(id) => singles.push((*t, id)),
                ColumnKind::Attribute(name, t) if !attrs.contains_key(&**name) && used(id) => {
                    attrs.insert(name, (*t, id));
                }
                _ => {}
            }
        }
        singles.sort();
        let versioned = rows.iter().any(|&(k, i)| hours[k].version[i] != 1);

        let n = rows.len();
        let mut columns: Vec<ArrayRef> = Vec::new();
        for d in &dims {
            let mut values: Vec<Option<&str>> = vec![None; self.series_dimensions.len()];
            for s in &series {
                values[*s as usize] = dimension(&self.series_dimensions[*s as usize], d);
            }
            let mut b = StringBuilder::with_capacity(n, n * 8);
            for &(k, i) in &rows {
                b.append_option(values[hours[k].series[i] as usize]);
            }
            columns.push(Arc::new(b.finish()));
        }
        let mut measure_names = StringBuilder::with_capacity(n, n * 8);
        for &(k, i) in &rows {
            measure_names.append_value(&self.measure_names[hours[k].measure[i] as usize]);
        }
        columns.push(Arc::new(measure_names.finish()));
        let times: TimestampNanosecondArray = rows.iter().map(|&(k, i)| Some(hours[k].time[i])).collect();
        columns.push(Arc::new(times.with_timezone("UTC")));
        for (t, id) in singles.iter().copied().chain(attrs.values().copied()) {
            let arrays: Vec<ArrayRef> = hours
                .iter()
                .map(|h| match h.columns.get(id) {
                    Some(c) => c.clone(),
                    None => new_null_array(&arrow_type(t), h.time.len()),
                })
                .collect();
            let arrays: Vec<&dyn Array> = arrays.iter().map(|a| a.as_ref()).collect();
            columns.push(arrow_select::interleave::interleave(&arrays, &rows)?);
        }
        if versioned {
            let versions: Int64Array = rows.iter().map(|&(k, i)| Some(hours[k].version[i])).collect();
            columns.push(Arc::new(versions));
        }
        let singles: Vec<MeasureType> = singles.into_iter().map(|(t, _)| t).collect();
        let attrs: Vec<(&str, MeasureType)> = attrs.into_iter().map(|(n, (t, _))| (n, t)).collect();
        let schema = file_schema(&dims, &singles, &attrs, versioned);
        RecordBatch::try_new(Arc::new(schema), columns).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn multi(time_ns: i64, attrs: &[(&str, ScalarValue)], dims: &[(&str, &str)]) -> NewRecord {
        NewRecord {
            dimensions: dims.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            measure_name: "ruuvi".into(),
            time_ns,
            version: None,
            measure: Measure::Multi(attrs.iter().map(|(n, v)| (n.to_string(), v.clone())).collect()),
        }
    }

    #[test]
    fn records_of_a_known_shape_still_meet_every_column_rule() {
        let mut data = TableData::default();
        let mac = [("mac", "A")];
        let t = ScalarValue::Double(20.5);
        assert_eq!(data.apply(&multi(1, &[("temperature", t.clone())], &mac)), Apply::Written);
        // The same shape again, then the same names with another type: refused.
        assert_eq!(data.apply(&multi(2, &[("temperature", t.clone())], &mac)), Apply::Written);
        let as_bigint = multi(3, &[("temperature", ScalarValue::Bigint(20))], &mac);
        assert!(matches!(data.apply(&as_bigint), Apply::Invalid(r) if r.contains("was written as DOUBLE")));
        // A new shape brings its columns; a dimension named like an attribute is refused.
        let wider = multi(4, &[("humidity", ScalarValue::Double(40.0)), ("temperature", t.clone())], &mac);
        assert_eq!(data.apply(&wider), Apply::Written);
        assert_eq!(data.attributes().map(|(n, _)| n).collect::<Vec<_>>(), ["humidity", "temperature"]);
        let clash = multi(5, &[("temperature", t.clone())], &[("humidity", "x")]);
        assert!(matches!(data.apply(&clash), Apply::Invalid(r) if r.contains("name of a measure")));

        // Undone columns are forgotten: the shape that brought them is checked again.
        let mut undo = Undo::default();
        let pressure = multi(6, &[("pressure", ScalarValue::Double(1000.0))], &mac);
        assert_eq!(data.apply_undoable(&pressure, &mut undo), Apply::Written);
        data.undo(undo);
        assert_eq!(data.type_of("pressure"), None);
        let pressure_as_text = multi(7, &[("pressure", ScalarValue::Varchar("high".into()))], &mac);
        assert_eq!(data.apply(&pressure_as_text), Apply::Written);
        assert_eq!(data.type_of("pressure"), Some(MeasureType::Varchar));
        assert_eq!(data.len(), 4);
    }

    #[test]
    fn rewriting_one_identity_holds_memory_for_one_row() {
        let mut data = TableData::default();
        for version in 1..=10_000 {
            let mut r = multi(5, &[("temperature", ScalarValue::Double(version as f64))], &[("mac", "A")]);
            r.version = Some(version);
            assert_eq!(data.apply(&r), Apply::Written);
            data.expire_before(0);
        }
        assert_eq!(data.len(), 1);
        assert!(data.rows_held() <= 2 * RECLAIM_FLOOR + 1, "{} rows held for one", data.rows_held());
        let kept = data.records();
        assert_eq!(
            (kept[0].version, &kept[0].measure),
            (Some(10_000), &Measure::Multi(vec![("temperature".into(), ScalarValue::Double(10_000.0))]))
        );
    }

    mod model {
        //! The store against a plain map of identities, over random writes, repeats, undone
        //! writes, replays, expiry and sealed hours (which later writes reopen).
        use super::*;
        use proptest::prelude::*;

        type Identity = (Vec<(String, String)>, String, i64);

        #[derive(Debug, Clone)]
        enum Op {
            Apply(NewRecord),
            Restore(NewRecord),
            Undone(Vec<NewRecord>),
            Expire(i64),
            Seal(i64),
        }

        fn times() -> impl Strategy<Value = i64> {
            prop::sample::select(vec![0, 1, CHUNK_NS - 1, CHUNK_NS, CHUNK_NS + 5, 3 * CHUNK_NS])
        }

        fn record() -> impl Strategy<Value = NewRecord> {
            let measure = prop_oneof![
                (0..3i32)
                    .prop_map(|h| ("ruuvi", Measure::Multi(vec![("humidity".into(), ScalarValue::Double(h as f64))]))),
                (0..2i32, prop::sample::select(vec!["x", "y"])).prop_map(|(h, l)| (
                    "ruuvi",
                    Measure::Multi(vec![
                        ("humidity".into(), ScalarValue::Double(h as f64)),
                        ("label".into(), ScalarValue::Varchar(l.into()))
                    ])
                )),
                (0..2i64).prop_map(|v| ("count", Measure::Single(ScalarValue::Bigint(v)))),
                any::<bool>().prop_map(|v| ("moving", Measure::Single(ScalarValue::Boolean(v)))),
                (0..2i64).prop_map(|v| ("seen", Measure::Single(ScalarValue::Timestamp(v)))),
            ];
            (prop::sample::select(vec!["A", "B"]), measure, times(), prop::option::of(1..4i64)).prop_map(
                |(mac, (name, measure), time_ns, version)| NewRecord {
                    dimensions: vec![("mac".into(), mac.into())],
                    measure_name: name.into(),
                    time_ns,
                    version,
                    measure,
                },
            )
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => record().prop_map(Op::Apply),
                1 => record().prop_map(Op::Restore),
                1 => prop::collection::vec(record(), 1..4).prop_map(Op::Undone),
                1 => times().prop_map(Op::Expire),
                1 => times().prop_map(Op::Seal),
            ]
        }

        fn identity(r: &NewRecord) -> Identity {
            (r.dimensions.clone(), r.measure_name.clone(), r.time_ns)
        }

        /// The identity rules on a map.
        fn apply(model: &mut BTreeMap<Identity, (i64, Measure)>, r: &NewRecord) -> bool {
            let version = r.version.unwrap_or(1);
            match model.get_mut(&identity(r)) {
                Some((v, m)) if *m == r.measure => {
                    *v = (*v).max(version);
                    true
                }
                Some((v, m)) if version > *v => {
                    (*v, *m) = (version, r.measure.clone());
                    true
                }
                Some(_) => false,
                None => {
                    model.insert(identity(r), (version, r.measure.clone()));
                    true
                }
            }
        }

        fn sorted(mut records: Vec<NewRecord>) -> Vec<NewRecord> {
            records.sort_by(|a, b| {
                (a.time_ns, &a.dimensions, &a.measure_name).cmp(&(b.time_ns, &b.dimensions, &b.measure_name))
            });
            records
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
            #[test]
            fn the_store_keeps_exactly_what_the_identity_rules_keep(ops in prop::collection::vec(op(), 1..40)) {
                let mut data = TableData::default();
                let mut model: BTreeMap<Identity, (i64, Measure)> = BTreeMap::new();
                for op in ops {
                    match op {
                        Op::Apply(r) => {
                            let expected = apply(&mut model, &r);
                            let applied = data.apply(&r);
                            prop_assert_eq!(applied == Apply::Written, expected, "{:?} gave {:?}", r, applied);
                        }
                        Op::Restore(r) => {
                            let version = r.version.unwrap_or(1);
                            match model.get_mut(&identity(&r)) {
                                Some((v, m)) if *m == r.measure => *v = (*v).max(version),
                                _ => {
                                    model.insert(identity(&r), (version, r.measure.clone()));
                                }
                            }
                            data.restore(r);
                        }
                        Op::Undone(records) => {
                            let mut undo = Undo::default();
                            records.iter().for_each(|r| {
                                data.apply_undoable(r, &mut undo);
                            });
                            data.undo(undo);
                        }
                        Op::Expire(cutoff) => {
                            let before = model.len();
                            model.retain(|(_, _, t), _| *t >= cutoff);
                            prop_assert_eq!(data.expire_before(cutoff), before - model.len());
                        }
                        // Sealing changes no row: the checks below hold as before.
                        Op::Seal(until) => data.seal(i64::MIN..=until),
                    }
                    let expected: Vec<NewRecord> = model
                        .iter()
                        .map(|((dimensions, measure_name, time_ns), (v, m))| NewRecord {
                            dimensions: dimensions.clone(),
                            measure_name: measure_name.clone(),
                            time_ns: *time_ns,
                            version: Some(*v),
                            measure: m.clone(),
                        })
                        .collect();
                    let expected = sorted(expected);
                    prop_assert_eq!(data.len(), expected.len());
                    prop_assert_eq!(&sorted(data.records()), &expected);
                    // The file layout holds the same records; the query chunks the same rows.
                    let in_file = match data.file_batch(i64::MIN..=i64::MAX).unwrap() {
                        Some(batch) => crate::engine::store::layout::records(&batch).unwrap(),
                        None => Vec::new(),
                    };
                    prop_assert_eq!(&sorted(in_file), &expected);
                    let schema = crate::engine::sql::table_schema(&data);
                    let chunks = data.chunks(&schema).unwrap();
                    prop_assert_eq!(chunks.iter().map(|(_, b)| b.num_rows()).sum::<usize>(), expected.len());
                }
            }
        }
    }
}
