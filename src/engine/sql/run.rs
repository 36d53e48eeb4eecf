//! Running a query: a DataFusion session over a snapshot of the tables it reads.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList, MemorySchemaProvider,
    SchemaProvider,
};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DFStatement;

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{ObjectNamePart, Statement, visit_relations};

use super::provider::TimeTable;
use super::tables::TableView;
use crate::engine::catalog::Catalog;
use crate::engine::error::{ApiError, ApiErrorKind, ApiResult};

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

/// Plans and runs a statement from [`parse`] (its text is `sql`, for error positions) against
/// `snapshot` (the tables it reads, taken under the catalog lock, so the query sees one
/// consistent state).
pub async fn run_query(
    sql: &str,
    statement: Statement,
    snapshot: Vec<(String, String, TableView)>,
) -> ApiResult<QueryOutput> {
    let ctx = session();
    let catalog = ctx.catalog("datafusion").ok_or_else(|| internal("no default catalog"))?;
    let scanned = Arc::new(std::sync::atomic::AtomicU64::new(0));
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
        .map_err(|e| ApiError::validation(planning_message(&e.to_string(), sql)))?;
    let df = ctx
        .execute_logical_plan(plan)
        .await
        .map_err(|e| ApiError::validation(planning_message(&e.to_string(), sql)))?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let batches = df
        .collect()
        .await
        .map_err(|e| ApiError::new(ApiErrorKind::InternalServer, format!("Query execution failed: {e}")))?;
    Ok(QueryOutput { schema, batches, bytes_scanned: scanned.load(std::sync::atomic::Ordering::Relaxed) })
}

/// A session with the dialect's functions and an empty catalog of its own. The functions are
/// registered once, in a template that each query's session copies (building a session from
/// scratch registers every built-in function again, a fixed cost on every small query).
fn session() -> SessionContext {
    static TEMPLATE: std::sync::OnceLock<SessionState> = std::sync::OnceLock::new();
    let template = TEMPLATE.get_or_init(|| {
        // Timestream names are case-sensitive and unquoted identifiers are not lower-cased.
        let config = SessionConfig::new().set_bool("datafusion.sql_parser.enable_ident_normalization", false);
        let ctx = SessionContext::new_with_config(config);
        for f in super::functions::all().into_iter().chain(super::lambda::all()) {
            ctx.register_udf(f);
        }
        ctx.register_udaf(super::series_agg::create_time_series());
        ctx.state()
    });
    let catalogs = Arc::new(MemoryCatalogProviderList::new());
    let default: Arc<dyn CatalogProvider> = Arc::new(MemoryCatalogProvider::new());
    catalogs.register_catalog("datafusion".to_string(), default);
    let state = SessionStateBuilder::new_from_existing(template.clone()).with_catalog_list(catalogs).build();
    SessionContext::new_with_state(state)
}

fn internal(msg: &str) -> ApiError {
    ApiError::new(ApiErrorKind::InternalServer, msg.to_string())
}

/// DataFusion's planning errors in Timestream's words where they have an equivalent.
fn planning_message(e: &str, sql: &str) -> String {
    if let Some(rest) = e.split("No field named ").nth(1) {
        let name = rest.split(['.', ' ']).next().unwrap_or(rest).trim_matches('"');
        let (line, col) = position_of(sql, name);
        return format!("line {line}:{col}: Column '{name}' does not exist");
    }
    if let Some(rest) = e.split("Invalid function '").nth(1) {
        let name = rest.split('\'').next().unwrap_or(rest);
        let (line, col) = position_of(sql, name);
        return format!("line {line}:{col}: Function '{name}' not registered");
    }
    if let Some(rest) = e.split("table '").nth(1) {
        let name = rest.split('\'').next().unwrap_or(rest).trim_start_matches("datafusion.");
        return format!("Table '{name}' does not exist or is not accessible");
    }
    e.trim_start_matches("Error during planning: ").to_string()
}

/// The 1-based line and column of the first whole-word occurrence of `name` in `sql`
/// (1:1 if it cannot be found).
fn position_of(sql: &str, name: &str) -> (usize, usize) {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    for (i, line) in sql.lines().enumerate() {
        let mut from = 0;
        while let Some(k) = line[from..].find(name) {
            let at = from + k;
            let before = line[..at].chars().next_back();
            let after = line[at + name.len()..].chars().next();
            if !before.is_some_and(is_word) && !after.is_some_and(is_word) {
                return (i + 1, line[..at].chars().count() + 1);
            }
            from = at + name.len().max(1);
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
pub fn snapshot(
    catalog: &mut Catalog,
    names: &BTreeSet<(String, String)>,
) -> ApiResult<Vec<(String, String, TableView)>> {
    let mut out = Vec::new();
    for (db, table) in names {
        if let Ok(t) = catalog.table_mut(db, table) {
            let view = TableView::of(&mut t.data).map_err(|e| internal(&e.to_string()))?;
            out.push((db.clone(), table.clone(), view));
        }
    }
    Ok(out)
}
