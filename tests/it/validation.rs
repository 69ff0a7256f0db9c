//! Every reason code of SPEC 3.3, data-driven from `tests/cases/validation.tsv`, through the
//! library's validator (so `board_mismatch` can be given a topic), and the same cases through
//! file ingest: each line lands in exactly one table with the expected reason.

use lpmhss::event::{Pseudonymiser, Reason, Validator};
use std::path::Path;

fn cases() -> Vec<(String, Option<String>, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/validation.tsv");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.splitn(3, '\t');
            let expected = parts.next().unwrap().to_string();
            let topic = parts.next().unwrap();
            let payload = parts.next().unwrap().to_string();
            (expected, (topic != "-").then(|| topic.to_string()), payload)
        })
        .collect()
}

#[test]
fn every_reason_code_is_produced_exactly_as_specified() {
    let v = Validator::new(Pseudonymiser::new("k"));
    let cases = cases();
    for (expected, topic, payload) in &cases {
        let got = match v.validate(payload.as_bytes(), topic.as_deref()) {
            Ok(_) => "ok".to_string(),
            Err(r) => {
                assert!(
                    !r.detail.contains("9434765919"),
                    "detail leaks: {}",
                    r.detail
                );
                r.reason.as_str().to_string()
            }
        };
        assert_eq!(&got, expected, "payload {payload}");
    }
    for reason in Reason::ALL {
        assert!(
            cases.iter().any(|c| c.0 == reason.as_str()),
            "no case for {reason}"
        );
    }
}

#[test]
fn oversized_and_non_utf8_messages_are_malformed() {
    let v = Validator::new(Pseudonymiser::new("k"));
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(64 * 1024));
    assert_eq!(
        v.validate(big.as_bytes(), None).unwrap_err().reason,
        Reason::Malformed
    );
    assert_eq!(
        v.validate(&[0xff, 0xfe], None).unwrap_err().reason,
        Reason::Malformed
    );
}

#[test]
fn missing_and_invalid_details_name_the_field() {
    let v = Validator::new(Pseudonymiser::new("k"));
    for (expected, topic, payload) in cases() {
        if expected == "missing_field" || expected == "invalid_field" {
            let r = v
                .validate(payload.as_bytes(), topic.as_deref())
                .unwrap_err();
            let field = r.detail.split(':').next().unwrap();
            assert!(
                payload.contains(field.trim_start_matches("patient."))
                    || expected == "missing_field",
                "detail {} does not name a field of {payload}",
                r.detail
            );
            assert!(!field.is_empty());
        }
    }
}

#[test]
fn unknown_fields_are_dropped_and_counted() {
    let v = Validator::new(Pseudonymiser::new("k"));
    let e = v
        .validate(
            br#"{"schema_version":1,"event_id":"0c6e2f4e-8f1a-4a59-9d0a-6f3c2b1e4d5a","event_type":"assessment_undertaken","provider_lhb":"7A2","referral_id":"r","recorded_at":"2024-01-03T10:00:00Z","assessment_date":"2024-01-04","start_date":"2024-01-05","colour":"blue"}"#,
            None,
        )
        .unwrap();
    assert_eq!(e.unknown_fields, 2);
}

#[test]
fn file_ingest_sends_each_case_to_exactly_one_table() {
    let cases: Vec<_> = cases()
        .into_iter()
        .filter(|c| c.1.as_deref() != Some("7A2"))
        .collect();
    let ndjson: String = cases.iter().map(|c| format!("{}\n", c.2)).collect();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    crate::support::ingest_text(&dir, &ndjson);
    let out = crate::support::sql(
        &dir,
        "SELECT source_line, 'ok' AS reason FROM events UNION ALL SELECT source_line, reason FROM dead_letters ORDER BY source_line",
    );
    let got: Vec<String> = out
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().to_string())
        .collect();
    let want: Vec<String> = cases.iter().map(|c| c.0.clone()).collect();
    assert_eq!(got, want);
}
