//! One computation: derive everything from the landed events and rebuild the derived tables
//! (`pathways`, `monthly`, `data_quality`, `waiting_list`), each replaced atomically, and
//! return what the metrics and the status page need.

use super::bucket_plan::{full_derivation_buckets, Output};
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
