//! A full derivation in bounded memory (pathways derived bucket by bucket, `bucketed.rs`) must
//! give exactly the table the reference derivation gives, on a feed full of duplicates,
//! corrections, retractions, late events and event ids reused across pathways and boards.

use crate::differential::{assert_matches_reference, messy_feed};
use crate::incremental::under_another_pathway;
use crate::support::{lpmhss, run};

#[test]
fn a_derivation_in_buckets_equals_the_reference_derivation() {
    let tmp = tempfile::tempdir().unwrap();
    let feed = tmp.path().join("feed.ndjson");
    let dir = tmp.path().join("data");
    messy_feed(&feed, 6, 300, 31);
    let text = std::fs::read_to_string(&feed).unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(str::to_string)
        .collect();
    // Copies under another pathway's key (same board, or another board with the same
    // referral id), so "first landed" decides across buckets.
    let copies: Vec<String> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 53 == 0)
        .map(|(i, l)| under_another_pathway(l, i / 53))
        .collect();
    lines.extend(copies);
    std::fs::write(&feed, lines.join("\n") + "\n").unwrap();

    // About 250 events per bucket: every board split in several buckets.
    let out = run(lpmhss()
        .env("LPMHSS__COMPUTE__BUCKET_EVENTS", "250")
        .args(["ingest", "--derivation", "full", "--data-dir"])
        .arg(&dir)
        .arg(&feed));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ingest failed:\n{stderr}");
    let buckets: usize = stderr
        .split("full derivation in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not derived in buckets:\n{stderr}"));
    assert!(
        buckets > 7,
        "every board should be split: {buckets} buckets"
    );

    assert_matches_reference(&dir);
}
