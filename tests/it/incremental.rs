//! Incremental refresh: computations that re-derive only the pathways new events touch must
//! give exactly the table a full derivation gives, batch after batch, on a feed full of
//! duplicates, corrections, retractions, late events and event ids reused across pathways.

use crate::differential::{assert_matches_reference, messy_feed};
use crate::support::{lpmhss, run, run_ok};
use std::path::Path;

/// Ingest `file` and return the computation line of stderr.
fn ingest(dir: &Path, file: &Path, derivation: &str) -> String {
    let out = run(lpmhss()
        .args(["ingest", "--derivation", derivation, "--data-dir"])
        .arg(dir)
        .arg(file));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "ingest failed:\n{stderr}");
    stderr
        .lines()
        .find(|l| l.contains("derived tables rebuilt"))
        .unwrap_or_else(|| panic!("no computation reported:\n{stderr}"))
        .to_string()
}

fn simulate(feed: &Path) {
    messy_feed(feed, 6, 300, 23);
}

/// The same event under another pathway's key: "first landed" then decides across pathways.
/// Every other one keeps its referral id under another board, as boards numbering their
/// referrals alike would.
pub(crate) fn under_another_pathway(line: &str, i: usize) -> String {
    let mut event: serde_json::Value = serde_json::from_str(line).unwrap();
    if i.is_multiple_of(2) {
        let referral = event["referral_id"].as_str().unwrap().to_string();
        event["referral_id"] = serde_json::Value::String(format!("{referral}-X"));
    } else {
        let board = if event["provider_lhb"] == "7A1" {
            "7A2"
        } else {
            "7A1"
        };
        event["provider_lhb"] = serde_json::Value::String(board.into());
    }
    event.to_string()
}

#[test]
fn refreshes_batch_by_batch_equal_the_reference_derivation() {
    let tmp = tempfile::tempdir().unwrap();
    let feed = tmp.path().join("feed.ndjson");
    let dir = tmp.path().join("data");
    simulate(&feed);
    let text = std::fs::read_to_string(&feed).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with('{')).collect();
    let n = lines.len();
    assert!(n > 3000, "feed too small: {n}");

    // Six batches: the first lands copies (under other pathways) of events that arrive later,
    // the last lands such copies of events that arrived earlier, and every batch re-sends part
    // of the one before it.
    let chunk = n / 5;
    let mut batches: Vec<Vec<String>> = vec![Vec::new(); 6];
    for (i, line) in lines.iter().enumerate() {
        let b = 1 + (i / chunk).min(4);
        batches[b].push(line.to_string());
        if i % 97 == 0 {
            batches[b - 1].push(line.to_string());
        }
        if i % 89 == 0 {
            let target = if i > n / 2 { 0 } else { 5 };
            batches[target].push(under_another_pathway(line, i / 89));
        }
    }
    for (i, batch) in batches.iter().enumerate() {
        let file = tmp.path().join(format!("batch-{i}.ndjson"));
        std::fs::write(&file, batch.join("\n") + "\n").unwrap();
        let mode = if i == 0 { "full" } else { "incremental" };
        let line = ingest(&dir, &file, mode);
        if i > 0 {
            assert!(
                line.contains("incremental:"),
                "batch {i} was not refreshed: {line}"
            );
        }
    }

    assert_matches_reference(&dir);
}

#[test]
fn a_report_refreshes_the_last_computation_without_writing_it() {
    let tmp = tempfile::tempdir().unwrap();
    let feed = tmp.path().join("feed.ndjson");
    let dir = tmp.path().join("data");
    simulate(&feed);
    let text = std::fs::read_to_string(&feed).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // A few events on top: a backlog small enough for `auto` to refresh (under 1 in 100).
    let (first, rest) = lines.split_at(lines.len() - lines.len() / 200);
    let first_file = tmp.path().join("first.ndjson");
    let rest_file = tmp.path().join("rest.ndjson");
    std::fs::write(&first_file, first.join("\n") + "\n").unwrap();
    std::fs::write(&rest_file, rest.join("\n") + "\n").unwrap();
    ingest(&dir, &first_file, "full");
    let pathways = dir.join("pathways/pathways.parquet");
    let before = std::fs::read(&pathways).unwrap();
    // Landed but not computed: the report must still count it.
    run_ok(
        lpmhss()
            .args(["ingest", "--no-compute", "--data-dir"])
            .arg(&dir)
            .arg(&rest_file),
    );

    let report = |derivation: &str| {
        run_ok(
            lpmhss()
                .args(["report", "--derivation", derivation, "--data-dir"])
                .arg(&dir),
        )
    };
    let refreshed = report("auto");
    let derived = report("full");
    assert_eq!(refreshed, derived);
    let out = run(lpmhss()
        .args(["--log-level", "lpmhss=debug", "report", "--data-dir"])
        .arg(&dir));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("pathways for a read-only command") && log.contains("incremental:"),
        "the report did not refresh the last computation:\n{log}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), refreshed);
    assert_eq!(
        std::fs::read(&pathways).unwrap(),
        before,
        "a report must not write the derived tables"
    );
}
