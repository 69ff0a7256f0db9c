//! Telemetry: logging set-up and the Prometheus metrics facade. Every metric name and label
//! set is defined in `metrics.rs` and nowhere else.

mod metrics;

pub use metrics::Metrics;

/// Structured logs to stderr; `filter` (or RUST_LOG) picks the level, default `info`.
pub fn init_logging(filter: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = match filter {
        Some(f) => EnvFilter::new(f),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
