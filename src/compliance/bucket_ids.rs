//! The event ids each bucket of a derivation held, tallied as the buckets go, to check after
//! the fact that no id was held by two buckets (`bucketed.rs`).
//!
//! Why: a bucket must see every copy of its ids, also copies landed under another bucket's
//! pathway (only the first landed copy counts). Finding those copies before any bucket starts
//! took a pass over every event id of the store, and then a second one for the candidates'
//! rows: 0.5 s of the 3.3 s a full derivation of ten years of Wales took, with one core often
//! idle. Ids reused across pathways are rare (a board system re-issuing ids; none in ten years of
//! the simulated feed: every re-send keeps its pathway), so the derivation first runs without
//! them, each bucket adding the distinct hashes of its ids here, and only when some hash was
//! added by two buckets does it derive again with every copy found first.
//!
//! A hash added twice may be two different ids (a collision): that costs a second derivation,
//! never a wrong row. An id repeated within one bucket is not counted twice: the bucket's own
//! SQL sees both copies (`sql/deduped_events.sql`).

use super::columns::string_array;
use super::hash_udfs::{hash64, HashValues};
use super::repeated_hashes::HashTally;
use super::ComplianceError;
use datafusion::arrow::array::{Array, RecordBatch};
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

    /// Count the distinct event ids of one bucket's events in scope (`events`).
    pub(super) fn add_bucket(&self, events: &[RecordBatch]) -> Result<(), ComplianceError> {
        let rows = events.iter().map(RecordBatch::num_rows).sum();
        let mut distinct = HashValues::with_capacity_and_hasher(rows, Default::default());
        for batch in events {
            let ids = batch.column_by_name("event_id").ok_or_else(|| {
                DataFusionError::Internal("a bucket's events have no event_id".into())
            })?;
            let ids = string_array(ids, "event_id")?;
            distinct.extend(
                (0..ids.len())
                    .filter(|&i| ids.is_valid(i))
                    .map(|i| hash64(ids.value(i))),
            );
        }
        let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
        match tally.as_mut() {
            Some(tally) => tally.add(distinct.into_iter()),
            None => Err(DataFusionError::Internal("ids tallied after the check".into()).into()),
        }
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
    use datafusion::arrow::array::{ArrayRef, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn events(ids: &[Option<&str>]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "event_id",
            DataType::Utf8,
            true,
        )]));
        RecordBatch::try_new(
            schema,
            vec![Arc::new(StringArray::from(ids.to_vec())) as ArrayRef],
        )
        .unwrap()
    }

    #[test]
    fn an_id_repeated_within_a_bucket_is_not_held_by_several() {
        let dir = tempfile::tempdir().unwrap();
        let ids = IdsAcrossBuckets::new(10, dir.path()).unwrap();
        ids.add_bucket(&[events(&[Some("a"), Some("b")]), events(&[Some("a"), None])])
            .unwrap();
        ids.add_bucket(&[events(&[Some("c"), None])]).unwrap();
        assert!(ids.held_by_several().unwrap().is_empty());
    }

    #[test]
    fn an_id_in_two_buckets_is_found_in_memory_and_through_slice_files() {
        for expected in [10, 3 * super::super::repeated_hashes::HASHES_PER_SLICE] {
            let dir = tempfile::tempdir().unwrap();
            let ids = IdsAcrossBuckets::new(expected, dir.path()).unwrap();
            ids.add_bucket(&[events(&[Some("a"), Some("b"), Some("b")])])
                .unwrap();
            ids.add_bucket(&[events(&[Some("c")])]).unwrap();
            ids.add_bucket(&[events(&[Some("b"), Some("d")])]).unwrap();
            let several = ids.held_by_several().unwrap();
            assert_eq!(several, [hash64("b")].into_iter().collect::<HashValues>());
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
            assert!(ids.held_by_several().is_err(), "a tally is checked once");
        }
    }
}
