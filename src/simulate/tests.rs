//! Tests of the simulated feed as a whole: determinism, SPEC conformance, volumes and shares;
//! `check_valid` is shared with the live feed's tests.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::Value;

use super::faults::INVALID_REASONS;
use super::profile::is_valid_nhs_number;
use super::*;

pub(super) fn cfg(months: u32, per_month: u32, seed: u64) -> SimConfig {
    SimConfig {
        months,
        referrals_per_month: per_month,
        seed,
        end: Utc.with_ymd_and_hms(2024, 12, 31, 23, 59, 59).unwrap(),
        ..SimConfig::default()
    }
}

pub(super) fn date(v: &Value, field: &str) -> NaiveDate {
    let s = v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing in {v}"));
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn one_of(v: &Value, field: &str, allowed: &[&str]) {
    let s = v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing in {v}"));
    assert!(allowed.contains(&s), "{field}={s}");
}

/// Asserts `m` is a valid SPEC section 3 event; returns it parsed.
pub(super) fn check_valid(m: &SimMessage) -> Value {
    let v: Value = serde_json::from_slice(&m.payload).unwrap();
    assert!(v.is_object());
    assert_eq!(v["schema_version"], 1);
    uuid::Uuid::parse_str(v["event_id"].as_str().unwrap()).unwrap();
    assert_eq!(v["provider_lhb"].as_str(), Some(m.board.as_str()));
    let rid = v["referral_id"].as_str().unwrap();
    assert_eq!(rid, m.key);
    assert!(!rid.is_empty() && rid.len() <= 64);
    assert!(rid
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c)));
    let rec = DateTime::parse_from_rfc3339(v["recorded_at"].as_str().unwrap()).unwrap();
    assert!(rec <= m.recorded_at, "sent before recorded");
    let (field, req): (&str, &[&str]) = match v["event_type"].as_str().unwrap() {
        "referral_received" => ("referral_received_date", &[]),
        "assessment_undertaken" => ("assessment_date", &[]),
        "intervention_started" => ("start_date", &[]),
        "appointment_outcome" => ("appointment_date", &["stage", "outcome"]),
        "referral_closed" => ("closed_date", &[]),
        "event_retracted" => {
            uuid::Uuid::parse_str(v["retracts"].as_str().unwrap()).unwrap();
            return v;
        }
        t => panic!("unexpected type {t}"),
    };
    for f in req {
        assert!(v[f].is_string(), "{f} missing");
    }
    let d = date(&v, field);
    assert!(d >= NaiveDate::from_ymd_opt(2012, 1, 1).unwrap());
    assert!(
        d <= rec.date_naive() + chrono::Days::new(1),
        "clinical date in the future: {v}"
    );
    if let Some(p) = v.get("patient") {
        if let Some(n) = p.get("nhs_number") {
            assert!(is_valid_nhs_number(n.as_str().unwrap().as_bytes()), "{n}");
        } else {
            assert!(p["pseudo_id"].as_str().is_some_and(|s| s.len() <= 128));
        }
        one_of(p, "sex", &["female", "male", "other", "unknown"]);
        one_of(p, "preferred_language", &["cy", "en", "other"]);
        assert!((1..=5).contains(&p["wimd_quintile"].as_u64().unwrap()));
        assert!(p["local_authority"].as_str().unwrap().starts_with("W06"));
    }
    v
}

#[test]
fn same_seed_same_bytes_other_seed_differs() {
    let a: Vec<SimMessage> = history(&cfg(3, 400, 9)).collect();
    let b: Vec<SimMessage> = history(&cfg(3, 400, 9)).collect();
    let c: Vec<SimMessage> = history(&cfg(3, 400, 10)).collect();
    assert!(a.len() > 3000);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn empty_when_no_months_or_before_the_measure() {
    assert_eq!(history(&cfg(0, 6500, 1)).count(), 0);
    let old = SimConfig {
        end: Utc.with_ymd_and_hms(2011, 6, 1, 0, 0, 0).unwrap(),
        ..cfg(6, 100, 1)
    };
    assert_eq!(history(&old).count(), 0);
}

#[test]
fn a_year_is_valid_in_order_and_about_78k_referrals() {
    let c = cfg(12, 6500, 3);
    let end = c.end;
    let (mut referrals, mut last, mut invalid) = (HashSet::new(), None, HashMap::new());
    let (mut under18, mut nhs, mut welsh, mut patients) = (0, 0, 0, 0);
    for m in history(&c) {
        assert!(m.recorded_at <= end);
        assert!(last.is_none_or(|l| l <= m.recorded_at), "out of order");
        last = Some(m.recorded_at);
        if let Some(r) = m.expected_reason {
            *invalid.entry(r).or_insert(0) += 1;
            continue;
        }
        let v = check_valid(&m);
        if v["event_type"] == "referral_received" {
            referrals.insert((m.board.clone(), m.key.clone()));
            let p = &v["patient"];
            patients += 1;
            nhs += usize::from(p.get("nhs_number").is_some());
            welsh += usize::from(p["preferred_language"] == "cy");
            if let Some(dob) = p.get("date_of_birth").and_then(|d| d.as_str()) {
                let dob = NaiveDate::parse_from_str(dob, "%Y-%m-%d").unwrap();
                let age = date(&v, "referral_received_date").years_since(dob).unwrap();
                under18 += usize::from(age < 18);
            }
        }
    }
    let n = referrals.len() as f64;
    assert!((n - 78_000.0).abs() < 78_000.0 * 0.04, "{n} referrals");
    let share = |x: usize| x as f64 / patients as f64;
    assert!((share(nhs) - 0.8).abs() < 0.02 && (share(under18) - 0.15).abs() < 0.02);
    assert!((share(welsh) - 0.10).abs() < 0.02, "{}", share(welsh));
    assert_eq!(invalid.len(), INVALID_REASONS.len(), "{invalid:?}");
}

#[test]
fn shares_are_roughly_honoured() {
    let c = SimConfig {
        duplicate_share: 0.05,
        correction_share: 0.04,
        retraction_share: 0.03,
        late_share: 0.06,
        invalid_share: 0.02,
        ..cfg(6, 3000, 5)
    };
    // event_id -> (key, event_type) of every event seen so far.
    let mut ids: HashMap<String, (String, String)> = HashMap::new();
    let (mut dups, mut corrections, mut retractions, mut late, mut invalid, mut total) =
        (0, 0, 0, 0, 0, 0);
    for m in history(&c) {
        total += 1;
        if m.expected_reason.is_some() {
            invalid += 1;
            continue;
        }
        let v: Value = serde_json::from_slice(&m.payload).unwrap();
        let t = v["event_type"].as_str().unwrap().to_string();
        let id = v["event_id"].as_str().unwrap().to_string();
        if ids.insert(id, (m.key.clone(), t.clone())).is_some() {
            dups += 1;
            continue;
        }
        // What a correction or retraction names was sent earlier: same pathway and type for a
        // correction, and never a retraction for a retraction.
        if let Some(s) = v.get("supersedes").and_then(|s| s.as_str()) {
            assert_eq!(ids.get(s), Some(&(m.key.clone(), t)));
            corrections += 1;
            continue;
        }
        if let Some(r) = v.get("retracts").and_then(|s| s.as_str()) {
            assert!(ids
                .get(r)
                .is_some_and(|(k, t)| *k == m.key && t != "event_retracted"));
            retractions += 1;
        }
        let rec = DateTime::parse_from_rfc3339(v["recorded_at"].as_str().unwrap())
            .unwrap()
            .date_naive();
        let clinical = [
            "referral_received_date",
            "assessment_date",
            "start_date",
            "appointment_date",
            "closed_date",
        ]
        .iter()
        .find_map(|f| v[*f].as_str().map(|_| date(&v, f)));
        late += usize::from(clinical.is_some_and(|d| (rec - d).num_days() >= 5));
    }
    let base = (total - dups - corrections - retractions - invalid) as f64;
    let check = |name: &str, got: usize, want: f64, tol: f64| {
        let share = got as f64 / base;
        assert!((share - want).abs() < tol, "{name}: {share:.4} vs {want}");
    };
    check("duplicates", dups, 0.05, 0.01);
    // Corrections of corrections add ~10%, and some fall after `end`.
    check("corrections", corrections, 0.042, 0.008);
    // Retracting a referral or a wrong-pathway assessment adds the entered-in-error copy.
    check("retractions", retractions, 0.03, 0.008);
    // Late events recorded after `end` do not exist yet: in the last ~month of six, that is
    // about a sixth of them.
    check("late", late, 0.05, 0.01);
    check("invalid", invalid, 0.02, 0.005);
}

#[test]
fn invalid_messages_carry_their_defect() {
    let c = SimConfig {
        invalid_share: 0.2,
        ..cfg(2, 500, 8)
    };
    for m in history(&c) {
        let Some(reason) = m.expected_reason else {
            continue;
        };
        let parsed = serde_json::from_slice::<Value>(&m.payload);
        if reason == "malformed" {
            assert!(parsed.is_err());
            continue;
        }
        let v = parsed.unwrap();
        let text = String::from_utf8(m.payload.clone()).unwrap();
        let ok = match reason {
            "missing_field" => {
                v.get("referral_id").is_none()
                    || !text.contains("_date\"")
                    || v["event_type"] == "event_retracted"
            }
            "invalid_field" => {
                text.contains("2024-13-40")
                    || ["fax", "maybe", "hypnotherapy", "late", "lost"]
                        .iter()
                        .any(|b| text.contains(&format!("\"{b}\"")))
            }
            "unknown_event_type" => v["event_type"] == "referral_updated",
            "unknown_health_board" => v["provider_lhb"] == "7Z9",
            "invalid_nhs_number" => {
                !is_valid_nhs_number(v["patient"]["nhs_number"].as_str().unwrap().as_bytes())
            }
            "date_in_future" | "date_before_measure" => text.contains("_date\""),
            "unsupported_schema_version" => v["schema_version"] == 2,
            r => panic!("unexpected reason {r}"),
        };
        assert!(ok, "{reason}: {text}");
    }
}

#[test]
fn boards_perform_differently() {
    let c = SimConfig {
        duplicate_share: 0.0,
        correction_share: 0.0,
        retraction_share: 0.0,
        invalid_share: 0.0,
        late_share: 0.0,
        ..cfg(12, 3000, 4)
    };
    let mut referral: HashMap<String, NaiveDate> = HashMap::new();
    let mut within: HashMap<String, (u32, u32)> = HashMap::new();
    for m in history(&c) {
        let v: Value = serde_json::from_slice(&m.payload).unwrap();
        match v["event_type"].as_str() {
            Some("referral_received") => {
                referral.insert(m.key.clone(), date(&v, "referral_received_date"));
            }
            Some("assessment_undertaken") => {
                let wait = (date(&v, "assessment_date") - referral[&m.key]).num_days();
                let e = within.entry(m.board.clone()).or_default();
                e.0 += u32::from(wait <= 28);
                e.1 += 1;
            }
            _ => {}
        }
    }
    let pct = |b: &str| f64::from(within[b].0) / f64::from(within[b].1);
    assert!((0.40..0.62).contains(&pct("7A1")), "7A1 {}", pct("7A1"));
    assert!(pct("7A7") > 0.8 && pct("7A4") > 0.75, "{within:?}");
}
