//! The append-only commit log: the source of truth for which files are committed and which
//! Kafka offsets they cover. One JSON file per entry, `<seq:020>.json`, created with a hard link
//! from a fully written temporary file, so an entry is either absent or complete, and two
//! processes sharing a data directory never overwrite each other's entries.

use super::durable::{create_dir_durable, sync_parent_dir};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A file recorded in an entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CommittedFile {
    /// `events` or `dead_letters`.
    pub table: String,
    /// Path relative to the data directory.
    pub path: String,
    /// Rows in the file.
    pub rows: u64,
}

/// The next offset to consume for one partition, as of an entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartitionOffset {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// One past the last offset landed.
    pub next_offset: i64,
    /// The first offset the entry lands (absent in entries written before it was recorded).
    /// An entry is accepted only if it starts at or after every earlier entry's
    /// `next_offset` for the partition: see [`CommitLog::append`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_offset: Option<i64>,
}

/// One committed batch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CommitEntry {
    /// Sequence number, dense from 1.
    pub seq: u64,
    /// RFC 3339 time of the commit.
    pub committed_at: String,
    /// Who wrote it (`ingest pid N`, `serve <group> pid N`); unique per process.
    pub writer: String,
    /// Files made visible by this entry.
    pub files: Vec<CommittedFile>,
    /// Kafka progress covered by this entry.
    #[serde(default)]
    pub offsets: Vec<PartitionOffset>,
    /// Free-form provenance for file ingest (`feed.ndjson lines 1-50000`).
    #[serde(default)]
    pub source: Option<String>,
}

/// Errors reading or appending the log.
#[derive(Debug, thiserror::Error)]
pub enum CommitLogError {
    /// Filesystem failure.
    #[error("commit log {path}: {cause}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        cause: io::Error,
    },
    /// Another writer already landed some of the entry's offsets: this writer lost ownership
    /// of the partition (or never had it) and must re-read from the commit log.
    #[error("{topic} partition {partition}: offsets from {first_offset} were already landed up to {committed} by another writer")]
    Fenced {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// First offset of the refused entry.
        first_offset: i64,
        /// The partition's committed next offset.
        committed: i64,
    },
    /// The caller's precondition for appending no longer holds.
    #[error("not committed: {0}")]
    Precondition(String),
    /// An entry that does not parse: the log was edited or damaged.
    #[error("commit log entry {path} is damaged: {cause}")]
    Damaged {
        /// The entry.
        path: PathBuf,
        /// The cause.
        cause: serde_json::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CommitLogError + '_ {
    move |cause| CommitLogError::Io {
        path: path.to_path_buf(),
        cause,
    }
}

/// An open commit log with every entry read so far.
#[derive(Debug)]
pub struct CommitLog {
    dir: PathBuf,
    entries: Vec<CommitEntry>,
    next_offsets: HashMap<(String, i32), i64>,
}

impl CommitLog {
    /// Open (creating the directory if needed) and read every entry.
    pub fn open(dir: &Path) -> Result<Self, CommitLogError> {
        create_dir_durable(dir).map_err(io_err(dir))?;
        let mut log = CommitLog {
            dir: dir.to_path_buf(),
            entries: Vec::new(),
            next_offsets: HashMap::new(),
        };
        log.refresh()?;
        Ok(log)
    }

    /// The highest sequence number in the commit log at `dir` (0 when empty or absent), from the
    /// file names alone: a cheap "has anything landed since?" check for the compute loop.
    pub fn latest_seq_in(dir: &Path) -> std::io::Result<u64> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut latest = 0;
        for item in entries {
            let name = item?.file_name();
            if let Some(seq) = name.to_str().and_then(entry_seq) {
                latest = latest.max(seq);
            }
        }
        Ok(latest)
    }

    /// Read entries other processes appended since the last read.
    pub fn refresh(&mut self) -> Result<(), CommitLogError> {
        let last = self.last_seq();
        let mut fresh: BTreeMap<u64, PathBuf> = BTreeMap::new();
        for item in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let path = item.map_err(io_err(&self.dir))?.path();
            let seq = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(entry_seq);
            if let Some(seq) = seq.filter(|s| *s > last) {
                fresh.insert(seq, path);
            }
        }
        for (_, path) in fresh {
            let bytes = fs::read(&path).map_err(io_err(&path))?;
            let entry: CommitEntry = serde_json::from_slice(&bytes)
                .map_err(|cause| CommitLogError::Damaged { path, cause })?;
            self.record(entry);
        }
        Ok(())
    }

    fn record(&mut self, entry: CommitEntry) {
        for o in &entry.offsets {
            let slot = self
                .next_offsets
                .entry((o.topic.clone(), o.partition))
                .or_insert(o.next_offset);
            *slot = (*slot).max(o.next_offset);
        }
        self.entries.push(entry);
    }

    /// Highest sequence number read.
    pub fn last_seq(&self) -> u64 {
        self.entries.last().map_or(0, |e| e.seq)
    }

    /// Every entry read, in sequence order.
    pub fn entries(&self) -> &[CommitEntry] {
        &self.entries
    }

    /// Where consumption of a partition resumes; `None` if it never landed anything.
    pub fn next_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        self.next_offsets
            .get(&(topic.to_string(), partition))
            .copied()
    }

    /// Append an entry (its `seq` is assigned here). If another process took the next
    /// sequence number first, read its entry and try the one after.
    ///
    /// Fencing: before each attempt, every partition the entry covers must not have been landed
    /// at or beyond the entry's `first_offset` by an earlier entry, and `precondition` (the
    /// caller's own check, such as "my files are still there") must hold. Both are judged
    /// against every entry below the sequence number the append then takes, because the hard
    /// link fails if anyone took that number meanwhile. So two writers that both believe they
    /// own a partition (one of them stalled past its session timeout) can never both commit
    /// the same offsets: the later one gets [`CommitLogError::Fenced`].
    pub fn append(
        &mut self,
        mut entry: CommitEntry,
        precondition: impl Fn() -> Result<(), CommitLogError>,
    ) -> Result<CommitEntry, CommitLogError> {
        loop {
            self.check_fence(&entry)?;
            precondition()?;
            entry.seq = self.last_seq() + 1;
            let path = self.dir.join(format!("{:020}.json", entry.seq));
            let tmp = self
                .dir
                .join(format!(".{:020}.{}.tmp", entry.seq, std::process::id()));
            let bytes = serde_json::to_vec_pretty(&entry).expect("entry serialises");
            let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
            f.write_all(&bytes).map_err(io_err(&tmp))?;
            f.sync_all().map_err(io_err(&tmp))?;
            drop(f);
            let linked = fs::hard_link(&tmp, &path);
            let _ = fs::remove_file(&tmp);
            match linked {
                Ok(()) => {
                    sync_parent_dir(&path).map_err(io_err(&path))?;
                    self.record(entry.clone());
                    return Ok(entry);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self.refresh()?,
                Err(e) => return Err(io_err(&path)(e)),
            }
        }
    }

    /// Refuse an entry that would land offsets an earlier entry already landed.
    fn check_fence(&self, entry: &CommitEntry) -> Result<(), CommitLogError> {
        for o in &entry.offsets {
            let (Some(first), Some(committed)) =
                (o.first_offset, self.next_offset(&o.topic, o.partition))
            else {
                continue;
            };
            // `>=`, not `==`: offsets may skip (transaction markers, compaction).
            if first < committed {
                return Err(CommitLogError::Fenced {
                    topic: o.topic.clone(),
                    partition: o.partition,
                    first_offset: first,
                    committed,
                });
            }
        }
        Ok(())
    }
}

/// The sequence number of a commit-log entry's file name (`<seq:020>.json`); temporaries and
/// anything else are `None`.
fn entry_seq(file_name: &str) -> Option<u64> {
    file_name.strip_suffix(".json")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(topic: &str, next: i64) -> CommitEntry {
        CommitEntry {
            seq: 0,
            committed_at: "2026-01-01T00:00:00Z".into(),
            writer: "test".into(),
            files: vec![],
            offsets: vec![PartitionOffset {
                topic: topic.into(),
                partition: 0,
                next_offset: next,
                first_offset: None,
            }],
            source: None,
        }
    }

    #[test]
    fn append_and_reopen_keeps_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = CommitLog::open(dir.path()).unwrap();
        assert_eq!(log.next_offset("t", 0), None);
        log.append(entry("t", 10), || Ok(())).unwrap();
        log.append(entry("t", 25), || Ok(())).unwrap();
        let reopened = CommitLog::open(dir.path()).unwrap();
        assert_eq!(reopened.last_seq(), 2);
        assert_eq!(reopened.next_offset("t", 0), Some(25));
    }

    #[test]
    fn latest_seq_in_reads_only_file_names() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            CommitLog::latest_seq_in(&dir.path().join("absent")).unwrap(),
            0
        );
        let mut log = CommitLog::open(dir.path()).unwrap();
        assert_eq!(CommitLog::latest_seq_in(dir.path()).unwrap(), 0);
        log.append(entry("t", 1), || Ok(())).unwrap();
        log.append(entry("t", 1), || Ok(())).unwrap();
        fs::write(dir.path().join(".00000000000000000009.1.tmp"), b"partial").unwrap();
        assert_eq!(CommitLog::latest_seq_in(dir.path()).unwrap(), 2);
    }

    #[test]
    fn two_writers_never_share_a_sequence_number() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = CommitLog::open(dir.path()).unwrap();
        let mut b = CommitLog::open(dir.path()).unwrap();
        a.append(entry("a", 1), || Ok(())).unwrap();
        let e = b.append(entry("b", 1), || Ok(())).unwrap();
        assert_eq!(e.seq, 2, "b saw a's entry and moved on");
        assert_eq!(b.next_offset("a", 0), Some(1));
    }

    fn covering(topic: &str, first: i64, next: i64) -> CommitEntry {
        let mut e = entry(topic, next);
        e.offsets[0].first_offset = Some(first);
        e
    }

    #[test]
    fn a_writer_that_lost_its_partition_cannot_commit_its_offsets_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut owner = CommitLog::open(dir.path()).unwrap();
        // Opened before the owner's entries: it believes nothing is landed.
        let mut stalled = CommitLog::open(dir.path()).unwrap();
        owner.append(covering("t", 0, 100), || Ok(())).unwrap();
        owner.append(covering("t", 100, 200), || Ok(())).unwrap();
        let refused = stalled.append(covering("t", 0, 150), || Ok(()));
        assert!(
            matches!(
                refused,
                Err(CommitLogError::Fenced {
                    first_offset: 0,
                    committed: 200,
                    ..
                })
            ),
            "{refused:?}"
        );
        // Starting at or after the committed position is accepted, gaps included (offsets
        // skip over transaction markers).
        stalled.append(covering("t", 200, 250), || Ok(())).unwrap();
        stalled.append(covering("t", 260, 300), || Ok(())).unwrap();
        assert_eq!(CommitLog::open(dir.path()).unwrap().last_seq(), 4);
        // Other partitions are not fenced by this one.
        stalled.append(covering("u", 0, 10), || Ok(())).unwrap();
    }

    #[test]
    fn a_failed_precondition_appends_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = CommitLog::open(dir.path()).unwrap();
        let refused = log.append(covering("t", 0, 10), || {
            Err(CommitLogError::Precondition("files gone".into()))
        });
        assert!(matches!(refused, Err(CommitLogError::Precondition(_))));
        assert_eq!(CommitLog::latest_seq_in(dir.path()).unwrap(), 0);
    }
}
