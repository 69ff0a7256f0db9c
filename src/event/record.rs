//! The validated, pseudonymised event as it is landed: one flat row per message (SPEC 3.1–3.2,
//! minus the NHS number and date of birth, plus `age_at_referral`). Codes from closed sets
//! (board, enums, local authority) are `&'static str` pointing into the reference data, so
//! only the free-form values (ids, pseudonym, ethnicity) are allocated per event.

use chrono::{DateTime, NaiveDate, Utc};

/// The six event types of SPEC 3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// Clock start.
    ReferralReceived,
    /// Clock stop for Part 1a.
    AssessmentUndertaken,
    /// Clock stop for Part 1b.
    InterventionStarted,
    /// An attended, missed or cancelled appointment.
    AppointmentOutcome,
    /// The pathway ended.
    ReferralClosed,
    /// An earlier event was entered in error.
    EventRetracted,
}

impl EventType {
    /// Every type, in SPEC order.
    pub const ALL: [EventType; 6] = [
        EventType::ReferralReceived,
        EventType::AssessmentUndertaken,
        EventType::InterventionStarted,
        EventType::AppointmentOutcome,
        EventType::ReferralClosed,
        EventType::EventRetracted,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ReferralReceived => "referral_received",
            EventType::AssessmentUndertaken => "assessment_undertaken",
            EventType::InterventionStarted => "intervention_started",
            EventType::AppointmentOutcome => "appointment_outcome",
            EventType::ReferralClosed => "referral_closed",
            EventType::EventRetracted => "event_retracted",
        }
    }

    /// Parse a wire name.
    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Patient attributes that may be landed (no NHS number, no date of birth).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patient {
    /// HMAC pseudonym of the NHS number, or the board's own `pseudo_id`.
    pub pseudo_id: Option<String>,
    /// Completed years on the referral date; `None` when no date of birth was sent.
    pub age_at_referral: Option<i32>,
    /// `female` | `male` | `other` | `unknown`.
    pub sex: Option<&'static str>,
    /// NHS Wales ethnic category code.
    pub ethnicity: Option<String>,
    /// `cy` | `en` | `other`.
    pub preferred_language: Option<&'static str>,
    /// Welsh Index of Multiple Deprivation quintile, 1 = most deprived.
    pub wimd_quintile: Option<i32>,
    /// W06 local authority code.
    pub local_authority: Option<&'static str>,
}

/// The type-specific part of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// `referral_received`.
    Referral {
        /// The clock start.
        received_date: NaiveDate,
        /// Optional source of the referral.
        source: Option<&'static str>,
        /// Landable patient attributes.
        patient: Patient,
    },
    /// `assessment_undertaken`.
    Assessment {
        /// Clock stop for Part 1a.
        date: NaiveDate,
        /// Optional outcome.
        outcome: Option<&'static str>,
    },
    /// `intervention_started`.
    Intervention {
        /// Clock stop for Part 1b.
        start_date: NaiveDate,
        /// Optional therapy type.
        intervention_type: Option<&'static str>,
    },
    /// `appointment_outcome`.
    Appointment {
        /// `assessment` | `intervention`.
        stage: &'static str,
        /// Date of the appointment.
        date: NaiveDate,
        /// `attended` | `did_not_attend` | `cancelled_by_patient` | `cancelled_by_provider`.
        outcome: &'static str,
    },
    /// `referral_closed`.
    Closure {
        /// Date the pathway closed.
        date: NaiveDate,
        /// Optional reason.
        reason: Option<&'static str>,
    },
    /// `event_retracted`.
    Retraction {
        /// The `event_id` entered in error.
        retracts: String,
    },
}

/// A valid event ready to land.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandedEvent {
    /// UUID, the idempotency key.
    pub event_id: String,
    /// Which of the six types.
    pub event_type: EventType,
    /// ODS code of the provider board.
    pub provider_lhb: &'static str,
    /// Pathway id within the board.
    pub referral_id: String,
    /// When the source system recorded it.
    pub recorded_at: DateTime<Utc>,
    /// The `event_id` this one corrects.
    pub supersedes: Option<String>,
    /// Type-specific fields.
    pub payload: Payload,
    /// How many unknown fields were dropped from the message.
    pub unknown_fields: u32,
}

impl LandedEvent {
    /// The clinical date the event carries, if any (retractions have none).
    pub fn clinical_date(&self) -> Option<NaiveDate> {
        match &self.payload {
            Payload::Referral { received_date, .. } => Some(*received_date),
            Payload::Assessment { date, .. } => Some(*date),
            Payload::Intervention { start_date, .. } => Some(*start_date),
            Payload::Appointment { date, .. } => Some(*date),
            Payload::Closure { date, .. } => Some(*date),
            Payload::Retraction { .. } => None,
        }
    }
}
