//! What the persisted `pathways` table was derived from, and whether the next computation can
//! refresh it incrementally or must derive everything again.
//!
//! The state travels inside the `pathways` Parquet file as key-value metadata, so the table and
//! the description of what it holds are replaced by one rename: no second file can disagree
//! with it after a crash or when two processes compute over one data directory.

use crate::landing::{key_value_metadata, CommitLog, DataDir, Table, PARTITION_KEY};
use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const THROUGH_SEQ: &str = "lpmhss.derived_through_seq";
const FINGERPRINT: &str = "lpmhss.derivation_fingerprint";
const FULL_AT: &str = "lpmhss.full_derivation_at";

/// `auto` refreshes at most this many new events, and at most one per this many landed ones.
/// A refresh reads every file that may hold a new event's pathway, so its cost grows with how
/// far the new events spread: 1,000 new events on 3.2M took 1.4-1.8 s (a full derivation 6 s),
/// 16,000 on 10M took 7 s (full: 18 s), and 266,000 on 10M ran for minutes. Kept well on the
/// cheap side of those measurements.
const MAX_INCREMENTAL_EVENTS: u64 = 20_000;
const EVENTS_PER_INCREMENTAL_EVENT: u64 = 100;

/// How a computation derives `pathways`.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Deserialize,
    serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum DerivationMode {
    /// Refresh from the previous computation when it is valid, the backlog is small and the
    /// last full derivation is recent enough; otherwise derive everything.
    #[default]
    Auto,
    /// Always derive every pathway from every event.
    Full,
    /// Refresh whenever the previous computation is valid, however large the backlog.
    Incremental,
}

/// How computations derive `pathways`: the mode and how often `Auto` insists on a full
/// derivation (a check that the refreshed table is still what the rules give).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Derivation {
    /// The mode.
    pub mode: DerivationMode,
    /// Longest time `Auto` refreshes before deriving everything again.
    pub full_every: Duration,
    /// A full derivation that writes its table derives pathways in buckets of about this many
    /// events when there are more (bounded memory, `bucketed.rs`); 0 never does. `None`: in
    /// buckets sized to `memory_mb` (`bucket_size.rs`) when it would not fit in memory.
    pub bucket_events: Option<u64>,
    /// The resident memory, in MiB, a computation sizes its buckets to when `bucket_events` is
    /// not set.
    pub memory_mb: u64,
}

impl Default for Derivation {
    fn default() -> Self {
        Derivation {
            mode: DerivationMode::Auto,
            full_every: Duration::from_secs(3600),
            bucket_events: None,
            memory_mb: 800,
        }
    }
}

/// What a persisted `pathways` table reflects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivationState {
    /// Every event file of commit-log entries up to this sequence number is included.
    pub through_seq: u64,
    /// [`fingerprint`] of the program that derived it.
    pub fingerprint: String,
    /// When every pathway was last derived from every event.
    pub full_at: DateTime<Utc>,
}

impl DerivationState {
    /// Read the state from a `pathways` file; `None` if absent, unreadable or not ours.
    pub fn read(pathways_file: &Path) -> Option<DerivationState> {
        let pairs = key_value_metadata(pathways_file)?;
        let value = |key: &str| pairs.iter().find(|kv| kv.0 == key).map(|kv| kv.1.clone());
        Some(DerivationState {
            through_seq: value(THROUGH_SEQ)?.parse().ok()?,
            fingerprint: value(FINGERPRINT)?,
            full_at: DateTime::parse_from_rfc3339(&value(FULL_AT)?)
                .ok()?
                .with_timezone(&Utc),
        })
    }

    /// The key-value metadata to write with the table.
    pub fn to_metadata(&self) -> Vec<(String, String)> {
        vec![
            (THROUGH_SEQ.into(), self.through_seq.to_string()),
            (FINGERPRINT.into(), self.fingerprint.clone()),
            (
                FULL_AT.into(),
                self.full_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            ),
        ]
    }
}

/// A digest of everything that decides a pathway's row: the program version and the SQL of
/// every derivation stage. A table derived by another version is never refreshed, only replaced.
pub fn fingerprint() -> String {
    let mut hash = Sha256::new();
    hash.update(env!("CARGO_PKG_VERSION"));
    hash.update(super::rules::SCOPED_EVENTS.sql);
    for stage in super::rules::derivation() {
        hash.update(stage.rule.name);
        hash.update(stage.rule.sql);
    }
    hash.finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The committed event files visible on disk, in commit order.
#[derive(Debug, Clone, Default)]
pub struct VisibleCommits {
    /// The last sequence number whose files, and every earlier entry's, are all on disk.
    pub through_seq: u64,
    /// `(seq, path, rows)` of every event file up to `through_seq`.
    pub event_files: Vec<(u64, PathBuf, u64)>,
    /// When each board's newest events were landed (an entry's `committed_at` is its rows'
    /// `landed_at`), so feed freshness needs no scan of the events.
    pub last_landed: BTreeMap<String, DateTime<Utc>>,
}

impl VisibleCommits {
    /// Read the commit log. A writer appends its entry before renaming the entry's files into
    /// place, so the newest entries may name files not visible yet: stop before the first such
    /// entry (or a gap in the sequence), so a derivation never claims events it could not read.
    pub fn read(data_dir: &DataDir) -> Result<VisibleCommits, crate::landing::CommitLogError> {
        let dir = data_dir.commit_log_dir();
        if !dir.is_dir() {
            return Ok(VisibleCommits::default());
        }
        let log = CommitLog::open(&dir)?;
        let mut visible = VisibleCommits::default();
        for entry in log.entries() {
            if entry.seq != visible.through_seq + 1 {
                break;
            }
            let files: Vec<(u64, PathBuf, u64)> = entry
                .files
                .iter()
                .filter(|f| f.table == Table::Events.dir_name())
                .map(|f| (entry.seq, data_dir.root().join(&f.path), f.rows))
                .collect();
            if let Some((_, missing, _)) = files.iter().find(|(_, path, _)| !path.exists()) {
                warn_if_long_blocked(entry, missing);
                break;
            }
            if let Ok(at) = DateTime::parse_from_rfc3339(&entry.committed_at) {
                for board in entry.files.iter().filter_map(|f| events_board(&f.path)) {
                    let newest = visible.last_landed.entry(board).or_insert(at.into());
                    *newest = (*newest).max(at.into());
                }
            }
            visible.event_files.extend(files);
            visible.through_seq = entry.seq;
        }
        Ok(visible)
    }

    /// Events in all visible files.
    pub fn event_rows(&self) -> u64 {
        self.event_files.iter().map(|f| f.2).sum()
    }

    /// The event files committed after `seq`.
    pub fn files_after(&self, seq: u64) -> Vec<(PathBuf, u64)> {
        self.event_files
            .iter()
            .filter(|f| f.0 > seq)
            .map(|f| (f.1.clone(), f.2))
            .collect()
    }
}

/// An entry normally waits for its renames for milliseconds. One that has waited a minute means
/// its writer died and nobody has taken over its source yet (or a file was deleted by hand):
/// every later batch stays out of the computations until it is repaired, so say so.
fn warn_if_long_blocked(entry: &crate::landing::CommitEntry, missing: &Path) {
    let waited = DateTime::parse_from_rfc3339(&entry.committed_at)
        .ok()
        .map(|at| Utc::now().signed_duration_since(at));
    if waited.is_some_and(|w| w > chrono::Duration::seconds(60)) {
        tracing::warn!(
            seq = entry.seq,
            writer = entry.writer,
            file = %missing.display(),
            "a committed file is not in place: later batches are not computed until its writer restarts or another process is assigned its partition"
        );
    }
}

/// The board of an `events/lhb=XXX/…` path.
fn events_board(path: &str) -> Option<String> {
    let mut parts = path.split('/');
    if parts.next()? != Table::Events.dir_name() {
        return None;
    }
    let board = parts
        .next()?
        .strip_prefix(PARTITION_KEY)?
        .strip_prefix('=')?;
    Some(board.to_string())
}

/// What the next computation will do.
#[derive(Debug, Clone)]
pub enum DerivationPlan {
    /// Derive every pathway; `reason` says why, for the log.
    Full {
        /// Why an incremental refresh is not possible or not wanted.
        reason: &'static str,
    },
    /// Re-derive only the pathways the new event files touch.
    Incremental {
        /// The state being refreshed.
        previous: DerivationState,
        /// Event files committed since, with their row counts.
        new_files: Vec<(PathBuf, u64)>,
    },
}

/// Decide between a full derivation and an incremental refresh of `previous`.
pub fn plan(
    mode: DerivationMode,
    previous: Option<DerivationState>,
    visible: &VisibleCommits,
    now: DateTime<Utc>,
    full_every: Duration,
) -> DerivationPlan {
    let full = |reason| DerivationPlan::Full { reason };
    if mode == DerivationMode::Full {
        return full("a full derivation was asked for");
    }
    let Some(previous) = previous else {
        return full("no previous derivation to refresh");
    };
    if previous.fingerprint != fingerprint() {
        return full("the previous derivation was made by another version of the rules");
    }
    if previous.through_seq > visible.through_seq {
        return full("the commit log is behind the previous derivation");
    }
    let new_files = visible.files_after(previous.through_seq);
    if mode == DerivationMode::Auto {
        let new_rows: u64 = new_files.iter().map(|f| f.1).sum();
        let limit = MAX_INCREMENTAL_EVENTS.min(visible.event_rows() / EVENTS_PER_INCREMENTAL_EVENT);
        if new_rows > limit {
            return full("the backlog is too large for a refresh to pay");
        }
        let age = now.signed_duration_since(previous.full_at);
        if age.to_std().is_ok_and(|age| age >= full_every) {
            return full("the periodic full derivation is due");
        }
    }
    DerivationPlan::Incremental {
        previous,
        new_files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(seq: u64, full_at: DateTime<Utc>) -> DerivationState {
        DerivationState {
            through_seq: seq,
            fingerprint: fingerprint(),
            full_at,
        }
    }

    fn visible(files: &[(u64, u64)]) -> VisibleCommits {
        VisibleCommits {
            last_landed: BTreeMap::new(),
            through_seq: files.last().map_or(0, |f| f.0),
            event_files: files
                .iter()
                .map(|(seq, rows)| (*seq, PathBuf::from(format!("f{seq}")), *rows))
                .collect(),
        }
    }

    fn is_incremental(p: &DerivationPlan) -> bool {
        matches!(p, DerivationPlan::Incremental { .. })
    }

    #[test]
    fn auto_refreshes_a_small_backlog_and_derives_everything_otherwise() {
        let now = Utc::now();
        let hour = Duration::from_secs(3600);
        let v = visible(&[(1, 100_000), (2, 100_000), (3, 1000)]);
        let p = plan(DerivationMode::Auto, Some(state(2, now)), &v, now, hour);
        match &p {
            DerivationPlan::Incremental { new_files, .. } => {
                assert_eq!(new_files, &vec![(PathBuf::from("f3"), 1000)])
            }
            other => panic!("expected a refresh, got {other:?}"),
        }
        // Over one new event per hundred landed.
        let p = plan(DerivationMode::Auto, Some(state(1, now)), &v, now, hour);
        assert!(!is_incremental(&p));
        // ...but a forced refresh still refreshes.
        let p = plan(
            DerivationMode::Incremental,
            Some(state(1, now)),
            &v,
            now,
            hour,
        );
        assert!(is_incremental(&p));
        // The periodic full derivation.
        let old = now - chrono::Duration::hours(2);
        let p = plan(DerivationMode::Auto, Some(state(2, old)), &v, now, hour);
        assert!(!is_incremental(&p));
    }

    #[test]
    fn never_refreshes_a_foreign_or_future_state() {
        let now = Utc::now();
        let hour = Duration::from_secs(3600);
        let v = visible(&[(1, 10), (2, 10)]);
        let mut foreign = state(1, now);
        foreign.fingerprint = "other".into();
        let mode = DerivationMode::Incremental;
        assert!(!is_incremental(&plan(mode, Some(foreign), &v, now, hour)));
        assert!(!is_incremental(&plan(
            mode,
            Some(state(3, now)),
            &v,
            now,
            hour
        )));
        assert!(!is_incremental(&plan(mode, None, &v, now, hour)));
        let full = DerivationMode::Full;
        assert!(!is_incremental(&plan(
            full,
            Some(state(2, now)),
            &v,
            now,
            hour
        )));
    }

    #[test]
    fn boards_come_from_event_paths_only() {
        assert_eq!(
            events_board("events/lhb=7A1/f.parquet").as_deref(),
            Some("7A1")
        );
        assert_eq!(events_board("dead_letters/lhb=7A1/f.parquet"), None);
        assert_eq!(events_board("events/f.parquet"), None);
    }

    #[test]
    fn the_state_survives_a_round_trip_through_metadata() {
        let s = state(
            7,
            DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
                .unwrap()
                .into(),
        );
        let meta = s.to_metadata();
        assert_eq!(meta.len(), 3);
        assert!(meta.iter().any(|(k, v)| k == THROUGH_SEQ && v == "7"));
    }
}
