//! A damaged data directory is never opened as if it were whole: a flipped bit in the middle of
//! the write-ahead log or in a checkpoint file, a missing catalog, log or data file each stop
//! the start with an error naming the file, change nothing, and `repair` salvages every
//! readable row when asked.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ruuvistream::Error;
use ruuvistream::engine::catalog::{CreateDatabase, CreateTable};
use ruuvistream::engine::store::{RECOVERED_DATABASE, repair};
use ruuvistream::engine::write::{MeasureInput, RecordInput};
use ruuvistream::engine::{Clock, Engine, EngineConfig, LocalTimestream};

fn post(addr: &str, op: &str, body: &str) -> (u16, String) {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        conn,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: Timestream_20181101.{op}\r\n\
         Content-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    let status = response.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
}

fn config(dir: &Path) -> EngineConfig {
    EngineConfig { data_dir: Some(dir.to_path_buf()), ..Default::default() }
}

/// Starts `ruuvistream serve` on `dir` (no checkpoint unless `checkpoint`), creates
/// ruuvi.sensors, writes `batches` requests of 20 records (values 0, 1, 2, …), and stops the
/// engine: with SIGTERM (a final checkpoint) or `kill -9` (everything stays in the log).
fn write_and_stop(dir: &Path, batches: usize, checkpoint: bool) {
    let (mut child, addr) = serve(dir);
    assert_eq!(post(&addr, "CreateDatabase", r#"{"DatabaseName": "ruuvi"}"#).0, 200);
    assert_eq!(post(&addr, "CreateTable", r#"{"DatabaseName": "ruuvi", "TableName": "sensors"}"#).0, 200);
    let t0 = Clock::System.now_ns() / 1_000_000;
    for batch in 0..batches {
        let records: Vec<String> = (0..20)
            .map(|i| {
                let n = batch * 20 + i;
                format!(r#"{{"MeasureName": "seq", "MeasureValue": "{n}", "Time": "{}"}}"#, t0 - n as i64)
            })
            .collect();
        let body = format!(
            r#"{{"DatabaseName": "ruuvi", "TableName": "sensors",
                "CommonAttributes": {{"Dimensions": [{{"Name": "sensor", "Value": "s{}"}}]}}, "Records": [{}]}}"#,
            batch % 3,
            records.join(",")
        );
        assert_eq!(post(&addr, "WriteRecords", &body).0, 200);
    }
    let signal = if checkpoint { "-TERM" } else { "-9" };
    Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    child.wait().unwrap();
}

/// `ruuvistream serve` on `dir`, checkpointing only when stopped.
fn serve(dir: &Path) -> (std::process::Child, String) {
    crate::serve_process(&["--checkpoint-interval".as_ref(), "1h".as_ref(), "--data-dir".as_ref(), dir.as_os_str()])
}

fn row_count(engine: &Engine, db: &str, table: &str) -> usize {
    engine.row_count(db, table).unwrap()
}

/// The error opening `dir` gives; it must be a [`Error::Damaged`].
fn damage(dir: &Path) -> String {
    match Engine::open(config(dir)) {
        Err(Error::Damaged(message)) => {
            assert!(message.contains("ruuvistream repair"), "says what to do: {message}");
            message
        }
        Err(other) => panic!("not reported as damage: {other}"),
        Ok(_) => panic!("a damaged directory was opened"),
    }
}

fn flip_bit(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x04;
    std::fs::write(path, bytes).unwrap();
}

/// Every file under `dir`, with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in walk(dir) {
        out.push((entry.clone(), std::fs::read(&entry).unwrap()));
    }
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.file_name().unwrap() != "LOCK" {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_flipped_bit_in_the_middle_of_the_log_stops_the_start_and_repair_keeps_every_other_entry() {
    let dir = tempfile::tempdir().unwrap();
    write_and_stop(dir.path(), 50, false);
    let log = dir.path().join("wal-0.log");
    let len = std::fs::metadata(&log).unwrap().len() as usize;
    flip_bit(&log, len / 2);
    let before = snapshot(dir.path());

    let message = damage(dir.path());
    assert!(message.contains("wal-0.log") && message.contains("intact entries follow"), "{message}");
    assert_eq!(snapshot(dir.path()), before, "a refused start changes nothing");

    let report = repair(dir.path(), "us-east-1", "000000000000", Clock::System.now_ns()).unwrap();
    assert!(!report.is_clean());
    assert_eq!(report.rows_kept, 980, "{report}");
    assert!(report.to_string().contains("cannot be read"), "{report}");
    let aside = report.aside.clone().expect("the damaged log was kept");
    assert!(aside.join("wal-0.log").is_file(), "{}", aside.display());

    let engine = Engine::open(config(dir.path())).unwrap();
    assert_eq!(row_count(&engine, "ruuvi", "sensors"), 980);
    drop(engine);
    // Repaired means sound.
    assert!(repair(dir.path(), "us-east-1", "000000000000", Clock::System.now_ns()).unwrap().is_clean());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_or_missing_data_file_is_named_and_repair_reports_its_rows_as_lost() {
    const NOW: i64 = 1_796_040_000_000_000_000; // 2026-11-30T12:00:00Z
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(NOW);
    let config = || EngineConfig { clock: clock.clone(), ..config(dir.path()) };
    let engine = Engine::open(config()).unwrap();
    engine.create_database(CreateDatabase { name: "ruuvi".into(), ..Default::default() }).unwrap();
    let table = CreateTable { database: "ruuvi".into(), name: "sensors".into(), ..Default::default() };
    engine.create_table(table).unwrap();
    let values: Vec<String> = (0..300).map(|i| i.to_string()).collect();
    let records: Vec<RecordInput<'_>> = values
        .iter()
        .enumerate()
        .map(|(i, v)| RecordInput {
            dimensions: vec![("sensor", "a")],
            measure_name: "n",
            value: MeasureInput::Single("BIGINT", v),
            time_ns: NOW - 3_600_000_000_000 + i as i64 * 1_000_000_000,
            time_unit_ns: 1,
            version: None,
        })
        .collect();
    for chunk in records.chunks(100) {
        engine.write_records("ruuvi", "sensors", chunk).unwrap();
    }
    // A day on, the rows are in the magnetic store.
    clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(engine.checkpoint().unwrap().unwrap().tiered_rows, 300);
    drop(engine);
    let file = walk(&dir.path().join("tables")).into_iter().find(|p| p.extension().is_some_and(|e| e == "parquet"));
    let file = file.expect("a data file");

    // A flipped bit: the start is quick (files are not read), the first query names the file.
    let len = std::fs::metadata(&file).unwrap().len() as usize;
    flip_bit(&file, len / 2);
    let served = LocalTimestream::start(config()).await.unwrap();
    let addr = served.local_addr().to_string();
    let (status, body) = tokio::task::spawn_blocking(move || {
        post(&addr, "Query", r#"{"QueryString": "SELECT count(*) FROM ruuvi.sensors"}"#)
    })
    .await
    .unwrap();
    assert_eq!(status, 500, "{body}");
    assert!(body.contains(&*file.file_name().unwrap().to_string_lossy()) && body.contains("damaged"), "{body}");
    served.shutdown().await;

    // A file cut short or deleted stops the start.
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    assert!(damage(dir.path()).contains("part-0.parquet"));
    std::fs::remove_file(&file).unwrap();
    let message = damage(dir.path());
    assert!(message.contains("is missing"), "{message}");

    let report = repair(dir.path(), "us-east-1", "000000000000", NOW).unwrap();
    assert_eq!((report.rows_kept, report.rows_lost), (0, 300), "{report}");
    let engine = Engine::open(config()).unwrap();
    assert_eq!(row_count(&engine, "ruuvi", "sensors"), 0);
}

#[test]
fn a_missing_catalog_stops_the_start_and_repair_recovers_the_tables_by_id() {
    let dir = tempfile::tempdir().unwrap();
    write_and_stop(dir.path(), 10, true);
    write_and_stop_more(dir.path());
    std::fs::remove_file(dir.path().join("catalog.json")).unwrap();
    let before = snapshot(dir.path());
    let message = damage(dir.path());
    assert!(message.contains("catalog.json is missing"), "{message}");
    assert_eq!(snapshot(dir.path()), before, "nothing deleted: the checkpoint and the log are still there");

    let report = repair(dir.path(), "us-east-1", "000000000000", Clock::System.now_ns()).unwrap();
    assert!(report.catalog_rebuilt, "{report}");
    let engine = Engine::open(config(dir.path())).unwrap();
    // The checkpoint's 200 rows, and the log's 20 on top of them.
    assert_eq!(row_count(&engine, RECOVERED_DATABASE, "table-1"), 220);
}

/// Opens the directory again and writes one more batch without a checkpoint (it stays in the
/// log).
fn write_and_stop_more(dir: &Path) {
    let (mut child, addr) = serve(dir);
    let t0 = Clock::System.now_ns() / 1_000_000;
    let records: Vec<String> =
        (0..20).map(|i| format!(r#"{{"MeasureName": "more", "MeasureValue": "{i}", "Time": "{}"}}"#, t0 - i)).collect();
    let body = format!(r#"{{"DatabaseName": "ruuvi", "TableName": "sensors", "Records": [{}]}}"#, records.join(","));
    assert_eq!(post(&addr, "WriteRecords", &body).0, 200);
    Command::new("kill").args(["-9", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_missing_log_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    write_and_stop(dir.path(), 5, false);
    std::fs::remove_file(dir.path().join("wal-0.log")).unwrap();
    let message = damage(dir.path());
    assert!(message.contains("wal-0.log is missing"), "{message}");
    let report = repair(dir.path(), "us-east-1", "000000000000", Clock::System.now_ns()).unwrap();
    assert!(report.to_string().contains("wal-0.log is missing") && report.to_string().contains("are lost"), "{report}");
    assert!(Engine::open(config(dir.path())).is_ok());
}

#[test]
fn an_unfinished_entry_at_the_end_of_the_log_is_dropped_but_kept_aside() {
    let dir = tempfile::tempdir().unwrap();
    write_and_stop(dir.path(), 5, false);
    let log = dir.path().join("wal-0.log");
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, b'{', b'"']).unwrap();
    drop(f);
    let engine = Engine::open(config(dir.path())).unwrap();
    assert_eq!(row_count(&engine, "ruuvi", "sensors"), 100);
    let kept = std::fs::read(dir.path().join("damaged").join("wal-0.unfinished-entry")).unwrap();
    assert_eq!(kept, [200, 0, 0, 0, 1, 2, 3, 4, b'{', b'"']);
}

#[test]
fn a_directory_written_by_the_previous_release_opens_with_every_row_and_converts_at_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/datadir-0.1");
    for file in walk(&fixture) {
        let target = dir.path().join(file.strip_prefix(&fixture).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target).unwrap();
    }
    let rows = |engine: &Engine| -> Vec<String> {
        let mut rows: Vec<String> =
            engine.table_rows("ruuvi", "sensors").unwrap().iter().map(|r| format!("{r:?}")).collect();
        rows.sort();
        rows
    };
    // The engine's clock stands a minute after the fixture was written (2026-12-06 17:17 UTC),
    // so that its rows are as old as the test says, whatever the day it runs.
    let at_fixture = || EngineConfig { clock: Clock::manual(1_796_577_508_000_000_000), ..config(dir.path()) };
    let engine = Engine::open(at_fixture()).unwrap();
    let before = rows(&engine);
    // Six rows from the checkpoint (two of them in magnetic day files), one from the log.
    assert_eq!(before.len(), 7, "{before:#?}");
    assert!(before.iter().any(|r| r.contains("battery") && r.contains("version: Some(3)")), "{before:#?}");
    assert!(before.iter().any(|r| r.contains("Varchar(\"x2\")") && r.contains("Timestamp(")), "{before:#?}");
    let table = engine.describe_table("ruuvi", "sensors").unwrap();
    assert_eq!(table.schema.required_dimension(), Some("mac"));
    assert!(table.magnetic.enable_magnetic_store_writes);
    assert_eq!(engine.list_tags("arn:aws:timestream:us-east-1:000000000000:database/ruuvi").unwrap().len(), 1);

    // Converted on open: the old checkpoint is gone, its rows are in the log until tiered.
    assert!(!dir.path().join("checkpoints").exists());
    let stats = engine.checkpoint().unwrap().unwrap();
    assert_eq!(stats.tiered_rows, 2, "the rows older than a day went to the magnetic store");
    drop(engine);
    let files = walk(&dir.path().join("tables"));
    assert_eq!(files.iter().filter(|f| f.to_string_lossy().contains("tables/1/date=")).count(), 2, "{files:?}");
    let again = Engine::open(at_fixture()).unwrap();
    assert_eq!(rows(&again), before, "the same rows, from the log and the files");
}
