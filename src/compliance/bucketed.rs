//! A full derivation in bounded memory: pathways derived bucket by bucket and written to the
//! `pathways` file as each bucket is done, so memory holds one bucket's events, not all of them
//! (a full derivation in memory peaks at about 430 bytes per event: 4.3 GB at 10M).
//!
//! Why this is exact: the argument of `incremental.rs`. A pathway's row depends only on the
//! events carrying its key `(provider_lhb, referral_id)` and on every other copy of their event
//! ids (of several copies only the first landed counts, wherever they landed). A bucket is a set
//! of keys (one board's, split by a hash of the referral id); its scope is all their events plus
//! every other copy of their ids, and only the rows of its own keys are kept. Every key is in
//! exactly one bucket, so every pathway is written exactly once.
//!
//! Finding the other copies without a table of every id: ids are first grouped by a 64-bit hash
//! (8 bytes per id instead of 36), which finds every repeated id plus the odd collision; the
//! rows of those candidates are then grouped by the id itself, which drops the collisions.
//!
//! A board split in several buckets is read once and split into one scratch file per bucket
//! (`bucket_parts.rs`), so the cost stays linear in the board's size.

use super::bucket_parts::{read_part, split_into_parts};
use super::derivation_state::VisibleCommits;
use super::repeated_hashes::repeated_hashes;
use super::{ComplianceError, Engine};
use crate::landing::{fnv1a, DerivedTableWriter};
use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, RecordBatch, StringArray, UInt64Array,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};
use datafusion::prelude::SessionContext;
use datafusion::prelude::{col, lit, Expr};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The SQL name of the 64-bit hash of a string.
const HASH: &str = "lpmhss_hash64";
/// The SQL name of the test "this string's hash is one of the repeated ids' hashes".
const REPEATED_HASH: &str = "lpmhss_repeated_hash";
/// Every committed event file the derivation was planned from.
const COMMITTED: &str = "committed_events";
/// The committed event files of the board being derived.
const BOARD: &str = "board_events";
/// The events of the bucket being derived, read from its part file.
const OWN: &str = "bucket_events";

/// One bucket: the pathways of `board` whose referral id hashes to `part` (of `parts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bucket {
    board: String,
    part: u64,
    parts: u64,
    /// About how many events the bucket holds (its board's, divided by `parts`).
    events: u64,
    /// The board's committed event files: a bucket reads only these.
    files: Arc<Vec<PathBuf>>,
}

impl Bucket {
    /// SQL true for the rows of `alias` whose key is in this bucket. Board codes come from the
    /// data directory's own partition names (`lhb=…`), checked to be plain codes.
    fn holds(&self, alias: &str) -> String {
        self.with_board_test(self.on_board(alias), alias)
    }

    /// SQL true for the rows of `alias` of this bucket's board.
    fn on_board(&self, alias: &str) -> String {
        format!("{alias}.provider_lhb = '{}'", self.board)
    }

    fn with_board_test(&self, board: String, alias: &str) -> String {
        if self.parts == 1 {
            board
        } else {
            format!(
                "{board} AND {HASH}({alias}.referral_id) % {} = {}",
                self.parts, self.part
            )
        }
    }
}

/// Buckets of at most about `events_per_bucket` events each, from the committed files' row
/// counts per board (a board's referral ids split evenly by the hash). `None` when a file's
/// board cannot be told from its path: its events would be in no bucket.
pub(crate) fn plan_buckets(
    visible: &VisibleCommits,
    events_per_bucket: u64,
) -> Option<Vec<Bucket>> {
    let mut per_board: BTreeMap<String, (u64, Vec<PathBuf>)> = BTreeMap::new();
    for (_, path, rows) in &visible.event_files {
        let board = per_board.entry(board_of(path)?).or_default();
        board.0 += rows;
        board.1.push(path.clone());
    }
    let mut buckets = Vec::new();
    for (board, (rows, files)) in per_board {
        let parts = rows.div_ceil(events_per_bucket.max(1)).max(1);
        let files = Arc::new(files);
        buckets.extend((0..parts).map(|part| Bucket {
            board: board.clone(),
            part,
            parts,
            events: rows.div_ceil(parts),
            files: files.clone(),
        }));
    }
    Some(buckets)
}

/// `events/lhb=7A1/…parquet` → `7A1`, for codes of letters and digits only (they are spliced
/// into SQL).
fn board_of(path: &Path) -> Option<String> {
    let dir = path.parent()?.file_name()?.to_str()?;
    let code = dir.strip_prefix(&format!("{}=", crate::landing::PARTITION_KEY))?;
    (!code.is_empty() && code.chars().all(|c| c.is_ascii_alphanumeric())).then(|| code.into())
}

impl Engine {
    /// Derive every pathway bucket by bucket into the table at `dest` (footer `metadata`), then
    /// register `pathways` over that file. `buckets` must cover every board with events (see
    /// [`plan_buckets`]) and not be empty. Only the files of the commit-log entries planned
    /// from are read, never files committed meanwhile: every bucket sees the same store.
    /// `scope` is SQL true for the events that exist (`scoped_events.sql`'s predicate: a
    /// snapshot's `--as-of`, else `TRUE`).
    pub(crate) async fn derive_in_buckets(
        &self,
        buckets: &[Bucket],
        dest: &Path,
        metadata: &[(String, String)],
        scope: &str,
    ) -> Result<(), ComplianceError> {
        register_hash(self.context());
        let mut all: Vec<&Path> = Vec::new();
        for bucket in buckets.iter().filter(|b| b.part == 0) {
            all.extend(bucket.files.iter().map(PathBuf::as_path));
        }
        self.register_files(COMMITTED, &all)?;
        // Scratch files (slices of the ids' hashes, each split board's parts) go next to the
        // table being written.
        let scratch_parent = dest.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(scratch_parent)
            .map_err(|e| ComplianceError::Io(scratch_parent.to_path_buf(), e))?;
        remove_stale_scratch(scratch_parent);
        let scratch = tempfile::Builder::new()
            .prefix(SCRATCH_PREFIX)
            .tempdir_in(scratch_parent)
            .map_err(|e| ComplianceError::Io(scratch_parent.to_path_buf(), e))?;
        let step = std::time::Instant::now();
        let events = buckets.iter().map(|b| b.events).sum();
        self.register_repeated_rows(events, scope, scratch.path())
            .await?;
        timed("copies of repeated ids found", step, None);

        // A board split in several buckets is read once and split into part files
        // (bucket_parts.rs); `parts` holds the current board's.
        let mut parts: Option<BoardParts> = None;
        let mut writer: Option<DerivedTableWriter> = None;
        for (i, bucket) in buckets.iter().enumerate() {
            let step = std::time::Instant::now();
            if bucket.part == 0 {
                parts = self.start_board(bucket, scope, scratch.path()).await?;
                if parts.is_some() {
                    timed("board split into parts", step, None);
                }
            }
            let own = match parts.as_mut() {
                Some(board) => Some(board.take(bucket.part)?),
                None => None,
            };
            let (schema, in_scope) = self.bucket_scope(bucket, own, scope).await?;
            let events: usize = in_scope.iter().map(|b| b.num_rows()).sum();
            self.replace_table("scoped_events", schema, in_scope)?;
            self.run_derivation_stages().await?;
            let (schema, rows) = self
                .query(&format!(
                    "SELECT * FROM pathways p WHERE {}",
                    bucket.holds("p")
                ))
                .await?;
            self.context().deregister_table("pathways")?;
            let out = match writer.as_mut() {
                Some(w) => w,
                None => writer.insert(DerivedTableWriter::create(dest, &schema, metadata)?),
            };
            out.write(&rows)?;
            timed("bucket derived", step, Some((i + 1, buckets.len(), events)));
        }
        for table in ["scoped_events", "repeated_rows", OWN, BOARD, COMMITTED] {
            self.context().deregister_table(table)?;
        }
        let writer = writer.ok_or_else(|| {
            datafusion::error::DataFusionError::Internal("no bucket to derive".into())
        })?;
        let schema = writer.schema();
        let rows = writer.finish()?;
        tracing::debug!(
            rows,
            buckets = buckets.len(),
            "pathways written bucket by bucket"
        );
        // Later queries (the official table, the waiting list) read the table just written.
        self.register_file_table("pathways", dest, schema)
    }

    /// Register the board of `bucket` (its first) as `BOARD`; when the board is split in
    /// several buckets, read its events in scope once and split them into part files.
    async fn start_board(
        &self,
        bucket: &Bucket,
        scope: &str,
        scratch: &Path,
    ) -> Result<Option<BoardParts>, ComplianceError> {
        let board_files: Vec<&Path> = bucket.files.iter().map(PathBuf::as_path).collect();
        self.register_files(BOARD, &board_files)?;
        if bucket.parts == 1 {
            return Ok(None);
        }
        let board = self
            .context()
            .sql(&format!(
                "SELECT * FROM {BOARD} e WHERE {} AND ({scope})",
                bucket.on_board("e")
            ))
            .await?;
        let schema = Arc::new(board.schema().as_arrow().clone());
        let files = split_into_parts(board.execute_stream().await?, bucket.parts, scratch).await?;
        Ok(Some(BoardParts { schema, files }))
    }

    /// A bucket's events in scope: its own (`own`, read from its part file, or else its board's
    /// rows that it holds) plus the other copies of their ids held under other keys, padded with
    /// NULL to the events' shape (they carry only the first-landed columns).
    async fn bucket_scope(
        &self,
        bucket: &Bucket,
        own: Option<(SchemaRef, Vec<RecordBatch>)>,
        scope: &str,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), ComplianceError> {
        let own = match own {
            Some((schema, rows)) => {
                self.replace_table(OWN, schema, rows)?;
                self.context().sql(&format!("SELECT * FROM {OWN}")).await?
            }
            None => {
                self.context()
                    .sql(&format!(
                        "SELECT * FROM {BOARD} e WHERE {} AND ({scope})",
                        bucket.holds("e")
                    ))
                    .await?
            }
        };
        let others = self
            .context()
            .sql(&format!(
                "SELECT * FROM repeated_rows r WHERE NOT ({other}) \
                   AND r.event_id IN (SELECT x.event_id FROM repeated_rows x WHERE {mine})",
                other = bucket.holds("r"),
                mine = bucket.holds("x"),
            ))
            .await?;
        let padded: Vec<Expr> = own
            .schema()
            .fields()
            .iter()
            .map(|field| {
                if FIRST_LANDED_COLUMNS.contains(&field.name().as_str()) {
                    Ok(col(Column::new_unqualified(field.name())).alias(field.name()))
                } else {
                    ScalarValue::try_from(field.data_type())
                        .map(|null| lit(null).alias(field.name()))
                }
            })
            .collect::<Result<_, _>>()?;
        let in_scope = own.union(others.select(padded)?)?;
        let schema: SchemaRef = Arc::new(in_scope.schema().as_arrow().clone());
        Ok((schema, in_scope.collect().await?))
    }

    /// `repeated_rows`: every column of every copy of every event id landed more than once.
    /// The ids' hashes (about `events`) are grouped slice by slice through files in `scratch`
    /// (`repeated_hashes.rs`), so memory holds one slice of them.
    async fn register_repeated_rows(
        &self,
        events: u64,
        scope: &str,
        scratch: &Path,
    ) -> Result<(), ComplianceError> {
        let step = std::time::Instant::now();
        let hashes = self
            .context()
            .sql(&format!(
                "SELECT {HASH}(event_id) AS h FROM {COMMITTED} WHERE {scope}"
            ))
            .await?
            .execute_stream()
            .await?;
        let repeated = repeated_hashes(hashes, events, scratch).await?;
        register_hash_test(self.context(), repeated);
        timed("ids grouped by hash", step, None);
        let step = std::time::Instant::now();
        // A scalar test rather than `IN (subquery)`: Parquet filter pushdown can evaluate it
        // on the event_id column alone and decode the other columns only for the candidates
        // (a subquery becomes a join, which decodes every column of every row).
        let candidates = self
            .context()
            .sql(&format!(
                "SELECT * FROM {COMMITTED} WHERE {REPEATED_HASH}(event_id) AND ({scope})"
            ))
            .await?;
        // Only what decides which copy landed first is kept (a bucket pads the rest with
        // NULL). A bucket reads these rows for the copies of its ids held under other pathways, and
        // such a copy counts in it only by being first landed or not: its own pathway's row
        // is derived in the bucket that holds it (the argument of `incremental.rs`). The
        // copies of a bucket's own keys come, whole, from its own events.
        let candidates = candidates.select_columns(&FIRST_LANDED_COLUMNS)?;
        let schema: SchemaRef = Arc::new(candidates.schema().as_arrow().clone());
        let candidates = collect_compacted(candidates.execute_stream().await?).await?;
        self.replace_table("repeated_candidates", schema, candidates)?;
        timed("rows of candidate ids read", step, None);
        let (schema, rows) = self
            .query(
                "SELECT * FROM repeated_candidates WHERE event_id IN \
                 (SELECT event_id FROM repeated_candidates GROUP BY event_id HAVING COUNT(*) > 1)",
            )
            .await?;
        self.context().deregister_table("repeated_candidates")?;
        self.replace_table("repeated_rows", schema, rows)
    }
}

/// The columns of a copy held under another bucket's key that the derivation reads: its
/// key, its id and type, and the landing coordinates that order the copies (`repeated_copies.sql`).
const FIRST_LANDED_COLUMNS: [&str; 10] = [
    "event_id",
    "event_type",
    "provider_lhb",
    "referral_id",
    "landed_at",
    "source_topic",
    "source_partition",
    "source_offset",
    "source_file",
    "source_line",
];

/// The part files of the board being derived, one per bucket (`None`: no rows).
struct BoardParts {
    schema: SchemaRef,
    files: Vec<Option<PathBuf>>,
}

impl BoardParts {
    /// The rows of part `part`, its file removed once read.
    fn take(&mut self, part: u64) -> Result<(SchemaRef, Vec<RecordBatch>), ComplianceError> {
        let file = self.files.get_mut(part as usize).and_then(Option::take);
        let rows = read_part(file.as_deref())?;
        if let Some(file) = file {
            std::fs::remove_file(&file).map_err(|e| ComplianceError::Io(file, e))?;
        }
        Ok((self.schema.clone(), rows))
    }
}

/// Scratch directories of part files start with this.
const SCRATCH_PREFIX: &str = ".lpmhss-buckets-";
/// A scratch directory untouched for this long was left by a process that died mid-derivation
/// (a running derivation writes its part files within minutes).
const STALE_SCRATCH_AGE: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Remove the scratch directories under `parent` left by derivations (and readers) that did
/// not finish.
fn remove_stale_scratch(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_SCRATCH_AGE);
        // Readers' links (`.lpmhss-reader-…`, incremental.rs) share the prefix's start.
        if name.to_string_lossy().starts_with(".lpmhss-") && stale {
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => {
                    tracing::info!(dir = %entry.path().display(), "removed a stale scratch directory")
                }
                Err(e) => {
                    tracing::warn!(dir = %entry.path().display(), error = %e, "cannot remove a stale scratch directory")
                }
            }
        }
    }
}

/// Every row of `rows`, copied into batches of about [`COMPACT_ROWS`] rows. The few rows a
/// filtered Parquet scan keeps from each row group arrive as slices of that row group's
/// decoded columns, and holding them would hold every row group's columns: at 50M events,
/// 0.7 GB for 1M candidate rows.
async fn collect_compacted(
    mut rows: datafusion::physical_plan::SendableRecordBatchStream,
) -> Result<Vec<datafusion::arrow::array::RecordBatch>, ComplianceError> {
    use futures::StreamExt;
    let schema = rows.schema();
    let mut compacted = Vec::new();
    let mut pending = Vec::new();
    let mut pending_rows = 0;
    while let Some(batch) = rows.next().await {
        let batch = batch?;
        pending_rows += batch.num_rows();
        pending.push(batch);
        if pending_rows >= COMPACT_ROWS {
            compacted.push(concat_batches(&schema, &pending)?);
            pending.clear();
            pending_rows = 0;
        }
    }
    if !pending.is_empty() {
        compacted.push(concat_batches(&schema, &pending)?);
    }
    Ok(compacted)
}

/// Rows per batch of [`collect_compacted`].
const COMPACT_ROWS: usize = 65_536;

/// Register the 64-bit FNV-1a hash of a string (NULL for NULL) as a SQL function.
fn register_hash(ctx: &SessionContext) {
    let udf = create_udf(
        HASH,
        vec![DataType::Utf8],
        DataType::UInt64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let strings = as_strings(&arrays[0], HASH)?;
            let hashes: UInt64Array = strings.iter().map(|s| s.map(fnv1a)).collect();
            Ok(ColumnarValue::Array(Arc::new(hashes) as ArrayRef))
        }),
    );
    ctx.register_udf(udf);
}

/// Register `lpmhss_repeated_hash(s)`: true when the hash of `s` is one of `hashes`.
fn register_hash_test(ctx: &SessionContext, hashes: HashSet<u64>) {
    let hashes = Arc::new(hashes);
    let udf = create_udf(
        REPEATED_HASH,
        vec![DataType::Utf8],
        DataType::Boolean,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let strings = as_strings(&arrays[0], REPEATED_HASH)?;
            let found: BooleanArray = strings
                .iter()
                .map(|s| s.map(|s| hashes.contains(&fnv1a(s))))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(found) as ArrayRef))
        }),
    );
    ctx.register_udf(udf);
}

fn as_strings<'a>(
    array: &'a ArrayRef,
    function: &str,
) -> Result<&'a StringArray, datafusion::error::DataFusionError> {
    array.as_any().downcast_ref::<StringArray>().ok_or_else(|| {
        datafusion::error::DataFusionError::Internal(format!(
            "{function} expects a string, got {}",
            array.data_type()
        ))
    })
}

/// Per-step timing for `--log-level lpmhss=debug`; `bucket` is (done, of, events in scope).
fn timed(step: &str, started: std::time::Instant, bucket: Option<(usize, usize, usize)>) {
    let seconds = started.elapsed().as_secs_f64();
    match bucket {
        Some((done, of, events)) => {
            tracing::debug!(step, done, of, events, seconds, "bucketed derivation")
        }
        None => tracing::debug!(step, seconds, "bucketed derivation"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visible(files: &[(&str, u64)]) -> VisibleCommits {
        VisibleCommits {
            event_files: files
                .iter()
                .enumerate()
                .map(|(i, (p, rows))| (i as u64 + 1, PathBuf::from(p), *rows))
                .collect(),
            ..VisibleCommits::default()
        }
    }

    #[test]
    fn each_board_is_split_into_buckets_of_at_most_the_size_asked() {
        let v = visible(&[
            ("/d/events/lhb=7A1/a.parquet", 600),
            ("/d/events/lhb=7A1/b.parquet", 500),
            ("/d/events/lhb=7A2/a.parquet", 90),
        ]);
        let buckets = plan_buckets(&v, 500).unwrap();
        let shape: Vec<(&str, u64, u64)> = buckets
            .iter()
            .map(|b| (b.board.as_str(), b.part, b.parts))
            .collect();
        assert_eq!(
            shape,
            vec![("7A1", 0, 3), ("7A1", 1, 3), ("7A1", 2, 3), ("7A2", 0, 1)]
        );
        assert_eq!(buckets[3].holds("p"), "p.provider_lhb = '7A2'");
        assert_eq!(
            buckets[1].holds("e"),
            "e.provider_lhb = '7A1' AND lpmhss_hash64(e.referral_id) % 3 = 1"
        );
        assert_eq!(
            buckets[1].files.len(),
            2,
            "a bucket reads its board's files"
        );
    }

    #[test]
    fn only_plain_board_codes_become_buckets() {
        assert_eq!(
            board_of(Path::new("/d/events/lhb=7A1/x.parquet")),
            Some("7A1".into())
        );
        assert_eq!(board_of(Path::new("/d/events/lhb=7'A/x.parquet")), None);
        assert_eq!(board_of(Path::new("/d/events/other/x.parquet")), None);
        let v = visible(&[
            ("/d/events/lhb=7A1/a.parquet", 600),
            ("/d/events/odd/b.parquet", 5),
        ]);
        assert!(plan_buckets(&v, 500).is_none(), "events in no bucket");
    }
}
