//! Checkpoint files as releases before the wide layout ([`super::layout`]) wrote them, read
//! once when such a data directory is opened (its next checkpoint is in the wide layout).
//!
//! Rows were stored long-form, one row per record: `time`, `measure_name`, `version`, the
//! dimensions, and the value in a typed column for its kind (MULTI values and the dimension
//! list as JSON text). `time` is a real timestamp column, so row-group statistics prune reads by
//! time.

use std::path::Path;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType, UInt8Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::memory::{Measure, NewRecord, ScalarValue};

const MULTI: u8 = 5;

/// Reads the rows of a checkpoint file in the old long form, given its bytes; `path` names it in
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
