//! The embedded Timestream-compatible engine (feature `engine`): the write and query APIs over
//! awsJson 1.0 on one HTTP listener, so that boto3, the AWS SDK for Rust and the AWS CLI work against it by
//! changing only the endpoint URL.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ruuvistream::engine::{EngineConfig, LocalTimestream};
//! let engine = LocalTimestream::start(EngineConfig::default()).await?;
//! println!("Timestream at {}", engine.endpoint_url());
//! engine.shutdown().await;
//! # Ok(()) }
//! ```

pub mod auth;
pub mod catalog;
mod clock;
mod error;
mod local;
pub mod query;
mod server;
pub mod sql;
pub mod store;

pub use auth::{AcceptAll, Authenticator};
/// Request headers, as an [`Authenticator`] sees them.
pub use axum::http::HeaderMap;
pub use clock::Clock;
pub use error::{ApiError, ApiErrorKind, ApiResult, RejectedRecord};
pub use local::{Engine, EngineConfig, EngineThread, LocalTimestream, TlsFiles};
pub use query::QueryLimits;
pub use server::ConnectionLimits;
pub use server::router;
