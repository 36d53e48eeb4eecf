//! The HTTP front: routing, request ids, body limits and operation dispatch.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};

use super::errors::render;
use super::json::Obj;
use crate::engine::Engine;
use crate::engine::error::{ApiError, ApiErrorKind, ApiResult};

const TARGET_PREFIX: &str = "Timestream_20181101.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// The engine's HTTP service: every path and method goes to one handler, which answers in
/// awsJson 1.0 (so that an odd request gets a protocol error, not an HTML 404).
pub fn router(engine: Arc<Engine>) -> Router {
    Router::new().fallback(any(handle)).with_state(engine)
}

/// A 26-character request id in the style of the service (base32, uppercase).
fn request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mut x = (u128::from(t) << 64 | u128::from(n)).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
    (0..26)
        .map(|_| {
            let c = ALPHABET[(x & 31) as usize] as char;
            x = x.rotate_right(5) ^ (x >> 7);
            c
        })
        .collect()
}

async fn handle(State(engine): State<Arc<Engine>>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let limit = engine.config.max_body_bytes;
    let result = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => {
            let engine = engine.clone();
            let target = target.clone();
            let headers = headers.clone();
            // The handlers are synchronous and brief; run them off the I/O threads anyway, so a
            // large write never stalls other connections.
            tokio::task::spawn_blocking(move || {
                engine.config.authenticator.check(&headers, &bytes)?;
                dispatch(&engine, &target, &bytes)
            })
            .await
            .unwrap_or_else(|e| Err(ApiError::new(ApiErrorKind::InternalServer, format!("handler failed: {e}"))))
        }
        Err(_) => Err(ApiError::new(
            ApiErrorKind::RequestTooLarge,
            format!("The request body is larger than the engine accepts ({limit} bytes)."),
        )),
    };
    let id = request_id();
    let (status, body, error_type) = match result {
        Ok(Answer::Json(v)) => (StatusCode::OK, v.to_string(), None),
        Ok(Answer::Text(t)) => (StatusCode::OK, t, None),
        Err(e) => {
            let (status, ty, body) = render(&e);
            (status, body.to_string(), Some(ty))
        }
    };
    if engine.config.log_requests {
        let op = target.strip_prefix(TARGET_PREFIX).unwrap_or(&target);
        eprintln!("{id} {op} {} {:.1} ms", status.as_u16(), started.elapsed().as_secs_f64() * 1e3);
    }
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("x-amzn-requestid", v);
    }
    if let Some(ty) = error_type.and_then(|t| HeaderValue::from_str(t.rsplit('#').next().unwrap_or(&t)).ok()) {
        h.insert("x-amzn-errortype", ty);
    }
    response
}

/// An operation's answer: a JSON value, or JSON text already serialized (query pages).
enum Answer {
    Json(Value),
    Text(String),
}

impl From<Value> for Answer {
    fn from(v: Value) -> Self {
        Self::Json(v)
    }
}

/// Parses the body and runs the operation named by the target.
fn dispatch(engine: &Engine, target: &str, body: &Bytes) -> ApiResult<Answer> {
    let Some(op) = target.strip_prefix(TARGET_PREFIX) else {
        return Err(ApiError::new(
            ApiErrorKind::UnknownOperation,
            format!("Expected an X-Amz-Target header of the form {TARGET_PREFIX}<Operation>, got {target:?}."),
        ));
    };
    if op == "WriteRecords" {
        return engine.write_records(&super::write_records::parse(body)?).map(Answer::from);
    }
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::serialization(format!("The request body is not valid JSON: {e}")))?
    };
    let o = Obj::root(&value)?;
    let answer = match op {
        "DescribeEndpoints" => Ok(engine.describe_endpoints()),
        "CreateDatabase" => engine.create_database(&o),
        "DescribeDatabase" => engine.describe_database(&o),
        "ListDatabases" => engine.list_databases(&o),
        "UpdateDatabase" => engine.update_database(&o),
        "DeleteDatabase" => engine.delete_database(&o),
        "CreateTable" => engine.create_table(&o),
        "DescribeTable" => engine.describe_table(&o),
        "ListTables" => engine.list_tables(&o),
        "UpdateTable" => engine.update_table(&o),
        "DeleteTable" => engine.delete_table(&o),
        "TagResource" => engine.tag_resource(&o),
        "UntagResource" => engine.untag_resource(&o),
        "ListTagsForResource" => engine.list_tags(&o),
        "Query" => return engine.query(&o).map(Answer::Text),
        "CancelQuery" => engine.cancel_query(&o),
        "PrepareQuery" => engine.prepare_query(&o),
        "DescribeAccountSettings" => Ok(engine.describe_account_settings()),
        other => Err(ApiError::new(ApiErrorKind::UnknownOperation, format!("The operation {other} is not supported."))),
    };
    answer.map(Answer::from)
}

impl Engine {
    /// DescribeEndpoints answers with the engine's own address, cached for a day.
    fn describe_endpoints(&self) -> Value {
        let address = self.address.lock().map(|a| a.clone()).unwrap_or_default();
        json!({ "Endpoints": [{ "Address": address, "CachePeriodInMinutes": 1440 }] })
    }
}
