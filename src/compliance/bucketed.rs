//! A full derivation in bounded memory: pathways derived bucket by bucket and written to the
//! `pathways` file as each bucket is done, so memory holds a bucket's events per worker
//! (`bucket_workers.rs`), not all of them (a full derivation in memory peaks at about 430 bytes
//! per event: 4.3 GB at 10M).
//!
//! Why this is exact: the argument of `incremental.rs`. A pathway's row depends only on the
//! events carrying its key `(provider_lhb, referral_id)` and on every other copy of their event
//! ids (of several copies only the first landed counts, wherever they landed). A bucket is a set
//! of keys (one board's, split by a hash of the referral id); its scope is all their events plus
//! every other copy of their ids, and only the rows of its own keys are kept. Every key is in
//! exactly one bucket, so every pathway is written exactly once.
//!
//! The buckets first run without any copy from another bucket, each tallying its ids, and the
//! tally is checked once they are done (`bucket_ids.rs`): only when an id was held by two
//! buckets is the table abandoned and derived again, with the other copies of repeated ids found
//! first (`bucket_copies.rs`). A board split
//! in several buckets is read once and split into one scratch file per bucket
//! (`bucket_parts.rs`), so the cost stays linear in the board's size.

use super::bucket_copies::padded_to;
use super::bucket_ids::IdsAcrossBuckets;
use super::bucket_order::even_tail;
use super::bucket_parts::scratch_dir;
use super::bucket_size::{bucket_events_for, resident_bytes};
use super::bucket_workers::workers;
use super::derivation_state::VisibleCommits;
use super::hash_udfs::HASH;
use super::repeated_hashes::HashTally;
use super::{ComplianceError, Engine};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Every committed event file the derivation was planned from.
pub(super) const COMMITTED: &str = "committed_events";
/// The committed event files of the board being derived.
pub(super) const BOARD: &str = "board_events";
/// The events of the bucket being derived, read from its part file.
const OWN: &str = "bucket_events";

/// Columns of `events` that no derivation stage reads (SPEC 4 does not use them). A bucket's
/// reads leave them out, so they are neither decoded, split into part files nor held.
const UNREAD_COLUMNS: [&str; 3] = ["intervention_type", "close_reason", "unknown_fields"];

/// The columns of `events` a bucket reads, as `alias.column, …`.
pub(super) fn read_columns(alias: &str) -> String {
    crate::landing::events_schema()
        .fields()
        .iter()
        .map(|field| field.name())
        .filter(|name| !UNREAD_COLUMNS.contains(&name.as_str()))
        .map(|name| format!("{alias}.{name}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One bucket: the pathways of `board` whose referral id hashes to `part` (of `parts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bucket {
    pub(super) board: String,
    pub(super) part: u64,
    pub(super) parts: u64,
    /// About how many events the bucket holds (its board's, divided by `parts`).
    pub(super) events: u64,
    /// How many events its board holds.
    pub(super) board_events: u64,
    /// The board's committed event files: a bucket reads only these.
    pub(super) files: Arc<Vec<PathBuf>>,
}

impl Bucket {
    /// SQL true for the rows of `alias` whose key is in this bucket. Board codes come from the
    /// data directory's own partition names (`lhb=…`), checked to be plain codes.
    pub(super) fn holds(&self, alias: &str) -> String {
        self.with_board_test(self.on_board(alias), alias)
    }

    /// SQL true for the rows of `alias` of this bucket's board.
    pub(super) fn on_board(&self, alias: &str) -> String {
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
    let boards = per_board
        .into_iter()
        .map(|(board, (rows, files))| (board, rows, Arc::new(files)));
    Some(split_boards(boards, events_per_bucket))
}

/// The same boards split again into buckets of at most about `events_per_bucket` events.
pub(crate) fn resized(buckets: &[Bucket], events_per_bucket: u64) -> Vec<Bucket> {
    let boards = buckets
        .iter()
        .filter(|b| b.part == 0)
        .map(|b| (b.board.clone(), b.board_events, b.files.clone()));
    split_boards(boards, events_per_bucket)
}

fn split_boards(
    boards: impl Iterator<Item = (String, u64, Arc<Vec<PathBuf>>)>,
    events_per_bucket: u64,
) -> Vec<Bucket> {
    let mut buckets = Vec::new();
    for (board, rows, files) in boards {
        let parts = rows.div_ceil(events_per_bucket.max(1)).max(1);
        buckets.extend((0..parts).map(|part| Bucket {
            board: board.clone(),
            part,
            parts,
            events: rows.div_ceil(parts),
            board_events: rows,
            files: files.clone(),
        }));
    }
    buckets
}

/// How a bucketed derivation sizes its buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BucketSize {
    /// As planned by the caller.
    AsPlanned,
    /// To the memory left under `budget` bytes once the copies of repeated ids are found
    /// (`bucket_size.rs`).
    ToMemory {
        /// Resident bytes the process should stay under.
        budget: u64,
    },
}

/// `events/lhb=7A1/…parquet` → `7A1`, for codes of letters and digits only (they are spliced
/// into SQL).
fn board_of(path: &Path) -> Option<String> {
    let dir = path.parent()?.file_name()?.to_str()?;
    let code = dir.strip_prefix(&format!("{}=", crate::landing::PARTITION_KEY))?;
    (!code.is_empty() && code.chars().all(|c| c.is_ascii_alphanumeric())).then(|| code.into())
}

/// What every bucket of a derivation reads or writes besides its own plan.
#[derive(Clone, Copy)]
pub(super) struct BucketRun<'a> {
    /// SQL true for the events in scope (`scoped_events.sql`'s predicate).
    pub(super) scope: &'a str,
    /// Where split boards' part files go.
    pub(super) scratch: &'a Path,
    /// The table written.
    pub(super) dest: &'a Path,
    /// Its footer.
    pub(super) metadata: &'a [(String, String)],
}

impl Engine {
    /// Derive every pathway bucket by bucket into the table at `dest` (footer `metadata`), then
    /// register `pathways` over that file. `buckets` must cover every board with events (see
    /// [`plan_buckets`]) and not be empty. Only the files of the commit-log entries planned
    /// from are read, never files committed meanwhile: every bucket sees the same store.
    /// `scope` is SQL true for the events that exist (`scoped_events.sql`'s predicate: a
    /// snapshot's `--as-of`, else `TRUE`). `size` may split the boards again to the memory
    /// left. Returns how many buckets it derived (the second time, when it derived twice).
    pub(crate) async fn derive_in_buckets(
        &self,
        buckets: &[Bucket],
        size: BucketSize,
        dest: &Path,
        metadata: &[(String, String)],
        scope: &str,
    ) -> Result<usize, ComplianceError> {
        let mut all: Vec<&Path> = Vec::new();
        for bucket in buckets.iter().filter(|b| b.part == 0) {
            all.extend(bucket.files.iter().map(PathBuf::as_path));
        }
        self.register_files(COMMITTED, &all)?;
        // Scratch files (slices of the ids' hashes, each split board's parts) go next to the
        // table being written.
        let scratch = scratch_dir(dest.parent().unwrap_or(Path::new(".")))?;
        let events = buckets.iter().map(|b| b.events).sum();

        // First without the copies of repeated ids, each bucket tallying its ids, and checked
        // after: only ids held by two buckets need them (bucket_ids.rs).
        self.register_no_repeated_rows().await?;
        let ids = Arc::new(IdsAcrossBuckets::new(events, scratch.path())?);
        let resident = resident_bytes();
        let planned = sized(
            buckets,
            size,
            resident.saturating_add(HashTally::resident_bytes(events)),
        );
        let run = BucketRun {
            scope,
            scratch: scratch.path(),
            dest,
            metadata,
        };
        let mut count = planned.len();
        // Derived concurrently, one worker per core (bucket_workers.rs), each with its own
        // session over the same committed files and `repeated_rows` (no row this time).
        let mut writer = self
            .derive_concurrently(planned, &["repeated_rows"], &run, Some(ids.clone()))
            .await?;
        let step = std::time::Instant::now();
        let held_by_several = ids.held_by_several()?;
        timed("ids checked across buckets", step, None);
        if !held_by_several.is_empty() {
            tracing::info!(
                ids = held_by_several.len(),
                "event ids landed under the pathways of different buckets: deriving again, \
                 with every copy of every repeated id found first"
            );
            writer.abandon().await;
            self.context().deregister_table("repeated_rows")?;
            let step = std::time::Instant::now();
            let copies = self
                .register_repeated_rows(events, scope, scratch.path())
                .await?;
            timed("copies of repeated ids found", step, None);
            // What the first attempt held is free again, but the allocator may keep it and the
            // process's resident size still count it: sized from what was resident before it.
            let planned = sized(buckets, size, resident.saturating_add(copies));
            count = planned.len();
            writer = self
                .derive_concurrently(planned, &["repeated_rows"], &run, None)
                .await?;
        }
        for table in ["repeated_rows", COMMITTED] {
            self.context().deregister_table(table)?;
        }
        let schema = writer.schema();
        let rows = writer.finish().await?;
        tracing::debug!(rows, buckets = count, "pathways written bucket by bucket");
        // Later queries (the official table, the waiting list) read the table just written.
        self.register_file_table("pathways", dest, schema)?;
        Ok(count)
    }

    /// A bucket's events in scope: its own (`own`, read from its part file, or else its board's
    /// rows that it holds) plus the other copies of their ids held under other keys, padded with
    /// NULL to the events' shape (they carry only the first-landed columns).
    pub(super) async fn bucket_scope(
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
                        "SELECT {} FROM {BOARD} e WHERE {} AND ({scope})",
                        read_columns("e"),
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
        let padded = padded_to(own.schema())?;
        let in_scope = own.union(others.select(padded)?)?;
        let schema: SchemaRef = Arc::new(in_scope.schema().as_arrow().clone());
        let in_scope = in_scope.collect().await?;
        // The part file's rows now live in `in_scope`; holding them as a table too would keep
        // a copy of them through the whole bucket.
        self.release_table(OWN)?;
        Ok((schema, in_scope))
    }
}

/// `buckets` as they are, or split again to the memory `size` leaves when the process holds
/// `resident` bytes besides its buckets; either way with as many buckets as a multiple of the
/// workers ([`even_tail`]).
fn sized(buckets: &[Bucket], size: BucketSize, resident: u64) -> Vec<Bucket> {
    let planned = match size {
        BucketSize::AsPlanned => buckets.to_vec(),
        BucketSize::ToMemory { budget } => {
            // Every worker holds a bucket at once (bucket_workers.rs).
            let per_bucket = bucket_events_for(resident, budget, workers() as u64);
            if resident >= budget {
                tracing::warn!(
                    resident_mb = resident >> 20,
                    budget_mb = budget >> 20,
                    "what is in memory already would fill compute.memory_mb: deriving in \
                     the smallest buckets, over the budget"
                );
            }
            tracing::debug!(per_bucket, "buckets sized to the memory left");
            resized(buckets, per_bucket)
        }
    };
    even_tail(planned, workers())
}

/// Per-step timing for `--log-level lpmhss=debug`; `bucket` is (done, of, events in scope).
pub(super) fn timed(
    step: &str,
    started: std::time::Instant,
    bucket: Option<(usize, usize, usize)>,
) {
    let seconds = started.elapsed().as_secs_f64();
    let resident_mb = resident_bytes() / (1 << 20);
    match bucket {
        Some((done, of, events)) => {
            tracing::debug!(
                step,
                done,
                of,
                events,
                seconds,
                resident_mb,
                "bucketed derivation"
            )
        }
        None => tracing::debug!(step, seconds, resident_mb, "bucketed derivation"),
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
    fn no_derivation_stage_reads_a_column_buckets_leave_out() {
        let stages = crate::compliance::rules::derivation();
        let sql = stages.iter().map(|s| s.rule.sql);
        for text in sql.chain([crate::compliance::rules::SCOPED_EVENTS.sql]) {
            for column in UNREAD_COLUMNS {
                assert!(!text.contains(column), "a stage reads {column}");
            }
        }
        let read = read_columns("e");
        assert!(read.starts_with("e.event_id, e.event_type"), "{read}");
        assert!(!read.contains("close_reason"));
        assert_eq!(
            read.split(", ").count(),
            crate::landing::events_schema().fields().len() - UNREAD_COLUMNS.len(),
            "every column left out exists in events"
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
