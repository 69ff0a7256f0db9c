//! The payload kept with a dead letter, with personal identifiers removed (SPEC 3.3, 3.4):
//! `nhs_number` and `date_of_birth` values become `"REDACTED"` wherever they appear, and any
//! remaining 10-digit run that passes the NHS modulus-11 check is masked too, because a
//! malformed message cannot be trusted to put the number where it belongs.

use super::pseudonymise::is_valid_nhs_number;
use regex::Regex;
use serde_json::Value;
use std::sync::OnceLock;

/// The marker that replaces a personal identifier.
pub const REDACTED: &str = "REDACTED";
/// Keys whose values are never kept.
const PERSONAL_KEYS: [&str; 2] = ["nhs_number", "date_of_birth"];
/// Dead-letter payloads are cut to this many bytes (the message limit), after redaction.
const MAX_KEPT_BYTES: usize = 64 * 1024;

/// A printable, redacted copy of a rejected message.
pub fn redacted_payload(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let redacted = match serde_json::from_str::<Value>(&text) {
        Ok(mut value) => {
            redact_value(&mut value);
            value.to_string()
        }
        Err(_) => redact_text(&text),
    };
    truncate(mask_nhs_like_digits(&redacted))
}

fn redact_value(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if PERSONAL_KEYS.contains(&key.as_str()) {
                    *v = Value::String(REDACTED.to_string());
                } else {
                    redact_value(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_value),
        _ => {}
    }
}

/// Text that is not JSON: replace the value after any personal key, as far as it can be told.
fn redact_text(text: &str) -> String {
    static KEY_VALUE: OnceLock<Regex> = OnceLock::new();
    let re = KEY_VALUE.get_or_init(|| {
        Regex::new(r#"("(?:nhs_number|date_of_birth)"\s*:\s*)("(?:[^"\\]|\\.)*"?|[^,}\]\s]*)"#)
            .expect("static regex")
    });
    re.replace_all(text, format!("${{1}}\"{REDACTED}\""))
        .into_owned()
}

fn mask_nhs_like_digits(text: &str) -> String {
    static DIGITS: OnceLock<Regex> = OnceLock::new();
    let re = DIGITS.get_or_init(|| Regex::new(r"\d{3}[ -]?\d{3}[ -]?\d{4}").expect("static regex"));
    re.replace_all(text, |caps: &regex::Captures<'_>| {
        let m = &caps[0];
        let digits: String = m.chars().filter(char::is_ascii_digit).collect();
        if is_valid_nhs_number(&digits) {
            REDACTED.to_string()
        } else {
            m.to_string()
        }
    })
    .into_owned()
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_KEPT_BYTES {
        let mut cut = MAX_KEPT_BYTES;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("…[truncated]");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_payload_loses_nhs_number_and_date_of_birth() {
        let raw = br#"{"event_type":"x","patient":{"nhs_number":"9434765919","date_of_birth":"1980-02-03","sex":"male"}}"#;
        let out = redacted_payload(raw);
        assert!(!out.contains("9434765919"));
        assert!(!out.contains("1980-02-03"));
        assert!(out.contains("\"sex\":\"male\""));
        assert!(out.contains(REDACTED));
    }

    #[test]
    fn truncated_json_is_scrubbed_by_pattern() {
        let raw = br#"{"patient":{"nhs_number": "9434765919", "date_of_birth":"1980-02-03"#;
        let out = redacted_payload(raw);
        assert!(!out.contains("9434765919"), "{out}");
        assert!(!out.contains("1980-02-03"), "{out}");
    }

    #[test]
    fn numeric_and_spaced_numbers_are_masked() {
        let out = redacted_payload(br#"{"patient":{"nhs_number":9434765919}}"#);
        assert!(!out.contains("9434765919"));
        let out = redacted_payload(b"note: 943 476 5919 and not 1234567890");
        assert!(!out.contains("943 476 5919"), "{out}");
        assert!(
            out.contains("1234567890"),
            "not a valid NHS number, kept: {out}"
        );
    }

    #[test]
    fn invalid_utf8_does_not_panic() {
        let out = redacted_payload(&[0xff, 0xfe, b'{']);
        assert!(out.contains('{'));
    }
}
