//! Parquet encoding: one record batch → one fsynced file.

use super::{io_error, LandingError};
use arrow::array::RecordBatch;
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowLeafColumn,
    ArrowRowGroupWriterFactory,
};
use parquet::arrow::{add_encoded_arrow_schema_to_metadata, ArrowSchemaConverter, ArrowWriter};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// The columns an incremental refresh looks events up by (`src/compliance/incremental.rs`).
const LOOKUP_COLUMNS: [&str; 2] = ["event_id", "referral_id"];

/// Properties of a landed file of `rows` rows: bloom filters on the lookup columns, so a reader
/// looking for a few ids or referrals skips every file that cannot hold them instead of
/// decoding the column. One false positive in 100,000 keeps a lookup of a day's thousand ids
/// from matching most files by chance, for about 3 bytes per row and column.
///
/// Landed files are not compressed. Every full derivation reads every event, and a compressed
/// page is decompressed into a new buffer each time (parquet-rs also creates a zstd context per
/// page), while an uncompressed page is used where it was read. Ten years of Wales derived in
/// 10 % less time from uncompressed files (3.9 → 3.5 s; LZ4 gained nothing over zstd), for 75 %
/// more disk: 299 MB instead of 171 MB for 3.2M events (BENCHMARKS.md). Derived tables, written
/// once and read by a few queries, stay compressed.
fn landed_properties(rows: usize) -> WriterProperties {
    let mut b = common().set_compression(Compression::UNCOMPRESSED);
    for column in LOOKUP_COLUMNS {
        let column = parquet::schema::types::ColumnPath::from(column);
        b = b
            .set_column_bloom_filter_enabled(column.clone(), true)
            .set_column_bloom_filter_fpp(column.clone(), 1e-5)
            .set_column_bloom_filter_max_ndv(column, rows.max(1) as u64);
    }
    b.build()
}

fn common() -> parquet::file::properties::WriterPropertiesBuilder {
    WriterProperties::builder().set_created_by(format!("lpmhss {}", env!("CARGO_PKG_VERSION")))
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
    let mut props = derived_properties(metadata).build();
    // Readers (ours included) restore the exact Arrow types from this entry.
    add_encoded_arrow_schema_to_metadata(&schema, &mut props);
    encode_in_parallel(&mut file, schema, batches, props).map_err(encode)?;
    file.sync_all().map_err(io_error(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, dest).map_err(io_error(dest))?;
    super::sync_parent_dir(dest).map_err(io_error(dest))
}

/// Columns of derived tables with a different value in almost every row (one per pathway or
/// patient), in no order. A dictionary never pays for them: the writer would intern every
/// value until the dictionary page overflowed, then fall back to plain encoding anyway. Nor do
/// minimum and maximum statistics: every page spans nearly the whole range of ids, so they
/// would never let a reader skip one, and computing them compared every value.
const UNIQUE_COLUMNS: [&str; 2] = ["referral_id", "patient_pseudo_id"];

/// Properties of a derived table, with `metadata` in its footer.
pub(super) fn derived_properties(
    metadata: &[(String, String)],
) -> parquet::file::properties::WriterPropertiesBuilder {
    let pairs: Vec<KeyValue> = metadata
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    // zstd level 1: close to snappy's speed with noticeably smaller files.
    let mut b = common()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("level 1 is valid"),
        ))
        .set_key_value_metadata((!pairs.is_empty()).then_some(pairs));
    for column in UNIQUE_COLUMNS {
        b = b
            .set_column_dictionary_enabled(column.into(), false)
            .set_column_statistics_enabled(column.into(), EnabledStatistics::None);
    }
    b
}

/// Rows per row group of a derived table (readers parallelise over row groups).
const DERIVED_ROW_GROUP_ROWS: usize = 1024 * 1024;

/// Encode `batches` into `out`, the columns of each row group split between two threads: a
/// derived table is written while the computation waits for it, and encoding is per column.
fn encode_in_parallel(
    out: &mut File,
    schema: arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
    props: WriterProperties,
) -> Result<(), parquet::errors::ParquetError> {
    let props = Arc::new(props);
    let parquet_schema = ArrowSchemaConverter::new()
        .with_coerce_types(props.coerce_types())
        .convert(&schema)?;
    let mut writer = SerializedFileWriter::new(out, parquet_schema.root_schema_ptr(), props)?;
    let factory = ArrowRowGroupWriterFactory::new(&writer, schema.clone());
    for (index, group) in row_groups(batches).into_iter().enumerate() {
        let mut columns: Vec<Option<ArrowColumnWriter>> = factory
            .create_column_writers(index)?
            .into_iter()
            .map(Some)
            .collect();
        // Leaves in schema order, so leaf i goes to column writer i.
        let mut leaves: Vec<Vec<ArrowLeafColumn>> = columns.iter().map(|_| Vec::new()).collect();
        for batch in group {
            let mut leaf = 0;
            for (field, array) in schema.fields().iter().zip(batch.columns()) {
                for l in compute_leaves(field, array)? {
                    leaves[leaf].push(l);
                    leaf += 1;
                }
            }
        }
        let mut work: [Vec<(usize, ArrowColumnWriter, Vec<ArrowLeafColumn>)>; 2] =
            Default::default();
        for (i, leaf) in leaves.into_iter().enumerate() {
            let column = columns[i].take().expect("one writer per leaf");
            work[i % 2].push((i, column, leaf));
        }
        let mut chunks: Vec<(usize, ArrowColumnChunk)> = std::thread::scope(|scope| {
            let handles: Vec<_> = work
                .into_iter()
                .map(|share| {
                    scope.spawn(move || {
                        share
                            .into_iter()
                            .map(|(i, mut column, leaves)| {
                                for l in &leaves {
                                    column.write(l)?;
                                }
                                Ok((i, column.close()?))
                            })
                            .collect::<Result<Vec<_>, parquet::errors::ParquetError>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("column encoder panicked"))
                .collect::<Result<Vec<_>, _>>()
                .map(|v| v.into_iter().flatten().collect())
        })?;
        chunks.sort_by_key(|(i, _)| *i);
        let mut row_group = writer.next_row_group()?;
        for (_, chunk) in chunks {
            chunk.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
    }
    writer.close()?;
    Ok(())
}

/// Consecutive batches grouped into row groups of about [`DERIVED_ROW_GROUP_ROWS`] rows.
fn row_groups(batches: &[RecordBatch]) -> Vec<&[RecordBatch]> {
    let mut groups = Vec::new();
    let (mut start, mut rows) = (0, 0);
    for (i, b) in batches.iter().enumerate() {
        rows += b.num_rows();
        if rows >= DERIVED_ROW_GROUP_ROWS {
            groups.push(&batches[start..=i]);
            (start, rows) = (i + 1, 0);
        }
    }
    if start < batches.len() {
        groups.push(&batches[start..]);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::schema::types::ColumnPath;

    #[test]
    fn landed_files_are_uncompressed_with_bloom_filters_on_the_lookup_columns() {
        let props = landed_properties(1000);
        for column in ["event_id", "referral_id", "recorded_at"] {
            let path = ColumnPath::from(column);
            assert_eq!(
                props.compression(&path),
                Compression::UNCOMPRESSED,
                "{column}"
            );
        }
        assert!(props
            .bloom_filter_properties(&ColumnPath::from("event_id"))
            .is_some());
        assert!(props
            .bloom_filter_properties(&ColumnPath::from("sex"))
            .is_none());
    }

    #[test]
    fn derived_tables_are_compressed_without_dictionaries_or_statistics_for_unique_ids() {
        let props = derived_properties(&[]).build();
        let id = ColumnPath::from("referral_id");
        let period = ColumnPath::from("referral_period");
        assert!(matches!(props.compression(&id), Compression::ZSTD(_)));
        assert!(!props.dictionary_enabled(&id));
        assert_eq!(props.statistics_enabled(&id), EnabledStatistics::None);
        assert!(
            props.dictionary_enabled(&period),
            "other columns keep theirs"
        );
        assert_ne!(props.statistics_enabled(&period), EnabledStatistics::None);
        assert!(!props.dictionary_enabled(&ColumnPath::from("patient_pseudo_id")));
    }
}
