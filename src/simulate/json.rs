//! Hand-rolled JSON serialisation of simulated events (SPEC section 3), with the deliberate
//! mutations that make invalid messages. Writing bytes directly keeps generation well above
//! a million messages a second; every value written is ASCII we control, escaped regardless.

use super::calendar::{write_date, write_timestamp, write_uint};
use super::event::{Body, Event};
use super::profile::{Patient, PatientId};

/// A deliberate defect to write into an otherwise valid event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mutation {
    /// A valid event.
    None,
    /// `schema_version` other than 1.
    SchemaVersion(u64),
    /// An `event_type` the SPEC does not define.
    EventType(&'static str),
    /// A `provider_lhb` that is not a board.
    Board(&'static str),
    /// Leave out the required clinical date (`retracts` for a retraction).
    OmitDate,
    /// Leave out `referral_id`.
    OmitReferralId,
    /// A clinical date that is not a calendar date (`retracts` that is not a UUID).
    BadDate,
    /// An enum field with a value outside its list.
    BadEnum,
    /// Replace the clinical date with this day number.
    Date(i32),
}

fn key(buf: &mut Vec<u8>, name: &str) {
    buf.extend_from_slice(b",\"");
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(b"\":");
}

fn string(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    for &c in s.as_bytes() {
        match c {
            b'"' | b'\\' => buf.extend_from_slice(&[b'\\', c]),
            0..=0x1f => {
                buf.extend_from_slice(b"\\u00");
                buf.extend_from_slice(&[HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
            }
            _ => buf.push(c),
        }
    }
    buf.push(b'"');
}

fn field(buf: &mut Vec<u8>, name: &str, value: &str) {
    key(buf, name);
    string(buf, value);
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn uuid(buf: &mut Vec<u8>, name: &str, id: &uuid::Uuid) {
    key(buf, name);
    buf.push(b'"');
    buf.extend_from_slice(
        id.hyphenated()
            .encode_lower(&mut uuid::Uuid::encode_buffer())
            .as_bytes(),
    );
    buf.push(b'"');
}

fn date(buf: &mut Vec<u8>, name: &str, day: i32, m: Mutation) {
    let day = match m {
        Mutation::OmitDate => return,
        Mutation::BadDate => return field(buf, name, "2024-13-40"),
        Mutation::Date(d) => d,
        _ => day,
    };
    key(buf, name);
    buf.push(b'"');
    write_date(buf, day);
    buf.push(b'"');
}

/// `value`, or `bad` when the mutation asks for an out-of-list enum value.
fn enum_field(buf: &mut Vec<u8>, name: &str, value: Option<&str>, bad: &str, m: Mutation) {
    match (m, value) {
        (Mutation::BadEnum, _) => field(buf, name, bad),
        (_, Some(v)) => field(buf, name, v),
        (_, None) => {}
    }
}

fn patient(buf: &mut Vec<u8>, p: &Patient) {
    buf.extend_from_slice(b",\"patient\":{");
    match p.id {
        PatientId::Nhs(n) => {
            buf.extend_from_slice(b"\"nhs_number\":\"");
            buf.extend_from_slice(&n);
            buf.push(b'"');
        }
        PatientId::Pseudo(x) => {
            buf.extend_from_slice(b"\"pseudo_id\":\"");
            buf.extend((0..32).rev().map(|i| HEX[((x >> (i * 4)) & 15) as usize]));
            buf.push(b'"');
        }
    }
    if let Some(dob) = p.dob {
        date(buf, "date_of_birth", dob, Mutation::None);
    }
    field(buf, "sex", p.sex);
    field(buf, "ethnicity", p.ethnicity);
    field(buf, "preferred_language", p.language);
    key(buf, "wimd_quintile");
    write_uint(buf, u64::from(p.wimd), 0);
    field(buf, "local_authority", p.la);
    buf.push(b'}');
}

/// Appends `e` as one JSON object, with mutation `m` applied.
pub(crate) fn write_event(buf: &mut Vec<u8>, e: &Event, m: Mutation) {
    buf.extend_from_slice(b"{\"schema_version\":");
    write_uint(
        buf,
        if let Mutation::SchemaVersion(v) = m {
            v
        } else {
            1
        },
        0,
    );
    uuid(buf, "event_id", &e.id);
    field(
        buf,
        "event_type",
        if let Mutation::EventType(t) = m {
            t
        } else {
            e.body.type_name()
        },
    );
    field(
        buf,
        "provider_lhb",
        if let Mutation::Board(b) = m {
            b
        } else {
            e.referral.board_code()
        },
    );
    if m != Mutation::OmitReferralId {
        key(buf, "referral_id");
        buf.push(b'"');
        e.referral.write(buf);
        buf.push(b'"');
    }
    key(buf, "recorded_at");
    buf.push(b'"');
    write_timestamp(buf, e.recorded);
    buf.push(b'"');
    if let Some(s) = &e.supersedes {
        uuid(buf, "supersedes", s);
    }
    match &e.body {
        Body::Referral {
            date: d,
            source,
            patient: p,
        } => {
            date(buf, "referral_received_date", *d, m);
            enum_field(buf, "referral_source", Some(source), "fax", m);
            if let Some(p) = p {
                patient(buf, p);
            }
        }
        Body::Assessment { date: d, outcome } => {
            date(buf, "assessment_date", *d, m);
            enum_field(buf, "outcome", *outcome, "maybe", m);
        }
        Body::Intervention { date: d, kind } => {
            date(buf, "start_date", *d, m);
            enum_field(buf, "intervention_type", *kind, "hypnotherapy", m);
        }
        Body::Appointment {
            stage,
            date: d,
            outcome,
        } => {
            field(buf, "stage", stage);
            date(buf, "appointment_date", *d, m);
            enum_field(buf, "outcome", Some(outcome), "late", m);
        }
        Body::Closed { date: d, reason } => {
            date(buf, "closed_date", *d, m);
            enum_field(buf, "reason", *reason, "lost", m);
        }
        Body::Retracted { retracts } => match m {
            Mutation::OmitDate => {}
            Mutation::BadDate | Mutation::BadEnum => field(buf, "retracts", "not-a-uuid"),
            _ => uuid(buf, "retracts", retracts),
        },
    }
    buf.push(b'}');
}

/// `e` serialised into an exactly sized buffer (one allocation, no regrowth).
pub(crate) fn to_vec(e: &Event, m: Mutation) -> Vec<u8> {
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        write_event(scratch, e, m);
        scratch.to_vec()
    })
}

thread_local! {
    /// Reused serialisation buffer: payloads are then allocated once at their final size.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(1024));
}
