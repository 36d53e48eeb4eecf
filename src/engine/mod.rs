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
//!
//! The same operations are typed methods of [`Engine`], for Rust callers and tests that need no
//! HTTP: each owns its checks, its locking (every table has its own) and its persistence.
//!
//! ```
//! use ruuvistream::engine::catalog::{CreateDatabase, CreateTable};
//! use ruuvistream::engine::write::{MeasureInput, RecordInput};
//! use ruuvistream::engine::{Clock, Engine, EngineConfig};
//!
//! let engine = Engine::open(EngineConfig::default())?;
//! engine.create_database(CreateDatabase { name: "ruuvi".into(), ..Default::default() })?;
//! let table = CreateTable { database: "ruuvi".into(), name: "sensors".into(), ..Default::default() };
//! assert_eq!(engine.create_table(table)?.arn, "arn:aws:timestream:us-east-1:000000000000:database/ruuvi/table/sensors");
//! let reading = RecordInput {
//!     dimensions: vec![("mac", "C2:4A:52:9B:1E:07")],
//!     measure_name: "temperature",
//!     value: MeasureInput::Single("DOUBLE", "21.5"),
//!     time_ns: Clock::System.now_ns(),
//!     time_unit_ns: 1_000_000,
//!     version: None,
//! };
//! assert_eq!(engine.write_records("ruuvi", "sensors", &[reading])?.memory, 1);
//! assert_eq!(engine.row_count("ruuvi", "sensors")?, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod auth;
pub mod catalog;
mod clock;
mod config;
mod error;
mod local;
mod operations;
mod passes;
pub mod query;
mod server;
pub mod sql;
mod state;
pub mod store;
pub mod write;

pub use auth::{AcceptAll, Authenticator};
/// Request headers, as an [`Authenticator`] sees them.
pub use axum::http::HeaderMap;
pub use clock::Clock;
pub use config::{ConnectionLimits, EngineConfig, TlsFiles};
pub use error::{ApiError, ApiErrorKind, ApiResult, RejectedRecord};
pub use local::{EngineThread, LocalTimestream};
pub use operations::TableStorage;
pub use passes::lower_thread_priority;
pub use query::QueryLimits;
pub use server::router;
pub use state::Engine;
