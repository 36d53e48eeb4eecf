//! Integration tests: one binary, one module per area.

#[cfg(feature = "engine")]
mod auth;
mod batch;
#[cfg(all(feature = "bridge", feature = "engine"))]
mod bridge;
#[cfg(feature = "cli")]
mod cli;
#[cfg(all(feature = "client", feature = "engine"))]
mod client;
#[cfg(all(unix, feature = "engine", feature = "cli"))]
mod damage;
#[cfg(feature = "engine")]
mod engine;
mod gateway;
#[cfg(all(feature = "engine", feature = "cli"))]
mod limits;
#[cfg(feature = "engine")]
mod persistence;
#[cfg(all(feature = "client", feature = "engine", feature = "cli"))]
mod process;
mod properties;
#[cfg(all(feature = "client", feature = "engine"))]
mod scale;
mod shapes;
mod simulator;
mod vectors;

/// Starts `ruuvistream serve --port 0` with `args` as a child process and returns it with the
/// `host:port` it printed.
#[cfg(all(unix, feature = "engine", feature = "cli"))]
pub fn serve_process(args: &[&std::ffi::OsStr]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ruuvistream"))
        .args(["serve", "--port", "0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("ruuvistream serve starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("its first line");
    let addr = line.trim().rsplit("http://").next().expect("a URL").to_string();
    (child, addr)
}

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

/// The service's error code of a failed SDK call (or what kept it from an answer).
#[cfg(feature = "engine")]
pub fn error_code<E, R>(e: &aws_sdk_timestreamwrite::error::SdkError<E, R>) -> String
where
    E: aws_sdk_timestreamwrite::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match e.as_service_error().and_then(|s| s.code()) {
        Some(c) => c.to_string(),
        None => format!("not a service error: {e:?}"),
    }
}
