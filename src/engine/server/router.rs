//! The HTTP front: routing, request ids, body limits and operation dispatch.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};

use super::access;
use super::errors::render;
use super::json::Obj;
use super::write_api;
use crate::engine::Engine;
use crate::engine::auth::{Access, Principal, Request};
use crate::engine::error::{ApiError, ApiErrorKind, ApiResult, shown};
use crate::engine::query::QueryRequest;
use crate::listener::{BodyError, ConnectionPhase, LocalAddr};

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

async fn handle(State(engine): State<Arc<Engine>>, request: axum::extract::Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let result = answer(&engine, parts, body, &target).await;
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
        eprintln!("{id} {} {} {:.1} ms", shown(op), status.as_u16(), started.elapsed().as_secs_f64() * 1e3);
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

/// Reads the body (within the size and time limits), authenticates the request, and runs its
/// operation: the query API's on the query runtime, the others on a blocking thread (they
/// take the catalog's lock).
async fn answer(engine: &Arc<Engine>, parts: Parts, body: Body, target: &str) -> ApiResult<Answer> {
    let limits = &engine.config.connections;
    let bytes = read_body(body, &parts.headers, engine.config.max_body_bytes, limits.body_timeout).await?;
    // From here on the request is the engine's work: its connection is not closed to make room.
    if let Some(phase) = parts.extensions.get::<ConnectionPhase>() {
        phase.processing();
    }
    let Some(op) = target.strip_prefix(TARGET_PREFIX).map(str::to_string) else {
        return Err(ApiError::new(
            ApiErrorKind::UnknownOperation,
            format!("Expected an X-Amz-Target header of the form {TARGET_PREFIX}<Operation>, got {:?}.", shown(target)),
        ));
    };
    let on_blocking = {
        let engine = engine.clone();
        move || -> ApiResult<Step> {
            let request = Request {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                query: parts.uri.query().unwrap_or(""),
                headers: &parts.headers,
                body: &bytes,
                region: &engine.config.region,
            };
            let principal = engine.config.authenticator.authenticate(&request)?;
            if op == "DescribeEndpoints" {
                return Ok(Step::Done(Answer::Json(engine.describe_endpoints(&parts))));
            }
            if op == "WriteRecords" {
                let request = super::write_records::parse(&bytes)?;
                access::check_write_records(&engine, &principal, request.database())?;
                return super::write_records::write_records(&engine, &request).map(|v| Step::Done(Answer::Json(v)));
            }
            let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
                json!({})
            } else {
                serde_json::from_slice(&bytes)
                    .map_err(|e| ApiError::serialization(format!("The request body is not valid JSON: {e}")))?
            };
            let o = Obj::root(&value)?;
            match op.as_str() {
                "Query" => Ok(Step::Query(super::query_api::query_request(&o)?, principal)),
                "PrepareQuery" => Ok(Step::Prepare(super::query_api::prepare_request(&o)?, principal)),
                _ => {
                    access::check(&engine, &principal, &op, &o)?;
                    dispatch(&engine, &op, &o, &principal).map(|v| Step::Done(Answer::Json(v)))
                }
            }
        }
    };
    let step = tokio::task::spawn_blocking(on_blocking)
        .await
        .unwrap_or_else(|e| Err(ApiError::new(ApiErrorKind::InternalServer, format!("handler failed: {e}"))))?;
    match step {
        Step::Done(answer) => Ok(answer),
        Step::Query(request, principal) => engine.query(request, &principal).await.map(Answer::Text),
        Step::Prepare(query, principal) => engine.prepare_query(query, &principal).await.map(Answer::Json),
    }
}

/// Where a request goes after its body is parsed and its caller known.
enum Step {
    Done(Answer),
    Query(QueryRequest, Principal),
    Prepare(String, Principal),
}

/// The request's body, within the engine's size and time limits.
async fn read_body(body: Body, headers: &HeaderMap, limit: usize, timeout: Duration) -> ApiResult<Bytes> {
    crate::listener::read_body(body, headers, limit, timeout).await.map_err(|e| match e {
        BodyError::TooLarge(limit) => ApiError::new(
            ApiErrorKind::RequestTooLarge,
            format!("The request body is larger than the engine accepts ({limit} bytes)."),
        ),
        BodyError::Unreadable(e) => ApiError::serialization(format!("The request body could not be read: {e}")),
        BodyError::Late(timeout) => {
            ApiError::serialization(format!("The request body did not arrive within {} s.", timeout.as_secs_f64()))
        }
    })
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

/// Runs one of the write API's operations, or the query API's that need no query runtime.
fn dispatch(engine: &Engine, op: &str, o: &Obj<'_>, principal: &Principal) -> ApiResult<Value> {
    let readable = |db: &str| principal.allows(Access::Read, db);
    match op {
        "CreateDatabase" => write_api::create_database(engine, o),
        "DescribeDatabase" => write_api::describe_database(engine, o),
        "ListDatabases" => write_api::list_databases(engine, o, &readable),
        "UpdateDatabase" => write_api::update_database(engine, o),
        "DeleteDatabase" => write_api::delete_database(engine, o),
        "CreateTable" => write_api::create_table(engine, o),
        "DescribeTable" => write_api::describe_table(engine, o),
        "ListTables" => write_api::list_tables(engine, o, &readable),
        "UpdateTable" => write_api::update_table(engine, o),
        "DeleteTable" => write_api::delete_table(engine, o),
        "TagResource" => write_api::tag_resource(engine, o),
        "UntagResource" => write_api::untag_resource(engine, o),
        "ListTagsForResource" => write_api::list_tags(engine, o),
        "CancelQuery" => super::query_api::cancel_query(engine, o, principal),
        "DescribeAccountSettings" => Ok(engine.describe_account_settings()),
        other => Err(ApiError::new(
            ApiErrorKind::UnknownOperation,
            format!("The operation {} is not supported.", shown(other)),
        )),
    }
}

impl Engine {
    /// DescribeEndpoints answers with the address the client used (its Host header), or the
    /// configured one, or the interface the connection came in on; never a wildcard such as
    /// `0.0.0.0`. Cached for a day.
    fn describe_endpoints(&self, parts: &Parts) -> Value {
        let valid = |h: &&str| {
            !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        };
        let host = parts.headers.get("host").and_then(|v| v.to_str().ok()).filter(valid).map(str::to_string);
        let local = parts.extensions.get::<LocalAddr>().map(|a| a.0.to_string());
        let address = self
            .config
            .advertise
            .clone()
            .or(host)
            .or(local)
            .unwrap_or_else(|| format!("{}:{}", self.config.bind, self.config.port));
        json!({ "Endpoints": [{ "Address": address, "CachePeriodInMinutes": 1440 }] })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;
    use crate::engine::EngineConfig;

    async fn call(app: &Router, target: &str, body: &str) -> (StatusCode, Value) {
        let request = Request::post("/")
            .header("x-amz-target", format!("{TARGET_PREFIX}{target}"))
            .header("content-type", CONTENT_TYPE)
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn operations_map_to_awsjson_without_a_socket() {
        let app = router(Arc::new(Engine::open(EngineConfig::default()).unwrap()));
        let (status, body) = call(&app, "CreateDatabase", r#"{"DatabaseName": "ruuvi"}"#).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["Database"]["Arn"], "arn:aws:timestream:us-east-1:000000000000:database/ruuvi");
        let table = r#"{"DatabaseName": "ruuvi", "TableName": "sensors",
            "Schema": {"CompositePartitionKey": [{"Type": "DIMENSION", "Name": "mac", "EnforcementInRecord": "REQUIRED"}]}}"#;
        let (status, body) = call(&app, "CreateTable", table).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["Table"]["Schema"]["CompositePartitionKey"][0]["EnforcementInRecord"], "REQUIRED");
        assert_eq!(body["Table"]["MagneticStoreWriteProperties"], json!({"EnableMagneticStoreWrites": false}));

        let (status, body) = call(&app, "DescribeTable", r#"{"DatabaseName": "ruuvi", "TableName": "nope"}"#).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["__type"].as_str().map(|t| t.ends_with("ResourceNotFoundException")), Some(true), "{body}");
        let (status, body) = call(&app, "CreateTable", r#"{"DatabaseName": "ruuvi", "TableName": 7}"#).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["__type"].as_str().unwrap_or_default().contains("Serialization"), "{body}");
        let (status, _) = call(&app, "Frobnicate", "{}").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
