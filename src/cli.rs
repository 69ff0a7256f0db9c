//! The command line: every subcommand and flag, parsed with clap. Values are checked here
//! (months, dates, formats) so a typo gets a one-line error before anything runs.

use crate::compliance::{DerivationMode, Dimension, Month};
use crate::output::Format;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// lpmhss: Mental Health (Wales) Measure Part 1 waiting times, from health-board events to
/// the official monthly table, Parquet for analysts and Prometheus metrics.
#[derive(Debug, Parser)]
#[command(name = "lpmhss", version, about, long_about = None)]
pub struct Cli {
    /// Log filter (e.g. `info`, `debug`, `lpmhss=debug`); default `info` or RUST_LOG.
    #[arg(long, global = true)]
    pub log_level: Option<String>,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Land NDJSON files (or `-` for stdin): valid events and dead letters; never stops on a bad line.
    Ingest(IngestArgs),
    /// Print the official monthly table (SPEC 5), or adjusted/equity variants.
    Report(ReportArgs),
    /// Run SQL over events, dead_letters, pathways, monthly, data_quality, waiting_list.
    Sql(SqlArgs),
    /// The waiting list on a date (SPEC 6.1).
    WaitingList(WaitingListArgs),
    /// Pathways about to breach (or past) 28 days on a date: a board's working list.
    Breaches(BreachesArgs),
    /// Data-quality flags and dead letters per board and month.
    DataQuality(DataQualityArgs),
    /// The official table in the long shape of the published StatsWales dataset.
    ExportStatswales(ExportArgs),
    /// Recompute and rewrite the derived tables (pathways, monthly, data_quality, waiting_list).
    Compute(ComputeArgs),
    /// Consume the board topics from Kafka, land, recompute and serve metrics.
    Serve(ServeArgs),
    /// Print the effective configuration (secrets redacted) and check it.
    CheckConfig(ConfigArg),
    /// Produce a realistic synthetic feed to Kafka or to an NDJSON file.
    Simulate(SimulateArgs),
    /// Run everything in one process: embedded broker, seven simulated boards, the serve
    /// pipeline and the status page.
    Demo(DemoArgs),
}

/// `--config FILE`.
#[derive(Debug, Args, Clone, Default)]
pub struct ConfigArg {
    /// Configuration file (TOML) layered over the built-in defaults.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `--derivation auto|full|incremental` (README "How a computation derives pathways").
#[derive(Debug, Args, Clone, Copy)]
pub struct DerivationArg {
    /// `auto`: start from the last computation's pathways, refreshed with the events committed
    /// since, when that is valid and cheaper; `full`: derive every pathway from every event;
    /// `incremental`: refresh whenever the last computation is valid. The figures are the same.
    /// (`--as-of` always derives from the events.)
    #[arg(
        long = "derivation",
        value_enum,
        default_value = "auto",
        value_name = "auto|full|incremental"
    )]
    pub mode: DerivationMode,
}

/// `--data-dir DIR`.
#[derive(Debug, Args, Clone)]
pub struct DataDirArg {
    /// The data directory.
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
}

/// `ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Data directory to land into (created if absent).
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
    /// NDJSON files; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// Skip recomputing the derived tables after landing.
    #[arg(long)]
    pub no_compute: bool,
    #[command(flatten)]
    /// How pathways are derived.
    pub derivation: DerivationArg,
    #[command(flatten)]
    /// Configuration.
    pub config: ConfigArg,
}

/// `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    /// Data directory.
    pub data: DataDirArg,
    /// First month (YYYY-MM); default the first month with activity.
    #[arg(long, value_name = "YYYY-MM")]
    pub from: Option<Month>,
    /// Last month (YYYY-MM); default the last month with activity.
    #[arg(long, value_name = "YYYY-MM")]
    pub to: Option<Month>,
    /// Only events recorded at or before this RFC 3339 instant exist.
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
    pub as_of: Option<DateTime<Utc>>,
    /// Output format.
    #[arg(long, default_value = "csv", value_name = "csv|json|table")]
    pub format: Format,
    /// Waits adjusted for patient-initiated delays (SPEC 6.2), labelled as such.
    #[arg(long)]
    pub adjusted: bool,
    /// Break down by a patient or referral attribute (SPEC 6.3).
    #[arg(long, value_name = "DIMENSION")]
    pub by: Option<Dimension>,
    /// Apply disclosure control (small-number suppression) for publication.
    #[arg(long)]
    pub publish: bool,
    #[command(flatten)]
    /// How pathways are derived.
    pub derivation: DerivationArg,
}

/// `sql`.
#[derive(Debug, Args)]
pub struct SqlArgs {
    #[command(flatten)]
    /// Data directory.
    pub data: DataDirArg,
    /// Output format.
    #[arg(long, default_value = "table", value_name = "csv|json|table")]
    pub format: Format,
    /// Only events recorded at or before this instant exist.
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
    pub as_of: Option<DateTime<Utc>>,
    /// The query.
    pub query: String,
}

/// `waiting-list`.
#[derive(Debug, Args)]
pub struct WaitingListArgs {
    #[command(flatten)]
    /// Data directory.
    pub data: DataDirArg,
    /// The snapshot date.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
    pub on: NaiveDate,
    /// Output format.
    #[arg(long, default_value = "csv", value_name = "csv|json|table")]
    pub format: Format,
    /// Only events recorded at or before this instant exist.
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
    pub as_of: Option<DateTime<Utc>>,
}

/// `breaches`.
#[derive(Debug, Args)]
pub struct BreachesArgs {
    #[command(flatten)]
    /// Data directory.
    pub data: DataDirArg,
    /// The snapshot date.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
    pub on: NaiveDate,
    /// Only this board.
    #[arg(long, value_name = "ODS")]
    pub board: Option<String>,
    /// Include pathways whose 28 days run out within this many days (already breached ones are
    /// always listed).
    #[arg(long, default_value_t = 7)]
    pub within: u32,
    /// Output format.
    #[arg(long, default_value = "csv", value_name = "csv|json|table")]
    pub format: Format,
    /// Only events recorded at or before this instant exist.
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
    pub as_of: Option<DateTime<Utc>>,
}

/// `data-quality`.
#[derive(Debug, Args)]
pub struct DataQualityArgs {
    #[command(flatten)]
    /// Data directory.
    pub data: DataDirArg,
    /// First month.
    #[arg(long, value_name = "YYYY-MM")]
    pub from: Option<Month>,
    /// Last month.
    #[arg(long, value_name = "YYYY-MM")]
    pub to: Option<Month>,
    /// Output format.
    #[arg(long, default_value = "csv", value_name = "csv|json|table")]
    pub format: Format,
}

/// `export-statswales`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    /// Data directory.
    pub data: DataDirArg,
    /// First month.
    #[arg(long, value_name = "YYYY-MM")]
    pub from: Month,
    /// Last month.
    #[arg(long, value_name = "YYYY-MM")]
    pub to: Month,
    /// Output format.
    #[arg(long, default_value = "csv", value_name = "csv|json|table")]
    pub format: Format,
}

/// `compute`.
#[derive(Debug, Args)]
pub struct ComputeArgs {
    #[command(flatten)]
    /// Data directory.
    pub data: DataDirArg,
    #[command(flatten)]
    /// How pathways are derived.
    pub derivation: DerivationArg,
    #[command(flatten)]
    /// Configuration (`[compute]`: `full_every`, `memory_mb`, `bucket_events`).
    pub config: ConfigArg,
}

/// `serve`.
#[derive(Debug, Args, Clone, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    /// Configuration.
    pub config: ConfigArg,
    /// Kafka bootstrap servers (overrides kafka.brokers).
    #[arg(long, value_name = "HOST:PORT[,…]")]
    pub brokers: Option<String>,
    /// Data directory (overrides data.dir).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Admin HTTP listener (overrides admin.addr).
    #[arg(long, value_name = "HOST:PORT")]
    pub admin_addr: Option<String>,
    /// Consumer group (overrides kafka.group_id).
    #[arg(long)]
    pub group_id: Option<String>,
}

/// `simulate`.
#[derive(Debug, Args, Clone)]
pub struct SimulateArgs {
    /// Produce to this Kafka cluster (topics `lpmhss.events.<ods>` must exist).
    #[arg(
        long,
        value_name = "HOST:PORT",
        conflicts_with = "out",
        required_unless_present = "out"
    )]
    pub brokers: Option<String>,
    /// Write NDJSON to this file instead (`-` for stdout).
    #[arg(long, value_name = "FILE.ndjson")]
    pub out: Option<String>,
    /// Boards to simulate, comma separated (default all seven).
    #[arg(long, value_delimiter = ',', value_name = "ODS,…")]
    pub boards: Vec<String>,
    /// Messages per second when producing (0 = as fast as possible).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Months of history.
    #[arg(long, default_value_t = 12)]
    pub months: u32,
    /// Random seed: the same seed gives the same feed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Wales referrals per month (default ~6,500).
    #[arg(long, default_value_t = 6500)]
    pub referrals_per_month: u32,
    /// Stop after this many messages (0 = the whole history).
    #[arg(long, default_value_t = 0)]
    pub limit: u64,
    /// The simulated "now" (RFC 3339); default the current time.
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
    pub end: Option<DateTime<Utc>>,
    /// Share of duplicate messages.
    #[arg(long, default_value_t = 0.01)]
    pub duplicate_share: f64,
    /// Share of corrections.
    #[arg(long, default_value_t = 0.01)]
    pub correction_share: f64,
    /// Share of retractions.
    #[arg(long, default_value_t = 0.005)]
    pub retraction_share: f64,
    /// Share of late events.
    #[arg(long, default_value_t = 0.02)]
    pub late_share: f64,
    /// Share of invalid messages.
    #[arg(long, default_value_t = 0.005)]
    pub invalid_share: f64,
}

/// `demo`.
#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Data directory (default: a fresh `lpmhss-demo` directory under the system temp dir).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Admin listener port on 127.0.0.1.
    #[arg(long, default_value_t = 9464)]
    pub port: u16,
    /// Months of history to backfill.
    #[arg(long, default_value_t = 13)]
    pub months: u32,
    /// Live messages per second after the backfill.
    #[arg(long, default_value_t = 20)]
    pub rate: u64,
    /// Exit after this long (e.g. `90s`); default: run until Ctrl-C.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("'{s}' is not an RFC 3339 instant: use e.g. 2025-05-01T00:00:00Z"))
}

fn parse_day(s: &str) -> Result<NaiveDate, String> {
    crate::event::parse_date(s).ok_or_else(|| format!("'{s}' is not a date: use YYYY-MM-DD"))
}
