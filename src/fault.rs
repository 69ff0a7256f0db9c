//! Named fault-injection points of the landing protocol, for crash tests. A configured point
//! aborts the process (no unwinding, no flushing: as close to `kill -9` as a process can do to
//! itself) the Nth time it is reached. Off unless `[testing] crash_at` is set.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

/// A step of the landing protocol after which a crash is interesting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultPoint {
    /// Parquet files written and fsynced under temporary names; nothing committed.
    AfterParquetWrite,
    /// Commit-log entry durable; files not yet renamed into place.
    AfterCommitLogAppend,
    /// Consumer-group offsets committed.
    AfterGroupCommit,
}

/// Where (and on which occurrence) to crash.
#[derive(Debug, Default)]
pub struct FaultPlan {
    point: Option<FaultPoint>,
    on_occurrence: u64,
    seen: AtomicU64,
}

impl FaultPlan {
    /// Crash at `point` on its `on_occurrence`-th visit (1-based).
    pub fn new(point: Option<FaultPoint>, on_occurrence: u64) -> Self {
        FaultPlan {
            point,
            on_occurrence: on_occurrence.max(1),
            seen: AtomicU64::new(0),
        }
    }

    /// Mark that `point` was reached; aborts if this is the planned crash.
    pub fn reached(&self, point: FaultPoint) {
        if self.point == Some(point)
            && self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.on_occurrence
        {
            eprintln!("lpmhss: injected crash at {point:?}");
            std::process::abort();
        }
    }
}
