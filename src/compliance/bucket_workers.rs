//! Buckets derived concurrently, one per core (at most [`MAX_WORKERS`]), each by a worker with
//! its own single-threaded DataFusion session, and written to the `pathways` file in plan order.
//!
//! Why: one derivation at a time on a session of two target partitions kept about 1.5 of this
//! machine's 2 cores busy. Much of a stage runs on one thread (collecting a stage's table,
//! planning, the last partition of a join), and the other core idled meanwhile. Two workers of
//! one partition each keep both busy and spend nothing on moving rows between threads: ten years
//! of Wales took 4.2 s instead of 5.0 s (benches/e2e/NOTES.md).
//!
//! Invariants:
//! - Every bucket is derived exactly once: workers take bucket numbers from one counter.
//! - The buckets are written whole and in plan order ([`working_order`]), whichever worker
//!   finishes first: a bucket finished early waits in memory for the ones before it. (Rows
//!   within a bucket may come in another order from one run to the next: a stage's `UNION ALL`
//!   interleaves its inputs as they come. Sorting each bucket would cost time for an order no
//!   reader relies on; SQL over the table orders what it needs.)
//! - At most `workers` buckets are being derived at once, and one more finished one may wait
//!   to be written (a slot semaphore of `workers + 1`, a slot held until the bucket's rows
//!   reach the writer). Buckets sized to memory are sized for `workers` buckets at once: a
//!   finished bucket holds only its pathways, a fraction of what deriving it held.
//! - A board split into several buckets is read and split into its parts once
//!   (`shared_split.rs`). The buckets are taken in [`working_order`]: those of a board of at
//!   most one part per worker one after the other, so the workers reach it together, split it
//!   together and each keeps the part it derives next in memory; boards of more parts two at a
//!   time, alternating, each split by one worker who keeps its own part and writes the others
//!   to files (a worker needing one of them meanwhile waits).
//! - A failed bucket fails the derivation: the other workers are stopped, nothing more is
//!   written, and the previous table stays in place (the writer is dropped unfinished).

use super::bucket_ids::IdsAcrossBuckets;
use super::bucket_order::working_order;
use super::bucketed::{read_columns, timed, Bucket, BucketRun, BOARD};
use super::hash_udfs::with_event_id_hash;
use super::incremental::nullable_rows;
use super::shared_split::SharedSplit;
use super::{rules, ComplianceError, Engine};
use crate::landing::BackgroundTableWriter;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

/// The most buckets derived at once: each worker holds a bucket in memory, and buckets sized to
/// memory get smaller, and more numerous, with every worker.
const MAX_WORKERS: usize = 4;

/// The partitions of a board's scan that the workers splitting it share: enough that a worker
/// finishing its last partition waits little for the other's (ten years of Wales: about 35
/// files a board).
const SPLIT_PARTITIONS: usize = 16;

/// How many workers derive buckets on this machine: one per core, at most [`MAX_WORKERS`].
pub(crate) fn workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_WORKERS)
}

/// What every worker reads: the plan, the next bucket to take, the split boards.
struct Plan {
    buckets: Vec<Bucket>,
    next: AtomicUsize,
    /// The split of each board derived in several buckets, shared by the workers there.
    boards: HashMap<String, Arc<SharedSplit>>,
    scope: String,
    workers: usize,
    slots: Arc<Semaphore>,
    /// Where each bucket tallies its event ids, when they are checked after the fact; given
    /// exactly when `repeated_rows` is empty, so no copy from another bucket is in scope.
    ids: Option<Arc<IdsAcrossBuckets>>,
}

/// One bucket's pathways, waiting to be written.
struct Derived {
    index: usize,
    schema: SchemaRef,
    rows: Vec<RecordBatch>,
    /// Released once the rows are with the writer.
    _slot: OwnedSemaphorePermit,
}

impl Engine {
    /// Derive `buckets` with [`workers`] workers (sessions made from this one, which has
    /// `shared` registered) and write their pathways to `run.dest` in plan order, each bucket
    /// adding its event ids to `ids` when given. Returns the writer, finished by the caller.
    pub(super) async fn derive_concurrently(
        &self,
        buckets: Vec<Bucket>,
        shared: &[&str],
        run: &BucketRun<'_>,
        ids: Option<Arc<IdsAcrossBuckets>>,
    ) -> Result<BackgroundTableWriter, ComplianceError> {
        let BucketRun {
            scope,
            scratch,
            dest,
            metadata,
        } = *run;
        let workers = workers().min(buckets.len()).max(1);
        let boards = buckets
            .iter()
            .filter(|b| b.part == 0 && b.parts > 1)
            .map(|b| {
                // A board of at most one part per worker is split by the workers together, and
                // every part stays in memory; a larger one by one worker, who keeps its own
                // (working_order).
                let dir = scratch.join(format!("board-{}", b.board));
                let live = if b.parts <= workers as u64 {
                    b.parts
                } else {
                    1
                };
                let split = SharedSplit::new(b.parts, live, dir);
                (b.board.clone(), Arc::new(split))
            })
            .collect();
        let buckets = working_order(buckets, workers);
        let count = buckets.len();
        let plan = Arc::new(Plan {
            buckets,
            next: AtomicUsize::new(0),
            boards,
            scope: scope.to_string(),
            workers,
            // One more than the workers: a worker that finished a bucket before the one ahead
            // of it can start another instead of idling until that one is written.
            slots: Arc::new(Semaphore::new(workers + 1)),
            ids,
        });
        let (done, mut finished) = mpsc::unbounded_channel();
        // Dropping the set (on an error) aborts the workers still running.
        let mut running = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let worker = self.worker(shared).await?;
            running.spawn(work(worker, plan.clone(), done.clone()));
        }
        drop(done);

        let mut waiting: BTreeMap<usize, Derived> = BTreeMap::new();
        let mut writer: Option<BackgroundTableWriter> = None;
        let mut written = 0;
        while written < count {
            let derived = tokio::select! {
                derived = finished.recv() => derived,
                // A worker that panicked fails the derivation at once: otherwise the others
                // would derive every later bucket into memory, waiting for its bucket.
                Some(joined) = running.join_next() => {
                    joined.map_err(worker_failed)?;
                    continue;
                }
            };
            let Some(derived) = derived else {
                return Err(stopped_worker(&mut running).await);
            };
            let derived = derived?;
            waiting.insert(derived.index, derived);
            while let Some(next) = waiting.remove(&written) {
                let out = match writer.as_mut() {
                    Some(w) => w,
                    None => {
                        writer.insert(BackgroundTableWriter::create(dest, &next.schema, metadata)?)
                    }
                };
                // Encoded on the writer's thread while the workers derive the next buckets.
                out.write(next.rows).await?;
                written += 1;
            }
        }
        while let Some(joined) = running.join_next().await {
            joined.map_err(worker_failed)?;
        }
        writer.ok_or_else(|| DataFusionError::Internal("no bucket to derive".into()).into())
    }

    /// One bucket's pathways (its rows only), in this worker's session.
    async fn derive_bucket(
        &self,
        bucket: &Bucket,
        plan: &Plan,
    ) -> Result<(SchemaRef, Vec<RecordBatch>, usize), ComplianceError> {
        let own = match plan.boards.get(&bucket.board) {
            Some(split) => {
                let step = std::time::Instant::now();
                // Partitions for the workers to share when they split the board together.
                let together = bucket.parts <= plan.workers as u64;
                let partitions = if together { SPLIT_PARTITIONS } else { 1 };
                let board = self.board_scan(bucket, &plan.scope, partitions);
                let part = split.take(bucket.part, board, self.context().task_ctx());
                let part = part.await?;
                timed("board part taken", step, None);
                Some(part)
            }
            None => None,
        };
        let step = std::time::Instant::now();
        let (schema, in_scope) = self.bucket_scope(bucket, own, &plan.scope).await?;
        let events = in_scope.iter().map(|b| b.num_rows()).sum();
        let (schema, in_scope) = with_event_id_hash(&schema, in_scope)?;
        timed("bucket events read", step, None);
        self.replace_table("scoped_events", schema, in_scope)?;
        let step = std::time::Instant::now();
        let mut derived: Option<(SchemaRef, Vec<RecordBatch>)> = None;
        self.run_derivation_stages_seeing(|stage, rows| {
            match &plan.ids {
                // Every id of the bucket once, by hash: what the tally needs.
                Some(ids) if stage == rules::ID_HASHES.name => ids.add_bucket(rows)?,
                // No copy from another bucket is in scope when ids are checked after the fact,
                // so every pathway derived is one of this bucket's own.
                Some(_) if stage == rules::PATHWAYS.name => {
                    if let Some(first) = rows.first() {
                        derived = Some(nullable_rows(&first.schema(), rows.to_vec())?);
                    }
                }
                _ => {}
            }
            Ok(())
        })
        .await?;
        timed("bucket stages run", step, None);
        let step = std::time::Instant::now();
        let (schema, rows) = match derived {
            Some(own) => own,
            // Copies held under other buckets' keys derive (orphan) rows of those keys too.
            None => {
                self.query(&format!(
                    "SELECT * FROM pathways p WHERE {}",
                    bucket.holds("p")
                ))
                .await?
            }
        };
        timed("bucket rows selected", step, None);
        // Released before the next bucket is read in.
        self.release_table("pathways")?;
        self.release_table("scoped_events")?;
        Ok((schema, rows, events))
    }

    /// A scan of the board of `bucket` (its events in `scope`) in `partitions` partitions, for
    /// the workers splitting it to share (`shared_split.rs`).
    async fn board_scan(
        &self,
        bucket: &Bucket,
        scope: &str,
        partitions: usize,
    ) -> Result<Arc<dyn ExecutionPlan>, ComplianceError> {
        let mut config = self
            .context()
            .copied_config()
            .with_target_partitions(partitions)
            // The state shares this session's catalogs: making the default catalog again would
            // replace them, and with them every table this worker registered.
            .with_create_default_catalog_and_schema(false);
        // Partitions are the workers' shares of the reading: no operator of their own.
        config
            .options_mut()
            .optimizer
            .enable_round_robin_repartition = false;
        let state = SessionStateBuilder::new_from_existing(self.context().state())
            .with_config(config)
            .build();
        let sql = format!(
            "SELECT {} FROM {BOARD} e WHERE {} AND ({scope})",
            read_columns("e"),
            bucket.on_board("e")
        );
        let board = SessionContext::new_with_state(state).sql(&sql).await?;
        Ok(board.create_physical_plan().await?)
    }
}

/// A worker: take the next bucket while there is one, derive it, hand it to the writer.
async fn work(
    worker: Engine,
    plan: Arc<Plan>,
    done: mpsc::UnboundedSender<Result<Derived, ComplianceError>>,
) {
    let mut board: Option<&str> = None;
    loop {
        let Ok(slot) = plan.slots.clone().acquire_owned().await else {
            return;
        };
        let index = plan.next.fetch_add(1, Ordering::SeqCst);
        let Some(bucket) = plan.buckets.get(index) else {
            return;
        };
        let step = std::time::Instant::now();
        let derived = async {
            if board != Some(bucket.board.as_str()) {
                let files: Vec<&Path> = bucket.files.iter().map(PathBuf::as_path).collect();
                worker.register_files(BOARD, &files)?;
                board = Some(bucket.board.as_str());
            }
            worker.derive_bucket(bucket, &plan).await
        }
        .await;
        let derived = derived.map(|(schema, rows, events)| {
            timed(
                "bucket derived",
                step,
                Some((index + 1, plan.buckets.len(), events)),
            );
            Derived {
                index,
                schema,
                rows,
                _slot: slot,
            }
        });
        let failed = derived.is_err();
        if done.send(derived).is_err() || failed {
            return;
        }
    }
}

/// A worker that panicked (or was cancelled), as the derivation's error.
fn worker_failed(e: tokio::task::JoinError) -> ComplianceError {
    DataFusionError::Internal(format!("bucket worker failed: {e}")).into()
}

/// Why the workers stopped before every bucket was derived (a panic, or else an unknown end).
async fn stopped_worker(running: &mut tokio::task::JoinSet<()>) -> ComplianceError {
    while let Some(joined) = running.join_next().await {
        if let Err(e) = joined {
            return worker_failed(e);
        }
    }
    DataFusionError::Internal("the bucket workers stopped before every bucket was derived".into())
        .into()
}
