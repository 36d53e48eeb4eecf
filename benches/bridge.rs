//! The bridge under load, as `make bench` runs it: many Ruuvi Gateways posting at once (20
//! tags a POST, the official vector's advertisement with each tag's own MAC and sequence
//! number), through the bridge (spool synced before each answer) into the embedded engine in
//! the same process (MULTI records, persistent mode), end to end.
//!
//! It prints: readings/s from the first POST until Timestream holds them all; the process's
//! resident memory at the end; and, after an outage (the bridge posting to an engine that is
//! not there yet, until the spool holds `BRIDGE_OUTAGE` readings), the drain rate once the
//! engine comes up.
//!
//! The bridge writes into the engine directly, as `ruuvistream serve --bridge` does; with
//! `BRIDGE_SINK=http` it writes through the client over HTTP, as a bridge given the engine's URL
//! does, to an engine in a child process (this program again), so that the bridge's memory is
//! reported apart from the engine's. The outage is always over HTTP (an endpoint that is not
//! there yet, then an in-memory engine in this process).
//!
//! Settings (environment): `BRIDGE_READINGS` (default 1,000,000), `BRIDGE_SENSORS` (default
//! 1,000, taking turns), `BRIDGE_GATEWAYS` (default 16 posting at once), `BRIDGE_OUTAGE`
//! (default 1,000,000; 0 skips the outage), `BRIDGE_SINK` (`engine`, the default, or `http`),
//! `BRIDGE_DIR` (default a temporary directory).

#![allow(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ruuvistream::bridge::{Bridge, BridgeConfig, Connection, Sink};
use ruuvistream::engine::{EngineConfig, LocalTimestream};

mod common;
use common::{env_or, resident_mib, resident_mib_of};

const TAGS_PER_POST: usize = 20;
/// The official data format 5 vector's advertisement, its sequence (bytes 22..24 of the
/// payload) and MAC replaced per reading.
const VECTOR: &str = "0201061BFF99040512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F";

/// POST bodies for `readings` readings (20 per body) of `sensors` sensors taking turns, each
/// reading its sensor's next sequence number, a second after the last, ending now.
fn bodies(readings: usize, sensors: usize, first: usize) -> Vec<String> {
    let now = ruuvistream::units::now_ns() / 1_000_000_000;
    let span = (readings / sensors) as i64 + 1;
    (0..readings.div_ceil(TAGS_PER_POST))
        .map(|post| {
            let tags: serde_json::Map<String, serde_json::Value> = (0..TAGS_PER_POST)
                .map(|tag| {
                    let n = first + post * TAGS_PER_POST + tag;
                    let (sensor, k) = (n % sensors, n / sensors);
                    let mac = format!("C2:4A:52:{:02X}:{:02X}:{:02X}", sensor >> 16 & 255, sensor >> 8 & 255, sensor & 255);
                    // The payload's sequence number and MAC: no two readings are one broadcast.
                    let mut hex = VECTOR.to_string();
                    hex.replace_range(46..50, &format!("{:04X}", k & 0xFFFF));
                    hex.replace_range(50..62, &mac.replace(':', ""));
                    let data = serde_json::json!({"rssi": -60, "timestamp": now - span + (k % span as usize) as i64, "data": hex});
                    (mac, data)
                })
                .collect();
            serde_json::json!({"data": {"timestamp": now, "gw_mac": "C8:25:2D:8E:9C:2C", "tags": tags}}).to_string()
        })
        .collect()
}

/// Posts `bodies` to `url` from `gateways` connections at once.
async fn post_all(url: &str, bodies: Arc<Vec<String>>, gateways: usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..gateways {
        let (bodies, next) = (bodies.clone(), next.clone());
        let (mut connection, uri) = Connection::new(url, "url").expect("a URL");
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let make = || {
                    axum::http::Request::post(Connection::target(&uri))
                        .header("host", uri.authority().map_or("", |a| a.as_str()))
                        .header("content-type", "application/json")
                        .body(axum::body::Body::from(body.clone()))
                        .expect("a valid request")
                };
                let (status, answer) = connection.send(make).await.expect("the bridge answers");
                assert!(status.is_success(), "{status}: {}", String::from_utf8_lossy(&answer));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Waits until the bridge has written `want` records; returns when. Panics if it drops or
/// dead-letters any (the data has no duplicates and nothing Timestream refuses).
async fn written(bridge: &Bridge, want: usize) -> Instant {
    let metrics = &bridge.receiver().metrics;
    loop {
        let lost = metrics.duplicates.load(Ordering::Relaxed) + metrics.dead_lettered.load(Ordering::Relaxed);
        assert_eq!(lost, 0, "readings dropped as duplicates or dead-lettered");
        if metrics.written.load(Ordering::Relaxed) as usize >= want {
            return Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A bridge spooling in `dir`, writing to `endpoint` through the client, or with `engine` into
/// that engine directly (as `serve --bridge` does).
async fn bridge(dir: &Path, endpoint: &str, engine: Option<&LocalTimestream>) -> Bridge {
    let mut config =
        BridgeConfig::parse("listen = \"127.0.0.1:0\"\n[target]\ncreate = true\n[spool]\nmax_size = \"8GiB\"")
            .expect("valid");
    config.target.endpoint_url = Some(endpoint.into());
    config.spool.dir = Some(dir.to_path_buf());
    let settings = config.settings().expect("valid");
    match engine {
        Some(engine) => Bridge::start_with(settings, Sink::Engine(engine.engine().clone())).await,
        None => Bridge::start(settings).await,
    }
    .expect("the bridge starts")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::var("BRIDGE_ROLE").is_ok_and(|r| r == "engine") {
        return serve_engine().await;
    }
    let readings = env_or("BRIDGE_READINGS", 1_000_000);
    let gateways = env_or("BRIDGE_GATEWAYS", 16);
    let outage = env_or("BRIDGE_OUTAGE", 1_000_000);
    let sensors = env_or("BRIDGE_SENSORS", 1_000);
    let keep = std::env::var_os("BRIDGE_DIR").map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let dir = keep.unwrap_or_else(|| tmp.path().to_path_buf());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let in_process = std::env::var("BRIDGE_SINK").map_or(true, |s| s != "http");
    let posts = Arc::new(bodies(readings, sensors, 0));
    let before_bridge = resident_mib().0;
    let engine = if in_process {
        let engine = LocalTimestream::start(EngineConfig { data_dir: Some(dir.join("engine")), ..Default::default() })
            .await
            .expect("the engine starts");
        Engine::InProcess(engine)
    } else {
        Engine::child(&dir.join("engine"))
    };
    let b = match &engine {
        Engine::InProcess(e) => bridge(&dir.join("spool"), &e.endpoint_url(), Some(e)).await,
        Engine::Child { url, .. } => bridge(&dir.join("spool"), url, None).await,
    };
    eprintln!("the bridge: {} (GET /metrics while it runs)", b.url());
    println!(
        "{readings} readings of {sensors} sensors in {} POSTs of {TAGS_PER_POST} tags, {gateways} gateways at once, \
         written {}",
        posts.len(),
        if in_process { "into the engine directly (as serve --bridge)" } else { "through the client over HTTP" }
    );
    let began = Instant::now();
    post_all(&b.url(), posts.clone(), gateways).await;
    let posted = began.elapsed();
    let done = written(&b, posts.len() * TAGS_PER_POST).await;
    let took = done - began;
    let memory = match &engine {
        Engine::InProcess(_) => format!("resident memory {:.0} MiB (bridge and engine)", resident_mib().0),
        Engine::Child { child, .. } => format!(
            "resident memory: the bridge's process {:.0} MiB ({before_bridge:.0} MiB of it before the bridge \
             started: the POST bodies), the engine's {:.0} MiB",
            resident_mib().0,
            resident_mib_of(&child.id().to_string()).0
        ),
    };
    println!(
        "end to end: {:.0} readings/s ({:.1} s; the POSTs took {:.1} s: {:.0} readings/s taken); {memory}",
        readings as f64 / took.as_secs_f64(),
        took.as_secs_f64(),
        posted.as_secs_f64(),
        readings as f64 / posted.as_secs_f64(),
    );
    b.shutdown().await;

    if outage > 0 {
        // An engine that is not there yet: everything waits in the spool.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let b = bridge(&dir.join("spool-outage"), &format!("http://127.0.0.1:{port}"), None).await;
        let posts = Arc::new(bodies(outage, sensors, 1 << 24));
        post_all(&b.url(), posts.clone(), gateways).await;
        let held = b.receiver().spool.held_bytes();
        let second = LocalTimestream::start(EngineConfig { port, ..Default::default() }).await.expect("starts");
        let began = Instant::now();
        let done = written(&b, posts.len() * TAGS_PER_POST).await;
        let took = done - began;
        println!(
            "after an outage of {outage} readings ({:.0} MiB spooled): drained at {:.0} readings/s ({:.1} s); resident memory {:.0} MiB",
            held as f64 / (1 << 20) as f64,
            outage as f64 / took.as_secs_f64(),
            took.as_secs_f64(),
            resident_mib().0
        );
        b.shutdown().await;
        second.shutdown().await;
    }
    match engine {
        Engine::InProcess(e) => e.shutdown().await,
        Engine::Child { mut child, .. } => {
            drop(child.stdin.take());
            child.wait().expect("the engine's process ends");
        }
    }
}

/// The engine the bridge writes to: in this process, or (`BRIDGE_SINK=http`) in a child
/// process, so that each one's memory is its own.
enum Engine {
    InProcess(LocalTimestream),
    Child { child: std::process::Child, url: String },
}

impl Engine {
    /// This program again as `BRIDGE_ROLE=engine`, with its data in `dir`; it prints its URL.
    fn child(dir: &Path) -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new(std::env::current_exe().expect("this program"))
            .env("BRIDGE_ROLE", "engine")
            .env("BRIDGE_ENGINE_DIR", dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the engine's process starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line).expect("its URL");
        Self::Child { child, url: line.trim().to_string() }
    }
}

/// As `BRIDGE_ROLE=engine`: a persistent engine in `BRIDGE_ENGINE_DIR`, its URL on standard
/// output, until standard input closes.
async fn serve_engine() {
    let dir = std::env::var_os("BRIDGE_ENGINE_DIR").map(PathBuf::from).expect("BRIDGE_ENGINE_DIR");
    let engine = LocalTimestream::start(EngineConfig { data_dir: Some(dir), ..Default::default() })
        .await
        .expect("the engine starts");
    println!("{}", engine.endpoint_url());
    tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink())).await.ok();
    engine.shutdown().await;
}
