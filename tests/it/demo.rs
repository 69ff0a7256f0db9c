//! The embedded demo as a new user runs it: `lpmhss demo --duration …` lands events for all
//! seven boards, answers `/metrics` and `/` while running, exits 0, and leaves a data directory
//! that `report` answers with plausible figures.

use crate::support::process::{free_port, wait_for, Guard};
use crate::support::{lpmhss, run_ok, sql};
use std::process::Stdio;
use std::time::Duration;

#[test]
fn demo_runs_lands_all_boards_serves_and_exits_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("demo");
    let port = free_port();
    let mut demo = Guard(Some(
        lpmhss()
            .args([
                "demo",
                "--duration",
                "40s",
                "--months",
                "3",
                "--rate",
                "50",
                "--port",
                &port.to_string(),
                "--data-dir",
            ])
            .arg(&data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    let base = format!("http://127.0.0.1:{port}");
    let get = |path: &str| {
        reqwest::blocking::get(format!("{base}{path}"))
            .ok()
            .filter(|r| r.status().is_success())
            .and_then(|r| r.text().ok())
    };
    let metrics = wait_for(Duration::from_secs(35), || {
        get("/metrics").filter(|m| m.contains("lpmhss_last_compute_timestamp_seconds "))
    })
    .expect("/metrics answered");
    assert!(metrics.contains("lpmhss_target_ratio 0.8"));
    let page = wait_for(Duration::from_secs(30), || get("/")).expect("/ answered");
    assert!(page.contains("Powys"));
    let status = demo
        .wait_timeout(Duration::from_secs(60))
        .expect("demo exits after --duration");
    assert!(status.success(), "demo exited with {status:?}");
    let mut stdout = String::new();
    use std::io::Read;
    demo.child()
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(stdout.contains("status page"), "{stdout}");

    let boards = sql(&data, "SELECT count(DISTINCT provider_lhb) FROM events");
    assert_eq!(
        boards.lines().nth(1),
        Some("7"),
        "events for all seven boards"
    );
    let report = run_ok(lpmhss().args(["report", "--data-dir"]).arg(&data));
    let rows: Vec<&str> = report.lines().skip(1).collect();
    assert!(rows.len() >= 24, "{report}");
    for row in rows {
        let cells: Vec<&str> = row.split(',').collect();
        for pct in [cells[8], cells[13]] {
            if !pct.is_empty() {
                let v: f64 = pct.parse().unwrap();
                assert!((0.0..=100.0).contains(&v), "{row}");
            }
        }
    }
}
