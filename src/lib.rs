//! # ruuvistream
//!
//! Ruuvi sensor data into Amazon Timestream and back out as Apache Arrow, from Rust and from
//! Python.
//!
//! [`ruuvi`] decodes every Ruuvi broadcast format (from bare payloads, BLE advertisements and
//! Ruuvi Gateway JSON) into readings or Arrow record batches, encodes readings back, and
//! simulates sensors for people who own none. [`records`] turns readings into Timestream records
//! and [`client`] (feature `client`) writes them in batched WriteRecords calls and pages Query
//! results into Arrow. [`engine`] (feature `engine`) is an embedded Timestream-compatible
//! server, write and query APIs with Timestream's SQL dialect, so that boto3, the AWS SDKs and
//! the AWS CLI work with no AWS account. [`sql`] fills query templates safely and [`display`]
//! shows record batches as tables (HTML in notebooks).
//!
//! The Arrow crates the API speaks are re-exported ([`arrow_array`], [`arrow_schema`]), so that
//! a program (or a notebook) uses exactly the versions this crate was built with.
//!
//! ## Feature flags
//!
//! * `cli` — the `ruuvistream` command-line program ([`cli`]).
//! * `client` — the Timestream client: batched writes and Query results as Arrow ([`client`]).
//! * `engine` — the embedded Timestream-compatible engine ([`engine`]).
//! * `bridge` — the receiver of Ruuvi Gateway and MQTT messages that spools readings to disk
//!   and writes them to Timestream ([`bridge`]).
//! * `tls` — HTTPS for the engine (rustls).
//! * `python` — the Python extension module `ruuvistream._native` (built by maturin; with the
//!   CLI, the engine, the client and TLS).
//! * `mimalloc` — mimalloc as the program's global allocator (the wheel enables it).

pub mod display;
pub mod error;
pub mod records;
pub mod ruuvi;
pub mod sql;
pub mod types;
pub mod units;

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(all(feature = "cli", feature = "bridge"))]
mod cli_bridge;
#[cfg(all(feature = "cli", feature = "client"))]
mod cli_client;
#[cfg(all(feature = "cli", feature = "engine"))]
mod cli_serve;

#[cfg(feature = "client")]
pub mod client;

#[cfg(feature = "engine")]
pub mod engine;

#[cfg(feature = "bridge")]
pub mod bridge;

#[cfg(any(feature = "client", feature = "tls"))]
mod certs;
#[cfg(any(feature = "engine", feature = "bridge"))]
mod journal;
#[cfg(any(feature = "engine", feature = "bridge"))]
mod listener;

#[cfg(feature = "python")]
mod python;

pub use arrow_array;
pub use arrow_schema;
pub use error::{DecodeError, Error, GatewayError, Result};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The README's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
