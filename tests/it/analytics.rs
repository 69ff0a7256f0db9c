//! Beyond the official table (SPEC 6, issue 6): waiting list with its boundary days, closures
//! and `--as-of` snapshots; the breach list; adjusted waits; equity breakdowns with disclosure
//! control; data quality; the StatsWales long export.

use crate::support::events::to_ndjson;
use crate::support::{ingest_text, lpmhss, run_ok};
use std::collections::BTreeMap;
use std::path::Path;

fn waiting(dir: &Path, on: &str, extra: &[&str]) -> BTreeMap<(String, String, String), Vec<u64>> {
    let out = run_ok(
        lpmhss()
            .args(["waiting-list", "--on", on, "--data-dir"])
            .arg(dir)
            .args(extra),
    );
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("on_date,provider_lhb,age_group,stage,waiting_within_28,waiting_29_to_56,waiting_over_56,waiting_total,will_breach_within_7_days")
    );
    let rows: BTreeMap<_, _> = lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            assert_eq!(c[0], on);
            (
                (c[1].to_string(), c[2].to_string(), c[3].to_string()),
                c[4..].iter().map(|v| v.parse().unwrap()).collect(),
            )
        })
        .collect();
    assert_eq!(rows.len(), 8 * 3 * 2, "every board, age group and stage");
    rows
}

fn key(lhb: &str, stage: &str) -> (String, String, String) {
    (lhb.into(), "all".into(), stage.into())
}

fn waiting_feed(dir: &Path) {
    ingest_text(
        dir,
        &to_ndjson(&[
            "referral id=w1 ref=p1 date=2024-05-01",
            "referral id=w2 ref=p2 date=2024-05-01",
            "closed id=w2c ref=p2 date=2024-05-23",
            "referral id=w3 ref=p3 date=2024-04-01",
            "assessment id=w3a ref=p3 date=2024-05-01 outcome=intervention_needed",
            "referral id=w4 ref=p4 date=2024-05-01",
            "assessment id=w4a ref=p4 date=2024-05-10 outcome=advice_only",
            "referral id=w5 ref=p5 date=2024-05-01 rec=2024-05-01T09:00:00Z",
            "assessment id=w5a ref=p5 date=2024-05-10 rec=2024-05-10T09:00:00Z",
            "assessment id=w5b ref=p5 date=2024-05-25 supersedes=w5a rec=2024-05-26T09:00:00Z",
        ]),
    );
}

#[test]
fn waiting_list_boundaries_closures_and_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    waiting_feed(&dir);
    // [within, 29-56, over, total, will_breach]
    let on_21 = waiting(&dir, "2024-05-22", &[]);
    // p1, p2 (closes tomorrow), p5 (its assessment was corrected to 05-25): all wait 21 days.
    assert_eq!(on_21[&key("7A1", "assessment")], vec![3, 0, 0, 3, 0]);
    assert_eq!(
        on_21[&key("7A1", "intervention")],
        vec![1, 0, 0, 1, 0],
        "p3 has waited 21 days"
    );
    let on_22 = waiting(&dir, "2024-05-23", &[]);
    // p2 closed on the snapshot date: no longer waiting. p1 and p5 at 22 days will breach.
    assert_eq!(on_22[&key("7A1", "assessment")], vec![2, 0, 0, 2, 2]);
    let on_28 = waiting(&dir, "2024-05-29", &[]);
    assert_eq!(
        on_28[&key("7A1", "assessment")],
        vec![1, 0, 0, 1, 1],
        "p1 at 28 days; p5 seen 05-25"
    );
    let on_29 = waiting(&dir, "2024-05-30", &[]);
    assert_eq!(
        on_29[&key("7A1", "assessment")],
        vec![0, 1, 0, 1, 0],
        "p1 at 29 days"
    );
    assert_eq!(on_29[&key("WALES", "assessment")], vec![0, 1, 0, 1, 0]);
    // Snapshot before the correction arrived: p5 was assessed on 05-10, so not waiting.
    let before = waiting(&dir, "2024-05-22", &["--as-of", "2024-05-20T00:00:00Z"]);
    assert_eq!(before[&key("7A1", "assessment")], vec![2, 0, 0, 2, 0]);
}

#[test]
fn breach_list_is_sorted_by_urgency_and_bounded_by_within() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    waiting_feed(&dir);
    let out = run_ok(
        lpmhss()
            .args([
                "breaches",
                "--on",
                "2024-05-25",
                "--within",
                "7",
                "--board",
                "7A1",
                "--data-dir",
            ])
            .arg(&dir),
    );
    let rows: Vec<&str> = out.lines().skip(1).collect();
    // p2 closed on 05-23, p4 and p5 were assessed: p1 (assessment) and p3 (intervention)
    // remain, both 24 days in, breaching on 05-30.
    assert_eq!(
        rows,
        vec![
            "7A1,p1,assessment,2024-05-01,24,2024-05-30,5",
            "7A1,p3,intervention,2024-05-01,24,2024-05-30,5",
        ],
        "{out}"
    );
    let tight = run_ok(
        lpmhss()
            .args([
                "breaches",
                "--on",
                "2024-05-25",
                "--within",
                "3",
                "--data-dir",
            ])
            .arg(&dir),
    );
    assert_eq!(
        tight.lines().count(),
        1,
        "nothing breaches within 3 days: {tight}"
    );
    let err = crate::support::run(
        lpmhss()
            .args([
                "breaches",
                "--on",
                "2024-05-25",
                "--board",
                "7Z9",
                "--data-dir",
            ])
            .arg(&dir),
    );
    assert!(!err.status.success());
}

#[test]
fn adjusted_waits_restart_at_patient_initiated_delays_and_are_labelled() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    ingest_text(
        &dir,
        &to_ndjson(&[
            // DNA on 01-20 restarts the clock: 40 days official, 21 adjusted.
            "referral id=a1 ref=q1 date=2024-01-01",
            "appointment id=a1d ref=q1 date=2024-01-20 stage=assessment outcome=did_not_attend",
            "assessment id=a1a ref=q1 date=2024-02-10",
            // A provider cancellation does not restart the clock.
            "referral id=a2 ref=q2 date=2024-01-01",
            "appointment id=a2d ref=q2 date=2024-01-20 stage=assessment outcome=cancelled_by_provider",
            "assessment id=a2a ref=q2 date=2024-02-10",
            // A patient cancellation after the clock stop is ignored.
            "referral id=a3 ref=q3 date=2024-01-01",
            "assessment id=a3a ref=q3 date=2024-02-10",
            "appointment id=a3d ref=q3 date=2024-02-12 stage=assessment outcome=cancelled_by_patient",
        ]),
    );
    let official = run_ok(
        lpmhss()
            .args([
                "report",
                "--from",
                "2024-02",
                "--to",
                "2024-02",
                "--data-dir",
            ])
            .arg(&dir),
    );
    assert!(
        official.contains("\n2024-02,7A1,all,0,0,3,0,3,0.0,"),
        "{official}"
    );
    for format in ["csv", "json", "table"] {
        let adjusted = run_ok(
            lpmhss()
                .args([
                    "report",
                    "--adjusted",
                    "--from",
                    "2024-02",
                    "--to",
                    "2024-02",
                    "--format",
                    format,
                    "--data-dir",
                ])
                .arg(&dir),
        );
        assert!(
            adjusted.to_lowercase().contains("adjusted"),
            "{format}: {adjusted}"
        );
        if format == "csv" {
            assert!(adjusted.starts_with("waits,period,"), "{adjusted}");
            assert!(
                adjusted.contains("\nadjusted,2024-02,7A1,all,0,1,2,0,3,33.3,"),
                "{adjusted}"
            );
        }
    }
}

/// Parses `report --by … --publish` CSV and checks the disclosure rules independently of the
/// implementation.
#[test]
fn publish_never_shows_small_counts_and_no_suppressed_cell_can_be_recovered() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let feed = tmp.path().join("feed.ndjson");
    run_ok(
        lpmhss()
            .args([
                "simulate",
                "--months",
                "3",
                "--referrals-per-month",
                "300",
                "--seed",
                "21",
                "--end",
                "2024-06-30T12:00:00Z",
                "--out",
            ])
            .arg(&feed),
    );
    run_ok(lpmhss().args(["ingest", "--data-dir"]).arg(&dir).arg(&feed));
    for dim in ["sex", "preferred_language", "wimd_quintile"] {
        let out = run_ok(
            lpmhss()
                .args([
                    "report",
                    "--by",
                    dim,
                    "--publish",
                    "--from",
                    "2024-05",
                    "--to",
                    "2024-05",
                    "--data-dir",
                ])
                .arg(&dir),
        );
        assert!(out.contains("# disclosure control applied"), "{out}");
        let rows: Vec<Vec<String>> = out
            .lines()
            .skip(1)
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect();
        assert!(
            rows.iter().any(|r| r.contains(&"*".to_string())),
            "expected some suppression for {dim}"
        );
        // Count columns: referrals 5, assessments 6..=9, interventions 11..=14.
        let counts = [5, 6, 7, 8, 9, 11, 12, 13, 14];
        for r in &rows {
            for c in counts {
                if let Ok(n) = r[c].parse::<u64>() {
                    assert!(n == 0 || n >= 5, "small count {n} published: {r:?}");
                }
            }
            for (pct, total) in [(10, 9), (15, 14)] {
                if !r[pct].is_empty() {
                    let t: u64 = r[total]
                        .parse()
                        .expect("a percentage needs a published total");
                    assert!(t >= 5);
                }
            }
            for stage in [[6, 7, 8, 9], [11, 12, 13, 14]] {
                let hidden = stage.iter().filter(|c| r[**c] == "*").count();
                assert_ne!(hidden, 1, "one hidden cell in a row is recoverable: {r:?}");
            }
        }
        let mut groups: BTreeMap<(String, String, String, String), Vec<&Vec<String>>> =
            BTreeMap::new();
        for r in &rows {
            groups
                .entry(("v".into(), r[0].clone(), r[1].clone(), r[2].clone()))
                .or_default()
                .push(r);
            groups
                .entry(("b".into(), r[0].clone(), r[2].clone(), r[4].clone()))
                .or_default()
                .push(r);
        }
        for (k, members) in groups {
            if members.len() < 2 {
                continue;
            }
            for c in counts {
                let hidden = members.iter().filter(|r| r[c] == "*").count();
                assert_ne!(
                    hidden, 1,
                    "column {c} of {k:?} has one recoverable hidden cell"
                );
            }
        }
    }
}

#[test]
fn data_quality_and_statswales_export() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    ingest_text(
        &dir,
        &(to_ndjson(&[
            "referral id=q1 ref=d1 date=2024-03-01",
            "referral id=q2 ref=d1 date=2024-03-02 rec=2024-03-03T10:00:00Z",
            "assessment id=q3 ref=d1 date=2024-03-10",
        ]) + "{oops\n"),
    );
    let dq = run_ok(lpmhss().args(["data-quality", "--data-dir"]).arg(&dir));
    assert!(dq.contains("7A1,2024-03,flag,duplicate_referral,1"), "{dq}");
    assert!(dq.contains("7A2,2024-03,flag,duplicate_referral,0"), "{dq}");
    assert!(dq.contains(",dead_letter,malformed,1"), "{dq}");
    let export = run_ok(
        lpmhss()
            .args([
                "export-statswales",
                "--from",
                "2024-03",
                "--to",
                "2024-03",
                "--data-dir",
            ])
            .arg(&dir),
    );
    let rows: Vec<&str> = export.lines().skip(1).collect();
    assert_eq!(
        rows.len(),
        8 * 3 * 11,
        "month × areas × age groups × 11 items"
    );
    assert!(export.contains("2024-03,W11000023,Betsi Cadwaladr University Health Board,7A1,All ages,assessments_pct_within_28,Percentage of assessments undertaken within 28 days of referral,100.0"), "{export}");
    assert!(
        export.contains("2024-03,W92000004,Wales,WALES,Under 18,referrals_received,"),
        "{export}"
    );
}
