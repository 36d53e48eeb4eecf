//! # ruuvistream
//!
//! Ruuvi sensor data into Amazon Timestream and back out as Apache Arrow, from Rust and from
//! Python.
//!
//! This release holds the foundation: [`ruuvi`] decodes every Ruuvi broadcast format (from bare
//! payloads, BLE advertisements and Ruuvi Gateway JSON) into readings or Arrow record batches,
//! encodes readings back, and simulates sensors for people who own none.
//!
//! ## Feature flags
//!
//! * `cli` — the `ruuvistream` command-line program ([`cli`]).
//! * `python` — the Python extension module `ruuvistream._native` (built by maturin).

pub mod error;
pub mod ruuvi;
pub mod units;

#[cfg(feature = "cli")]
pub mod cli;

#[cfg(feature = "engine")]
pub mod engine;

#[cfg(feature = "python")]
mod python;

pub use error::{DecodeError, Error, GatewayError, Result};

/// The README's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
