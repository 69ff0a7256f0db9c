//! File ingest end to end: privacy (no NHS number or date of birth in any Parquet file, commit
//! log, log line or dead letter), every input line in exactly one table, idempotent re-ingest,
//! and the Parquet read by tools this project did not write (DuckDB, pyarrow).

use crate::support::events::to_ndjson;
use crate::support::{lpmhss, run, run_ok, sql, sql_count};
use std::path::Path;

const NHS_NUMBERS: [&str; 3] = ["9434765919", "4010232137", "9434765918"];
const DOBS: [&str; 2] = ["1987-06-05", "2009-11-23"];

fn privacy_feed() -> String {
    let mut s = to_ndjson(&[
        "referral id=p1 ref=a date=2024-01-05 dob=1987-06-05 nhs=9434765919",
        "referral id=p2 ref=b date=2024-01-06 dob=2009-11-23 nhs=4010232137",
        "assessment id=p3 ref=a date=2024-01-20",
        // Wrong check digit: dead-lettered, the payload must be redacted.
        "referral id=p4 ref=c date=2024-01-07 dob=1987-06-05 nhs=9434765918",
    ]);
    // Malformed JSON that still carries identifiers.
    s.push_str("{\"patient\":{\"nhs_number\":\"9434765919\",\"date_of_birth\":\"1987-06-05\"\n");
    s.push_str("not json at all 943 476 5919\n");
    s
}

fn all_text_of(dir: &Path) -> String {
    // Every table through SQL (Parquet is compressed, so raw bytes prove nothing), plus every
    // non-Parquet file byte for byte.
    let mut text = String::new();
    for t in [
        "events",
        "dead_letters",
        "pathways",
        "monthly",
        "data_quality",
        "waiting_list",
    ] {
        text.push_str(&sql(dir, &format!("SELECT * FROM {t}")));
    }
    for entry in walk(dir) {
        if entry.extension().is_none_or(|e| e != "parquet") {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(&entry).unwrap()));
        }
    }
    text
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn no_nhs_number_or_date_of_birth_reaches_disk_logs_or_dead_letters() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let feed = tmp.path().join("feed.ndjson");
    std::fs::write(&feed, privacy_feed()).unwrap();
    let out = run(lpmhss()
        .env("RUST_LOG", "trace")
        .args(["ingest", "--data-dir"])
        .arg(&dir)
        .arg(&feed));
    assert!(out.status.success());
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stored = all_text_of(&dir);
    assert!(
        stored.contains("REDACTED"),
        "dead letters keep a redacted payload"
    );
    assert_eq!(sql_count(&dir, "SELECT count(*) FROM dead_letters"), 3);
    for secret in NHS_NUMBERS.iter().chain(DOBS.iter()) {
        assert!(
            !stored.contains(secret),
            "{secret} reached the data directory"
        );
        assert!(!logs.contains(secret), "{secret} reached the logs");
    }
    assert!(!stored.contains("943 476 5919"));
    // The pseudonym is the keyed HMAC, and the age replaces the date of birth.
    let pseudo = sql(&dir, "SELECT patient_pseudo_id, age_at_referral FROM events WHERE referral_id = 'a' AND event_type = 'referral_received'");
    let expected =
        lpmhss::event::Pseudonymiser::new(crate::support::TEST_KEY).pseudonym("9434765919");
    assert!(pseudo.contains(&format!("{expected},36")), "{pseudo}");
}

#[test]
fn every_line_lands_exactly_once_and_reingest_does_not_duplicate() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let feed = tmp.path().join("feed.ndjson");
    let n = run_ok(
        lpmhss()
            .args([
                "simulate",
                "--months",
                "2",
                "--referrals-per-month",
                "400",
                "--seed",
                "7",
                "--invalid-share",
                "0.05",
                "--end",
                "2024-06-30T12:00:00Z",
                "--out",
            ])
            .arg(&feed),
    );
    let _ = n;
    let lines = std::fs::read_to_string(&feed).unwrap().lines().count() as u64;
    assert!(lines > 1000);
    // Small batches so the feed spans several commits.
    for _ in 0..2 {
        run_ok(
            lpmhss()
                .env("LPMHSS__LANDING__FILE_BATCH_LINES", "700")
                .args(["ingest", "--data-dir"])
                .arg(&dir)
                .arg(&feed),
        );
    }
    let q = "SELECT count(*) FROM (SELECT source_line FROM events UNION ALL SELECT source_line FROM dead_letters)";
    assert_eq!(
        sql_count(&dir, q),
        lines,
        "each line once, even after ingesting twice"
    );
    let dup = "SELECT count(*) FROM (SELECT source_line, count(*) c FROM (SELECT source_line FROM events UNION ALL SELECT source_line FROM dead_letters) GROUP BY source_line HAVING count(*) > 1)";
    assert_eq!(sql_count(&dir, dup), 0);
    assert!(sql_count(&dir, "SELECT count(*) FROM dead_letters") > 0);
}

#[test]
fn stdin_ingest_and_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut child = lpmhss()
        .args(["ingest", "--data-dir"])
        .arg(&dir)
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all((to_ndjson(&["referral id=s1 date=2024-02-01"]) + "\n{bad\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("lines read:      2"), "{summary}");
    assert!(summary.contains("landed:          1"), "{summary}");
    assert!(summary.contains("malformed"), "{summary}");
    assert!(summary.contains("blank lines skipped: 1"), "{summary}");
}

#[test]
fn parquet_opens_in_duckdb_and_pyarrow() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    crate::support::ingest_text(
        &dir,
        &(to_ndjson(&[
            "referral id=d1 lhb=7A1 ref=x date=2024-03-01 dob=2001-01-01",
            "assessment id=d2 lhb=7A1 ref=x date=2024-03-10",
            "referral id=d3 lhb=7A5 ref=y date=2024-03-02",
        ]) + "{broken\n"),
    );
    let script = format!(
        r#"
import duckdb, pyarrow.parquet as pq, glob, sys
d = {dir:?}
con = duckdb.connect()
ev = con.execute(f"SELECT count(*), count(DISTINCT lhb) FROM read_parquet('{{d}}/events/**/*.parquet', hive_partitioning=true)").fetchone()
dl = con.execute(f"SELECT reason FROM read_parquet('{{d}}/dead_letters/**/*.parquet', hive_partitioning=true)").fetchall()
mo = con.execute(f"SELECT assessments_pct_within_28 FROM read_parquet('{{d}}/monthly/*.parquet') WHERE provider_lhb='7A1' AND age_group='all' AND period='2024-03'").fetchone()
tables = [pq.read_table(f) for f in glob.glob(d + '/**/*.parquet', recursive=True)]
print(ev[0], ev[1], dl[0][0], float(mo[0]), sum(t.num_rows for t in tables) > 0)
"#,
        dir = dir.to_string_lossy()
    );
    assert_eq!(crate::support::python(&script), "3 2 malformed 100.0 True");
}
