//! Reading back whole Parquet files the program wrote itself (the previous computation's
//! derived tables), with the Arrow schema and footer metadata they were written with.

use super::{io_error, LandingError};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::ParquetMetaDataReader;
use std::path::Path;

fn decode_error(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> LandingError + '_ {
    move |e| LandingError::Decode {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// A whole file as Arrow batches with the Arrow schema it was written with.
pub fn read_parquet(path: &Path) -> Result<(SchemaRef, Vec<RecordBatch>), LandingError> {
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).map_err(decode_error(path))?;
    let schema = reader.schema().clone();
    let batches = reader
        .with_batch_size(64 * 1024)
        .build()
        .map_err(decode_error(path))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| LandingError::Decode {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    Ok((schema, batches))
}

/// The Arrow schema a file was written with, from its footer alone.
pub fn parquet_schema(path: &Path) -> Result<SchemaRef, LandingError> {
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).map_err(decode_error(path))?;
    Ok(reader.schema().clone())
}

/// The key-value metadata of a file's footer; `None` when the file is absent or unreadable.
pub fn key_value_metadata(path: &Path) -> Option<Vec<(String, String)>> {
    let file = std::fs::File::open(path).ok()?;
    let metadata = ParquetMetaDataReader::new().parse_and_finish(&file).ok()?;
    let pairs = metadata.file_metadata().key_value_metadata()?;
    Some(
        pairs
            .iter()
            .filter_map(|kv| Some((kv.key.clone(), kv.value.clone()?)))
            .collect(),
    )
}
