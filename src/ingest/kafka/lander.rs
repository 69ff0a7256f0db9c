//! The landing thread of `serve`: lands full partition batches, one at a time and in the order
//! they were handed over, while the poll thread goes on polling and validating. Before this,
//! both ran on the poll thread, so fetching stopped for every Parquet write and fsync.
//!
//! The landing protocol itself is unchanged (`Landing::land`, whose fault points fire here);
//! the group commit stays with the poll thread, which owns the consumer and commits a batch's
//! offsets only after this thread reports it landed. A failed batch must not be followed by a
//! later batch of the same partition, or the commit log would record offsets past messages
//! that never landed: each batch carries its partition's epoch, and once a batch fails every
//! queued batch of that partition from the same or an older epoch is skipped. The poll thread
//! rewinds the partition and starts a new epoch when it learns of the failure.

use super::pipeline::PartitionKey;
use crate::landing::{Batch, Landing, LandingError};
use crate::status::ServiceStatus;
use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// One partition batch to land.
pub(super) struct Job {
    /// The partition.
    pub key: PartitionKey,
    /// The partition's epoch when the batch was cut.
    pub epoch: u64,
    /// First offset in the batch.
    pub first: i64,
    /// Last offset in the batch.
    pub last: i64,
    /// The rows and the commit-log offsets.
    pub batch: Batch,
}

/// What became of a [`Job`].
pub(super) struct Done {
    /// The partition.
    pub key: PartitionKey,
    /// The job's epoch.
    pub epoch: u64,
    /// First offset in the batch.
    pub first: i64,
    /// Last offset in the batch.
    pub last: i64,
    /// The outcome.
    pub outcome: Outcome,
}

/// Outcome of a [`Job`].
pub(super) enum Outcome {
    /// Committed to the commit log: its offsets may be committed to the group.
    Landed,
    /// Not committed; the partition must be rewound to the batch's first offset.
    Failed(LandingError),
    /// Not attempted, because an earlier batch of the partition and epoch failed.
    Skipped,
}

/// Handle on the landing thread. Dropping it lets the thread finish what it holds and joins it.
pub(super) struct Lander {
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Done>,
    thread: Option<JoinHandle<()>>,
}

impl Lander {
    /// Start the thread. At most `waiting` jobs queue behind the one being landed; handing
    /// over another blocks until there is room, which bounds the memory batches hold.
    pub fn start(
        landing: Arc<Mutex<Landing>>,
        status: Arc<ServiceStatus>,
        waiting: usize,
    ) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::sync_channel(waiting);
        // Unbounded, so the thread never waits on the poll thread: the number of jobs in
        // flight bounds it.
        let (report, done) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("lpmhss-land".into())
            .spawn(move || land_in_order(&landing, &status, queue, report))?;
        Ok(Lander {
            jobs: Some(jobs),
            done,
            thread: Some(thread),
        })
    }

    /// Hand a job over (blocks while the queue is full).
    pub fn send(&mut self, job: Job) {
        let sent = match &self.jobs {
            Some(jobs) => jobs.send(job).is_ok(),
            None => false,
        };
        if !sent {
            self.thread_died();
        }
    }

    /// The next finished job, if one is ready.
    pub fn try_done(&mut self) -> Option<Done> {
        match self.done.try_recv() {
            Ok(done) => Some(done),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => self.thread_died(),
        }
    }

    /// The next finished job, waiting for it. Call only with a job in flight.
    pub fn wait_done(&mut self) -> Done {
        match self.done.recv() {
            Ok(done) => done,
            Err(_) => self.thread_died(),
        }
    }

    /// The thread ends early only by panicking: re-raise the panic here, as if landing had
    /// run on this thread as it used to.
    fn thread_died(&mut self) -> ! {
        self.jobs = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            _ => panic!("the landing thread stopped"),
        }
    }
}

impl Drop for Lander {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn land_in_order(
    landing: &Mutex<Landing>,
    status: &ServiceStatus,
    queue: Receiver<Job>,
    report: Sender<Done>,
) {
    let mut failed_epoch: HashMap<PartitionKey, u64> = HashMap::new();
    for job in queue {
        let outcome = if failed_epoch.get(&job.key).is_some_and(|e| *e >= job.epoch) {
            Outcome::Skipped
        } else {
            let outcome = land(landing, status, job.batch);
            if matches!(outcome, Outcome::Failed(_)) {
                failed_epoch.insert(job.key.clone(), job.epoch);
            }
            outcome
        };
        let done = Done {
            key: job.key,
            epoch: job.epoch,
            first: job.first,
            last: job.last,
            outcome,
        };
        if report.send(done).is_err() {
            return;
        }
    }
}

/// Land one batch and count it in the metrics, as the poll thread did before the group commit.
fn land(landing: &Mutex<Landing>, status: &ServiceStatus, batch: Batch) -> Outcome {
    let landed: Vec<(&'static str, &'static str, u32)> = batch
        .events
        .iter()
        .map(|r| {
            let e = &r.event;
            (e.provider_lhb, e.event_type.as_str(), e.unknown_fields)
        })
        .collect();
    let reasons: Vec<_> = batch
        .dead_letters
        .iter()
        .map(|d| d.rejection.reason)
        .collect();
    let result = landing
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .land(batch);
    match result {
        Ok(done) => {
            status.landing_result(true);
            let metrics = &status.metrics;
            for (lhb, t, unknown) in &landed {
                metrics.event_landed(lhb, t, *unknown);
            }
            for r in reasons {
                metrics.event_dead_lettered(r);
            }
            let at = done.landed_at.timestamp_micros() as f64 / 1e6;
            metrics.batch_landed(at, landed.iter().map(|l| l.0));
            Outcome::Landed
        }
        Err(e) => {
            status.landing_result(false);
            Outcome::Failed(e)
        }
    }
}

#[cfg(test)]
#[path = "lander_tests.rs"]
mod tests;
