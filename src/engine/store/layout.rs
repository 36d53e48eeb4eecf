//! The open, wide layout of table rows in Parquet, as the table appears to SQL: one utf8 column
//! per dimension (dictionary-encoded by Parquet), `measure_name`, `time` as timestamp[ns, UTC],
//! one `measure_value::<type>` column per single-measure type and one typed column per MULTI
//! attribute, NULL where a row lacks a column; rows sorted by series, measure name, then time.
//! DuckDB, polars, Spark or pyarrow read these files as a table.
//!
//! Record versions are kept in a `ts_version` column only in files that hold a version other
//! than 1 (the `ts_` prefix is reserved, so it never clashes with a dimension or measure). Each
//! column's role is in its Arrow field metadata (`timestream` = `DIMENSION`, `MEASURE_VALUE` or
//! `MULTI`), so that a VARCHAR attribute and a dimension are told apart when the rows are read
//! back.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampNanosecondBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};

use std::fs::File;
use std::io::BufWriter;

use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::manifest::{Checksummed, FileSum};
use super::memory::{Measure, MeasureType, NewRecord, ScalarValue, StoredRecord};
use crate::types::timestamp_type;

/// The field metadata key that says what a column is.
pub const ROLE: &str = "timestream";
/// The column of record versions (present only when some version is not 1).
pub const VERSION: &str = "ts_version";

/// The Arrow type a measure type is stored and queried as.
pub fn arrow_type(t: MeasureType) -> DataType {
    match t {
        MeasureType::Double => DataType::Float64,
        MeasureType::Bigint => DataType::Int64,
        MeasureType::Varchar => DataType::Utf8,
        MeasureType::Boolean => DataType::Boolean,
        MeasureType::Timestamp => timestamp_type(),
    }
}

fn measure_type_of(t: &DataType) -> Option<MeasureType> {
    Some(match t {
        DataType::Float64 => MeasureType::Double,
        DataType::Int64 => MeasureType::Bigint,
        DataType::Utf8 => MeasureType::Varchar,
        DataType::Boolean => MeasureType::Boolean,
        DataType::Timestamp(_, _) => MeasureType::Timestamp,
        _ => return None,
    })
}

/// A column of values being filled.
pub enum Col {
    /// DOUBLE.
    Double(Float64Builder),
    /// BIGINT.
    Bigint(Int64Builder),
    /// VARCHAR.
    Varchar(StringBuilder),
    /// BOOLEAN.
    Boolean(BooleanBuilder),
    /// TIMESTAMP.
    Timestamp(TimestampNanosecondBuilder),
}

impl Col {
    /// An empty column of type `t`.
    pub fn new(t: MeasureType) -> Self {
        match t {
            MeasureType::Double => Self::Double(Float64Builder::new()),
            MeasureType::Bigint => Self::Bigint(Int64Builder::new()),
            MeasureType::Varchar => Self::Varchar(StringBuilder::new()),
            MeasureType::Boolean => Self::Boolean(BooleanBuilder::new()),
            MeasureType::Timestamp => Self::Timestamp(TimestampNanosecondBuilder::new()),
        }
    }

    /// Appends a value (NULL for `None` or a value of another type).
    pub fn push(&mut self, v: Option<&ScalarValue>) {
        match (self, v) {
            (Self::Double(b), Some(ScalarValue::Double(x))) => b.append_value(*x),
            (Self::Bigint(b), Some(ScalarValue::Bigint(x))) => b.append_value(*x),
            (Self::Varchar(b), Some(ScalarValue::Varchar(x))) => b.append_value(x),
            (Self::Boolean(b), Some(ScalarValue::Boolean(x))) => b.append_value(*x),
            (Self::Timestamp(b), Some(ScalarValue::Timestamp(x))) => b.append_value(*x),
            (Self::Double(b), _) => b.append_null(),
            (Self::Bigint(b), _) => b.append_null(),
            (Self::Varchar(b), _) => b.append_null(),
            (Self::Boolean(b), _) => b.append_null(),
            (Self::Timestamp(b), _) => b.append_null(),
        }
    }

    /// The finished array.
    pub fn finish(self) -> ArrayRef {
        match self {
            Self::Double(mut b) => Arc::new(b.finish()),
            Self::Bigint(mut b) => Arc::new(b.finish()),
            Self::Varchar(mut b) => Arc::new(b.finish()),
            Self::Boolean(mut b) => Arc::new(b.finish()),
            Self::Timestamp(mut b) => Arc::new(b.finish().with_timezone("UTC")),
        }
    }
}

fn role(field: Field, role: &str) -> Field {
    field.with_metadata(HashMap::from([(ROLE.to_string(), role.to_string())]))
}

/// One row as the store holds it: (dimensions, measure name, time, record).
pub type Row<'a> = (&'a [(String, String)], &'a str, i64, &'a StoredRecord);

/// A row as a record to apply again (its version kept).
pub fn to_record((dimensions, measure_name, time_ns, r): Row<'_>) -> NewRecord {
    NewRecord {
        dimensions: dimensions.to_vec(),
        measure_name: measure_name.to_string(),
        time_ns,
        version: Some(r.version),
        measure: Measure::clone(&r.measure),
    }
}

/// The rows in the wide layout, sorted by series, measure name and time; only the columns these
/// rows use.
pub fn wide_batch<'a>(rows: impl Iterator<Item = Row<'a>>) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let rows = sorted_by_series(rows.collect());
    let mut dims = BTreeSet::new();
    let mut singles = BTreeSet::new();
    let mut attrs: BTreeMap<&str, MeasureType> = BTreeMap::new();
    let mut versioned = false;
    for (d, _, _, r) in &rows {
        dims.extend(d.iter().map(|(n, _)| n.as_str()));
        versioned |= r.version != 1;
        match &*r.measure {
            Measure::Single(v) => {
                singles.insert(v.kind());
            }
            Measure::Multi(values) => {
                for (n, v) in values {
                    attrs.entry(n.as_str()).or_insert(v.kind());
                }
            }
        }
    }
    let mut fields: Vec<Field> = dims.iter().map(|d| role(Field::new(*d, DataType::Utf8, true), "DIMENSION")).collect();
    fields.push(Field::new("measure_name", DataType::Utf8, false));
    fields.push(Field::new("time", timestamp_type(), false));
    for t in &singles {
        let name = format!("measure_value::{}", t.name().to_lowercase());
        fields.push(role(Field::new(name, arrow_type(*t), true), "MEASURE_VALUE"));
    }
    for (n, t) in &attrs {
        fields.push(role(Field::new(*n, arrow_type(*t), true), "MULTI"));
    }
    let dims: Vec<&str> = dims.into_iter().collect();
    let singles: Vec<MeasureType> = singles.into_iter().collect();
    let attrs: Vec<(&str, MeasureType)> = attrs.into_iter().collect();
    let (mut columns, versions) = columns(&rows, &dims, &singles, &attrs);
    if versioned {
        fields.push(Field::new(VERSION, DataType::Int64, false));
        columns.push(versions);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

/// `rows` sorted by series (their dimensions), measure name and time. Each distinct set of
/// dimensions is compared by its text once and ranked; the rows are then sorted by rank, so
/// that sorting a file's rows does not compare dimension strings row against row.
fn sorted_by_series(rows: Vec<Row<'_>>) -> Vec<Row<'_>> {
    let mut ranks: HashMap<&[(String, String)], u32> = HashMap::new();
    for r in &rows {
        ranks.entry(r.0).or_insert(0);
    }
    let mut series: Vec<&[(String, String)]> = ranks.keys().copied().collect();
    series.sort_unstable();
    for (rank, dims) in series.into_iter().enumerate() {
        ranks.insert(dims, rank as u32);
    }
    let mut keyed: Vec<(u32, Row<'_>)> = rows.into_iter().map(|r| (ranks[r.0], r)).collect();
    keyed.sort_unstable_by(|(ra, a), (rb, b)| (ra, a.1, a.2).cmp(&(rb, b.1, b.2)));
    keyed.into_iter().map(|(_, r)| r).collect()
}

/// The columns of `rows` in the wide layout's order — the given dimensions, `measure_name`,
/// `time`, the given single-measure types and MULTI attributes, NULL where a row lacks one —
/// and their versions.
pub fn columns(
    rows: &[Row<'_>],
    dims: &[&str],
    singles: &[MeasureType],
    attrs: &[(&str, MeasureType)],
) -> (Vec<ArrayRef>, ArrayRef) {
    let mut dim_cols: Vec<StringBuilder> = dims.iter().map(|_| StringBuilder::new()).collect();
    let mut names = StringBuilder::new();
    let mut times = TimestampNanosecondBuilder::new();
    let mut single_cols: Vec<Col> = singles.iter().map(|t| Col::new(*t)).collect();
    let mut attr_cols: Vec<Col> = attrs.iter().map(|(_, t)| Col::new(*t)).collect();
    let mut versions = Int64Builder::new();
    for (row_dims, measure, time, record) in rows {
        // Both sorted by name: one walk through each.
        let mut row_dims = row_dims.iter().peekable();
        for (d, col) in dims.iter().zip(dim_cols.iter_mut()) {
            while row_dims.next_if(|(n, _)| n.as_str() < *d).is_some() {}
            match row_dims.next_if(|(n, _)| n.as_str() == *d) {
                Some((_, value)) => col.append_value(value),
                None => col.append_null(),
            }
        }
        names.append_value(measure);
        times.append_value(*time);
        versions.append_value(record.version);
        match &*record.measure {
            Measure::Single(v) => {
                for (t, col) in singles.iter().zip(single_cols.iter_mut()) {
                    col.push((v.kind() == *t).then_some(v));
                }
                attr_cols.iter_mut().for_each(|c| c.push(None));
            }
            Measure::Multi(values) => {
                single_cols.iter_mut().for_each(|c| c.push(None));
                let mut values = values.iter().peekable();
                for ((n, _), col) in attrs.iter().zip(attr_cols.iter_mut()) {
                    while values.next_if(|(name, _)| name.as_str() < *n).is_some() {}
                    col.push(values.next_if(|(name, _)| name.as_str() == *n).map(|(_, v)| v));
                }
            }
        }
    }
    let mut columns: Vec<ArrayRef> = dim_cols.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef).collect();
    columns.push(Arc::new(names.finish()));
    columns.push(Arc::new(times.finish().with_timezone("UTC")));
    columns.extend(single_cols.into_iter().map(Col::finish));
    columns.extend(attr_cols.into_iter().map(Col::finish));
    (columns, Arc::new(versions.finish()))
}

/// Writes rows to a Parquet file in the wide layout (zstd, row groups of 64 Ki rows with
/// statistics), synced, and returns its length, checksum and row count.
pub fn write_file<'a>(path: &std::path::Path, rows: impl Iterator<Item = Row<'a>>) -> std::io::Result<FileSum> {
    let batch = wide_batch(rows).map_err(std::io::Error::other)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(64 * 1024))
        .build();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = Checksummed::new(BufWriter::new(File::create(path)?));
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(std::io::Error::other)?;
    writer.write(&batch).map_err(std::io::Error::other)?;
    let (buffered, bytes, crc32) = writer.into_inner().map_err(std::io::Error::other)?.finish();
    let file = buffered.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(FileSum { bytes, crc32, rows: batch.num_rows() as u64 })
}

/// The records of a Parquet file in the wide layout, given its bytes; `path` names it in
/// errors.
pub fn read_file(path: &std::path::Path, bytes: Vec<u8>) -> std::io::Result<Vec<NewRecord>> {
    let bad =
        |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {what}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .and_then(|b| b.build())
        .map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    for batch in reader {
        out.extend(records(&batch.map_err(|e| bad(e.to_string()))?).map_err(bad)?);
    }
    Ok(out)
}

/// What a column of a wide batch is.
enum Role {
    Dimension,
    Single(MeasureType),
    Attribute(MeasureType),
}

fn value_at(array: &dyn Array, t: MeasureType, i: usize) -> Option<ScalarValue> {
    if array.is_null(i) {
        return None;
    }
    Some(match t {
        MeasureType::Double => ScalarValue::Double(array.as_primitive::<Float64Type>().value(i)),
        MeasureType::Bigint => ScalarValue::Bigint(array.as_primitive::<Int64Type>().value(i)),
        MeasureType::Varchar => ScalarValue::Varchar(array.as_string::<i32>().value(i).to_string()),
        MeasureType::Boolean => ScalarValue::Boolean(array.as_boolean().value(i)),
        MeasureType::Timestamp => ScalarValue::Timestamp(array.as_primitive::<TimestampNanosecondType>().value(i)),
    })
}

/// The records of a batch in the wide layout (as [`wide_batch`] writes it, or as read back from
/// Parquet); `Err` says what is wrong with it.
pub fn records(batch: &RecordBatch) -> Result<Vec<NewRecord>, String> {
    let schema = batch.schema();
    let column = |name: &str| batch.column_by_name(name).ok_or_else(|| format!("no column {name}"));
    let names = column("measure_name")?.as_string_opt::<i32>().ok_or("measure_name is not utf8")?;
    let times = column("time")?.as_primitive_opt::<TimestampNanosecondType>().ok_or("time is not a timestamp in ns")?;
    let versions = match batch.column_by_name(VERSION) {
        Some(v) => Some(v.as_primitive_opt::<Int64Type>().ok_or("ts_version is not int64")?),
        None => None,
    };
    let mut roles = Vec::new();
    for (k, field) in schema.fields().iter().enumerate() {
        let role = match field.metadata().get(ROLE).map(String::as_str) {
            Some("DIMENSION") if field.data_type() == &DataType::Utf8 => Role::Dimension,
            Some(r @ ("MEASURE_VALUE" | "MULTI")) => {
                let t = measure_type_of(field.data_type())
                    .ok_or_else(|| format!("column {} has an unknown type {}", field.name(), field.data_type()))?;
                if r == "MULTI" { Role::Attribute(t) } else { Role::Single(t) }
            }
            Some(other) => return Err(format!("column {} has an unknown role {other}", field.name())),
            None => continue,
        };
        roles.push((k, field.name().as_str(), role));
    }
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let mut dimensions = Vec::new();
        let mut single = None;
        let mut attrs = Vec::new();
        for (k, name, role) in &roles {
            let array = batch.column(*k);
            match role {
                Role::Dimension if array.is_valid(i) => {
                    dimensions.push((name.to_string(), array.as_string::<i32>().value(i).to_string()))
                }
                Role::Dimension => {}
                Role::Single(t) => single = single.or(value_at(array, *t, i)),
                Role::Attribute(t) => attrs.extend(value_at(array, *t, i).map(|v| (name.to_string(), v))),
            }
        }
        let measure = match (single, attrs.is_empty()) {
            (Some(v), true) => Measure::Single(v),
            (None, false) => Measure::Multi(attrs),
            _ => return Err(format!("row {i} has no value, or both a single value and MULTI values")),
        };
        // Written sorted; sorted again so that files from other writers read the same.
        dimensions.sort();
        out.push(NewRecord {
            dimensions,
            measure_name: names.value(i).to_string(),
            time_ns: times.value(i),
            version: Some(versions.map_or(1, |v| v.value(i))),
            measure,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(version: i64, measure: Measure) -> StoredRecord {
        StoredRecord { version, measure: Arc::new(measure) }
    }

    #[test]
    fn rows_of_every_shape_round_trip_sorted_by_series_then_time() {
        let a = vec![("mac".to_string(), "A".to_string())];
        let b = vec![("location".to_string(), "attic".to_string()), ("mac".to_string(), "B".to_string())];
        let multi = Measure::Multi(vec![
            ("humidity".into(), ScalarValue::Double(40.5)),
            ("label".into(), ScalarValue::Varchar("x".into())),
            ("seen".into(), ScalarValue::Timestamp(7)),
        ]);
        let rows = [
            stored(1, Measure::Single(ScalarValue::Double(21.5))),
            stored(3, multi),
            stored(1, Measure::Single(ScalarValue::Bigint(-4))),
            stored(1, Measure::Single(ScalarValue::Boolean(true))),
        ];
        let input: Vec<Row<'_>> = vec![
            (b.as_slice(), "ruuvi", 20, &rows[1]),
            (a.as_slice(), "temperature", 30, &rows[0]),
            (a.as_slice(), "count", 10, &rows[2]),
            (b.as_slice(), "moving", 5, &rows[3]),
        ];
        let batch = wide_batch(input.iter().copied()).unwrap();
        let schema = batch.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "location",
                "mac",
                "measure_name",
                "time",
                "measure_value::double",
                "measure_value::bigint",
                "measure_value::boolean",
                "humidity",
                "label",
                "seen",
                "ts_version"
            ]
        );
        let back = records(&batch).unwrap();
        let order: Vec<(&str, i64)> = back.iter().map(|r| (r.measure_name.as_str(), r.time_ns)).collect();
        // Series by their dimensions (location=attic, mac=B before mac=A), then measure, then time.
        assert_eq!(order, [("moving", 5), ("ruuvi", 20), ("count", 10), ("temperature", 30)]);
        for (dims, name, time, r) in &input {
            let found = back.iter().find(|x| x.measure_name == *name && x.time_ns == *time).unwrap();
            assert_eq!(
                (found.dimensions.as_slice(), &found.measure, found.version),
                (*dims, &*r.measure, Some(r.version))
            );
        }
        // Without versions above 1 there is no version column.
        let plain = wide_batch(input[..1].iter().copied().map(|(d, n, t, _)| (d, n, t, &rows[0]))).unwrap();
        assert!(plain.column_by_name(VERSION).is_none());
    }
}
