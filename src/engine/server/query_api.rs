//! The query API's operations: Query, CancelQuery, PrepareQuery (validation only) and
//! DescribeAccountSettings.

use serde_json::{Value, json};

use super::json::Obj;
use crate::engine::Engine;
use crate::engine::error::{ApiError, ApiResult};
use crate::engine::sql;

impl Engine {
    /// Query; the answer is JSON text, put together from the result's pre-rendered rows.
    pub(super) fn query(&self, o: &Obj<'_>) -> ApiResult<String> {
        let sql_text = o.str("QueryString")?;
        o.check_len("QueryString", sql_text, 1, 262_144)?;
        let max_rows = o.opt_i64("MaxRows")?;
        if let Some(m) = max_rows {
            o.check_range("MaxRows", m, 1, 1000)?;
        }
        let max_rows = max_rows.map(|m| m as usize);
        if let Some(t) = o.opt_str("ClientToken")? {
            o.check_len("ClientToken", t, 32, 128)?;
        }
        if let Some(token) = o.opt_str("NextToken")? {
            o.check_len("NextToken", token, 1, 2048)?;
            return self.results.next(sql_text, token, max_rows);
        }
        if let Some(answer) = sql::show(sql_text, &self.catalog()) {
            let (schema, batches) = answer?;
            return self.results.start(sql_text, &schema, &batches, 0, max_rows);
        }
        let statement = sql::parse(sql_text, self.clock.now_ns())?;
        let snapshot = sql::snapshot(&mut self.catalog(), &sql::referenced_tables(&statement))?;
        let handle = tokio::runtime::Handle::current();
        let out = handle.block_on(sql::run_query(sql_text, statement, snapshot))?;
        self.results.start(sql_text, &out.schema, &out.batches, out.bytes_scanned, max_rows)
    }

    pub(super) fn cancel_query(&self, o: &Obj<'_>) -> ApiResult<Value> {
        let id = o.str("QueryId")?;
        o.check_len("QueryId", id, 1, 64)?;
        self.results.cancel(id)
    }

    pub(super) fn prepare_query(&self, o: &Obj<'_>) -> ApiResult<Value> {
        let sql_text = o.str("QueryString")?;
        o.check_len("QueryString", sql_text, 1, 262_144)?;
        if o.opt_bool("ValidateOnly")? == Some(false) {
            return Err(ApiError::validation("Only ValidateOnly = true is supported."));
        }
        sql::parse(sql_text, self.clock.now_ns())?;
        Ok(json!({ "QueryString": sql_text, "Columns": [], "Parameters": [] }))
    }

    pub(super) fn describe_account_settings(&self) -> Value {
        json!({ "MaxQueryTCU": 1000, "QueryPricingModel": "BYTES_SCANNED" })
    }
}
