//! A derived table encoded on a thread of its own, so that the caller goes on computing the
//! next rows while the previous ones are encoded (a bucketed derivation derives bucket k+1
//! while bucket k's pathways are written). Encoding Parquet is CPU work that would otherwise
//! block the async runtime's thread and leave the machine's other core idle half the time.
//!
//! The table is replaced only when [`BackgroundTableWriter::finish`] is called and every row was
//! written: dropped before that (an error, a shutdown), the previous table stands, exactly as
//! with [`DerivedTableWriter`].

use super::streaming_writer::encode_error;
use super::{DerivedTableWriter, LandingError};
use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

/// What the encoding thread is asked to do.
enum Request {
    /// Append these rows; the permit is released once they are encoded.
    Rows(Vec<RecordBatch>, OwnedSemaphorePermit),
    /// Every row has been sent: complete the table and put it in place.
    Finish,
}

/// A derived table being written on its own thread.
pub struct BackgroundTableWriter {
    dest: PathBuf,
    schema: SchemaRef,
    requests: Option<mpsc::Sender<Request>>,
    /// One permit: the rows of at most one call are in the writer (queued or being encoded).
    in_writer: Arc<Semaphore>,
    thread: Option<JoinHandle<Result<u64, LandingError>>>,
}

impl BackgroundTableWriter {
    /// Start replacing `dest` with a table of `schema` (every column made nullable) and footer
    /// `metadata`. The writer holds the rows of at most one call at a time, so the caller's
    /// memory grows by one call's rows at most (a bucket's pathways, while it derives the next).
    pub fn create(
        dest: &Path,
        schema: &Schema,
        metadata: &[(String, String)],
    ) -> Result<Self, LandingError> {
        let mut writer = DerivedTableWriter::create(dest, schema, metadata)?;
        let schema = writer.schema();
        let (requests, mut received) = mpsc::channel::<Request>(1);
        let table = dest.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("lpmhss-table-writer".into())
            .spawn(move || {
                while let Some(request) = received.blocking_recv() {
                    match request {
                        Request::Rows(rows, permit) => {
                            writer.write(&rows)?;
                            // Free the rows before letting the next call's in.
                            drop(rows);
                            drop(permit);
                        }
                        Request::Finish => return writer.finish(),
                    }
                }
                // The sender went away without asking to finish: abandoned. Dropping the
                // writer removes its temporary file and leaves the previous table.
                Err(abandoned(&table))
            })
            .map_err(|cause| LandingError::Io {
                path: dest.to_path_buf(),
                cause,
            })?;
        Ok(BackgroundTableWriter {
            dest: dest.to_path_buf(),
            schema,
            requests: Some(requests),
            in_writer: Arc::new(Semaphore::new(1)),
            thread: Some(thread),
        })
    }

    /// The table's schema (all columns nullable).
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Hand rows over for encoding; waits while the previous call's rows are still being
    /// encoded. An encoding error surfaces here (or at [`finish`](Self::finish)).
    pub async fn write(&mut self, rows: Vec<RecordBatch>) -> Result<(), LandingError> {
        let sent = match (
            self.requests.as_ref(),
            self.in_writer.clone().acquire_owned().await,
        ) {
            (Some(requests), Ok(permit)) => {
                requests.send(Request::Rows(rows, permit)).await.is_ok()
            }
            _ => false,
        };
        if sent {
            return Ok(());
        }
        // The thread stopped on an error: report it.
        self.requests = None;
        let dest = self.dest.clone();
        Err(self.join().await.err().unwrap_or_else(|| abandoned(&dest)))
    }

    /// Wait for every row to be encoded, complete the file and put it in place. Returns the
    /// rows written.
    pub async fn finish(mut self) -> Result<u64, LandingError> {
        if let Some(requests) = self.requests.take() {
            // A failed send means the thread already stopped; `join` reports why.
            let _ = requests.send(Request::Finish).await;
        }
        self.join().await
    }

    /// Give the table up: the previous one stands. Returns once the encoding thread has
    /// stopped and removed its temporary file, so that another writer of the same table can
    /// start.
    pub async fn abandon(mut self) {
        self.requests = None;
        // Its only outcome is "abandoned" (or an earlier encoding error): nothing to report.
        let _ = self.join().await;
    }

    async fn join(&mut self) -> Result<u64, LandingError> {
        let Some(thread) = self.thread.take() else {
            return Err(abandoned(&self.dest));
        };
        let dest = self.dest.clone();
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .map_err(|e| encode_error(&dest, e))?
            .map_err(|_| encode_error(&dest, "the encoding thread panicked"))?
    }
}

fn abandoned(dest: &Path) -> LandingError {
    LandingError::Encode {
        path: dest.to_path_buf(),
        message: "table abandoned before it was finished".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Array, StringArray};
    use arrow::datatypes::{DataType, Field};

    fn batch(from: i32, rows: i32) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int32, false),
            Field::new("s", DataType::Utf8, false),
        ]));
        let n: Vec<i32> = (from..from + rows).collect();
        let s: Vec<String> = n.iter().map(|v| format!("row {v}")).collect();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(n)),
                Arc::new(StringArray::from(s)),
            ],
        )
        .unwrap()
    }

    #[tokio::test]
    async fn every_row_sent_is_in_the_finished_table() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("t.parquet");
        let first = batch(0, 10);
        let mut writer = BackgroundTableWriter::create(&dest, &first.schema(), &[]).unwrap();
        for k in 0..5 {
            writer.write(vec![batch(k * 10, 10)]).await.unwrap();
        }
        assert!(!dest.exists(), "the table appears only when finished");
        assert_eq!(writer.finish().await.unwrap(), 50);
        let (_, read) = crate::landing::read_parquet(&dest).unwrap();
        let rows: usize = read.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 50);
    }

    #[tokio::test]
    async fn an_unfinished_table_leaves_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("t.parquet");
        std::fs::write(&dest, b"previous").unwrap();
        let first = batch(0, 3);
        let mut writer = BackgroundTableWriter::create(&dest, &first.schema(), &[]).unwrap();
        writer.write(vec![first]).await.unwrap();
        drop(writer);
        // The thread notices the abandonment; give it a moment, then check nothing moved.
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(std::fs::read(&dest).unwrap(), b"previous");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
    }
}
