//! The data directory's layout (SPEC section 7): where each table's files live and how they
//! are named. Names are deterministic so that landing the same input again overwrites rather
//! than duplicates (architecture invariant 4).

use std::path::{Path, PathBuf};

/// The landed tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// Valid, pseudonymised events.
    Events,
    /// Rejected messages.
    DeadLetters,
}

impl Table {
    /// Directory name under the data directory.
    pub fn dir_name(self) -> &'static str {
        match self {
            Table::Events => "events",
            Table::DeadLetters => "dead_letters",
        }
    }
}

/// Hive partition key of both landed tables: the board the message belongs to.
pub const PARTITION_KEY: &str = "lhb";
/// Partition value for dead letters that cannot be attributed to a board.
pub const UNKNOWN_PARTITION: &str = "unknown";

/// Derived tables rebuilt by each computation, one Parquet file each.
pub const DERIVED_TABLES: [&str; 4] = ["pathways", "monthly", "data_quality", "waiting_list"];

/// A data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Wrap a path (not created or checked here).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `events/` or `dead_letters/`.
    pub fn table_dir(&self, table: Table) -> PathBuf {
        self.root.join(table.dir_name())
    }

    /// `events/lhb=7A1/`.
    pub fn partition_dir(&self, table: Table, lhb: &str) -> PathBuf {
        self.table_dir(table).join(format!("{PARTITION_KEY}={lhb}"))
    }

    /// Internal state: commit log and locks. Not a table.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join("_lpmhss")
    }

    /// `_lpmhss/commit_log/`.
    pub fn commit_log_dir(&self) -> PathBuf {
        self.state_dir().join("commit_log")
    }

    /// `pathways/pathways.parquet` and so on.
    pub fn derived_file(&self, table: &str) -> PathBuf {
        self.root.join(table).join(format!("{table}.parquet"))
    }
}

/// The file stem for a batch of one Kafka partition: topic, partition and offset range.
pub fn kafka_stem(topic: &str, partition: i32, first_offset: i64, last_offset: i64) -> String {
    format!("k-{topic}-{partition}-{first_offset:020}-{last_offset:020}")
}

/// The prefix shared by every file of one Kafka partition.
pub fn kafka_partition_prefix(topic: &str, partition: i32) -> String {
    format!("k-{topic}-{partition}-")
}

/// The file stem for a batch of file lines: a hash of the lines' bytes and the line range,
/// so re-ingesting the same extract writes the same names.
pub fn file_stem(content_hash: &str, first_line: i64, last_line: i64) -> String {
    format!("f-{content_hash}-{first_line:010}-{last_line:010}")
}

/// The temporary name a file is written under before it is committed: hidden and without the
/// `.parquet` extension, so no reader (ours, DuckDB's globs) ever sees it. It carries a tag of
/// the writer (the commit log's `writer` field, unique per process) so that two processes
/// landing the same offsets (one of them stalled past its session timeout) never write the
/// same temporary, and recovery can tell which temporary a commit-log entry names.
pub fn temporary_name(final_name: &str, writer: &str) -> String {
    format!(".{final_name}.{}.tmp", writer_tag(writer))
}

/// The writer's name hashed, in hex: short, file-name safe and stable across versions.
fn writer_tag(writer: &str) -> String {
    format!("{:016x}", fnv1a(writer))
}

/// FNV-1a, 64 bits: fast on short strings and stable across versions and machines (writer
/// tags; the buckets of a bounded-memory derivation).
pub fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporaries_are_hidden_and_differ_per_writer() {
        let a = temporary_name("k-t-0-1-2.parquet", "serve g pid 1");
        let b = temporary_name("k-t-0-1-2.parquet", "serve g pid 2");
        assert!(
            a.starts_with(".k-t-0-1-2.parquet.") && a.ends_with(".tmp"),
            "{a}"
        );
        assert_ne!(a, b);
        assert_eq!(a, temporary_name("k-t-0-1-2.parquet", "serve g pid 1"));
    }
}
