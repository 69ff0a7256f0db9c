//! Typed reads of named columns from query results, so typed report rows never depend on
//! column positions.

use super::ComplianceError;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::error::DataFusionError;

fn column(batch: &RecordBatch, name: &str) -> Result<std::sync::Arc<dyn Array>, ComplianceError> {
    batch
        .column_by_name(name)
        .cloned()
        .ok_or_else(|| DataFusionError::Internal(format!("result has no column {name}")).into())
}

/// A string column as owned values (NULL → empty string).
pub fn strings(batch: &RecordBatch, name: &str) -> Result<Vec<String>, ComplianceError> {
    let col = cast(&column(batch, name)?, &DataType::Utf8)?;
    let arr = col.as_string::<i32>();
    Ok((0..arr.len())
        .map(|i| {
            if arr.is_null(i) {
                String::new()
            } else {
                arr.value(i).to_string()
            }
        })
        .collect())
}

/// An integer column as optional i64 values.
pub fn opt_ints(batch: &RecordBatch, name: &str) -> Result<Vec<Option<i64>>, ComplianceError> {
    let col = cast(&column(batch, name)?, &DataType::Int64)?;
    let arr = col.as_primitive::<Int64Type>();
    Ok((0..arr.len())
        .map(|i| (!arr.is_null(i)).then(|| arr.value(i)))
        .collect())
}

/// An integer column, NULL read as 0 (counts).
pub fn ints(batch: &RecordBatch, name: &str) -> Result<Vec<u64>, ComplianceError> {
    Ok(opt_ints(batch, name)?
        .into_iter()
        .map(|v| v.unwrap_or(0).max(0) as u64)
        .collect())
}

/// `array` as strings, or an error naming `what` reads it (a function, a column).
pub fn string_array<'a>(
    array: &'a ArrayRef,
    what: &str,
) -> Result<&'a StringArray, DataFusionError> {
    array.as_any().downcast_ref::<StringArray>().ok_or_else(|| {
        DataFusionError::Internal(format!("{what} expects strings, got {}", array.data_type()))
    })
}
