//! Per-partition buffering and the exactly-once landing protocol for Kafka:
//! validate → buffer → (size or age) → land (Parquet + commit log, with offsets) → group
//! commit. Messages below a partition's committed position are skipped, so a replay after a
//! crash never lands an offset twice.

use crate::event::{redact::redacted_payload, reference, Validator};
use crate::fault::{FaultPlan, FaultPoint};
use crate::landing::{
    kafka_partition_prefix, kafka_stem, Batch, DeadLetterRow, EventRow, Landing, PartitionOffset,
    Source,
};
use crate::status::ServiceStatus;
use crate::telemetry::Metrics;
use chrono::Utc;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

type PartitionKey = (String, i32);

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

/// Flush triggers.
#[derive(Debug, Clone, Copy)]
pub struct FlushPolicy {
    /// Size trigger per partition.
    pub max_messages: usize,
    /// Age trigger.
    pub max_age: Duration,
    /// Bound on messages buffered across all partitions.
    pub max_buffered: usize,
}

/// The consumer's landing state, shared with the rebalance callback.
pub struct Pipeline {
    landing: Landing,
    validator: Validator,
    status: Arc<ServiceStatus>,
    faults: Arc<FaultPlan>,
    policy: FlushPolicy,
    buffers: BTreeMap<PartitionKey, PartitionBuffer>,
    positions: BTreeMap<PartitionKey, i64>,
}

impl Pipeline {
    /// A pipeline landing into `landing`.
    pub fn new(
        landing: Landing,
        validator: Validator,
        status: Arc<ServiceStatus>,
        faults: Arc<FaultPlan>,
        policy: FlushPolicy,
    ) -> Self {
        Pipeline {
            landing,
            validator,
            status,
            faults,
            policy,
            buffers: BTreeMap::new(),
            positions: BTreeMap::new(),
        }
    }

    /// The metrics facade.
    pub fn metrics(&self) -> &Metrics {
        &self.status.metrics
    }

    /// Whether this process owns the partition now.
    pub fn is_assigned(&self, topic: &str, partition: i32) -> bool {
        self.positions.contains_key(&(topic.to_string(), partition))
    }

    /// Every partition owned now.
    pub fn assigned(&self) -> Vec<PartitionKey> {
        self.positions.keys().cloned().collect()
    }

    /// New partitions: read the commit log afresh (another process may have landed them
    /// since), clear crash debris, and return where each resumes (`None`: from the beginning).
    pub fn on_assign(&mut self, parts: &[PartitionKey]) -> Vec<Option<i64>> {
        if let Err(e) = self.landing.refresh() {
            tracing::error!(error = %e, "cannot read the commit log on assignment");
        }
        let mut out = Vec::new();
        for (topic, partition) in parts {
            let next = self.landing.commit_log().next_offset(topic, *partition);
            let prefix = kafka_partition_prefix(topic, *partition);
            match self.landing.remove_uncommitted_temporaries(&prefix) {
                Ok(n) if n > 0 => tracing::info!(
                    topic,
                    partition,
                    removed = n,
                    "removed uncommitted files of a crashed run"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(topic, partition, error = %e, "cannot clear temporaries"),
            }
            self.positions
                .insert((topic.clone(), *partition), next.unwrap_or(0));
            self.buffers.remove(&(topic.clone(), *partition));
            tracing::info!(
                topic,
                partition,
                resume_at = next.unwrap_or(0),
                "partition assigned"
            );
            out.push(next);
        }
        self.metrics().partitions_assigned(self.positions.len());
        out
    }

    /// Partitions taken away: flush what they hold (drop it if that fails), forget them.
    pub fn on_revoke<C: ConsumerContext>(
        &mut self,
        parts: &[PartitionKey],
        consumer: &BaseConsumer<C>,
    ) {
        for key in parts {
            if let Err(e) = self.flush(key, consumer) {
                tracing::warn!(topic = key.0, partition = key.1, error = %e, "revoked partition not flushed; its messages will be re-read by the next owner");
            }
            self.buffers.remove(key);
            self.positions.remove(key);
            self.metrics().partition_revoked(&key.0, key.1);
        }
        self.metrics().partitions_assigned(self.positions.len());
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
        let Some(position) = self.positions.get(&key).copied() else {
            // Not ours (a message from before a revoke): the owner will land it.
            return false;
        };
        if offset < position {
            // Already landed by an earlier run: the commit log is the source of truth.
            return false;
        }
        let topic_board = reference::board_of_topic(topic);
        let payload = payload.unwrap_or(&[]);
        let source = Source::Kafka {
            topic: topic.into(),
            partition,
            offset,
        };
        let buffer = self.buffers.entry(key.clone()).or_default();
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
        self.positions.insert(key, offset + 1);
        buffer.len() >= self.policy.max_messages
    }

    /// Flush every partition whose buffer is full or old, or all when the total is over the bound.
    pub fn flush_due<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
    ) -> Result<(), crate::landing::LandingError> {
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
            self.flush(&key, consumer)?;
        }
        Ok(())
    }

    /// Flush everything (shutdown).
    pub fn flush_all<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
    ) -> Result<(), crate::landing::LandingError> {
        let keys: Vec<PartitionKey> = self.buffers.keys().cloned().collect();
        for key in keys {
            self.flush(&key, consumer)?;
        }
        Ok(())
    }

    fn flush<C: ConsumerContext>(
        &mut self,
        key: &PartitionKey,
        consumer: &BaseConsumer<C>,
    ) -> Result<(), crate::landing::LandingError> {
        let Some(buffer) = self.buffers.remove(key) else {
            return Ok(());
        };
        let Some(first) = buffer.first_offset else {
            return Ok(());
        };
        let (topic, partition) = key;
        let last = buffer.last_offset;
        let metrics = self.status.metrics.clone();
        let landed: Vec<(&'static str, &'static str, u32)> = buffer
            .events
            .iter()
            .map(|r| {
                (
                    r.event.provider_lhb,
                    r.event.event_type.as_str(),
                    r.event.unknown_fields,
                )
            })
            .collect();
        let reasons: Vec<_> = buffer.dead.iter().map(|d| d.rejection.reason).collect();
        let batch = Batch {
            stem: kafka_stem(topic, *partition, first, last),
            events: buffer.events,
            dead_letters: buffer.dead,
            offsets: vec![PartitionOffset {
                topic: topic.clone(),
                partition: *partition,
                next_offset: last + 1,
            }],
            source: None,
        };
        match self.landing.land(batch) {
            Ok(done) => {
                self.status.landing_result(true);
                for (lhb, t, unknown) in &landed {
                    metrics.event_landed(lhb, t, *unknown);
                }
                for r in reasons {
                    metrics.event_dead_lettered(r);
                }
                let boards: Vec<&str> = landed.iter().map(|l| l.0).collect();
                metrics.batch_landed(done.landed_at.timestamp_micros() as f64 / 1e6, boards);
                tracing::debug!(topic, partition, first, last, "landed batch");
            }
            Err(e) => {
                self.status.landing_result(false);
                // Not committed: rewind so these offsets are consumed again.
                self.positions.insert(key.clone(), first);
                tracing::error!(topic, partition, first, last, error = %e, "landing failed; offsets not committed and will be re-read");
                let mut tpl = TopicPartitionList::new();
                let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(first));
                if let Err(e) = consumer.seek_partitions(tpl, Duration::from_secs(5)) {
                    tracing::error!(topic, partition, error = %e, "cannot rewind after a landing failure");
                }
                return Err(e);
            }
        }
        // For lag tools only: the commit log already holds the truth.
        let mut tpl = TopicPartitionList::new();
        if tpl
            .add_partition_offset(topic, *partition, Offset::Offset(last + 1))
            .is_ok()
        {
            if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
                tracing::warn!(topic, partition, error = %e, "group offset commit failed (lag monitoring only)");
            }
        }
        self.faults.reached(FaultPoint::AfterGroupCommit);
        Ok(())
    }
}
