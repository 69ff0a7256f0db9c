//! The consume loop: a blocking thread that polls, hands messages to the [`Pipeline`] and flushes
//! on size or age. The age trigger runs every poll timeout, so a quiet board's last events land
//! even when nothing else arrives; so does the commit of batches the landing thread has landed.
//! A poll that returns nothing means the consumer has caught up: partial batches older than
//! `landing.flush_idle_age` land then instead of waiting for `flush_max_age`.
//! On shutdown: stop polling, flush and wait for every batch to land, commit, close.

use super::context::LandingContext;
use super::pipeline::Pipeline;
use crate::config::KafkaConfig;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Errors that stop the consumer.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// librdkafka refused the configuration or the subscription.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// Landing failed at shutdown: the unflushed messages were not committed and will be re-read.
    #[error("final flush failed: {0}")]
    FinalFlush(#[from] crate::landing::LandingError),
}

/// librdkafka settings for the landing consumer. Auto-commit and auto offset store are off:
/// offsets are committed by the pipeline after the commit log.
pub fn client_config(kafka: &KafkaConfig, brokers: &str, group_id: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        .set("group.id", group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set("session.timeout.ms", kafka.session_timeout_ms.to_string())
        .set(
            "max.poll.interval.ms",
            kafka.max_poll_interval_ms.to_string(),
        )
        .set(
            "topic.metadata.refresh.interval.ms",
            kafka.metadata_refresh_ms.to_string(),
        )
        .set(
            "queued.max.messages.kbytes",
            kafka.queued_max_messages_kbytes.to_string(),
        )
        .set("statistics.interval.ms", "5000")
        // Round-robin spreads single-partition board topics across group members.
        .set("partition.assignment.strategy", "roundrobin")
        .set("client.id", format!("lpmhss-{}", std::process::id()));
    for (k, v) in &kafka.properties {
        c.set(k, v.expose());
    }
    c
}

/// Poll until `stop` is cancelled, then flush and commit. Blocking: run on its own thread.
pub fn run_consumer(
    config: ClientConfig,
    topic_pattern: &str,
    pipeline: Arc<Mutex<Pipeline>>,
    stop: CancellationToken,
) -> Result<(), ConsumerError> {
    let context = LandingContext {
        pipeline: pipeline.clone(),
    };
    let consumer: BaseConsumer<LandingContext> = config.create_with_context(context)?;
    consumer.subscribe(&[topic_pattern])?;
    tracing::info!(pattern = topic_pattern, "subscribed");
    let lock = || pipeline.lock().unwrap_or_else(|e| e.into_inner());
    let mut last_error_log = Instant::now() - Duration::from_secs(60);
    while !stop.is_cancelled() {
        match consumer.poll(Duration::from_millis(100)) {
            // Nothing arrived for a whole poll timeout: every prefetched message is buffered.
            None => lock().flush_idle(),
            Some(Ok(m)) => {
                let full = lock().accept(m.topic(), m.partition(), m.offset(), m.payload());
                if full {
                    lock().flush_due();
                }
            }
            Some(Err(e)) if last_error_log.elapsed() > Duration::from_secs(10) => {
                tracing::warn!(error = %e, "kafka poll error");
                last_error_log = Instant::now();
            }
            Some(Err(_)) => {}
        }
        let mut p = lock();
        // Failures are logged by the pipeline, which rewinds the partition: its messages are
        // read again and retried with the next batch.
        let _ = p.collect_landed(&consumer);
        p.flush_due();
    }
    tracing::info!("stopping: flushing buffered messages");
    lock().flush_all(&consumer)?;
    if let Ok(tpl) = consumer.assignment() {
        if tpl.count() > 0 {
            let _ = consumer.commit_consumer_state(CommitMode::Sync);
        }
    }
    drop(consumer);
    tracing::info!("consumer closed");
    Ok(())
}
