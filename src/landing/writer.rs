//! Parquet encoding: one record batch → one fsynced file.

use super::{io_error, LandingError};
use arrow::array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::path::Path;

/// The columns an incremental refresh looks events up by (`src/compliance/incremental.rs`).
const LOOKUP_COLUMNS: [&str; 2] = ["event_id", "referral_id"];

/// Properties of a landed file of `rows` rows: bloom filters on the lookup columns, so a reader
/// looking for a few ids or referrals skips every file that cannot hold them instead of
/// decoding the column. One false positive in 100,000 keeps a lookup of a day's thousand ids
/// from matching most files by chance, for about 3 bytes per row and column.
fn landed_properties(rows: usize) -> WriterProperties {
    let mut b = builder();
    for column in LOOKUP_COLUMNS {
        let column = parquet::schema::types::ColumnPath::from(column);
        b = b
            .set_column_bloom_filter_enabled(column.clone(), true)
            .set_column_bloom_filter_fpp(column.clone(), 1e-5)
            .set_column_bloom_filter_max_ndv(column, rows.max(1) as u64);
    }
    b.build()
}

fn builder() -> parquet::file::properties::WriterPropertiesBuilder {
    // zstd level 1: close to snappy's speed with noticeably smaller files.
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("level 1 is valid"),
        ))
        .set_created_by(format!("lpmhss {}", env!("CARGO_PKG_VERSION")))
}

/// Write `batch` to `path` (created or truncated) and fsync it.
pub fn write_parquet_file(path: &Path, batch: &RecordBatch) -> Result<(), LandingError> {
    let mut file = File::create(path).map_err(io_error(path))?;
    let encode = |e: parquet::errors::ParquetError| LandingError::Encode {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut writer = ArrowWriter::try_new(
        &mut file,
        batch.schema(),
        Some(landed_properties(batch.num_rows())),
    )
    .map_err(encode)?;
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
    write_parquet_replacing_with_metadata(dest, schema, batches, &[])
}

/// [`write_parquet_replacing`] with key-value metadata in the file footer, so a description of
/// the table is replaced by the same rename as the table.
pub fn write_parquet_replacing_with_metadata(
    dest: &Path,
    schema: arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
    metadata: &[(String, String)],
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
    let pairs: Vec<KeyValue> = metadata
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    let props = builder()
        .set_key_value_metadata((!pairs.is_empty()).then_some(pairs))
        .build();
    let mut writer = ArrowWriter::try_new(&mut file, schema, Some(props)).map_err(encode)?;
    for b in batches {
        writer.write(b).map_err(encode)?;
    }
    writer.close().map_err(encode)?;
    file.sync_all().map_err(io_error(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, dest).map_err(io_error(dest))?;
    super::sync_parent_dir(dest).map_err(io_error(dest))
}
