//! The command line on real input, through the built binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn ruuvistream(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ruuvistream"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn decode_arguments_as_a_table() {
    let out = ruuvistream(&["decode", "0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(t.contains("CB:B8:33:4C:88:4F") && t.contains("24.3") && t.contains("100044"), "{t}");
    assert!(!t.contains("pm2_5"), "empty columns are left out:\n{t}");
}

#[test]
fn simulate_pipes_into_decode() {
    let sim = ruuvistream(&["simulate", "--sensors", "4", "--duration", "1h", "--start", "2026-11-30T00:00:00Z"], b"");
    assert!(sim.status.success());
    let lines = text(&sim.stdout).lines().count();
    assert!((2400..3100).contains(&lines), "{lines} packets");
    let dec = ruuvistream(&["decode", "--json"], &sim.stdout);
    assert!(dec.status.success(), "{}", text(&dec.stderr));
    let out = text(&dec.stdout);
    assert_eq!(out.lines().count(), lines);
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert!(first["time"].as_str().unwrap().starts_with("2026-11-30T00:00:0"));
    assert_eq!(first["data_format"], 5);
    assert!(first.get("pm2_5").is_none(), "absent fields are left out");
}

#[test]
fn gateway_and_hex_formats_decode_too() {
    let gw = ruuvistream(
        &["simulate", "--sensors", "3", "--air-sensors", "1", "--duration", "10m", "--format", "gateway"],
        b"",
    );
    assert!(gw.status.success());
    let dec = ruuvistream(&["decode", "--json"], &gw.stdout);
    assert!(dec.status.success(), "{}", text(&dec.stderr));
    let rows: Vec<serde_json::Value> = text(&dec.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(rows.iter().any(|r| r["data_format"] == 225));
    assert!(rows.iter().all(|r| r["gateway_mac"].is_string() && r["rssi"].is_i64()));
    let hex = ruuvistream(&["simulate", "--sensors", "2", "--duration", "1m", "--format", "hex"], b"");
    let dec = ruuvistream(&["decode"], &hex.stdout);
    assert!(dec.status.success());
    assert!(text(&dec.stdout).contains("temperature"));
}

#[test]
fn bad_input_is_reported_and_the_rest_decoded() {
    let input = b"0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F\nnot hex\n# a comment\n\n05FF\n";
    let out = ruuvistream(&["decode", "--json"], input);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout).lines().count(), 1);
    let err = text(&out.stderr);
    assert!(err.contains("input 2: bad hex"), "{err}");
    assert!(err.contains("input 5: wrong length"), "{err}");
    assert!(err.contains("2 of 3 inputs did not decode"), "{err}");
    let strict = ruuvistream(&["decode", "--strict", "--json"], input);
    assert_eq!(strict.status.code(), Some(1));
    assert!(!text(&strict.stderr).contains("input 5"));
}

#[test]
fn broken_json_is_an_error_not_a_crash() {
    let out = ruuvistream(&["decode"], b"{\"data\": \"0201\"\n{{{");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("input"), "{}", text(&out.stderr));
}

#[test]
fn usage_errors_exit_2() {
    let out = ruuvistream(&["simulate", "--duration", "5 parsecs"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("invalid duration"));
    let out = ruuvistream(&["frobnicate"], b"");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn closed_pipe_is_not_an_error() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ruuvistream"))
        .args(["simulate", "--sensors", "50", "--duration", "7d"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 1024];
    std::io::Read::read_exact(&mut stdout, &mut buf).unwrap();
    drop(stdout);
    assert!(child.wait().unwrap().success());
}

#[cfg(feature = "engine")]
#[test]
fn serve_prints_its_url_and_answers_until_terminated() {
    use std::io::{BufRead, BufReader, Read};
    use std::net::TcpStream;

    let mut child = Command::new(env!("CARGO_BIN_EXE_ruuvistream"))
        .args(["serve", "--port", "0", "--verbose"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let url = first.trim().rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{first}");
    let addr = url.trim_start_matches("http://");
    let mut conn = TcpStream::connect(addr).unwrap();
    let body = r#"{"DatabaseName": "cli_db"}"#;
    write!(
        conn,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: Timestream_20181101.CreateDatabase\r\n\
         Content-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("arn:aws:timestream:us-east-1:000000000000:database/cli_db"), "{response}");
    // SIGTERM stops it cleanly.
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut log = String::new();
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    assert!(log.contains("CreateDatabase 200"), "{log}");
}

#[cfg(feature = "engine")]
#[test]
fn serve_refuses_to_open_the_network_without_keys_and_says_why() {
    let open = ruuvistream(&["serve", "--bind", "0.0.0.0", "--port", "0"], b"");
    assert_eq!(open.status.code(), Some(2));
    let why = text(&open.stderr);
    assert!(why.contains("refusing to serve") && why.contains("--allow-anonymous"), "{why}");
    let missing = ruuvistream(&["serve", "--port", "0", "--credentials", "/nonexistent/credentials"], b"");
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("cannot read credentials /nonexistent/credentials"));
    let half = ruuvistream(&["serve", "--port", "0", "--access-key-id", "K"], b"");
    assert_eq!(half.status.code(), Some(2), "a key id needs its secret");
    let size = ruuvistream(&["serve", "--port", "0", "--query-memory-limit", "lots"], b"");
    assert!(text(&size.stderr).contains("invalid size \"lots\""), "{}", text(&size.stderr));
    let help = text(&ruuvistream(&["serve", "--help"], b"").stdout);
    for flag in ["--credentials", "--tls-cert", "--query-memory-limit", "--query-timeout", "--max-connections"] {
        assert!(help.contains(flag), "{flag} in:\n{help}");
    }
}
