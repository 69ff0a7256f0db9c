//! `lpmhss serve`: the long-running service. Wires the Kafka consumer (its own thread), the
//! periodic computation and the admin listener, and drains them in order on shutdown:
//! stop polling → flush → fsync → commit → stop HTTP, within the grace period.

use super::files::{today_in_wales, validator_for};
use crate::cli::ServeArgs;
use crate::compliance::{materialise, Derivation, Month};
use crate::config::Config;
use crate::fault::FaultPlan;
use crate::ingest::kafka::{client_config, run_consumer, FlushPolicy, Pipeline};
use crate::landing::{CommitLog, DataDir, Landing};
use crate::status::ServiceStatus;
use crate::telemetry::Metrics;
use anyhow::Context;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Apply the command-line overrides of `serve` to a loaded configuration.
pub fn apply_overrides(config: &mut Config, args: &ServeArgs) {
    if let Some(b) = &args.brokers {
        config.kafka.brokers = b.clone();
    }
    if let Some(d) = &args.data_dir {
        config.data.dir = d.clone();
    }
    if let Some(a) = &args.admin_addr {
        config.admin.addr = a.clone();
    }
    if let Some(g) = &args.group_id {
        config.kafka.group_id = g.clone();
    }
}

/// `lpmhss serve`.
pub fn serve_command(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(args.config.config.as_deref())?;
    apply_overrides(&mut config, &args);
    if args.admin_addr.is_some() && config.admin.addr.parse::<std::net::SocketAddr>().is_err() {
        anyhow::bail!("--admin-addr {} is not HOST:PORT", config.admin.addr);
    }
    let rt = super::runtime()?;
    rt.block_on(async {
        let stop = crate::shutdown::install_signal_handlers();
        let service = Service::start(config, stop).await?;
        service.wait().await
    })
}

/// A running service.
pub struct Service {
    /// Shared state (metrics, latest computation).
    pub status: Arc<ServiceStatus>,
    /// The admin listener's bound address.
    pub admin_addr: std::net::SocketAddr,
    stop: CancellationToken,
    consumer: tokio::task::JoinHandle<Result<(), crate::ingest::kafka::ConsumerError>>,
    compute: std::thread::JoinHandle<()>,
    http: tokio::task::JoinHandle<std::io::Result<()>>,
    http_stop: CancellationToken,
    grace: Duration,
}

impl Service {
    /// Start every part; `stop` ends the service.
    pub async fn start(config: Config, stop: CancellationToken) -> anyhow::Result<Service> {
        let data_dir = DataDir::new(&config.data.dir);
        let validator = validator_for(&config, &config.data.dir)?;
        let metrics = Metrics::new(
            config.compute.target_ratio,
            config.admin.feed_silence_threshold.as_secs_f64(),
        );
        let status = Arc::new(ServiceStatus::new(
            metrics,
            config.compute.target_ratio,
            config.admin.feed_silence_threshold,
            config.admin.stale_after,
        ));
        let faults = Arc::new(FaultPlan::new(
            config.fault_point().map_err(anyhow::Error::msg)?,
            config.testing.crash_on_occurrence,
        ));
        // Identifies the process in commit-log entries; configuration is not re-read here.
        let writer = format!("serve {} pid {}", config.kafka.group_id, std::process::id());
        let landing = Landing::open(data_dir.clone(), writer, faults.clone())
            .with_context(|| format!("cannot open data directory {}", data_dir.root().display()))?;
        let policy = FlushPolicy {
            max_messages: config.landing.flush_max_messages,
            max_age: config.landing.flush_max_age,
            idle_age: config.landing.flush_idle_age,
            max_buffered: config.landing.flush_max_messages * 4,
        };
        let pipeline = Arc::new(Mutex::new(
            Pipeline::new(landing, validator, status.clone(), faults, policy)
                .context("cannot start the landing thread")?,
        ));

        let listener = TcpListener::bind(&config.admin.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.admin.addr))?;
        let admin_addr = listener.local_addr()?;
        tracing::info!(%admin_addr, "admin listener: /metrics /healthz /readyz /");
        let http_stop = CancellationToken::new();
        let http = tokio::spawn(crate::http::serve(
            listener,
            crate::http::router(status.clone()),
            http_stop.clone(),
        ));

        let compute = spawn_compute_thread(
            data_dir,
            status.clone(),
            config.compute.interval,
            config.compute.derivation(),
            stop.clone(),
        )
        .context("cannot start the computation thread")?;

        let kafka = client_config(&config.kafka, &config.kafka.brokers, &config.kafka.group_id);
        let pattern = config.kafka.topic_pattern.clone();
        let consumer_stop = stop.clone();
        let consumer = tokio::task::spawn_blocking(move || {
            let result = run_consumer(kafka, &pattern, pipeline, consumer_stop.clone());
            if let Err(e) = &result {
                tracing::error!(error = %e, "consumer stopped with an error");
                consumer_stop.cancel();
            }
            result
        });
        Ok(Service {
            status,
            admin_addr,
            stop,
            consumer,
            compute,
            http,
            http_stop,
            grace: config.shutdown.grace_period,
        })
    }

    /// Wait for the stop signal, then drain in order within the grace period.
    pub async fn wait(self) -> anyhow::Result<ExitCode> {
        self.stop.cancelled().await;
        let drained = tokio::time::timeout(self.grace, async {
            let consumer = self.consumer.await;
            let compute = self.compute;
            let _ = tokio::task::spawn_blocking(move || compute.join()).await;
            consumer
        })
        .await;
        self.http_stop.cancel();
        let _ = self.http.await;
        match drained {
            Err(_) => {
                tracing::error!(grace = ?self.grace, "shutdown did not finish within the grace period; anything not yet committed to the commit log will be re-read on restart");
                Ok(ExitCode::from(1))
            }
            Ok(Ok(Ok(()))) => {
                tracing::info!("stopped cleanly");
                Ok(ExitCode::SUCCESS)
            }
            Ok(Ok(Err(e))) => Err(e.into()),
            Ok(Err(join)) => Err(anyhow::anyhow!("consumer thread failed: {join}")),
        }
    }
}

/// CPU niceness of the computation's threads. While a backlog is caught up, ingest and the
/// computation compete for the same cores; landing comes first (every event must land, and the
/// figures are only as fresh as what has landed). Lower-priority threads still get whatever
/// the consumer leaves idle, so in the steady state the computation runs at full speed.
const COMPUTE_NICENESS: i32 = 10;

/// Run the periodic computation on its own thread and runtime (DataFusion's work never shares
/// worker threads with the admin listener) at a lower CPU priority.
fn spawn_compute_thread(
    data_dir: DataDir,
    status: Arc<ServiceStatus>,
    interval: Duration,
    derivation: Derivation,
    stop: CancellationToken,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("lpmhss-compute".into())
        .spawn(move || {
            lower_thread_priority();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .thread_name("lpmhss-compute")
                .on_thread_start(lower_thread_priority)
                .enable_all()
                .build();
            match runtime {
                Ok(rt) => rt.block_on(compute_loop(data_dir, status, interval, derivation, stop)),
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the computation runtime; stopping");
                    stop.cancel();
                }
            }
        })
}

/// Lower the calling thread's CPU priority (Linux nice values are per thread: `setpriority`
/// on the current "process" changes only the calling thread).
fn lower_thread_priority() {
    if let Err(e) = rustix::process::setpriority_process(None, COMPUTE_NICENESS) {
        tracing::debug!(error = %e, "cannot lower the computation thread's priority");
    }
}

/// Recompute, then wait a full `interval` before the next one. Waiting after (rather than
/// ticking at a fixed rate) bounds the share of the CPU recomputation takes while a large
/// backlog is caught up: a computation that takes longer than the interval is not followed
/// immediately by another. When nothing has landed since the last successful computation
/// (same commit-log sequence number) and the day has not changed, its result is still exact:
/// the loop confirms it (freshness metrics advance) instead of recomputing.
async fn compute_loop(
    data_dir: DataDir,
    status: Arc<ServiceStatus>,
    interval: Duration,
    derivation: Derivation,
    stop: CancellationToken,
) {
    let mut computed_from: Option<(u64, chrono::NaiveDate)> = None;
    loop {
        let input = match CommitLog::latest_seq_in(&data_dir.commit_log_dir()) {
            Ok(seq) => Some((seq, today_in_wales())),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the commit log; recomputing");
                None
            }
        };
        if input.is_some() && input == computed_from {
            status.metrics.confirmed_current(unix_now());
            tracing::debug!("nothing landed since the last computation; result confirmed");
        } else {
            // A computation over a large backlog can outlast the grace period: abandon it on
            // shutdown (derived tables are replaced only when complete, so nothing is half-written).
            tokio::select! {
                _ = stop.cancelled() => return,
                through = compute_once(&data_dir, &status, &derivation) => {
                    // What the computation covered, not what was committed when it was asked
                    // for: a batch whose files were not visible yet must be computed next time.
                    computed_from = match (through, input) {
                        (Some(seq), Some((_, day))) => Some((seq, day)),
                        _ => None,
                    };
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

fn unix_now() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1e6
}

/// Run one computation and publish it; on success, the last commit-log sequence number it
/// covered.
pub async fn compute_once(
    data_dir: &DataDir,
    status: &ServiceStatus,
    derivation: &Derivation,
) -> Option<u64> {
    let today = today_in_wales();
    match materialise(data_dir, today, derivation).await {
        Ok(c) => {
            status.metrics.computed(&c, Month::of(today), unix_now());
            tracing::debug!(
                seconds = c.duration.as_secs_f64(),
                derived = %c.derived,
                "computation finished"
            );
            let through = c.through_seq;
            status.computed(c);
            Some(through)
        }
        Err(e) => {
            tracing::error!(error = %e, "computation failed: metrics are stale");
            status.compute_failed();
            status.metrics.compute_failed();
            None
        }
    }
}
