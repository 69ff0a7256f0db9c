//! The first pass over a message: its JSON parsed into borrowed strings, integers and objects
//! and nothing else. Validation reads a few fields by name, and building a
//! `serde_json::Value` for that (an owned `String` per key and string value, a `BTreeMap` per
//! object, all freed again) was most of its cost.
//!
//! The parse runs `serde_json`'s own deserializer and asks for `deserialize_any` at every
//! level, as `Value` does, so it accepts exactly the texts `Value` accepts (same recursion
//! limit, same number and escape rules), fails at the same place with the same error, and sees
//! the same data: an object keeps the last value of a repeated key, and an integer is one
//! exactly when `Value::as_i64` would return it. (`IgnoredAny` would be faster for values
//! nobody reads, but `serde_json` skips those with a different scanner that has no recursion
//! limit, so a message `Value` rejects could pass.)

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A JSON value as validation sees it.
#[derive(Debug, PartialEq)]
pub(super) enum Json<'a> {
    /// `null`.
    Null,
    /// A string, borrowed from the message unless it had escapes.
    Str(Cow<'a, str>),
    /// An integer in `i64` range: what `Value::as_i64` returns.
    Int(i64),
    /// An object.
    Object(Object<'a>),
    /// Booleans, other numbers and arrays: never valid where validation looks.
    Other,
}

impl<'a> Json<'a> {
    /// Parse a whole message. Errors are `serde_json`'s, as `from_str::<Value>` reports them.
    pub fn parse(text: &'a str) -> serde_json::Result<Json<'a>> {
        serde_json::from_str(text)
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is one in `i64` range.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Int(n) => Some(*n),
            _ => None,
        }
    }
}

/// An object's members, each key once, in first-seen order. Messages have a few dozen keys
/// at most, so a scan beats hashing or a tree.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Object<'a> {
    members: Vec<(Cow<'a, str>, Json<'a>)>,
}

impl<'a> Object<'a> {
    /// The value of `key`, `null` included.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Every key, once.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|(k, _)| k.as_ref())
    }

    /// A repeated key replaces the earlier value, as `serde_json::Map::insert` does.
    fn insert(&mut self, key: Cow<'a, str>, value: Json<'a>) {
        match self.members.iter_mut().find(|(k, _)| *k == key) {
            Some(member) => member.1 = value,
            None => self.members.push((key, value)),
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Json<'de>, E> {
        Ok(Json::Other)
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Int(n))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(i64::try_from(n).map_or(Json::Other, Json::Int))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Json<'de>, E> {
        Ok(Json::Other)
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(s)))
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json<'de>, D::Error> {
        Json::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        while seq.next_element::<Skipped>()?.is_some() {}
        Ok(Json::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        // Room for a whole event without regrowing.
        let mut object = Object {
            members: Vec::with_capacity(16),
        };
        while let Some(Key(key)) = map.next_key()? {
            object.insert(key, map.next_value()?);
        }
        Ok(Json::Object(object))
    }
}

/// An object key, borrowed unless it had escapes (`Cow<str>`'s own `Deserialize` always copies).
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s)))
    }
}

/// An array element: parsed through `deserialize_any` like any value (see the module docs),
/// then dropped.
struct Skipped;

impl<'de> Deserialize<'de> for Skipped {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Json::deserialize(deserializer).map(|_| Skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The view `Value` gives of the same text, for comparison.
    fn from_value(v: &Value) -> Json<'_> {
        match v {
            Value::Null => Json::Null,
            Value::String(s) => Json::Str(Cow::Borrowed(s)),
            Value::Number(n) => n.as_i64().map_or(Json::Other, Json::Int),
            Value::Object(m) => {
                let mut object = Object::default();
                for (k, v) in m {
                    object.insert(Cow::Borrowed(k), from_value(v));
                }
                Json::Object(object)
            }
            Value::Bool(_) | Value::Array(_) => Json::Other,
        }
    }

    /// Same acceptance, same error text, same data (members compared as sets of keys).
    fn agrees_with_value(text: &str) {
        let ours = Json::parse(text);
        let theirs = serde_json::from_str::<Value>(text);
        match (&ours, &theirs) {
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{text}"),
            (Ok(a), Ok(b)) => assert_eq!(sorted(a), sorted(&from_value(b)), "{text}"),
            _ => panic!("{text}: ours {ours:?}, Value {theirs:?}"),
        }
    }

    fn sorted<'a>(j: &Json<'a>) -> Json<'a> {
        match j {
            Json::Object(o) => {
                let mut members: Vec<_> = o
                    .members
                    .iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect();
                members.sort_by(|a, b| a.0.cmp(&b.0));
                Json::Object(Object { members })
            }
            Json::Str(s) => Json::Str(s.clone()),
            Json::Int(n) => Json::Int(*n),
            Json::Null => Json::Null,
            Json::Other => Json::Other,
        }
    }

    #[test]
    fn agrees_with_serde_json_value() {
        let deep_array = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        let deep_object = format!("{}1{}", "{\"a\":".repeat(130), "}".repeat(130));
        for text in [
            r#"{"a":1,"b":"x","c":null,"d":{"e":[1,{"f":2}]}}"#,
            r#"{"a":1,"a":null}"#,
            r#"{"a":{"x":1},"a":{"y":2}}"#,
            r#"{"a\u0062":"\u00e9\n","ab":2}"#,
            r#"{"n":[-0, 0, 1.0, 1e3, 9223372036854775807, 9223372036854775808, -9223372036854775808]}"#,
            r#"{"n":-0}"#,
            r#"{"n":9223372036854775808}"#,
            r#"{"n":1e400}"#,
            r#"{"s":"\ud800"}"#,
            r#"{"s":"tab	in string"}"#,
            r#"{"a":1,}"#,
            r#"{"a":1} x"#,
            r#"[1,2"#,
            r#""just a string""#,
            "",
            "   ",
            "{\"a\":tru}",
            &deep_array,
            &deep_object,
        ] {
            agrees_with_value(text);
        }
    }

    /// Objects written as text, so keys can repeat, with single-byte edits that break them.
    fn near_json() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let key = prop_oneof![
            Just("a".to_string()),
            Just("a\\u0061".to_string()),
            "[a-z\\\\\"]{0,3}"
        ];
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            Just("\"s\\u00e9\"".to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            Just("1.5e3".to_string()),
            Just("[1,[2,{}]]".to_string()),
        ];
        let value = leaf.prop_recursive(3, 16, 4, move |inner| {
            prop::collection::vec((key.clone(), inner), 0..5).prop_map(|members| {
                let body: Vec<String> = members
                    .iter()
                    .map(|(k, v)| format!("\"{k}\":{v}"))
                    .collect();
                format!("{{{}}}", body.join(","))
            })
        });
        (
            value,
            prop::option::of((any::<prop::sample::Index>(), any::<u8>())),
        )
            .prop_map(|(mut text, edit)| {
                if let Some((at, b)) = edit {
                    let i = at.index(text.len() + 1);
                    let c = ['"', '{', '}', ',', ':', '\\', '0', ' '][usize::from(b) % 8];
                    text.insert(i, c);
                }
                text
            })
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_serde_json_value_on_generated_text(text in near_json()) {
            agrees_with_value(&text);
        }
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let Ok(Json::Object(o)) = Json::parse(r#"{"k":"v","e":"a\"b"}"#) else {
            panic!("an object");
        };
        assert!(matches!(o.get("k"), Some(Json::Str(Cow::Borrowed("v")))));
        assert_eq!(o.get("e").and_then(Json::as_str), Some("a\"b"));
    }
}
