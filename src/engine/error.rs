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
        let shown: String = value.chars().take(100).collect();
        Self::validation(format!(
            "1 validation error detected: Value '{shown}' at '{path}' failed to satisfy constraint: {constraint}"
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

/// Results of API handlers.
pub type ApiResult<T> = Result<T, ApiError>;
