//! Batch decoding throughput: Ruuvi payloads into Arrow columns, single-threaded.
//!
//! `make bench` runs it; the README records the figures. Inputs come from the simulator, so the
//! values vary like real data.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ruuvistream::ruuvi::simulator::{Simulator, SimulatorConfig};
use ruuvistream::ruuvi::{OnError, bytes_to_hex, decode_many, decode_many_hex};

const N: usize = 1_000_000;

/// `n` simulated advertisements of the given sensor mix.
fn advertisements(n: usize, sensors: usize, air: usize) -> Vec<Vec<u8>> {
    let cfg = SimulatorConfig {
        sensors,
        air_sensors: air,
        duration: Duration::from_secs(86_400 * 365),
        interval: Duration::from_secs(1),
        loss: 0.0,
        repeat: 0.0,
        ..Default::default()
    };
    Simulator::new(cfg).expect("valid config").take(n).map(|p| p.advertisement).collect()
}

fn bench(c: &mut Criterion) {
    let ads = advertisements(N, 100, 0);
    // Bare DF5 payloads: the advertisement minus flags (3 bytes) and the MSD header (4 bytes).
    let payloads: Vec<[u8; 24]> = ads.iter().map(|a| a[7..31].try_into().expect("DF5 advertisement")).collect();
    let hex: Vec<String> = ads.iter().take(N / 10).map(|a| bytes_to_hex(a)).collect();
    let air = advertisements(N / 10, 0, 100);

    let mut g = c.benchmark_group("decode_to_arrow");
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function(BenchmarkId::new("df5_payload", N), |b| {
        b.iter(|| decode_many(black_box(&payloads), OnError::Raise).expect("decodes"))
    });
    g.bench_function(BenchmarkId::new("df5_advertisement", N), |b| {
        b.iter(|| decode_many(black_box(&ads), OnError::Raise).expect("decodes"))
    });
    g.throughput(Throughput::Elements((N / 10) as u64));
    g.bench_function(BenchmarkId::new("df5_advertisement_hex", N / 10), |b| {
        b.iter(|| decode_many_hex(black_box(&hex), OnError::Raise).expect("decodes"))
    });
    g.bench_function(BenchmarkId::new("e1_advertisement", N / 10), |b| {
        b.iter(|| decode_many(black_box(&air), OnError::Raise).expect("decodes"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
