//! Kafka ingest: a consumer-group member subscribed by regex to `lpmhss.events.<ods>`, landing
//! each partition exactly once via the commit log. The only module that imports rdkafka.

mod consumer;
mod context;
mod lander;
mod pipeline;

pub use consumer::{client_config, run_consumer, ConsumerError};
pub use pipeline::{FlushPolicy, Pipeline};
