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

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};

use std::fs::File;
use std::io::BufWriter;

use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::manifest::{Checksummed, FileSum};
use super::memory::{Measure, MeasureType, NewRecord, ScalarValue};
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

fn role(field: Field, role: &str) -> Field {
    field.with_metadata(HashMap::from([(ROLE.to_string(), role.to_string())]))
}

/// The schema of a file in the wide layout: the dimensions `dims`, `measure_name`, `time`, a
/// `measure_value::<type>` column per single-measure type in `singles`, a column per MULTI
/// attribute in `attrs`, and `ts_version` if `versioned`, each with its role.
pub fn file_schema(dims: &[&str], singles: &[MeasureType], attrs: &[(&str, MeasureType)], versioned: bool) -> Schema {
    let mut fields: Vec<Field> = dims.iter().map(|d| role(Field::new(*d, DataType::Utf8, true), "DIMENSION")).collect();
    fields.push(Field::new("measure_name", DataType::Utf8, false));
    fields.push(Field::new("time", timestamp_type(), false));
    for t in singles {
        let name = format!("measure_value::{}", t.name().to_lowercase());
        fields.push(role(Field::new(name, arrow_type(*t), true), "MEASURE_VALUE"));
    }
    for (n, t) in attrs {
        fields.push(role(Field::new(*n, arrow_type(*t), true), "MULTI"));
    }
    if versioned {
        fields.push(Field::new(VERSION, DataType::Int64, false));
    }
    Schema::new(fields)
}

/// Writes a batch in the wide layout (as [`super::TableData::file_batch`] gives it) to a
/// Parquet file (zstd, row groups of 64 Ki rows with statistics), synced, and returns its
/// length, checksum and row count.
pub fn write_file(path: &std::path::Path, batch: &RecordBatch) -> std::io::Result<FileSum> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(64 * 1024))
        .build();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = Checksummed::new(BufWriter::new(File::create(path)?));
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(std::io::Error::other)?;
    writer.write(batch).map_err(std::io::Error::other)?;
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

/// The records of a batch in the wide layout (as [`super::TableData::file_batch`] makes it, or as read back from
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
    use crate::engine::store::TableData;

    fn record(dims: &[(&str, &str)], name: &str, time_ns: i64, version: i64, measure: Measure) -> NewRecord {
        NewRecord {
            dimensions: dims.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            measure_name: name.into(),
            time_ns,
            version: Some(version),
            measure,
        }
    }

    #[test]
    fn rows_of_every_shape_round_trip_sorted_by_series_then_time() {
        let a = [("mac", "A")];
        let b = [("location", "attic"), ("mac", "B")];
        let multi = Measure::Multi(vec![
            ("humidity".into(), ScalarValue::Double(40.5)),
            ("label".into(), ScalarValue::Varchar("x".into())),
            ("seen".into(), ScalarValue::Timestamp(7)),
        ]);
        let input = vec![
            record(&b, "ruuvi", 20, 3, multi),
            record(&a, "temperature", 30, 1, Measure::Single(ScalarValue::Double(21.5))),
            record(&a, "count", 10, 1, Measure::Single(ScalarValue::Bigint(-4))),
            record(&b, "moving", 5, 1, Measure::Single(ScalarValue::Boolean(true))),
        ];
        let mut data = TableData::default();
        input.iter().cloned().for_each(|r| data.restore(r));
        let batch = data.file_batch(i64::MIN..=i64::MAX).unwrap().unwrap();
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
        for r in &input {
            assert!(back.contains(r), "{r:?} did not come back");
        }
        // Without versions above 1 there is no version column; a time range takes its rows.
        let plain = data.file_batch(25..=30).unwrap().unwrap();
        assert_eq!(plain.num_rows(), 1);
        assert!(plain.column_by_name(VERSION).is_none());
        assert!(plain.column_by_name("location").is_none(), "only the columns its rows use");
        assert!(data.file_batch(31..=39).unwrap().is_none());
    }
}
