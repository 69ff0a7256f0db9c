//! Tests of file ingest's two-thread hand-over: batches are cut and committed exactly as a
//! serial loop would, and a landing or read failure stops the ingest with the right error.

use super::*;
use crate::fault::FaultPlan;
use crate::landing::{CommitEntry, DataDir};
use std::io::{Cursor, Read};
use std::sync::Arc;

fn line(n: usize, lhb: &str) -> String {
    format!(
        r#"{{"schema_version":1,"event_id":"00000000-0000-4000-8000-{n:012x}","event_type":"assessment_undertaken","provider_lhb":"{lhb}","referral_id":"r{n}","recorded_at":"2024-01-10T12:00:00Z","assessment_date":"2024-01-10"}}"#
    )
}

fn feed(boards: &[&str]) -> String {
    let mut text: String = boards
        .iter()
        .enumerate()
        .map(|(i, b)| line(i, b) + "\n")
        .collect();
    text.push_str("\n{not json\n");
    text
}

fn input(label: &str, text: String) -> Input {
    Input {
        label: label.into(),
        reader: Box::new(Cursor::new(text.into_bytes())),
    }
}

fn open(dir: &std::path::Path) -> Landing {
    Landing::open(DataDir::new(dir), "test", Arc::new(FaultPlan::default())).unwrap()
}

fn ingest(
    landing: &mut Landing,
    inputs: Vec<Input>,
    batch_lines: usize,
) -> Result<IngestSummary, FileIngestError> {
    let v = Validator::new(crate::event::Pseudonymiser::new("k"));
    ingest_inputs(landing, &v, inputs, batch_lines, |_| {})
}

fn sources(entries: &[CommitEntry]) -> Vec<String> {
    entries.iter().filter_map(|e| e.source.clone()).collect()
}

#[test]
fn batches_are_cut_and_committed_in_order_and_reingest_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let mut landing = open(tmp.path());
    let boards = ["7A1", "7A2", "7A3", "7A1", "7A2", "7A3", "7A4"];
    let run = |landing: &mut Landing| {
        let inputs = vec![input("a", feed(&boards)), input("b", feed(&boards[..2]))];
        ingest(landing, inputs, 3).unwrap()
    };
    let s = run(&mut landing);
    assert_eq!(
        (s.lines_read, s.blank_lines, s.landed, s.dead_letters()),
        (11, 2, 9, 2)
    );
    assert_eq!(s.batches, 4);
    let first = landing.commit_log().entries().to_vec();
    assert_eq!(
        sources(&first),
        ["a lines 1-3", "a lines 4-6", "a lines 7-9", "b lines 1-4"]
    );
    run(&mut landing);
    let all = landing.commit_log().entries();
    assert_eq!(all.len(), 8);
    let files = |entries: &[CommitEntry]| -> Vec<Vec<String>> {
        entries
            .iter()
            .map(|e| e.files.iter().map(|f| f.path.clone()).collect())
            .collect()
    };
    assert_eq!(
        files(&all[..4]),
        files(&all[4..]),
        "same names: a replay overwrites"
    );
}

#[test]
fn a_landing_failure_stops_reading_and_is_returned() {
    let tmp = tempfile::tempdir().unwrap();
    let mut landing = open(tmp.path());
    // A file where 7A1's partition directory belongs: any batch holding a 7A1 event fails.
    std::fs::write(tmp.path().join("events/lhb=7A1"), b"").unwrap();
    let mut boards = vec!["7A2"; 2];
    boards.push("7A1");
    boards.extend(["7A2"; 50]);
    let err = ingest(&mut landing, vec![input("a", feed(&boards))], 2).unwrap_err();
    assert!(matches!(err, FileIngestError::Landing(_)), "{err}");
    assert_eq!(sources(landing.commit_log().entries()), ["a lines 1-2"]);
}

/// Yields its text, then fails instead of reporting the end.
struct FailingAfter(Cursor<Vec<u8>>);

impl Read for FailingAfter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.read(buf)? {
            0 => Err(io::Error::other("disk on fire")),
            n => Ok(n),
        }
    }
}

fn failing_input(text: String) -> Input {
    Input {
        label: "f".into(),
        reader: Box::new(BufReader::with_capacity(
            64,
            FailingAfter(Cursor::new(text.into_bytes())),
        )),
    }
}

#[test]
fn a_read_failure_is_returned_after_the_batches_before_it_land() {
    let tmp = tempfile::tempdir().unwrap();
    let mut landing = open(tmp.path());
    let err = ingest(&mut landing, vec![failing_input(feed(&["7A2"; 5]))], 2).unwrap_err();
    assert!(matches!(err, FileIngestError::Read(..)), "{err}");
    assert_eq!(
        sources(landing.commit_log().entries()),
        ["f lines 1-2", "f lines 3-4", "f lines 5-7"]
    );
}

#[test]
fn a_landing_failure_is_reported_before_a_later_read_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let mut landing = open(tmp.path());
    std::fs::write(tmp.path().join("events/lhb=7A1"), b"").unwrap();
    let err = ingest(
        &mut landing,
        vec![failing_input(feed(&["7A1", "7A2", "7A2"]))],
        1,
    )
    .unwrap_err();
    assert!(matches!(err, FileIngestError::Landing(_)), "{err}");
    assert!(landing.commit_log().entries().is_empty());
}
