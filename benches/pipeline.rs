//! Criterion benchmarks through the library API: validate + pseudonymise, events → Arrow,
//! Parquet write, the official report query and the waiting-list query. Throughput is
//! reported in events/s (elements) and, where bytes matter, MB/s.
//! Run: `cargo bench --bench pipeline`.

// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use lpmhss::compliance::{Engine, WaitKind};
use lpmhss::event::{Pseudonymiser, Validator};
use lpmhss::fault::FaultPlan;
use lpmhss::landing::{
    events_batch, write_parquet_file, Batch, DataDir, EventRow, Landing, Source,
};
use lpmhss::simulate::{history, SimConfig};
use std::sync::Arc;

fn sample(n: usize) -> Vec<Vec<u8>> {
    let cfg = SimConfig {
        months: 12,
        seed: 42,
        invalid_share: 0.0,
        ..SimConfig::default()
    };
    history(&cfg).take(n).map(|m| m.payload).collect()
}

fn validated(payloads: &[Vec<u8>]) -> Vec<EventRow> {
    let v = Validator::new(Pseudonymiser::new("bench-key"));
    payloads
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            v.validate(p, None).ok().map(|event| EventRow {
                event,
                source: Source::File {
                    file: "bench.ndjson".into(),
                    line: i as i64 + 1,
                },
            })
        })
        .collect()
}

fn ingest_benches(c: &mut Criterion) {
    let payloads = sample(20_000);
    let bytes: usize = payloads.iter().map(Vec::len).sum();
    let v = Validator::new(Pseudonymiser::new("bench-key"));

    let mut g = c.benchmark_group("validate_pseudonymise");
    g.throughput(Throughput::Elements(payloads.len() as u64));
    g.bench_function("events", |b| {
        b.iter(|| {
            payloads
                .iter()
                .filter(|p| v.validate(p, None).is_ok())
                .count()
        })
    });
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("bytes", |b| {
        b.iter(|| {
            payloads
                .iter()
                .filter(|p| v.validate(p, None).is_ok())
                .count()
        })
    });
    g.finish();

    let rows = validated(&payloads);
    let now = chrono::Utc::now();
    let mut g = c.benchmark_group("to_arrow");
    g.throughput(Throughput::Elements(rows.len() as u64));
    g.bench_function("events_batch", |b| {
        b.iter(|| events_batch(&rows, now).unwrap())
    });
    g.finish();

    let batch = events_batch(&rows, now).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("parquet_write");
    g.throughput(Throughput::Elements(rows.len() as u64));
    g.bench_function("uncompressed_fsync", |b| {
        b.iter(|| write_parquet_file(&dir.path().join("b.parquet"), &batch).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("land_batch");
    g.throughput(Throughput::Elements(rows.len() as u64));
    g.sample_size(10);
    g.bench_function("validate_arrow_parquet_commit", |b| {
        b.iter_batched(
            || {
                let d = tempfile::tempdir().unwrap();
                let landing = Landing::open(
                    DataDir::new(d.path()),
                    "bench",
                    Arc::new(FaultPlan::default()),
                )
                .unwrap();
                (d, landing)
            },
            |(_d, mut landing)| {
                let events = validated(&payloads);
                landing
                    .land(Batch {
                        stem: "f-bench-1".into(),
                        events,
                        ..Batch::default()
                    })
                    .unwrap()
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn query_benches(c: &mut Criterion) {
    let n = 300_000;
    let payloads = sample(n);
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path());
    let mut landing = Landing::open(data.clone(), "bench", Arc::new(FaultPlan::default())).unwrap();
    for (i, chunk) in payloads.chunks(100_000).enumerate() {
        landing
            .land(Batch {
                stem: format!("f-bench-{i}"),
                events: validated(chunk),
                ..Batch::default()
            })
            .unwrap();
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut g = c.benchmark_group("queries");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("official_report", |b| {
        b.iter(|| {
            rt.block_on(async {
                let e = Engine::open(&data, None).await.unwrap();
                e.monthly(None, None, WaitKind::Official).await.unwrap()
            })
        })
    });
    let on = chrono::NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
    g.bench_function("waiting_list", |b| {
        b.iter(|| {
            rt.block_on(async {
                let e = Engine::open(&data, None).await.unwrap();
                e.waiting_list(on).await.unwrap()
            })
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = ingest_benches, query_benches
}
criterion_main!(benches);
