//! Producing to the board topics: topic creation and a rate-limited producer for simulated
//! feeds (`lpmhss simulate`, the demo, tests and benchmarks).

use crate::event::reference::topic_of_board;
use crate::simulate::SimMessage;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Errors producing a feed.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    /// Kafka refused.
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// Topic creation failed.
    #[error("cannot create topic {0}: {1}")]
    CreateTopic(String, String),
    /// Messages were not acknowledged.
    #[error("{0} messages were not delivered")]
    Undelivered(u64),
}

/// Create `lpmhss.events.<ods>` for each board with `partitions` partitions (existing topics
/// are left alone).
pub async fn ensure_topics(
    brokers: &str,
    boards: &[String],
    partitions: i32,
) -> Result<(), ProduceError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let names: Vec<String> = boards.iter().map(|b| topic_of_board(b)).collect();
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|n| NewTopic::new(n, partitions, TopicReplication::Fixed(1)))
        .collect();
    let results = admin
        .create_topics(
            &topics,
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await?;
    for r in results {
        if let Err((name, code)) = r {
            if code != RDKafkaErrorCode::TopicAlreadyExists {
                return Err(ProduceError::CreateTopic(name, code.to_string()));
            }
        }
    }
    Ok(())
}

#[derive(Default)]
struct DeliveryCount {
    failed: Arc<AtomicU64>,
}

impl ClientContext for DeliveryCount {}
impl ProducerContext for DeliveryCount {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if result.is_err() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// How the producer groups messages into record batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batching {
    /// librdkafka's batching and lz4 compression: what a board's producer would do.
    Batched,
    /// One message per record batch, so every offset starts a batch. The in-memory tansu
    /// broker used in tests returns nothing for a fetch that starts inside a batch, which a
    /// resumed consumer does; real Kafka returns the whole batch.
    PerMessage,
}

/// Produce `messages` to their board topics at `rate` per second (0 = as fast as possible),
/// calling `progress(sent)` about every two seconds. Returns the number sent.
pub fn produce(
    brokers: &str,
    messages: impl Iterator<Item = SimMessage>,
    rate: u64,
    batching: Batching,
    mut progress: impl FnMut(u64),
    stop: &dyn Fn() -> bool,
) -> Result<u64, ProduceError> {
    let failed = Arc::new(AtomicU64::new(0));
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("queue.buffering.max.messages", "200000");
    match batching {
        Batching::Batched => config.set("linger.ms", "20").set("compression.type", "lz4"),
        Batching::PerMessage => config.set("linger.ms", "0").set("batch.num.messages", "1"),
    };
    let producer: BaseProducer<DeliveryCount> = config.create_with_context(DeliveryCount {
        failed: failed.clone(),
    })?;
    let started = Instant::now();
    let mut last_progress = Instant::now();
    let mut sent = 0u64;
    for m in messages {
        if stop() {
            break;
        }
        let topic = topic_of_board(&m.board);
        let mut record = BaseRecord::to(&topic).key(&m.key).payload(&m.payload);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(50));
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
        sent += 1;
        if sent.is_multiple_of(1000) {
            producer.poll(Duration::ZERO);
        }
        if rate > 0 {
            let due = Duration::from_secs_f64(sent as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                producer.poll(wait);
            }
        }
        if last_progress.elapsed() >= Duration::from_secs(2) {
            last_progress = Instant::now();
            progress(sent);
        }
    }
    producer.flush(Duration::from_secs(60))?;
    match failed.load(Ordering::Relaxed) {
        0 => Ok(sent),
        n => Err(ProduceError::Undelivered(n)),
    }
}
