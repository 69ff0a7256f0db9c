//! Ingest: getting messages in. File ingest (NDJSON, the backfill path) and the Kafka consumer
//! (the only code that imports rdkafka) both hand raw bytes to `event` and batches to `landing`.

pub mod file;
mod lines;

pub use file::{ingest_inputs, open_inputs, FileIngestError, IngestSummary, Progress};
pub mod embedded;
pub mod kafka;
pub mod produce;
