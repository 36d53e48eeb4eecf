//! Query results into Arrow: rows of Timestream Datum (as a Query page carries them) through the
//! shared type mapping into record batches, single-threaded. The rows are Ruuvi-shaped: a MAC,
//! a timestamp with nanoseconds, three doubles and a nullable bigint.
//!
//! `make bench` runs it; the README records the figure (the target is 2 M rows/s).

#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ruuvistream::types::{BatchBuilder, Datum, ScalarType, TsType, format_double, format_timestamp_ns};

/// Rows per page, as 1 MB pages of this shape hold about that many.
const ROWS: usize = 10_000;

fn page() -> Vec<Vec<Datum>> {
    (0..ROWS)
        .map(|i| {
            let t = 1_796_040_000_000_000_000 + i as i64 * 60_000_123_457;
            vec![
                Datum::Scalar(format!("CB:B8:33:4C:88:{:02X}", i % 100)),
                Datum::Scalar(format_timestamp_ns(t)),
                Datum::Scalar(format_double(20.0 + (i % 500) as f64 * 0.005)),
                Datum::Scalar(format_double(40.0 + (i % 700) as f64 * 0.0025)),
                Datum::Scalar(format_double(100_000.0 + (i % 300) as f64)),
                if i % 10 == 0 { Datum::Null } else { Datum::Scalar((i % 256).to_string()) },
            ]
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let columns: Vec<(String, TsType)> = [
        ("mac", ScalarType::Varchar),
        ("time", ScalarType::Timestamp),
        ("temperature", ScalarType::Double),
        ("humidity", ScalarType::Double),
        ("pressure", ScalarType::Double),
        ("movement_counter", ScalarType::Bigint),
    ]
    .into_iter()
    .map(|(n, t)| (n.to_string(), TsType::Scalar(t)))
    .collect();
    let rows = page();
    let mut g = c.benchmark_group("datum_to_arrow");
    g.sample_size(30).measurement_time(Duration::from_secs(6));
    g.throughput(Throughput::Elements(ROWS as u64));
    g.bench_function("ruuvi_page", |b| {
        b.iter_batched(
            || rows.clone(),
            |rows| {
                let mut builder = BatchBuilder::with_capacity(&columns, ROWS);
                for row in rows {
                    builder.append_row(row).expect("valid datum");
                }
                black_box(builder.finish().expect("a batch"))
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
