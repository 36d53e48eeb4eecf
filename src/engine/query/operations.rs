//! The query API's operations on the engine: Query (run, or the next page), CancelQuery and
//! PrepareQuery. A query is parsed, checked against the caller's grants and planned on a query
//! thread, waits for a slot, then runs within its memory and time limits; the caller's Query
//! call waits a while for it, as the service's does, and otherwise answers with a NextToken to
//! ask again.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use datafusion::sql::sqlparser::ast::Statement;

use serde_json::{Value, json};

use super::results::Columns;
use super::unload::UnloadSpec;
use crate::engine::Engine;
use crate::engine::auth::{Access, Principal};
use crate::engine::error::{ApiError, ApiErrorKind, ApiResult};
use crate::engine::sql::{self, QueryOutput, Show};

/// How many times a query runs again after a tiering pass replaced a file it planned to read
/// (passes run a minute apart by default, so one more run nearly always suffices).
const MAX_REPLACED: usize = 10;

/// A Query request, its members checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRequest {
    /// The SQL.
    pub query_string: String,
    /// At most this many rows per page (1–1000).
    pub max_rows: Option<usize>,
    /// The page to read, from an earlier answer.
    pub next_token: Option<String>,
}

impl Engine {
    /// Query: starts a query and answers with its first page (or no rows and a NextToken when
    /// it is still running), or answers the page a NextToken names.
    pub async fn query(self: &Arc<Self>, request: QueryRequest, principal: &Principal) -> ApiResult<String> {
        let results = &self.results;
        let wait = self.queries.limits.poll_wait;
        let owner = principal.access_key_id.as_str();
        if let Some(token) = &request.next_token {
            return results.next(&request.query_string, token, request.max_rows, owner, wait).await;
        }
        if let Some(show) = Show::parse(&request.query_string) {
            // A metadata statement reads the catalog; it takes a place among the queries.
            let _admitted = self.queries.admit()?;
            let (schema, batches) = self.show(show, principal).await?;
            let columns = Arc::new(Columns::of(&schema)?);
            let id = results.register(&request.query_string, owner);
            results.complete(&id, Ok((columns, QueryOutput { schema, batches, bytes_scanned: 0 })));
            return results.first_page(&id, request.max_rows, Duration::ZERO).await;
        }
        if !principal.grants.allows_any(Access::Read) {
            return Err(principal.denied("Select", &format!("arn:aws:timestream:{}:*", self.config.region)));
        }
        let admitted = self.queries.admit()?;
        let id = results.register(&request.query_string, owner);
        let job = {
            let (engine, id, principal) = (self.clone(), id.clone(), principal.clone());
            let sql = request.query_string;
            async move {
                let outcome = engine.run(&id, &sql, &principal).await;
                engine.results.complete(&id, outcome);
                drop(admitted);
            }
        };
        let handle = self.queries.spawn(job);
        results.set_abort(&id, handle.abort_handle());
        // A query that panics (a bug) fails with an error instead of leaving its callers
        // waiting.
        let (watcher, watched) = (self.results.clone(), id.clone());
        self.queries.spawn(async move {
            if let Err(e) = handle.await
                && e.is_panic()
            {
                // Not a 500: SDKs would run it again, twice.
                watcher.complete(
                    &watched,
                    Err(ApiError::query_execution(
                        "The query failed inside the engine (a bug: please report it with the query).",
                    )),
                );
            }
        });
        results.first_page(&id, request.max_rows, wait).await
    }

    /// Parses, checks, plans and runs one query (on a query thread).
    async fn run(&self, id: &str, sql_text: &str, principal: &Principal) -> ApiResult<(Arc<Columns>, QueryOutput)> {
        let statement = sql::parse(sql_text, self.clock.now_ns())?;
        let (statement, unload) = super::unload::split(statement)?;
        let unload_root = match (&unload, &self.config.unload_root) {
            (Some(_), None) => {
                return Err(ApiError::validation(
                    "UNLOAD needs a directory to write to: start the engine with --unload-root DIR (Python: \
                     LocalTimestream(unload_root=...)); s3://bucket/folder/ is then DIR/bucket/folder/.",
                ));
            }
            (_, root) => root.clone(),
        };
        let tables = sql::referenced_tables(&statement);
        for (db, _) in &tables {
            if !principal.allows(Access::Read, db) {
                let arn = self.catalog().database_arn(db);
                return Err(principal.denied("Select", &arn));
            }
        }
        let unload = unload.zip(unload_root);
        // A tiering pass may replace a file the query planned to read (merging a day, writing
        // back a day that took magnetic writes, dropping an expired one) before it reads it;
        // the query then runs again on a fresh snapshot. Within one time limit overall.
        let limits = &self.queries.limits;
        let deadline = tokio::time::Instant::now() + limits.timeout;
        let mut replaced = 0;
        loop {
            let mut files = Vec::new();
            let attempt = self.attempt(id, sql_text, statement.clone(), &tables, unload.clone(), &mut files);
            match tokio::time::timeout_at(deadline, attempt).await.map_err(|_| too_long(limits.timeout))? {
                // The engine could not read its files, and one of them is gone.
                Err(e)
                    if e.kind == ApiErrorKind::InternalServer
                        && replaced < MAX_REPLACED
                        && files.iter().any(|f| !f.exists()) =>
                {
                    replaced += 1;
                }
                outcome => return outcome,
            }
        }
    }

    /// One run of a query: its tables' snapshot (whose data files it lists in `files`), its
    /// plan, and its result (or its files, for an UNLOAD to the export root given).
    async fn attempt(
        &self,
        id: &str,
        sql_text: &str,
        statement: Statement,
        tables: &BTreeSet<(String, String)>,
        unload: Option<(UnloadSpec, PathBuf)>,
        files: &mut Vec<PathBuf>,
    ) -> ApiResult<(Arc<Columns>, QueryOutput)> {
        // The catalog's lock only to find the tables; each table's own lock to take its rows.
        let handles: Vec<_> = {
            let c = self.catalog();
            tables.iter().filter_map(|(d, t)| Some((d.clone(), t.clone(), c.table(d, t).ok()?.data_handle()))).collect()
        };
        let snapshot = tokio::task::block_in_place(|| sql::snapshot(handles))?;
        files.extend(snapshot.iter().flat_map(|(_, _, view)| view.files.iter().map(|f| f.path.clone())));
        let planned = sql::plan(sql_text, statement, snapshot, self.queries.limits.memory).await?;
        if let Some((spec, root)) = unload {
            let (schema, columns) = (planned.schema.clone(), Arc::new(Columns::of(&super::unload::answer_schema())?));
            self.results.set_planned(id, columns.clone(), planned.scanned());
            let _slot = self.queries.slot().await;
            let out = super::unload::unload(spec, &root, id, &schema, planned.stream().await?).await?;
            return Ok((columns, out));
        }
        let columns = Arc::new(Columns::of(&planned.schema)?);
        self.results.set_planned(id, columns.clone(), planned.scanned());
        let _slot = self.queries.slot().await;
        Ok((columns, planned.collect().await?))
    }

    /// A metadata statement's answer, taken from the catalog with its lock held only to copy
    /// what the statement needs.
    async fn show(
        self: &Arc<Self>,
        show: Show,
        principal: &Principal,
    ) -> ApiResult<(arrow_schema::SchemaRef, Vec<arrow_array::RecordBatch>)> {
        if let Some(db) = show.database()
            && !principal.allows(Access::Read, &db)
        {
            return Err(principal.denied("DescribeDatabase", &self.catalog().database_arn(&db)));
        }
        let (engine, principal) = (self.clone(), principal.clone());
        tokio::task::spawn_blocking(move || {
            let gathered = show.gather(&engine.catalog(), &|db| principal.allows(Access::Read, db))?;
            Ok(show.answer(gathered))
        })
        .await
        .map_err(|e| ApiError::new(ApiErrorKind::InternalServer, format!("metadata query failed: {e}")))?
    }

    /// CancelQuery: stops a running query and frees its result; idempotent.
    pub fn cancel_query(&self, query_id: &str, principal: &Principal) -> ApiResult<Value> {
        self.results.cancel(query_id, &principal.access_key_id)
    }

    /// PrepareQuery (ValidateOnly): whether the query parses in the dialect.
    pub async fn prepare_query(&self, query_string: String, principal: &Principal) -> ApiResult<Value> {
        if !principal.grants.allows_any(Access::Read) {
            return Err(principal.denied("PrepareQuery", &format!("arn:aws:timestream:{}:*", self.config.region)));
        }
        let now = self.clock.now_ns();
        let text = query_string.clone();
        self.queries.on_query_thread(move || sql::parse(&text, now).map(drop)).await??;
        Ok(json!({ "QueryString": query_string, "Columns": [], "Parameters": [] }))
    }
}

fn too_long(limit: Duration) -> ApiError {
    ApiError::query_execution(format!(
        "The query ran longer than the engine's limit of {} and was stopped. Narrow its time range, or raise the \
         limit (--query-timeout).",
        duration_text(limit)
    ))
}

/// `1h`, `90s`, `2m30s`: a limit as the flags take it.
fn duration_text(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, 0) => format!("{} ms", d.as_millis()),
        (0, 0, sec) => format!("{sec}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, sec) => format!("{m}m{sec}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, sec) => format!("{h}h{m}m{sec}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_flags() {
        assert_eq!(duration_text(Duration::from_secs(3600)), "1h");
        assert_eq!(duration_text(Duration::from_secs(150)), "2m30s");
        assert_eq!(duration_text(Duration::from_millis(200)), "200 ms");
        assert_eq!(crate::engine::error::shown(&"x".repeat(100)).chars().count(), 65);
    }
}
