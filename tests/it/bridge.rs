//! The bridge with real traffic: Gateway HTTP POSTs in each of its data formats and
//! authentication modes, into the embedded engine through the client; an engine outage and a
//! killed bridge lose nothing and write nothing twice.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use ruuvistream::bridge::{Bridge, BridgeConfig};
use ruuvistream::client::{Connect, Timestream};
use ruuvistream::engine::{Clock, EngineConfig, EngineThread};
use ruuvistream::ruuvi::bytes_to_hex;
use ruuvistream::ruuvi::simulator::{Simulator, SimulatorConfig};
use serde_json::{Value, json};

/// The official data format 5 vector as a Gateway relays it (temperature 24.3 °C, humidity
/// 53.49 %, pressure 100044 Pa, sequence 205).
const VECTOR: &str = "0201061BFF99040512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F";
/// 2025-12-06T06:13:20Z, in seconds.
const T0: i64 = 1_765_001_600;

/// One HTTP/1.1 request on a new connection; the status and the body.
fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("the bridge listens");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn post(addr: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    http(addr, "POST", "/", headers, body)
}

/// A Gateway POST body with one tag.
fn gateway_body(mac: &str, time_s: i64, tag: Value) -> String {
    let mut tag = tag;
    tag["rssi"] = json!(-71);
    tag["timestamp"] = json!(time_s);
    json!({"data": {"coordinates": "", "timestamp": time_s, "nonce": 1, "gw_mac": "C8:25:2D:8E:9C:2C",
        "tags": {mac: tag}}})
    .to_string()
}

fn engine(clock_s: i64, data_dir: Option<&Path>, port: u16) -> EngineThread {
    EngineThread::start(EngineConfig {
        clock: Clock::manual(clock_s * 1_000_000_000),
        data_dir: data_dir.map(Path::to_path_buf),
        port,
        ..Default::default()
    })
    .expect("the engine starts")
}

/// The error `settings()` gives for a configuration (with a spool directory, which all need).
fn settings_error(toml: &str) -> String {
    let mut config = BridgeConfig::parse(toml).expect("valid TOML");
    config.spool.dir.get_or_insert_with(|| "spool".into());
    config.settings().expect_err(toml).to_string()
}

fn settings(toml: &str, endpoint: &str, spool: &Path) -> ruuvistream::bridge::Settings {
    let mut config = BridgeConfig::parse(toml).expect("valid TOML");
    config.listen = Some("127.0.0.1:0".into());
    config.target.endpoint_url = Some(endpoint.into());
    config.target.create = true;
    config.spool.dir = Some(spool.to_path_buf());
    config.settings().expect("valid settings")
}

/// Runs `sql` on the engine at `url`, as a JSON value of rows (column name → text).
async fn rows(url: &str, sql: &str) -> Vec<Value> {
    // An engine serving HTTPS has the test CA's certificate.
    let ca = url.starts_with("https://").then(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls/ca.pem"));
    let ts = Timestream::connect(&Connect { ca_file: ca, ..Connect::endpoint(url) }).await.unwrap();
    let result = ts.query(sql).await.unwrap();
    let mut out = Vec::new();
    for batch in &result.batches {
        let mut json = arrow_json::ArrayWriter::new(Vec::new());
        json.write(batch).unwrap();
        json.finish().unwrap();
        let text = String::from_utf8(json.into_inner()).unwrap();
        if let Value::Array(rows) = serde_json::from_str(&text).unwrap_or(Value::Array(vec![])) {
            out.extend(rows);
        }
    }
    out
}

/// Waits until `sql`'s first row's `n` is `want`.
async fn wait_for_count(url: &str, sql: &str, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = rows(url, sql).await.first().and_then(|r| r["n"].as_u64()).unwrap_or(0);
        if n == want {
            return;
        }
        assert!(Instant::now() < deadline, "{sql}: {n} rows, waiting for {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_posts_in_each_data_format_land_calibrated_and_named() {
    let engine = engine(T0 + 60, None, 0);
    let spool = tempfile::tempdir().unwrap();
    let toml = r#"
        [sensors]
        derived = ["air_density", "dew_point"]

        [sensor."AA:00:00:00:00:02"]
        name = "sauna"
        labels = { location = "cabin" }
        temperature_offset = -0.3
        humidity_offset = 50
    "#;
    let bridge = Bridge::start(settings(toml, engine.endpoint_url(), spool.path())).await.unwrap();
    let addr = bridge.local_addr().to_string();

    // "ruuvi" (raw), "ruuvi_raw_and_decoded" and "ruuvi_decoded" (no data).
    let decoded = json!({"dataFormat": 5, "temperature": 24.3, "humidity": 53.49, "pressure": 100044,
        "accelX": 0.004, "accelY": -0.004, "accelZ": 1.036, "voltage": 2.977, "txPower": 4,
        "movementCounter": 66, "measurementSequenceNumber": 205, "id": "AA:00:00:00:00:03"});
    let mut both = decoded.clone();
    both["data"] = json!(VECTOR);
    let bodies = [
        gateway_body("AA:00:00:00:00:01", T0, json!({"data": VECTOR})),
        gateway_body("AA:00:00:00:00:02", T0, both),
        gateway_body("AA:00:00:00:00:03", T0, decoded),
    ];
    for body in &bodies {
        let (status, answer) = post(&addr, &[], body);
        assert_eq!(status, 200, "{answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!((answer["readings"].as_u64(), answer["records"].as_u64()), (Some(1), Some(1)), "{answer}");
    }
    // The same broadcast again (a second gateway, or a re-sent POST) is written once.
    let (status, again) = post(&addr, &[], &bodies[0]);
    assert_eq!((status, serde_json::from_str::<Value>(&again).unwrap()["dropped"].as_u64()), (200, Some(1)));

    let url = engine.endpoint_url();
    wait_for_count(url, "SELECT count(*) AS n FROM ruuvi.sensors", 3).await;
    let got = rows(
        url,
        "SELECT mac, name, location, temperature, humidity, pressure, measurement_sequence, \
         to_milliseconds(time) AS ms FROM ruuvi.sensors ORDER BY mac",
    )
    .await;
    let macs: Vec<&str> = got.iter().map(|r| r["mac"].as_str().unwrap()).collect();
    assert_eq!(macs, ["AA:00:00:00:00:01", "AA:00:00:00:00:02", "AA:00:00:00:00:03"]);
    for r in &got {
        assert_eq!(r["ms"].as_i64(), Some(T0 * 1000), "{r}");
        assert_eq!(r["pressure"].as_f64(), Some(100044.0), "{r}");
        assert_eq!(r["measurement_sequence"].as_i64(), Some(205), "{r}");
    }
    assert_eq!((got[0]["temperature"].as_f64(), got[0]["humidity"].as_f64()), (Some(24.3), Some(53.49)));
    // Derived measures, for the official vector as the reference works it out.
    let derived = rows(url, "SELECT air_density, dew_point FROM ruuvi.sensors WHERE mac = 'AA:00:00:00:00:01'").await;
    assert!((derived[0]["air_density"].as_f64().unwrap() - 1.16535).abs() < 5e-6, "{}", derived[0]);
    assert!((derived[0]["dew_point"].as_f64().unwrap() - 14.262).abs() < 5e-4, "{}", derived[0]);
    assert!(got[0]["name"].is_null(), "{}", got[0]);
    let sauna = &got[1];
    assert_eq!((sauna["name"].as_str(), sauna["location"].as_str()), (Some("sauna"), Some("cabin")));
    assert!((sauna["temperature"].as_f64().unwrap() - 24.0).abs() < 1e-9, "{sauna}");
    assert_eq!(sauna["humidity"].as_f64(), Some(100.0), "calibrated humidity stays within 0-100 %");

    let (status, metrics) = http(&addr, "GET", "/metrics", &[], "");
    assert_eq!(status, 200);
    for line in [
        "ruuvistream_bridge_readings_received_total{input=\"gateway_http\",sensor=\"AA:00:00:00:00:02\"} 1",
        "ruuvistream_bridge_records_written_total 3",
        "ruuvistream_bridge_readings_duplicate_total 1",
        "ruuvistream_bridge_spool_bytes 0",
        "ruuvistream_bridge_last_reading_timestamp_seconds{sensor=\"AA:00:00:00:00:01\"} 1765001600.000",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} not in\n{metrics}");
    }
    let (status, health) = http(&addr, "GET", "/health", &[], "");
    assert_eq!((status, serde_json::from_str::<Value>(&health).unwrap()["status"].as_str()), (200, Some("ok")));

    // Bad requests get their reason and change nothing.
    for (body, status, why) in [
        ("{\"data\": ", 400, "not JSON"),
        ("[1, 2]", 400, "expected a JSON object"),
        (r#"{"data": {"tags": {"AA:00:00:00:00:09": {"data": "99"}}}}"#, 200, "\"undecodable\":1"),
    ] {
        let (got_status, answer) = post(&addr, &[], body);
        assert_eq!(got_status, status, "{body}: {answer}");
        assert!(answer.contains(why), "{body}: {answer}");
    }
    assert_eq!(http(&addr, "GET", "/nowhere", &[], "").0, 404);
    assert_eq!(http(&addr, "PUT", "/", &[], "").0, 405);
    bridge.shutdown().await;
    assert_eq!(rows(url, "SELECT count(*) AS n FROM ruuvi.sensors").await[0]["n"].as_u64(), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ruuvi_station_data_forwarding_posts_land_in_pascals() {
    let engine = engine(T0 + 60, None, 0);
    let spool = tempfile::tempdir().unwrap();
    let bridge = Bridge::start(settings("", engine.endpoint_url(), spool.path())).await.unwrap();
    let addr = bridge.local_addr().to_string();
    let body = json!({"deviceId": "pixel-7", "eventId": "5b7c1c0e", "time": T0 * 1000, "batteryLevel": 81,
        "tags": [
            {"id": "C6:A5:B9:E0:AD:06", "rssi": -71, "name": "Sauna", "temperature": 80.25, "humidity": 12.5,
             "pressure": 1002.5, "voltage": 2.977, "txPower": 4, "movementCounter": 66,
             "measurementSequenceNumber": 205, "dataFormat": 5, "updateAt": T0 * 1000 - 2000},
            {"id": "F4:1F:0C:28:CB:D6", "temperature": 21.0, "pressure": 1000.0, "dataFormat": 5}]});
    let (status, answer) = post(&addr, &[], &body.to_string());
    assert_eq!(status, 200, "{answer}");
    let url = engine.endpoint_url();
    wait_for_count(url, "SELECT count(*) AS n FROM ruuvi.sensors", 2).await;
    let got =
        rows(url, "SELECT mac, temperature, pressure, to_milliseconds(time) AS ms FROM ruuvi.sensors ORDER BY mac")
            .await;
    assert_eq!(got[0]["mac"].as_str(), Some("C6:A5:B9:E0:AD:06"));
    assert_eq!((got[0]["pressure"].as_f64(), got[0]["ms"].as_i64()), (Some(100250.0), Some(T0 * 1000 - 2000)));
    assert_eq!((got[1]["pressure"].as_f64(), got[1]["ms"].as_i64()), (Some(100000.0), Some(T0 * 1000)));
    let (_, metrics) = http(&addr, "GET", "/metrics", &[], "");
    assert!(metrics.contains("{input=\"station_http\",sensor=\"F4:1F:0C:28:CB:D6\"} 1"), "{metrics}");
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_gateway_authentication_mode_lets_in_exactly_its_credentials() {
    let engine = engine(T0 + 60, None, 0);
    let body = gateway_body("AA:00:00:00:00:01", T0, json!({"data": VECTOR}));
    let modes = [
        (
            "auth = \"basic\"\nuser = \"gw\"\npassword = \"s3cret pass\"",
            "Basic Z3c6czNjcmV0IHBhc3M=",
            "Basic Z3c6czNjcmV0IHBhc3N4",
        ),
        ("auth = \"bearer\"\ntoken = \"t0k3n\"", "Bearer t0k3n", "Bearer t0k3m"),
        ("auth = \"token\"\ntoken = \"t0k3n\"", "Token t0k3n", "Bearer t0k3n"),
        ("auth = \"api_key\"\ntoken = \"k3y-123\"", "k3y-123", "Bearer k3y-123"),
    ];
    for (http_config, right, wrong) in modes {
        let spool = tempfile::tempdir().unwrap();
        let toml = format!("[http]\n{http_config}\n[sensors]\ndedupe_window = \"0s\"");
        let bridge = Bridge::start(settings(&toml, engine.endpoint_url(), spool.path())).await.unwrap();
        let addr = bridge.local_addr().to_string();
        assert_eq!(post(&addr, &[], &body).0, 401, "{http_config}: no credentials");
        assert_eq!(post(&addr, &[("Authorization", wrong)], &body).0, 401, "{http_config}: {wrong}");
        let (status, answer) = post(&addr, &[("Authorization", right)], &body);
        assert_eq!(status, 200, "{http_config}: {answer}");
        let (_, metrics) = http(&addr, "GET", "/metrics", &[], "");
        assert!(metrics.contains("ruuvistream_bridge_messages_refused_total{reason=\"unauthorized\"} 2"), "{metrics}");
        bridge.shutdown().await;
    }
    for (bad, why) in [
        ("[http]\nauth = \"bearer\"", "needs a token"),
        ("[http]\nauth = \"digest\"", "none, basic, bearer, token or api_key"),
        ("[http]\nauth = \"basic\"\nuser = \"gw\"", "needs a user and a password"),
        ("[sensors]\ndeny = [\"not a mac\"]", "is not a MAC address"),
        ("[spool]\nmax_size = \"10KiB\"", "at least 1MiB"),
        ("listen = \"0.0.0.0:8080\"", "allow_anonymous = true"),
        ("[sensors]\nderived = [\"heat_index\"]", "unknown derived measure \"heat_index\""),
        ("[sensors]\nmin_interval = \"5 minutes\"", "[sensors] min_interval: invalid duration \"5 minutes\""),
        (
            "[sensor.\"C6:A5:B9:E0:AD:06\"]\nmin_interval = \"-1m\"",
            "[sensor.\"C6:A5:B9:E0:AD:06\"] min_interval: invalid duration",
        ),
    ] {
        let e = settings_error(bad);
        assert!(e.contains(why), "{bad}: {e}");
    }
    let e = BridgeConfig::parse("[target]\ndatabse = \"x\"").unwrap_err();
    assert!(e.contains("unknown field `databse`"), "{e}");
    let e = BridgeConfig::default().settings().expect_err("no spool").to_string();
    assert!(e.contains("--spool DIR"), "{e}");
}

/// Simulated sensors' broadcasts as one-tag Gateway POST bodies (with the simulator's repeats,
/// which the bridge must write once), and how many distinct broadcasts they hold.
fn simulated_posts(start_s: i64, minutes: u64) -> (Vec<String>, usize) {
    let sim = Simulator::new(SimulatorConfig {
        sensors: 3,
        start_ns: start_s * 1_000_000_000,
        duration: Duration::from_secs(60 * minutes),
        interval: Duration::from_secs(5),
        repeat: 0.1,
        loss: 0.0,
        ..Default::default()
    })
    .unwrap();
    let mut distinct = std::collections::HashSet::new();
    let bodies: Vec<String> = sim
        .map(|p| {
            distinct.insert(p.advertisement.clone());
            gateway_body(&p.mac.to_string(), p.time_ns / 1_000_000_000, json!({"data": bytes_to_hex(&p.advertisement)}))
        })
        .collect();
    (bodies, distinct.len())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_outage_under_a_steady_flow_loses_nothing_and_writes_nothing_twice() {
    let data = tempfile::tempdir().unwrap();
    let spool = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut first = engine(T0 + 3600, Some(data.path()), port);
    let url = first.endpoint_url().to_string();
    let bridge = Bridge::start(settings("", &url, spool.path())).await.unwrap();
    let addr = bridge.local_addr().to_string();
    let (bodies, distinct) = simulated_posts(T0, 30);
    let third = bodies.len() / 3;
    let send = |bodies: &[String]| {
        for body in bodies {
            let (status, answer) = post(&addr, &[], body);
            assert_eq!(status, 200, "{answer}");
        }
    };
    send(&bodies[..third]);
    first.shutdown();
    // Timestream is away: the bridge takes every message and holds it.
    send(&bodies[third..2 * third]);
    let (_, metrics) = http(&addr, "GET", "/metrics", &[], "");
    let held = metrics.lines().find(|l| l.starts_with("ruuvistream_bridge_spool_bytes ")).unwrap();
    assert_ne!(held, "ruuvistream_bridge_spool_bytes 0", "{metrics}");
    // Until the bridge has given up a write (its client's retries spent) and holds on.
    let failed =
        |m: &str| m.lines().any(|l| l.starts_with("ruuvistream_bridge_write_failures_total ") && !l.ends_with(" 0"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !failed(&http(&addr, "GET", "/metrics", &[], "").1) {
        assert!(Instant::now() < deadline, "no write failed while the engine was away");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let second = engine(T0 + 3600, Some(data.path()), port);
    send(&bodies[2 * third..]);
    wait_for_count(&url, "SELECT count(*) AS n FROM ruuvi.sensors", distinct as u64).await;
    let twice = rows(
        &url,
        "SELECT count(*) AS n FROM (SELECT mac, time FROM ruuvi.sensors GROUP BY mac, time HAVING count(*) > 1)",
    )
    .await;
    assert_eq!(twice[0]["n"].as_u64(), Some(0));
    let (_, metrics) = http(&addr, "GET", "/metrics", &[], "");
    assert!(metrics.contains("ruuvistream_bridge_records_dead_lettered_total 0"), "{metrics}");
    bridge.shutdown().await;
    drop(second);
}

/// The bridge's process is killed (SIGKILL) while its spool holds what it acknowledged and
/// Timestream has not taken (the engine is not up yet); started again, it writes it all, once.
#[test]
#[cfg(all(unix, feature = "cli"))]
fn a_bridge_killed_mid_flow_resumes_from_its_spool() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let spool = tempfile::tempdir().unwrap();
    let start_bridge = || {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ruuvistream"))
            .args(["bridge", "--listen", "127.0.0.1:0", "--endpoint-url", &url, "--create", "--spool"])
            .arg(spool.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line.trim().trim_end_matches('/').rsplit("http://").next().unwrap().to_string();
        (child, addr)
    };
    let (bodies, distinct) = simulated_posts(T0, 20);
    let (mut child, addr) = start_bridge();
    let half = bodies.len() / 2;
    for body in &bodies[..half] {
        assert_eq!(post(&addr, &[], body).0, 200);
    }
    let (_, metrics) = http(&addr, "GET", "/metrics", &[], "");
    assert!(metrics.contains("ruuvistream_bridge_records_written_total 0"), "{metrics}");
    child.kill().unwrap();
    child.wait().unwrap();
    let engine = engine(T0 + 3600, None, port);
    let (mut child, addr) = start_bridge();
    for body in &bodies[half..] {
        assert_eq!(post(&addr, &[], body).0, 200);
    }
    runtime.block_on(wait_for_count(&url, "SELECT count(*) AS n FROM ruuvi.sensors", distinct as u64));
    let twice = runtime.block_on(rows(
        &url,
        "SELECT count(*) AS n FROM (SELECT mac, time FROM ruuvi.sensors GROUP BY mac, time HAVING count(*) > 1)",
    ));
    assert_eq!(twice[0]["n"].as_u64(), Some(0));
    child.kill().unwrap();
    child.wait().unwrap();
    drop(engine);
}

/// A mosquitto broker on a free loopback port, stopped when dropped.
struct Mosquitto {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The mosquitto programs, or `None` (and the test passes with a note) when they are missing
/// and `RUUVISTREAM_REQUIRE_MOSQUITTO` is not set (`make test` sets it: CI installs them).
fn mosquitto_program(name: &str) -> Option<std::path::PathBuf> {
    let found = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("RUUVISTREAM_REQUIRE_MOSQUITTO").is_none(),
            "{name} is not installed (Debian: apt-get install mosquitto mosquitto-clients)"
        );
        eprintln!("skipped: {name} is not installed");
    }
    found
}

impl Mosquitto {
    /// Starts a broker with `extra` configuration lines (`{dir}` is its directory).
    fn start(extra: &str) -> Option<Self> {
        let program = mosquitto_program("mosquitto")?;
        mosquitto_program("mosquitto_pub")?;
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let extra = extra.replace("{dir}", &dir.path().display().to_string());
        let conf = format!("listener {port} 127.0.0.1\npersistence false\n{extra}\n");
        std::fs::write(dir.path().join("mosquitto.conf"), conf).unwrap();
        let child = std::process::Command::new(program)
            .arg("-c")
            .arg(dir.path().join("mosquitto.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("mosquitto starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Self { child, port, _dir: dir })
    }

    /// Publishes one message at QoS 1 with mosquitto_pub and `args` (credentials, TLS).
    fn publish(&self, topic: &str, message: &str, args: &[&str]) {
        let out = std::process::Command::new(mosquitto_program("mosquitto_pub").unwrap())
            .args(["-p", &self.port.to_string(), "-q", "1", "-t", topic, "-m", message])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "mosquitto_pub: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_and_walkthrough_messages_on_mqtt_land_and_wait_for_a_bridge_that_was_down() {
    let Some(broker) = Mosquitto::start("allow_anonymous true") else { return };
    let engine = engine(T0 + 60, None, 0);
    let spool = tempfile::tempdir().unwrap();
    let toml = format!(
        "[[mqtt]]\nurl = \"mqtt://127.0.0.1:{port}\"\n\n[[mqtt]]\nurl = \"mqtt://127.0.0.1:{port}\"\nshape = \"walkthrough\"\n",
        port = broker.port
    );
    let bridge = Bridge::start(settings(&toml, engine.endpoint_url(), spool.path())).await.unwrap();
    let url = engine.endpoint_url().to_string();
    // The subscriptions are made once connected.
    let addr = bridge.local_addr().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        broker.publish("ruuvi/C8:25:2D:8E:9C:2C/gw_status", "{\"state\": \"online\"}", &[]);
        broker.publish(
            "ruuvi/C8:25:2D:8E:9C:2C/AA:00:00:00:00:07",
            &json!({"gw_mac": "C8:25:2D:8E:9C:2C", "rssi": -26, "aoa": [], "gwts": T0, "ts": T0, "data": VECTOR, "coords": ""})
                .to_string(),
            &[],
        );
        let (_, metrics) = http(&addr, "GET", "/metrics", &[], "");
        if metrics.contains("input=\"gateway_mqtt\"") {
            break;
        }
        assert!(Instant::now() < deadline, "no MQTT message arrived:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The walkthrough's own messages, as its Raspberry Pi published them.
    let ms = T0 * 1000;
    broker.publish("d/bedroom", &json!({"temperature": 21.5, "humidity": 40, "time": ms}).to_string(), &[]);
    broker.publish("d/sauna", &json!({"temperature": 80.25, "d_site": "cabin", "time": ms}).to_string(), &[]);
    broker.publish("d/attic", "{\"note\": \"no numbers\"}", &[]);
    wait_for_count(&url, "SELECT count(*) AS n FROM ruuvi.sensors WHERE measure_name <> 'ruuvi'", 3).await;
    let got = rows(
        &url,
        "SELECT location, site, measure_name, measure_value::double AS v, to_milliseconds(time) AS ms \
         FROM ruuvi.sensors WHERE measure_name <> 'ruuvi' ORDER BY location, measure_name",
    )
    .await;
    let got: Vec<(String, String, String, f64, i64)> = got
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            (s("location"), s("site"), s("measure_name"), r["v"].as_f64().unwrap(), r["ms"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(
        got,
        [
            ("bedroom".into(), "home".into(), "humidity".into(), 40.0, ms),
            ("bedroom".into(), "home".into(), "temperature".into(), 21.5, ms),
            ("sauna".into(), "cabin".into(), "temperature".into(), 80.25, ms),
        ]
    );
    let gateway = rows(&url, "SELECT mac, temperature FROM ruuvi.sensors WHERE measure_name = 'ruuvi'").await;
    assert_eq!(gateway[0]["mac"].as_str(), Some("AA:00:00:00:00:07"));
    assert_eq!(gateway[0]["temperature"].as_f64(), Some(24.3));

    // Messages published while the bridge is down wait in the broker (its session is kept),
    // and land when it is back.
    bridge.shutdown().await;
    for (i, location) in ["kitchen", "garage"].iter().enumerate() {
        let message = json!({"temperature": 10.0 + i as f64, "time": ms});
        broker.publish(&format!("d/{location}"), &message.to_string(), &[]);
    }
    let bridge = Bridge::start(settings(&toml, &url, spool.path())).await.unwrap();
    wait_for_count(&url, "SELECT count(*) AS n FROM ruuvi.sensors WHERE measure_name <> 'ruuvi'", 5).await;
    let (_, metrics) = http(&bridge.local_addr().to_string(), "GET", "/metrics", &[], "");
    assert!(metrics.contains("ruuvistream_bridge_records_dead_lettered_total 0"), "{metrics}");
    // What the first run took it acknowledged: the broker sends only the new messages.
    let received: Vec<&str> =
        metrics.lines().filter(|l| l.starts_with("ruuvistream_bridge_readings_received_total")).collect();
    assert_eq!(
        received,
        [
            "ruuvistream_bridge_readings_received_total{input=\"walkthrough_mqtt\",sensor=\"garage\"} 1",
            "ruuvistream_bridge_readings_received_total{input=\"walkthrough_mqtt\",sensor=\"kitchen\"} 1",
        ]
    );
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_over_tls_with_a_password_lands_and_a_wrong_password_is_told() {
    let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls");
    let passwords = "{dir}/passwords";
    let extra = format!(
        "allow_anonymous false\npassword_file {passwords}\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n",
        ca = tls.join("ca.pem").display(),
        cert = tls.join("server.pem").display(),
        key = tls.join("server.key").display(),
    );
    // The password file must exist before the broker reads it.
    let Some(program) = mosquitto_program("mosquitto_passwd") else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passwords");
    let made = std::process::Command::new(program).args(["-b", "-c"]).arg(&file).args(["gateway", "s3cret"]).output();
    assert!(made.unwrap().status.success());
    let Some(broker) = Mosquitto::start(&extra.replace(passwords, &file.display().to_string())) else { return };
    let engine = engine(T0 + 60, None, 0);
    let ca = tls.join("ca.pem").display().to_string();
    for (password, lands) in [("wrong", false), ("s3cret", true)] {
        let spool = tempfile::tempdir().unwrap();
        let toml = format!(
            "[[mqtt]]\nurl = \"mqtts://localhost:{}\"\nusername = \"gateway\"\npassword = \"{password}\"\nca = \"{ca}\"\nclient_id = \"tls-{password}\"\n",
            broker.port
        );
        let bridge = Bridge::start(settings(&toml, engine.endpoint_url(), spool.path())).await.unwrap();
        let addr = bridge.local_addr().to_string();
        let deadline = Instant::now() + Duration::from_secs(if lands { 10 } else { 2 });
        let mut landed = false;
        while Instant::now() < deadline && !landed {
            let message = json!({"gw_mac": "C8:25:2D:8E:9C:2C", "rssi": -26, "ts": T0, "data": VECTOR});
            broker.publish(
                "ruuvi/C8:25:2D:8E:9C:2C/AA:00:00:00:00:08",
                &message.to_string(),
                &["--cafile", &ca, "-u", "gateway", "-P", "s3cret", "-h", "localhost"],
            );
            let (_, metrics) = http(&addr, "GET", "/metrics", &[], "");
            landed = metrics.contains("sensor=\"AA:00:00:00:00:08\"");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(landed, lands, "password {password}");
        // A broker that refuses the bridge does not stop its other inputs.
        assert_eq!(http(&addr, "GET", "/health", &[], "").0, 200);
        bridge.shutdown().await;
    }
    for (bad, why) in [
        ("url = \"http://localhost\"", "unknown scheme"),
        ("url = \"mqtt://localhost:port\"", "bad port"),
        ("url = \"mqtt://localhost\"\nca = \"ca.pem\"", "a CA is for mqtts"),
        ("url = \"mqtt://localhost\"\nusername = \"u\"", "needs a password"),
        ("url = \"mqtt://localhost\"\nshape = \"station\"", "\"gateway\" or \"walkthrough\""),
        ("url = \"mqtt://localhost\"\n[[mqtt]]\nurl = \"mqtt://localhost:1883\"", "give one a client_id"),
    ] {
        let e = settings_error(&format!("[[mqtt]]\n{bad}"));
        assert!(e.contains(why), "{bad}: {e}");
    }
    let mut config =
        BridgeConfig::parse("[[mqtt]]\nurl = \"mqtts://localhost\"\nca = \"/nonexistent/ca.pem\"").unwrap();
    config.spool.dir = Some(tempfile::tempdir().unwrap().path().to_path_buf());
    let e = Bridge::start(config.settings().unwrap()).await.unwrap_err().to_string();
    assert!(e.contains("cannot read the CA /nonexistent/ca.pem"), "{e}");
}

/// One process receives, stores and answers: `serve --bridge CONFIG`, its bridge writing into
/// the engine directly, so that an engine serving HTTPS (with a private CA's certificate) needs
/// nothing more.
#[test]
#[cfg(all(unix, feature = "cli", feature = "tls"))]
fn serve_with_a_bridge_receives_stores_and_answers() {
    let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bridge.toml");
    let spool = dir.path().join("spool");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for (n, https) in [(1, false), (2, true)] {
        let toml =
            format!("listen = \"127.0.0.1:0\"\n[target]\ncreate = true\n[spool]\ndir = \"{}\"\n", spool.display());
        std::fs::write(&config, toml).unwrap();
        let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_ruuvistream"));
        serve.args(["serve", "--port", "0", "--bridge"]).arg(&config).stdout(std::process::Stdio::piped());
        if https {
            serve.arg("--tls-cert").arg(tls.join("server.pem")).arg("--tls-key").arg(tls.join("server.key"));
        }
        let mut child = serve.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut url = |prefix: &str| loop {
            let line = lines.next().expect("a line").unwrap();
            if let Some(rest) = line.strip_prefix(prefix) {
                break rest.trim().trim_end_matches('/').to_string();
            }
        };
        let engine = url("ruuvistream engine listening on ");
        let bridge = url("ruuvistream bridge listening on ");
        assert_eq!(engine.starts_with("https://"), https, "{engine}");
        let now = ruuvistream::units::now_ns() / 1_000_000_000;
        let body = gateway_body(&format!("AA:00:00:00:00:0{n}"), now, json!({"data": VECTOR}));
        let (status, answer) = post(bridge.trim_start_matches("http://"), &[], &body);
        assert_eq!(status, 200, "{answer}");
        // The spool is kept between the runs, and each run writes its own engine.
        runtime.block_on(wait_for_count(&engine, "SELECT count(*) AS n FROM ruuvi.sensors", 1));
        terminate(&child);
        assert!(child.wait().unwrap().success());
    }

    std::fs::write(&config, format!("[spool]\ndir = \"{}\"\n[http]\nauth = \"wrong\"\n", spool.display())).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ruuvistream"))
        .args(["serve", "--port", "0", "--bridge"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("[http] auth must be none, basic"), "{stderr}");
}

/// A bridge writing to an engine that serves HTTPS with a private CA's certificate: it trusts
/// `[target] ca_file`; without it, its writes fail (and the spool keeps the readings).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg(feature = "tls")]
async fn a_bridge_trusts_the_ca_file_of_an_https_engine() {
    use std::sync::atomic::Ordering;
    let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls");
    let files = ruuvistream::engine::TlsFiles { cert: tls.join("server.pem"), key: tls.join("server.key") };
    let engine = EngineThread::start(EngineConfig { tls: Some(files), ..Default::default() }).unwrap();
    let url = engine.endpoint_url().to_string();
    let spool = tempfile::tempdir().unwrap();
    let untrusted = Bridge::start(settings("", &url, spool.path())).await.unwrap();
    let now = ruuvistream::units::now_ns() / 1_000_000_000;
    let body = gateway_body("AA:00:00:00:00:0C", now, json!({"data": VECTOR}));
    let (status, _) = post(&untrusted.local_addr().to_string(), &[], &body);
    assert_eq!(status, 200);
    let metrics = &untrusted.receiver().metrics;
    let deadline = Instant::now() + Duration::from_secs(30);
    while metrics.write_failures.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "the bridge never tried to write");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(metrics.written.load(Ordering::Relaxed), 0);
    untrusted.shutdown().await;

    let ca = format!("[target]\nca_file = \"{}\"\n", tls.join("ca.pem").display());
    let trusted = Bridge::start(settings(&ca, &url, spool.path())).await.unwrap();
    // The reading the first bridge spooled is written now.
    wait_for_count(&url, "SELECT count(*) AS n FROM ruuvi.sensors", 1).await;
    trusted.shutdown().await;
}

/// Records Timestream refuses for good are kept in the dead-letter file with the reason, each
/// the record of the reading it was, and the others are written: through the client and into
/// an engine of the same process (in calls of 100 and of 1,000 records, so that a refusal's
/// index must be mapped back across calls).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_records_go_to_the_dead_letter_file_and_the_others_are_written() {
    use ruuvistream::bridge::Sink;
    use std::sync::atomic::Ordering;
    const TAGS: usize = 2_100;
    let now = T0 + 86_400;
    // Every seventh reading is two days old: outside the memory store (6 h) of the table the
    // bridge creates.
    let old = |i: usize| i % 7 == 3;
    let mac = |i: usize| format!("C2:4A:52:00:{:02X}:{:02X}", i / 256, i % 256);
    let tags: serde_json::Map<String, Value> = (0..TAGS)
        .map(|i| {
            let mut hex = VECTOR.to_string();
            hex.replace_range(50..62, &mac(i).replace(':', ""));
            let time = if old(i) { now - 2 * 86_400 } else { now - 60 };
            (mac(i), json!({"rssi": -60, "timestamp": time, "data": hex}))
        })
        .collect();
    let body = json!({"data": {"timestamp": now, "gw_mac": "C8:25:2D:8E:9C:2C", "tags": tags}}).to_string();
    let refused: std::collections::BTreeSet<String> = (0..TAGS).filter(|&i| old(i)).map(mac).collect();

    for in_process in [false, true] {
        let engine = engine(now, None, 0);
        let spool = tempfile::tempdir().unwrap();
        let settings = settings("", engine.endpoint_url(), spool.path());
        let bridge = if in_process {
            Bridge::start_with(settings, Sink::Engine(engine.engine().unwrap().clone())).await.unwrap()
        } else {
            Bridge::start(settings).await.unwrap()
        };
        let (status, answer) = post(&bridge.local_addr().to_string(), &[], &body);
        assert_eq!(status, 200, "{answer}");
        let metrics = &bridge.receiver().metrics;
        let deadline = Instant::now() + Duration::from_secs(30);
        while metrics.written.load(Ordering::Relaxed) + metrics.dead_lettered.load(Ordering::Relaxed) < TAGS as u64 {
            assert!(Instant::now() < deadline, "in process {in_process}: not all decided");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(metrics.dead_lettered.load(Ordering::Relaxed), refused.len() as u64);
        let sql = "SELECT count(*) AS n FROM ruuvi.sensors";
        wait_for_count(engine.endpoint_url(), sql, (TAGS - refused.len()) as u64).await;
        let letters = std::fs::read_to_string(spool.path().join("dead-letters.jsonl")).unwrap();
        let mut dead = std::collections::BTreeSet::new();
        for line in letters.lines() {
            let letter: Value = serde_json::from_str(line).unwrap();
            assert!(letter["reason"].as_str().unwrap().contains("outside the time range"), "{letter}");
            assert_eq!((letter["database"].as_str(), letter["table"].as_str()), (Some("ruuvi"), Some("sensors")));
            let dimensions = letter["record"]["Dimensions"].as_array().unwrap();
            let mac = dimensions.iter().find(|d| d["Name"] == "mac").unwrap()["Value"].as_str().unwrap();
            dead.insert(mac.to_string());
        }
        assert_eq!(dead, refused, "in process {in_process}");
        bridge.shutdown().await;
    }
}

/// Sends SIGTERM (as a service manager stops it).
#[cfg(all(unix, feature = "cli"))]
fn terminate(child: &std::process::Child) {
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

/// `simulate --post` plays a Gateway: its bodies go to the bridge, and every reading lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg(feature = "cli")]
async fn the_simulator_posts_as_a_gateway_through_the_bridge() {
    let engine = engine(0, None, 0);
    engine.clock().set_ns(ruuvistream::units::now_ns());
    let spool = tempfile::tempdir().unwrap();
    let toml = "[http]\nauth = \"bearer\"\ntoken = \"t0k3n\"";
    let bridge = Bridge::start(settings(toml, engine.endpoint_url(), spool.path())).await.unwrap();
    let simulate = |url: String, token: &str| {
        let token = token.to_string();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_ruuvistream"))
                .args(["simulate", "--sensors", "3", "--duration", "10m", "--interval", "10s", "--loss", "0"])
                .args(["--post", &url, "--authorization", &format!("Bearer {token}")])
                .output()
                .unwrap()
        })
    };
    let out = simulate(bridge.url(), "t0k3n").await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("posted 60 Gateway message(s) to http://"), "{stdout}");
    // 3 sensors, one reading each per 10-second message.
    wait_for_count(engine.endpoint_url(), "SELECT count(*) AS n FROM ruuvi.sensors", 180).await;

    let out = simulate(bridge.url(), "wrong").await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the bridge answered 401 Unauthorized"), "{stderr}");
    let closed = format!("http://127.0.0.1:{}/", free_port());
    let out = simulate(closed, "t0k3n").await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("is the bridge running?"), "{stderr}");
    bridge.shutdown().await;
}

/// A stand-in for a Ruuvi Gateway's web server: `GET /history` with its bearer token answers
/// `body`; anything else 401. Returns its address and how many requests it answered.
fn gateway_history_server(
    token: &'static str,
    body: String,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push(line.trim_end().to_string());
            }
            let authorized = head.first().is_some_and(|l| l.starts_with("GET /history "))
                && head.iter().any(|l| l.eq_ignore_ascii_case(&format!("authorization: Bearer {token}")));
            let (status, text) = if authorized { ("200 OK", body.as_str()) } else { ("401 Unauthorized", "{}") };
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (addr, served)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polled_gateway_history_lands_once_however_often_it_repeats() {
    let engine = engine(T0 + 60, None, 0);
    let history = json!({"data": {"coordinates": "", "timestamp": T0, "gw_mac": "C8:25:2D:8E:9C:2C", "tags": {
        "AA:00:00:00:00:0B": {"rssi": -60, "timestamp": T0, "data": VECTOR},
        "AA:00:00:00:00:0C": {"rssi": -61, "timestamp": T0 - 1, "data": VECTOR}}}});
    let (gateway, served) = gateway_history_server("r3ad", history.to_string());
    for (token, lands) in [("wrong", false), ("r3ad", true)] {
        let spool = tempfile::tempdir().unwrap();
        let toml = format!("[[poll]]\nurl = \"http://{gateway}/history\"\ntoken = \"{token}\"\ninterval = \"1s\"\n");
        let bridge = Bridge::start(settings(&toml, engine.endpoint_url(), spool.path())).await.unwrap();
        let before = served.load(std::sync::atomic::Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(10);
        while served.load(std::sync::atomic::Ordering::SeqCst) < before + 3 {
            assert!(Instant::now() < deadline, "the Gateway was not polled");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (_, metrics) = http(&bridge.local_addr().to_string(), "GET", "/metrics", &[], "");
        let received =
            "ruuvistream_bridge_readings_received_total{input=\"gateway_history\",sensor=\"AA:00:00:00:00:0B\"} 1";
        assert_eq!(metrics.contains(received), lands, "{token}:\n{metrics}");
        if lands {
            assert!(metrics.contains("ruuvistream_bridge_readings_duplicate_total 4"), "{metrics}");
            wait_for_count(engine.endpoint_url(), "SELECT count(*) AS n FROM ruuvi.sensors", 2).await;
        }
        bridge.shutdown().await;
    }
    for (bad, why) in [
        ("url = \"https://gateway/history\"", "write it http://host[:port]/path"),
        ("url = \"http://gateway/history\"\ninterval = \"100ms\"", "at most once a second"),
    ] {
        let e = settings_error(&format!("[[poll]]\n{bad}"));
        assert!(e.contains(why), "{bad}: {e}");
    }
}

/// `[sensors] min_interval`: of each sensor's readings in each minute, only the latest is
/// written; the readings of the minute still open when the bridge stops (the first bridge
/// waits an hour after a minute's end) wait in its spool and are decided after the restart, so
/// the table ends with exactly the latest reading per minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minimum_interval_writes_the_latest_reading_of_each_window_across_a_restart() {
    let engine = engine(T0 + 3600, None, 0);
    let url = engine.endpoint_url().to_string();
    let spool = tempfile::tempdir().unwrap();
    let toml = |grace: &str| format!("[sensors]\nmin_interval = \"1m\"\nmin_interval_grace = \"{grace}\"");
    let (bodies, _) = simulated_posts(T0, 6);
    let minute =
        |body: &String| serde_json::from_str::<Value>(body).unwrap()["data"]["timestamp"].as_i64().unwrap() / 60;
    // The latest reading of each (sensor, minute), from what the Gateway relays (first
    // broadcast of each sequence number: repeats are dropped as duplicates).
    let mut latest = std::collections::BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for body in &bodies {
        let v: Value = serde_json::from_str(body).unwrap();
        for (mac, tag) in v["data"]["tags"].as_object().unwrap() {
            if seen.insert(tag["data"].as_str().unwrap().to_string()) {
                let t = tag["timestamp"].as_i64().unwrap();
                let at = latest.entry((mac.clone(), t.div_euclid(60))).or_insert(t);
                *at = (*at).max(t);
            }
        }
    }
    let expected: Vec<(String, i64)> = latest.into_iter().map(|((mac, _), t)| (mac, t * 1000)).collect();
    // Split where a minute starts: the first bridge's last minute gets no more readings.
    let half = (bodies.len() / 2..bodies.len()).find(|&i| minute(&bodies[i]) != minute(&bodies[i - 1])).unwrap();
    let bridge = Bridge::start(settings(&toml("1h"), &url, spool.path())).await.unwrap();
    let addr = bridge.local_addr().to_string();
    for body in &bodies[..half] {
        assert_eq!(post(&addr, &[], body).0, 200);
    }
    // Each of the 3 sensors has its last minute waiting.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !http(&addr, "GET", "/metrics", &[], "").1.contains("ruuvistream_bridge_records_waiting_for_window 3\n") {
        assert!(Instant::now() < deadline, "{}", http(&addr, "GET", "/metrics", &[], "").1);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bridge.shutdown().await;
    let bridge = Bridge::start(settings(&toml("1s"), &url, spool.path())).await.unwrap();
    let addr = bridge.local_addr().to_string();
    for body in &bodies[half..] {
        assert_eq!(post(&addr, &[], body).0, 200);
    }
    wait_for_count(&url, "SELECT count(*) AS n FROM ruuvi.sensors", expected.len() as u64).await;
    let got: Vec<(String, i64)> =
        rows(&url, "SELECT mac, to_milliseconds(time) AS t FROM ruuvi.sensors ORDER BY mac, time")
            .await
            .iter()
            .map(|r| (r["mac"].as_str().unwrap().to_string(), r["t"].as_i64().unwrap()))
            .collect();
    assert_eq!(got, expected);
    let (_, metrics) = http(&addr, "GET", "/metrics", &[], "");
    let thinned = metrics.lines().find(|l| l.starts_with("ruuvistream_bridge_records_thinned_total ")).unwrap();
    assert_ne!(thinned, "ruuvistream_bridge_records_thinned_total 0", "{metrics}");
    bridge.shutdown().await;
}
