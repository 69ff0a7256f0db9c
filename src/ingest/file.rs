//! File ingest (`lpmhss ingest`): NDJSON files or stdin through the same validation and landing
//! path as Kafka. Never aborts on a bad line: each line lands as an event or a dead letter.
//! Also the backfill path for a board's historical extract; re-ingesting the same file writes
//! the same file names, so it overwrites rather than duplicates.

use super::lines::{BoundedLines, Line};
use crate::event::validate::MAX_MESSAGE_BYTES;
use crate::event::{redact::redacted_payload, reference, Reason, Validator};
use crate::landing::{file_stem, Batch, DeadLetterRow, EventRow, Landing, LandingError, Source};
use chrono::Utc;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counts reported at the end of an ingest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestSummary {
    /// Non-blank lines read.
    pub lines_read: u64,
    /// Blank lines skipped (not messages).
    pub blank_lines: u64,
    /// Lines landed as events.
    pub landed: u64,
    /// Lines dead-lettered, by reason.
    pub dead_lettered: BTreeMap<Reason, u64>,
    /// Landed events per board and type (for metrics).
    pub landed_by_board_type: BTreeMap<(&'static str, &'static str), u64>,
    /// Unknown fields dropped.
    pub unknown_fields_dropped: u64,
    /// Commit-log entries written.
    pub batches: u64,
}

impl IngestSummary {
    /// Total dead letters.
    pub fn dead_letters(&self) -> u64 {
        self.dead_lettered.values().sum()
    }
}

/// Errors that stop a file ingest (bad lines never do).
#[derive(Debug, thiserror::Error)]
pub enum FileIngestError {
    /// An input could not be opened or read.
    #[error("cannot read {0}: {1}")]
    Read(String, io::Error),
    /// Landing failed; batches before it are committed, this one is not.
    #[error(transparent)]
    Landing(#[from] LandingError),
}

/// An opened input: a file or stdin.
pub struct Input {
    label: String,
    reader: Box<dyn BufRead>,
}

/// Open every input before reading any, so a typo in the last name fails before anything lands.
pub fn open_inputs(names: &[String]) -> Result<Vec<Input>, FileIngestError> {
    names
        .iter()
        .map(|name| {
            let reader: Box<dyn BufRead> = if name == "-" {
                Box::new(BufReader::with_capacity(1 << 20, io::stdin()))
            } else {
                let path = PathBuf::from(name);
                if path.is_dir() {
                    return Err(FileIngestError::Read(
                        name.clone(),
                        io::Error::other("is a directory, not an NDJSON file"),
                    ));
                }
                let f = File::open(&path).map_err(|e| FileIngestError::Read(name.clone(), e))?;
                Box::new(BufReader::with_capacity(1 << 20, f))
            };
            Ok(Input {
                label: name.clone(),
                reader,
            })
        })
        .collect()
}

/// Progress callback payload.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// Input being read.
    pub input: &'a str,
    /// Summary so far.
    pub summary: &'a IngestSummary,
    /// Time since start.
    pub elapsed: Duration,
}

/// Ingest every input, committing a batch every `batch_lines` lines and at the end of each
/// input. `progress` is called about every two seconds.
///
/// Reading and validating run on the calling thread while a second thread lands the previous
/// batch, so parsing and Parquet writing (with its fsyncs) overlap. Batches are cut exactly as
/// a serial loop would cut them and land in the same order, one at a time, so file names and
/// commit-log entries are the same. The channel holds one batch, so at most three are in
/// memory: one filling, one waiting, one landing.
pub fn ingest_inputs(
    landing: &mut Landing,
    validator: &Validator,
    inputs: Vec<Input>,
    batch_lines: usize,
    progress: impl FnMut(Progress<'_>),
) -> Result<IngestSummary, FileIngestError> {
    let landed = AtomicU64::new(0);
    let (to_landing, batches) = mpsc::sync_channel::<Batch>(1);
    std::thread::scope(|scope| {
        let lander = std::thread::Builder::new()
            .name("lpmhss-land".into())
            .spawn_scoped(scope, || land_in_order(landing, batches, &landed))
            // As `std::thread::spawn` would: no thread means the process is out of resources.
            .expect("cannot start the landing thread");
        let read = read_inputs(
            validator,
            inputs,
            batch_lines,
            &to_landing,
            &landed,
            progress,
        );
        // Closing the channel lets the landing thread finish the batches already handed over.
        drop(to_landing);
        let landing_result = lander
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        // A serial loop lands a batch before reading the lines after it, so a landing failure
        // comes before any read error found further on: report it first.
        landing_result?;
        let mut summary = match read {
            Ok(summary) => summary,
            Err(ReadStop::Read(e)) => return Err(e),
            Err(ReadStop::LandingStopped) => {
                unreachable!("the landing thread stops early only with an error")
            }
        };
        summary.batches = landed.load(Ordering::Acquire);
        Ok(summary)
    })
}

/// Why reading stopped before the end of the inputs.
enum ReadStop {
    /// An input could not be read.
    Read(FileIngestError),
    /// The landing thread failed and stopped taking batches; its error is the one to report.
    LandingStopped,
}

/// Land batches in the order they arrive until the channel closes or a batch fails; a failure
/// drops the receiver, which stops the reader at its next hand-over.
fn land_in_order(
    landing: &mut Landing,
    batches: Receiver<Batch>,
    landed: &AtomicU64,
) -> Result<(), LandingError> {
    for batch in batches {
        landing.land(batch)?;
        landed.fetch_add(1, Ordering::Release);
    }
    Ok(())
}

fn read_inputs(
    validator: &Validator,
    inputs: Vec<Input>,
    batch_lines: usize,
    to_landing: &SyncSender<Batch>,
    landed: &AtomicU64,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<IngestSummary, ReadStop> {
    let mut summary = IngestSummary::default();
    let started = Instant::now();
    let mut last_progress = Instant::now();
    let hand_over = |pending: PendingBatch| {
        to_landing
            .send(pending.into_batch())
            .map_err(|_| ReadStop::LandingStopped)
    };
    for input in inputs {
        let label = input.label.clone();
        let mut lines = BoundedLines::new(input.reader, MAX_MESSAGE_BYTES + 1);
        let mut line = Line::default();
        let mut pending = PendingBatch::new(&label);
        let mut line_no: i64 = 0;
        loop {
            let more = lines
                .next_line(&mut line)
                .map_err(|e| ReadStop::Read(FileIngestError::Read(label.clone(), e)))?;
            if !more {
                break;
            }
            line_no += 1;
            if line.full_len == 0 || line.bytes.iter().all(u8::is_ascii_whitespace) {
                summary.blank_lines += 1;
                continue;
            }
            summary.lines_read += 1;
            pending.add(validator, &line, line_no, &mut summary);
            if pending.len() >= batch_lines {
                hand_over(std::mem::replace(&mut pending, PendingBatch::new(&label)))?;
            }
            if last_progress.elapsed() >= Duration::from_secs(2) {
                last_progress = Instant::now();
                summary.batches = landed.load(Ordering::Acquire);
                progress(Progress {
                    input: &label,
                    summary: &summary,
                    elapsed: started.elapsed(),
                });
            }
        }
        if pending.len() > 0 {
            hand_over(pending)?;
        }
    }
    Ok(summary)
}

struct PendingBatch {
    label: Arc<str>,
    hasher: Sha256,
    first_line: i64,
    last_line: i64,
    events: Vec<EventRow>,
    dead: Vec<DeadLetterRow>,
}

impl PendingBatch {
    fn new(label: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(label.as_bytes());
        PendingBatch {
            label: label.into(),
            hasher,
            first_line: 0,
            last_line: 0,
            events: Vec::new(),
            dead: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.events.len() + self.dead.len()
    }

    fn add(
        &mut self,
        validator: &Validator,
        line: &Line,
        line_no: i64,
        summary: &mut IngestSummary,
    ) {
        if self.first_line == 0 {
            self.first_line = line_no;
        }
        self.last_line = line_no;
        self.hasher.update(line_no.to_le_bytes());
        self.hasher.update(&line.bytes);
        let source = Source::File {
            file: Arc::clone(&self.label),
            line: line_no,
        };
        // A line over the limit was cut when read; pass a length that still fails the check.
        let result = if line.full_len > line.bytes.len() {
            validator.validate(&vec![b' '; line.full_len.min(MAX_MESSAGE_BYTES + 1)], None)
        } else {
            validator.validate(&line.bytes, None)
        };
        match result {
            Ok(event) => {
                summary.landed += 1;
                summary.unknown_fields_dropped += u64::from(event.unknown_fields);
                *summary
                    .landed_by_board_type
                    .entry((event.provider_lhb, event.event_type.as_str()))
                    .or_default() += 1;
                self.events.push(EventRow { event, source });
            }
            Err(rejection) => {
                *summary.dead_lettered.entry(rejection.reason).or_default() += 1;
                self.dead.push(DeadLetterRow {
                    lhb: board_named_in(&line.bytes),
                    payload: redacted_payload(&line.bytes),
                    rejection,
                    received_at: Utc::now(),
                    source,
                });
            }
        }
    }

    /// The batch to land: its stem hashes the input's name and every line with its number,
    /// so the same lines always land under the same names.
    fn into_batch(self) -> Batch {
        let hash = hex::encode(self.hasher.finalize());
        Batch {
            stem: file_stem(&hash[..16], self.first_line, self.last_line),
            events: self.events,
            dead_letters: self.dead,
            offsets: Vec::new(),
            source: Some(format!(
                "{} lines {}-{}",
                self.label, self.first_line, self.last_line
            )),
        }
    }
}

/// The valid board a rejected line names, so its dead letter lands in that board's partition.
fn board_named_in(bytes: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let lhb = value.get("provider_lhb")?.as_str()?;
    reference::board(lhb).map(|b| b.ods.clone())
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
