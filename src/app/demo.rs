//! `lpmhss demo`: the whole system in one process for a newcomer. An embedded Kafka-protocol
//! broker (librdkafka's mock cluster), seven simulated board feeds (a backfill of history, then
//! a live trickle), and the very same `serve` pipeline and admin listener.

use super::serve::Service;
use crate::cli::DemoArgs;
use crate::compliance::Month;
use crate::config::Config;
use crate::ingest::embedded::EmbeddedBroker;
use crate::ingest::produce::{produce, Batching};
use crate::simulate::{history, LiveFeed, SimConfig};
use anyhow::Context;
use std::process::ExitCode;
use std::time::Duration;

/// `lpmhss demo`.
pub fn demo_command(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let data_dir = args.data_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "lpmhss-demo-{}",
            chrono::Utc::now().format("%Y%m%d-%H%M%S")
        ))
    });
    let rt = super::runtime()?;
    rt.block_on(run(args, data_dir))
}

async fn run(args: DemoArgs, data_dir: std::path::PathBuf) -> anyhow::Result<ExitCode> {
    let cluster = EmbeddedBroker::start().context("cannot start the embedded broker")?;
    let brokers = cluster.bootstrap_servers();

    let mut config = Config::load(None)?;
    config.kafka.brokers = brokers.clone();
    config.kafka.group_id = "lpmhss-demo".into();
    config.kafka.metadata_refresh_ms = 2000;
    config.data.dir = data_dir.clone();
    config.admin.addr = format!("127.0.0.1:{}", args.port);
    config.compute.interval = Duration::from_secs(5);
    config.landing.flush_max_age = Duration::from_secs(1);
    config.landing.flush_max_messages = 20_000;
    config.shutdown.grace_period = Duration::from_secs(20);

    let stop = crate::shutdown::install_signal_handlers();
    if let Some(d) = args.duration {
        let s = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(d).await;
            s.cancel();
        });
    }
    let service = Service::start(config, stop.clone()).await?;
    let base = format!("http://{}", service.admin_addr);
    println!("lpmhss demo is running (Ctrl-C to stop)");
    println!("  status page:    {base}/   (Welsh: {base}/?lang=cy)");
    println!("  metrics:        {base}/metrics");
    println!("  data directory: {}", data_dir.display());
    println!("  embedded Kafka: {brokers} (topics lpmhss.events.7A1 … 7A7)");

    let feed = {
        let brokers = brokers.clone();
        let stopped = stop.clone();
        let (months, seed, rate) = (args.months, args.seed, args.rate);
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let cfg = SimConfig {
                months,
                seed,
                ..SimConfig::default()
            };
            let is_stopped = || stopped.is_cancelled();
            let backfilled = produce(
                &brokers,
                history(&cfg),
                0,
                Batching::Batched,
                |_| {},
                &is_stopped,
            )?;
            println!("  backfilled {backfilled} messages ({months} months of history); now {rate} live messages/s");
            let mut live = LiveFeed::new(&cfg);
            let live_messages =
                std::iter::from_fn(move || Some(live.next_message(chrono::Utc::now())));
            produce(
                &brokers,
                live_messages,
                rate.max(1),
                Batching::Batched,
                |_| {},
                &is_stopped,
            )?;
            Ok(())
        })
    };
    let progress = {
        let status = service.status.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => print_progress(&status),
                }
            }
        })
    };
    let code = service.wait().await?;
    progress.abort();
    match feed.await {
        Ok(Err(e)) => tracing::warn!(error = %e, "the simulated feed stopped with an error"),
        Err(e) => tracing::warn!(error = %e, "the simulated feed task failed"),
        Ok(Ok(())) => {}
    }
    drop(cluster);
    // Commands a newcomer can paste: the binary may not be on PATH yet.
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "lpmhss".into());
    let dir = data_dir.display();
    let today = super::files::today_in_wales();
    let month = Month::of(today).previous();
    println!("lpmhss demo stopped. The data stays in {dir}; try:");
    println!("  {exe} report --data-dir {dir} --format table --from {month} --to {month}");
    println!("  {exe} waiting-list --data-dir {dir} --on {today} --format table");
    println!("  {exe} sql --data-dir {dir} \"SELECT provider_lhb, count(*) FROM events GROUP BY 1 ORDER BY 1\"");
    println!("  python3 -c \"import duckdb; print(duckdb.sql(\\\"SELECT * FROM '{dir}/monthly/*.parquet' LIMIT 5\\\"))\"");
    Ok(code)
}

fn print_progress(status: &crate::status::ServiceStatus) {
    let landed = status.metrics.landed_per_board();
    let per_board: Vec<String> = landed.iter().map(|(b, n)| format!("{b} {n}")).collect();
    let line = match status.latest() {
        Some(c) => {
            let last = Month::of(c.today).previous().to_string();
            let wales = c
                .monthly
                .iter()
                .find(|r| r.provider_lhb == "WALES" && r.age_group == "all" && r.period == last);
            let pct = |s: Option<String>| {
                s.filter(|p| !p.is_empty())
                    .map_or("-".to_string(), |p| format!("{p}%"))
            };
            format!(
                "computed {:.1}s ago in {:.2}s; Wales {last}: Part 1a {} Part 1b {}",
                (chrono::Utc::now().timestamp_micros() as f64 / 1e6)
                    - status.metrics.last_compute_unix().unwrap_or(0.0),
                c.duration.as_secs_f64(),
                pct(wales.map(|w| w.assessments.pct_text())),
                pct(wales.map(|w| w.interventions.pct_text())),
            )
        }
        None => "first computation pending".into(),
    };
    println!("  landed: {} | {line}", per_board.join(", "));
}
