//! Property tests: arbitrary bytes and arbitrary JSON objects into the validator and the
//! redactor never panic, and a rejection's detail never echoes an NHS number.

use lpmhss::event::redact::redacted_payload;
use lpmhss::event::{Pseudonymiser, Validator};
use proptest::prelude::*;

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        "[ -~]{0,20}".prop_map(serde_json::Value::String),
        Just(serde_json::json!("2024-01-03")),
        Just(serde_json::json!("9434765919")),
        Just(serde_json::json!("7A1")),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop::collection::btree_map(
            prop_oneof![
                Just("schema_version".to_string()),
                Just("event_type".to_string()),
                Just("provider_lhb".to_string()),
                Just("patient".to_string()),
                Just("nhs_number".to_string()),
                "[a-z_]{1,12}",
            ],
            inner,
            0..8,
        )
        .prop_map(|m| serde_json::Value::Object(m.into_iter().collect()))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let v = Validator::new(Pseudonymiser::new("k"));
        let _ = v.validate(&bytes, Some("7A1"));
        let _ = redacted_payload(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics_or_leaks(value in json_value()) {
        let v = Validator::new(Pseudonymiser::new("k"));
        let bytes = value.to_string().into_bytes();
        if let Err(r) = v.validate(&bytes, None) {
            prop_assert!(!r.detail.contains("9434765919"));
        }
        prop_assert!(!redacted_payload(&bytes).contains("9434765919"));
    }
}
