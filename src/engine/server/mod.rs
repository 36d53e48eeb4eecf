//! HTTP and awsJson 1.0: one `POST /` route dispatching on `X-Amz-Target`, request ids, body
//! limits, and the mapping of API errors to responses.

mod auth;
mod errors;
mod json;
mod query_api;
mod router;
mod write_api;
mod write_records;

pub use auth::{AcceptAll, Authenticator};
pub use router::router;
