//! The tiered store over days of sensor data, scaled down from the year-long benchmark
//! (`make bench-scale`): written in time order through the client with the engine's clock
//! moving with the data, every rule checked functionally — memory bounded by the memory
//! retention, one file per finished day, every row answered by SQL from both tiers, and a
//! restart that replays only the memory window.

use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use ruuvistream::client::{Connect, Timestream, WriteOptions};
use ruuvistream::engine::catalog::{CreateDatabase, CreateTable, Retention};
use ruuvistream::engine::store::{date_of, day_of};
use ruuvistream::engine::write::{MeasureInput, RecordInput};
use ruuvistream::engine::{Clock, EngineConfig, LocalTimestream, QueryLimits};
use ruuvistream::records::Mapping;
use ruuvistream::ruuvi::observations_to_batch;
use ruuvistream::ruuvi::simulator::{Simulator, SimulatorConfig};

/// 2026-11-01T00:00:00Z.
const START: i64 = 1_793_491_200_000_000_000;
const HOUR: i64 = 3_600_000_000_000;
const SENSORS: usize = 4;
const DAYS: i64 = 3;

fn count(batches: &[arrow_array::RecordBatch]) -> i64 {
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn days_of_sensors_age_into_day_files_with_memory_bounded_and_every_row_answered() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(START);
    let with_recent = |recent_files: usize| EngineConfig {
        clock: clock.clone(),
        data_dir: Some(dir.path().to_path_buf()),
        checkpoint_interval: Duration::from_secs(3600),
        query: QueryLimits { recent_files, ..Default::default() },
        ..Default::default()
    };
    let config = || with_recent(64 << 20);
    let engine = LocalTimestream::start(config()).await.unwrap();
    engine.engine().create_database(CreateDatabase { name: "ruuvi".into(), ..Default::default() }).unwrap();
    let table = CreateTable {
        database: "ruuvi".into(),
        name: "sensors".into(),
        retention: Some(Retention { memory_hours: 2, magnetic_days: 30 }),
        ..Default::default()
    };
    engine.engine().create_table(table).unwrap();
    let ts = Timestream::connect(&Connect::endpoint(engine.endpoint_url())).await.unwrap();

    let per_hour = SENSORS as i64 * 60;
    let mut most_in_memory = 0;
    for hour in 0..DAYS * 24 {
        // The hour's readings, one a minute per sensor, written once the hour has passed.
        let sim = Simulator::new(SimulatorConfig {
            sensors: SENSORS,
            start_ns: START + hour * HOUR,
            duration: Duration::from_secs(3600),
            interval: Duration::from_secs(60),
            loss: 0.0,
            repeat: 0.0,
            ..Default::default()
        })
        .unwrap();
        let batch = observations_to_batch(&sim.observations(None).collect::<Vec<_>>()).unwrap();
        clock.set_ns(START + (hour + 1) * HOUR + 60_000_000_000);
        let report = ts.write("ruuvi", "sensors", &batch, &Mapping::default(), &WriteOptions::default()).await.unwrap();
        assert_eq!(report.records_ingested as i64, per_hour, "hour {hour}");
        engine.engine().checkpoint().unwrap();
        let in_memory = engine.engine().table_storage("ruuvi", "sensors").unwrap().memory_rows;
        most_in_memory = most_in_memory.max(in_memory as i64);
    }
    // Memory holds the memory retention, rounded to the hour, and the hour being written.
    assert!(most_in_memory <= 4 * per_hour, "{most_in_memory} rows in memory");

    // Every finished day is one file.
    let table_dir = dir.path().join("tables").join("1");
    for day in 0..DAYS - 1 {
        let date = date_of(day_of(START + day * 24 * HOUR));
        let files = std::fs::read_dir(table_dir.join(format!("date={date}"))).unwrap().count();
        assert_eq!(files, 1, "day {date}");
    }

    // SQL answers from both tiers, and the engine says where the rows are.
    let total = DAYS * 24 * per_hour;
    let storage = engine.engine().table_storage("ruuvi", "sensors").unwrap();
    assert_eq!((storage.memory_rows + storage.magnetic_rows) as i64, total, "{storage:?}");
    assert!(storage.days >= DAYS as usize - 1 && storage.files >= storage.days, "{storage:?}");
    let all = ts.query("SELECT count(*) FROM ruuvi.sensors").await.unwrap();
    assert_eq!(count(&all.batches), total);
    let macs = ts.query("SELECT DISTINCT mac FROM ruuvi.sensors ORDER BY mac").await.unwrap();
    let mac = macs.batches[0].column(0).as_string::<i32>().value(0).to_string();
    let day = format!(
        "SELECT count(*) FROM ruuvi.sensors WHERE mac = '{mac}' AND time >= from_nanoseconds({}) AND time < from_nanoseconds({})",
        START + 24 * HOUR,
        START + 48 * HOUR
    );
    assert_eq!(count(&ts.query(&day).await.unwrap().batches), 24 * 60);
    let daily = "SELECT mac, bin(time, 1d) AS day, count(*) AS n, avg(temperature) AS t FROM ruuvi.sensors \
                 GROUP BY mac, bin(time, 1d) ORDER BY mac, day";
    let daily = ts.query(daily).await.unwrap();
    let rows: usize = daily.batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, SENSORS * DAYS as usize);
    for b in &daily.batches {
        let n = b.column_by_name("n").unwrap().as_primitive::<Int64Type>();
        let t = b.column_by_name("t").unwrap().as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            assert_eq!(n.value(i), 24 * 60);
            assert!((-40.0..60.0).contains(&t.value(i)), "{}", t.value(i));
        }
    }

    // The files written are also held decoded, and queries read those copies. A column that
    // came later (a single-measure VARCHAR) is NULL in the older files' rows.
    assert_eq!(storage.decoded_files, storage.files, "{storage:?}");
    let late = RecordInput {
        dimensions: vec![("mac", "note-taker")],
        measure_name: "note",
        value: MeasureInput::Single("VARCHAR", "checked"),
        time_ns: START + DAYS * 24 * HOUR - 1,
        time_unit_ns: 1,
        version: None,
    };
    engine.engine().write_records("ruuvi", "sensors", &[late]).unwrap();
    let every_row = "SELECT * FROM ruuvi.sensors ORDER BY mac, time";
    let rows = |batches: Vec<arrow_array::RecordBatch>| {
        arrow_select::concat::concat_batches(&batches[0].schema(), &batches).unwrap()
    };
    let decoded = rows(ts.query(every_row).await.unwrap().batches);
    assert_eq!(decoded.num_rows() as i64, total + 1);
    assert!(decoded.column_by_name("measure_value::varchar").is_some());
    // Those answers came from the copies: with a day's file moved away, the day still answers.
    let first_day = table_dir.join(format!("date={}", date_of(day_of(START))));
    let file = std::fs::read_dir(&first_day).unwrap().next().unwrap().unwrap().path();
    let aside = dir.path().join("aside.parquet");
    std::fs::rename(&file, &aside).unwrap();
    assert_eq!(rows(ts.query(every_row).await.unwrap().batches), decoded);
    std::fs::rename(&aside, &file).unwrap();

    // A restart replays only what is not in files yet, and answers the same: from the files
    // alone (no decoded copies), and once the copies are read back in the background.
    engine.shutdown().await;
    let files_only = LocalTimestream::start(with_recent(0)).await.unwrap();
    let ts = Timestream::connect(&Connect::endpoint(files_only.endpoint_url())).await.unwrap();
    assert_eq!(files_only.engine().table_storage("ruuvi", "sensors").unwrap().decoded_files, 0);
    assert_eq!(rows(ts.query(every_row).await.unwrap().batches), decoded);
    files_only.shutdown().await;
    let again = LocalTimestream::start(config()).await.unwrap();
    let in_memory = again.engine().table_storage("ruuvi", "sensors").unwrap().memory_rows;
    assert!(in_memory as i64 <= 4 * per_hour, "{in_memory} rows replayed into memory");
    let waited = std::time::Instant::now();
    loop {
        let storage = again.engine().table_storage("ruuvi", "sensors").unwrap();
        if storage.decoded_files == storage.files {
            break;
        }
        assert!(waited.elapsed() < Duration::from_secs(60), "the copies were not read back: {storage:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ts = Timestream::connect(&Connect::endpoint(again.endpoint_url())).await.unwrap();
    assert_eq!(count(&ts.query("SELECT count(*) FROM ruuvi.sensors").await.unwrap().batches), total + 1);
    assert_eq!(rows(ts.query(every_row).await.unwrap().batches), decoded);
    again.shutdown().await;
}
