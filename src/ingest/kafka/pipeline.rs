//! Per-partition buffering and the exactly-once landing protocol for Kafka:
//! validate → buffer → (size or age) → land (Parquet + commit log, with offsets) → group
//! commit. Messages below a partition's committed position are skipped, so a replay after a
//! crash never lands an offset twice.
//!
//! Validation and buffering run on the poll thread; a full batch is handed to the landing
//! thread (`lander.rs`) and the poll thread goes back to polling. Its offsets are committed to
//! the group only when the landing thread reports the batch landed. A partition's batches land
//! in the order they were cut; if one fails, the partition is rewound to that batch's first
//! offset and its later batches (buffered or queued) are discarded, to be read again. On
//! revocation and at shutdown the poll thread hands over what it buffers and waits until every
//! batch of the partitions concerned has landed or failed.

use super::lander::{Done, Job, Lander, Outcome};
use crate::event::{redact::redacted_payload, reference, Validator};
use crate::fault::{FaultPlan, FaultPoint};
use crate::landing::{
    kafka_partition_prefix, kafka_stem, Batch, DeadLetterRow, EventRow, Landing, LandingError,
    PartitionOffset, Recovered, Source,
};
use crate::status::ServiceStatus;
use crate::telemetry::Metrics;
use chrono::Utc;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A topic and partition.
pub(super) type PartitionKey = (String, i32);

/// Batches that may wait for the landing thread behind the one it is landing: with the
/// buffers' own bound (`max_buffered`), memory holds at most that many messages plus three
/// batches in flight. Handing over a fourth blocks the poll thread, as landing used to.
const BATCHES_WAITING: usize = 2;

/// Buffered, not yet landed messages of one partition.
#[derive(Default)]
struct PartitionBuffer {
    events: Vec<EventRow>,
    dead: Vec<DeadLetterRow>,
    first_offset: Option<i64>,
    last_offset: i64,
    oldest: Option<Instant>,
}

impl PartitionBuffer {
    fn len(&self) -> usize {
        self.events.len() + self.dead.len()
    }
}

/// A partition this process owns.
struct Owned {
    /// Shared by the source column of every row from this partition.
    topic: Arc<str>,
    /// The next offset to accept: everything below it is landed, in flight or buffered.
    position: i64,
    /// Changes when the partition is assigned and when it is rewound after a failure, so the
    /// landing thread can tell batches cut before a failure from those cut after it.
    epoch: u64,
}

/// Flush triggers.
#[derive(Debug, Clone, Copy)]
pub struct FlushPolicy {
    /// Size trigger per partition.
    pub max_messages: usize,
    /// Age trigger.
    pub max_age: Duration,
    /// Age trigger when the consumer is idle (nothing more to read, e.g. a backlog is
    /// consumed): waiting longer would not make the batch fuller.
    pub idle_age: Duration,
    /// Bound on messages buffered across all partitions.
    pub max_buffered: usize,
}

/// The consumer's landing state, shared with the rebalance callback.
pub struct Pipeline {
    /// Shared with the landing thread; read here on assignment.
    landing: Arc<Mutex<Landing>>,
    lander: Lander,
    validator: Validator,
    status: Arc<ServiceStatus>,
    faults: Arc<FaultPlan>,
    policy: FlushPolicy,
    buffers: BTreeMap<PartitionKey, PartitionBuffer>,
    owned: BTreeMap<PartitionKey, Owned>,
    /// Batches handed to the landing thread and not yet reported, per partition.
    in_flight: BTreeMap<PartitionKey, usize>,
    next_epoch: u64,
}

impl Pipeline {
    /// A pipeline landing into `landing`; starts the landing thread.
    pub fn new(
        landing: Landing,
        validator: Validator,
        status: Arc<ServiceStatus>,
        faults: Arc<FaultPlan>,
        policy: FlushPolicy,
    ) -> std::io::Result<Self> {
        let landing = Arc::new(Mutex::new(landing));
        let lander = Lander::start(landing.clone(), status.clone(), BATCHES_WAITING)?;
        Ok(Pipeline {
            landing,
            lander,
            validator,
            status,
            faults,
            policy,
            buffers: BTreeMap::new(),
            owned: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            next_epoch: 0,
        })
    }

    /// The metrics facade.
    pub fn metrics(&self) -> &Metrics {
        &self.status.metrics
    }

    /// Whether this process owns the partition now.
    pub fn is_assigned(&self, topic: &str, partition: i32) -> bool {
        self.owned.contains_key(&(topic.to_string(), partition))
    }

    /// Every partition owned now.
    pub fn assigned(&self) -> Vec<PartitionKey> {
        self.owned.keys().cloned().collect()
    }

    fn new_epoch(&mut self) -> u64 {
        self.next_epoch += 1;
        self.next_epoch
    }

    /// New partitions: read the commit log afresh (another process may have landed them
    /// since), clear crash debris, and return where each resumes (`None`: from the beginning).
    /// A partition has nothing in flight here: revocation waits for its batches.
    pub fn on_assign(&mut self, parts: &[PartitionKey]) -> Vec<Option<i64>> {
        let landing = self.landing.clone();
        let mut landing = landing.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = landing.refresh() {
            tracing::error!(error = %e, "cannot read the commit log on assignment");
        }
        let mut out = Vec::new();
        for (topic, partition) in parts {
            let next = landing.commit_log().next_offset(topic, *partition);
            // A previous owner may have crashed between its commit-log entry and its renames:
            // finish them, or readers stop at that entry and its offsets are never re-read.
            let prefix = kafka_partition_prefix(topic, *partition);
            match landing.recover_partition(&prefix) {
                Ok(r) if r != Recovered::default() => tracing::info!(
                    topic,
                    partition,
                    renamed = r.renamed,
                    removed = r.removed,
                    "repaired what a previous owner left"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(topic, partition, error = %e, "cannot repair the partition's files")
                }
            }
            let owned = Owned {
                topic: topic.as_str().into(),
                position: next.unwrap_or(0),
                epoch: self.new_epoch(),
            };
            self.owned.insert((topic.clone(), *partition), owned);
            self.buffers.remove(&(topic.clone(), *partition));
            tracing::info!(
                topic,
                partition,
                resume_at = next.unwrap_or(0),
                "partition assigned"
            );
            out.push(next);
        }
        self.metrics().partitions_assigned(self.owned.len());
        out
    }

    /// Partitions taken away: hand over what they buffer and wait until every batch of theirs
    /// has landed (or failed: nothing of it is committed, so the next owner re-reads it), then
    /// forget them.
    pub fn on_revoke<C: ConsumerContext>(
        &mut self,
        parts: &[PartitionKey],
        consumer: &BaseConsumer<C>,
    ) {
        for key in parts {
            self.hand_over(key);
        }
        while parts.iter().any(|k| self.in_flight.contains_key(k)) {
            let done = self.lander.wait_done();
            let key = done.key.clone();
            if let Err(e) = self.finish(done, consumer) {
                if parts.contains(&key) {
                    tracing::warn!(topic = key.0, partition = key.1, error = %e, "revoked partition not flushed; its messages will be re-read by the next owner");
                }
            }
        }
        for key in parts {
            self.buffers.remove(key);
            self.owned.remove(key);
            self.metrics().partition_revoked(&key.0, key.1);
        }
        self.metrics().partitions_assigned(self.owned.len());
    }

    /// Accept one message. Returns whether some buffer is due for a size flush.
    pub fn accept(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
        payload: Option<&[u8]>,
    ) -> bool {
        let key = (topic.to_string(), partition);
        let Some(owned) = self.owned.get_mut(&key) else {
            // Not ours (a message from before a revoke): the owner will land it.
            return false;
        };
        if offset < owned.position {
            // Already landed, in flight or buffered: the commit log is the source of truth.
            return false;
        }
        owned.position = offset + 1;
        let topic_board = reference::board_of_topic(topic);
        let payload = payload.unwrap_or(&[]);
        let source = Source::Kafka {
            topic: owned.topic.clone(),
            partition,
            offset,
        };
        let buffer = self.buffers.entry(key).or_default();
        match self.validator.validate(payload, topic_board) {
            Ok(event) => buffer.events.push(EventRow { event, source }),
            Err(rejection) => buffer.dead.push(DeadLetterRow {
                rejection,
                payload: redacted_payload(payload),
                lhb: topic_board
                    .and_then(reference::board)
                    .map(|b| b.ods.clone()),
                received_at: Utc::now(),
                source,
            }),
        }
        buffer.first_offset.get_or_insert(offset);
        buffer.last_offset = offset;
        buffer.oldest.get_or_insert_with(Instant::now);
        buffer.len() >= self.policy.max_messages
    }

    /// Commit what the landing thread has landed since the last call, and rewind partitions
    /// whose batch failed. Never waits. Returns the first landing failure seen.
    pub fn collect_landed<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
    ) -> Result<(), LandingError> {
        let mut result = Ok(());
        while let Some(done) = self.lander.try_done() {
            let finished = self.finish(done, consumer);
            if result.is_ok() {
                result = finished;
            }
        }
        result
    }

    /// Hand over every partition whose buffer is full or old, or all when the total is over
    /// the bound.
    pub fn flush_due(&mut self) {
        let total: usize = self.buffers.values().map(PartitionBuffer::len).sum();
        let due: Vec<PartitionKey> = self
            .buffers
            .iter()
            .filter(|(_, b)| {
                b.len() >= self.policy.max_messages
                    || total >= self.policy.max_buffered
                    || b.oldest.is_some_and(|t| t.elapsed() >= self.policy.max_age)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            self.hand_over(&key);
        }
    }

    /// The consumer found nothing to read: hand over every partition whose oldest message has
    /// waited `idle_age`, so the end of a backlog lands now rather than after `max_age`.
    pub fn flush_idle(&mut self) {
        let due: Vec<PartitionKey> = self
            .buffers
            .iter()
            .filter(|(_, b)| {
                b.oldest
                    .is_some_and(|t| t.elapsed() >= self.policy.idle_age)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            self.hand_over(&key);
        }
    }

    /// Land everything (shutdown): hand over every buffer, then wait for every batch in flight,
    /// committing each as it lands. Returns the first failure.
    pub fn flush_all<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
    ) -> Result<(), LandingError> {
        let keys: Vec<PartitionKey> = self.buffers.keys().cloned().collect();
        for key in keys {
            self.hand_over(&key);
        }
        let mut result = Ok(());
        while !self.in_flight.is_empty() {
            let done = self.lander.wait_done();
            let finished = self.finish(done, consumer);
            if result.is_ok() {
                result = finished;
            }
        }
        result
    }

    /// Cut the partition's buffer into a batch and queue it for the landing thread (waits
    /// while the queue is full).
    fn hand_over(&mut self, key: &PartitionKey) {
        let Some(buffer) = self.buffers.remove(key) else {
            return;
        };
        let (Some(first), Some(owned)) = (buffer.first_offset, self.owned.get(key)) else {
            return;
        };
        let (topic, partition) = key;
        let last = buffer.last_offset;
        let job = Job {
            key: key.clone(),
            epoch: owned.epoch,
            first,
            last,
            batch: Batch {
                stem: kafka_stem(topic, *partition, first, last),
                events: buffer.events,
                dead_letters: buffer.dead,
                offsets: vec![PartitionOffset {
                    topic: topic.clone(),
                    partition: *partition,
                    next_offset: last + 1,
                    first_offset: Some(first),
                }],
                source: None,
            },
        };
        *self.in_flight.entry(key.clone()).or_default() += 1;
        self.lander.send(job);
    }

    /// Act on one report of the landing thread: commit a landed batch's offsets to the group,
    /// or rewind the partition to a failed batch's first offset (or past it, if the failure came
    /// after its commit-log entry).
    fn finish<C: ConsumerContext>(
        &mut self,
        done: Done,
        consumer: &BaseConsumer<C>,
    ) -> Result<(), LandingError> {
        let Done {
            key,
            epoch,
            first,
            last,
            outcome,
        } = done;
        if let Some(n) = self.in_flight.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.in_flight.remove(&key);
            }
        }
        let (topic, partition) = (&key.0, key.1);
        match outcome {
            Outcome::Landed => {
                tracing::debug!(topic, partition, first, last, "landed batch");
                // For lag tools only: the commit log already holds the truth.
                let mut tpl = TopicPartitionList::new();
                if tpl
                    .add_partition_offset(topic, partition, Offset::Offset(last + 1))
                    .is_ok()
                {
                    if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
                        tracing::warn!(topic, partition, error = %e, "group offset commit failed (lag monitoring only)");
                    }
                }
                self.faults.reached(FaultPoint::AfterGroupCommit);
                Ok(())
            }
            Outcome::Skipped => {
                tracing::debug!(
                    topic,
                    partition,
                    first,
                    last,
                    "batch after a failed one not landed; it will be re-read"
                );
                Ok(())
            }
            Outcome::Failed(e) => {
                if matches!(
                    e,
                    LandingError::CommitLog(crate::landing::CommitLogError::Fenced { .. })
                ) {
                    // Another member landed these offsets after this one lost the partition:
                    // nothing is lost, and the rebalance will take the partition away.
                    tracing::warn!(topic, partition, first, last, error = %e, "batch refused by the commit log; resuming after the other writer's entries");
                } else {
                    tracing::error!(topic, partition, first, last, error = %e, "landing failed; offsets not committed and will be re-read");
                }
                // Only the first failure of an epoch rewinds: a later report of the same epoch
                // is about offsets above that rewind point.
                if self.owned.get(&key).is_some_and(|o| o.epoch == epoch) {
                    // A failure after the commit-log entry was written (a rename or directory
                    // fsync) leaves the batch committed: resume after it, never below what the
                    // commit log holds, or its messages would land twice. (Landing::open on the
                    // next start, or the next owner's recover_partition, finishes such renames.)
                    // A fenced batch resumes after the other writer's entries the same way.
                    let committed = self
                        .landing
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .commit_log()
                        .next_offset(topic, partition);
                    let resume = committed.map_or(first, |c| c.max(first));
                    let epoch = self.new_epoch();
                    if let Some(owned) = self.owned.get_mut(&key) {
                        owned.position = resume;
                        owned.epoch = epoch;
                    }
                    // Messages after the failed batch are buffered under the old epoch.
                    self.buffers.remove(&key);
                    let mut tpl = TopicPartitionList::new();
                    let _ = tpl.add_partition_offset(topic, partition, Offset::Offset(resume));
                    if let Err(e) = consumer.seek_partitions(tpl, Duration::from_secs(5)) {
                        tracing::error!(topic, partition, error = %e, "cannot rewind after a landing failure");
                    }
                }
                Err(e)
            }
        }
    }
}
