//! The SQL functions over 64-bit hashes of strings that the derivation uses to find the few ids
//! that need exact work: `lpmhss_hash64(s)`, and membership tests `lpmhss_in_<set>(h)` of a
//! hash `h` in a set a Rust caller fills (a derivation stage marked `set` in
//! `sql/derivation.stages`). Also [`with_event_id_hash`], the `event_id_hash` column of
//! `scoped_events` (`sql/scoped_events.sql`) for tables made in Rust.
//!
//! A hash only ever selects: every use treats a collision as "one more id to look at exactly",
//! so no result depends on hashes being distinct.

use super::columns::string_array;
use super::ComplianceError;
use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, RecordBatch, StringArray, UInt64Array,
};
use datafusion::arrow::buffer::{BooleanBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};
use datafusion::prelude::SessionContext;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, PoisonError, RwLock};

/// A set of [`hash64`] values. They are hashes already, so the set uses them as they are
/// instead of hashing them again with the default (SipHash) hasher.
pub(super) type HashValues = HashSet<u64, BuildHasherDefault<Unhashed>>;

/// A [`Hasher`] for keys that are already well-mixed 64-bit hashes.
#[derive(Default)]
pub(super) struct Unhashed(u64);

impl Hasher for Unhashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used for u64 keys; fold anything else in, to stay correct.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A 64-bit hash of `s`, eight bytes at a time, with a final mix so that every bit (also the low
/// ones a bucket's `% parts` reads) depends on every input byte. About 10 ns for an event id;
/// FNV-1a, one byte at a time, took four times as long and was most of a full scan's filter.
pub(super) fn hash64(s: &str) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes = s.as_bytes();
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut words = bytes.chunks_exact(8);
    for word in words.by_ref() {
        let word = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        h = (h.rotate_left(23) ^ word).wrapping_mul(K);
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    h = (h.rotate_left(23) ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    // murmur3's fmix64.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// [`hash64`] of every string of `strings`, NULL where it is NULL. Every slot is hashed (a NULL
/// slot holds an empty string) and the input's null mask reused, instead of building the result
/// one `Option` at a time.
fn hashes_of(strings: &StringArray) -> UInt64Array {
    let values: ScalarBuffer<u64> = (0..strings.len())
        .map(|i| hash64(strings.value(i)))
        .collect();
    UInt64Array::new(values, strings.nulls().cloned())
}

/// The SQL name of the 64-bit hash of a string.
pub(super) const HASH: &str = "lpmhss_hash64";

/// The SQL name of the membership test in the set built from stage `stage`.
pub(super) fn set_test_name(stage: &str) -> String {
    format!("lpmhss_in_{stage}")
}

/// Register [`hash64`] of a string (NULL for NULL) as a SQL function.
pub(super) fn register_hash(ctx: &SessionContext) {
    let udf = create_udf(
        HASH,
        vec![DataType::Utf8],
        DataType::UInt64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let strings = string_array(&arrays[0], HASH)?;
            Ok(ColumnarValue::Array(
                Arc::new(hashes_of(strings)) as ArrayRef
            ))
        }),
    );
    ctx.register_udf(udf);
}

/// The name of `scoped_events`' column holding [`hash64`] of each event id.
pub(super) const EVENT_ID_HASH: &str = "event_id_hash";

/// `rows` with [`EVENT_ID_HASH`] appended, as `sql/scoped_events.sql` gives it: for the
/// `scoped_events` tables made in Rust (a bucket's events, a refresh's touched events).
pub(super) fn with_event_id_hash(
    schema: &SchemaRef,
    rows: Vec<RecordBatch>,
) -> Result<(SchemaRef, Vec<RecordBatch>), ComplianceError> {
    let mut fields: Vec<_> = schema.fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(EVENT_ID_HASH, DataType::UInt64, true)));
    let extended: SchemaRef =
        Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let index = schema.index_of("event_id")?;
    let rows = rows
        .into_iter()
        .map(|batch| {
            let ids = string_array(batch.column(index), "event_id")?;
            let mut columns = batch.columns().to_vec();
            columns.push(Arc::new(hashes_of(ids)) as ArrayRef);
            Ok(RecordBatch::try_new(extended.clone(), columns)?)
        })
        .collect::<Result<Vec<_>, ComplianceError>>()?;
    Ok((extended, rows))
}

/// A set of hashes that a registered membership test reads each time it runs, so that a plan
/// kept from one bucket to the next (`stage_plans.rs`) tests the set of the bucket at hand.
pub(super) type SharedHashSet = Arc<RwLock<Arc<HashValues>>>;

/// Register `name(h)`: true when hash `h` is one of `hashes` (NULL for NULL). It takes the hash,
/// not the string: `scoped_events` carries each event id's hash (`event_id_hash`), computed once
/// where a stage would otherwise hash the same ids again for every test (three times a bucket:
/// 5.6 % of a full derivation's CPU). Returns the set the function reads, for a caller that
/// replaces it later.
pub(super) fn register_hash_set(
    ctx: &SessionContext,
    name: &str,
    hashes: HashValues,
) -> SharedHashSet {
    let shared: SharedHashSet = Arc::new(RwLock::new(Arc::new(hashes)));
    let current = shared.clone();
    let label = name.to_string();
    let udf = create_udf(
        name,
        vec![DataType::UInt64],
        DataType::Boolean,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let values = arrays[0]
                .as_any()
                .downcast_ref::<UInt64Array>()
                .ok_or_else(|| DataFusionError::Internal(format!("{label} takes a 64-bit hash")))?;
            // Read once per batch: one lock, then plain lookups.
            let hashes = current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let found =
                BooleanBuffer::collect_bool(values.len(), |i| hashes.contains(&values.value(i)));
            let found = BooleanArray::new(found, values.nulls().cloned());
            Ok(ColumnarValue::Array(Arc::new(found) as ArrayRef))
        }),
    );
    ctx.register_udf(udf);
    shared
}

/// The values of the `h` column (a `UInt64` hash) of `batches`, as a set.
pub(super) fn hash_column(
    stage: &str,
    batches: &[RecordBatch],
) -> Result<HashValues, ComplianceError> {
    let mut set = HashValues::default();
    for batch in batches {
        let column = batch
            .column_by_name("h")
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
            .ok_or_else(|| {
                DataFusionError::Internal(format!("stage {stage} has no UInt64 column h"))
            })?;
        set.extend(column.iter().flatten());
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_hash_equal_and_near_strings_differ_in_their_low_bits() {
        let a = "0b7e3c2a-5f1d-4e8a-9c3b-1d2e3f4a5b6c";
        assert_eq!(hash64(a), hash64(String::from(a).as_str()));
        assert_ne!(hash64(a), hash64("0b7e3c2a-5f1d-4e8a-9c3b-1d2e3f4a5b6d"));
        assert_ne!(hash64(""), hash64("\0"), "the length counts");
        // Referral ids that differ in one character spread over a board's parts.
        let parts: HashSet<u64> = (0..64)
            .map(|i| hash64(&format!("REF-{i:04}")) % 8)
            .collect();
        assert_eq!(parts.len(), 8);
    }

    #[test]
    fn the_sql_functions_hash_each_value_and_keep_nulls_null() {
        let strings = StringArray::from(vec![Some("a"), None, Some(""), Some("bb")]);
        let hashes = hashes_of(&strings);
        assert_eq!(
            hashes.iter().collect::<Vec<_>>(),
            vec![
                Some(hash64("a")),
                None,
                Some(hash64("")),
                Some(hash64("bb"))
            ]
        );
        let sliced = strings.slice(1, 3);
        assert_eq!(
            hashes_of(&sliced).iter().collect::<Vec<_>>(),
            vec![None, Some(hash64("")), Some(hash64("bb"))],
            "a slice hashes its own values"
        );
    }

    #[tokio::test]
    async fn a_set_test_is_true_for_members_false_for_others_null_for_null() {
        let ctx = SessionContext::new();
        let set: HashValues = ["a", "bb"].iter().map(|s| hash64(s)).collect();
        register_hash(&ctx);
        register_hash_set(&ctx, "lpmhss_in_t", set);
        let batches = ctx
            .sql(
                "SELECT lpmhss_in_t(lpmhss_hash64(x)) AS f \
                 FROM (VALUES ('a'), (NULL), ('c'), ('bb')) AS v(x)",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let found: Vec<Option<bool>> = batches
            .iter()
            .flat_map(|b| {
                let f = b.column(0).as_any().downcast_ref::<BooleanArray>().unwrap();
                f.iter().collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(found, vec![Some(true), None, Some(false), Some(true)]);
    }

    #[test]
    fn event_id_hash_is_appended_as_scoped_events_sql_computes_it() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::UInt64, false),
            Field::new("event_id", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(UInt64Array::from(vec![1, 2, 3])) as ArrayRef,
                Arc::new(StringArray::from(vec![Some("a"), None, Some("bb")])),
            ],
        )
        .unwrap();
        let (extended, rows) = with_event_id_hash(&schema, vec![batch.clone(), batch]).unwrap();
        assert_eq!(extended.field(2).name(), EVENT_ID_HASH);
        assert_eq!(rows.len(), 2);
        for batch in rows {
            let hashes = batch
                .column(2)
                .as_any()
                .downcast_ref::<UInt64Array>()
                .unwrap();
            assert_eq!(
                hashes.iter().collect::<Vec<_>>(),
                vec![Some(hash64("a")), None, Some(hash64("bb"))]
            );
        }
    }

    #[test]
    fn a_hash_set_finds_exactly_its_members() {
        let set: HashValues = ["a", "bb", "ccc"].iter().map(|s| hash64(s)).collect();
        assert!(set.contains(&hash64("bb")));
        assert!(!set.contains(&hash64("dddd")));
    }
}
