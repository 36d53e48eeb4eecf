//! Integration tests: one binary, one module per area.

mod batch;
#[cfg(feature = "cli")]
mod cli;
#[cfg(all(feature = "client", feature = "engine"))]
mod client;
#[cfg(feature = "engine")]
mod engine;
mod gateway;
#[cfg(feature = "engine")]
mod persistence;
mod properties;
mod shapes;
mod simulator;
mod vectors;

/// Hex to bytes for test data (panics on bad hex: test data is ours).
pub fn hex(s: &str) -> Vec<u8> {
    ruuvistream::ruuvi::hex_to_bytes(s).expect("test hex")
}

/// Asserts `actual` is within `tol` of `expected` (both present).
#[track_caller]
pub fn close(actual: Option<f64>, expected: f64, tol: f64) {
    let a = actual.unwrap_or_else(|| panic!("expected {expected}, got None"));
    assert!((a - expected).abs() <= tol, "expected {expected} ± {tol}, got {a}");
}
