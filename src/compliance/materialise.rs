//! One computation: derive everything from the landed events and rebuild the derived tables
//! (`pathways`, `monthly`, `data_quality`, `waiting_list`), each replaced atomically, and
//! return what the metrics and the status page need.

use super::bucket_size::{fits_in_memory, resident_bytes, IN_MEMORY_BYTES_PER_EVENT};
use super::bucket_workers::workers;
use super::bucketed::{plan_buckets, Bucket, BucketSize};
use super::derivation_state::{
    fingerprint, plan, Derivation, DerivationPlan, DerivationState, VisibleCommits,
};
use super::engine::as_of_predicate;
use super::incremental::Refreshed;
use super::report::WaitKind;
use super::{ComplianceError, DataQualityRow, Engine, Month, MonthlyRow, WaitingRow};
use crate::landing::{write_parquet_replacing, write_parquet_replacing_with_metadata, DataDir};
use chrono::{DateTime, NaiveDate, Utc};
use datafusion::arrow::array::{ArrayRef, Decimal128Array, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The result of one computation.
#[derive(Debug, Clone)]
pub struct Computation {
    /// The official table over the whole activity range, extended to `today`'s month.
    pub monthly: Vec<MonthlyRow>,
    /// The waiting list on `today`.
    pub waiting: Vec<WaitingRow>,
    /// Data-quality flag counts.
    pub data_quality: Vec<DataQualityRow>,
    /// Newest `landed_at` per board.
    pub last_landed: BTreeMap<String, DateTime<Utc>>,
    /// The date the waiting list is for.
    pub today: NaiveDate,
    /// Wall time of the computation.
    pub duration: Duration,
    /// How `pathways` was derived.
    pub derived: Derived,
    /// The last commit-log sequence number whose events the figures include.
    pub through_seq: u64,
}

/// How a computation derived `pathways`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Derived {
    /// Every pathway from every event, and why.
    Full {
        /// Why no incremental refresh.
        reason: &'static str,
        /// Buckets derived one after another (and written as they were done) to bound memory;
        /// 1 when everything was derived at once.
        buckets: usize,
    },
    /// The previous computation refreshed with the events committed since.
    Incremental(Refreshed),
}

impl std::fmt::Display for Derived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Derived::Full { reason, buckets: 1 } => write!(f, "full derivation: {reason}"),
            Derived::Full { reason, buckets } => {
                write!(f, "full derivation in {buckets} buckets: {reason}")
            }
            Derived::Incremental(r) => write!(
                f,
                "incremental: {} new events, {} pathways derived again",
                r.new_events, r.pathways_rederived
            ),
        }
    }
}

/// A read-only session whose `pathways` reflects every committed event: the last computation's
/// table refreshed in memory with the events committed since, when it is valid and the backlog
/// is small (or `mode` is `Incremental`), else derived from every event (`mode` `Full` always
/// does). Nothing is written.
pub async fn open_current(
    data_dir: &DataDir,
    mode: super::DerivationMode,
) -> Result<(Engine, Derived), ComplianceError> {
    // The periodic full derivation is the computations' business, not a reader's.
    let derivation = Derivation {
        mode,
        full_every: Duration::MAX,
        ..Derivation::default()
    };
    let Pathways {
        engine, derived, ..
    } = plan_and_derive(data_dir, &derivation, Output::InMemory).await?;
    tracing::debug!(%derived, "pathways for a read-only command");
    Ok((engine, derived))
}

/// A read-only session over the events recorded at or before `as_of` (a snapshot: nothing is
/// reused from the last computation). Derived in memory when that fits the reader's memory
/// budget, else bucket by bucket into a scratch table (README "How a computation derives
/// pathways").
pub async fn open_as_of(
    data_dir: &DataDir,
    as_of: DateTime<Utc>,
) -> Result<Engine, ComplianceError> {
    if !data_dir.root().is_dir() {
        return Err(ComplianceError::NoDataDir(data_dir.root().to_path_buf()));
    }
    let visible = VisibleCommits::read(data_dir)?;
    let Some((buckets, size)) =
        full_derivation_buckets(&visible, &Derivation::default(), Output::InMemory)
    else {
        return Engine::open(data_dir, Some(as_of)).await;
    };
    let engine = Engine::session(data_dir, true).await?;
    let dest = scratch_table(&engine)?;
    let scope = as_of_predicate(Some(as_of));
    let buckets = engine
        .derive_in_buckets(&buckets, size, &dest, &[], &scope)
        .await?;
    tracing::debug!(buckets, "snapshot derived in buckets");
    Ok(engine)
}

/// Measured peak of a bucketed derivation per event of its largest bucket, rounded up: a
/// bucket also holds its events in scope as a table, where an in-memory derivation reads them
/// from Parquet (9.6 GB for a bucket of 10.9M events at 50M: BENCHMARKS.md).
const BUCKET_BYTES_PER_EVENT: u64 = 1024;

/// Above this many events a reader derives in buckets even when everything would fit in memory:
/// buckets are derived concurrently (`bucket_workers.rs`), which is faster than one derivation
/// of everything from 1M events up (1.15 s instead of 1.27 s at 1M, 3.7 s instead of 4.3 s at
/// ten years of Wales, 13 s instead of 15-18 s at 10M: benches/e2e/NOTES.md), and holds less.
/// Below it the fixed cost of buckets (finding the copies of repeated ids first) is not repaid.
const READER_IN_MEMORY_EVENTS: u64 = 500_000;

/// The largest bucket a reader derives, whatever its memory budget: larger buckets were slower
/// as well as larger (`report --derivation full` at 50M, two workers: 83 s at 6.8 GB in buckets
/// of 3.5M events, 75 s at 3.0 GB in buckets of 2M, 79 s at 1.8 GB in buckets of 1M).
const READER_MAX_BUCKET_EVENTS: u64 = 2_000_000;

/// The buckets of a full derivation, and how to size them; none (everything at once, in
/// memory) when it is small enough. A computation writes its table as it goes: with
/// `bucket_events` set it buckets above that many events (0: never); otherwise it derives in
/// memory when that fits `memory_mb` and else in buckets sized to what is left of it once the
/// copies of repeated ids are found (`bucket_size.rs`), which bounds the memory of `serve`.
/// A reader (`report`, `sql`, …) writes nothing it keeps: it derives a small store (up to
/// [`READER_IN_MEMORY_EVENTS`]) in memory when that fits its memory budget
/// ([`reader_memory_budget`]), and otherwise in buckets sized to the budget, written to a
/// scratch table: faster from that size up, and it never runs the machine out of memory.
fn full_derivation_buckets(
    visible: &VisibleCommits,
    derivation: &Derivation,
    output: Output,
) -> Option<(Vec<Bucket>, BucketSize)> {
    let events = visible.event_rows();
    let (per_bucket, size) = match (output, derivation.bucket_events) {
        (Output::Table, Some(fixed)) => (fixed, BucketSize::AsPlanned),
        (Output::Table, None) => {
            let budget = derivation.memory_mb.saturating_mul(1 << 20);
            if fits_in_memory(events, resident_bytes(), budget) {
                return None;
            }
            // One bucket per board for now: derive_in_buckets splits them again to the memory
            // left once the copies of repeated ids are found.
            return plan_buckets(visible, u64::MAX).map(|b| (b, BucketSize::ToMemory { budget }));
        }
        (Output::InMemory, _) => {
            let budget = reader_memory_budget();
            if events <= READER_IN_MEMORY_EVENTS
                && events.saturating_mul(IN_MEMORY_BYTES_PER_EVENT) <= budget
            {
                return None;
            }
            // Every worker holds a bucket at once (bucket_workers.rs).
            (
                (budget / BUCKET_BYTES_PER_EVENT / workers() as u64)
                    .clamp(1, READER_MAX_BUCKET_EVENTS),
                BucketSize::AsPlanned,
            )
        }
    };
    if per_bucket == 0 || events <= per_bucket {
        return None;
    }
    plan_buckets(visible, per_bucket).map(|b| (b, size))
}

/// The memory a read-only command may use for a derivation held in memory: `LPMHSS_READER_MEMORY_MB`
/// when set, else half of the memory available now (`MemAvailable`), else 4 GiB.
fn reader_memory_budget() -> u64 {
    const MIB: u64 = 1024 * 1024;
    if let Some(mb) = std::env::var("LPMHSS_READER_MEMORY_MB")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return mb.saturating_mul(MIB);
    }
    let available_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("MemAvailable:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        });
    available_kib.map_or(4096 * MIB, |kib| kib * 1024 / 2)
}

/// A scratch file for a reader's `pathways` table, in the system's temporary directory
/// (`TMPDIR`), removed with the session.
fn scratch_table(engine: &Engine) -> Result<std::path::PathBuf, ComplianceError> {
    let dir = tempfile::Builder::new()
        .prefix("lpmhss-pathways-")
        .tempdir()
        .map_err(|e| ComplianceError::Io(std::env::temp_dir(), e))?;
    let file = dir.path().join("pathways.parquet");
    engine.hold_scratch(dir);
    Ok(file)
}

/// Whether the derivation's `pathways` is only for this session or replaces the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    /// A read-only command: nothing is written.
    InMemory,
    /// A computation: the table is replaced. Large derivations write it as they go (bounded
    /// memory) and say so in [`Pathways::written`].
    Table,
}

/// What [`plan_and_derive`] produced.
struct Pathways {
    engine: Engine,
    derived: Derived,
    state: DerivationState,
    visible: VisibleCommits,
    /// Whether the `pathways` file was already replaced (with `state` in its footer).
    written: bool,
}

/// Read the commit log and the previous table's state, choose between a full derivation and a
/// refresh, and derive. The commit log is read before any event file is listed: every file it
/// names is then included, and files committed meanwhile are at worst derived twice, never
/// missed.
async fn plan_and_derive(
    data_dir: &DataDir,
    derivation: &Derivation,
    output: Output,
) -> Result<Pathways, ComplianceError> {
    if !data_dir.root().is_dir() {
        return Err(ComplianceError::NoDataDir(data_dir.root().to_path_buf()));
    }
    let visible = VisibleCommits::read(data_dir)?;
    let previous = DerivationState::read(&data_dir.derived_file("pathways"));
    let chosen = plan(
        derivation.mode,
        previous,
        &visible,
        chrono::Utc::now(),
        derivation.full_every,
    );
    derive(data_dir, chosen, visible, derivation, output).await
}

/// Open a session and derive `pathways` as `plan` says.
async fn derive(
    data_dir: &DataDir,
    plan: DerivationPlan,
    visible: VisibleCommits,
    derivation: &Derivation,
    output: Output,
) -> Result<Pathways, ComplianceError> {
    let started = chrono::Utc::now();
    let pathways_file = data_dir.derived_file("pathways");
    match plan {
        DerivationPlan::Full { reason } => {
            let state = DerivationState {
                through_seq: visible.through_seq,
                fingerprint: fingerprint(),
                full_at: started,
            };
            if let Some((buckets, size)) = full_derivation_buckets(&visible, derivation, output) {
                // Filter pushdown: a bucket's scan decodes the other columns only for its rows.
                let engine = Engine::session(data_dir, true).await?;
                let dest = match output {
                    Output::Table => pathways_file,
                    Output::InMemory => scratch_table(&engine)?,
                };
                let buckets = engine
                    .derive_in_buckets(&buckets, size, &dest, &state.to_metadata(), "TRUE")
                    .await?;
                let derived = Derived::Full { reason, buckets };
                return Ok(Pathways {
                    engine,
                    derived,
                    state,
                    visible,
                    written: output == Output::Table,
                });
            }
            let engine = Engine::session(data_dir, false).await?;
            engine.derive_everything(None).await?;
            Ok(Pathways {
                engine,
                derived: Derived::Full { reason, buckets: 1 },
                state,
                visible,
                written: false,
            })
        }
        DerivationPlan::Incremental {
            previous,
            new_files,
        } => {
            let engine = Engine::session(data_dir, true).await?;
            let committed: Vec<_> = visible.event_files.iter().map(|f| f.1.clone()).collect();
            let state = DerivationState {
                through_seq: visible.through_seq,
                fingerprint: fingerprint(),
                full_at: previous.full_at,
            };
            // A computation streams the merge with the previous table into the new file (the
            // previous table is never held in memory); a reader merges in memory.
            let metadata = state.to_metadata();
            let write_to = (output == Output::Table).then_some(metadata.as_slice());
            let refreshed = engine
                .refresh_pathways(&pathways_file, &new_files, &committed, write_to)
                .await?;
            Ok(Pathways {
                engine,
                derived: Derived::Incremental(refreshed),
                state,
                visible,
                written: write_to.is_some(),
            })
        }
    }
}

/// Derive and rebuild the derived tables of `data_dir`; `today` is the local (Europe/London)
/// date used for the waiting list and for extending the table to the current month.
pub async fn materialise(
    data_dir: &DataDir,
    today: NaiveDate,
    derivation: &Derivation,
) -> Result<Computation, ComplianceError> {
    let started = Instant::now();
    let Pathways {
        engine,
        derived,
        state,
        visible,
        written: already_written,
    } = plan_and_derive(data_dir, derivation, Output::Table).await?;
    tracing::debug!(%derived, through_seq = state.through_seq, "pathways derived");
    let through_seq = state.through_seq;

    // The widest derived table is encoded on a blocking thread while the other tables are
    // computed; the computation is complete only when it is written too. A bucketed derivation
    // or a refresh has written it already, as it went.
    let pathways_file = data_dir.derived_file("pathways");
    let pathways_written = if already_written {
        None
    } else {
        let (schema, batches) = engine.query("SELECT * FROM pathways").await?;
        Some(tokio::task::spawn_blocking(move || {
            let step = Instant::now();
            write_parquet_replacing_with_metadata(
                &pathways_file,
                schema,
                &batches,
                &state.to_metadata(),
            )?;
            written("pathways", step);
            Ok::<(), ComplianceError>(())
        }))
    };

    let step = Instant::now();
    let current = Month::of(today);
    let range = engine.activity_range().await?;
    let from = range.map_or(current, |r| r.0.min(current));
    let to = range.map_or(current, |r| r.1.max(current));
    let monthly = engine
        .monthly(Some(from), Some(to), WaitKind::Official)
        .await?;
    let (schema, batch) = monthly_batch(&monthly)?;
    write_parquet_replacing(&data_dir.derived_file("monthly"), schema, &[batch])?;
    written("monthly", step);

    let step = Instant::now();

    let (schema, batches) = engine.run(super::rules::DATA_QUALITY, &[]).await?;
    write_parquet_replacing(&data_dir.derived_file("data_quality"), schema, &batches)?;
    let data_quality = super::quality::data_quality_rows(&batches)?;
    written("data_quality", step);

    let step = Instant::now();

    let date = today.format("%Y-%m-%d").to_string();
    let (schema, batches) = engine
        .run(super::rules::WAITING_LIST, &[("on_date", &date)])
        .await?;
    write_parquet_replacing(&data_dir.derived_file("waiting_list"), schema, &batches)?;
    let waiting = super::waiting::waiting_rows(today, &batches)?;
    written("waiting_list", step);

    // Feed freshness per board, from the commit log read before the derivation.
    let last_landed = visible.last_landed.clone();
    if let Some(writing) = pathways_written {
        writing.await.map_err(|e| {
            ComplianceError::Io(data_dir.derived_file("pathways"), std::io::Error::other(e))
        })??;
    }
    Ok(Computation {
        monthly,
        waiting,
        data_quality,
        last_landed,
        today,
        duration: started.elapsed(),
        derived,
        through_seq,
    })
}

/// Per-step timing for `--log-level debug`, next to the derivation's per-stage lines.
fn written(table: &str, started: Instant) {
    tracing::debug!(
        table,
        seconds = started.elapsed().as_secs_f64(),
        "derived table written"
    );
}

/// The official table with exactly the published columns; percentages as DECIMAL(5,1) so
/// every reader sees the same rounded figure.
fn monthly_batch(rows: &[MonthlyRow]) -> Result<(SchemaRef, RecordBatch), ComplianceError> {
    let header = super::MONTHLY_HEADER;
    let fields: Vec<Field> = header
        .iter()
        .map(|name| match *name {
            "period" | "provider_lhb" | "age_group" => Field::new(*name, DataType::Utf8, false),
            n if n.ends_with("_pct_within_28") => Field::new(n, DataType::Decimal128(5, 1), true),
            n => Field::new(n, DataType::UInt64, false),
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let text = |f: fn(&MonthlyRow) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    let count = |f: fn(&MonthlyRow) -> u64| -> ArrayRef {
        Arc::new(UInt64Array::from_iter_values(rows.iter().map(f)))
    };
    let pct = |f: fn(&MonthlyRow) -> Option<i64>| -> Result<ArrayRef, ComplianceError> {
        Ok(Arc::new(
            Decimal128Array::from_iter(rows.iter().map(|r| f(r).map(i128::from)))
                .with_precision_and_scale(5, 1)?,
        ))
    };
    let columns = vec![
        text(|r| &r.period),
        text(|r| &r.provider_lhb),
        text(|r| &r.age_group),
        count(|r| r.referrals_received),
        count(|r| r.assessments.within_28),
        count(|r| r.assessments.from_29_to_56),
        count(|r| r.assessments.over_56),
        count(|r| r.assessments.total),
        pct(|r| r.assessments.pct_within_28_tenths)?,
        count(|r| r.interventions.within_28),
        count(|r| r.interventions.from_29_to_56),
        count(|r| r.interventions.over_56),
        count(|r| r.interventions.total),
        pct(|r| r.interventions.pct_within_28_tenths)?,
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok((schema, batch))
}

impl Engine {
    /// Register the derived tables computed in memory for ad-hoc SQL: `monthly` over the
    /// activity range, `data_quality`, and `waiting_list` on `today`.
    pub async fn register_derived(&self, today: NaiveDate) -> Result<(), ComplianceError> {
        if let Some((from, to)) = self.activity_range().await? {
            let months: Vec<String> = from.through(to).iter().map(Month::to_string).collect();
            self.set_report_months(&months)?;
        } else {
            self.set_report_months(&[])?;
        }
        self.materialise_in_memory(
            super::rules::MONTHLY,
            "monthly",
            &[("wait_band_prefix", "")],
        )
        .await?;
        self.materialise_in_memory(super::rules::DATA_QUALITY, "data_quality", &[])
            .await?;
        let date = today.format("%Y-%m-%d").to_string();
        self.materialise_in_memory(
            super::rules::WAITING_LIST,
            "waiting_list",
            &[("on_date", &date)],
        )
        .await?;
        Ok(())
    }
}
