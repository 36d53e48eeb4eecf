//! A year of sensor data through the engine, as `make bench-scale` runs it: 100 sensors at one
//! MULTI reading (11 measures, 3 dimensions) a minute, written in time order through the AWS SDK
//! for Rust into a persistent engine (memory retention 24 h, magnetic 2 years) whose manual clock
//! advances with the data, while tiering passes run beside the writes.
//!
//! It prints and writes to `<dir>/results.json`: the ingest rate per month, WriteRecords
//! latency (p50/p99) while a pass runs and while none does, resident memory, the directory's
//! size, the restart time, and query times (one sensor's day, daily averages per sensor over
//! the year, the walkthrough's three query shapes over the last week, the last against an
//! engine holding only that week in memory). `benches/compare_scale.py` then runs DuckDB on
//! the same files. Before the writes it measures the client alone (as `SCALE_NULL_ENGINE=1`
//! does, four days) and reports the ingest rate as a share of it, which carries across machines
//! of different speed.
//!
//! Settings (environment): `SCALE_DIR` (default `out/bench-scale`), `SCALE_DAYS` (365),
//! `SCALE_SENSORS` (100), `SCALE_PASSES_NICE=0` (the passes at the writes' priority, to compare
//! with the lower one the engine gives them). With `SCALE_NULL_ENGINE=1` the same writes go
//! instead to an HTTP server that reads each request and answers success without doing anything,
//! which measures
//! what the client alone can send on this machine (the ceiling of the ingest figure while
//! client and engine share its cores). With `SCALE_QUERY_ONLY=1` it skips the writes and runs
//! only the query phase, `SCALE_REPEAT` times (default 5), on the directory a full run left
//! (with the same `SCALE_DIR`, `SCALE_DAYS` and `SCALE_SENSORS`), printing each round (the
//! two engines taking turns at going first) and then each shape's median and range over the
//! rounds, year against week.

#![allow(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_timestreamquery::Client as QueryClient;
use aws_sdk_timestreamwrite::Client;
use aws_sdk_timestreamwrite::config::{Credentials, Region};
use aws_sdk_timestreamwrite::types::{
    Dimension, MeasureValue, MeasureValueType, Record, RetentionProperties, TimeUnit,
};
use ruuvistream::engine::{Clock, EngineConfig, LocalTimestream, QueryLimits};
use serde_json::json;

mod common;
use common::{env_or, resident_mib};

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
/// 2025-12-01T00:00:00Z: the year runs to 2026-12-01.
const START_MS: i64 = 1_764_547_200_000;
const IN_FLIGHT: usize = 8;

fn mac(sensor: usize) -> String {
    format!("C2:4A:52:{:02X}:{:02X}:{:02X}", sensor / 65536 % 256, sensor / 256 % 256, sensor % 256)
}

fn mv(name: &str, value: String, ty: MeasureValueType) -> MeasureValue {
    MeasureValue::builder().name(name).value(value).r#type(ty).build().expect("complete")
}

/// One minute's readings: one MULTI record per sensor, its values following a daily cycle.
fn minute(t_ms: i64, sensors: usize) -> Vec<Record> {
    let day = (t_ms % DAY_MS) as f64 / DAY_MS as f64 * std::f64::consts::TAU;
    let n = t_ms / MINUTE_MS;
    (0..sensors)
        .map(|s| {
            let f = s as f64;
            let temp = 18.0 + f % 7.0 + 3.0 * (day + f).sin();
            let r = |x: f64| format!("{:.2}", x);
            Record::builder()
                .dimensions(Dimension::builder().name("mac").value(mac(s)).build().expect("complete"))
                .dimensions(
                    Dimension::builder().name("location").value(format!("room-{}", s % 25)).build().expect("complete"),
                )
                .dimensions(
                    Dimension::builder().name("site").value(format!("site-{}", s / 25)).build().expect("complete"),
                )
                .measure_name("ruuvi")
                .measure_value_type(MeasureValueType::Multi)
                .measure_values(mv("temperature", r(temp), MeasureValueType::Double))
                .measure_values(mv("humidity", r(45.0 + 10.0 * (day + f / 3.0).cos()), MeasureValueType::Double))
                .measure_values(mv("pressure", r(1005.0 + 8.0 * (n as f64 / 4000.0).sin()), MeasureValueType::Double))
                .measure_values(mv("acceleration_x", r(0.004 * (n % 5) as f64), MeasureValueType::Double))
                .measure_values(mv("acceleration_y", r(-0.02), MeasureValueType::Double))
                .measure_values(mv("acceleration_z", r(1.036), MeasureValueType::Double))
                .measure_values(mv("battery_voltage", r(3.0 - n as f64 / 2.0e6), MeasureValueType::Double))
                .measure_values(mv("tx_power", "4".into(), MeasureValueType::Bigint))
                .measure_values(mv(
                    "movement_counter",
                    ((n / 97 + s as i64) % 256).to_string(),
                    MeasureValueType::Bigint,
                ))
                .measure_values(mv(
                    "measurement_sequence",
                    ((n + s as i64) % 65536).to_string(),
                    MeasureValueType::Bigint,
                ))
                .measure_values(mv("rssi", (-60 - (s % 30) as i64).to_string(), MeasureValueType::Bigint))
                .time(t_ms.to_string())
                .time_unit(TimeUnit::Milliseconds)
                .build()
        })
        .collect()
}

async fn start(dir: &Path, clock: Clock) -> LocalTimestream {
    let config = EngineConfig {
        data_dir: Some(dir.to_path_buf()),
        clock,
        // The bench runs the passes itself, to know when they run.
        checkpoint_interval: Duration::from_secs(3600),
        query: QueryLimits {
            recent_files: std::env::var("SCALE_RECENT_MIB")
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .map_or(QueryLimits::default().recent_files, |mib| mib << 20),
            ..Default::default()
        },
        ..Default::default()
    };
    LocalTimestream::start(config).await.expect("engine starts")
}

/// One sensor's day from the middle of the data.
fn one_day(days: usize, sensors: usize) -> String {
    let mid = START_MS + (days as i64 / 2) * DAY_MS;
    format!(
        "SELECT time, temperature, humidity, pressure FROM ruuvi.sensors WHERE mac = '{}' AND time >= \
         from_milliseconds({mid}) AND time < from_milliseconds({}) ORDER BY time",
        mac(sensors / 2),
        mid + DAY_MS
    )
}

/// Daily averages per sensor over all the data.
const DAILY: &str =
    "SELECT mac, bin(time, 1d) AS day, avg(temperature) AS t FROM ruuvi.sensors GROUP BY mac, bin(time, 1d)";

/// Waits until the restarted engine has read the newest files back into memory (the count of
/// decoded files has not changed for a second): the time it took and the files read.
fn read_back(engine: &LocalTimestream) -> (f64, usize) {
    let t = Instant::now();
    let decoded = || engine.engine().table_storage("ruuvi", "sensors").expect("table").decoded_files;
    let (mut last, mut since) = (decoded(), Instant::now());
    while since.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(20));
        let now = decoded();
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
    ((since - t).as_secs_f64() * 1000.0, last)
}

async fn clients(url: &str) -> (Client, QueryClient) {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("local", "local", None, None, "bench"))
        .load()
        .await;
    (Client::new(&conf), QueryClient::new(&conf))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    percentile_of(&sorted.iter().map(|d| d.as_secs_f64() * 1000.0).collect::<Vec<_>>(), p)
}

/// The `p` quantile of sorted values (NaN if there are none).
fn percentile_of(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// CPU time this process has used (user and system), from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: f64 = rest.split_whitespace().skip(11).take(2).filter_map(|v| v.parse::<f64>().ok()).sum();
    ticks / 100.0
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() { dir_bytes(&p) } else { e.metadata().map_or(0, |m| m.len()) }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Runs `sql` to its last page; the median of `runs` wall times in ms, and the rows.
async fn timed(q: &QueryClient, sql: &str, runs: usize) -> (f64, usize) {
    let mut times = Vec::new();
    let mut rows = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let mut token: Option<String> = None;
        rows = 0;
        loop {
            let page = q.query().query_string(sql).set_next_token(token.clone()).send().await.expect("query");
            rows += page.rows().len();
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        times.push(t.elapsed());
    }
    times.sort();
    (times[times.len() / 2].as_secs_f64() * 1000.0, rows)
}

/// The walkthrough's three query shapes, on the MULTI table, over the week before `end_ms`.
fn walkthrough(end_ms: i64) -> Vec<(&'static str, String)> {
    let ts = |ms: i64| format!("from_milliseconds({ms})");
    let (week, end) = (ts(end_ms - 7 * DAY_MS), ts(end_ms));
    vec![
        (
            "interpolation per location",
            format!(
                "SELECT location, INTERPOLATE_LINEAR(CREATE_TIME_SERIES(time, temperature), \
                 SEQUENCE({week}, {end}, 1h)) AS v FROM ruuvi.sensors \
                 WHERE time BETWEEN {week} AND {end} GROUP BY location ORDER BY location"
            ),
        ),
        (
            "binned averages of one location",
            format!(
                "SELECT bin(time, 10m) AS binned_time, avg(temperature) AS avg_temp, avg(humidity) AS avg_humidity, \
                 avg(pressure) AS avg_pressure FROM ruuvi.sensors WHERE time BETWEEN {week} AND {end} \
                 AND location = 'room-3' GROUP BY bin(time, 10m) ORDER BY bin(time, 10m)"
            ),
        ),
        (
            "interpolate, unnest and average",
            format!(
                "WITH interp_ts AS (SELECT location, INTERPOLATE_LINEAR(CREATE_TIME_SERIES(time, temperature), \
                 SEQUENCE({week}, {end}, 1h)) AS temp FROM ruuvi.sensors WHERE time BETWEEN {week} AND {end} \
                 GROUP BY location) SELECT location, avg(t.temp_unnest) FROM interp_ts \
                 CROSS JOIN UNNEST(temp) AS t (time, temp_unnest) GROUP BY location ORDER BY location"
            ),
        ),
    ]
}

/// ruuvi.sensors, keeping `memory_hours` in the memory store and two years in the magnetic.
async fn create(w: &Client, memory_hours: i64) {
    w.create_database().database_name("ruuvi").send().await.expect("database");
    let retention = RetentionProperties::builder()
        .memory_store_retention_period_in_hours(memory_hours)
        .magnetic_store_retention_period_in_days(730)
        .build()
        .expect("complete");
    w.create_table()
        .database_name("ruuvi")
        .table_name("sensors")
        .retention_properties(retention)
        .send()
        .await
        .expect("table");
}

/// Writes `[from, to)` minute by minute, `in_flight` requests at a time (each built and sent
/// by its own task, the next starting as one finishes), the clock set to the end of each hour
/// before its minutes are sent (requests of the hour before may still be in flight: they are
/// well inside the memory retention); returns (sent at, latency) per request.
async fn ingest(w: &Client, clock: &Clock, from: i64, to: i64, sensors: usize) -> Vec<(Instant, Duration)> {
    let mut latencies = Vec::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(env_or("SCALE_IN_FLIGHT", IN_FLIGHT)));
    let mut tasks = tokio::task::JoinSet::new();
    for t in (from..to).step_by(MINUTE_MS as usize) {
        if (t - from) % 3_600_000 == 0 {
            clock.set_ns((t + 3_600_000).min(to) * 1_000_000);
        }
        let slot = slots.clone().acquire_owned().await.expect("semaphore");
        while let Some(done) = tasks.try_join_next() {
            latencies.push(done.expect("task"));
        }
        let w = w.clone();
        tasks.spawn(async move {
            let records = minute(t, sensors);
            let sent = Instant::now();
            let out =
                w.write_records().database_name("ruuvi").table_name("sensors").set_records(Some(records)).send().await;
            out.expect("write");
            drop(slot);
            (sent, sent.elapsed())
        });
    }
    while let Some(done) = tasks.join_next().await {
        latencies.push(done.expect("task"));
    }
    latencies
}

/// A server that reads every request and answers WriteRecords' success (a DescribeEndpoints
/// with itself), doing no work: what the client can send when the engine costs nothing.
async fn null_engine() -> String {
    use axum::http::HeaderMap;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let app = axum::Router::new().fallback(move |headers: HeaderMap, _body: axum::body::Bytes| async move {
        let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let answer = if target.ends_with("DescribeEndpoints") {
            json!({"Endpoints": [{"Address": address.to_string(), "CachePeriodInMinutes": 1440}]})
        } else {
            json!({"RecordsIngested": {"Total": 100, "MemoryStore": 100, "MagneticStore": 0}})
        };
        ([("content-type", "application/x-amz-json-1.0")], answer.to_string())
    });
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{address}")
}

/// An engine in memory holding only the week before `end_ms` (the walkthrough's shapes are
/// compared against it), with its query client.
async fn week_in_memory(end_ms: i64, sensors: usize) -> (LocalTimestream, QueryClient) {
    let clock = Clock::manual(end_ms * 1_000_000);
    let engine = LocalTimestream::start(EngineConfig { clock: clock.clone(), ..Default::default() }).await;
    let engine = engine.expect("engine starts");
    let (w, q) = clients(&engine.endpoint_url()).await;
    create(&w, 8 * 24).await;
    ingest(&w, &clock, end_ms - 7 * DAY_MS, end_ms, sensors).await;
    (engine, q)
}

/// The query phase alone, `rounds` times, on the directory of an earlier full run: the
/// walkthrough's shapes on the year and on the week in memory, one line per round.
fn queries_only(data: &Path, days: usize, sensors: usize, rounds: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let end_ms = START_MS + days as i64 * DAY_MS;
    let clock = Clock::manual((end_ms + 2 * DAY_MS) * 1_000_000);
    let engine = rt.block_on(start(data, clock));
    let (read_back_ms, decoded_files) = read_back(&engine);
    println!("newest {decoded_files} files read back into memory in {read_back_ms:.0} ms");
    let (_, q) = rt.block_on(clients(&engine.endpoint_url()));
    let (memory_engine, mq) = rt.block_on(week_in_memory(end_ms, sensors));
    // Per shape, the year's and the week's times of every round, for the medians at the end.
    let mut times: Vec<(Vec<f64>, Vec<f64>)> = vec![Default::default(); walkthrough(end_ms).len()];
    let (mut days_ms, mut daily_ms) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let mut line = format!("round {round}:");
        for (i, (name, sql)) in walkthrough(end_ms).into_iter().enumerate() {
            // The two engines alternate in which goes first, so that neither always runs warm.
            let (year, week) = if round % 2 == 1 {
                let year = rt.block_on(timed(&q, &sql, 3)).0;
                (year, rt.block_on(timed(&mq, &sql, 3)).0)
            } else {
                let week = rt.block_on(timed(&mq, &sql, 3)).0;
                (rt.block_on(timed(&q, &sql, 3)).0, week)
            };
            times[i].0.push(year);
            times[i].1.push(week);
            line += &format!("  {name}: {year:.1} / {week:.1} ms");
        }
        let (day, _) = rt.block_on(timed(&q, &one_day(days, sensors), 5));
        let (daily, _) = rt.block_on(timed(&q, DAILY, 3));
        days_ms.push(day);
        daily_ms.push(daily);
        line += &format!("  one sensor's day: {day:.1} ms  daily averages: {daily:.0} ms");
        println!("{line}");
    }
    // Sorts `v` and gives its median with its range.
    let spread = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        format!("{:.1} ms ({:.1}-{:.1})", percentile_of(v, 0.5), v[0], v[v.len() - 1])
    };
    println!("medians of {rounds} rounds (min-max), year on disk / the week in memory:");
    for ((name, _), (year, week)) in walkthrough(end_ms).iter().zip(&mut times) {
        let (year_text, week_text) = (spread(year), spread(week));
        let ratio = percentile_of(year, 0.5) / percentile_of(week, 0.5);
        println!("  {name}: {year_text} / {week_text}: {ratio:.2}");
    }
    println!("  one sensor's day: {}; daily averages: {}", spread(&mut days_ms), spread(&mut daily_ms));
    rt.block_on(engine.shutdown());
    rt.block_on(memory_engine.shutdown());
}

/// The client alone: four days (at most `days`) of the same writes to [`null_engine`], as
/// (records/s, cores busy). The ingest figure's ceiling on this machine, measured in the same
/// run so that the two compare on one machine's speed.
fn client_alone(rt: &tokio::runtime::Runtime, days: usize, sensors: usize) -> (f64, f64) {
    let days = days.min(4);
    let url = rt.block_on(null_engine());
    let (w, _) = rt.block_on(clients(&url));
    let clock = Clock::manual(START_MS * 1_000_000);
    let (t, cpu) = (Instant::now(), cpu_seconds());
    rt.block_on(ingest(&w, &clock, START_MS, START_MS + days as i64 * DAY_MS, sensors));
    let (rows, s) = ((days as i64 * DAY_MS / MINUTE_MS) as f64 * sensors as f64, t.elapsed().as_secs_f64());
    (rows / s, (cpu_seconds() - cpu) / s)
}

fn main() {
    if std::env::var("SCALE_NULL_ENGINE").is_ok_and(|v| v == "1") {
        let (days, sensors) = (env_or("SCALE_DAYS", 4), env_or("SCALE_SENSORS", 100));
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
        let (rate, cores) = client_alone(&rt, days, sensors);
        println!("{{\"null_engine_records_per_second\": {rate:.0}, \"cores_busy\": {cores:.2}}}");
        return;
    }
    let dir = PathBuf::from(std::env::var("SCALE_DIR").unwrap_or_else(|_| "out/bench-scale".into()));
    let (days, sensors) = (env_or("SCALE_DAYS", 365), env_or("SCALE_SENSORS", 100));
    let data = dir.join("data");
    if std::env::var("SCALE_QUERY_ONLY").is_ok_and(|v| v == "1") {
        return queries_only(&data, days, sensors, env_or("SCALE_REPEAT", 5));
    }
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).expect("directory");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let (alone, alone_cores) = client_alone(&rt, days, sensors);
    println!("the client alone: {alone:.0} records/s ({alone_cores:.2} cores busy)");
    let end_ms = START_MS + days as i64 * DAY_MS;
    let clock = Clock::manual(START_MS * 1_000_000);
    let engine = rt.block_on(start(&data, clock.clone()));
    let (w, _) = rt.block_on(clients(&engine.endpoint_url()));
    rt.block_on(create(&w, 24));

    // Passes beside the writes, one a second (as --checkpoint-interval 1s would), each timed,
    // at the lower priority the engine's own pass thread takes (unless SCALE_PASSES_NICE=0).
    let nice = std::env::var("SCALE_PASSES_NICE").map_or(true, |v| v != "0");
    let stop = Arc::new(AtomicBool::new(false));
    let passes: Arc<Mutex<Vec<(Instant, Instant)>>> = Arc::default();
    let tiering = {
        let (e, stop, passes) = (engine.engine().clone(), stop.clone(), passes.clone());
        std::thread::spawn(move || {
            if nice {
                ruuvistream::engine::lower_thread_priority();
            }
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_secs(1));
                let t = Instant::now();
                e.checkpoint().expect("pass");
                passes.lock().expect("passes").push((t, Instant::now()));
            }
        })
    };
    let (started, cpu) = (Instant::now(), cpu_seconds());
    let mut months = Vec::new();
    let mut latencies = Vec::new();
    let mut from = START_MS;
    // Twelve equal months (whole minutes), so that the first and the last compare.
    let month_ms = ((end_ms - START_MS) / 12 / MINUTE_MS).max(1) * MINUTE_MS;
    while from < end_ms {
        let to = if months.len() == 11 { end_ms } else { (from + month_ms).min(end_ms) };
        let t = Instant::now();
        latencies.extend(rt.block_on(ingest(&w, &clock, from, to, sensors)));
        let rows = ((to - from) / MINUTE_MS) as f64 * sensors as f64;
        let rate = rows / t.elapsed().as_secs_f64();
        println!("month {:2}: {rate:>9.0} records/s, resident {:.0} MiB", months.len() + 1, resident_mib().0);
        months.push(rate);
        from = to;
    }
    let ingest_s = started.elapsed().as_secs_f64();
    let ingest_cores = (cpu_seconds() - cpu) / ingest_s;
    stop.store(true, Ordering::Relaxed);
    tiering.join().expect("tiering thread");
    let total_rows = ((end_ms - START_MS) / MINUTE_MS) as f64 * sensors as f64;
    let passes = passes.lock().expect("passes").clone();
    let (mut busy, mut idle): (Vec<Duration>, Vec<Duration>) = (Vec::new(), Vec::new());
    for (sent, lat) in &latencies {
        let done = *sent + *lat;
        if passes.iter().any(|(a, b)| *a < done && *sent < *b) { busy.push(*lat) } else { idle.push(*lat) }
    }
    busy.sort();
    idle.sort();
    let (rss, peak) = resident_mib();

    // Every row into the files: two days on, a last pass.
    clock.set_ns((end_ms + 2 * DAY_MS) * 1_000_000);
    engine.engine().checkpoint().expect("last pass");
    rt.block_on(engine.shutdown());
    let disk = dir_bytes(&data);
    let parquet: u64 = dir_bytes(&data.join("tables"));

    // Restart, and the queries.
    let t = Instant::now();
    let engine = rt.block_on(start(&data, clock.clone()));
    let restart_ms = t.elapsed().as_secs_f64() * 1000.0;
    let (read_back_ms, decoded_files) = read_back(&engine);
    let (_, q) = rt.block_on(clients(&engine.endpoint_url()));
    let (sensor_day_ms, sensor_day_rows) = rt.block_on(timed(&q, &one_day(days, sensors), 5));
    let (daily_ms, daily_rows) = rt.block_on(timed(&q, DAILY, 3));
    let mut shapes = Vec::new();
    for (name, sql) in walkthrough(end_ms) {
        let (ms, rows) = rt.block_on(timed(&q, &sql, 3));
        shapes.push((name, sql, ms, rows));
    }
    rt.block_on(engine.shutdown());
    // The same three shapes against an engine holding only that week, in memory.
    let (memory_engine, mq) = rt.block_on(week_in_memory(end_ms, sensors));
    let mut in_memory = Vec::new();
    for (_, sql) in walkthrough(end_ms) {
        in_memory.push(rt.block_on(timed(&mq, &sql, 3)).0);
    }
    rt.block_on(memory_engine.shutdown());

    let first = months.first().copied().unwrap_or(f64::NAN);
    let last = months.last().copied().unwrap_or(f64::NAN);
    let results = json!({
        "days": days, "sensors": sensors, "rows": total_rows,
        "ingest_seconds": ingest_s, "records_per_second": total_rows / ingest_s,
        "ingest_cores_busy": ingest_cores, "ingest_cpu_us_per_record": ingest_cores * ingest_s / total_rows * 1e6,
        "client_alone_records_per_second": alone, "client_alone_cores_busy": alone_cores,
        "ingest_vs_client_alone": total_rows / ingest_s / alone,
        "monthly_records_per_second": months, "last_month_vs_first": last / first,
        "write_p50_ms_idle": percentile(&idle, 0.5), "write_p99_ms_idle": percentile(&idle, 0.99),
        "write_p50_ms_during_pass": percentile(&busy, 0.5), "write_p99_ms_during_pass": percentile(&busy, 0.99),
        "passes_niced": nice, "requests_during_pass": busy.len(), "requests_idle": idle.len(), "passes": passes.len(),
        "resident_mib_end": rss, "resident_mib_peak": peak,
        "disk_bytes": disk, "parquet_bytes": parquet,
        "restart_ms": restart_ms, "read_back_ms": read_back_ms, "decoded_files": decoded_files,
        "sensor_day_ms": sensor_day_ms, "sensor_day_rows": sensor_day_rows,
        "daily_averages_ms": daily_ms, "daily_averages_rows": daily_rows,
        "daily_averages_sql": DAILY,
        "walkthrough": shapes.iter().zip(&in_memory).map(|((name, sql, ms, rows), mem)| json!({
            "name": name, "sql": sql, "ms": ms, "rows": rows, "in_memory_week_ms": mem,
        })).collect::<Vec<_>>(),
    });
    std::fs::write(dir.join("results.json"), serde_json::to_vec_pretty(&results).expect("json")).expect("results");
    println!("{}", serde_json::to_string_pretty(&results).expect("json"));
}
