//! `Validator::validate`: raw message bytes → a landable event or a rejection with exactly one
//! SPEC 3.3 reason. Checks run in a fixed order (envelope, common fields, type fields, patient,
//! dates) so the same bad message always gets the same reason. The message is read through
//! `Json`, a borrowed view that parses like `serde_json::Value` without copying every key and
//! string.

use super::fields::{check_schema_version, is_referral_id, Fields};
use super::json::Json;
use super::pseudonymise::{is_valid_nhs_number, Pseudonymiser};
use super::reason::{Reason, Rejection};
use super::record::{EventType, LandedEvent, Patient, Payload};
use super::reference;
use chrono::{Datelike, Days, NaiveDate};

/// Largest message accepted (SPEC 3: at most 64 KiB).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// First day of the Measure's monitoring (SPEC 3.3 `date_before_measure`).
pub const MEASURE_START: NaiveDate = match NaiveDate::from_ymd_opt(2012, 1, 1) {
    Some(d) => d,
    None => panic!("valid constant date"),
};

const COMMON: [&str; 7] = [
    "schema_version",
    "event_id",
    "event_type",
    "provider_lhb",
    "referral_id",
    "recorded_at",
    "supersedes",
];
const PATIENT_FIELDS: [&str; 8] = [
    "nhs_number",
    "pseudo_id",
    "date_of_birth",
    "sex",
    "ethnicity",
    "preferred_language",
    "wimd_quintile",
    "local_authority",
];
const REFERRAL_SOURCES: [&str; 5] = [
    "gp",
    "other_primary_care",
    "secondary_care",
    "self",
    "other",
];
const ASSESSMENT_OUTCOMES: [&str; 4] = [
    "intervention_needed",
    "referred_on",
    "advice_only",
    "no_further_action",
];
const INTERVENTION_TYPES: [&str; 8] = [
    "counselling",
    "cbt",
    "stress_management",
    "solution_focused",
    "bibliotherapy",
    "guided_self_help",
    "group",
    "other",
];
const STAGES: [&str; 2] = ["assessment", "intervention"];
const APPOINTMENT_OUTCOMES: [&str; 4] = [
    "attended",
    "did_not_attend",
    "cancelled_by_patient",
    "cancelled_by_provider",
];
const CLOSE_REASONS: [&str; 8] = [
    "withdrawn",
    "rejected",
    "discharged_after_dna",
    "transferred",
    "moved_away",
    "died",
    "completed",
    "other",
];
const SEXES: [&str; 4] = ["female", "male", "other", "unknown"];
const LANGUAGES: [&str; 3] = ["cy", "en", "other"];

/// Validates and pseudonymises messages. Pure: no I/O, no metrics.
#[derive(Debug, Clone)]
pub struct Validator {
    pseudonymiser: Pseudonymiser,
}

impl Validator {
    /// A validator that pseudonymises NHS numbers with `pseudonymiser`.
    pub fn new(pseudonymiser: Pseudonymiser) -> Self {
        Validator { pseudonymiser }
    }

    /// Validate one message. `topic_board` is the board of the Kafka topic it arrived on
    /// (`None` for file ingest, where there is no topic to mismatch).
    pub fn validate(
        &self,
        payload: &[u8],
        topic_board: Option<&str>,
    ) -> Result<LandedEvent, Rejection> {
        if payload.len() > MAX_MESSAGE_BYTES {
            return Err(Rejection::new(
                Reason::Malformed,
                format!("message is {} bytes, over the 64 KiB limit", payload.len()),
            ));
        }
        let text = std::str::from_utf8(payload)
            .map_err(|_| Rejection::new(Reason::Malformed, "message is not valid UTF-8"))?;
        let value = Json::parse(text).map_err(|e| {
            Rejection::new(
                Reason::Malformed,
                format!("not valid JSON at line {} column {}", e.line(), e.column()),
            )
        })?;
        let Json::Object(obj) = &value else {
            return Err(Rejection::new(Reason::Malformed, "not a JSON object"));
        };
        let f = Fields { obj, prefix: "" };

        check_schema_version(&f)?;
        let type_name = f.req_str("event_type")?;
        let event_type = EventType::parse(type_name).ok_or_else(|| {
            Rejection::new(
                Reason::UnknownEventType,
                "event_type: not one of the six event types",
            )
        })?;
        let provider_lhb = f.req_str("provider_lhb")?;
        let Some(board) = reference::board(provider_lhb) else {
            return Err(Rejection::new(
                Reason::UnknownHealthBoard,
                "provider_lhb: not one of the seven health board codes",
            ));
        };
        if let Some(expected) = topic_board {
            if expected != provider_lhb {
                return Err(Rejection::new(
                    Reason::BoardMismatch,
                    format!(
                        "provider_lhb: {provider_lhb} arrived on the topic of board {expected}"
                    ),
                ));
            }
        }
        let event_id = f.req_uuid("event_id")?;
        let referral_id = f.req_str("referral_id")?;
        if !is_referral_id(referral_id) {
            return Err(Rejection::invalid(
                "referral_id",
                "1-64 characters of [A-Za-z0-9._-]",
            ));
        }
        let recorded_at = f.req_instant("recorded_at")?;
        let supersedes = f.opt_uuid("supersedes")?;

        let (payload, type_fields) = self.type_payload(&f, event_type)?;
        let mut unknown_fields = f.count_unknown(&[&COMMON, type_fields]);
        if let Some(Json::Object(p)) = f.get("patient") {
            let pf = Fields {
                obj: p,
                prefix: "patient.",
            };
            unknown_fields += pf.count_unknown(&[&PATIENT_FIELDS]);
        }

        let event = LandedEvent {
            event_id,
            event_type,
            provider_lhb: board.ods.as_str(),
            referral_id: referral_id.to_string(),
            recorded_at,
            supersedes,
            payload,
            unknown_fields,
        };
        check_clinical_date(&event)?;
        Ok(event)
    }

    fn type_payload(
        &self,
        f: &Fields<'_, '_>,
        event_type: EventType,
    ) -> Result<(Payload, &'static [&'static str]), Rejection> {
        Ok(match event_type {
            EventType::ReferralReceived => {
                let received_date = f.req_date("referral_received_date")?;
                let source = f.opt_enum("referral_source", &REFERRAL_SOURCES)?;
                let patient = match f.get("patient") {
                    None => Patient::default(),
                    Some(Json::Object(p)) => self.patient(
                        &Fields {
                            obj: p,
                            prefix: "patient.",
                        },
                        received_date,
                    )?,
                    Some(_) => return Err(Rejection::invalid("patient", "an object")),
                };
                let payload = Payload::Referral {
                    received_date,
                    source,
                    patient,
                };
                (
                    payload,
                    &["referral_received_date", "referral_source", "patient"],
                )
            }
            EventType::AssessmentUndertaken => (
                Payload::Assessment {
                    date: f.req_date("assessment_date")?,
                    outcome: f.opt_enum("outcome", &ASSESSMENT_OUTCOMES)?,
                },
                &["assessment_date", "outcome"],
            ),
            EventType::InterventionStarted => (
                Payload::Intervention {
                    start_date: f.req_date("start_date")?,
                    intervention_type: f.opt_enum("intervention_type", &INTERVENTION_TYPES)?,
                },
                &["start_date", "intervention_type"],
            ),
            EventType::AppointmentOutcome => (
                Payload::Appointment {
                    stage: f.req_enum("stage", &STAGES)?,
                    date: f.req_date("appointment_date")?,
                    outcome: f.req_enum("outcome", &APPOINTMENT_OUTCOMES)?,
                },
                &["stage", "appointment_date", "outcome"],
            ),
            EventType::ReferralClosed => (
                Payload::Closure {
                    date: f.req_date("closed_date")?,
                    reason: f.opt_enum("reason", &CLOSE_REASONS)?,
                },
                &["closed_date", "reason"],
            ),
            EventType::EventRetracted => (
                Payload::Retraction {
                    retracts: f.req_uuid("retracts")?,
                },
                &["retracts"],
            ),
        })
    }

    /// Patient attributes: the NHS number becomes a pseudonym and the date of birth an age,
    /// and neither leaves this function.
    fn patient(&self, p: &Fields<'_, '_>, referral_date: NaiveDate) -> Result<Patient, Rejection> {
        let pseudo_id = match p.get("nhs_number") {
            // The NHS number wins over a board pseudo_id: it gives the national pseudonym.
            Some(v) => match v.as_str() {
                Some(n) if is_valid_nhs_number(n) => Some(self.pseudonymiser.pseudonym(n)),
                _ => {
                    return Err(Rejection::new(
                        Reason::InvalidNhsNumber,
                        "patient.nhs_number: not 10 digits with a valid modulus-11 check digit",
                    ))
                }
            },
            None => match p.opt_str("pseudo_id")? {
                Some(s) if s.is_empty() || s.chars().count() > 128 => {
                    return Err(Rejection::invalid("patient.pseudo_id", "1-128 characters"))
                }
                other => other.map(str::to_string),
            },
        };
        let age_at_referral = match p.opt_date("date_of_birth")? {
            None => None,
            Some(dob) if dob > referral_date => {
                return Err(Rejection::invalid(
                    "patient.date_of_birth",
                    "a date on or before referral_received_date",
                ))
            }
            Some(dob) => Some(completed_years(dob, referral_date)),
        };
        let ethnicity = p.opt_str("ethnicity")?;
        if let Some(e) = ethnicity {
            if !(1..=2).contains(&e.len()) || !e.bytes().all(|c| c.is_ascii_alphanumeric()) {
                return Err(Rejection::invalid(
                    "patient.ethnicity",
                    "an NHS Wales ethnic category code of 1-2 characters",
                ));
            }
        }
        let local_authority = match p.opt_str("local_authority")? {
            None => None,
            Some(la) => Some(reference::local_authority(la).ok_or_else(|| {
                Rejection::invalid(
                    "patient.local_authority",
                    "a Welsh local authority code W06000001-W06000024",
                )
            })?),
        };
        Ok(Patient {
            pseudo_id,
            age_at_referral,
            sex: p.opt_enum("sex", &SEXES)?,
            ethnicity: ethnicity.map(str::to_string),
            preferred_language: p.opt_enum("preferred_language", &LANGUAGES)?,
            wimd_quintile: p.opt_int_in("wimd_quintile", 1, 5)?,
            local_authority,
        })
    }
}

/// Completed years from `dob` to `on`. A 29 February birthday is reached on 1 March in other
/// years, as in UK law.
pub fn completed_years(dob: NaiveDate, on: NaiveDate) -> i32 {
    let before_birthday = (on.month(), on.day()) < (dob.month(), dob.day());
    on.year() - dob.year() - i32::from(before_birthday)
}

fn check_clinical_date(event: &LandedEvent) -> Result<(), Rejection> {
    let Some(date) = event.clinical_date() else {
        return Ok(());
    };
    let field = match event.event_type {
        EventType::ReferralReceived => "referral_received_date",
        EventType::AssessmentUndertaken => "assessment_date",
        EventType::InterventionStarted => "start_date",
        EventType::AppointmentOutcome => "appointment_date",
        EventType::ReferralClosed => "closed_date",
        EventType::EventRetracted => return Ok(()),
    };
    if date < MEASURE_START {
        return Err(Rejection::new(
            Reason::DateBeforeMeasure,
            format!("{field}: before 2012-01-01"),
        ));
    }
    let latest = event.recorded_at.date_naive() + Days::new(1);
    if date > latest {
        return Err(Rejection::new(
            Reason::DateInFuture,
            format!("{field}: more than 1 day after recorded_at"),
        ));
    }
    Ok(())
}
