//! Clear errors: a missing data directory, an unreadable file, a bad month, bad SQL: one line,
//! non-zero exit, no panic, nothing written.

use crate::support::{lpmhss, run};

fn one_line_error(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "should fail");
    assert_ne!(out.status.code(), Some(101), "panicked");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.lines().filter(|l| !l.trim().is_empty()).count() <= 3,
        "{err}"
    );
    err
}

#[test]
fn missing_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let err = one_line_error(&run(lpmhss().args(["report", "--data-dir"]).arg(&missing)));
    assert!(err.contains("does not exist"), "{err}");
    assert!(!missing.exists(), "report must not create the directory");
}

#[test]
fn unreadable_input_fails_before_anything_lands() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.ndjson");
    std::fs::write(&good, "{}\n").unwrap();
    let data = tmp.path().join("data");
    let err = one_line_error(&run(lpmhss()
        .args(["ingest", "--data-dir"])
        .arg(&data)
        .arg(&good)
        .arg(tmp.path().join("missing.ndjson"))));
    assert!(err.contains("missing.ndjson"), "{err}");
    assert!(!data.join("events").exists() && !data.join("dead_letters").exists());
}

#[test]
fn bad_month_and_bad_range() {
    let tmp = tempfile::tempdir().unwrap();
    let err = one_line_error(&run(lpmhss()
        .args(["report", "--from", "2024-13", "--data-dir"])
        .arg(tmp.path())));
    assert!(err.contains("YYYY-MM"), "{err}");
    let err = one_line_error(&run(lpmhss()
        .args([
            "report",
            "--from",
            "2024-05",
            "--to",
            "2024-01",
            "--data-dir",
        ])
        .arg(tmp.path())));
    assert!(err.contains("after"), "{err}");
}

#[test]
fn bad_sql() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    crate::support::ingest_text(&data, "");
    let err = one_line_error(&run(lpmhss()
        .args(["sql", "--data-dir"])
        .arg(&data)
        .arg("SELEC nonsense")));
    assert!(err.contains("query failed"), "{err}");
    let err = one_line_error(&run(lpmhss()
        .args(["sql", "--data-dir"])
        .arg(&data)
        .arg("SELECT * FROM no_such_table")));
    assert!(err.contains("no_such_table"), "{err}");
}
