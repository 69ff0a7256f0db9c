//! One board's events split into its buckets' parts in a single pass, each part held in memory
//! or in an Arrow IPC file in a scratch directory. Without it every bucket would scan its whole
//! board to keep one part of it, and a full derivation would grow with the square of a board's
//! size: at 50M events (seven boards of ~7M, 28 buckets each) a bucket's scan took 2.5 s instead
//! of 0.4 s at 3M. `shared_split.rs` drives the split: a board of at most one part per worker
//! is split by the workers together with every part in memory; a larger one by one worker, who
//! keeps its own part while the others wait in files.
//!
//! The files are not compressed: they live for the minutes of one derivation, mostly in the page
//! cache, and LZ4 cost 6 % of a full derivation's CPU (ten years of Wales: 4.3 s with it, 4.0 s
//! without). The price is disk: about 300 bytes per event of the boards being split (two at a
//! time, bucket_workers.rs), about 4 GB at 50M; a part file is removed as soon as it is read.
//!
//! The part of a row is `hash64(referral_id) % parts`, the same function the buckets' SQL uses
//! (`lpmhss_hash64`), so a part holds exactly the rows [`super::bucketed`]'s SQL test selects.
//! Rows without a referral id are in no part, as in that SQL (its test is NULL for them).
//!
//! Also the scratch directories a derivation writes into ([`scratch_dir`]), and the removal of
//! those left by processes that died mid-derivation.

use super::columns::string_array;
use super::hash_udfs::hash64;
use super::ComplianceError;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::{FileWriter, IpcWriteOptions};
use datafusion::error::DataFusionError;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Rows buffered per part before they are written as one IPC batch: few, large batches read
/// back fast. At most this many per part…
pub(super) const ROWS_PER_WRITE: usize = 8192;
/// …and at most about this many over all of a board's parts (about 20 MB at 300 bytes a row).
/// A 50M-event store splits its boards in 28 parts, two boards at a time: at 8,192 rows per part
/// the buffers alone held 140 MB, which the buckets' sizing did not count.
pub(super) const SPLIT_BUFFER_ROWS: usize = 65_536;
/// Fewer rows per write would make the part files' batches too small to read back fast.
pub(super) const MIN_ROWS_PER_WRITE: usize = 1024;

/// The rows of `batch` in each of `parts` parts, as row indices (rows without a referral id
/// are in none): one pass, then one `take` per part.
pub(super) fn rows_by_part(
    batch: &RecordBatch,
    parts: u64,
) -> Result<Vec<Vec<u32>>, ComplianceError> {
    let mut rows_of: Vec<Vec<u32>> = vec![Vec::new(); parts as usize];
    for (row, part) in parts_of(batch, parts)?.into_iter().enumerate() {
        if let Some(part) = part {
            rows_of[part as usize].push(row as u32);
        }
    }
    Ok(rows_of)
}

/// The part of each row of `batch`, from its `referral_id`.
fn parts_of(batch: &RecordBatch, parts: u64) -> Result<Vec<Option<u64>>, ComplianceError> {
    let referral = batch
        .column_by_name("referral_id")
        .ok_or_else(|| DataFusionError::Internal("events without a referral_id".into()))?;
    let referral = string_array(referral, "splitting a board by referral_id")?;
    Ok(referral
        .iter()
        .map(|r| r.map(|r| hash64(r) % parts))
        .collect())
}

/// Every row of a part file (none for `None`).
fn read_part(file: Option<&Path>) -> Result<Vec<RecordBatch>, ComplianceError> {
    let Some(file) = file else {
        return Ok(Vec::new());
    };
    let opened = File::open(file).map_err(|e| ComplianceError::Io(file.to_path_buf(), e))?;
    let reader = FileReader::try_new(opened, None)?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

/// Where one part's rows are.
pub(super) enum Part {
    /// In this file (`None`: no rows).
    File(Option<PathBuf>),
    /// In memory (the part kept for the splitting worker).
    Kept(Vec<RecordBatch>),
}

/// The parts of the board being derived, one per bucket.
pub(crate) struct BoardParts {
    schema: SchemaRef,
    parts: Vec<Part>,
}

impl BoardParts {
    pub(super) fn new(schema: SchemaRef, parts: Vec<Part>) -> BoardParts {
        BoardParts { schema, parts }
    }

    /// The rows of part `part` (none the second time), its file removed once read.
    pub(crate) fn take(
        &mut self,
        part: u64,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), ComplianceError> {
        let rows = match self.parts.get_mut(part as usize) {
            Some(Part::Kept(rows)) => std::mem::take(rows),
            Some(Part::File(file)) => {
                let file = file.take();
                let rows = read_part(file.as_deref())?;
                if let Some(file) = file {
                    std::fs::remove_file(&file).map_err(|e| ComplianceError::Io(file, e))?;
                }
                rows
            }
            None => Vec::new(),
        };
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

/// A scratch directory for a derivation's files under `parent` (created if missing), removed
/// when dropped; stale ones left there by processes that died are removed first.
pub(crate) fn scratch_dir(parent: &Path) -> Result<tempfile::TempDir, ComplianceError> {
    let io = |e| ComplianceError::Io(parent.to_path_buf(), e);
    std::fs::create_dir_all(parent).map_err(io)?;
    remove_stale_scratch(parent);
    tempfile::Builder::new()
        .prefix(SCRATCH_PREFIX)
        .tempdir_in(parent)
        .map_err(io)
}

/// Where a [`PartWriter`] puts its batches.
enum Sink {
    /// A file at `path`, created on the first batch (none if the part has no rows). The
    /// writer is boxed: it is large, and one part of a board is kept in memory instead.
    File {
        path: PathBuf,
        writer: Option<Box<FileWriter<BufWriter<File>>>>,
    },
    /// Memory (the part kept for the splitting worker).
    Memory(Vec<RecordBatch>),
}

/// One part's rows, in batches of about `rows_per_write` rows, in its file or in memory.
pub(super) struct PartWriter {
    sink: Sink,
    schema: SchemaRef,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    rows_per_write: usize,
}

impl PartWriter {
    /// A writer to the file at `path`, or to memory for `None`.
    pub(super) fn new(
        path: Option<PathBuf>,
        schema: SchemaRef,
        rows_per_write: usize,
    ) -> PartWriter {
        let sink = match path {
            Some(path) => Sink::File { path, writer: None },
            None => Sink::Memory(Vec::new()),
        };
        PartWriter {
            sink,
            schema,
            pending: Vec::new(),
            pending_rows: 0,
            rows_per_write,
        }
    }

    pub(super) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub(super) fn push(&mut self, rows: RecordBatch) -> Result<(), ComplianceError> {
        self.pending_rows += rows.num_rows();
        self.pending.push(rows);
        if self.pending_rows >= self.rows_per_write {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ComplianceError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        // One batch is written as it is: concatenating it alone would only copy it.
        let batch = match self.pending.len() {
            1 => self.pending.remove(0),
            _ => concat_batches(&self.schema, &self.pending)?,
        };
        self.pending.clear();
        self.pending_rows = 0;
        match &mut self.sink {
            Sink::Memory(kept) => kept.push(batch),
            Sink::File { path, writer } => {
                let writer = match writer {
                    Some(w) => w,
                    None => {
                        let file = File::create(&*path)
                            .map_err(|e| ComplianceError::Io(path.clone(), e))?;
                        // Uncompressed: see the top of this file.
                        let options = IpcWriteOptions::default();
                        writer.insert(Box::new(FileWriter::try_new_with_options(
                            BufWriter::new(file),
                            &self.schema,
                            options,
                        )?))
                    }
                };
                writer.write(&batch)?;
            }
        }
        Ok(())
    }

    /// The part, finished; a part held in memory goes to the file `spill` instead when given.
    /// The writer is left empty.
    pub(super) fn finish_into(&mut self, spill: Option<PathBuf>) -> Result<Part, ComplianceError> {
        self.flush()?;
        let sink = std::mem::replace(&mut self.sink, Sink::Memory(Vec::new()));
        Ok(match sink {
            Sink::Memory(kept) => match spill {
                None => Part::Kept(kept),
                Some(path) => {
                    let mut file = PartWriter::new(Some(path), self.schema.clone(), 1);
                    for rows in kept {
                        file.push(rows)?;
                    }
                    file.finish_into(None)?
                }
            },
            Sink::File {
                path,
                writer: Some(mut w),
            } => {
                w.finish()?;
                Part::File(Some(path))
            }
            Sink::File { writer: None, .. } => Part::File(None),
        })
    }
}
