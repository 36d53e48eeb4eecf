//! The one place where API errors become awsJson responses: HTTP status, `__type`, `Message`
//! and modeled members.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::engine::error::{ApiError, ApiErrorKind, shorten};

/// Status, `__type` and body of an error response.
pub fn render(e: &ApiError) -> (StatusCode, String, Value) {
    use ApiErrorKind as K;
    let status = match e.kind {
        K::Validation
        | K::Serialization
        | K::UnknownOperation
        | K::QueryExecution
        | K::UnrecognizedClient
        | K::InvalidSignature
        | K::MissingAuthenticationToken
        | K::IncompleteSignature => StatusCode::BAD_REQUEST,
        K::ResourceNotFound => StatusCode::NOT_FOUND,
        K::Conflict => StatusCode::CONFLICT,
        K::ServiceQuotaExceeded => StatusCode::PAYMENT_REQUIRED,
        K::RejectedRecords => StatusCode::from_u16(419).unwrap_or(StatusCode::BAD_REQUEST),
        K::Throttling => StatusCode::TOO_MANY_REQUESTS,
        K::InternalServer => StatusCode::INTERNAL_SERVER_ERROR,
        K::AccessDenied => StatusCode::FORBIDDEN,
        K::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
    };
    // The protocol's own errors are Coral's; the rest are the service's.
    let namespace = match e.kind {
        K::Serialization
        | K::UnknownOperation
        | K::UnrecognizedClient
        | K::InvalidSignature
        | K::MissingAuthenticationToken
        | K::IncompleteSignature
        | K::RequestTooLarge => "com.amazon.coral.service",
        _ => "com.amazonaws.timestream.v20181101",
    };
    let ty = format!("{namespace}#{}", e.kind.code());
    // Messages quote user values short; this keeps any other text from growing an answer.
    let mut body = json!({ "__type": ty, "Message": shorten(&e.message, 4096) });
    if e.kind == ApiErrorKind::RejectedRecords {
        body["RejectedRecords"] = e
            .rejected
            .iter()
            .map(|r| {
                let mut v = json!({ "RecordIndex": r.index, "Reason": r.reason });
                if let Some(x) = r.existing_version {
                    v["ExistingVersion"] = json!(x);
                }
                v
            })
            .collect();
    }
    (status, ty, body)
}
