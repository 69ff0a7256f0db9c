//! Incremental refresh of `pathways`: re-derive only the pathways that newly committed event
//! files can change, with the same SQL stages as a full derivation, and keep every other row of
//! the previous computation.
//!
//! Why this is exact. SPEC 4 makes a pathway's row a function of the events in scope that
//! carry its key `(provider_lhb, referral_id)`, except for one global rule: of several copies of
//! an `event_id`, only the first landed counts, wherever the copies are (control links only
//! ever join events of one pathway; see `sql/control_links.sql`). So a new event can change:
//! - its own pathway, and
//! - the pathway of any other copy of its `event_id` (the new copy may land first if clocks
//!   step back, or decide which copy of a cross-pathway id is kept).
//!
//! Those are the touched pathways. They are re-derived from all their events plus every other
//! copy of those events' ids (so "first landed" is decided against the whole store); rows the
//! stages produce for other keys from those extra copies are partial and discarded. Every other
//! pathway's events are unchanged, so its previous row stands.

use super::columns::strings;
use super::{ComplianceError, Engine};
use crate::landing::{
    all_nullable, events_schema, parquet_schema, read_parquet, DerivedTableWriter, LookupIndex,
};
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::MemTable;
use datafusion::prelude::{col, lit, Expr};
use futures::StreamExt;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What an incremental refresh did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refreshed {
    /// Events in the new files.
    pub new_events: u64,
    /// Pathways derived again.
    pub pathways_rederived: u64,
}

type PathwayKey = (String, String);

const TOUCHED: &str = "touched_pathways";
const IS_TOUCHED: &str = "EXISTS (SELECT 1 FROM touched_pathways t \
     WHERE t.provider_lhb = {a}.provider_lhb AND t.referral_id = {a}.referral_id)";

fn touched_by(alias: &str) -> String {
    IS_TOUCHED.replace("{a}", alias)
}

impl Engine {
    /// Register `pathways` as the previous computation's table (`previous_file`) refreshed with
    /// the events of `new_files`. With `write_to` (footer metadata), the refreshed table
    /// replaces `previous_file`, streamed from the old file and the re-derived rows so the
    /// previous table is never held in memory, and `pathways` is registered over the new file.
    pub(crate) async fn refresh_pathways(
        &self,
        previous_file: &Path,
        new_files: &[(PathBuf, u64)],
        committed_files: &[PathBuf],
        write_to: Option<&[(String, String)]>,
    ) -> Result<Refreshed, ComplianceError> {
        let new_events = new_files.iter().map(|f| f.1).sum();
        let step = std::time::Instant::now();
        let (new_ids, new_keys) = self.new_events(new_files).await?;
        timed("new events read", step);
        if new_keys.is_empty() {
            // Nothing to derive again; a written table still gets its new footer.
            self.merge_with_previous(previous_file, false, write_to)
                .await?;
            return Ok(Refreshed {
                new_events,
                pathways_rederived: 0,
            });
        }
        let step = std::time::Instant::now();
        let index = LookupIndex::load(committed_files)?;
        timed("bloom filters read", step);
        let step = std::time::Instant::now();
        let touched = self.scope_to_touched(&index, &new_ids, &new_keys).await?;
        timed("events of touched pathways selected", step);
        self.run_derivation_stages().await?;
        self.merge_with_previous(previous_file, true, write_to)
            .await?;
        Ok(Refreshed {
            new_events,
            pathways_rederived: touched.len() as u64,
        })
    }

    /// Register `pathways` as the touched pathways' new rows (when `rederived`) plus every other
    /// row of the previous table; with `write_to`, stream that into a new `previous_file`.
    async fn merge_with_previous(
        &self,
        previous_file: &Path,
        rederived: bool,
        write_to: Option<&[(String, String)]>,
    ) -> Result<(), ComplianceError> {
        let step = std::time::Instant::now();
        let merge = if rederived {
            format!(
                "SELECT * FROM pathways p WHERE {} \
                 UNION ALL \
                 SELECT * FROM previous_pathways p WHERE NOT {}",
                touched_by("p"),
                touched_by("p")
            )
        } else {
            "SELECT * FROM previous_pathways".to_string()
        };
        match write_to {
            None if !rederived && self.register_linked("pathways", previous_file)? => {}
            None => {
                let previous = read_parquet(previous_file)?;
                self.replace_table("previous_pathways", previous.0, previous.1)?;
                let (schema, merged) = self.query(&merge).await?;
                self.replace_table("pathways", schema, merged)?;
            }
            Some(metadata) => {
                let schema = parquet_schema(previous_file)?;
                self.register_file_table("previous_pathways", previous_file, schema.clone())?;
                let mut stream = self.context().sql(&merge).await?.execute_stream().await?;
                let mut writer = DerivedTableWriter::create(previous_file, &schema, metadata)?;
                while let Some(batch) = stream.next().await {
                    writer.write(&[batch?])?;
                }
                drop(stream);
                let schema = writer.schema();
                writer.finish()?;
                let _ = self.context().deregister_table("pathways")?;
                self.register_file_table("pathways", previous_file, schema)?;
            }
        }
        self.context().deregister_table("previous_pathways")?;
        timed("pathways merged", step);
        Ok(())
    }

    /// Register `name` over a hard link to `file` in a scratch directory beside it, held for
    /// the session: a computation may replace `file` meanwhile, and the link keeps the version
    /// this session started from without reading it into memory (12M rows, 4.6 GB at 50M
    /// events). `false` when no link can be made there (a read-only data directory): the
    /// caller reads the file into memory instead.
    fn register_linked(&self, name: &str, file: &Path) -> Result<bool, ComplianceError> {
        let Some(parent) = file.parent() else {
            return Ok(false);
        };
        let Ok(dir) = tempfile::Builder::new()
            .prefix(".lpmhss-reader-")
            .tempdir_in(parent)
        else {
            return Ok(false);
        };
        let linked = dir.path().join(file.file_name().unwrap_or_default());
        if std::fs::hard_link(file, &linked).is_err() {
            return Ok(false);
        }
        let schema = parquet_schema(&linked)?;
        self.hold_scratch(dir);
        let _ = self.context().deregister_table(name)?;
        self.register_file_table(name, &linked, schema)?;
        Ok(true)
    }

    /// The ids and keys of the events in `new_files`.
    async fn new_events(
        &self,
        new_files: &[(PathBuf, u64)],
    ) -> Result<(BTreeSet<String>, BTreeSet<PathwayKey>), ComplianceError> {
        let (mut ids, mut keys_seen) = (BTreeSet::new(), BTreeSet::new());
        if new_files.is_empty() {
            return Ok((ids, keys_seen));
        }
        let paths: Vec<&Path> = new_files.iter().map(|f| f.0.as_path()).collect();
        self.register_files("new_events", &paths)?;
        let (_, rows) = self
            .query("SELECT DISTINCT event_id, provider_lhb, referral_id FROM new_events")
            .await?;
        self.context().deregister_table("new_events")?;
        for b in &rows {
            ids.extend(strings(b, "event_id")?);
            keys_seen.extend(keys(b)?);
        }
        Ok((ids, keys_seen))
    }

    /// Find the touched pathways and register `scoped_events` as all their events plus every
    /// other copy of those events' ids. Returns the touched keys.
    async fn scope_to_touched(
        &self,
        index: &LookupIndex,
        new_ids: &BTreeSet<String>,
        new_keys: &BTreeSet<PathwayKey>,
    ) -> Result<BTreeSet<PathwayKey>, ComplianceError> {
        // One pass finds the events of the new events' pathways and every copy of a new id.
        let is_new_id = col("event_id").in_list(literals(new_ids), false);
        let files = index.files_holding(new_ids, &referrals(new_keys));
        let mut candidates = self
            .select_events(&files, of_pathways(new_keys).or(is_new_id.clone()))
            .await?;
        let mut touched = new_keys.clone();
        for b in &candidates {
            let ids = strings(b, "event_id")?;
            for (id, key) in ids.iter().zip(keys(b)?) {
                if new_ids.contains(id) {
                    touched.insert(key);
                }
            }
        }
        // A copy under another pathway's key touches that pathway too: fetch the rest of its
        // events (rare). Whatever the first pass matched is excluded, so no row is read twice
        // (its board-by-referral test can match other pathways' rows: `R1` of one board and `R2`
        // of another also select `R1` of the other board).
        let others: BTreeSet<PathwayKey> = touched.difference(new_keys).cloned().collect();
        if !others.is_empty() {
            let files = index.files_holding(&BTreeSet::new(), &referrals(&others));
            let first_pass = of_pathways(new_keys).or(is_new_id);
            let rest = self
                .select_events(&files, of_pathways(&others).and(!first_pass))
                .await?;
            candidates.extend(rest);
        }
        self.register_keys(&touched)?;
        self.replace_table(
            "scope_candidates",
            events_table_schema(&candidates),
            candidates,
        )?;
        let (schema, in_touched) = self
            .query(&format!(
                "SELECT * FROM scope_candidates s WHERE {}",
                touched_by("s")
            ))
            .await?;
        self.context().deregister_table("scope_candidates")?;

        // "First landed" is decided against every copy, wherever it landed.
        let mut ids = BTreeSet::new();
        for b in &in_touched {
            ids.extend(strings(b, "event_id")?);
        }
        let files = index.files_holding(&ids, &BTreeSet::new());
        let copies = self
            .select_events(&files, col("event_id").in_list(literals(&ids), false))
            .await?;
        self.replace_table("copy_candidates", events_table_schema(&copies), copies)?;
        let (_, elsewhere) = self
            .query(&format!(
                "SELECT * FROM copy_candidates c WHERE NOT {}",
                touched_by("c")
            ))
            .await?;
        self.context().deregister_table("copy_candidates")?;

        let mut scoped = in_touched;
        scoped.extend(elsewhere);
        let (schema, scoped) = super::hash_udfs::with_event_id_hash(&schema, scoped)?;
        self.replace_table("scoped_events", schema, scoped)?;
        Ok(touched)
    }

    /// Every column of the events in `files` that satisfy `filter`.
    async fn select_events(
        &self,
        files: &[PathBuf],
        filter: Expr,
    ) -> Result<Vec<RecordBatch>, ComplianceError> {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        self.register_files("lookup_events", &paths)?;
        let rows = self
            .context()
            .table("lookup_events")
            .await?
            .filter(filter)?
            .collect()
            .await?;
        self.context().deregister_table("lookup_events")?;
        Ok(rows)
    }

    /// Register `name` over exactly `files` (event files, without the partition column).
    pub(super) fn register_files(
        &self,
        name: &str,
        files: &[&Path],
    ) -> Result<(), ComplianceError> {
        self.register_listing(name, files, events_schema())
    }

    /// Register `name` over one Parquet file of `schema` (read as that schema: string columns
    /// stay strings).
    pub(super) fn register_file_table(
        &self,
        name: &str,
        file: &Path,
        schema: SchemaRef,
    ) -> Result<(), ComplianceError> {
        self.register_listing(name, &[file], schema)
    }

    fn register_listing(
        &self,
        name: &str,
        files: &[&Path],
        schema: SchemaRef,
    ) -> Result<(), ComplianceError> {
        let urls = files
            .iter()
            .map(|path| {
                let path = path
                    .canonicalize()
                    .map_err(|e| ComplianceError::Io(path.to_path_buf(), e))?;
                Ok(ListingTableUrl::parse(path.to_string_lossy())?)
            })
            .collect::<Result<Vec<_>, ComplianceError>>()?;
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .with_schema(schema);
        let _ = self.context().deregister_table(name)?;
        self.context()
            .register_table(name, Arc::new(ListingTable::try_new(config)?))?;
        Ok(())
    }

    fn register_keys(&self, touched: &BTreeSet<PathwayKey>) -> Result<(), ComplianceError> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("provider_lhb", DataType::Utf8, false),
            Field::new("referral_id", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(touched.iter().map(|k| &k.0))),
                Arc::new(StringArray::from_iter_values(touched.iter().map(|k| &k.1))),
            ],
        )?;
        self.replace_table(TOUCHED, schema, vec![batch])
    }

    /// Register `batches` as table `name`. Batches from different queries can differ in
    /// nullability and metadata only; all are given one schema with every column nullable.
    pub(super) fn replace_table(
        &self,
        name: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<(), ComplianceError> {
        if let Some(plans) = self.stage_plans() {
            return plans.replace(self.context(), name, schema, batches);
        }
        let _ = self.context().deregister_table(name)?;
        let (schema, batches) = nullable_rows(&schema, batches)?;
        let table = MemTable::try_new(schema, vec![batches])?;
        self.context().register_table(name, Arc::new(table))?;
        Ok(())
    }
}

/// `batches` under one schema: `schema` with every column nullable (the same data).
pub(super) fn nullable_rows(
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
) -> Result<(SchemaRef, Vec<RecordBatch>), ComplianceError> {
    let schema = all_nullable(schema);
    let batches = batches
        .into_iter()
        .map(|b| RecordBatch::try_new(schema.clone(), b.columns().to_vec()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((schema, batches))
}

/// Per-step timing for `--log-level lpmhss=debug`.
fn timed(step: &str, started: std::time::Instant) {
    tracing::debug!(
        step,
        seconds = started.elapsed().as_secs_f64(),
        "incremental refresh"
    );
}

fn keys(batch: &RecordBatch) -> Result<Vec<PathwayKey>, ComplianceError> {
    let boards = strings(batch, "provider_lhb")?;
    let referrals = strings(batch, "referral_id")?;
    Ok(boards.into_iter().zip(referrals).collect())
}

/// A superset of the rows of `pathways` that the Parquet reader can test one column at a
/// time (a literal IN list lets it decode `referral_id`, keep the few matching rows and decode
/// the other columns only for those); the exact key test follows in SQL.
fn of_pathways(pathways: &BTreeSet<PathwayKey>) -> Expr {
    let boards: BTreeSet<&str> = pathways.iter().map(|k| k.0.as_str()).collect();
    col("provider_lhb")
        .in_list(literals(&boards), false)
        .and(col("referral_id").in_list(literals(&referrals(pathways)), false))
}

fn referrals(pathways: &BTreeSet<PathwayKey>) -> BTreeSet<&str> {
    pathways.iter().map(|k| k.1.as_str()).collect()
}

fn literals<S: AsRef<str>>(values: &BTreeSet<S>) -> Vec<Expr> {
    values.iter().map(|v| lit(v.as_ref())).collect()
}

/// The schema of selected events (the landed schema when nothing was selected).
fn events_table_schema(batches: &[RecordBatch]) -> SchemaRef {
    batches.first().map_or_else(events_schema, |b| b.schema())
}
