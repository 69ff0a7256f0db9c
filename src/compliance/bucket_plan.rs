//! Whether a full derivation runs in buckets, and how large they are: the policy for a
//! computation (bounded by `compute.memory_mb`, `bucket_size.rs`) and for a read-only command
//! (bounded by its memory budget, and in buckets from 500,000 events because the concurrent
//! buckets of `bucket_workers.rs` are faster than one derivation in memory from there up).

use super::bucket_size::{fits_in_memory, resident_bytes, IN_MEMORY_BYTES_PER_EVENT};
use super::bucket_workers::workers;
use super::bucketed::{plan_buckets, Bucket, BucketSize};
use super::derivation_state::{Derivation, VisibleCommits};

/// Whether the derivation's `pathways` is only for this session or replaces the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Output {
    /// A read-only command: nothing is written.
    InMemory,
    /// A computation: the table is replaced. Large derivations write it as they go (bounded
    /// memory) and say so (`materialise.rs`).
    Table,
}

/// Measured peak of a bucketed derivation per event of its largest bucket, rounded up: a
/// bucket also holds its events in scope as a table, where an in-memory derivation reads them
/// from Parquet (9.6 GB for a bucket of 10.9M events at 50M: BENCHMARKS.md).
const BUCKET_BYTES_PER_EVENT: u64 = 1024;

/// Above this many events a reader derives in buckets even when everything would fit in memory:
/// buckets are derived concurrently (`bucket_workers.rs`), which is faster than one derivation
/// of everything from 1M events up (1.15 s instead of 1.27 s at 1M, 3.7 s instead of 4.3 s at
/// ten years of Wales, 13 s instead of 15-18 s at 10M: benches/e2e/NOTES.md), and holds less.
/// Below it the fixed cost of buckets (finding the copies of repeated ids first) is not repaid.
const READER_IN_MEMORY_EVENTS: u64 = 500_000;

/// The largest bucket a reader derives, whatever its memory budget: larger buckets were slower
/// as well as larger (`report --derivation full` at 50M, two workers: 83 s at 6.8 GB in buckets
/// of 3.5M events, 75 s at 3.0 GB in buckets of 2M, 79 s at 1.8 GB in buckets of 1M).
const READER_MAX_BUCKET_EVENTS: u64 = 2_000_000;

/// The buckets of a full derivation, and how to size them; none (everything at once, in
/// memory) when it is small enough. A computation writes its table as it goes: with
/// `bucket_events` set it buckets above that many events (0: never); otherwise it derives in
/// memory when that fits `memory_mb` and else in buckets sized to what is left of it once the
/// copies of repeated ids are found (`bucket_size.rs`), which bounds the memory of `serve`.
/// A reader (`report`, `sql`, …) writes nothing it keeps: it derives a small store (up to
/// [`READER_IN_MEMORY_EVENTS`]) in memory when that fits its memory budget
/// ([`reader_memory_budget`]), and otherwise in buckets sized to the budget, written to a
/// scratch table: faster from that size up, and it never runs the machine out of memory.
pub(super) fn full_derivation_buckets(
    visible: &VisibleCommits,
    derivation: &Derivation,
    output: Output,
) -> Option<(Vec<Bucket>, BucketSize)> {
    let events = visible.event_rows();
    let (per_bucket, size) = match (output, derivation.bucket_events) {
        (Output::Table, Some(fixed)) => (fixed, BucketSize::AsPlanned),
        (Output::Table, None) => {
            let budget = derivation.memory_mb.saturating_mul(1 << 20);
            if fits_in_memory(events, resident_bytes(), budget) {
                return None;
            }
            // One bucket per board for now: derive_in_buckets splits them again to the memory
            // left once the copies of repeated ids are found.
            return plan_buckets(visible, u64::MAX).map(|b| (b, BucketSize::ToMemory { budget }));
        }
        (Output::InMemory, _) => {
            let budget = reader_memory_budget();
            if events <= READER_IN_MEMORY_EVENTS
                && events.saturating_mul(IN_MEMORY_BYTES_PER_EVENT) <= budget
            {
                return None;
            }
            // Every worker holds a bucket at once (bucket_workers.rs).
            (
                (budget / BUCKET_BYTES_PER_EVENT / workers() as u64)
                    .clamp(1, READER_MAX_BUCKET_EVENTS),
                BucketSize::AsPlanned,
            )
        }
    };
    if per_bucket == 0 || events <= per_bucket {
        return None;
    }
    plan_buckets(visible, per_bucket).map(|b| (b, size))
}

/// The memory a read-only command may use for a derivation held in memory: `LPMHSS_READER_MEMORY_MB`
/// when set, else half of the memory available now (`MemAvailable`), else 4 GiB.
fn reader_memory_budget() -> u64 {
    const MIB: u64 = 1024 * 1024;
    if let Some(mb) = std::env::var("LPMHSS_READER_MEMORY_MB")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return mb.saturating_mul(MIB);
    }
    let available_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("MemAvailable:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        });
    available_kib.map_or(4096 * MIB, |kib| kib * 1024 / 2)
}
