//! `EngineProcess`: the engine as a child process (`serve --control`), driven by the client.

use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use ruuvistream::Error;
use ruuvistream::client::{Connect, EngineProcess, ServeOptions, block_on};
use ruuvistream::units::parse_time_ns;

fn options(clock: Option<&str>, args: &[&str]) -> ServeOptions {
    ServeOptions {
        program: Some(PathBuf::from(env!("CARGO_BIN_EXE_ruuvistream"))),
        clock_ns: clock.map(|t| parse_time_ns(t).unwrap()),
        args: args.iter().map(|a| a.to_string()).collect(),
    }
}

fn address(url: &str) -> String {
    url.trim_start_matches("http://").to_string()
}

/// The engine's own idea of now, asked with SQL, in nanoseconds.
fn engine_now(connect: &Connect) -> i64 {
    use ruuvistream::arrow_array::cast::AsArray;
    use ruuvistream::arrow_array::types::Int64Type;
    let now = block_on(connect, |ts| async move { ts.query("SELECT to_milliseconds(now()) AS ms").await }).unwrap();
    now.batches[0].column(0).as_primitive::<Int64Type>().value(0) * 1_000_000
}

#[test]
fn a_child_engine_serves_moves_its_manual_clock_and_stops_when_dropped() {
    let mut engine = EngineProcess::start(options(Some("2026-12-01T12:00:00Z"), &[])).unwrap();
    let start = parse_time_ns("2026-12-01T12:00:00Z").unwrap();
    assert_eq!(engine.now_ns(), start);
    assert!(engine.endpoint_url().starts_with("http://127.0.0.1:"), "{engine:?}");
    let connect = Connect::endpoint(engine.endpoint_url());
    assert_eq!(engine_now(&connect), start);

    assert_eq!(engine.advance(Duration::from_secs(3 * 3600)).unwrap(), start + 3 * 3_600_000_000_000);
    assert_eq!(engine.now_ns(), start + 3 * 3_600_000_000_000);
    assert_eq!(engine_now(&connect), start + 3 * 3_600_000_000_000);
    engine.set_now(start + 5).unwrap();
    assert_eq!(engine.now_ns(), start + 5, "set keeps nanoseconds");
    assert!(format!("{engine:?}").contains("2026-12-01T12:00:00.000Z"), "{engine:?}");

    let address = address(engine.endpoint_url());
    assert!(engine.is_running());
    drop(engine);
    assert!(TcpStream::connect(&address).is_err(), "nothing listens once the handle is dropped");
}

#[test]
fn clock_commands_are_refused_clearly_and_stop_is_final() {
    let mut engine = EngineProcess::start(options(None, &[])).unwrap();
    let before = engine.now_ns();
    assert!(before > parse_time_ns("2026-01-01").unwrap(), "the system clock");
    let e = engine.advance(Duration::from_secs(60)).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)) && e.to_string().contains("--clock TIME"), "{e}");
    assert_eq!(engine.now_ns(), before);

    let address = address(engine.endpoint_url());
    engine.stop().unwrap();
    assert!(!engine.is_running());
    engine.stop().unwrap();
    assert!(TcpStream::connect(&address).is_err());
    let e = engine.set_now(0).unwrap_err();
    assert!(e.to_string().contains("the engine was stopped"), "{e}");
}

#[test]
fn an_engine_that_cannot_start_says_why() {
    let e = EngineProcess::start(options(None, &["--checkpoint-interval", "soon"])).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("serve) exited") && text.contains("invalid duration \"soon\""), "{text}");

    let e = EngineProcess::start(options(Some("2026-12-01"), &["--clock", "tomorrow"])).unwrap_err();
    assert!(e.to_string().contains("cannot be used multiple times"), "{e}");

    let missing = ServeOptions { program: Some(PathBuf::from("/nonexistent/ruuvistream")), ..Default::default() };
    let e = EngineProcess::start(missing).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("cannot run /nonexistent/ruuvistream") && text.contains("pip install ruuvistream"), "{text}");
}
