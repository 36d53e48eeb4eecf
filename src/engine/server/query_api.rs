//! The query API's requests: their members checked and handed to the engine's query
//! operations (Query, CancelQuery, PrepareQuery), and DescribeAccountSettings.

use serde_json::{Value, json};

use super::json::Obj;
use crate::engine::Engine;
use crate::engine::auth::Principal;
use crate::engine::error::{ApiError, ApiResult};
use crate::engine::query::QueryRequest;

/// A Query request's members.
pub(super) fn query_request(o: &Obj<'_>) -> ApiResult<QueryRequest> {
    let query_string = o.str("QueryString")?;
    o.check_len("QueryString", query_string, 1, 262_144)?;
    let max_rows = o.opt_i64("MaxRows")?;
    if let Some(m) = max_rows {
        o.check_range("MaxRows", m, 1, 1000)?;
    }
    if let Some(t) = o.opt_str("ClientToken")? {
        o.check_len("ClientToken", t, 32, 128)?;
    }
    let next_token = o.opt_str("NextToken")?;
    if let Some(token) = next_token {
        o.check_len("NextToken", token, 1, 2048)?;
    }
    Ok(QueryRequest {
        query_string: query_string.to_string(),
        max_rows: max_rows.map(|m| m as usize),
        next_token: next_token.map(str::to_string),
    })
}

/// A PrepareQuery request's query (only `ValidateOnly: true` is served).
pub(super) fn prepare_request(o: &Obj<'_>) -> ApiResult<String> {
    let sql_text = o.str("QueryString")?;
    o.check_len("QueryString", sql_text, 1, 262_144)?;
    if o.opt_bool("ValidateOnly")? == Some(false) {
        return Err(ApiError::validation("Only ValidateOnly = true is supported."));
    }
    Ok(sql_text.to_string())
}

/// CancelQuery.
pub(super) fn cancel_query(engine: &Engine, o: &Obj<'_>, principal: &Principal) -> ApiResult<Value> {
    let id = o.str("QueryId")?;
    o.check_len("QueryId", id, 1, 64)?;
    engine.cancel_query(id, principal)
}

impl Engine {
    pub(super) fn describe_account_settings(&self) -> Value {
        json!({ "MaxQueryTCU": 1000, "QueryPricingModel": "BYTES_SCANNED" })
    }
}
