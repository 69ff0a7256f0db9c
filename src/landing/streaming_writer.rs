//! A derived table written batch by batch, for tables too large to hold in memory: rows go to a
//! hidden temporary file as they come and the table is replaced, footer metadata included, by
//! one rename when it is complete. Dropped unfinished, it leaves the previous table in place.

use super::{io_error, writer::derived_properties, LandingError};
use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Rows per row group: a row group is buffered in memory until it is complete, so this bounds
/// the writer's memory (about 60 MB for `pathways`).
const STREAMED_ROW_GROUP_ROWS: usize = 128 * 1024;

/// A derived table being written.
pub struct DerivedTableWriter {
    dest: PathBuf,
    tmp: PathBuf,
    schema: SchemaRef,
    writer: Option<ArrowWriter<File>>,
    rows: u64,
}

impl DerivedTableWriter {
    /// Start replacing `dest` with a table of `schema` (every column made nullable, so batches
    /// from different queries agree) and footer `metadata`.
    pub fn create(
        dest: &Path,
        schema: &Schema,
        metadata: &[(String, String)],
    ) -> Result<Self, LandingError> {
        if let Some(dir) = dest.parent() {
            super::create_dir_durable(dir).map_err(io_error(dir))?;
        }
        let schema = super::all_nullable(schema);
        let tmp = dest.with_extension(format!("parquet.{}.tmp", std::process::id()));
        let file = File::create(&tmp).map_err(io_error(&tmp))?;
        let props = derived_properties(metadata)
            .set_max_row_group_row_count(Some(STREAMED_ROW_GROUP_ROWS))
            .build();
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
            .map_err(|e| encode_error(dest, e))?;
        Ok(DerivedTableWriter {
            dest: dest.to_path_buf(),
            tmp,
            schema,
            writer: Some(writer),
            rows: 0,
        })
    }

    /// The table's schema (all columns nullable).
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Append rows.
    pub fn write(&mut self, batches: &[RecordBatch]) -> Result<(), LandingError> {
        let writer = self.writer.as_mut().expect("not finished");
        for batch in batches {
            let batch = RecordBatch::try_new(self.schema.clone(), batch.columns().to_vec())
                .map_err(|e| encode_error(&self.dest, e))?;
            writer
                .write(&batch)
                .map_err(|e| encode_error(&self.dest, e))?;
            self.rows += batch.num_rows() as u64;
        }
        Ok(())
    }

    /// Finish the file, fsync it and rename it over the table. Returns the rows written.
    pub fn finish(mut self) -> Result<u64, LandingError> {
        let writer = self.writer.take().expect("not finished");
        let file = writer
            .into_inner()
            .map_err(|e| encode_error(&self.dest, e))?;
        file.sync_all().map_err(io_error(&self.tmp))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.dest).map_err(io_error(&self.dest))?;
        super::sync_parent_dir(&self.dest).map_err(io_error(&self.dest))?;
        Ok(self.rows)
    }
}

impl Drop for DerivedTableWriter {
    fn drop(&mut self) {
        if self.writer.is_some() {
            // Abandoned (an error, or a shutdown mid-computation): the old table stands.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// An encoding failure of the table at `dest`.
pub(super) fn encode_error(dest: &Path, e: impl std::fmt::Display) -> LandingError {
    LandingError::Encode {
        path: dest.to_path_buf(),
        message: e.to_string(),
    }
}
