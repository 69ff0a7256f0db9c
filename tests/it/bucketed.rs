//! A full derivation in bounded memory (pathways derived bucket by bucket, `bucketed.rs`) must
//! give exactly the table the reference derivation gives, on a feed full of duplicates,
//! corrections, retractions, late events and event ids reused across pathways and boards.

use crate::differential::{assert_matches_reference, messy_feed};
use crate::incremental::under_another_pathway;
use crate::support::{lpmhss, run};

/// The messy feed plus copies of some events under another pathway's key (same board, or
/// another board with the same referral id), so "first landed" decides across buckets.
fn feed_with_copies_across_buckets(feed: &std::path::Path) {
    messy_feed(feed, 6, 300, 31);
    let text = std::fs::read_to_string(feed).unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(str::to_string)
        .collect();
    let copies: Vec<String> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 53 == 0)
        .map(|(i, l)| under_another_pathway(l, i / 53))
        .collect();
    lines.extend(copies);
    std::fs::write(feed, lines.join("\n") + "\n").unwrap();
}

/// Ingest `feed` into `dir` with a full derivation under `env`; the number of buckets it
/// reports (1 when derived all in memory) and its log (at level info).
fn ingest_full(
    feed: &std::path::Path,
    dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (usize, String) {
    let mut cmd = lpmhss();
    cmd.env_remove("LPMHSS__COMPUTE__BUCKET_EVENTS")
        .env_remove("LPMHSS__COMPUTE__MEMORY_MB");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run(cmd
        .args([
            "ingest",
            "--log-level",
            "lpmhss=info",
            "--derivation",
            "full",
        ])
        .arg("--data-dir")
        .arg(dir)
        .arg(feed));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "ingest failed:\n{stderr}");
    let buckets = stderr
        .split("full derivation in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    (buckets, stderr)
}

#[test]
fn a_derivation_in_buckets_equals_the_reference_derivation() {
    let tmp = tempfile::tempdir().unwrap();
    let feed = tmp.path().join("feed.ndjson");
    let dir = tmp.path().join("data");
    feed_with_copies_across_buckets(&feed);
    // About 250 events per bucket: every board split in several buckets.
    let (buckets, log) = ingest_full(&feed, &dir, &[("LPMHSS__COMPUTE__BUCKET_EVENTS", "250")]);
    assert!(
        buckets > 7,
        "every board should be split: {buckets} buckets"
    );
    // Ids copied under pathways of other buckets are only found once every bucket has run:
    // the derivation runs again with their copies.
    assert!(log.contains(DERIVED_AGAIN), "not derived again:\n{log}");
    assert_matches_reference(&dir);
}

/// What a derivation logs when ids held by several buckets make it derive again.
const DERIVED_AGAIN: &str = "deriving again";

#[test]
fn a_derivation_in_buckets_without_ids_across_buckets_runs_once() {
    let tmp = tempfile::tempdir().unwrap();
    let feed = tmp.path().join("feed.ndjson");
    let dir = tmp.path().join("data");
    // Re-sends, corrections and retractions, each within its own pathway.
    messy_feed(&feed, 6, 300, 31);
    let (buckets, log) = ingest_full(&feed, &dir, &[("LPMHSS__COMPUTE__BUCKET_EVENTS", "250")]);
    assert!(
        buckets > 7,
        "every board should be split: {buckets} buckets"
    );
    assert!(!log.contains(DERIVED_AGAIN), "derived twice:\n{log}");
    assert_matches_reference(&dir);
    assert_text_is_plain_strings(&dir);
}

/// Every text column of the `pathways` file under `dir` is a plain Arrow string: readers that do
/// not know string views (pyarrow before 16, Spark) read it. DataFusion's SQL would otherwise
/// make `CAST(… AS VARCHAR)` a view, and the columns a union meets it in with it.
fn assert_text_is_plain_strings(dir: &std::path::Path) {
    use datafusion::arrow::datatypes::DataType;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let file = std::fs::read_dir(dir.join("pathways"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "parquet"))
        .expect("a pathways file");
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap()).unwrap();
    let views: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .filter(|f| matches!(f.data_type(), DataType::Utf8View | DataType::LargeUtf8))
        .map(|f| f.name().clone())
        .collect();
    assert!(
        views.is_empty(),
        "text columns that are not plain strings: {views:?}"
    );
}

#[test]
fn a_computation_sizes_its_buckets_to_the_memory_left() {
    let tmp = tempfile::tempdir().unwrap();
    let feed = tmp.path().join("feed.ndjson");
    feed_with_copies_across_buckets(&feed);
    // The default budget holds this small store: derived in memory.
    let roomy = tmp.path().join("roomy");
    let (buckets, log) = ingest_full(&feed, &roomy, &[]);
    assert_eq!(buckets, 1, "expected an in-memory derivation:\n{log}");
    assert_matches_reference(&roomy);
    assert_text_is_plain_strings(&roomy);
    // A budget the process is already over: buckets of the smallest size, one per board
    // here (the smallest board split further so that every worker has a last bucket), with a
    // warning, and the same pathways.
    let tight = tmp.path().join("tight");
    let (buckets, log) = ingest_full(&feed, &tight, &[("LPMHSS__COMPUTE__MEMORY_MB", "1")]);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    assert_eq!(
        buckets,
        7usize.next_multiple_of(workers),
        "expected one bucket per board, and the smallest split to a multiple of {workers} \
         workers:\n{log}"
    );
    assert!(log.contains("fill compute.memory_mb"), "no warning:\n{log}");
    assert_matches_reference(&tight);
}

/// The `pathways` a read-only `sql` session sees, as sorted CSV, and its debug log.
fn reader_pathways(
    dir: &std::path::Path,
    budget_mb: Option<&str>,
    as_of: Option<&str>,
) -> (String, String) {
    let mut cmd = lpmhss();
    cmd.env_remove("LPMHSS_READER_MEMORY_MB");
    if let Some(mb) = budget_mb {
        cmd.env("LPMHSS_READER_MEMORY_MB", mb);
    }
    cmd.args([
        "sql",
        "--log-level",
        "lpmhss=debug",
        "--format",
        "csv",
        "--data-dir",
    ])
    .arg(dir);
    if let Some(t) = as_of {
        cmd.args(["--as-of", t]);
    }
    cmd.arg("SELECT * FROM pathways ORDER BY provider_lhb, referral_id");
    let out = run(&mut cmd);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "sql failed:\n{stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

#[test]
fn a_reader_over_its_memory_budget_derives_in_buckets_and_sees_the_same_pathways() {
    let tmp = tempfile::tempdir().unwrap();
    // Once with ids only within their pathways, once with ids copied across buckets: the
    // reader's buckets then run again with every copy, into a new scratch table.
    for (name, copies_across) in [("messy", false), ("copies", true)] {
        let feed = tmp.path().join(format!("{name}.ndjson"));
        let dir = tmp.path().join(name);
        if copies_across {
            feed_with_copies_across_buckets(&feed);
        } else {
            messy_feed(&feed, 6, 300, 47);
        }
        let out = run(lpmhss()
            .args(["ingest", "--no-compute", "--data-dir"])
            .arg(&dir)
            .arg(&feed));
        assert!(
            out.status.success(),
            "ingest failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );

        // No computation yet: every reader derives everything. A budget of 1 MiB holds about
        // 2,000 events, so the derivation is split in buckets of about 1,000.
        for as_of in [None, Some("2025-04-15T12:00:00Z")] {
            let (in_memory, log) = reader_pathways(&dir, Some("100000"), as_of);
            assert!(
                !log.contains("buckets"),
                "expected one derivation in memory:\n{log}"
            );
            let (bucketed, log) = reader_pathways(&dir, Some("1"), as_of);
            assert!(
                log.contains("buckets"),
                "expected a derivation in buckets:\n{log}"
            );
            assert_eq!(
                log.contains(DERIVED_AGAIN),
                copies_across,
                "{name} as of {as_of:?}: derived again or not as expected?\n{log}"
            );
            assert!(
                in_memory.lines().count() > 100,
                "too few pathways to compare"
            );
            assert!(
                bucketed == in_memory,
                "{name} as of {as_of:?}: bucketed pathways differ"
            );
        }
    }
}

/// Every row of the `pathways` file under `dir`, in the order the file holds them, one line per
/// row.
fn pathways_in_file_order(dir: &std::path::Path) -> Vec<String> {
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let files: Vec<_> = std::fs::read_dir(dir.join("pathways"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    assert_eq!(files.len(), 1, "one pathways file: {files:?}");
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&files[0]).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let options = FormatOptions::default();
        let columns: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = columns.iter().map(|c| c.value(row).to_string()).collect();
            rows.push(cells.join(","));
        }
    }
    rows
}

/// The boards of `rows` (pathways rows, board first) in the order the file holds them, each run
/// of rows of one board as one entry.
fn board_runs(rows: &[String]) -> Vec<&str> {
    let mut runs: Vec<&str> = Vec::new();
    for row in rows {
        let board = row.split(',').next().unwrap();
        if runs.last() != Some(&board) {
            runs.push(board);
        }
    }
    runs
}

#[test]
fn buckets_derived_concurrently_are_written_whole_and_in_plan_order() {
    let tmp = tempfile::tempdir().unwrap();
    let feed = tmp.path().join("feed.ndjson");
    feed_with_copies_across_buckets(&feed);
    let small = [("LPMHSS__COMPUTE__BUCKET_EVENTS", "250")];
    let mut runs = Vec::new();
    for run in ["first", "second", "third"] {
        let dir = tmp.path().join(run);
        let (buckets, log) = ingest_full(&feed, &dir, &small);
        assert!(
            buckets > 7,
            "every board should be split: {buckets} buckets"
        );
        let rows = pathways_in_file_order(&dir);
        assert!(rows.len() > 100, "too few pathways to compare");
        // A bucket's rows are written together: a board's rows come in at most as many runs
        // as the board has buckets, so all boards in at most as many runs as buckets.
        let boards = board_runs(&rows).len();
        assert!(
            boards <= buckets,
            "{boards} runs of boards for {buckets} buckets: buckets interleaved\n{log}"
        );
        runs.push(board_runs(&rows).join(" "));
    }
    // Written in plan order, not in the order the workers finished: the same boards in the
    // same sequence every time.
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0], runs[2]);
}
