//! The client against the engine over HTTP: batched writes with every rejection reported by
//! input row, admin calls, and Query results as Arrow (types, many pages, early drop).

use std::sync::Arc;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, TimestampNanosecondArray};
use ruuvistream::client::{Connect, Retention, Timestream, WriteOptions};
use ruuvistream::engine::{Clock, EngineConfig, LocalTimestream};
use ruuvistream::records::Mapping;
use ruuvistream::ruuvi::observations_to_batch;
use ruuvistream::ruuvi::simulator::{Simulator, SimulatorConfig};

/// 2026-11-30T12:00:00Z.
const NOW: i64 = 1_796_040_000_000_000_000;
const HOUR: i64 = 3_600_000_000_000;

async fn start() -> (LocalTimestream, Timestream) {
    let engine = LocalTimestream::start(EngineConfig { clock: Clock::manual(NOW), ..Default::default() })
        .await
        .expect("engine starts");
    let ts = Timestream::connect(&Connect::endpoint(engine.endpoint_url())).await.expect("connects");
    (engine, ts)
}

/// Two sensors for the hour before NOW, one reading every 10 s: 720 readings.
fn readings() -> RecordBatch {
    let sim = Simulator::new(SimulatorConfig {
        sensors: 2,
        start_ns: NOW - HOUR,
        duration: Duration::from_secs(3600),
        interval: Duration::from_secs(10),
        loss: 0.0,
        repeat: 0.0,
        ..Default::default()
    })
    .expect("simulator");
    observations_to_batch(&sim.observations(None).collect::<Vec<_>>()).expect("batch")
}

/// `batch` with column `name` replaced.
fn with_column(batch: &RecordBatch, name: &str, column: ArrayRef) -> RecordBatch {
    let i = batch.schema().index_of(name).expect("column");
    let mut columns = batch.columns().to_vec();
    columns[i] = column;
    RecordBatch::try_new(batch.schema(), columns).expect("same schema")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_in_several_batches_are_reported_by_input_row() {
    let (_engine, ts) = start().await;
    ts.create_database("ruuvi", false).await.expect("database");
    ts.create_table("ruuvi", "sensors", &Retention::parse("2h", "1d").expect("retention"), false).await.expect("table");
    let good = readings();
    let n = good.num_rows();
    // Rows without a MAC never become records; rows far in the past are refused by the service.
    let no_mac = [5usize, 333];
    let too_old = [0usize, 150, 151, 719];
    let macs: StringArray = (0..n)
        .map(|i| (!no_mac.contains(&i)).then(|| good.column_by_name("mac").unwrap().as_string::<i32>().value(i)))
        .collect();
    let times = good.column_by_name("time").unwrap().as_primitive::<TimestampNanosecondType>();
    let times: TimestampNanosecondArray = (0..n)
        .map(|i| Some(if too_old.contains(&i) { times.value(i) - 30 * HOUR } else { times.value(i) }))
        .collect::<TimestampNanosecondArray>()
        .with_timezone("UTC");
    let batch = with_column(&with_column(&good, "mac", Arc::new(macs)), "time", Arc::new(times));

    let progress = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = progress.clone();
    let options = WriteOptions {
        concurrency: 3,
        progress: Some(Arc::new(move |p| seen.lock().unwrap().push(p))),
        ..Default::default()
    };
    let report = ts.write("ruuvi", "sensors", &batch, &Mapping::default(), &options).await.expect("write");
    let rejected: Vec<usize> = report.rejected.iter().map(|r| r.row).collect();
    assert_eq!(rejected, [0, 5, 150, 151, 333, 719]);
    assert!(report.rejected[0].reason.contains("outside the time range"), "{:?}", report.rejected[0]);
    assert!(report.rejected[1].reason.contains("MAC"), "{:?}", report.rejected[1]);
    assert_eq!(report.records_ingested, n - 6);
    assert!(report.memory_store <= report.records_ingested);
    assert!(report.requests >= 8, "two series of ~360 records need at least 8 requests");
    let last = *progress.lock().unwrap().last().expect("progress was reported");
    assert_eq!((last.records_done, last.requests_done), (n - 2, report.requests));
    let r = ts.query("SELECT count(*) AS n FROM ruuvi.sensors WHERE measure_name = 'ruuvi'").await.unwrap();
    assert_eq!(r.batches[0].column(0).as_primitive::<Int64Type>().value(0) as usize, n - 6);

    // Writing the same readings again with one changed value: only that row is refused, with
    // the version already stored.
    let temps = good.column_by_name("temperature").unwrap().as_primitive::<Float64Type>();
    let changed: arrow_array::Float64Array =
        (0..n).map(|i| Some(temps.value(i) + if i == 42 { 1.0 } else { 0.0 })).collect();
    let again = with_column(&good, "temperature", Arc::new(changed));
    let report = ts.write("ruuvi", "sensors", &again, &Mapping::default(), &WriteOptions::default()).await.unwrap();
    assert_eq!(report.rejected.len(), 1);
    assert_eq!((report.rejected[0].row, report.rejected[0].existing_version), (42, Some(1)));
    assert_eq!(report.records_ingested, n - 1);

    // Single-measure records say which measure was refused.
    let report = ts.write("ruuvi", "sensors", &batch, &Mapping::single(), &WriteOptions::default()).await.unwrap();
    let old_rows: Vec<usize> = report.rejected.iter().map(|r| r.row).filter(|r| too_old.contains(r)).collect();
    assert!(old_rows.len() >= 4 * 5, "every measure of the old rows is refused");
    assert!(report.rejected.iter().any(|r| r.measure_name == "humidity"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_calls() {
    let (_engine, ts) = start().await;
    ts.create_database("abc", false).await.unwrap();
    ts.create_database("abc", true).await.expect("if_not_exists tolerates an existing database");
    let err = ts.create_database("abc", false).await.unwrap_err().to_string();
    assert!(err.contains("ConflictException"), "{err}");
    let mut retention = Retention::parse("90m", "3d").unwrap();
    ts.create_table("abc", "tbl", &retention, false).await.unwrap();
    let info = ts.describe_table("abc", "tbl").await.unwrap();
    assert_eq!((info.retention.memory.as_secs(), info.retention.magnetic.as_secs()), (2 * 3600, 3 * 86_400));
    retention.magnetic_writes = true;
    ts.update_table("abc", "tbl", &retention).await.unwrap();
    assert!(ts.describe_table("abc", "tbl").await.unwrap().retention.magnetic_writes);
    assert_eq!(ts.list_databases().await.unwrap(), ["abc"]);
    assert_eq!(ts.list_tables("abc").await.unwrap(), ["tbl"]);
    ts.delete_table("abc", "tbl").await.unwrap();
    ts.delete_database("abc").await.unwrap();
    let err = ts.describe_table("abc", "tbl").await.unwrap_err().to_string();
    assert!(err.contains("ResourceNotFoundException"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_results_keep_their_types() {
    let (_engine, ts) = start().await;
    ts.create_database("ruuvi", false).await.unwrap();
    ts.create_table("ruuvi", "sensors", &Retention::parse("2h", "1d").unwrap(), false).await.unwrap();
    let good = readings();
    ts.write(
        "ruuvi",
        "sensors",
        &good,
        &Mapping { time_unit: ruuvistream::records::TimeUnit::Nanoseconds, ..Default::default() },
        &WriteOptions::default(),
    )
    .await
    .unwrap();
    let r = ts
        .query("SELECT mac, time, temperature, movement_counter FROM ruuvi.sensors ORDER BY time, mac")
        .await
        .unwrap();
    let schema = r.schema.clone();
    assert_eq!(schema.field(1).data_type(), &ruuvistream::types::timestamp_type());
    assert_eq!(schema.field(3).data_type(), &arrow_schema::DataType::Int64);
    let rows = arrow_select_concat(&r.batches);
    // Times come back to the nanosecond, doubles bit for bit.
    let times = good.column_by_name("time").unwrap().as_primitive::<TimestampNanosecondType>();
    let mut expected: Vec<(i64, String)> = (0..good.num_rows())
        .map(|i| (times.value(i), good.column_by_name("mac").unwrap().as_string::<i32>().value(i).to_string()))
        .collect();
    expected.sort();
    let got_times = rows[1].as_primitive::<TimestampNanosecondType>();
    assert_eq!(got_times.len(), expected.len());
    assert!((0..expected.len()).all(|i| got_times.value(i) == expected[i].0));

    // Nullable integers stay integers; a time series is a list of (time, value) structs.
    let r = ts
        .query(
            "SELECT mac, CAST(NULL AS BIGINT) AS nothing, CREATE_TIME_SERIES(time, temperature) AS series \
             FROM ruuvi.sensors GROUP BY mac ORDER BY mac",
        )
        .await
        .unwrap();
    assert_eq!(r.num_rows(), 2);
    assert_eq!(r.batches[0].column(1).data_type(), &arrow_schema::DataType::Int64);
    assert_eq!(r.batches[0].column(1).null_count(), r.batches[0].num_rows());
    let series = r.batches[0].column(2).as_list::<i32>();
    assert_eq!(series.value(0).len(), 360);
}

/// The batches' columns, each as one array.
fn arrow_select_concat(batches: &[RecordBatch]) -> Vec<ArrayRef> {
    let n = batches[0].num_columns();
    (0..n)
        .map(|c| {
            let parts: Vec<&dyn Array> = batches.iter().map(|b| b.column(c).as_ref()).collect();
            datafusion::arrow::compute::concat(&parts).expect("same types")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_rows_over_many_pages_and_an_early_drop_cancels() {
    let (engine, ts) = start().await;
    // A million rows from two series within the 10,000-entry limit.
    let r = ts
        .query(
            "SELECT a.value * 1000 + b.value AS value FROM generate_series(0, 999) AS a(value) \
             CROSS JOIN generate_series(1, 1000) AS b(value)",
        )
        .await
        .unwrap();
    assert_eq!(r.num_rows(), 1_000_000);
    assert!(r.batches.len() >= 10, "about 1 MB per page");
    let sum: i64 = r.batches.iter().map(|b| b.column(0).as_primitive::<Int64Type>().values().iter().sum::<i64>()).sum();
    assert_eq!(sum, 500_000_500_000);

    let mut stream = ts.query_stream("SELECT value FROM generate_series(1, 10000) AS g(value)", Some(10));
    let first = stream.next_batch().await.expect("a batch").expect("no error");
    assert_eq!(first.num_rows(), 10);
    let id = stream.query_id().expect("known after the first page").to_string();
    let results = engine.engine().results();
    assert_eq!(results.is_cancelled(&id), Some(false));
    drop(stream);
    // The background task notices the drop once its page in flight arrives, then cancels.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while results.is_cancelled(&id) != Some(true) {
        assert!(std::time::Instant::now() < deadline, "dropping the stream did not cancel the query");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_column_arrives_with_its_type() {
    use arrow_array::types::{Date32Type, DurationNanosecondType, Int32Type};
    use arrow_schema::DataType;
    let (_engine, ts) = start().await;
    let r = ts
        .query(
            "SELECT CAST(7 AS INTEGER) AS i, CAST(NULL AS BIGINT) AS b, 1.5e-7 AS d, 'ä \"q\"' AS v, false AS t, \
             from_nanoseconds(1796040000123456789) AS ts, DATE '2022-05-21' AS dt, 1d + 1ns AS span, \
             ARRAY[1, NULL, 3] AS arr, named_struct('a', 1, 'b', 'x') AS r",
        )
        .await
        .unwrap();
    let b = &r.batches[0];
    let types: Vec<DataType> = b.schema().fields().iter().map(|f| f.data_type().clone()).collect();
    assert_eq!(types[0], DataType::Int32);
    assert_eq!(types[5], ruuvistream::types::timestamp_type());
    assert_eq!(types[6], DataType::Date32);
    assert!(matches!(types[8], DataType::List(_)) && matches!(types[9], DataType::Struct(_)), "{types:?}");
    assert_eq!(b.column(0).as_primitive::<Int32Type>().value(0), 7);
    assert!(b.column(1).is_null(0));
    assert_eq!(b.column(2).as_primitive::<Float64Type>().value(0), 1.5e-7);
    assert_eq!(b.column(3).as_string::<i32>().value(0), "ä \"q\"");
    assert!(!b.column(4).as_boolean().value(0));
    assert_eq!(b.column(5).as_primitive::<TimestampNanosecondType>().value(0), 1_796_040_000_123_456_789);
    assert_eq!(b.column(6).as_primitive::<Date32Type>().value(0), 19_133);
    assert_eq!(b.column(7).as_primitive::<DurationNanosecondType>().value(0), 86_400_000_000_001);
    let arr = b.column(8).as_list::<i32>().value(0);
    assert_eq!((arr.len(), arr.null_count()), (3, 1));
    let row = b.column(9).as_struct();
    assert_eq!(row.column(1).as_string::<i32>().value(0), "x");
}

/// A server that answers every request with a throttling or server error until `failures`
/// answers have been given, then accepts WriteRecords: the engine cannot be made to throttle,
/// so this is where the client's retries are seen.
async fn flaky_server(failures: usize) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = seen.clone();
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let counter = counter.clone();
        async move {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let json = [("content-type", "application/x-amz-json-1.0")];
            if n < failures {
                let (status, kind) = if n.is_multiple_of(2) {
                    (StatusCode::BAD_REQUEST, "ThrottlingException")
                } else {
                    (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerException")
                };
                let body =
                    format!("{{\"__type\":\"com.amazonaws.timestream.v20181101#{kind}\",\"message\":\"try again\"}}");
                return (status, [("x-amzn-errortype", kind)], json, body).into_response();
            }
            let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let records = request["Records"].as_array().map_or(0, Vec::len);
            let body = format!(
                "{{\"RecordsIngested\":{{\"Total\":{records},\"MemoryStore\":{records},\"MagneticStore\":0}}}}"
            );
            (StatusCode::OK, json, body).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_server_errors_are_retried() {
    let batch = readings().slice(0, 50);
    let (url, seen) = flaky_server(3).await;
    let ts = Timestream::connect(&Connect { max_attempts: 5, ..Connect::endpoint(url) }).await.unwrap();
    let report = ts.write("ruuvi", "sensors", &batch, &Mapping::default(), &WriteOptions::default()).await.unwrap();
    assert_eq!((report.records_ingested, report.rejected.len()), (50, 0));
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 3 + report.requests);
    // With fewer attempts than failures, a request's records are reported, not lost, and the
    // other requests go on: 300 readings of two sensors are three requests (100 of each, then
    // the 50 left of each together; one at a time here); the first four attempts fail, two per
    // request.
    let (url, _) = flaky_server(4).await;
    let ts = Timestream::connect(&Connect { max_attempts: 2, ..Connect::endpoint(url) }).await.unwrap();
    let batch = readings().slice(0, 300);
    let options = WriteOptions { concurrency: 1, ..Default::default() };
    let report = ts.write("ruuvi", "sensors", &batch, &Mapping::default(), &options).await.unwrap();
    assert_eq!(report.requests, 3);
    assert_eq!((report.records_ingested, report.rejected.len()), (100, 200));
    assert!(
        report.rejected.iter().all(|r| r.reason.starts_with("not written: ") && !r.reason.contains("WriteRecords")),
        "{:?}",
        report.rejected[0]
    );
}
