//! The SQL rule registry: every rule is a file under `sql/`, embedded at build time and
//! rendered with named parameters. SQL is data; this file only knows names.

/// One SQL rule.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// File stem under `sql/`, also the view or table name it defines.
    pub name: &'static str,
    /// The SQL text with `{parameter}` placeholders.
    pub sql: &'static str,
}

macro_rules! rule {
    ($name:literal) => {
        Rule {
            name: $name,
            sql: include_str!(concat!("../../sql/", $name, ".sql")),
        }
    };
}

/// Landed events visible at the snapshot time.
pub const SCOPED_EVENTS: Rule = rule!("scoped_events");
/// SPEC 4 rule 1, deduplication.
pub const DEDUPED_EVENTS: Rule = rule!("deduped_events");
/// SPEC 4 rule 1, corrections and retractions.
pub const EFFECTIVE_EVENTS: Rule = rule!("effective_events");
/// SPEC 4 rules 2–7.
pub const PATHWAYS: Rule = rule!("pathways");
/// Default report range.
pub const ACTIVITY_RANGE: Rule = rule!("activity_range");
/// SPEC 5.
pub const MONTHLY: Rule = rule!("monthly");
/// SPEC 6.4.
pub const DATA_QUALITY: Rule = rule!("data_quality");
/// SPEC 6.1.
pub const WAITING_LIST: Rule = rule!("waiting_list");
/// SPEC 6.3.
pub const EQUITY: Rule = rule!("equity");
/// Dead letters by board, month and reason (issue 6 data-quality feedback).
pub const DEAD_LETTER_SUMMARY: Rule = rule!("dead_letter_summary");

/// Per-pathway breach list (issue 6).
pub const BREACHES: Rule = rule!("breaches");

/// Every rule, for documentation and tests.
pub const ALL: [Rule; 11] = [
    BREACHES,
    DEDUPED_EVENTS,
    SCOPED_EVENTS,
    EFFECTIVE_EVENTS,
    PATHWAYS,
    ACTIVITY_RANGE,
    MONTHLY,
    DATA_QUALITY,
    WAITING_LIST,
    EQUITY,
    DEAD_LETTER_SUMMARY,
];

impl Rule {
    /// The SQL with each `{name}` replaced by its value. Values are produced by this crate
    /// (dates, fixed identifiers), never by users, so plain substitution is safe.
    pub fn render(&self, params: &[(&str, &str)]) -> String {
        params.iter().fold(self.sql.to_string(), |sql, (k, v)| {
            sql.replace(&format!("{{{k}}}"), v)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_starts_with_a_header_comment() {
        for rule in ALL {
            assert!(
                rule.sql.starts_with("-- "),
                "{} lacks its header",
                rule.name
            );
        }
    }
}
