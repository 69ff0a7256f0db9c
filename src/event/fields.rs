//! Typed reads of JSON fields, each failure mapped to its SPEC 3.3 reason with the field named.

use super::json::{Json, Object};
use super::reason::{Reason, Rejection};
use chrono::{DateTime, NaiveDate, Utc};

/// A JSON object under validation, with the path prefix used in details (`patient.` for nested).
/// Strings are read borrowed from the message; only what lands is copied.
pub(super) struct Fields<'o, 'a> {
    pub obj: &'o Object<'a>,
    pub prefix: &'static str,
}

impl<'o, 'a> Fields<'o, 'a> {
    fn name(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    /// A present, non-null value.
    pub fn get(&self, field: &str) -> Option<&'o Json<'a>> {
        self.obj.get(field).filter(|v| !matches!(v, Json::Null))
    }

    pub fn req_str(&self, field: &str) -> Result<&'o str, Rejection> {
        match self.get(field) {
            None => Err(Rejection::missing(&self.name(field))),
            Some(Json::Str(s)) => Ok(s),
            Some(_) => Err(Rejection::invalid(&self.name(field), "a string")),
        }
    }

    pub fn opt_str(&self, field: &str) -> Result<Option<&'o str>, Rejection> {
        match self.get(field) {
            None => Ok(None),
            Some(Json::Str(s)) => Ok(Some(s)),
            Some(_) => Err(Rejection::invalid(&self.name(field), "a string")),
        }
    }

    pub fn req_date(&self, field: &str) -> Result<NaiveDate, Rejection> {
        let s = self.req_str(field)?;
        parse_date(s).ok_or_else(|| Rejection::invalid(&self.name(field), "a date YYYY-MM-DD"))
    }

    pub fn opt_date(&self, field: &str) -> Result<Option<NaiveDate>, Rejection> {
        match self.opt_str(field)? {
            None => Ok(None),
            Some(s) => parse_date(s)
                .map(Some)
                .ok_or_else(|| Rejection::invalid(&self.name(field), "a date YYYY-MM-DD")),
        }
    }

    pub fn req_enum(
        &self,
        field: &str,
        allowed: &[&'static str],
    ) -> Result<&'static str, Rejection> {
        let s = self.req_str(field)?;
        self.check_enum(field, s, allowed)
    }

    pub fn opt_enum(
        &self,
        field: &str,
        allowed: &[&'static str],
    ) -> Result<Option<&'static str>, Rejection> {
        self.opt_str(field)?
            .map(|s| self.check_enum(field, s, allowed))
            .transpose()
    }

    /// The allowed value itself, so a landed enum is a `&'static str`, not a copy.
    fn check_enum(
        &self,
        field: &str,
        s: &str,
        allowed: &[&'static str],
    ) -> Result<&'static str, Rejection> {
        allowed.iter().copied().find(|a| *a == s).ok_or_else(|| {
            Rejection::invalid(&self.name(field), &format!("one of {}", allowed.join("|")))
        })
    }

    pub fn req_uuid(&self, field: &str) -> Result<String, Rejection> {
        let s = self.req_str(field)?;
        self.check_uuid(field, s)
    }

    pub fn opt_uuid(&self, field: &str) -> Result<Option<String>, Rejection> {
        self.opt_str(field)?
            .map(|s| self.check_uuid(field, s))
            .transpose()
    }

    fn check_uuid(&self, field: &str, s: &str) -> Result<String, Rejection> {
        if is_uuid(s) {
            // Case-insensitive hex: one spelling per id so dedup and supersedes match.
            Ok(s.to_ascii_lowercase())
        } else {
            Err(Rejection::invalid(
                &self.name(field),
                "a UUID (8-4-4-4-12 hex)",
            ))
        }
    }

    pub fn req_instant(&self, field: &str) -> Result<DateTime<Utc>, Rejection> {
        let s = self.req_str(field)?;
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| Rejection::invalid(&self.name(field), "an RFC 3339 instant with offset"))
    }

    pub fn opt_int_in(&self, field: &str, lo: i64, hi: i64) -> Result<Option<i32>, Rejection> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => match v.as_i64() {
                Some(n) if (lo..=hi).contains(&n) => Ok(Some(n as i32)),
                _ => Err(Rejection::invalid(
                    &self.name(field),
                    &format!("an integer {lo}-{hi}"),
                )),
            },
        }
    }

    /// Names present in the object (`null` included) but in none of the `known` lists:
    /// dropped and counted, never landed.
    pub fn count_unknown(&self, known: &[&[&str]]) -> u32 {
        self.obj
            .keys()
            .filter(|k| !known.iter().any(|list| list.contains(k)))
            .count() as u32
    }
}

/// Strict `YYYY-MM-DD` (exactly ten characters), a real calendar date.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(digits(0..4)? as i32, digits(5..7)?, digits(8..10)?)
}

/// 8-4-4-4-12 hexadecimal.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A referral id: 1–64 characters of `[A-Za-z0-9._-]`.
pub fn is_referral_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// `schema_version`: absent → missing, non-integer → invalid, other integers → unsupported.
pub fn check_schema_version(f: &Fields<'_, '_>) -> Result<(), Rejection> {
    match f.get("schema_version") {
        None => Err(Rejection::missing("schema_version")),
        Some(v) => match v.as_i64() {
            Some(1) => Ok(()),
            Some(n) => Err(Rejection::new(
                Reason::UnsupportedSchemaVersion,
                format!("schema_version: {n} is not supported (expected 1)"),
            )),
            None => Err(Rejection::invalid("schema_version", "the integer 1")),
        },
    }
}
