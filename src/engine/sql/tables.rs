//! Tables as SQL sees them: one varchar column per dimension, `measure_name`, `time`, one
//! `measure_value::<type>` column per single-measure type written, and one column per
//! multi-measure attribute; NULL where a row lacks a column.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::engine::catalog::DAY_NS;
use crate::engine::store::layout::arrow_type;
use crate::engine::store::{CHUNK_NS, FileSum, TableData, TableStore, Verified};
use crate::types::timestamp_type;

/// The table's columns as SQL sees them.
pub fn table_schema(data: &TableData) -> SchemaRef {
    let mut fields: Vec<Field> = data.dimension_names().map(|d| Field::new(d, DataType::Utf8, true)).collect();
    fields.push(Field::new("measure_name", DataType::Utf8, false));
    fields.push(Field::new("time", timestamp_type(), false));
    for t in data.single_types() {
        fields.push(Field::new(format!("measure_value::{}", t.name().to_lowercase()), arrow_type(t), true));
    }
    for (n, t) in data.attributes() {
        fields.push(Field::new(n, arrow_type(t), true));
    }
    Arc::new(Schema::new(fields))
}

/// A magnetic store file as a query reads it.
#[derive(Debug, Clone)]
pub struct ViewFile {
    /// Its path.
    pub path: std::path::PathBuf,
    /// Its path below the table's directory (its key in the set of verified files).
    pub key: String,
    /// Its length, checksum and rows, as its manifest lists them.
    pub sum: FileSum,
    /// Its oldest row time, ns.
    pub min_time: i64,
    /// Its newest row time, ns.
    pub max_time: i64,
    /// Its rows, decoded, when it is among the newest files kept in memory.
    pub decoded: Option<Arc<RecordBatch>>,
}

/// One table as a query reads it: its columns, its rows in memory in chunks (the memory
/// store's hours, and magnetic days loaded for writes) and its magnetic store's files, each with
/// the time range it covers, so that `time` predicates skip whole chunks and files.
#[derive(Debug, Clone)]
pub struct TableView {
    /// The columns.
    pub schema: SchemaRef,
    /// (first ns, end ns exclusive, rows), in time order.
    pub chunks: Vec<(i64, i64, Arc<RecordBatch>)>,
    /// The magnetic store's files.
    pub files: Vec<ViewFile>,
    /// The files whose checksums were verified (a scan verifies the others it reaches).
    pub verified: Verified,
}

impl TableView {
    /// The table's current rows (building the chunks that changed since the last query).
    pub fn of(store: &mut TableStore) -> datafusion::error::Result<Self> {
        let schema = table_schema(&store.memory);
        let mut chunks: Vec<(i64, i64, Arc<RecordBatch>)> = store
            .memory
            .chunks(&schema)?
            .into_iter()
            .map(|(start, b)| (start, start.saturating_add(CHUNK_NS), b))
            .collect();
        for (day, overlay) in &store.magnetic.overlays {
            let batch = overlay.rows.batch_as(&store.memory, &schema)?;
            chunks.push((day.saturating_mul(DAY_NS), (day + 1).saturating_mul(DAY_NS), Arc::new(batch)));
        }
        chunks.sort_by_key(|c| c.0);
        let recent = store.magnetic.recent();
        let files = store
            .magnetic
            .files_between(i64::MIN, i64::MAX)
            .into_iter()
            .map(|f| {
                let path = store.magnetic.path_of(&f);
                ViewFile {
                    decoded: recent.get(&path),
                    path,
                    key: f.path.clone(),
                    sum: f.sum,
                    min_time: f.min_time,
                    max_time: f.max_time,
                }
            })
            .collect();
        Ok(Self { schema, chunks, files, verified: store.magnetic.verified() })
    }
}
