//! Why a message was dead-lettered: the closed set of reason codes of SPEC section 3.3.

use std::fmt;

/// One dead-letter reason code. Low cardinality by design: it is a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// Not valid UTF-8 JSON object, or over 64 KiB.
    Malformed,
    /// `schema_version` is not 1.
    UnsupportedSchemaVersion,
    /// A required field is absent.
    MissingField,
    /// A field has the wrong type, format or enum value.
    InvalidField,
    /// `event_type` is not one of the six types.
    UnknownEventType,
    /// `provider_lhb` is not one of the seven boards.
    UnknownHealthBoard,
    /// `provider_lhb` differs from the board of the topic.
    BoardMismatch,
    /// `nhs_number` fails the 10-digit modulus-11 check.
    InvalidNhsNumber,
    /// A clinical date is more than a day after `recorded_at`.
    DateInFuture,
    /// A clinical date is before 2012-01-01.
    DateBeforeMeasure,
}

impl Reason {
    /// Every reason, in SPEC order.
    pub const ALL: [Reason; 10] = [
        Reason::Malformed,
        Reason::UnsupportedSchemaVersion,
        Reason::MissingField,
        Reason::InvalidField,
        Reason::UnknownEventType,
        Reason::UnknownHealthBoard,
        Reason::BoardMismatch,
        Reason::InvalidNhsNumber,
        Reason::DateInFuture,
        Reason::DateBeforeMeasure,
    ];

    /// The code as written to `dead_letters.reason` and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::UnsupportedSchemaVersion => "unsupported_schema_version",
            Reason::MissingField => "missing_field",
            Reason::InvalidField => "invalid_field",
            Reason::UnknownEventType => "unknown_event_type",
            Reason::UnknownHealthBoard => "unknown_health_board",
            Reason::BoardMismatch => "board_mismatch",
            Reason::InvalidNhsNumber => "invalid_nhs_number",
            Reason::DateInFuture => "date_in_future",
            Reason::DateBeforeMeasure => "date_before_measure",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message that cannot be landed as an event: data, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The reason code.
    pub reason: Reason,
    /// Human-readable detail naming the field; never contains an NHS number or date of birth.
    pub detail: String,
}

impl Rejection {
    /// A rejection with its detail.
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Rejection {
            reason,
            detail: detail.into(),
        }
    }

    /// `field` is absent (or null).
    pub fn missing(field: &str) -> Self {
        Self::new(
            Reason::MissingField,
            format!("{field}: required field is absent"),
        )
    }

    /// `field` has the wrong type, format or value; `expected` says what was wanted.
    pub fn invalid(field: &str, expected: &str) -> Self {
        Self::new(
            Reason::InvalidField,
            format!("{field}: expected {expected}"),
        )
    }
}
