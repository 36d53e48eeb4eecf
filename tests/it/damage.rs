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
use ruuvistream::engine::store::{RECOVERED_DATABASE, repair};
use ruuvistream::engine::{Clock, Engine, EngineConfig};

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

/// The one checkpoint directory under `dir`.
fn current_checkpoint(dir: &Path) -> PathBuf {
    let mut found: Vec<PathBuf> =
        std::fs::read_dir(dir.join("checkpoints")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

fn checkpoint_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        walk(&dir.join("checkpoints")).into_iter().filter(|p| p.extension().is_some_and(|e| e == "parquet")).collect();
    files.sort();
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

#[test]
fn a_damaged_or_missing_checkpoint_file_is_named_and_repair_reports_its_rows_as_lost() {
    let dir = tempfile::tempdir().unwrap();
    write_and_stop(dir.path(), 30, true);
    let files = checkpoint_files(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    let len = std::fs::metadata(file).unwrap().len() as usize;
    flip_bit(file, len / 3);

    let message = damage(dir.path());
    assert!(message.contains(&file.display().to_string()) && message.contains("checksum"), "{message}");

    std::fs::remove_file(file).unwrap();
    let message = damage(dir.path());
    assert!(message.contains("is missing"), "{message}");

    let report = repair(dir.path(), "us-east-1", "000000000000", Clock::System.now_ns()).unwrap();
    assert_eq!((report.rows_kept, report.rows_lost), (0, 600), "{report}");
    let engine = Engine::open(config(dir.path())).unwrap();
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
    assert!(report.to_string().contains("writes since the last checkpoint are lost"), "{report}");
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
fn a_directory_written_before_checksums_opens_and_gains_them_at_its_next_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    write_and_stop(dir.path(), 10, true);
    // As the previous release wrote it: no manifest, and a catalog that does not mention one.
    let ckpt = current_checkpoint(dir.path());
    std::fs::remove_file(ckpt.join("MANIFEST.json")).unwrap();
    let catalog = dir.path().join("catalog.json");
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&catalog).unwrap()).unwrap();
    json.as_object_mut().unwrap().remove("manifests");
    // Its tables kept the settings as the JSON they were given, with two derived fields.
    let table = &mut json["databases"]["ruuvi"]["tables"]["sensors"];
    table["magnetic_writes"] = serde_json::json!(false);
    table["required_dimension"] = serde_json::json!("sensor");
    table["magnetic_properties"] = serde_json::json!({"EnableMagneticStoreWrites": false,
        "MagneticStoreRejectedDataLocation": {"S3Configuration": {"BucketName": "rejects", "Other": 1}}});
    table["schema"] = serde_json::json!({"CompositePartitionKey":
        [{"Type": "DIMENSION", "Name": "sensor", "EnforcementInRecord": "REQUIRED"}]});
    std::fs::write(&catalog, serde_json::to_vec(&json).unwrap()).unwrap();

    let engine = Engine::open(config(dir.path())).unwrap();
    assert_eq!(row_count(&engine, "ruuvi", "sensors"), 200);
    let described = engine.describe_table("ruuvi", "sensors").unwrap();
    assert_eq!(described.schema.required_dimension(), Some("sensor"));
    let location = described.magnetic.magnetic_store_rejected_data_location.and_then(|l| l.s3_configuration);
    assert_eq!(location.and_then(|s3| s3.bucket_name).as_deref(), Some("rejects"));
    engine.checkpoint().unwrap();
    drop(engine);
    let ckpt = current_checkpoint(dir.path());
    assert!(ckpt.join("MANIFEST.json").is_file());
    // From now on a missing manifest is damage.
    std::fs::remove_file(ckpt.join("MANIFEST.json")).unwrap();
    assert!(damage(dir.path()).contains("MANIFEST.json is missing"));
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
        let c = engine.catalog();
        let data = c.table("ruuvi", "sensors").unwrap().data();
        data.rows().map(|(d, m, t, r)| format!("{d:?} {m} {t} {r:?}")).collect()
    };
    let engine = Engine::open(config(dir.path())).unwrap();
    let before = rows(&engine);
    // Six rows from the checkpoint (two of them in magnetic day files), one from the log.
    assert_eq!(before.len(), 7, "{before:#?}");
    assert!(before.iter().any(|r| r.contains("battery") && r.contains("version: 3")), "{before:#?}");
    assert!(before.iter().any(|r| r.contains("Varchar(\"x2\")") && r.contains("Timestamp(")), "{before:#?}");
    let table = engine.describe_table("ruuvi", "sensors").unwrap();
    assert_eq!(table.schema.required_dimension(), Some("mac"));
    assert!(table.magnetic.enable_magnetic_store_writes);
    assert_eq!(engine.list_tags("arn:aws:timestream:us-east-1:000000000000:database/ruuvi").unwrap().len(), 1);

    engine.checkpoint().unwrap();
    drop(engine);
    let files = walk(&dir.path().join("checkpoints"));
    assert!(files.iter().any(|f| f.ends_with("memory/1.parquet")), "{files:?}");
    assert!(files.iter().any(|f| f.to_string_lossy().contains("tables/1/date=")), "{files:?}");
    assert!(!files.iter().any(|f| f.file_name().unwrap().to_string_lossy().starts_with("t1-")), "{files:?}");
    let again = Engine::open(config(dir.path())).unwrap();
    assert_eq!(rows(&again), before, "the converted files hold the same rows");
}
