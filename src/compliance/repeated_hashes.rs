//! The 64-bit hashes of the event ids that occur more than once, found in bounded memory: the
//! hashes (computed by the SQL function `lpmhss_hash64` while the ids are read) are spread over
//! scratch files by slice of the hash space, and each slice is then sorted on its own, so memory
//! holds one slice (at most [`HASHES_PER_SLICE`] hashes, 64 MB), whatever the store holds.
//!
//! Grouping the hashes in SQL instead, a slice per pass over an in-memory table of every hash,
//! took 33 s and 400 MB for 50M events; this takes a few seconds. A hash found twice may belong
//! to two different ids (a collision): the caller re-checks the candidates' real ids.

use super::hash_udfs::HashValues;
use super::ComplianceError;
use datafusion::arrow::array::{Array, UInt64Array};
use datafusion::error::DataFusionError;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Hashes sorted at once, at most (8 bytes each).
pub(crate) const HASHES_PER_SLICE: u64 = 8_000_000;

/// The hashes that occur more than once in `hashes` (a stream of one UInt64 column, about
/// `expected` rows), using `dir` for the slices when they do not fit one.
pub(crate) async fn repeated_hashes(
    mut hashes: SendableRecordBatchStream,
    expected: u64,
    dir: &Path,
) -> Result<HashValues, ComplianceError> {
    let mut tally = HashTally::new(expected, dir)?;
    while let Some(batch) = hashes.next().await {
        tally.add(column(&batch?)?.iter().flatten())?;
    }
    tally.repeated()
}

/// Hashes added a batch at a time (by one pass over the store, or by each bucket of a
/// derivation as it goes: `bucket_ids.rs`), then the ones added more than once.
pub(crate) struct HashTally {
    slices: Slices,
}

/// Where a tally keeps its hashes: in memory when about one slice is expected, else in one
/// scratch file per slice of the hash space.
enum Slices {
    InMemory(Vec<u64>),
    Files(Vec<(PathBuf, BufWriter<File>)>),
}

impl HashTally {
    /// A tally for about `expected` hashes, with its slice files (if any) in `dir`.
    pub(crate) fn new(expected: u64, dir: &Path) -> Result<Self, ComplianceError> {
        let slices = expected.div_ceil(HASHES_PER_SLICE).max(1);
        if slices == 1 {
            return Ok(HashTally {
                slices: Slices::InMemory(Vec::with_capacity(expected as usize)),
            });
        }
        let files = (0..slices)
            .map(|s| {
                let path = dir.join(format!("hashes-{s}.u64"));
                File::create(&path)
                    .map(|f| (path.clone(), BufWriter::new(f)))
                    .map_err(|e| ComplianceError::Io(path, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HashTally {
            slices: Slices::Files(files),
        })
    }

    /// The most memory a tally of `expected` hashes holds while hashes are added: one slice
    /// (its files are in the page cache, not the process).
    pub(crate) fn resident_bytes(expected: u64) -> u64 {
        expected.min(HASHES_PER_SLICE) * 8
    }

    /// Count each of `hashes` once more.
    pub(crate) fn add(&mut self, hashes: impl Iterator<Item = u64>) -> Result<(), ComplianceError> {
        match &mut self.slices {
            Slices::InMemory(all) => all.extend(hashes),
            Slices::Files(files) => {
                let slices = files.len() as u64;
                for h in hashes {
                    let (path, file) = &mut files[(h % slices) as usize];
                    file.write_all(&h.to_le_bytes())
                        .map_err(|e| ComplianceError::Io(path.clone(), e))?;
                }
            }
        }
        Ok(())
    }

    /// Every hash added more than once. Removes the slice files.
    pub(crate) fn repeated(self) -> Result<HashValues, ComplianceError> {
        let files = match self.slices {
            Slices::InMemory(all) => return Ok(repeated_in(all)),
            Slices::Files(files) => files,
        };
        let mut paths = Vec::with_capacity(files.len());
        for (path, file) in files {
            file.into_inner()
                .map_err(|e| ComplianceError::Io(path.clone(), e.into_error()))?;
            paths.push(path);
        }
        let mut repeated = HashValues::default();
        for path in &paths {
            let bytes = std::fs::read(path).map_err(|e| ComplianceError::Io(path.clone(), e))?;
            std::fs::remove_file(path).map_err(|e| ComplianceError::Io(path.clone(), e))?;
            let slice: Vec<u64> = bytes
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("chunks of 8 bytes")))
                .collect();
            repeated.extend(repeated_in(slice));
        }
        Ok(repeated)
    }
}

fn column(batch: &datafusion::arrow::array::RecordBatch) -> Result<&UInt64Array, DataFusionError> {
    batch
        .column(0)
        .as_any()
        .downcast_ref::<UInt64Array>()
        .ok_or_else(|| DataFusionError::Internal("hashes are not 64-bit unsigned integers".into()))
}

/// The values that occur more than once.
fn repeated_in(mut hashes: Vec<u64>) -> HashValues {
    sort_on_every_core(&mut hashes);
    hashes
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect()
}

/// Below this many hashes one thread sorts them: starting threads would cost more than it saves.
const PARALLEL_SORT_MIN: usize = 1 << 20;

/// Sort `hashes` on every core (at most four). The check after a bucketed derivation's last
/// bucket sorts every id's hash of the store, and on one core that left the other idle: 0.24 s
/// of a 7 s `report --derivation full` at 10M events.
fn sort_on_every_core(hashes: &mut [u64]) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    sort_split(hashes, 63, threads.min(4));
}

/// Sort `hashes`, whose bits above `bit` are all equal, on `threads` threads: those with `bit`
/// clear go first and those with it set after, then each side is sorted on half the threads.
/// The hashes are spread evenly (murmur3's finaliser), so the halves are about equal.
fn sort_split(hashes: &mut [u64], bit: u32, threads: usize) {
    if threads < 2 || bit == 0 || hashes.len() < PARALLEL_SORT_MIN {
        hashes.sort_unstable();
        return;
    }
    let clear = partition_by_bit(hashes, bit);
    let (low, high) = hashes.split_at_mut(clear);
    std::thread::scope(|s| {
        s.spawn(|| sort_split(low, bit - 1, threads / 2));
        sort_split(high, bit - 1, threads - threads / 2);
    });
}

/// Reorder `hashes` so that those with `bit` clear come first; returns how many they are.
fn partition_by_bit(hashes: &mut [u64], bit: u32) -> usize {
    let mut clear = 0;
    for i in 0..hashes.len() {
        if (hashes[i] >> bit) & 1 == 0 {
            hashes.swap(clear, i);
            clear += 1;
        }
    }
    clear
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ArrayRef, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
    use std::sync::Arc;

    fn stream(values: Vec<Option<u64>>) -> SendableRecordBatchStream {
        let schema = Arc::new(Schema::new(vec![Field::new("h", DataType::UInt64, true)]));
        let batches: Vec<RecordBatch> = values
            .chunks(1000)
            .map(|c| {
                RecordBatch::try_new(
                    schema.clone(),
                    vec![Arc::new(UInt64Array::from(c.to_vec())) as ArrayRef],
                )
                .unwrap()
            })
            .collect();
        Box::pin(RecordBatchStreamAdapter::new(
            schema,
            futures::stream::iter(batches.into_iter().map(Ok)),
        ))
    }

    fn feed() -> (Vec<Option<u64>>, HashValues) {
        // 0..5000 once each, every 7th twice, every 100th three times, and NULLs (no id).
        let mut values: Vec<Option<u64>> = (0..5000u64).map(|i| Some(i * 7919)).collect();
        let mut expected = HashValues::default();
        for i in (0..5000u64).step_by(7) {
            values.push(Some(i * 7919));
            expected.insert(i * 7919);
        }
        for i in (0..5000u64).step_by(100) {
            values.push(Some(i * 7919));
            expected.insert(i * 7919);
        }
        values.extend([None, None]);
        values.reverse();
        (values, expected)
    }

    #[tokio::test]
    async fn finds_exactly_the_repeated_hashes_in_one_slice() {
        let (values, expected) = feed();
        let dir = tempfile::tempdir().unwrap();
        let found = repeated_hashes(stream(values), 10, dir.path())
            .await
            .unwrap();
        assert_eq!(found, expected);
    }

    #[tokio::test]
    async fn finds_exactly_the_repeated_hashes_across_slices_and_leaves_no_file() {
        let (values, expected) = feed();
        let dir = tempfile::tempdir().unwrap();
        // As if the store held three slices' worth.
        let found = repeated_hashes(stream(values), 3 * HASHES_PER_SLICE, dir.path())
            .await
            .unwrap();
        assert_eq!(found, expected);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn hashes_sorted_on_several_threads_are_sorted() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let random: Vec<u64> = (0..3 * PARALLEL_SORT_MIN).map(|_| next()).collect();
        let mut expected = random.clone();
        expected.sort_unstable();
        for threads in 1..=4 {
            let mut hashes = random.clone();
            sort_split(&mut hashes, 63, threads);
            assert!(hashes == expected, "{threads} threads");
        }
        // All in one half: the other thread sorts nothing.
        let mut low: Vec<u64> = random.iter().map(|h| h >> 1).collect();
        let mut sorted = low.clone();
        sorted.sort_unstable();
        sort_split(&mut low, 63, 2);
        assert!(low == sorted);
    }

    #[test]
    fn hashes_with_the_bit_clear_come_first() {
        let mut hashes = vec![u64::MAX, 1, 1 << 63, 2, 3 << 62];
        assert_eq!(partition_by_bit(&mut hashes, 63), 2);
        assert!(hashes[..2].iter().all(|h| h >> 63 == 0));
        assert!(hashes[2..].iter().all(|h| h >> 63 == 1));
    }
}
