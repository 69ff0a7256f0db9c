//! Landing: the only module that writes files. Validated events and dead letters become
//! Parquet files in Hive-style partitions, made visible by the commit log.
//!
//! Protocol for one batch (each step durable before the next):
//! 1. write every file under a hidden temporary name in its partition directory, fsync it and
//!    the directory;
//! 2. append the commit-log entry naming the files and the Kafka offsets they cover (the
//!    commit point);
//! 3. rename each temporary file to its final `.parquet` name and fsync the directory.
//!
//! A crash before 2 leaves only hidden temporaries that no reader sees and the replay rewrites;
//! a crash between 2 and 3 is repaired by whoever next owns the source: [`Landing::open`] on a
//! restart, [`Landing::recover_partition`] when another process is assigned the partition. Both
//! finish the renames of committed files and never delete a committed temporary. So a visible
//! `.parquet` file is always committed, and a committed offset is always landed.
//!
//! Two processes can believe they own one partition (one stalled past its session timeout).
//! Temporaries carry the writer's tag, so they never write the same file, and the commit log
//! fences the append (step 2): an entry whose offsets an earlier entry already landed is
//! refused, and its writer deletes its temporaries and re-reads from the commit log.
//! Uncommitted temporaries of other writers are deleted only once [`STALE_TEMPORARY_AGE`] old,
//! and a writer commits only if its temporaries still exist.

mod background_writer;
mod commit_log;
mod durable;
mod layout;
mod lookup_index;
mod reader;
mod rows;
mod schema;
mod streaming_writer;
mod writer;

pub use background_writer::BackgroundTableWriter;
pub use commit_log::{CommitEntry, CommitLog, CommitLogError, CommittedFile, PartitionOffset};
pub use durable::{create_dir_durable, replace_file, sync_parent_dir};
pub use layout::{
    file_stem, fnv1a, kafka_partition_prefix, kafka_stem, DataDir, Table, DERIVED_TABLES,
    PARTITION_KEY, UNKNOWN_PARTITION,
};
pub use lookup_index::LookupIndex;
pub use reader::{key_value_metadata, parquet_schema, read_parquet};
pub use rows::{dead_letters_batch, events_batch, DeadLetterRow, EventRow, Source};
pub use schema::{all_nullable, dead_letters_schema, events_schema};
pub use streaming_writer::DerivedTableWriter;
pub use writer::{
    write_parquet_file, write_parquet_replacing, write_parquet_replacing_with_metadata,
};

use crate::fault::{FaultPlan, FaultPoint};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Errors of the landing path. Any of them means the batch was not committed.
#[derive(Debug, thiserror::Error)]
pub enum LandingError {
    /// Filesystem failure.
    #[error("{path}: {cause}")]
    Io {
        /// File or directory.
        path: PathBuf,
        /// Cause.
        cause: io::Error,
    },
    /// Arrow or Parquet encoding failure.
    #[error("encoding {path}: {message}")]
    Encode {
        /// File.
        path: PathBuf,
        /// Cause.
        message: String,
    },
    /// A Parquet file could not be decoded.
    #[error("decoding {path}: {message}")]
    Decode {
        /// File.
        path: PathBuf,
        /// Cause.
        message: String,
    },
    /// Commit log failure.
    #[error(transparent)]
    CommitLog(#[from] CommitLogError),
}

pub(crate) fn io_error(path: &std::path::Path) -> impl FnOnce(io::Error) -> LandingError + '_ {
    move |cause| LandingError::Io {
        path: path.to_path_buf(),
        cause,
    }
}

/// How old another writer's uncommitted temporary must be before recovery deletes it: far
/// beyond any batch's write-to-commit time, so a stalled writer's files are not pulled from
/// under it (it would then fail its own commit and re-read, losing nothing, but wasting work).
pub const STALE_TEMPORARY_AGE: Duration = Duration::from_secs(3600);

/// What [`Landing::recover_partition`] repaired.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Committed files whose rename a crashed writer had not finished.
    pub renamed: usize,
    /// Stale uncommitted temporaries deleted.
    pub removed: usize,
}

/// One batch to land atomically.
#[derive(Debug, Default)]
pub struct Batch {
    /// Deterministic file stem (see [`kafka_stem`], [`file_stem`]).
    pub stem: String,
    /// Valid events.
    pub events: Vec<EventRow>,
    /// Rejected messages.
    pub dead_letters: Vec<DeadLetterRow>,
    /// Kafka progress this batch completes.
    pub offsets: Vec<PartitionOffset>,
    /// Provenance for file ingest.
    pub source: Option<String>,
}

/// What a landed batch made visible.
#[derive(Debug, Clone)]
pub struct LandedBatch {
    /// The commit-log entry.
    pub entry: CommitEntry,
    /// Time stamped into `landed_at`.
    pub landed_at: DateTime<Utc>,
}

/// A writer of batches into one data directory.
#[derive(Debug)]
pub struct Landing {
    data_dir: DataDir,
    log: CommitLog,
    writer: String,
    faults: Arc<FaultPlan>,
}

struct PendingFile {
    table: Table,
    tmp: PathBuf,
    dest: PathBuf,
    rows: u64,
}

impl Landing {
    /// Open a data directory for writing: create the layout, read the commit log and finish
    /// the renames of any entry committed just before a crash.
    pub fn open(
        data_dir: DataDir,
        writer: impl Into<String>,
        faults: Arc<FaultPlan>,
    ) -> Result<Self, LandingError> {
        for table in [Table::Events, Table::DeadLetters] {
            let dir = data_dir.table_dir(table);
            create_dir_durable(&dir).map_err(io_error(&dir))?;
        }
        let log = CommitLog::open(&data_dir.commit_log_dir())?;
        let landing = Landing {
            data_dir,
            log,
            writer: writer.into(),
            faults,
        };
        landing.finish_committed_renames("")?;
        landing.remove_stale_temporaries("")?;
        Ok(landing)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &DataDir {
        &self.data_dir
    }

    /// The commit log as last read.
    pub fn commit_log(&self) -> &CommitLog {
        &self.log
    }

    /// Re-read entries appended by other processes.
    pub fn refresh(&mut self) -> Result<(), LandingError> {
        Ok(self.log.refresh()?)
    }

    /// Repair a source this process has just been given (a Kafka partition, by its file-name
    /// prefix): finish the renames of files a previous owner committed and crashed before
    /// renaming, and delete its stale uncommitted temporaries. Call after [`Landing::refresh`].
    pub fn recover_partition(&self, prefix: &str) -> Result<Recovered, LandingError> {
        Ok(Recovered {
            renamed: self.finish_committed_renames(prefix)?,
            removed: self.remove_stale_temporaries(prefix)?,
        })
    }

    /// Rename into place every committed file (whose name starts with `prefix`) still under
    /// its writer's temporary name.
    fn finish_committed_renames(&self, prefix: &str) -> Result<usize, LandingError> {
        let mut renamed = 0;
        for entry in self.log.entries() {
            for file in &entry.files {
                let dest = self.data_dir.root().join(&file.path);
                let Some(name) = dest.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if !name.starts_with(prefix) || dest.exists() {
                    continue;
                }
                let tmp = dest.with_file_name(layout::temporary_name(name, &entry.writer));
                match fs::rename(&tmp, &dest) {
                    Ok(()) => {
                        sync_parent_dir(&dest).map_err(io_error(&dest))?;
                        renamed += 1;
                        tracing::warn!(path = %file.path, writer = entry.writer, "finished the rename of a file committed before a crash");
                    }
                    // The writer itself (still alive) renamed it meanwhile.
                    Err(_) if dest.exists() => {}
                    Err(_) => {
                        tracing::error!(path = %file.path, seq = entry.seq, "committed file is missing from the data directory")
                    }
                }
            }
        }
        Ok(renamed)
    }

    /// Delete hidden temporaries whose names start with `prefix` and that are older than
    /// [`STALE_TEMPORARY_AGE`]: the debris of writers that crashed before the commit point.
    /// Committed ones were renamed by [`Self::finish_committed_renames`] first.
    fn remove_stale_temporaries(&self, prefix: &str) -> Result<usize, LandingError> {
        let hidden = format!(".{prefix}");
        let mut removed = 0;
        for table in [Table::Events, Table::DeadLetters] {
            let dir = self.data_dir.table_dir(table);
            let Ok(partitions) = fs::read_dir(&dir) else {
                continue;
            };
            for part in partitions.flatten() {
                let Ok(files) = fs::read_dir(part.path()) else {
                    continue;
                };
                for f in files.flatten() {
                    let name = f.file_name().to_string_lossy().into_owned();
                    if !(name.starts_with(&hidden) && name.ends_with(".tmp")) {
                        continue;
                    }
                    let age = f
                        .metadata()
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok());
                    if age.is_some_and(|a| a >= STALE_TEMPORARY_AGE) {
                        match fs::remove_file(f.path()) {
                            Ok(()) => removed += 1,
                            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                            Err(e) => return Err(io_error(&f.path())(e)),
                        }
                    }
                }
            }
        }
        Ok(removed)
    }

    /// Land one batch (see the module docs for the protocol).
    pub fn land(&mut self, batch: Batch) -> Result<LandedBatch, LandingError> {
        let landed_at = Utc::now();
        let mut pending = Vec::new();

        let mut events_by_board: BTreeMap<&str, Vec<EventRow>> = BTreeMap::new();
        for row in batch.events {
            events_by_board
                .entry(row.event.provider_lhb)
                .or_default()
                .push(row);
        }
        for (lhb, rows) in &events_by_board {
            let rb = events_batch(rows, landed_at).map_err(|e| self.encode_err(e))?;
            pending.push(self.write_pending(Table::Events, lhb, &batch.stem, &rb)?);
        }
        let mut dead_by_board: BTreeMap<String, Vec<DeadLetterRow>> = BTreeMap::new();
        for row in batch.dead_letters {
            let lhb = row.lhb.clone().unwrap_or_else(|| UNKNOWN_PARTITION.into());
            dead_by_board.entry(lhb).or_default().push(row);
        }
        for (lhb, rows) in &dead_by_board {
            let rb = dead_letters_batch(rows, landed_at).map_err(|e| self.encode_err(e))?;
            pending.push(self.write_pending(Table::DeadLetters, lhb, &batch.stem, &rb)?);
        }
        self.faults.reached(FaultPoint::AfterParquetWrite);

        let files = pending
            .iter()
            .map(|p| CommittedFile {
                table: p.table.dir_name().to_string(),
                path: relative(self.data_dir.root(), &p.dest),
                rows: p.rows,
            })
            .collect();
        let entry = CommitEntry {
            seq: 0,
            committed_at: landed_at.to_rfc3339(),
            writer: self.writer.clone(),
            files,
            offsets: batch.offsets,
            source: batch.source,
        };
        let still_there = || match pending.iter().find(|p| !p.tmp.exists()) {
            Some(p) => Err(CommitLogError::Precondition(format!(
                "{} was removed before it was committed",
                p.tmp.display()
            ))),
            None => Ok(()),
        };
        let entry = match self.log.append(entry, still_there) {
            Ok(entry) => entry,
            Err(e) => {
                // Not committed: these temporaries would only ever be debris.
                for p in &pending {
                    let _ = fs::remove_file(&p.tmp);
                }
                return Err(e.into());
            }
        };
        self.faults.reached(FaultPoint::AfterCommitLogAppend);

        for p in &pending {
            match fs::rename(&p.tmp, &p.dest) {
                Ok(()) => {}
                // Another process's recovery may have finished this rename for us.
                Err(e) if e.kind() == io::ErrorKind::NotFound && p.dest.exists() => {}
                Err(e) => return Err(io_error(&p.dest)(e)),
            }
        }
        let mut dirs: Vec<_> = pending.iter().filter_map(|p| p.dest.parent()).collect();
        dirs.dedup();
        for d in dirs {
            fs::File::open(d)
                .and_then(|f| f.sync_all())
                .map_err(io_error(d))?;
        }
        Ok(LandedBatch { entry, landed_at })
    }

    fn encode_err(&self, e: impl std::fmt::Display) -> LandingError {
        LandingError::Encode {
            path: self.data_dir.root().to_path_buf(),
            message: e.to_string(),
        }
    }

    fn write_pending(
        &self,
        table: Table,
        lhb: &str,
        stem: &str,
        rb: &arrow::array::RecordBatch,
    ) -> Result<PendingFile, LandingError> {
        let dir = self.data_dir.partition_dir(table, lhb);
        create_dir_durable(&dir).map_err(io_error(&dir))?;
        let dest = dir.join(format!("{stem}.parquet"));
        let tmp = temporary_path(&dest, &self.writer);
        write_parquet_file(&tmp, rb)?;
        sync_parent_dir(&tmp).map_err(io_error(&tmp))?;
        Ok(PendingFile {
            table,
            tmp,
            dest,
            rows: rb.num_rows() as u64,
        })
    }
}

fn temporary_path(dest: &std::path::Path, writer: &str) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(layout::temporary_name(&name, writer))
}

fn relative(root: &std::path::Path, path: &std::path::Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
#[path = "recovery_tests.rs"]
mod recovery_tests;
