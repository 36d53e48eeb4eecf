//! The bridge's HTTP face: `POST /` takes a Ruuvi Gateway's messages (the URL a user enters in
//! the Gateway's "custom HTTP server" settings), `GET /metrics` and `GET /health` report.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::json;
use tokio::sync::Notify;

use super::config::Auth;
use super::receiver::{Input, Receiver, Refused};
use super::spool::SpoolError;
use crate::listener::{BodyError, ConnectionPhase, read_body};

/// The largest message body taken (a Gateway's POST of 100 tags is about 20 KB).
pub const MAX_BODY_BYTES: usize = 4 << 20;

/// What the handlers share.
#[derive(Debug)]
pub struct HttpState {
    /// The receiver.
    pub receiver: Arc<Receiver>,
    /// The expected `Authorization` header (`None`: anyone may post).
    pub authorization: Option<String>,
    /// Told when a message is spooled.
    pub wake: Arc<Notify>,
    /// How long a body may take to arrive.
    pub body_timeout: Duration,
}

/// The `Authorization` header a Gateway sends with `auth`.
pub fn expected_authorization(auth: &Auth) -> Option<String> {
    match auth {
        Auth::None => None,
        Auth::Basic { user, password } => Some(format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))),
        Auth::Bearer(token) => Some(format!("Bearer {token}")),
        Auth::Token(token) => Some(format!("Token {token}")),
        Auth::ApiKey(key) => Some(key.clone()),
    }
}

/// The bridge's routes.
pub fn router(state: Arc<HttpState>) -> Router {
    Router::new().fallback(any(handle)).with_state(state)
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    response
}

async fn handle(State(state): State<Arc<HttpState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    match (&parts.method, parts.uri.path()) {
        (&Method::POST, "/") => post(&state, &parts, body).await,
        (&Method::GET, "/metrics") => {
            let now = crate::units::now_ns();
            let text = state.receiver.metrics.render(state.receiver.spool.held_bytes(), now);
            let mut response = (StatusCode::OK, text).into_response();
            response
                .headers_mut()
                .insert("content-type", HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
            response
        }
        (&Method::GET, "/health") => health(&state),
        (_, "/" | "/metrics" | "/health") => answer(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": "POST / takes messages; GET /metrics and GET /health report"}),
        ),
        (_, path) => answer(
            StatusCode::NOT_FOUND,
            json!({"error": format!("no such path {path:?}: POST / takes messages; GET /metrics and GET /health report")}),
        ),
    }
}

fn health(state: &HttpState) -> Response {
    let metrics = &state.receiver.metrics;
    let oldest = metrics.oldest_waiting_ns.load(std::sync::atomic::Ordering::Relaxed);
    let waited = if oldest == 0 { 0.0 } else { (crate::units::now_ns() - oldest).max(0) as f64 / 1e9 };
    // Readings waiting longer than this mean Timestream is away or slower than the sensors.
    let status = if waited > 300.0 { "behind" } else { "ok" };
    answer(
        StatusCode::OK,
        json!({
            "status": status,
            "spool_bytes": state.receiver.spool.held_bytes(),
            "oldest_waiting_seconds": waited,
            "records_written": metrics.written.load(std::sync::atomic::Ordering::Relaxed),
        }),
    )
}

async fn post(state: &Arc<HttpState>, parts: &Parts, body: Body) -> Response {
    let headers = &parts.headers;
    if let Some(expected) = &state.authorization {
        let given = headers.get("authorization").map(HeaderValue::as_bytes).unwrap_or_default();
        if !same_credentials(given, expected.as_bytes()) {
            state.receiver.metrics.refused("unauthorized");
            let mut response =
                answer(StatusCode::UNAUTHORIZED, json!({"error": "missing or wrong Authorization header"}));
            response.headers_mut().insert("www-authenticate", HeaderValue::from_static("Basic realm=\"ruuvistream\""));
            return response;
        }
    }
    let bytes = match read_body(body, headers, MAX_BODY_BYTES, state.body_timeout).await {
        Ok(bytes) => bytes,
        Err(e) => {
            state.receiver.metrics.refused("unreadable");
            let (status, message) = match e {
                BodyError::TooLarge(limit) => {
                    (StatusCode::PAYLOAD_TOO_LARGE, format!("the body is larger than {limit} bytes"))
                }
                BodyError::Unreadable(e) => (StatusCode::BAD_REQUEST, format!("the body could not be read: {e}")),
                BodyError::Late(t) => {
                    (StatusCode::REQUEST_TIMEOUT, format!("the body did not arrive within {} s", t.as_secs()))
                }
            };
            return answer(status, json!({"error": message}));
        }
    };
    // From here on the message is the bridge's work: its connection is not closed to make room.
    if let Some(phase) = parts.extensions.get::<ConnectionPhase>() {
        phase.processing();
    }
    let receiver = state.receiver.clone();
    let now = crate::units::now_ns();
    let received = tokio::task::spawn_blocking(move || receiver.receive(Input::GatewayHttp, &bytes, now)).await;
    match received {
        Ok(Ok(accepted)) => {
            if accepted.records > 0 {
                state.wake.notify_one();
            }
            answer(
                StatusCode::OK,
                json!({
                    "readings": accepted.readings,
                    "records": accepted.records,
                    "dropped": accepted.dropped,
                    "undecodable": accepted.undecodable,
                }),
            )
        }
        Ok(Err(Refused::Unreadable(message))) => answer(StatusCode::BAD_REQUEST, json!({"error": message})),
        Ok(Err(Refused::Spool(e))) => {
            let mut response = answer(StatusCode::SERVICE_UNAVAILABLE, json!({"error": e.to_string()}));
            if matches!(e, SpoolError::Full { .. }) {
                response.headers_mut().insert("retry-after", HeaderValue::from_static("60"));
            }
            response
        }
        Err(e) => {
            answer(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": format!("the message was not taken: {e}")}))
        }
    }
}

/// Compares credentials without stopping at the first difference (the time taken depends on
/// the lengths only). The scheme (`Basic`, `Bearer`, `Token`) matches in any case.
fn same_credentials(given: &[u8], expected: &[u8]) -> bool {
    let scheme = expected.iter().position(|&b| b == b' ').map_or(0, |i| i + 1);
    let mut diff = given.len() ^ expected.len();
    for i in 0..given.len().max(expected.len()) {
        let (a, b) = (given.get(i).copied().unwrap_or(0), expected.get(i).copied().unwrap_or(0));
        let (a, b) = if i < scheme { (a.to_ascii_lowercase(), b.to_ascii_lowercase()) } else { (a, b) };
        diff |= usize::from(a ^ b);
    }
    diff == 0
}

/// Standard base64 with padding (HTTP Basic credentials).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_base64_and_compared_whole() {
        assert_eq!(base64(b"Aladdin:open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(b""), "");
        let expected = expected_authorization(&Auth::Basic { user: "Aladdin".into(), password: "open sesame".into() });
        let expected = expected.unwrap();
        assert!(same_credentials(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", expected.as_bytes()));
        assert!(same_credentials(b"basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", expected.as_bytes()));
        assert!(
            !same_credentials(b"Basic qWxhZGRpbjpvcGVuIHNlc2FtZQ==", expected.as_bytes()),
            "the secret's case counts"
        );
        assert!(!same_credentials(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=", expected.as_bytes()));
        assert!(!same_credentials(b"", expected.as_bytes()));
        assert!(same_credentials(b"k3y", b"k3y") && !same_credentials(b"K3y", b"k3y"), "a bare key has no scheme");
    }
}
