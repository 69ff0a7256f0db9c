//! The consumer context: rebalance handling and statistics. On assignment every partition is
//! positioned from the landing commit log (the source of truth), never from the group's
//! committed offsets; on revocation the revoked partitions' buffers are flushed and the
//! callback returns only when every batch of theirs, including those already with the landing
//! thread, has landed (or failed and been dropped: never committed, so the next owner re-reads
//! them).

use super::pipeline::Pipeline;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use std::sync::{Arc, Mutex};

/// Context shared by the consumer and its callbacks.
pub struct LandingContext {
    pub(super) pipeline: Arc<Mutex<Pipeline>>,
}

impl ClientContext for LandingContext {
    fn stats(&self, stats: Statistics) {
        let pipeline = self.pipeline.lock().unwrap_or_else(|e| e.into_inner());
        for (topic, t) in &stats.topics {
            for (partition, p) in &t.partitions {
                if *partition >= 0 && pipeline.is_assigned(topic, *partition) {
                    pipeline
                        .metrics()
                        .consumer_lag(topic, *partition, p.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for LandingContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let mut pipeline = self.pipeline.lock().unwrap_or_else(|e| e.into_inner());
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let parts: Vec<(String, i32)> = tpl
                    .elements()
                    .iter()
                    .map(|e| (e.topic().to_string(), e.partition()))
                    .collect();
                let positions = pipeline.on_assign(&parts);
                for ((topic, partition), next) in parts.iter().zip(positions) {
                    let offset = next.map_or(Offset::Beginning, Offset::Offset);
                    if let Err(e) = tpl.set_partition_offset(topic, *partition, offset) {
                        tracing::error!(topic, partition, error = %e, "cannot position partition");
                    }
                }
                if let Err(e) = consumer.assign(tpl) {
                    tracing::error!(error = %e, "assign failed");
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                let parts: Vec<(String, i32)> = tpl
                    .elements()
                    .iter()
                    .map(|e| (e.topic().to_string(), e.partition()))
                    .collect();
                pipeline.on_revoke(&parts, consumer);
                if let Err(e) = consumer.unassign() {
                    tracing::error!(error = %e, "unassign failed");
                }
            }
            other => {
                tracing::error!(error = ?other, "rebalance error: dropping the assignment");
                let all = pipeline.assigned();
                pipeline.on_revoke(&all, consumer);
                let _ = consumer.unassign();
            }
        }
    }
}
