//! Parquet encoding: one record batch → one fsynced file.

use super::{io_error, LandingError};
use arrow::array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::path::Path;

fn properties() -> WriterProperties {
    // zstd level 1: close to snappy's speed with noticeably smaller files.
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("level 1 is valid"),
        ))
        .set_created_by(format!("lpmhss {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Write `batch` to `path` (created or truncated) and fsync it.
pub fn write_parquet_file(path: &Path, batch: &RecordBatch) -> Result<(), LandingError> {
    let mut file = File::create(path).map_err(io_error(path))?;
    let encode = |e: parquet::errors::ParquetError| LandingError::Encode {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut writer =
        ArrowWriter::try_new(&mut file, batch.schema(), Some(properties())).map_err(encode)?;
    writer.write(batch).map_err(encode)?;
    writer.close().map_err(encode)?;
    file.sync_all().map_err(io_error(path))
}

/// Atomically replace `dest` with a Parquet file holding `batches` (derived tables).
pub fn write_parquet_replacing(
    dest: &Path,
    schema: arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
) -> Result<(), LandingError> {
    if let Some(dir) = dest.parent() {
        super::create_dir_durable(dir).map_err(io_error(dir))?;
    }
    let tmp = dest.with_extension(format!("parquet.{}.tmp", std::process::id()));
    let encode = |e: parquet::errors::ParquetError| LandingError::Encode {
        path: dest.to_path_buf(),
        message: e.to_string(),
    };
    let mut file = File::create(&tmp).map_err(io_error(&tmp))?;
    let mut writer = ArrowWriter::try_new(&mut file, schema, Some(properties())).map_err(encode)?;
    for b in batches {
        writer.write(b).map_err(encode)?;
    }
    writer.close().map_err(encode)?;
    file.sync_all().map_err(io_error(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, dest).map_err(io_error(dest))?;
    super::sync_parent_dir(dest).map_err(io_error(dest))
}
