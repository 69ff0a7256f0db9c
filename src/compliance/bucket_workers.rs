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

/// `buckets`, with the smallest board derived whole split further so that the count of buckets
/// is a multiple of `workers`. Its bucket is derived last (working_order), and alone it kept
/// one core busy while the others idled (ten years of Wales: 0.19 s for its 159,000 events).
/// Split, its parts are derived at once, and the workers split it together at no more cost than
/// one reading it (`shared_split.rs`). Smaller buckets need less memory, never more.
pub(super) fn even_tail(mut buckets: Vec<Bucket>, workers: usize) -> Vec<Bucket> {
    let short = (workers - buckets.len() % workers) % workers;
    let smallest = buckets
        .iter()
        .enumerate()
        .filter(|(_, b)| b.parts == 1)
        .min_by_key(|(_, b)| (b.events, b.board.clone()))
        .map(|(i, _)| i);
    let Some(smallest) = smallest.filter(|_| short > 0) else {
        return buckets;
    };
    let whole = buckets.remove(smallest);
    let parts = 1 + short as u64;
    buckets.extend((0..parts).map(|part| Bucket {
        part,
        parts,
        events: whole.events.div_ceil(parts),
        ..whole.clone()
    }));
    buckets
}

/// The order buckets are derived and written in, boards from the largest. The buckets of a
/// board split in at most one part per worker come one after the other (a0 a1 b0 b1 …): the
/// workers reach its buckets together and split it together, each keeping its part in memory
/// (`shared_split.rs`). Boards split in more parts come first (they are the largest), two at a
/// time with their buckets alternating (a0 b0 a1 b1 … then the rest of the longer one): each
/// worker splits one of them alone, keeping its own part and writing the others to files, as
/// before the shared split: split together, most of its parts would still go to files, and
/// single 50M runs peaked higher (benches/e2e/NOTES.md). The smallest boards come last, when
/// one worker may be left alone. Deterministic: the same plan always gives the same file.
fn working_order(buckets: Vec<Bucket>, workers: usize) -> Vec<Bucket> {
    let mut boards: Vec<Vec<Bucket>> = Vec::new();
    for bucket in buckets {
        match boards.iter_mut().find(|b| b[0].board == bucket.board) {
            Some(board) => board.push(bucket),
            None => boards.push(vec![bucket]),
        }
    }
    for board in &mut boards {
        board.sort_by_key(|b| b.part);
    }
    boards.sort_by(|a, b| {
        let size = |x: &[Bucket]| x.iter().map(|b| b.events).sum::<u64>();
        size(b)
            .cmp(&size(a))
            .then_with(|| a[0].board.cmp(&b[0].board))
    });
    let (many, few): (Vec<_>, Vec<_>) = boards.into_iter().partition(|b| b.len() > workers);
    let mut ordered = Vec::new();
    let mut many = many.into_iter();
    while let Some(first) = many.next() {
        let second = many.next().unwrap_or_default();
        let (mut first, mut second) = (first.into_iter(), second.into_iter());
        loop {
            let (a, b) = (first.next(), second.next());
            if a.is_none() && b.is_none() {
                break;
            }
            ordered.extend(a.into_iter().chain(b));
        }
    }
    ordered.extend(few.into_iter().flatten());
    ordered
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

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(board: &str, part: u64, parts: u64, events: u64) -> Bucket {
        Bucket {
            board: board.into(),
            part,
            parts,
            events,
            board_events: events * parts,
            files: Arc::new(Vec::new()),
        }
    }

    fn names(buckets: &[Bucket]) -> Vec<String> {
        buckets
            .iter()
            .map(|b| format!("{}.{}", b.board, b.part))
            .collect()
    }

    #[test]
    fn boards_of_many_parts_alternate_first_and_the_others_keep_their_buckets_together() {
        let plan = vec![
            bucket("A", 0, 1, 100),
            bucket("B", 0, 3, 300),
            bucket("B", 1, 3, 300),
            bucket("B", 2, 3, 300),
            bucket("C", 0, 3, 280),
            bucket("C", 1, 3, 280),
            bucket("C", 2, 3, 280),
            bucket("E", 0, 4, 100),
            bucket("E", 1, 4, 100),
            bucket("E", 2, 4, 100),
            bucket("E", 3, 4, 100),
            bucket("F", 0, 2, 150),
            bucket("F", 1, 2, 150),
        ];
        assert_eq!(
            names(&working_order(plan, 2)),
            [
                "B.0", "C.0", "B.1", "C.1", "B.2", "C.2", "E.0", "E.1", "E.2", "E.3", "F.0", "F.1",
                "A.0"
            ]
        );
    }

    #[test]
    fn boards_come_largest_first_each_with_its_buckets_together() {
        let plan = vec![
            bucket("A", 0, 1, 100),
            bucket("B", 0, 3, 300),
            bucket("B", 1, 3, 300),
            bucket("B", 2, 3, 300),
            bucket("C", 0, 2, 400),
            bucket("C", 1, 2, 400),
            bucket("D", 0, 1, 50),
        ];
        let ordered = working_order(plan.clone(), 2);
        assert_eq!(
            names(&ordered),
            ["B.0", "B.1", "B.2", "C.0", "C.1", "A.0", "D.0"]
        );
        assert_eq!(
            names(&working_order(plan.into_iter().rev().collect(), 2)),
            names(&ordered)
        );
    }

    #[test]
    fn the_smallest_whole_board_is_split_so_that_every_worker_has_a_last_bucket() {
        let plan = vec![
            bucket("A", 0, 1, 100),
            bucket("B", 0, 2, 300),
            bucket("B", 1, 2, 300),
            bucket("D", 0, 1, 50),
            bucket("E", 0, 1, 70),
        ];
        let even = working_order(even_tail(plan.clone(), 2), 2);
        assert_eq!(
            names(&even),
            ["B.0", "B.1", "A.0", "E.0", "D.0", "D.1"],
            "D, the smallest whole board, in two parts"
        );
        assert!(even
            .iter()
            .filter(|b| b.board == "D")
            .all(|b| b.parts == 2 && b.events == 25));
        assert_eq!(even_tail(plan.clone(), 1), plan, "one worker: as planned");
        assert_eq!(
            names(&even_tail(plan[..4].to_vec(), 2)),
            names(&plan[..4]),
            "already even"
        );
        let three = even_tail(plan.clone(), 3);
        assert_eq!(three.len(), 6);
        assert_eq!(three.iter().filter(|b| b.board == "D").count(), 2);
        let split_only = vec![
            bucket("B", 0, 3, 300),
            bucket("B", 1, 3, 300),
            bucket("B", 2, 3, 300),
        ];
        assert_eq!(
            even_tail(split_only.clone(), 2),
            split_only,
            "no whole board to split"
        );
    }

    #[test]
    fn every_bucket_is_taken_once() {
        let plan: Vec<Bucket> = (0..5)
            .flat_map(|b| {
                let parts = b + 1;
                (0..parts).map(move |p| bucket(&format!("B{b}"), p, parts, 10))
            })
            .collect();
        let mut ordered = names(&working_order(plan.clone(), 2));
        let mut planned = names(&plan);
        ordered.sort();
        planned.sort();
        assert_eq!(ordered, planned);
    }
}
