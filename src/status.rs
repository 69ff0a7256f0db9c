//! What the running service knows about itself, shared between the consumer, the compute loop
//! and the admin listener: the metrics, the latest computation and health facts for /readyz.

use crate::compliance::Computation;
use crate::telemetry::Metrics;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Shared service state.
#[derive(Debug)]
pub struct ServiceStatus {
    /// The metrics facade.
    pub metrics: Metrics,
    /// The newest successful computation.
    latest: RwLock<Option<Arc<Computation>>>,
    landing_failing: AtomicBool,
    compute_failing: AtomicBool,
    /// National target (0–1).
    pub target_ratio: f64,
    /// Feed-silence threshold.
    pub feed_silence_threshold: Duration,
    /// Readiness staleness bound.
    pub stale_after: Duration,
}

impl ServiceStatus {
    /// New state around `metrics`.
    pub fn new(
        metrics: Metrics,
        target_ratio: f64,
        feed_silence_threshold: Duration,
        stale_after: Duration,
    ) -> Self {
        ServiceStatus {
            metrics,
            latest: RwLock::new(None),
            landing_failing: AtomicBool::new(false),
            compute_failing: AtomicBool::new(false),
            target_ratio,
            feed_silence_threshold,
            stale_after,
        }
    }

    /// Record a landing attempt's outcome.
    pub fn landing_result(&self, ok: bool) {
        self.landing_failing.store(!ok, Ordering::Relaxed);
    }

    /// Record a successful computation.
    pub fn computed(&self, c: Computation) {
        self.compute_failing.store(false, Ordering::Relaxed);
        *self.latest.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(c));
    }

    /// Record a failed computation.
    pub fn compute_failed(&self) {
        self.compute_failing.store(true, Ordering::Relaxed);
    }

    /// The newest computation, if any.
    pub fn latest(&self) -> Option<Arc<Computation>> {
        self.latest
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `Ok` when ready to serve; otherwise why not.
    pub fn readiness(&self, now_unix: f64) -> Result<(), String> {
        if self.metrics.assigned_partitions() == 0 {
            return Err("no Kafka partitions assigned".into());
        }
        if self.landing_failing.load(Ordering::Relaxed) {
            return Err("the last landing attempt failed".into());
        }
        match self.metrics.last_compute_unix() {
            None => return Err("no computation has succeeded yet".into()),
            Some(t) if now_unix - t > self.stale_after.as_secs_f64() => {
                return Err(format!(
                    "last successful computation was {:.0}s ago",
                    now_unix - t
                ))
            }
            Some(_) => {}
        }
        if self.compute_failing.load(Ordering::Relaxed) {
            return Err("the last computation failed".into());
        }
        Ok(())
    }
}
