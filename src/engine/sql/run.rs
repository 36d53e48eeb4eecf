//! Running a query: a DataFusion session over a snapshot of the tables it reads, with a memory
//! pool of its own that its operators and its result draw on, and nothing spilled to disk.

use std::collections::BTreeSet;
use std::num::NonZeroUsize;
use std::ops::ControlFlow;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList, MemorySchemaProvider,
    SchemaProvider,
};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryConsumer, MemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{ObjectNamePart, Statement, visit_relations};

use super::provider::TimeTable;
use super::tables::TableView;
use crate::engine::error::{ApiError, ApiErrorKind, ApiResult, shorten, shown};
use crate::engine::query::MAX_GENERATED_BYTES;
use crate::engine::store::TableStore;

/// What a query returned, and how many bytes of table data it read.
#[derive(Debug)]
pub struct QueryOutput {
    /// The result's columns.
    pub schema: SchemaRef,
    /// The result's rows.
    pub batches: Vec<RecordBatch>,
    /// Bytes of table columns read (after time pruning).
    pub bytes_scanned: u64,
}

/// A planned query, ready to run within its memory limit.
pub struct Planned {
    frame: DataFrame,
    /// The result's columns.
    pub schema: SchemaRef,
    scanned: Arc<AtomicU64>,
    pool: Arc<dyn MemoryPool>,
    memory_limit: usize,
}

impl std::fmt::Debug for Planned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Planned").field("schema", &self.schema).field("memory_limit", &self.memory_limit).finish()
    }
}

/// Plans a statement from [`parse`](super::parse) (its text is `sql`, for error positions)
/// against `snapshot` (the tables it reads, taken under the catalog lock, so the query sees one
/// consistent state). The query may then use `memory_limit` bytes.
pub async fn plan(
    sql: &str,
    statement: Statement,
    snapshot: Vec<(String, String, TableView)>,
    memory_limit: usize,
) -> ApiResult<Planned> {
    let pool: Arc<dyn MemoryPool> = Arc::new(TrackConsumersPool::new(
        GreedyMemoryPool::new(memory_limit),
        NonZeroUsize::new(3).unwrap_or(NonZeroUsize::MIN),
    ));
    let ctx = session(pool.clone(), generation_budget(&statement))?;
    let catalog = ctx.catalog("datafusion").ok_or_else(|| internal("no default catalog"))?;
    let scanned = Arc::new(AtomicU64::new(0));
    for (db, table, view) in snapshot {
        let schema = match catalog.schema(&db) {
            Some(s) => s,
            None => {
                let s: Arc<dyn SchemaProvider> = Arc::new(MemorySchemaProvider::new());
                catalog.register_schema(&db, s.clone()).map_err(|e| internal(&e.to_string()))?;
                s
            }
        };
        let provider = TimeTable::new(view, scanned.clone());
        schema.register_table(table, Arc::new(provider)).map_err(|e| internal(&e.to_string()))?;
    }
    let state = ctx.state();
    let plan = state
        .statement_to_plan(DFStatement::Statement(Box::new(statement)))
        .await
        .map_err(|e| failure(&e, sql, memory_limit, true))?;
    let frame = ctx.execute_logical_plan(plan).await.map_err(|e| failure(&e, sql, memory_limit, true))?;
    let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
    Ok(Planned { frame, schema, scanned, pool, memory_limit })
}

impl Planned {
    /// The bytes of table data read so far (it grows while the query runs).
    pub fn scanned(&self) -> Arc<AtomicU64> {
        self.scanned.clone()
    }

    /// Runs the query and collects its result, which counts against the query's memory like
    /// its operators' state: a result larger than the limit ends the query, not the engine.
    pub async fn collect(self) -> ApiResult<QueryOutput> {
        let (limit, schema) = (self.memory_limit, self.schema.clone());
        let reservation = MemoryConsumer::new("query result").register(&self.pool);
        let mut stream = self.stream().await?;
        let mut batches = Vec::new();
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            reservation.try_grow(result_bytes(&batch)).map_err(|e| failure(&e, "", limit, false))?;
            batches.push(batch);
        }
        Ok(QueryOutput { schema, batches, bytes_scanned: stream.bytes_scanned() })
    }

    /// Runs the query and hands its result over batch by batch, as it is made: for a caller
    /// that writes the result out (UNLOAD) rather than holding it.
    pub async fn stream(self) -> ApiResult<ResultStream> {
        let limit = self.memory_limit;
        let fail = |e: &DataFusionError| failure(e, "", limit, false);
        let task = Arc::new(self.frame.task_ctx());
        let plan = self.frame.create_physical_plan().await.map_err(|e| fail(&e))?;
        let plan = yielding(plan).map_err(|e| fail(&e))?;
        let stream = datafusion::physical_plan::execute_stream(plan, task).map_err(|e| fail(&e))?;
        Ok(ResultStream { stream, scanned: self.scanned, memory_limit: limit })
    }
}

/// A running query's result, batch by batch ([`Planned::stream`]).
pub struct ResultStream {
    stream: datafusion::execution::SendableRecordBatchStream,
    scanned: Arc<AtomicU64>,
    memory_limit: usize,
}

impl std::fmt::Debug for ResultStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultStream").field("memory_limit", &self.memory_limit).finish_non_exhaustive()
    }
}

impl ResultStream {
    /// The next batch of the result, `None` at its end; a failure as the API reports it.
    pub async fn next(&mut self) -> Option<ApiResult<RecordBatch>> {
        let batch = std::future::poll_fn(|cx| self.stream.as_mut().poll_next(cx)).await?;
        Some(batch.map_err(|e| failure(&e, "", self.memory_limit, false)))
    }

    /// The bytes of table data read so far.
    pub fn bytes_scanned(&self) -> u64 {
        self.scanned.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// `plan` with every operator's output passing through DataFusion's cooperative wrapper, which
/// hands control back to the runtime every so many batches. Without it an operator that makes
/// many batches from one input batch (a cross join feeding an aggregate) loops without ever
/// yielding, and then neither the query's time limit nor a cancellation could stop it.
fn yielding(plan: Arc<dyn ExecutionPlan>) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    use datafusion::physical_plan::coop::CooperativeExec;
    plan.transform_up(|node| {
        if (node.as_ref() as &dyn std::any::Any).is::<CooperativeExec>() {
            return Ok(Transformed::no(node));
        }
        Ok(Transformed::yes(Arc::new(CooperativeExec::new(node)) as Arc<dyn ExecutionPlan>))
    })
    .map(|t| t.data)
}

/// Plans and runs a statement from [`parse`](super::parse) in one go, with `memory_limit`
/// bytes.
pub async fn run_query(
    sql: &str,
    statement: Statement,
    snapshot: Vec<(String, String, TableView)>,
    memory_limit: usize,
) -> ApiResult<QueryOutput> {
    plan(sql, statement, snapshot, memory_limit).await?.collect().await
}

/// The bytes a result batch holds: the part of each buffer its rows use (a batch that is a
/// slice of a larger one, such as a table's chunk, shares the rest).
pub fn result_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|c| c.to_data().get_slice_memory_size().unwrap_or_else(|_| c.get_array_memory_size()))
        .sum()
}

/// A session with the dialect's functions, an empty catalog of its own, and `pool` for its
/// memory (nothing spills to disk: a query that needs more memory than it has fails). The
/// functions are registered once, in a template that each query's session copies (building a
/// session from scratch registers every built-in function again, a fixed cost on every small
/// query).
fn session(pool: Arc<dyn MemoryPool>, budget: usize) -> ApiResult<SessionContext> {
    static TEMPLATE: std::sync::OnceLock<(SessionState, super::guard::Guards)> = std::sync::OnceLock::new();
    let (template, guards) = TEMPLATE.get_or_init(|| {
        // Timestream names are case-sensitive and unquoted identifiers are not lower-cased.
        let config = SessionConfig::new().set_bool("datafusion.sql_parser.enable_ident_normalization", false);
        let ctx = SessionContext::new_with_config(config);
        for f in super::functions::all().into_iter().chain(super::lambda::all()) {
            ctx.register_udf(f);
        }
        ctx.register_udaf(super::series_agg::create_time_series());
        let guards = super::guard::Guards::from_registry(&ctx.state());
        for f in guards.scalars(MAX_GENERATED_BYTES) {
            ctx.register_udf(f);
        }
        for (name, f) in guards.tables() {
            ctx.register_udtf(name, f.clone());
        }
        (ctx.state(), guards)
    });
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(pool)
        .with_disk_manager_builder(DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled))
        .build_arc()
        .map_err(|e| internal(&e.to_string()))?;
    let catalogs = Arc::new(MemoryCatalogProviderList::new());
    let default: Arc<dyn CatalogProvider> = Arc::new(MemoryCatalogProvider::new());
    catalogs.register_catalog("datafusion".to_string(), default);
    let state = SessionStateBuilder::new_from_existing(template.clone())
        .with_catalog_list(catalogs)
        .with_runtime_env(runtime)
        .build();
    let ctx = SessionContext::new_with_state(state);
    if budget < MAX_GENERATED_BYTES {
        for f in guards.scalars(budget) {
            ctx.register_udf(f);
        }
    }
    Ok(ctx)
}

/// Bytes each call of a bounded function may produce for a batch of rows in this statement:
/// [`MAX_GENERATED_BYTES`] shared among its calls of them and the parts of its plan (queries,
/// set operations, tables), which may all be at work at once.
fn generation_budget(statement: &Statement) -> usize {
    use datafusion::sql::sqlparser::ast::{Expr, Query, TableFactor, Visit, Visitor};
    struct Count {
        calls: usize,
        parts: usize,
    }
    impl Visitor for Count {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            self.parts += 1 + super::depth::set_operations(&query.body);
            ControlFlow::Continue(())
        }
        fn pre_visit_table_factor(&mut self, _table: &TableFactor) -> ControlFlow<()> {
            self.parts += 1;
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            if let Expr::Function(f) = expr
                && let Some(name) = f.name.0.last().and_then(|p| p.as_ident())
                && super::guard::is_bounded(&name.value)
            {
                self.calls += 1;
            }
            ControlFlow::Continue(())
        }
    }
    let mut count = Count { calls: 0, parts: 0 };
    let _ = statement.visit(&mut count);
    // A query reading one table is two parts: it has the whole budget.
    MAX_GENERATED_BYTES / count.calls.max(1) / count.parts.saturating_sub(1).max(1)
}

fn internal(msg: &str) -> ApiError {
    ApiError::new(ApiErrorKind::InternalServer, msg.to_string())
}

/// A DataFusion error as the API reports it: planning failures are ValidationException (in
/// Timestream's words where it has them), failures while running QueryExecutionException, and
/// running out of the query's memory says which limit it hit. Those are the query's doing, so
/// none is an InternalServerException, which SDKs would retry; a data file that cannot be read
/// (damaged, or gone) is the engine's, and is one.
fn failure(e: &DataFusionError, sql: &str, memory_limit: usize, planning: bool) -> ApiError {
    let root = e.find_root();
    let message = root.message();
    let message = message.split(DataFusionError::BACK_TRACE_SEP).next().unwrap_or_default().trim();
    match root {
        // The engine's own files could not be read: not the query's doing.
        DataFusionError::External(inner) if inner.downcast_ref::<std::io::Error>().is_some() => {
            internal(&format!("The engine could not read its data: {}", shorten(message, 1000)))
        }
        DataFusionError::ParquetError(_) | DataFusionError::ObjectStore(_) | DataFusionError::IoError(_) => {
            internal(&format!("The engine could not read its data files: {}", shorten(message, 1000)))
        }
        DataFusionError::ResourcesExhausted(_) => ApiError::query_execution(format!(
            "The query needs more memory than its limit of {} MiB. Narrow its time range, aggregate, or raise the \
             engine's query memory limit (--query-memory-limit). ({})",
            memory_limit >> 20,
            shorten(message, 300)
        )),
        DataFusionError::Internal(m) => ApiError::query_execution(format!(
            "The engine could not {} this query: {}",
            if planning { "plan" } else { "run" },
            shorten(m, 300)
        )),
        _ if planning => ApiError::validation(planning_message(&e.to_string(), sql)),
        _ => ApiError::query_execution(format!("Query execution failed: {}", shorten(message, 1000))),
    }
}

/// DataFusion's planning errors in Timestream's words where they have an equivalent.
fn planning_message(e: &str, sql: &str) -> String {
    if let Some(rest) = e.split("No field named ").nth(1) {
        let name = rest.split(['.', ' ']).next().unwrap_or(rest).trim_matches('"');
        let (line, col) = position_of(sql, name);
        return format!("line {line}:{col}: Column '{}' does not exist", shown(name));
    }
    if let Some(rest) = e.split("Invalid function '").nth(1) {
        let name = rest.split('\'').next().unwrap_or(rest);
        let (line, col) = position_of(sql, name);
        return format!("line {line}:{col}: Function '{}' not registered", shown(name));
    }
    if let Some(rest) = e.split("table '").nth(1) {
        let name = rest.split('\'').next().unwrap_or(rest).trim_start_matches("datafusion.");
        return format!("Table '{}' does not exist or is not accessible", shown(name));
    }
    shorten(e.trim_start_matches("Error during planning: "), 1000)
}

/// The 1-based line and column of the first whole-word occurrence of `name` in `sql`
/// (1:1 if it cannot be found).
fn position_of(sql: &str, name: &str) -> (usize, usize) {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    if name.is_empty() {
        return (1, 1);
    }
    for (i, line) in sql.lines().enumerate() {
        let mut from = 0;
        while let Some(k) = line[from..].find(name) {
            let at = from + k;
            let before = line[..at].chars().next_back();
            let after = line[at + name.len()..].chars().next();
            if !before.is_some_and(is_word) && !after.is_some_and(is_word) {
                return (i + 1, line[..at].chars().count() + 1);
            }
            from = at + name.len();
        }
    }
    (1, 1)
}

/// The `db.table` names a statement reads (CTE names and other one-part names are not tables).
pub fn referenced_tables(statement: &Statement) -> BTreeSet<(String, String)> {
    let mut names = BTreeSet::new();
    let _ = visit_relations(statement, |name| {
        if let [ObjectNamePart::Identifier(db), ObjectNamePart::Identifier(table)] = name.0.as_slice() {
            names.insert((db.value.clone(), table.value.clone()));
        }
        ControlFlow::<()>::Continue(())
    });
    names
}

/// The named tables that exist, as of now: (database, table, view). Views share the tables'
/// columnar chunks (only chunks changed since the last query are rebuilt); unknown names are
/// left for the planner to report.
pub fn snapshot(tables: Vec<(String, String, Arc<Mutex<TableStore>>)>) -> ApiResult<Vec<(String, String, TableView)>> {
    let mut out = Vec::new();
    for (db, table, data) in tables {
        let mut data = data.lock().unwrap_or_else(PoisonError::into_inner);
        let view = TableView::of(&mut data).map_err(|e| internal(&e.to_string()))?;
        out.push((db, table, view));
    }
    Ok(out)
}
