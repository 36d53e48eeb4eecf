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

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType};
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray, new_null_array};
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

fn invalid(path: &std::path::Path, what: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {what}", path.display()))
}

/// The batches of a Parquet file, given its bytes; `path` names it in errors.
pub fn read_batches(path: &std::path::Path, bytes: Vec<u8>) -> std::io::Result<Vec<RecordBatch>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .and_then(|b| b.with_batch_size(64 * 1024).build())
        .map_err(|e| invalid(path, e))?;
    reader.map(|b| b.map_err(|e| invalid(path, e))).collect()
}

/// The records of a Parquet file in the wide layout, given its bytes; `path` names it in
/// errors.
pub fn read_file(path: &std::path::Path, bytes: Vec<u8>) -> std::io::Result<Vec<NewRecord>> {
    let mut out = Vec::new();
    for batch in read_batches(path, bytes)? {
        out.extend(records(&batch).map_err(|e| invalid(path, e))?);
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

/// The columns of a batch in the wide layout that have a role: (index, name, role).
fn roles(schema: &Schema) -> Result<Vec<(usize, &str, Role)>, String> {
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
    Ok(roles)
}

/// A batch's `measure_name`, `time` and (if present) `ts_version` columns.
fn key_columns(
    batch: &RecordBatch,
) -> Result<(&StringArray, &arrow_array::TimestampNanosecondArray, Option<&Int64Array>), String> {
    let column = |name: &str| batch.column_by_name(name).ok_or_else(|| format!("no column {name}"));
    let names = column("measure_name")?.as_string_opt::<i32>().ok_or("measure_name is not utf8")?;
    let times = column("time")?.as_primitive_opt::<TimestampNanosecondType>().ok_or("time is not a timestamp in ns")?;
    let versions = match batch.column_by_name(VERSION) {
        Some(v) => Some(v.as_primitive_opt::<Int64Type>().ok_or("ts_version is not int64")?),
        None => None,
    };
    Ok((names, times, versions))
}

/// The records of a batch in the wide layout (as [`super::TableData::file_batch`] makes it, or as read back from
/// Parquet); `Err` says what is wrong with it.
pub fn records(batch: &RecordBatch) -> Result<Vec<NewRecord>, String> {
    let schema = batch.schema();
    let (names, times, versions) = key_columns(batch)?;
    let roles = roles(&schema)?;
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

/// A stretch of one batch's rows with one series and measure name, in time order.
struct Run<'a> {
    series: Vec<(&'a str, &'a str)>,
    measure: &'a str,
    first: i64,
    last: i64,
    batch: usize,
    rows: std::ops::Range<usize>,
}

/// Merges batches in the wide layout, each sorted as the layout sorts, into one sorted batch
/// with the union of their columns, column by column (nothing row by row): what a finished
/// day's compaction does with the day's hourly files. That is only right when no two batches
/// hold rows of one series and measure name at overlapping times (then no identity can repeat
/// either); otherwise `Ok(None)`, and the caller merges the records by the identity rules.
/// `Err` says what is wrong with a batch.
pub fn merge_sorted(batches: &[RecordBatch]) -> Result<Option<RecordBatch>, String> {
    let mut dims: BTreeSet<&str> = BTreeSet::new();
    let mut singles: BTreeSet<MeasureType> = BTreeSet::new();
    let mut attrs: BTreeMap<&str, MeasureType> = BTreeMap::new();
    let mut versioned = false;
    let mut runs: Vec<Run> = Vec::new();
    for (b, batch) in batches.iter().enumerate() {
        let (names, times, versions) = key_columns(batch)?;
        versioned |= versions.is_some_and(|v| v.values().iter().any(|v| *v != 1));
        let mut dim_columns: Vec<(&str, &StringArray)> = Vec::new();
        for (k, name, role) in roles(batch.schema_ref())? {
            match role {
                Role::Dimension => {
                    dims.insert(name);
                    dim_columns.push((name, batch.column(k).as_string::<i32>()));
                }
                Role::Single(t) => {
                    singles.insert(t);
                }
                Role::Attribute(t) => {
                    if *attrs.entry(name).or_insert(t) != t {
                        return Ok(None);
                    }
                }
            }
        }
        let same_series = |i: usize, j: usize| {
            dim_columns.iter().all(|(_, c)| c.is_valid(i) == c.is_valid(j) && c.value(i) == c.value(j))
        };
        let mut start = 0;
        while start < batch.num_rows() {
            let mut end = start + 1;
            while end < batch.num_rows() && same_series(start, end) && names.value(start) == names.value(end) {
                if times.value(end) <= times.value(end - 1) {
                    return Ok(None);
                }
                end += 1;
            }
            let mut series: Vec<(&str, &str)> =
                dim_columns.iter().filter(|(_, c)| c.is_valid(start)).map(|(n, c)| (*n, c.value(start))).collect();
            series.sort_unstable();
            runs.push(Run {
                series,
                measure: names.value(start),
                first: times.value(start),
                last: times.value(end - 1),
                batch: b,
                rows: start..end,
            });
            start = end;
        }
    }
    if runs.is_empty() {
        return Ok(None);
    }
    runs.sort_unstable_by(|a, b| (&a.series, a.measure, a.first).cmp(&(&b.series, b.measure, b.first)));
    let overlapping =
        runs.windows(2).any(|w| w[0].series == w[1].series && w[0].measure == w[1].measure && w[0].last >= w[1].first);
    if overlapping {
        return Ok(None);
    }
    let rows: Vec<(usize, usize)> = runs.iter().flat_map(|r| r.rows.clone().map(move |i| (r.batch, i))).collect();

    let dims: Vec<&str> = dims.into_iter().collect();
    let singles: Vec<MeasureType> = singles.into_iter().collect();
    let attrs: Vec<(&str, MeasureType)> = attrs.into_iter().collect();
    let schema = Arc::new(file_schema(&dims, &singles, &attrs, versioned));
    let inputs = batches.iter().map(|b| columns_as(b, &schema)).collect::<Result<Vec<_>, _>>()?;
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for k in 0..schema.fields().len() {
        let arrays: Vec<&dyn Array> = inputs.iter().map(|c| c[k].as_ref()).collect();
        columns.push(arrow_select::interleave::interleave(&arrays, &rows).map_err(|e| e.to_string())?);
    }
    RecordBatch::try_new(schema, columns).map(Some).map_err(|e| e.to_string())
}

/// A batch in the wide layout (a file's rows: only the columns they use) as the columns of
/// `schema`, a wider set of the table's columns: NULL where the batch lacks a column, version
/// 1 where it has no `ts_version`. `Err` when a column's type differs.
pub fn columns_as(batch: &RecordBatch, schema: &Schema) -> Result<Vec<ArrayRef>, String> {
    schema
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(c) if c.data_type() == field.data_type() => Ok(c.clone()),
            Some(c) => Err(format!("column {} is {}, not {}", field.name(), c.data_type(), field.data_type())),
            None if field.name() == VERSION => Ok(Arc::new(Int64Array::from(vec![1; batch.num_rows()])) as ArrayRef),
            None => Ok(new_null_array(field.data_type(), batch.num_rows())),
        })
        .collect()
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

    mod merge {
        use super::*;
        use proptest::prelude::*;

        const HOUR: i64 = 3_600_000_000_000;

        /// A record whose shape follows its measure name, as a table's type rules require.
        fn new_record() -> impl Strategy<Value = NewRecord> {
            let dims = prop_oneof![
                Just(vec![("mac", "A")]),
                Just(vec![("mac", "B")]),
                Just(vec![("location", "attic"), ("mac", "B")]),
                Just(vec![("location", "cellar")]),
            ];
            (dims, 0..5u8, 0..3 * HOUR, 1..4i64, any::<f64>(), any::<i64>(), proptest::option::of("[a-c]{0,3}"))
                .prop_map(|(dims, kind, time, version, x, n, label)| {
                    let (name, measure) = match kind {
                        0 => ("temperature", Measure::Single(ScalarValue::Double(x))),
                        1 => ("count", Measure::Single(ScalarValue::Bigint(n))),
                        2 => ("moving", Measure::Single(ScalarValue::Boolean(n % 2 == 0))),
                        3 => ("note", Measure::Single(ScalarValue::Varchar(label.clone().unwrap_or_default()))),
                        _ => {
                            let mut attrs = vec![("humidity".to_string(), ScalarValue::Double(x))];
                            attrs.extend(label.map(|l| ("label".to_string(), ScalarValue::Varchar(l))));
                            ("ruuvi", Measure::Multi(attrs))
                        }
                    };
                    record(&dims, name, time, version, measure)
                })
        }

        fn through_parquet(dir: &std::path::Path, n: usize, batch: &RecordBatch) -> RecordBatch {
            let path = dir.join(format!("part-{n}.parquet"));
            write_file(&path, batch).unwrap();
            let mut back = read_batches(&path, std::fs::read(&path).unwrap()).unwrap();
            assert_eq!(back.len(), 1);
            back.remove(0)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            /// A day's hourly files, read back from Parquet and merged column by column, are
            /// exactly the day's rows as one file batch: same columns, same order, same values.
            #[test]
            fn hourly_files_merge_into_the_batch_of_the_whole(records in proptest::collection::vec(new_record(), 1..60)) {
                let mut data = TableData::default();
                records.into_iter().for_each(|r| data.restore(r));
                let whole = data.file_batch(i64::MIN..=i64::MAX).unwrap().unwrap();
                let dir = tempfile::tempdir().unwrap();
                let hours: Vec<RecordBatch> = (0..3)
                    .filter_map(|h| data.file_batch(h * HOUR..=(h + 1) * HOUR - 1).unwrap())
                    .enumerate()
                    .map(|(n, b)| through_parquet(dir.path(), n, &b))
                    .collect();
                let merged = merge_sorted(&hours).unwrap().expect("hours do not overlap");
                prop_assert_eq!(merged.schema(), whole.schema());
                prop_assert_eq!(merged, whole);
            }
        }

        #[test]
        fn files_whose_rows_overlap_are_left_to_the_identity_rules() {
            let a = [("mac", "A")];
            let one = |t: i64, v: f64| record(&a, "temperature", t, 1, Measure::Single(ScalarValue::Double(v)));
            let batch = |rows: &[NewRecord]| {
                let mut data = TableData::default();
                rows.iter().cloned().for_each(|r| data.restore(r));
                data.file_batch(i64::MIN..=i64::MAX).unwrap().unwrap()
            };
            let early = batch(&[one(1, 1.0), one(5, 2.0)]);
            let late = batch(&[one(6, 3.0)]);
            assert_eq!(merge_sorted(&[late.clone(), early.clone()]).unwrap().unwrap().num_rows(), 3);
            // The same series and measure at overlapping times, or the same identity twice.
            assert!(merge_sorted(&[early.clone(), batch(&[one(3, 9.0)])]).unwrap().is_none());
            assert!(merge_sorted(&[late.clone(), late]).unwrap().is_none());
            assert!(merge_sorted(&[]).unwrap().is_none());
        }
    }
}
