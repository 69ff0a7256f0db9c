//! `ingest` and `compute`: the file-based path into the data directory.

use crate::cli::{ComputeArgs, IngestArgs};
use crate::compliance::Derivation;
use crate::config::Config;
use crate::event::{Pseudonymiser, Validator};
use crate::fault::FaultPlan;
use crate::ingest::{ingest_inputs, open_inputs, IngestSummary};
use crate::key_store::{resolve_key, KeySource};
use crate::landing::{DataDir, Landing};
use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// The validator with the configured or locally kept key; announces a new key once.
pub fn validator_for(config: &Config, data_dir: &Path) -> anyhow::Result<Validator> {
    let (key, source) = resolve_key(&config.privacy, data_dir)?;
    if let KeySource::Created(path) = &source {
        eprintln!(
            "lpmhss: no pseudonymisation key configured; created a random one in {} (mode 0600). \
             Keep it to keep pseudonyms stable; in production set LPMHSS__PRIVACY__PSEUDONYMISATION_KEY.",
            path.display()
        );
    }
    Ok(Validator::new(Pseudonymiser::new(&key)))
}

/// Today's date in Wales (Europe/London), the civil date every report is about.
pub fn today_in_wales() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive()
}

/// `lpmhss ingest`.
pub fn ingest(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(args.config.config.as_deref())?;
    let inputs = open_inputs(&args.files)?;
    let validator = validator_for(&config, &args.data_dir)?;
    let faults = Arc::new(FaultPlan::new(
        config.fault_point().map_err(anyhow::Error::msg)?,
        config.testing.crash_on_occurrence,
    ));
    let data_dir = DataDir::new(&args.data_dir);
    // Unique per process, like serve's: it tags this run's temporary files.
    let writer = format!("ingest pid {}", std::process::id());
    let mut landing = Landing::open(data_dir.clone(), writer, faults)
        .with_context(|| format!("cannot open data directory {}", args.data_dir.display()))?;
    let summary = ingest_inputs(
        &mut landing,
        &validator,
        inputs,
        config.landing.file_batch_lines,
        |p| {
            let rate = p.summary.lines_read as f64 / p.elapsed.as_secs_f64().max(0.001);
            eprintln!(
                "lpmhss: {}: {} lines read ({:.0}/s), {} landed, {} dead-lettered",
                p.input,
                p.summary.lines_read,
                rate,
                p.summary.landed,
                p.summary.dead_letters()
            );
        },
    )?;
    print_summary(&summary);
    if !args.no_compute {
        let rt = super::runtime()?;
        let derivation = Derivation {
            mode: args.derivation.mode,
            ..config.compute.derivation()
        };
        let c = rt.block_on(crate::compliance::materialise(
            &data_dir,
            today_in_wales(),
            &derivation,
        ))?;
        eprintln!(
            "lpmhss: derived tables rebuilt in {:.2}s ({})",
            c.duration.as_secs_f64(),
            c.derived
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(s: &IngestSummary) {
    println!("lines read:      {}", s.lines_read);
    println!("landed:          {}", s.landed);
    println!("dead-lettered:   {}", s.dead_letters());
    for (reason, n) in &s.dead_lettered {
        println!("  {reason:<27} {n}");
    }
    if s.blank_lines > 0 {
        println!("blank lines skipped: {}", s.blank_lines);
    }
    println!("unknown fields dropped: {}", s.unknown_fields_dropped);
    println!("batches committed: {}", s.batches);
}

/// `lpmhss compute`.
pub async fn compute(args: ComputeArgs) -> anyhow::Result<ExitCode> {
    let data_dir = DataDir::new(&args.data.data_dir);
    let config = Config::load(args.config.config.as_deref())?;
    // The command line chooses the mode; the configuration the rest.
    let derivation = Derivation {
        mode: args.derivation.mode,
        ..config.compute.derivation()
    };
    let c = crate::compliance::materialise(&data_dir, today_in_wales(), &derivation).await?;
    eprintln!(
        "lpmhss: derived tables rebuilt in {:.2}s ({} monthly rows, {} waiting-list rows; {})",
        c.duration.as_secs_f64(),
        c.monthly.len(),
        c.waiting.len(),
        c.derived
    );
    Ok(ExitCode::SUCCESS)
}
