//! lpmhss: the NHS Wales pipeline for the Mental Health (Wales) Measure 2010 Part 1 waiting
//! times. Health boards' events arrive from Kafka (or NDJSON files), are validated and
//! pseudonymised, land as Parquet, and the two 28-day measures are computed with DataFusion
//! and served to Prometheus and a status page.
//!
//! Code map (data flows top to bottom):
//! - [`ingest`]: Kafka consumer and file reader; the only module importing rdkafka.
//! - [`event`]: the event contract: validation, pseudonymisation, reason codes (pure).
//! - [`landing`]: Parquet files, partitions and the commit log; the only module writing data.
//! - [`compliance`]: SPEC 4–6 as SQL over the landed data; the only module importing DataFusion.
//! - [`telemetry`]: logging and the Prometheus metrics facade (every metric name).
//! - [`http`]: the admin listener: /metrics, /healthz, /readyz and the status page.
//! - [`simulate`]: a realistic synthetic feed for tests, benchmarks and the demo.
//! - [`app`], [`cli`], [`config`], [`shutdown`]: wiring.

pub mod app;
pub mod cli;
pub mod compliance;
pub mod config;
pub mod disclosure;
pub mod event;
pub mod fault;
pub mod http;
pub mod ingest;
pub mod key_store;
pub mod landing;
pub mod output;
pub mod shutdown;
pub mod simulate;
pub mod status;
pub mod telemetry;
