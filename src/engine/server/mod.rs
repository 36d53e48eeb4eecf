//! HTTP and awsJson 1.0: one `POST /` route dispatching on `X-Amz-Target`, request ids, body
//! limits, and the mapping of API errors to responses.

mod access;
mod errors;
mod json;
mod query_api;
mod router;
mod scan;
mod write_api;
mod write_records;

pub(crate) use crate::listener::serve;
pub(crate) use crate::listener::tokio_rustls_acceptor::load as load_tls;
pub use router::router;
