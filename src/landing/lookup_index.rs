//! Which landed event files can hold given event ids or referrals, from the bloom filters the
//! landing writes on `event_id` and `referral_id` (`src/landing/writer.rs`).
//!
//! An incremental refresh looks up a day's events among years of files. Letting DataFusion
//! prune costs a full open-and-evaluate per file per query; reading each file's filters once
//! and testing them here leaves the queries only the few files that can match. A file without
//! a filter (landed before filters were written) always counts as a possible match.
//! Used by `src/compliance/incremental.rs`.

use super::{io_error, LandingError};
use parquet::bloom_filter::Sbbf;
use parquet::file::metadata::ParquetMetaDataReader;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Bloom filters of one file: one per row group, `None` where a row group has none.
#[derive(Debug)]
struct FileFilters {
    path: PathBuf,
    event_id: Vec<Option<Sbbf>>,
    referral_id: Vec<Option<Sbbf>>,
}

/// The lookup columns' bloom filters of a set of event files.
#[derive(Debug)]
pub struct LookupIndex {
    files: Vec<FileFilters>,
}

impl LookupIndex {
    /// Read the footers and filters of `paths`, on two threads (the work is file opens and
    /// small reads).
    pub fn load(paths: &[PathBuf]) -> Result<LookupIndex, LandingError> {
        let half = paths.len().div_ceil(2).max(1);
        let files = std::thread::scope(|scope| {
            let workers: Vec<_> = paths
                .chunks(half)
                .map(|chunk| {
                    scope.spawn(move || chunk.iter().map(|p| read_filters(p)).collect::<Vec<_>>())
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("bloom filter reader panicked"))
                .collect::<Result<Vec<_>, _>>()
        })?;
        Ok(LookupIndex { files })
    }

    /// The files that may hold an event whose id is in `event_ids` or whose referral is in
    /// `referral_ids`.
    pub fn files_holding(
        &self,
        event_ids: &BTreeSet<String>,
        referral_ids: &BTreeSet<&str>,
    ) -> Vec<PathBuf> {
        self.files
            .iter()
            .filter(|f| {
                may_hold(&f.event_id, event_ids.iter().map(String::as_str))
                    || may_hold(&f.referral_id, referral_ids.iter().copied())
            })
            .map(|f| f.path.clone())
            .collect()
    }
}

/// Whether any row group's filter admits any value (a missing filter admits everything).
fn may_hold<'a>(filters: &[Option<Sbbf>], values: impl Iterator<Item = &'a str> + Clone) -> bool {
    filters.iter().any(|filter| match filter {
        None => true,
        Some(f) => values.clone().any(|v| f.check(v)),
    })
}

fn read_filters(path: &Path) -> Result<FileFilters, LandingError> {
    let io = |e: parquet::errors::ParquetError| LandingError::Decode {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    let metadata = ParquetMetaDataReader::new()
        .parse_and_finish(&file)
        .map_err(io)?;
    let column = |name: &str| -> Result<Vec<Option<Sbbf>>, LandingError> {
        let index = metadata
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.path().string() == name);
        let Some(index) = index else {
            // No such column: nothing to test, so the file must be read.
            return Ok(vec![None]);
        };
        metadata
            .row_groups()
            .iter()
            .map(|rg| Sbbf::read_from_column_chunk(rg.column(index), &file).map_err(io))
            .collect()
    };
    Ok(FileFilters {
        path: path.to_path_buf(),
        event_id: column("event_id")?,
        referral_id: column("referral_id")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn batch(ids: &[&str], referrals: &[&str]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("event_id", DataType::Utf8, false),
            Field::new("referral_id", DataType::Utf8, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(ids.to_vec())),
                Arc::new(StringArray::from(referrals.to_vec())),
            ],
        )
        .unwrap()
    }

    #[test]
    fn only_files_whose_filters_admit_a_value_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let landed = dir.path().join("landed.parquet");
        let unfiltered = dir.path().join("unfiltered.parquet");
        super::super::write_parquet_file(&landed, &batch(&["id-1", "id-2"], &["R-1", "R-2"]))
            .unwrap();
        // Derived-table writes carry no filters: such a file may hold anything.
        let b = batch(&["id-9"], &["R-9"]);
        super::super::write_parquet_replacing(&unfiltered, b.schema(), &[b]).unwrap();
        let index = LookupIndex::load(&[landed.clone(), unfiltered.clone()]).unwrap();

        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        let refs = |v: &[&'static str]| v.iter().copied().collect::<BTreeSet<&str>>();
        assert_eq!(
            index.files_holding(&ids(&["id-2"]), &refs(&[])),
            vec![landed.clone(), unfiltered.clone()]
        );
        assert_eq!(
            index.files_holding(&ids(&[]), &refs(&["R-1"])),
            vec![landed.clone(), unfiltered.clone()]
        );
        assert_eq!(
            index.files_holding(&ids(&["id-7", "id-8"]), &refs(&["R-7"])),
            vec![unfiltered]
        );
    }
}
