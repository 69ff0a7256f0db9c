//! A board split into its buckets' parts, by the workers that derive them together when it has
//! no more parts than workers.
//!
//! Why: a board larger than a bucket is read once and split by the hash of its referral ids
//! (`bucket_parts.rs`). When one worker split a board alone, it kept its own part and wrote every
//! other part to an Arrow IPC file, which the other worker read back moments later; to keep both
//! cores busy the workers split two boards at once. Writing and reading those files took about
//! 6 % of a full derivation's CPU, plus their system time. Now the buckets of a board of at most
//! one part per worker are taken one after the other (`bucket_workers.rs`), so the workers reach
//! it together: each reads partitions of one scan plan, taken from one counter (a worker
//! arriving late reads fewer), and every part stays in memory, the part each worker derives
//! next. Each worker still holds one part, as before, so the memory the buckets are sized to is
//! unchanged.
//!
//! A board of more parts (a 50M store: 18 a board) is split as before: by the first worker to
//! reach it, alone, keeping its own part (`live` is 1) and writing the others to files; a worker
//! needing one of them meanwhile waits. Split together, most of its parts still go to files,
//! so little is saved, and single 50M runs peaked higher (878-964 MiB, against 851-927 MiB for
//! the split by one worker; benches/e2e/NOTES.md): not conclusive, so such boards keep the
//! path measured longest.
//!
//! Invariants:
//! - Every row with a referral id is in exactly one part, `hash64(referral_id) % parts` (the
//!   buckets' SQL test, `bucketed.rs`): each partition of the plan is claimed by one worker,
//!   once, and each of its rows goes to one part.
//! - A part meant for memory whose worker has not arrived when the split ends goes to a file
//!   instead: no part waits in memory for a worker still deriving another bucket.
//! - Only the first worker to arrive and the workers of the parts kept in memory read; the
//!   first always reads until no partition is left, so the split always ends.
//! - The split ends once, when every partition has been read; a worker takes its part only
//!   after that. A failed read ends it with the error, so no worker waits for it forever.

use super::bucket_parts::{rows_by_part, BoardParts, PartWriter, MIN_ROWS_PER_WRITE};
use super::bucket_parts::{ROWS_PER_WRITE, SPLIT_BUFFER_ROWS};
use super::ComplianceError;
use datafusion::arrow::array::{RecordBatch, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use futures::StreamExt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use tokio::sync::{watch, OnceCell};

/// One board's split, shared by the workers deriving its buckets.
pub(crate) struct SharedSplit {
    parts: u64,
    /// Parts `0..live` are kept in memory for the workers that derive them first.
    live: u64,
    /// Where the other parts' files go.
    dir: PathBuf,
    plan: OnceCell<Arc<dyn ExecutionPlan>>,
    /// Whether a worker has reached the split yet.
    started: AtomicBool,
    /// One writer per part, made with the plan (they need its schema).
    writers: OnceLock<Vec<Mutex<PartWriter>>>,
    state: Mutex<State>,
    /// `None` while the split runs; then its outcome.
    ended: watch::Sender<Option<Result<(), String>>>,
}

#[derive(Default)]
struct State {
    /// The plan's partition count, once it is made.
    partitions: usize,
    /// The next partition to claim.
    next: usize,
    /// Partitions claimed and not yet read.
    reading: usize,
    /// Whose bucket has reached the split, by part.
    arrived: Vec<bool>,
    /// The parts, once the split has ended.
    board: Option<BoardParts>,
}

impl SharedSplit {
    /// The split of a board into `parts`, `live` of them kept in memory, the others' files in
    /// `dir` (created when needed).
    pub(crate) fn new(parts: u64, live: u64, dir: PathBuf) -> SharedSplit {
        SharedSplit {
            parts,
            live: live.min(parts),
            dir,
            plan: OnceCell::new(),
            started: AtomicBool::new(false),
            writers: OnceLock::new(),
            state: Mutex::new(State {
                arrived: vec![false; parts as usize],
                ..State::default()
            }),
            ended: watch::channel(None).0,
        }
    }

    /// The rows of `part`: take part in the split while it runs (reading partitions of the plan
    /// `make_plan` gives, if nobody made it yet, with `task`), wait for it to end, then take
    /// the part from memory or from its file.
    pub(crate) async fn take(
        &self,
        part: u64,
        make_plan: impl Future<Output = Result<Arc<dyn ExecutionPlan>, ComplianceError>>,
        task: Arc<TaskContext>,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), ComplianceError> {
        let mut ended = self.ended.subscribe();
        if let Some(arrived) = self.lock().arrived.get_mut(part as usize) {
            *arrived = true;
        }
        // Workers whose part stays in memory split the board together; another worker only
        // starts the split when it is first, and else waits for it, as before the shared
        // split (see the top of this file).
        let first = !self.started.swap(true, Ordering::SeqCst);
        let helps = first || part < self.live;
        if helps && ended.borrow().is_none() {
            self.read_partitions(make_plan, task).await?;
        }
        ended
            .wait_for(Option::is_some)
            .await
            .map_err(|_| internal("the board split was dropped"))?;
        if let Some(Err(e)) = &*ended.borrow() {
            return Err(internal(&format!("splitting the board failed: {e}")));
        }
        let mut state = self.lock();
        let board = state
            .board
            .as_mut()
            .ok_or_else(|| internal("a board split ended without its parts"))?;
        board.take(part)
    }

    /// Claim and read partitions until none is left.
    async fn read_partitions(
        &self,
        make_plan: impl Future<Output = Result<Arc<dyn ExecutionPlan>, ComplianceError>>,
        task: Arc<TaskContext>,
    ) -> Result<(), ComplianceError> {
        let plan = self
            .plan
            .get_or_try_init(|| async {
                let plan = make_plan.await?;
                self.start(&plan)?;
                Ok::<_, ComplianceError>(plan)
            })
            .await;
        let plan = match plan {
            Ok(plan) => plan,
            Err(e) => {
                self.end(Err(e.to_string()));
                return Err(e);
            }
        };
        while let Some(partition) = self.claim() {
            let read = self.read(plan, partition, task.clone()).await;
            self.release(read)?;
        }
        Ok(())
    }

    /// Make the writers for `plan`'s rows and record its partition count.
    fn start(&self, plan: &Arc<dyn ExecutionPlan>) -> Result<(), ComplianceError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| ComplianceError::Io(self.dir.clone(), e))?;
        let schema = plan.schema();
        // Bounded over all the file parts together (see SPLIT_BUFFER_ROWS).
        let to_files = (SPLIT_BUFFER_ROWS / self.parts.max(1) as usize)
            .clamp(MIN_ROWS_PER_WRITE, ROWS_PER_WRITE);
        // A part in memory gathers full-size batches when every part is in memory (the later
        // stages run faster over them); beside files, the same as the files' parts.
        let in_memory = match self.live >= self.parts {
            true => ROWS_PER_WRITE,
            false => to_files,
        };
        let writers = (0..self.parts)
            .map(|p| {
                let (file, rows) = match p < self.live {
                    true => (None, in_memory),
                    false => (Some(self.part_file(p)), to_files),
                };
                Mutex::new(PartWriter::new(file, schema.clone(), rows))
            })
            .collect();
        self.writers
            .set(writers)
            .map_err(|_| internal("a board split started twice"))?;
        self.lock().partitions = plan.properties().partitioning.partition_count();
        Ok(())
    }

    fn part_file(&self, part: u64) -> PathBuf {
        self.dir.join(format!("part-{part}.arrow"))
    }

    /// The next partition to read, if any is left and the split has not failed.
    fn claim(&self) -> Option<usize> {
        if self.ended.borrow().is_some() {
            return None;
        }
        let mut state = self.lock();
        (state.next < state.partitions).then(|| {
            state.next += 1;
            state.reading += 1;
            state.next - 1
        })
    }

    /// Split one partition's rows into the parts' writers.
    async fn read(
        &self,
        plan: &Arc<dyn ExecutionPlan>,
        partition: usize,
        task: Arc<TaskContext>,
    ) -> Result<(), ComplianceError> {
        let writers = self
            .writers
            .get()
            .ok_or_else(|| internal("a board split read before it started"))?;
        let mut rows = plan.execute(partition, task)?;
        while let Some(batch) = rows.next().await {
            let batch = batch?;
            for (writer, rows) in writers.iter().zip(rows_by_part(&batch, self.parts)?) {
                if !rows.is_empty() {
                    let part = take_record_batch(&batch, &UInt32Array::from(rows))?;
                    lock(writer).push(part)?;
                }
            }
        }
        Ok(())
    }

    /// One partition read (or failed): the last one read ends the split.
    fn release(&self, read: Result<(), ComplianceError>) -> Result<(), ComplianceError> {
        let mut state = self.lock();
        state.reading -= 1;
        if let Err(e) = read {
            drop(state);
            self.end(Err(e.to_string()));
            return Err(e);
        }
        if state.next < state.partitions || state.reading > 0 || self.ended.borrow().is_some() {
            return Ok(());
        }
        match self.finish(&state.arrived) {
            Ok(board) => {
                state.board = Some(board);
                drop(state);
                self.end(Ok(()));
                Ok(())
            }
            Err(e) => {
                drop(state);
                self.end(Err(e.to_string()));
                Err(e)
            }
        }
    }

    /// Every part, finished: the memory parts of workers that have arrived stay in memory,
    /// the others go to files.
    fn finish(&self, arrived: &[bool]) -> Result<BoardParts, ComplianceError> {
        let writers = self
            .writers
            .get()
            .ok_or_else(|| internal("a board split ended before it started"))?;
        let mut parts = Vec::with_capacity(writers.len());
        let mut schema = None;
        for (p, writer) in writers.iter().enumerate() {
            let mut writer = lock(writer);
            schema.get_or_insert_with(|| writer.schema());
            let waited_for = arrived.get(p).copied().unwrap_or(false);
            let to = (!waited_for).then(|| self.part_file(p as u64));
            parts.push(writer.finish_into(to)?);
        }
        let schema = schema.ok_or_else(|| internal("a board split into no parts"))?;
        Ok(BoardParts::new(schema, parts))
    }

    fn end(&self, outcome: Result<(), String>) {
        self.ended.send_if_modified(|ended| {
            let first = ended.is_none();
            if first {
                *ended = Some(outcome);
            }
            first
        });
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn internal(message: &str) -> ComplianceError {
    DataFusionError::Internal(message.into()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::hash_udfs::hash64;
    use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::memory::MemorySourceConfig;

    /// A plan of `partitions` partitions over 20,000 rows with referral ids and one without.
    fn plan(partitions: usize) -> Arc<dyn ExecutionPlan> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("referral_id", DataType::Utf8, true),
            Field::new("n", DataType::Int64, false),
        ]));
        let ids: Vec<Option<String>> = (0..20_000)
            .map(|i| Some(format!("R{i}")))
            .chain([None])
            .collect();
        let per = ids.len().div_ceil(partitions);
        let chunks: Vec<Vec<RecordBatch>> = ids
            .chunks(per)
            .enumerate()
            .map(|(c, chunk)| {
                let n: Vec<i64> = (0..chunk.len() as i64)
                    .map(|i| i + (c * per) as i64)
                    .collect();
                vec![RecordBatch::try_new(
                    schema.clone(),
                    vec![
                        Arc::new(StringArray::from(chunk.to_vec())) as ArrayRef,
                        Arc::new(Int64Array::from(n)),
                    ],
                )
                .unwrap()]
            })
            .collect();
        MemorySourceConfig::try_new_exec(&chunks, schema, None).unwrap()
    }

    fn referrals(rows: &[RecordBatch]) -> Vec<String> {
        rows.iter()
            .flat_map(|b| {
                let ids = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
                ids.iter()
                    .map(|r| r.unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn files(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |d| d.count())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn workers_split_a_board_together_and_every_row_is_in_its_part_once() {
        let dir = tempfile::tempdir().unwrap();
        let parts = 3;
        let split = Arc::new(SharedSplit::new(parts, 2, dir.path().join("board")));
        let task = Arc::new(TaskContext::default());
        let worker = |part: u64| {
            let (split, task) = (split.clone(), task.clone());
            tokio::spawn(async move { split.take(part, async { Ok(plan(8)) }, task).await })
        };
        let (first, second) = (worker(0), worker(1));
        let (first, second) = (
            first.await.unwrap().unwrap(),
            second.await.unwrap().unwrap(),
        );
        assert_eq!(
            files(&dir.path().join("board")),
            1,
            "only the part no worker derives yet is in a file"
        );
        let third = worker(2).await.unwrap().unwrap();
        let mut seen = 0;
        for (part, (_, rows)) in [first, second, third].into_iter().enumerate() {
            let ids = referrals(&rows);
            assert!(!ids.is_empty(), "part {part} has rows");
            for id in &ids {
                assert_eq!(hash64(id) % parts, part as u64, "{id} in the wrong part");
            }
            seen += ids.len();
        }
        assert_eq!(seen, 20_000, "every row with a referral, once");
        assert_eq!(
            files(&dir.path().join("board")),
            0,
            "files removed once read"
        );
        assert!(
            split
                .take(2, async { Ok(plan(8)) }, task)
                .await
                .unwrap()
                .1
                .is_empty(),
            "a part is taken once"
        );
    }

    #[tokio::test]
    async fn a_part_whose_worker_is_late_waits_in_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let split = SharedSplit::new(2, 2, dir.path().join("board"));
        let task = Arc::new(TaskContext::default());
        let (_, mine) = split
            .take(0, async { Ok(plan(4)) }, task.clone())
            .await
            .unwrap();
        assert_eq!(
            files(&dir.path().join("board")),
            1,
            "the late worker's part went to a file"
        );
        let (_, late) = split
            .take(1, async { Err(internal("not planned again")) }, task)
            .await
            .unwrap();
        assert_eq!(referrals(&mine).len() + referrals(&late).len(), 20_000);
    }

    #[tokio::test]
    async fn a_failed_plan_ends_the_split_for_every_worker() {
        let dir = tempfile::tempdir().unwrap();
        let split = SharedSplit::new(2, 2, dir.path().join("board"));
        let task = Arc::new(TaskContext::default());
        assert!(split
            .take(0, async { Err(internal("no plan")) }, task.clone())
            .await
            .is_err());
        let other = split.take(1, async { Ok(plan(2)) }, task).await;
        assert!(other.is_err(), "the other worker does not wait forever");
    }
}
