//! How big a computation's buckets are when nobody fixed their size (`compute.bucket_events`
//! unset): sized to the memory left under `compute.memory_mb`, measured before the first bucket
//! (after the copies of repeated ids are found, when a derivation needs them), so the same
//! setting gives few large buckets on a small store and more, smaller ones where the process
//! already holds more.
//! The memory left is shared by the workers that derive buckets at once (`bucket_workers.rs`).
//!
//! Fewer buckets are faster (each costs a scan and, for a split board, a pass over its part
//! files): ten years of Wales takes about 8 s in 16 buckets of 250,000 events and about 5.5 s in
//! 7, one per board (benches/e2e/NOTES.md).

/// Measured peak of a full derivation held in memory, per event (4.3 GB at 10M events, 1.4 GB
/// at 3.2M: benches/e2e/NOTES.md), rounded up.
pub(crate) const IN_MEMORY_BYTES_PER_EVENT: u64 = 512;

/// Resident memory per event of the buckets derived at once, from the peaks measured at 50M
/// with two workers (benches/e2e/NOTES.md): sized at 704 bytes (buckets of 522,000 events, since
/// the copies of repeated ids no longer take room first) the computation peaked at 987 MiB
/// against its 800; at 896 (410,000 events) at 867 MiB. Ten years of Wales peaks lower per event
/// (560–640 bytes): the splitting of boards and the writer weigh more at 50M.
pub(crate) const BYTES_PER_BUCKET_EVENT: u64 = 896;

/// The smallest bucket sized to memory: below this the fixed cost per bucket dominates, and a
/// store whose copies alone fill the budget still makes progress (over the budget, with a
/// warning).
pub(crate) const MIN_BUCKET_EVENTS: u64 = 100_000;

/// Whether a full derivation of `events` held in memory stays under `budget` bytes, with
/// `resident` bytes in use already.
pub(crate) fn fits_in_memory(events: u64, resident: u64, budget: u64) -> bool {
    resident.saturating_add(events.saturating_mul(IN_MEMORY_BYTES_PER_EVENT)) <= budget
}

/// Events per bucket that keep the process under `budget` bytes with `resident` in use and
/// `workers` buckets held at once.
pub(crate) fn bucket_events_for(resident: u64, budget: u64, workers: u64) -> u64 {
    (budget.saturating_sub(resident) / BYTES_PER_BUCKET_EVENT / workers.max(1))
        .max(MIN_BUCKET_EVENTS)
}

/// The process's resident memory now (Linux `/proc/self/statm`; 0 where it cannot be read).
pub(crate) fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;

    #[test]
    fn buckets_take_the_memory_left_and_no_less_than_the_minimum() {
        // Ten years of Wales: 128 MB in use after the copies, 800 MB budget: every board whole.
        assert_eq!(
            bucket_events_for(128 * MB, 800 * MB, 1),
            672 * MB / BYTES_PER_BUCKET_EVENT
        );
        // Two workers: each holds a bucket, so each bucket gets half.
        assert_eq!(
            bucket_events_for(128 * MB, 800 * MB, 2),
            672 * MB / BYTES_PER_BUCKET_EVENT / 2
        );
        // A process holding 610 MB already (the copies of repeated ids at 50M, when a
        // derivation needs them): buckets a third of that size.
        assert_eq!(
            bucket_events_for(610 * MB, 800 * MB, 1),
            190 * MB / BYTES_PER_BUCKET_EVENT
        );
        // Copies over the budget: the minimum, never zero.
        assert_eq!(bucket_events_for(900 * MB, 800 * MB, 2), MIN_BUCKET_EVENTS);
        assert_eq!(
            bucket_events_for(0, 800 * MB, 0),
            800 * MB / BYTES_PER_BUCKET_EVENT,
            "no workers: one"
        );
    }

    #[test]
    fn a_small_store_derives_in_memory_and_a_large_one_does_not() {
        assert!(fits_in_memory(1_000_000, 100 * MB, 800 * MB));
        assert!(!fits_in_memory(3_200_000, 100 * MB, 800 * MB));
        assert!(!fits_in_memory(u64::MAX, 0, 800 * MB));
    }

    #[test]
    fn resident_memory_is_read_on_linux() {
        assert!(resident_bytes() > 0);
    }
}
