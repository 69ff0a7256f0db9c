//! The compact event notation used by `tests/cases/*.case`, turned into NDJSON.
//!
//! One event per line: `TYPE key=value …`, where TYPE is `referral`, `assessment`,
//! `intervention`, `appointment`, `closed` or `retract`, and keys are
//! `id` (a short name, made into a stable UUID), `lhb` (default 7A1), `ref` (referral id,
//! default r1), `date` (the clinical date), `rec` (recorded_at; default the date at noon UTC),
//! `dob`, `outcome`, `stage`, `supersedes` and `retracts` (short names), and `nhs`.
//! `raw {json}` passes a line through unchanged.

use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// A stable UUID for a short event name.
pub fn uuid_for(name: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    format!("00000000-0000-4000-8000-{:012x}", h & 0xffff_ffff_ffff)
}

/// One notation line → one JSON line.
pub fn line_to_json(line: &str) -> String {
    let line = line.trim();
    if let Some(raw) = line.strip_prefix("raw ") {
        return raw.to_string();
    }
    let mut parts = line.split_whitespace();
    let kind = parts.next().expect("event type");
    let kv: HashMap<&str, &str> = parts
        .map(|p| {
            p.split_once('=')
                .unwrap_or_else(|| panic!("bad token {p} in {line}"))
        })
        .collect();
    let get = |k: &str, d: &'static str| -> String { kv.get(k).copied().unwrap_or(d).to_string() };
    let date = get("date", "2024-01-10");
    let date = date.as_str();
    let mut obj = Map::new();
    obj.insert("schema_version".into(), json!(1));
    obj.insert(
        "event_id".into(),
        json!(uuid_for(
            &kv.get("id").map_or(line.to_string(), |s| s.to_string())
        )),
    );
    obj.insert("provider_lhb".into(), json!(get("lhb", "7A1")));
    obj.insert("referral_id".into(), json!(get("ref", "r1")));
    let rec = kv
        .get("rec")
        .map(|r| r.to_string())
        .unwrap_or_else(|| format!("{date}T12:00:00Z"));
    obj.insert("recorded_at".into(), json!(rec));
    if let Some(s) = kv.get("supersedes") {
        obj.insert("supersedes".into(), json!(uuid_for(s)));
    }
    let event_type = match kind {
        "referral" => {
            obj.insert("referral_received_date".into(), json!(date));
            let mut patient = Map::new();
            if let Some(d) = kv.get("dob") {
                patient.insert("date_of_birth".into(), json!(d));
            }
            if let Some(n) = kv.get("nhs") {
                patient.insert("nhs_number".into(), json!(n));
            }
            for k in ["sex", "preferred_language", "ethnicity", "local_authority"] {
                if let Some(v) = kv.get(k) {
                    patient.insert(k.into(), json!(v));
                }
            }
            if let Some(q) = kv.get("wimd_quintile") {
                patient.insert("wimd_quintile".into(), json!(q.parse::<i64>().unwrap()));
            }
            if !patient.is_empty() {
                obj.insert("patient".into(), Value::Object(patient));
            }
            if let Some(s) = kv.get("source") {
                obj.insert("referral_source".into(), json!(s));
            }
            "referral_received"
        }
        "assessment" => {
            obj.insert("assessment_date".into(), json!(date));
            if let Some(o) = kv.get("outcome") {
                obj.insert("outcome".into(), json!(o));
            }
            "assessment_undertaken"
        }
        "intervention" => {
            obj.insert("start_date".into(), json!(date));
            "intervention_started"
        }
        "appointment" => {
            obj.insert("appointment_date".into(), json!(date));
            obj.insert("stage".into(), json!(get("stage", "assessment")));
            obj.insert("outcome".into(), json!(get("outcome", "did_not_attend")));
            "appointment_outcome"
        }
        "closed" => {
            obj.insert("closed_date".into(), json!(date));
            if let Some(r) = kv.get("reason") {
                obj.insert("reason".into(), json!(r));
            }
            "referral_closed"
        }
        "retract" => {
            obj.insert("retracts".into(), json!(uuid_for(&get("retracts", ""))));
            "event_retracted"
        }
        other => panic!("unknown event kind {other}"),
    };
    obj.insert("event_type".into(), json!(event_type));
    Value::Object(obj).to_string()
}

/// Many notation lines → NDJSON.
pub fn to_ndjson(lines: &[&str]) -> String {
    lines.iter().map(|l| line_to_json(l) + "\n").collect()
}
