//! A table as DataFusion reads it: the hour chunks of a [`TableView`], skipping those that a
//! query's `time` predicates rule out, and counting the bytes it reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::{Array, RecordBatch};
use arrow_schema::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::object_store::ObjectStoreUrl;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::union::UnionExec;

use super::tables::TableView;
use crate::engine::store::layout::columns_as;
use crate::engine::store::verify_file;

/// One table in one query.
#[derive(Debug)]
pub struct TimeTable {
    view: TableView,
    scanned: Arc<AtomicU64>,
}

impl TimeTable {
    /// Serves `view`, adding the bytes each scan reads to `scanned`.
    pub fn new(view: TableView, scanned: Arc<AtomicU64>) -> Self {
        Self { view, scanned }
    }
}

#[async_trait]
impl TableProvider for TimeTable {
    fn schema(&self) -> SchemaRef {
        self.view.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        // Pruning is by whole chunks, files and row groups, so DataFusion still applies the
        // filter to the rows.
        Ok(filters
            .iter()
            .map(|f| match time_range(f).is_some() || prunable(f) {
                true => TableProviderFilterPushDown::Inexact,
                false => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let (from, to) =
            filters.iter().filter_map(time_range).fold((i64::MIN, i64::MAX), |(a, b), (c, d)| (a.max(c), b.min(d)));
        // The memory store's chunks, and the files kept decoded (as the table's columns);
        // the other files are read below.
        let mut chunks: Vec<(i64, Arc<RecordBatch>)> = self
            .view
            .chunks
            .iter()
            .filter(|(start, end, _)| *start < to && *end > from)
            .map(|c| (c.0, c.2.clone()))
            .collect();
        let mut files = Vec::new();
        for f in self.view.files.iter().filter(|f| f.min_time < to && f.max_time >= from) {
            match f.decoded.as_deref().and_then(|b| as_table(b, &self.view.schema)) {
                Some(batch) => chunks.push((f.min_time, Arc::new(batch))),
                None => files.push(f),
            }
        }
        chunks.sort_by_key(|c| c.0);
        let chunks: Vec<Arc<RecordBatch>> = chunks.into_iter().map(|c| c.1).collect();
        let bytes: usize = chunks
            .iter()
            .map(|b| match projection {
                Some(p) => p.iter().map(|&i| b.column(i).get_array_memory_size()).sum::<usize>(),
                None => b.columns().iter().map(|c| c.get_array_memory_size()).sum(),
            })
            .sum();
        self.scanned.fetch_add(bytes as u64, Ordering::Relaxed);
        // In slices of DataFusion's batch size, as its operators expect (a decoded file holds
        // a day); slicing copies nothing.
        let size = state.config().batch_size().max(1);
        let slices: Vec<RecordBatch> = chunks
            .iter()
            .flat_map(|b| (0..b.num_rows()).step_by(size).map(move |at| b.slice(at, size.min(b.num_rows() - at))))
            .collect();
        // Contiguous runs of slices, one per partition.
        let parts = state.config().target_partitions().clamp(1, slices.len().max(1));
        let per = slices.len().div_ceil(parts).max(1);
        let partitions: Vec<Vec<_>> = slices.chunks(per).map(<[RecordBatch]>::to_vec).collect();
        let partitions = if partitions.is_empty() { vec![Vec::new()] } else { partitions };
        let memory: Arc<dyn ExecutionPlan> =
            MemorySourceConfig::try_new_exec(&partitions, self.schema(), projection.cloned())?;
        // The magnetic store's files that the time range reaches, streamed by DataFusion's
        // Parquet reader (only the projected columns; columns a file lacks read as NULL).
        if files.is_empty() {
            return Ok(memory);
        }
        // Checksums, once per file and engine run, outside the table's lock.
        for f in &files {
            verify_file(&self.view.verified, &f.key, &f.path, &f.sum)
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        }
        self.scanned.fetch_add(files.iter().map(|f| f.sum.bytes).sum::<u64>(), Ordering::Relaxed);
        let groups = state.config().target_partitions().clamp(1, files.len());
        let per = files.len().div_ceil(groups);
        let file_groups: Vec<FileGroup> = files
            .chunks(per)
            .map(|run| {
                FileGroup::new(
                    run.iter()
                        .map(|f| {
                            let path = f.path.to_string_lossy();
                            PartitionedFile::new(path.trim_start_matches('/'), f.sum.bytes)
                        })
                        .collect(),
                )
            })
            .collect();
        // Row groups whose statistics rule the filters out are skipped (the files are sorted by
        // series and time, so dimension and time statistics are tight).
        let mut source = ParquetSource::new(self.schema());
        let pushed = filters.iter().filter(|f| time_range(f).is_some() || prunable(f)).cloned().reduce(Expr::and);
        if let Some(predicate) = pushed {
            let schema = DFSchema::try_from(self.schema().as_ref().clone())?;
            if let Ok(physical) = state.create_physical_expr(predicate, &schema) {
                source = source.with_predicate(physical);
            }
        }
        let source = Arc::new(source);
        let config = FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), source)
            .with_file_groups(file_groups)
            .with_projection_indices(projection.cloned())?
            .build();
        let parquet: Arc<dyn ExecutionPlan> = DataSourceExec::from_data_source(config);
        UnionExec::try_new(vec![memory, parquet])
    }
}

/// A file's decoded rows as the table's columns (see [`columns_as`]); `None` if a column's
/// type differs, and the file is read instead.
fn as_table(batch: &RecordBatch, schema: &SchemaRef) -> Option<RecordBatch> {
    RecordBatch::try_new(schema.clone(), columns_as(batch, schema).ok()?).ok()
}

/// The `[from, to)` range of times (ns) a filter lets through, when it is a comparison of
/// `time` with a constant, a BETWEEN, or an AND/OR of those.
fn time_range(e: &Expr) -> Option<(i64, i64)> {
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::And, right }) => {
            match (time_range(left), time_range(right)) {
                (Some((a, b)), Some((c, d))) => Some((a.max(c), b.min(d))),
                (one, None) | (None, one) => one,
            }
        }
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::Or, right }) => {
            let ((a, b), (c, d)) = (time_range(left)?, time_range(right)?);
            Some((a.min(c), b.max(d)))
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (op, v) = match (is_time(left), is_time(right)) {
                (true, false) => (*op, literal_ns(right)?),
                (false, true) => (op.swap()?, literal_ns(left)?),
                _ => return None,
            };
            match op {
                Operator::Eq => Some((v, v.saturating_add(1))),
                Operator::Gt => Some((v.saturating_add(1), i64::MAX)),
                Operator::GtEq => Some((v, i64::MAX)),
                Operator::Lt => Some((i64::MIN, v)),
                Operator::LtEq => Some((i64::MIN, v.saturating_add(1))),
                _ => None,
            }
        }
        Expr::Between(Between { expr, negated: false, low, high }) if is_time(expr) => {
            Some((literal_ns(low)?, literal_ns(high)?.saturating_add(1)))
        }
        _ => None,
    }
}

/// Whether a filter can prune files and row groups by their statistics: comparisons of a column
/// with a constant, IN lists of constants, and AND/OR of those (nothing volatile).
fn prunable(e: &Expr) -> bool {
    let literal = |e: &Expr| matches!(e, Expr::Literal(..));
    let column = |e: &Expr| matches!(e, Expr::Column(_));
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::And | Operator::Or, right }) => {
            prunable(left) && prunable(right)
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            matches!(op, Operator::Eq | Operator::NotEq | Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq)
                && ((column(left) && literal(right)) || (literal(left) && column(right)))
        }
        Expr::InList(list) => column(&list.expr) && list.list.iter().all(literal),
        _ => false,
    }
}

fn is_time(e: &Expr) -> bool {
    matches!(e, Expr::Column(c) if c.name == "time")
}

fn literal_ns(e: &Expr) -> Option<i64> {
    let Expr::Literal(v, _) = e else { return None };
    match v {
        ScalarValue::TimestampNanosecond(Some(n), _) => Some(*n),
        ScalarValue::TimestampMicrosecond(Some(n), _) => n.checked_mul(1_000),
        ScalarValue::TimestampMillisecond(Some(n), _) => n.checked_mul(1_000_000),
        ScalarValue::TimestampSecond(Some(n), _) => n.checked_mul(1_000_000_000),
        _ => None,
    }
}
