//! WriteRecords throughput into the embedded engine through the AWS SDK for Rust: 100
//! multi-measure records per request (a Ruuvi reading each), several requests in flight.
//!
//! `make bench` runs it; the README records the figures.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_timestreamwrite::Client;
use aws_sdk_timestreamwrite::config::{Credentials, Region};
use aws_sdk_timestreamwrite::types::{
    Dimension, MeasureValue, MeasureValueType, Record, RetentionProperties, TimeUnit,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ruuvistream::engine::{Clock, EngineConfig, LocalTimestream};

const PER_REQUEST: usize = 100;
const REQUESTS: usize = 200;
const IN_FLIGHT: usize = 8;

/// Distinct record times across all iterations, so every write is a new row.
static NEXT: AtomicI64 = AtomicI64::new(0);

fn mv(name: &str, value: String, ty: MeasureValueType) -> MeasureValue {
    MeasureValue::builder().name(name).value(value).r#type(ty).build().expect("complete")
}

fn request(base_ns: i64, sensor: usize) -> Vec<Record> {
    (0..PER_REQUEST)
        .map(|i| {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            Record::builder()
                .dimensions(
                    Dimension::builder()
                        .name("mac")
                        .value(format!("CB:B8:33:4C:88:{sensor:02X}"))
                        .build()
                        .expect("complete"),
                )
                .dimensions(Dimension::builder().name("location").value("bench").build().expect("complete"))
                .measure_name("ruuvi")
                .measure_value_type(MeasureValueType::Multi)
                .measure_values(mv(
                    "temperature",
                    format!("{}", 20.0 + (i % 50) as f64 * 0.1),
                    MeasureValueType::Double,
                ))
                .measure_values(mv("humidity", format!("{}", 40.0 + (i % 30) as f64 * 0.25), MeasureValueType::Double))
                .measure_values(mv("pressure", format!("{}", 100_000 + i), MeasureValueType::Double))
                .measure_values(mv("battery_voltage", "2.977".into(), MeasureValueType::Double))
                .measure_values(mv("movement_counter", format!("{}", i % 255), MeasureValueType::Bigint))
                .time((base_ns - n).to_string())
                .time_unit(TimeUnit::Nanoseconds)
                .build()
        })
        .collect()
}

async fn setup(data_dir: Option<std::path::PathBuf>) -> (LocalTimestream, Client) {
    let engine = LocalTimestream::start(EngineConfig { data_dir, ..Default::default() }).await.expect("engine starts");
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(engine.endpoint_url())
        .credentials_provider(Credentials::new("local", "local", None, None, "bench"))
        .load()
        .await;
    let client = Client::new(&conf);
    client.create_database().database_name("bench").send().await.expect("database");
    client
        .create_table()
        .database_name("bench")
        .table_name("ruuvi")
        .retention_properties(
            RetentionProperties::builder()
                .memory_store_retention_period_in_hours(24)
                .magnetic_store_retention_period_in_days(1)
                .build()
                .expect("complete"),
        )
        .send()
        .await
        .expect("table");
    (engine, client)
}

/// Writes `REQUESTS` requests, `IN_FLIGHT` at a time, and returns how long they took.
async fn run(client: &Client, base_ns: i64, iters: u64) -> Duration {
    let started = Instant::now();
    for _ in 0..iters {
        let mut tasks = Vec::with_capacity(IN_FLIGHT);
        for w in 0..IN_FLIGHT {
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                for r in 0..REQUESTS / IN_FLIGHT {
                    let records = request(base_ns, (w * 31 + r) % 64);
                    client
                        .write_records()
                        .database_name("bench")
                        .table_name("ruuvi")
                        .set_records(Some(records))
                        .send()
                        .await
                        .expect("write");
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
    }
    started.elapsed()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let base_ns = Clock::System.now_ns();
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut g = c.benchmark_group("write_records");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements((PER_REQUEST * REQUESTS) as u64));
    for (name, data_dir) in
        [("in_memory_sdk_100_multi_x8", None), ("persistent_sdk_100_multi_x8", Some(dir.path().to_path_buf()))]
    {
        let (engine, client) = rt.block_on(setup(data_dir));
        g.bench_function(name, |b| b.iter_custom(|iters| rt.block_on(run(&client, base_ns, iters))));
        rt.block_on(engine.shutdown());
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
