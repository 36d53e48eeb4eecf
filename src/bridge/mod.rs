//! The bridge (feature `bridge`): receives Ruuvi Gateway messages (HTTP POSTs, MQTT, polled
//! `/history`), Ruuvi Station's data forwarding and the
//! walkthrough's own MQTT messages, applies each sensor's
//! settings (names and labels as dimensions, calibration offsets, allow and deny lists,
//! duplicates dropped, a minimum interval), spools the records to disk, synced, before answering, and writes them
//! to Timestream (the engine, or AWS) in order, holding them while it is away.
//!
//! ```no_run
//! # async fn demo() -> ruuvistream::Result<()> {
//! use ruuvistream::bridge::{Bridge, BridgeConfig};
//! let mut config = BridgeConfig::parse("[target]\nendpoint_url = \"http://127.0.0.1:8800\"\ncreate = true")
//!     .map_err(ruuvistream::Error::InvalidArgument)?;
//! config.spool.dir = Some("spool".into());
//! let bridge = Bridge::start(config.settings()?).await?;
//! println!("point the Gateway at {}", bridge.url());
//! bridge.shutdown().await;
//! # Ok(()) }
//! ```

mod config;
mod drain;
mod fetch;
mod http;
mod log;
mod metrics;
mod mqtt;
mod poll;
mod receiver;
mod run;
mod sensors;
mod sink;
mod spool;
mod thin;

pub use config::{
    Auth, BridgeConfig, HttpConfig, Mqtt, MqttConfig, MqttShape, Poll, PollConfig, Sensor, SensorConfig, SensorsConfig,
    Settings, SpoolConfig, TargetConfig,
};
pub use fetch::Connection;
pub use http::MAX_BODY_BYTES;
pub use metrics::Metrics;
pub use receiver::{Accepted, Input, Receiver, Refused};
pub use run::Bridge;
pub use sink::Sink;
pub use spool::{Position, Read, Spool, SpoolBatch, SpoolError};
pub use thin::{Decided, Thinning};
