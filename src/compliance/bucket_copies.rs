//! The other copies of repeated event ids, which a bucket needs to decide which copy of each of
//! its ids landed first: found once, up front, for the whole derivation, when the tally of
//! `bucket_ids.rs` showed that some id was held by two buckets (`bucketed.rs`).
//!
//! Ids are first grouped by a 64-bit hash (8 bytes per id instead of 36, slice by slice:
//! `repeated_hashes.rs`), which finds every repeated id plus the odd collision; the rows of those
//! candidates are then grouped by the id itself, which drops the collisions. Only the columns that
//! decide which copy landed first are kept: a copy held under another bucket's key counts in a
//! bucket only by being first landed or not (its own pathway's row is derived in the bucket that
//! holds it: the argument of `incremental.rs`).

use super::bucketed::{timed, COMMITTED};
use super::hash_udfs::{register_hash_set, HASH};
use super::repeated_hashes::repeated_hashes;
use super::{ComplianceError, Engine};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::{col, lit, Expr};
use futures::StreamExt;
use std::path::Path;
use std::sync::Arc;

/// The SQL name of the test "this string's hash is one of the repeated ids' hashes".
const REPEATED_HASH: &str = "lpmhss_repeated_hash";

/// The columns of a copy held under another bucket's key that the derivation reads: its
/// key, its id and type, and the landing coordinates that order the copies (`repeated_copies.sql`).
pub(super) const FIRST_LANDED_COLUMNS: [&str; 10] = [
    "event_id",
    "event_type",
    "provider_lhb",
    "referral_id",
    "landed_at",
    "source_topic",
    "source_partition",
    "source_offset",
    "source_file",
    "source_line",
];

impl Engine {
    /// `repeated_rows` with no row, for a derivation that checks its ids across buckets after
    /// the fact instead (`bucket_ids.rs`).
    pub(super) async fn register_no_repeated_rows(&self) -> Result<(), ComplianceError> {
        let columns = self
            .context()
            .table(COMMITTED)
            .await?
            .select_columns(&FIRST_LANDED_COLUMNS)?;
        let schema: SchemaRef = Arc::new(columns.schema().as_arrow().clone());
        self.replace_table("repeated_rows", schema, Vec::new())
    }

    /// `repeated_rows`: every column of every copy of every event id landed more than once.
    /// The ids' hashes (about `events`) are grouped slice by slice through files in `scratch`
    /// (`repeated_hashes.rs`), so memory holds one slice of them. Returns the bytes the table
    /// holds.
    pub(super) async fn register_repeated_rows(
        &self,
        events: u64,
        scope: &str,
        scratch: &Path,
    ) -> Result<u64, ComplianceError> {
        let step = std::time::Instant::now();
        let hashes = self
            .context()
            .sql(&format!(
                "SELECT {HASH}(event_id) AS h FROM {COMMITTED} WHERE {scope}"
            ))
            .await?
            .execute_stream()
            .await?;
        let repeated = repeated_hashes(hashes, events, scratch).await?;
        register_hash_set(self.context(), REPEATED_HASH, repeated);
        timed("ids grouped by hash", step, None);
        let step = std::time::Instant::now();
        // A scalar test rather than `IN (subquery)`: Parquet filter pushdown can evaluate it
        // on the event_id column alone and decode the other columns only for the candidates
        // (a subquery becomes a join, which decodes every column of every row).
        let candidates = self
            .context()
            .sql(&format!(
                "SELECT * FROM {COMMITTED} WHERE {REPEATED_HASH}({HASH}(event_id)) AND ({scope})"
            ))
            .await?;
        // Only what decides which copy landed first is kept (a bucket pads the rest with
        // NULL). A bucket reads these rows for the copies of its ids held under other pathways, and
        // such a copy counts in it only by being first landed or not: its own pathway's row
        // is derived in the bucket that holds it (the argument of `incremental.rs`). The
        // copies of a bucket's own keys come, whole, from its own events.
        let candidates = candidates.select_columns(&FIRST_LANDED_COLUMNS)?;
        let schema: SchemaRef = Arc::new(candidates.schema().as_arrow().clone());
        let candidates = collect_compacted(candidates.execute_stream().await?).await?;
        self.replace_table("repeated_candidates", schema, candidates)?;
        timed("rows of candidate ids read", step, None);
        let (schema, rows) = self
            .query(
                "SELECT * FROM repeated_candidates WHERE event_id IN \
                 (SELECT event_id FROM repeated_candidates GROUP BY event_id HAVING COUNT(*) > 1)",
            )
            .await?;
        self.context().deregister_table("repeated_candidates")?;
        let bytes = rows.iter().map(|b| b.get_array_memory_size() as u64).sum();
        self.replace_table("repeated_rows", schema, rows)?;
        Ok(bytes)
    }
}

/// A projection of `repeated_rows` in the shape of `events` (the schema of a bucket's own
/// events): the first-landed columns, and NULL of the right type for every other column.
pub(super) fn padded_to(events: &DFSchema) -> Result<Vec<Expr>, ComplianceError> {
    Ok(events
        .fields()
        .iter()
        .map(|field| {
            if FIRST_LANDED_COLUMNS.contains(&field.name().as_str()) {
                Ok(col(Column::new_unqualified(field.name())).alias(field.name()))
            } else {
                ScalarValue::try_from(field.data_type()).map(|null| lit(null).alias(field.name()))
            }
        })
        .collect::<Result<_, _>>()?)
}

/// Every row of `rows`, copied into batches of about [`COMPACT_ROWS`] rows. The few rows a
/// filtered Parquet scan keeps from each row group arrive as slices of that row group's
/// decoded columns, and holding them would hold every row group's columns: at 50M events,
/// 0.7 GB for 1M candidate rows.
async fn collect_compacted(
    mut rows: SendableRecordBatchStream,
) -> Result<Vec<RecordBatch>, ComplianceError> {
    let schema = rows.schema();
    let mut compacted = Vec::new();
    let mut pending = Vec::new();
    let mut pending_rows = 0;
    while let Some(batch) = rows.next().await {
        let batch = batch?;
        pending_rows += batch.num_rows();
        pending.push(batch);
        if pending_rows >= COMPACT_ROWS {
            compacted.push(concat_batches(&schema, &pending)?);
            pending.clear();
            pending_rows = 0;
        }
    }
    if !pending.is_empty() {
        compacted.push(concat_batches(&schema, &pending)?);
    }
    Ok(compacted)
}

/// Rows per batch of [`collect_compacted`].
const COMPACT_ROWS: usize = 65_536;
