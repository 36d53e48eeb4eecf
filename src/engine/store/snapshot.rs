//! Table rows to and from Parquet: the files of a checkpoint (the memory store's snapshot and
//! the magnetic store, one file per UTC day).
//!
//! Rows are stored long-form, one row per record: `time`, `measure_name`, `version`, the
//! dimensions, and the value in a typed column for its kind (MULTI values and the dimension
//! list as JSON text). `time` is a real timestamp column, so row-group statistics prune reads by
//! time.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampNanosecondBuilder, UInt8Builder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType, UInt8Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::manifest::{Checksummed, FileSum};
use super::memory::{Measure, NewRecord, ScalarValue, StoredRecord};

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("time", DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())), false),
        Field::new("measure_name", DataType::Utf8, false),
        Field::new("version", DataType::Int64, false),
        Field::new("dimensions", DataType::Utf8, false),
        Field::new("kind", DataType::UInt8, false),
        Field::new("double", DataType::Float64, true),
        Field::new("bigint", DataType::Int64, true),
        Field::new("varchar", DataType::Utf8, true),
        Field::new("boolean", DataType::Boolean, true),
        Field::new("timestamp", DataType::Int64, true),
        Field::new("multi", DataType::Utf8, true),
    ]))
}

const MULTI: u8 = 5;

fn kind(v: &ScalarValue) -> u8 {
    match v {
        ScalarValue::Double(_) => 0,
        ScalarValue::Bigint(_) => 1,
        ScalarValue::Varchar(_) => 2,
        ScalarValue::Boolean(_) => 3,
        ScalarValue::Timestamp(_) => 4,
    }
}

/// Writes rows (in time order) to a Parquet file, synced to disk, and returns its length,
/// checksum and row count.
pub fn write<'a>(
    path: &Path,
    rows: impl Iterator<Item = (&'a [(String, String)], &'a str, i64, &'a StoredRecord)>,
) -> std::io::Result<FileSum> {
    let mut time = TimestampNanosecondBuilder::new();
    let mut name = StringBuilder::new();
    let mut version = Int64Builder::new();
    let mut dims = StringBuilder::new();
    let mut kinds = UInt8Builder::new();
    let mut double = Float64Builder::new();
    let mut bigint = Int64Builder::new();
    let mut varchar = StringBuilder::new();
    let mut boolean = BooleanBuilder::new();
    let mut timestamp = Int64Builder::new();
    let mut multi = StringBuilder::new();
    let mut n = 0;
    for (d, m, t, r) in rows {
        n += 1;
        time.append_value(t);
        name.append_value(m);
        version.append_value(r.version);
        dims.append_value(serde_json::to_string(d).map_err(std::io::Error::other)?);
        let single = match &r.measure {
            Measure::Single(v) => Some(v),
            Measure::Multi(_) => None,
        };
        kinds.append_value(single.map_or(MULTI, kind));
        double.append_option(single.and_then(|v| if let ScalarValue::Double(x) = v { Some(*x) } else { None }));
        bigint.append_option(single.and_then(|v| if let ScalarValue::Bigint(x) = v { Some(*x) } else { None }));
        varchar
            .append_option(single.and_then(|v| if let ScalarValue::Varchar(x) = v { Some(x.as_str()) } else { None }));
        boolean.append_option(single.and_then(|v| if let ScalarValue::Boolean(x) = v { Some(*x) } else { None }));
        timestamp.append_option(single.and_then(|v| if let ScalarValue::Timestamp(x) = v { Some(*x) } else { None }));
        match &r.measure {
            Measure::Multi(attrs) => multi.append_value(serde_json::to_string(attrs).map_err(std::io::Error::other)?),
            Measure::Single(_) => multi.append_null(),
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(time.finish().with_timezone("UTC")),
        Arc::new(name.finish()),
        Arc::new(version.finish()),
        Arc::new(dims.finish()),
        Arc::new(kinds.finish()),
        Arc::new(double.finish()),
        Arc::new(bigint.finish()),
        Arc::new(varchar.finish()),
        Arc::new(boolean.finish()),
        Arc::new(timestamp.finish()),
        Arc::new(multi.finish()),
    ];
    let batch = RecordBatch::try_new(schema(), columns).map_err(std::io::Error::other)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(64 * 1024))
        .build();
    let file = Checksummed::new(BufWriter::new(File::create(path)?));
    let mut writer = ArrowWriter::try_new(file, schema(), Some(props)).map_err(std::io::Error::other)?;
    writer.write(&batch).map_err(std::io::Error::other)?;
    let (buffered, bytes, crc32) = writer.into_inner().map_err(std::io::Error::other)?.finish();
    let file = buffered.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(FileSum { bytes, crc32, rows: n as u64 })
}

/// Reads the rows of a Parquet file written by [`write`], given its bytes; `path` names it in
/// errors.
pub fn read(path: &Path, bytes: Vec<u8>) -> std::io::Result<Vec<NewRecord>> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {what}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .and_then(|b| b.build())
        .map_err(|e| bad(&e.to_string()))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| bad(&e.to_string()))?;
        let col = |name: &str| batch.column_by_name(name).cloned().ok_or_else(|| bad(&format!("no column {name}")));
        let (time, name, version, dims, kinds) =
            (col("time")?, col("measure_name")?, col("version")?, col("dimensions")?, col("kind")?);
        let (double, bigint, varchar, boolean, timestamp, multi) =
            (col("double")?, col("bigint")?, col("varchar")?, col("boolean")?, col("timestamp")?, col("multi")?);
        let time = time.as_primitive::<TimestampNanosecondType>();
        let name = name.as_string::<i32>();
        let version = version.as_primitive::<Int64Type>();
        let dims = dims.as_string::<i32>();
        let kinds = kinds.as_primitive::<UInt8Type>();
        let double = double.as_primitive::<Float64Type>();
        let bigint = bigint.as_primitive::<Int64Type>();
        let varchar = varchar.as_string::<i32>();
        let boolean = boolean.as_boolean();
        let timestamp = timestamp.as_primitive::<Int64Type>();
        let multi = multi.as_string::<i32>();
        for i in 0..batch.num_rows() {
            let measure = match kinds.value(i) {
                0 => Measure::Single(ScalarValue::Double(double.value(i))),
                1 => Measure::Single(ScalarValue::Bigint(bigint.value(i))),
                2 => Measure::Single(ScalarValue::Varchar(varchar.value(i).to_string())),
                3 => Measure::Single(ScalarValue::Boolean(boolean.value(i))),
                4 => Measure::Single(ScalarValue::Timestamp(timestamp.value(i))),
                MULTI if multi.is_valid(i) => {
                    Measure::Multi(serde_json::from_str(multi.value(i)).map_err(|e| bad(&e.to_string()))?)
                }
                k => return Err(bad(&format!("unknown value kind {k}"))),
            };
            out.push(NewRecord {
                dimensions: serde_json::from_str(dims.value(i)).map_err(|e| bad(&e.to_string()))?,
                measure_name: name.value(i).to_string(),
                time_ns: time.value(i),
                version: Some(version.value(i)),
                measure,
            });
        }
    }
    Ok(out)
}
