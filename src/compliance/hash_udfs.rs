//! The SQL functions over 64-bit hashes of strings that the derivation uses to find the few ids
//! that need exact work: `lpmhss_hash64(s)`, and membership tests `lpmhss_in_<set>(s)` whose set
//! a Rust caller fills (a derivation stage marked `set` in `sql/derivation.stages`, or the
//! repeated ids of a bucketed derivation).
//!
//! A hash only ever selects: every use treats a collision as "one more id to look at exactly",
//! so no result depends on hashes being distinct.

use super::columns::string_array;
use super::ComplianceError;
use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, RecordBatch, StringArray, UInt64Array,
};
use datafusion::arrow::buffer::{BooleanBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::DataType;
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

/// A set of hashes that a registered membership test reads each time it runs, so that a plan
/// kept from one bucket to the next (`stage_plans.rs`) tests the set of the bucket at hand.
pub(super) type SharedHashSet = Arc<RwLock<Arc<HashValues>>>;

/// Register `name(s)`: true when the hash of `s` is one of `hashes` (NULL for NULL). Returns
/// the set the function reads, for a caller that replaces it later.
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
        vec![DataType::Utf8],
        DataType::Boolean,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let strings = string_array(&arrays[0], &label)?;
            // Read once per batch: one lock, then plain lookups.
            let hashes = current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let found = BooleanBuffer::collect_bool(strings.len(), |i| {
                hashes.contains(&hash64(strings.value(i)))
            });
            let found = BooleanArray::new(found, strings.nulls().cloned());
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
        register_hash_set(&ctx, "lpmhss_in_t", set);
        let batches = ctx
            .sql("SELECT lpmhss_in_t(x) AS f FROM (VALUES ('a'), (NULL), ('c'), ('bb')) AS v(x)")
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
    fn a_hash_set_finds_exactly_its_members() {
        let set: HashValues = ["a", "bb", "ccc"].iter().map(|s| hash64(s)).collect();
        assert!(set.contains(&hash64("bb")));
        assert!(!set.contains(&hash64("dddd")));
    }
}
