//! # ruuvistream
//!
//! Ruuvi sensor data into Amazon Timestream and back out as Apache Arrow, from Rust and from
//! Python.
//!
//! [`ruuvi`] decodes every Ruuvi broadcast format (from bare payloads, BLE advertisements and
//! Ruuvi Gateway JSON) into readings or Arrow record batches, encodes readings back, and
//! simulates sensors for people who own none. [`engine`] (feature `engine`) is an embedded
//! Timestream-compatible server: the write API today, so that boto3, the AWS SDKs and the AWS
//! CLI can create databases and tables and write records with no AWS account.
//!
//! ## Feature flags
//!
//! * `cli` — the `ruuvistream` command-line program ([`cli`]).
//! * `client` — the Timestream client: batched writes and Query results as Arrow ([`client`]).
//! * `engine` — the embedded Timestream-compatible engine ([`engine`]).
//! * `python` — the Python extension module `ruuvistream._native` (built by maturin).
//! * `mimalloc` — mimalloc as the program's global allocator (the wheel enables it).

pub mod error;
pub mod records;
pub mod ruuvi;
pub mod types;
pub mod units;

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(all(feature = "cli", feature = "client"))]
mod cli_client;

#[cfg(feature = "client")]
pub mod client;

#[cfg(feature = "engine")]
pub mod engine;

#[cfg(feature = "python")]
mod python;

pub use error::{DecodeError, Error, GatewayError, Result};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The README's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
