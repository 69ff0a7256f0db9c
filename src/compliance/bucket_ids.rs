//! The event ids each bucket of a derivation held, tallied as the buckets go, to check after
//! the fact that no id was held by two buckets (`bucketed.rs`).
//!
//! Why: a bucket must see every copy of its ids, also copies landed under another bucket's
//! pathway (only the first landed copy counts). Finding those copies before any bucket starts
//! took a pass over every event id of the store, and then a second one for the candidates'
//! rows: 0.5 s of the 3.3 s a full derivation of ten years of Wales took, with one core often
//! idle. Ids reused across pathways are rare (a board system re-issuing ids; none in ten years of
//! the simulated feed: every re-send keeps its pathway), so the derivation first runs without
//! them, each bucket adding the hashes of its ids here, and only when some hash was
//! added by two buckets does it derive again with every copy found first.
//!
//! A hash added twice may be two different ids (a collision): that costs a second derivation,
//! never a wrong row. An id repeated within one bucket is not counted twice: the bucket's own
//! SQL sees both copies (`sql/deduped_events.sql`): each bucket adds the rows of its
//! `id_hashes` stage, every id it holds once.

use super::hash_udfs::HashValues;
use super::repeated_hashes::HashTally;
use super::ComplianceError;
use datafusion::arrow::array::{RecordBatch, UInt64Array};
use datafusion::error::DataFusionError;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

/// The distinct event ids of every bucket derived so far, by hash.
pub(super) struct IdsAcrossBuckets {
    tally: Mutex<Option<HashTally>>,
}

impl IdsAcrossBuckets {
    /// A tally for a derivation of about `events` events, its slice files (when it needs
    /// some) in `scratch`.
    pub(super) fn new(events: u64, scratch: &Path) -> Result<Self, ComplianceError> {
        Ok(IdsAcrossBuckets {
            tally: Mutex::new(Some(HashTally::new(events, scratch)?)),
        })
    }

    /// Count one bucket's ids: the rows of its `id_hashes` stage (`sql/id_hashes.sql`), which
    /// hold each of its ids once, by hash (the stage groups by it).
    pub(super) fn add_bucket(&self, id_hashes: &[RecordBatch]) -> Result<(), ComplianceError> {
        let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(tally) = tally.as_mut() else {
            return Err(DataFusionError::Internal("ids tallied after the check".into()).into());
        };
        for batch in id_hashes {
            let hashes = batch
                .column_by_name("h")
                .and_then(|h| h.as_any().downcast_ref::<UInt64Array>())
                .ok_or_else(|| DataFusionError::Internal("id_hashes has no UInt64 h".into()))?;
            tally.add(hashes.iter().flatten())?;
        }
        Ok(())
    }

    /// The hashes added by more than one bucket: empty when no id was held by two buckets.
    pub(super) fn held_by_several(&self) -> Result<HashValues, ComplianceError> {
        let tally = self
            .tally
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match tally {
            Some(tally) => tally.repeated(),
            None => Err(DataFusionError::Internal("ids checked twice".into()).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::hash_udfs::hash64;
    use datafusion::arrow::array::ArrayRef;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    /// A bucket's `id_hashes` rows for `ids` (each once, as the stage gives them).
    fn id_hashes(ids: &[&str]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("h", DataType::UInt64, true)]));
        let hashes: Vec<u64> = ids.iter().map(|id| hash64(id)).collect();
        RecordBatch::try_new(
            schema,
            vec![Arc::new(UInt64Array::from(hashes)) as ArrayRef],
        )
        .unwrap()
    }

    #[test]
    fn ids_each_held_by_one_bucket_are_held_by_no_two() {
        let dir = tempfile::tempdir().unwrap();
        let ids = IdsAcrossBuckets::new(10, dir.path()).unwrap();
        ids.add_bucket(&[id_hashes(&["a", "b"]), id_hashes(&["c"])])
            .unwrap();
        ids.add_bucket(&[id_hashes(&["d"])]).unwrap();
        assert!(ids.held_by_several().unwrap().is_empty());
    }

    #[test]
    fn an_id_in_two_buckets_is_found_in_memory_and_through_slice_files() {
        for expected in [10, 3 * super::super::repeated_hashes::HASHES_PER_SLICE] {
            let dir = tempfile::tempdir().unwrap();
            let ids = IdsAcrossBuckets::new(expected, dir.path()).unwrap();
            ids.add_bucket(&[id_hashes(&["a", "b"])]).unwrap();
            ids.add_bucket(&[id_hashes(&["c"])]).unwrap();
            ids.add_bucket(&[id_hashes(&["b", "d"])]).unwrap();
            let several = ids.held_by_several().unwrap();
            assert_eq!(several, [hash64("b")].into_iter().collect::<HashValues>());
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
            assert!(ids.held_by_several().is_err(), "a tally is checked once");
        }
    }
}
