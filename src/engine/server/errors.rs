//! The one place where API errors become awsJson responses: HTTP status, `__type`, `Message`
//! and modeled members.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::engine::error::{ApiError, ApiErrorKind, shorten};

/// Status, `__type` and body of an error response.
pub fn render(e: &ApiError) -> (StatusCode, String, Value) {
    const SERVICE: &str = "com.amazonaws.timestream.v20181101";
    let (status, ty) = match e.kind {
        ApiErrorKind::Validation => (StatusCode::BAD_REQUEST, format!("{SERVICE}#ValidationException")),
        ApiErrorKind::Serialization => {
            (StatusCode::BAD_REQUEST, "com.amazon.coral.service#SerializationException".into())
        }
        ApiErrorKind::ResourceNotFound => (StatusCode::NOT_FOUND, format!("{SERVICE}#ResourceNotFoundException")),
        ApiErrorKind::Conflict => (StatusCode::CONFLICT, format!("{SERVICE}#ConflictException")),
        ApiErrorKind::ServiceQuotaExceeded => {
            (StatusCode::PAYMENT_REQUIRED, format!("{SERVICE}#ServiceQuotaExceededException"))
        }
        ApiErrorKind::RejectedRecords => (
            StatusCode::from_u16(419).unwrap_or(StatusCode::BAD_REQUEST),
            format!("{SERVICE}#RejectedRecordsException"),
        ),
        ApiErrorKind::Throttling => (StatusCode::TOO_MANY_REQUESTS, format!("{SERVICE}#ThrottlingException")),
        ApiErrorKind::InternalServer => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("{SERVICE}#InternalServerException"))
        }
        ApiErrorKind::AccessDenied => (StatusCode::FORBIDDEN, format!("{SERVICE}#AccessDeniedException")),
        ApiErrorKind::UnknownOperation => {
            (StatusCode::BAD_REQUEST, "com.amazon.coral.service#UnknownOperationException".into())
        }
        ApiErrorKind::QueryExecution => (StatusCode::BAD_REQUEST, format!("{SERVICE}#QueryExecutionException")),
        ApiErrorKind::UnrecognizedClient => {
            (StatusCode::BAD_REQUEST, "com.amazon.coral.service#UnrecognizedClientException".into())
        }
        ApiErrorKind::InvalidSignature => {
            (StatusCode::BAD_REQUEST, "com.amazon.coral.service#InvalidSignatureException".into())
        }
        ApiErrorKind::MissingAuthenticationToken => {
            (StatusCode::BAD_REQUEST, "com.amazon.coral.service#MissingAuthenticationTokenException".into())
        }
        ApiErrorKind::IncompleteSignature => {
            (StatusCode::BAD_REQUEST, "com.amazon.coral.service#IncompleteSignatureException".into())
        }
        ApiErrorKind::RequestTooLarge => {
            (StatusCode::PAYLOAD_TOO_LARGE, "com.amazon.coral.service#RequestEntityTooLargeException".into())
        }
    };
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
