//! Errors the engine's API answers with. `server::errors` turns them into awsJson responses (the
//! one place that knows status codes and `__type` names).

use std::fmt;

/// The error types of the Timestream API (and of the awsJson protocol around it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// A request member is missing or breaks a constraint (400).
    Validation,
    /// A member has the wrong JSON type, or the body is not JSON (400).
    Serialization,
    /// The database, table or resource does not exist (404).
    ResourceNotFound,
    /// The resource already exists, or a cancelled query was polled (409).
    Conflict,
    /// A quota would be exceeded (402).
    ServiceQuotaExceeded,
    /// Some records of a WriteRecords request were rejected (419); the others were written.
    RejectedRecords,
    /// Too many requests (429).
    Throttling,
    /// The engine failed (500).
    InternalServer,
    /// The request's credentials are not allowed (403).
    AccessDenied,
    /// The `X-Amz-Target` names no operation this engine serves (400).
    UnknownOperation,
    /// The request body is larger than the engine accepts (413).
    RequestTooLarge,
    /// A query failed while it ran: a bad value, a limit it reached (400).
    QueryExecution,
    /// The request was signed with an access key the engine does not know (400).
    UnrecognizedClient,
    /// The request's signature does not match, is expired or is scoped wrongly (400).
    InvalidSignature,
    /// The request is not signed (400).
    MissingAuthenticationToken,
    /// The request's `Authorization` header is malformed or incomplete (400).
    IncompleteSignature,
}

impl ApiErrorKind {
    /// The error's code, as SDKs name it (`ResourceNotFoundException`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Validation => "ValidationException",
            Self::Serialization => "SerializationException",
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::Conflict => "ConflictException",
            Self::ServiceQuotaExceeded => "ServiceQuotaExceededException",
            Self::RejectedRecords => "RejectedRecordsException",
            Self::Throttling => "ThrottlingException",
            Self::InternalServer => "InternalServerException",
            Self::AccessDenied => "AccessDeniedException",
            Self::UnknownOperation => "UnknownOperationException",
            Self::RequestTooLarge => "RequestEntityTooLargeException",
            Self::QueryExecution => "QueryExecutionException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::InvalidSignature => "InvalidSignatureException",
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::IncompleteSignature => "IncompleteSignatureException",
        }
    }
}

/// One rejected record of a WriteRecords request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRecord {
    /// Index of the record in the request's `Records` (0-based).
    pub index: usize,
    /// Why it was rejected.
    pub reason: String,
    /// The version stored under the record's identity, for version conflicts.
    pub existing_version: Option<i64>,
}

/// An API error: what kind, the message, and for WriteRecords the rejected records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The error type.
    pub kind: ApiErrorKind,
    /// The human-readable message.
    pub message: String,
    /// Rejected records (only for [`ApiErrorKind::RejectedRecords`]).
    pub rejected: Vec<RejectedRecord>,
}

impl ApiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ApiErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), rejected: Vec::new() }
    }

    /// A ValidationException.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ApiErrorKind::Validation, message)
    }

    /// A Coral-style constraint failure: `1 validation error detected: Value 'v' at 'path'
    /// failed to satisfy constraint: <constraint>`.
    pub fn constraint(value: &str, path: &str, constraint: &str) -> Self {
        Self::validation(format!(
            "1 validation error detected: Value '{}' at '{path}' failed to satisfy constraint: {constraint}",
            shown(value)
        ))
    }

    /// A required member that is absent.
    pub fn missing(path: &str) -> Self {
        Self::validation(format!(
            "1 validation error detected: Value null at '{path}' failed to satisfy constraint: Member must not be null"
        ))
    }

    /// A ResourceNotFoundException.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ApiErrorKind::ResourceNotFound, message)
    }

    /// A ConflictException.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ApiErrorKind::Conflict, message)
    }

    /// A QueryExecutionException: the query failed while it ran.
    pub fn query_execution(message: impl Into<String>) -> Self {
        Self::new(ApiErrorKind::QueryExecution, message)
    }

    /// A ThrottlingException: too much at once; the client should retry later.
    pub fn throttling(message: impl Into<String>) -> Self {
        Self::new(ApiErrorKind::Throttling, message)
    }

    /// A SerializationException: a member of the wrong JSON type.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(ApiErrorKind::Serialization, message)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for ApiError {}

/// A user's value as messages quote it: at most its first 64 characters, then `…`. A request
/// may carry megabytes in one member; its error should not.
pub fn shown(value: &str) -> String {
    match value.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_string(),
    }
}

/// At most `max` bytes of `text` (cut at a character boundary), with `…` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Results of API handlers.
pub type ApiResult<T> = Result<T, ApiError>;
