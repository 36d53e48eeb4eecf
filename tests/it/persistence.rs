//! Persistent mode: a restart restores exactly the acknowledged state, a torn log tail is
//! dropped, two engines cannot share a directory, and `kill -9` during concurrent writes loses
//! no acknowledged record.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ruuvistream::engine::catalog::{CreateDatabase, CreateTable, MagneticStoreWriteProperties, Retention};
use ruuvistream::engine::store::Measure;
use ruuvistream::engine::write::{MeasureInput, RecordInput};
use ruuvistream::engine::{Clock, Engine, EngineConfig, EngineThread, LocalTimestream};

/// One awsJson request over a fresh connection: (status, body).
fn post(addr: &str, op: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut conn = TcpStream::connect(addr)?;
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        conn,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: Timestream_20181101.{op}\r\n\
         Content-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    conn.read_to_string(&mut response)?;
    let status = response.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

fn config(dir: &Path) -> EngineConfig {
    EngineConfig { data_dir: Some(dir.to_path_buf()), ..Default::default() }
}

fn now_ms() -> i64 {
    Clock::System.now_ns() / 1_000_000
}

fn setup(addr: &str) {
    assert_eq!(post(addr, "CreateDatabase", r#"{"DatabaseName": "ruuvi"}"#).unwrap().0, 200);
    let table = r#"{"DatabaseName": "ruuvi", "TableName": "sensors",
        "RetentionProperties": {"MemoryStoreRetentionPeriodInHours": 24, "MagneticStoreRetentionPeriodInDays": 7}}"#;
    assert_eq!(post(addr, "CreateTable", table).unwrap().0, 200);
}

fn write_body(writer: usize, batch: usize, t0: i64) -> String {
    spread_body(writer, batch, t0, 1)
}

/// Twenty records of one writer, `step_ms` apart going back from `t0`.
fn spread_body(writer: usize, batch: usize, t0: i64, step_ms: i64) -> String {
    let records: Vec<String> = (0..20)
        .map(|i| {
            format!(
                r#"{{"MeasureName": "seq", "MeasureValue": "{}", "Time": "{}"}}"#,
                batch * 20 + i,
                t0 - (batch * 20 + i) as i64 * step_ms
            )
        })
        .collect();
    format!(
        r#"{{"DatabaseName": "ruuvi", "TableName": "sensors",
            "CommonAttributes": {{"Dimensions": [{{"Name": "writer", "Value": "w{writer}"}}]}},
            "Records": [{}]}}"#,
        records.join(",")
    )
}

/// (writer, value) of every row of ruuvi.sensors.
fn rows(engine: &Engine) -> BTreeSet<(String, i64)> {
    let rows = engine.table_rows("ruuvi", "sensors").expect("table restored and readable");
    rows.into_iter()
        .map(|r| {
            let v = match r.measure {
                Measure::Single(ruuvistream::engine::store::ScalarValue::Double(x)) => x as i64,
                other => panic!("{other:?}"),
            };
            (r.dimensions[0].1.clone(), v)
        })
        .collect()
}

#[tokio::test]
async fn a_clean_restart_restores_catalog_and_rows() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = now_ms();
    let engine = LocalTimestream::start(config(dir.path())).await.unwrap();
    let addr = engine.local_addr().to_string();
    tokio::task::spawn_blocking(move || {
        setup(&addr);
        assert_eq!(post(&addr, "WriteRecords", &write_body(0, 0, t0)).unwrap().0, 200);
        // An update with a higher version, and tags and a retention change in the catalog.
        let upsert = format!(
            r#"{{"DatabaseName": "ruuvi", "TableName": "sensors", "Records": [{{"Dimensions": [{{"Name": "writer", "Value": "w0"}}],
            "MeasureName": "seq", "MeasureValue": "100", "Time": "{t0}", "Version": 2}}]}}"#
        );
        assert_eq!(post(&addr, "WriteRecords", &upsert).unwrap().0, 200);
        let arn = "arn:aws:timestream:us-east-1:000000000000:database/ruuvi";
        let tag = format!(r#"{{"ResourceARN": "{arn}", "Tags": [{{"Key": "k", "Value": "v"}}]}}"#);
        assert_eq!(post(&addr, "TagResource", &tag).unwrap().0, 200);
    })
    .await
    .unwrap();
    let before = rows(engine.engine());
    assert_eq!(before.len(), 20);
    engine.shutdown().await;

    let again = LocalTimestream::start(config(dir.path())).await.unwrap();
    assert_eq!(rows(again.engine()), before);
    assert!(before.contains(&("w0".into(), 100)), "the upsert survived");
    let addr = again.local_addr().to_string();
    let (status, body) = tokio::task::spawn_blocking(move || {
        let arn = "arn:aws:timestream:us-east-1:000000000000:database/ruuvi";
        let tags = post(&addr, "ListTagsForResource", &format!(r#"{{"ResourceARN": "{arn}"}}"#)).unwrap();
        assert!(tags.1.contains(r#""Key":"k""#), "{}", tags.1);
        // The restored version still guards the identity.
        let stale = format!(
            r#"{{"DatabaseName": "ruuvi", "TableName": "sensors", "Records": [{{"Dimensions": [{{"Name": "writer", "Value": "w0"}}],
            "MeasureName": "seq", "MeasureValue": "7", "Time": "{t0}", "Version": 1}}]}}"#
        );
        post(&addr, "WriteRecords", &stale).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(status, 419);
    assert!(body.contains(r#""ExistingVersion":2"#), "{body}");
    again.shutdown().await;
}

#[tokio::test]
async fn a_torn_log_tail_is_dropped_and_a_shared_directory_refused() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = now_ms();
    let engine = LocalTimestream::start(config(dir.path())).await.unwrap();
    let addr = engine.local_addr().to_string();
    tokio::task::spawn_blocking(move || {
        setup(&addr);
        assert_eq!(post(&addr, "WriteRecords", &write_body(1, 0, t0)).unwrap().0, 200);
    })
    .await
    .unwrap();
    // A second engine on the same directory is refused while the first runs.
    let err = LocalTimestream::start(config(dir.path())).await.err().expect("refused");
    assert!(err.to_string().contains("in use"), "{err}");
    engine.shutdown().await;
    // A crash mid-append leaves a partial entry: it is dropped, the rest is kept.
    let log = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("wal-"))
        .expect("a write-ahead log");
    let mut wal = std::fs::OpenOptions::new().append(true).open(log).unwrap();
    wal.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, b'{', b'"']).unwrap();
    drop(wal);
    let again = LocalTimestream::start(config(dir.path())).await.unwrap();
    assert_eq!(rows(again.engine()).len(), 20);
    let addr = again.local_addr().to_string();
    tokio::task::spawn_blocking(move || {
        assert_eq!(post(&addr, "WriteRecords", &write_body(1, 1, t0)).unwrap().0, 200);
    })
    .await
    .unwrap();
    again.shutdown().await;
    let third = LocalTimestream::start(config(dir.path())).await.unwrap();
    assert_eq!(rows(third.engine()).len(), 40, "entries after the dropped tail are readable");
    third.shutdown().await;
}

#[test]
fn rows_age_into_daily_parquet_files_and_out_past_retention() {
    const NOW: i64 = 1_796_040_000_000_000_000; // 2026-11-30T12:00:00Z
    const HOUR: i64 = 3_600_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(NOW);
    let open = || Engine::open(EngineConfig { clock: clock.clone(), ..config(dir.path()) }).unwrap();
    let engine = open();
    create_sensors(&engine, 2, true);
    let ingested =
        engine.write_records("ruuvi", "sensors", &[record("0", NOW - HOUR / 2), record("1", NOW - 30 * HOUR)]);
    assert_eq!(ingested.map(|i| (i.memory, i.magnetic)).unwrap(), (1, 1));
    let files = || -> Vec<String> {
        let mut f: Vec<String> = walk(&dir.path().join("tables").join("1"))
            .iter()
            .map(|p| p.strip_prefix(dir.path().join("tables").join("1")).unwrap().to_string_lossy().into_owned())
            .collect();
        f.sort();
        f
    };
    // The row older than the memory window's hour goes to its day's file; the other stays.
    let stats = engine.checkpoint().unwrap().unwrap();
    assert_eq!((stats.tiered_rows, stats.files_written), (1, 1));
    assert_eq!(files(), ["date=2026-11-29/part-0.parquet", "manifest.json"]);
    assert_eq!(engine.row_count("ruuvi", "sensors").unwrap(), 2);
    // A magnetic write into that day: the day is loaded, and written back as one file.
    engine.write_records("ruuvi", "sensors", &[record("2", NOW - 30 * HOUR + 1)]).unwrap();
    assert_eq!(engine.row_count("ruuvi", "sensors").unwrap(), 3);
    // Two hours on, the memory row has aged into the magnetic store too.
    clock.advance(Duration::from_secs(2 * 3600));
    let stats = engine.checkpoint().unwrap().unwrap();
    assert_eq!((stats.tiered_rows, stats.files_written), (1, 2));
    assert_eq!(files(), ["date=2026-11-29/part-1.parquet", "date=2026-11-30/part-2.parquet", "manifest.json"]);
    // One more magnetic write, and a crash: the log has it.
    engine.write_records("ruuvi", "sensors", &[record("3", NOW - 29 * HOUR)]).unwrap();
    drop(engine);
    // What a pass cut short leaves (a file never listed, a manifest never put in place) is
    // not data: the next start removes it.
    let stray = dir.path().join("tables/1/date=2026-11-30/part-99.parquet");
    std::fs::write(&stray, b"PAR1 half a file").unwrap();
    std::fs::write(dir.path().join("tables/1/manifest.json.tmp"), b"{").unwrap();
    let restarted = open();
    assert_eq!(rows(&restarted).len(), 4, "restored from the files and the log");
    assert!(!stray.exists() && !dir.path().join("tables/1/manifest.json.tmp").exists());
    drop(restarted);
    // Past memory + magnetic retention everything goes, whole days at a time.
    let engine = open();
    clock.advance(Duration::from_secs(3 * 24 * 3600));
    let stats = engine.checkpoint().unwrap().unwrap();
    assert_eq!(stats.expired_rows, 4);
    assert_eq!(files(), ["manifest.json"]);
    drop(engine);
    assert!(rows(&open()).is_empty());
}

/// ruuvi.sensors, with one hour in the memory store, `magnetic_days` in the magnetic store
/// and, if asked, magnetic store writes.
fn create_sensors(engine: &Engine, magnetic_days: i64, magnetic_writes: bool) {
    engine.create_database(CreateDatabase { name: "ruuvi".into(), ..Default::default() }).unwrap();
    let table = CreateTable {
        database: "ruuvi".into(),
        name: "sensors".into(),
        retention: Some(Retention { memory_hours: 1, magnetic_days }),
        magnetic: magnetic_writes
            .then(|| MagneticStoreWriteProperties { enable_magnetic_store_writes: true, ..Default::default() }),
        ..Default::default()
    };
    engine.create_table(table).unwrap();
}

/// `SELECT count(*)` of ruuvi.sensors through the query operation, following NextTokens.
async fn count_rows(engine: &Arc<Engine>) -> ruuvistream::engine::ApiResult<i64> {
    use ruuvistream::engine::auth::Principal;
    use ruuvistream::engine::query::QueryRequest;
    let sql = "SELECT count(*) AS n FROM ruuvi.sensors";
    let mut token = None;
    loop {
        let request = QueryRequest { query_string: sql.into(), max_rows: None, next_token: token };
        let page: serde_json::Value =
            serde_json::from_str(&engine.query(request, &Principal::anyone()).await?).unwrap();
        match page.get("NextToken").and_then(|t| t.as_str()) {
            Some(next) => token = Some(next.to_string()),
            None => return Ok(page["Rows"][0]["Data"][0]["ScalarValue"].as_str().unwrap().parse().unwrap()),
        }
    }
}

/// A one-value record of writer w0 at `at` (ns).
fn record(value: &'static str, at: i64) -> RecordInput<'static> {
    RecordInput {
        dimensions: vec![("writer", "w0")],
        measure_name: "seq",
        value: MeasureInput::Single("DOUBLE", value),
        time_ns: at,
        time_unit_ns: 1,
        version: None,
    }
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

#[cfg(all(unix, feature = "cli"))]
#[test]
fn kill_9_during_concurrent_writes_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    // Frequent checkpoints, so that the kill can land during one.
    let args = ["--checkpoint-interval".as_ref(), "150ms".as_ref(), "--data-dir".as_ref(), dir.path().as_os_str()];
    let (mut child, addr) = crate::serve_process(&args);
    // A memory store of one hour and magnetic writes: the writers' records reach four hours
    // back, so that passes tier rows to day files and write back days taking magnetic writes
    // while the writes go on.
    assert_eq!(post(&addr, "CreateDatabase", r#"{"DatabaseName": "ruuvi"}"#).unwrap().0, 200);
    let table = r#"{"DatabaseName": "ruuvi", "TableName": "sensors",
        "RetentionProperties": {"MemoryStoreRetentionPeriodInHours": 1, "MagneticStoreRetentionPeriodInDays": 7},
        "MagneticStoreWriteProperties": {"EnableMagneticStoreWrites": true}}"#;
    assert_eq!(post(&addr, "CreateTable", table).unwrap().0, 200);
    let t0 = now_ms();
    let acked: Arc<Mutex<BTreeSet<(String, i64)>>> = Arc::default();
    let sent: Arc<Mutex<BTreeSet<(String, i64)>>> = Arc::default();
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let (addr, acked, sent) = (addr.clone(), acked.clone(), sent.clone());
            std::thread::spawn(move || {
                for batch in 0..10_000 {
                    let values: Vec<(String, i64)> =
                        (0..20).map(|i| (format!("w{w}"), (batch * 20 + i) as i64)).collect();
                    sent.lock().unwrap().extend(values.iter().cloned());
                    match post(&addr, "WriteRecords", &spread_body(w, batch, t0, 41_000)) {
                        Ok((200, _)) => acked.lock().unwrap().extend(values),
                        _ => return, // the engine is gone
                    }
                }
            })
        })
        .collect();
    // Let the writers get going through several checkpoints, then kill the engine without
    // warning.
    let started = Instant::now();
    while (acked.lock().unwrap().len() < 2000 || started.elapsed() < Duration::from_millis(800))
        && started.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    Command::new("kill").args(["-9", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap();
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let sent = sent.lock().unwrap().clone();
    assert!(acked.len() >= 2000, "{} acknowledged", acked.len());

    let tiered =
        walk(&dir.path().join("tables")).iter().filter(|p| p.extension().is_some_and(|e| e == "parquet")).count();
    assert!(tiered >= 1, "the engine tiered rows to files while it was being written to");
    let restored = Engine::open(config(dir.path())).unwrap();
    let rows = rows(&restored);
    let lost: Vec<_> = acked.difference(&rows).take(5).collect();
    assert!(
        lost.is_empty(),
        "acknowledged but lost: {lost:?} ({} of {})",
        acked.difference(&rows).count(),
        acked.len()
    );
    let invented: Vec<_> = rows.difference(&sent).take(5).collect();
    assert!(invented.is_empty(), "restored but never sent: {invented:?}");
}

#[test]
fn an_engine_thread_releases_its_directory_when_shut_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = EngineThread::start(config(dir.path())).unwrap();
    let addr = first.endpoint_url().trim_start_matches("http://").to_string();
    let (status, _) = post(&addr, "CreateDatabase", r#"{"DatabaseName":"kept"}"#).unwrap();
    assert_eq!(status, 200);
    let busy = EngineThread::start(config(dir.path())).unwrap_err();
    assert!(busy.to_string().contains("in use by another engine"), "{busy}");
    first.shutdown();
    assert!(first.engine().is_none() && !first.is_running());
    // The same directory opens again while `first` is still alive, with what it acknowledged.
    let second = EngineThread::start(config(dir.path())).unwrap();
    assert_eq!(second.engine().unwrap().describe_database("kept").unwrap().name, "kept");
}

#[test]
fn a_finished_days_hourly_files_are_merged_into_one() {
    const DAY: i64 = 1_795_996_800_000_000_000; // 2026-11-30T00:00:00Z
    const HOUR: i64 = 3_600_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(DAY + 2 * HOUR);
    let engine = Engine::open(EngineConfig { clock: clock.clone(), ..config(dir.path()) }).unwrap();
    create_sensors(&engine, 10, false);
    let day_files = || -> Vec<String> {
        let mut f: Vec<String> = walk(&dir.path().join("tables").join("1"))
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        f.sort();
        f
    };
    // Three passes an hour apart, each tiering the hour that left the memory window.
    for (i, value) in ["1", "2", "3"].into_iter().enumerate() {
        engine.write_records("ruuvi", "sensors", &[record(value, clock.now_ns() - HOUR / 2)]).unwrap();
        clock.advance(Duration::from_secs(3600));
        let stats = engine.checkpoint().unwrap().unwrap();
        assert_eq!(stats.tiered_rows, 1, "pass {i}");
    }
    assert_eq!(day_files(), ["part-0.parquet", "part-1.parquet", "part-2.parquet"]);
    // The next day the finished day's files become one, with every row.
    clock.advance(Duration::from_secs(24 * 3600));
    let stats = engine.checkpoint().unwrap().unwrap();
    assert_eq!(stats.days_compacted, 1);
    assert_eq!(day_files(), ["part-3.parquet"]);
    assert_eq!(rows(&engine).len(), 3);
    drop(engine);
    let again = Engine::open(EngineConfig { clock: clock.clone(), ..config(dir.path()) }).unwrap();
    assert_eq!(rows(&again).len(), 3);
}

/// Queries racing tiering passes that replace the files they planned to read (a magnetic write
/// makes each pass write its day back as a new file and delete the old one) all answer, with
/// every row: a query that finds a planned file gone runs again on a fresh snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_racing_passes_that_replace_their_files_all_answer() {
    const NOW: i64 = 1_796_040_000_000_000_000; // 2026-11-30T12:00:00Z
    const HOUR: i64 = 3_600_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(Engine::open(EngineConfig { clock: Clock::manual(NOW), ..config(dir.path()) }).unwrap());
    create_sensors(&engine, 10, true);
    // Three days of files.
    for day in 1..=3 {
        engine.write_records("ruuvi", "sensors", &[record("0", NOW - day * 24 * HOUR)]).unwrap();
    }
    engine.checkpoint().unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let passes = {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut written = 3;
            let deadline = Instant::now() + Duration::from_secs(4);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline {
                // Into each day: every pass writes the three days back as new files.
                for day in 1..=3 {
                    let at = NOW - day * 24 * HOUR + written;
                    engine.write_records("ruuvi", "sensors", &[record("1", at)]).unwrap();
                    written += 1;
                }
                engine.checkpoint().unwrap();
                // Passes far closer together than the engine's (a minute by default).
                std::thread::sleep(Duration::from_millis(50));
            }
            written
        })
    };
    let mut answered = 0;
    let mut last = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        let n = match count_rows(&engine).await {
            Ok(n) => n,
            Err(e) => panic!("query {answered} failed while files were replaced: {e:?}"),
        };
        assert!(n >= last, "rows never go missing: {n} after {last}");
        last = n;
        answered += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = passes.join().unwrap();
    assert!(answered > 10 && written > 30, "{answered} queries, {written} rows");
}

/// A data directory given as a relative path: queries find the magnetic store's files too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relative_data_directory_serves_its_files() {
    const NOW: i64 = 1_796_040_000_000_000_000; // 2026-11-30T12:00:00Z
    const HOUR: i64 = 3_600_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    // The same directory, relative to the working directory.
    let cwd = std::env::current_dir().unwrap();
    let up: std::path::PathBuf = cwd.components().skip(1).map(|_| "..").collect();
    let relative = up.join(dir.path().strip_prefix("/").unwrap());
    assert!(relative.is_relative());
    let engine = Arc::new(
        Engine::open(EngineConfig { clock: Clock::manual(NOW), data_dir: Some(relative), ..Default::default() })
            .unwrap(),
    );
    create_sensors(&engine, 10, true);
    engine.write_records("ruuvi", "sensors", &[record("1", NOW - 30 * HOUR), record("2", NOW - HOUR / 2)]).unwrap();
    assert_eq!(engine.checkpoint().unwrap().unwrap().files_written, 1);
    assert_eq!(count_rows(&engine).await.unwrap(), 2);
}
