//! Tests of what one process leaves for another: a committed file its crashed writer never
//! renamed (the next owner must finish the rename, never delete it), stale and fresh
//! uncommitted temporaries, and two writers landing the same offsets (the second is fenced).

use super::*;
use std::fs::{File, FileTimes};
use std::time::SystemTime;

const TOPIC: &str = "lpmhss.events.7A1";

fn batch(first: i64, last: i64) -> Batch {
    let validator = crate::event::Validator::new(crate::event::Pseudonymiser::new("k"));
    let events = (first..=last)
        .map(|n| {
            let line = format!(
                r#"{{"schema_version":1,"event_id":"00000000-0000-4000-8000-{n:012x}","event_type":"assessment_undertaken","provider_lhb":"7A1","referral_id":"r{n}","recorded_at":"2024-01-10T12:00:00Z","assessment_date":"2024-01-10"}}"#
            );
            EventRow {
                event: validator.validate(line.as_bytes(), None).unwrap(),
                source: Source::Kafka {
                    topic: TOPIC.into(),
                    partition: 0,
                    offset: n,
                },
            }
        })
        .collect();
    Batch {
        stem: kafka_stem(TOPIC, 0, first, last),
        events,
        dead_letters: Vec::new(),
        offsets: vec![PartitionOffset {
            topic: TOPIC.into(),
            partition: 0,
            next_offset: last + 1,
            first_offset: Some(first),
        }],
        source: None,
    }
}

fn open(dir: &std::path::Path, writer: &str) -> Landing {
    Landing::open(DataDir::new(dir), writer, Arc::new(FaultPlan::default())).unwrap()
}

fn partition_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir.join("events/lhb=7A1"))
        .map(|d| {
            d.flatten()
                .map(|f| f.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn the_next_owner_finishes_the_renames_of_a_crashed_writer() {
    let tmp = tempfile::tempdir().unwrap();
    // The survivor opened the directory before the crash, so `open` repaired nothing.
    let mut survivor = open(tmp.path(), "serve g pid 2");
    let mut crashed = open(tmp.path(), "serve g pid 1");
    let landed = crashed.land(batch(0, 9)).unwrap();
    // Put the file back as it was between the commit-log append and the rename.
    let dest = tmp.path().join(&landed.entry.files[0].path);
    let name = dest.file_name().unwrap().to_str().unwrap().to_string();
    let tmp_file = dest.with_file_name(layout::temporary_name(&name, "serve g pid 1"));
    fs::rename(&dest, &tmp_file).unwrap();

    survivor.refresh().unwrap();
    let recovered = survivor
        .recover_partition(&kafka_partition_prefix(TOPIC, 0))
        .unwrap();
    assert_eq!(recovered.renamed, 1);
    assert!(dest.exists(), "the committed file is in place");
    assert_eq!(partition_files(tmp.path()), vec![name]);
    assert_eq!(survivor.commit_log().next_offset(TOPIC, 0), Some(10));
}

#[test]
fn only_stale_uncommitted_temporaries_are_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let landing = open(tmp.path(), "serve g pid 2");
    let dir = tmp.path().join("events/lhb=7A1");
    fs::create_dir_all(&dir).unwrap();
    let prefix = kafka_partition_prefix(TOPIC, 0);
    let stale = dir.join(format!(".{prefix}1-2.parquet.0000000000000001.tmp"));
    let fresh = dir.join(format!(".{prefix}3-4.parquet.0000000000000001.tmp"));
    let other = dir.join(".k-lpmhss.events.7A2-0-1-2.parquet.0000000000000001.tmp");
    for f in [&stale, &fresh, &other] {
        fs::write(f, b"partial").unwrap();
    }
    let long_ago = SystemTime::now() - STALE_TEMPORARY_AGE - Duration::from_secs(60);
    for f in [&stale, &other] {
        File::options()
            .write(true)
            .open(f)
            .unwrap()
            .set_times(FileTimes::new().set_modified(long_ago))
            .unwrap();
    }
    let recovered = landing.recover_partition(&prefix).unwrap();
    assert_eq!(
        recovered,
        Recovered {
            renamed: 0,
            removed: 1
        }
    );
    assert!(!stale.exists());
    assert!(fresh.exists(), "a live writer's temporary is left alone");
    assert!(
        other.exists(),
        "another partition's temporary is not ours to judge"
    );
}

#[test]
fn a_writer_that_lost_the_partition_is_fenced_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut stalled = open(tmp.path(), "serve g pid 1");
    let mut owner = open(tmp.path(), "serve g pid 2");
    owner.land(batch(0, 9)).unwrap();
    owner.land(batch(10, 19)).unwrap();
    let refused = stalled.land(batch(0, 14));
    assert!(
        matches!(
            refused,
            Err(LandingError::CommitLog(CommitLogError::Fenced {
                committed: 20,
                ..
            }))
        ),
        "{refused:?}"
    );
    let files = partition_files(tmp.path());
    assert_eq!(files.len(), 2, "no temporary or extra file left: {files:?}");
    assert!(files.iter().all(|f| f.ends_with(".parquet")));
    // It resumes from the commit log and lands what follows.
    stalled.land(batch(20, 29)).unwrap();
    assert_eq!(
        CommitLog::open(&tmp.path().join("_lpmhss/commit_log"))
            .unwrap()
            .next_offset(TOPIC, 0),
        Some(30)
    );
}
