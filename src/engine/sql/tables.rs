//! Tables as SQL sees them: one varchar column per dimension, `measure_name`, `time`, one
//! `measure_value::<type>` column per single-measure type written, and one column per
//! multi-measure attribute; NULL where a row lacks a column.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::engine::store::layout::{arrow_type, columns};
use crate::engine::store::{CHUNK_NS, MeasureType, TableData};
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

/// The table's rows with `from <= time < to` as one record batch in the SQL column layout.
pub fn rows_batch(data: &TableData, from: i64, to: i64) -> datafusion::error::Result<RecordBatch> {
    let schema = table_schema(data);
    let dims: Vec<&str> = data.dimension_names().collect();
    let singles: Vec<MeasureType> = data.single_types().collect();
    let attrs: Vec<(&str, MeasureType)> = data.attributes().collect();

    let rows: Vec<_> = data.rows_between(from, to).collect();
    let (columns, _) = columns(&rows, &dims, &singles, &attrs);
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// One table as a query reads it: its columns and its rows in hour chunks, with the time range
/// each covers, so that `time` predicates skip whole chunks.
#[derive(Debug, Clone)]
pub struct TableView {
    /// The columns.
    pub schema: SchemaRef,
    /// (first ns, end ns exclusive, rows), in time order.
    pub chunks: Vec<(i64, i64, Arc<RecordBatch>)>,
}

impl TableView {
    /// The table's current rows (building the chunks that changed since the last query).
    pub fn of(data: &mut TableData) -> datafusion::error::Result<Self> {
        let chunks = data.chunks(rows_batch)?;
        Ok(Self {
            schema: table_schema(data),
            chunks: chunks.into_iter().map(|(start, b)| (start, start.saturating_add(CHUNK_NS), b)).collect(),
        })
    }
}
