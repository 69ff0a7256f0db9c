//! `lpmhss simulate`: a realistic synthetic feed to Kafka or an NDJSON file.

use crate::cli::SimulateArgs;
use crate::event::reference;
use crate::ingest::produce::{ensure_topics, produce, Batching};
use crate::simulate::{history, SimConfig};
use anyhow::{bail, Context};
use std::io::{BufWriter, Write};
use std::process::ExitCode;

/// The simulator configuration a command line asks for.
pub fn sim_config(args: &SimulateArgs) -> anyhow::Result<SimConfig> {
    for b in &args.boards {
        if reference::board(b).is_none() {
            bail!("--boards: {b} is not a health board code (7A1 … 7A7)");
        }
    }
    let mut cfg = SimConfig {
        months: args.months,
        seed: args.seed,
        referrals_per_month: args.referrals_per_month,
        duplicate_share: args.duplicate_share,
        correction_share: args.correction_share,
        retraction_share: args.retraction_share,
        late_share: args.late_share,
        invalid_share: args.invalid_share,
        ..SimConfig::default()
    };
    if !args.boards.is_empty() {
        cfg.boards = args.boards.clone();
    }
    if let Some(end) = args.end {
        cfg.end = end;
    }
    Ok(cfg)
}

/// `lpmhss simulate`.
pub fn simulate_command(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let cfg = sim_config(&args)?;
    let limit = if args.limit == 0 {
        u64::MAX
    } else {
        args.limit
    };
    let messages = history(&cfg).take(limit as usize);
    let started = std::time::Instant::now();
    let sent = match (&args.out, &args.brokers) {
        (Some(out), _) => {
            let sink: Box<dyn Write> = if out == "-" {
                Box::new(std::io::stdout().lock())
            } else {
                Box::new(
                    std::fs::File::create(out).with_context(|| format!("cannot create {out}"))?,
                )
            };
            let mut w = BufWriter::with_capacity(1 << 20, sink);
            let mut n = 0u64;
            for m in messages {
                w.write_all(&m.payload)?;
                w.write_all(b"\n")?;
                n += 1;
                if n.is_multiple_of(1_000_000) {
                    eprintln!("lpmhss: simulate: {n} messages written");
                }
            }
            w.flush()?;
            n
        }
        (None, Some(brokers)) => {
            let rt = super::runtime()?;
            rt.block_on(ensure_topics(brokers, &cfg.boards, 1))
                .context("cannot create the board topics")?;
            produce(
                brokers,
                messages,
                args.rate,
                Batching::Batched,
                |n| eprintln!("lpmhss: simulate: {n} messages produced"),
                &|| false,
            )?
        }
        (None, None) => bail!("give --brokers HOST:PORT or --out FILE.ndjson"),
    };
    eprintln!(
        "lpmhss: simulate: {sent} messages in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
