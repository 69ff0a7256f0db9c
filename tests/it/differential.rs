//! Differential check of the derivation: the staged, performance-shaped SQL of `sql/` against
//! the direct formulation kept in `tests/reference/`, run by another engine (DuckDB) over the
//! same landed events. Any difference in any column of any pathway fails.

use crate::support::{lpmhss, run_ok};

/// Simulate a feed with far more duplicates, corrections, retractions and late events than real
/// feeds carry, so every branch of rule 1 (and the contested referral and outcome paths) runs.
pub(crate) fn messy_feed(out: &Path, months: u32, referrals_per_month: u32, seed: u64) {
    run_ok(lpmhss().args(["simulate", "--out"]).arg(out).args([
        "--months",
        &months.to_string(),
        "--referrals-per-month",
        &referrals_per_month.to_string(),
        "--seed",
        &seed.to_string(),
        "--end",
        "2025-06-30T12:00:00Z",
        "--duplicate-share",
        "0.2",
        "--correction-share",
        "0.15",
        "--retraction-share",
        "0.1",
        "--late-share",
        "0.2",
    ]));
}
use std::path::Path;

#[test]
fn pathways_equal_the_reference_derivation_on_a_messy_feed() {
    let tmp = tempfile::tempdir().unwrap();
    let feed = tmp.path().join("feed.ndjson");
    let dir = tmp.path().join("data");
    messy_feed(&feed, 8, 400, 11);
    // Landed twice: the second copy of every message lands again under the same event_id.
    run_ok(
        lpmhss()
            .args(["ingest", "--no-compute", "--data-dir"])
            .arg(&dir)
            .arg(&feed),
    );
    let again = tmp.path().join("again.ndjson");
    std::fs::copy(&feed, &again).unwrap();
    run_ok(
        lpmhss()
            .args(["ingest", "--data-dir"])
            .arg(&dir)
            .arg(&again),
    );

    assert_matches_reference(&dir);
}

/// Assert that `dir`'s derived `pathways` table holds more than 1,000 pathways and equals, in
/// every column of every row, the reference SQL run by DuckDB.
pub(crate) fn assert_matches_reference(dir: &Path) {
    let verdict = compare_with_reference(dir);
    let fields: Vec<&str> = verdict.split_whitespace().collect();
    assert_eq!(fields.len(), 4, "unexpected output: {verdict}");
    let (reference, lpmhss_rows, missing, extra) = (fields[0], fields[1], fields[2], fields[3]);
    assert!(
        reference.parse::<u64>().unwrap() > 1000,
        "too few pathways: {verdict}"
    );
    assert_eq!(reference, lpmhss_rows, "pathway counts differ: {verdict}");
    assert_eq!((missing, extra), ("0", "0"), "rows differ: {verdict}");
}

/// Run the reference SQL in DuckDB and compare with lpmhss's derived `pathways` table:
/// "reference_rows lpmhss_rows only_in_reference only_in_lpmhss".
fn compare_with_reference(dir: &Path) -> String {
    let repo = env!("CARGO_MANIFEST_DIR");
    let script = format!(
        r#"
import sys
sys.path.insert(0, "{repo}/benches/e2e")
import duckdb, duckdb_report as d
con = duckdb.connect()
data = {dir:?}
con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{{data}}/events/**/*.parquet', hive_partitioning=true)")
con.execute("CREATE VIEW scoped_events AS SELECT * FROM events")
for name in ["deduped_events", "effective_events", "pathways"]:
    con.execute(f"CREATE TABLE {{name}} AS " + d.read_rule("{repo}/tests/reference", name))
con.execute(f"CREATE VIEW computed AS SELECT * FROM read_parquet('{{data}}/pathways/pathways.parquet')")
cols = ", ".join(r[0] for r in con.execute("DESCRIBE pathways").fetchall())
q = lambda s: con.execute(s).fetchone()[0]
print(q("SELECT COUNT(*) FROM pathways"), q("SELECT COUNT(*) FROM computed"),
      q(f"SELECT COUNT(*) FROM (SELECT {{cols}} FROM pathways EXCEPT ALL SELECT {{cols}} FROM computed)"),
      q(f"SELECT COUNT(*) FROM (SELECT {{cols}} FROM computed EXCEPT ALL SELECT {{cols}} FROM pathways)"))
"#,
        dir = dir.to_string_lossy()
    );
    crate::support::python(&script)
}
