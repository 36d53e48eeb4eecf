//! Tables as SQL sees them: one varchar column per dimension, `measure_name`, `time`, one
//! `measure_value::<type>` column per single-measure type written, and one column per
//! multi-measure attribute; NULL where a row lacks a column.

use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampNanosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::engine::store::{CHUNK_NS, Measure, MeasureType, ScalarValue, TableData};
use crate::types::timestamp_type;

fn arrow_type(t: MeasureType) -> DataType {
    match t {
        MeasureType::Double => DataType::Float64,
        MeasureType::Bigint => DataType::Int64,
        MeasureType::Varchar => DataType::Utf8,
        MeasureType::Boolean => DataType::Boolean,
        MeasureType::Timestamp => timestamp_type(),
    }
}

/// A column being filled.
enum Col {
    Double(Float64Builder),
    Bigint(Int64Builder),
    Varchar(StringBuilder),
    Boolean(BooleanBuilder),
    Timestamp(TimestampNanosecondBuilder),
}

impl Col {
    fn new(t: MeasureType) -> Self {
        match t {
            MeasureType::Double => Self::Double(Float64Builder::new()),
            MeasureType::Bigint => Self::Bigint(Int64Builder::new()),
            MeasureType::Varchar => Self::Varchar(StringBuilder::new()),
            MeasureType::Boolean => Self::Boolean(BooleanBuilder::new()),
            MeasureType::Timestamp => Self::Timestamp(TimestampNanosecondBuilder::new()),
        }
    }

    fn push(&mut self, v: Option<&ScalarValue>) {
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

    fn finish(self) -> ArrayRef {
        match self {
            Self::Double(mut b) => Arc::new(b.finish()),
            Self::Bigint(mut b) => Arc::new(b.finish()),
            Self::Varchar(mut b) => Arc::new(b.finish()),
            Self::Boolean(mut b) => Arc::new(b.finish()),
            Self::Timestamp(mut b) => Arc::new(b.finish().with_timezone("UTC")),
        }
    }
}

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

    let mut dim_cols: Vec<StringBuilder> = dims.iter().map(|_| StringBuilder::new()).collect();
    let mut names = StringBuilder::new();
    let mut times = TimestampNanosecondBuilder::new();
    let mut single_cols: Vec<Col> = singles.iter().map(|t| Col::new(*t)).collect();
    let mut attr_cols: Vec<Col> = attrs.iter().map(|(_, t)| Col::new(*t)).collect();
    for (row_dims, measure, time, record) in data.rows_between(from, to) {
        for (d, col) in dims.iter().zip(dim_cols.iter_mut()) {
            match row_dims.binary_search_by(|(n, _)| n.as_str().cmp(d)) {
                Ok(k) => col.append_value(&row_dims[k].1),
                Err(_) => col.append_null(),
            }
        }
        names.append_value(measure);
        times.append_value(time);
        match &record.measure {
            Measure::Single(v) => {
                for (t, col) in singles.iter().zip(single_cols.iter_mut()) {
                    col.push((v.kind() == *t).then_some(v));
                }
                attr_cols.iter_mut().for_each(|c| c.push(None));
            }
            Measure::Multi(values) => {
                single_cols.iter_mut().for_each(|c| c.push(None));
                for ((n, _), col) in attrs.iter().zip(attr_cols.iter_mut()) {
                    let v = values.binary_search_by(|(name, _)| name.as_str().cmp(n)).ok().map(|k| &values[k].1);
                    col.push(v);
                }
            }
        }
    }
    let mut columns: Vec<ArrayRef> = dim_cols.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef).collect();
    columns.push(Arc::new(names.finish()));
    columns.push(Arc::new(times.finish().with_timezone("UTC")));
    columns.extend(single_cols.into_iter().map(Col::finish));
    columns.extend(attr_cols.into_iter().map(Col::finish));
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
