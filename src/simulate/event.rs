//! The compact event model the simulator works with: pathway keys, event bodies and events
//! as generated, before serialisation.

use rand::Rng;
use uuid::Uuid;

use super::calendar::write_uint;
use super::profile::{Patient, BOARDS};

/// A pathway key: board index into [`BOARDS`], running number, and series (0 for
/// [`super::history`], the first call's Unix time for a [`super::LiveFeed`], so live ids never
/// collide with a history written earlier).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RefId {
    pub board: u8,
    pub number: u32,
    pub series: u64,
}

impl RefId {
    /// ODS code of the pathway's board.
    pub(crate) fn board_code(&self) -> &'static str {
        BOARDS[usize::from(self.board)].code
    }

    /// Appends the `referral_id`: `R7A1-000123`, or `R7A1-L1718000000-000123` for live ones.
    pub(crate) fn write(&self, buf: &mut Vec<u8>) {
        buf.push(b'R');
        buf.extend_from_slice(self.board_code().as_bytes());
        buf.push(b'-');
        if self.series != 0 {
            buf.push(b'L');
            write_uint(buf, self.series, 0);
            buf.push(b'-');
        }
        write_uint(buf, u64::from(self.number), 6);
    }

    /// The `referral_id` as the message key.
    pub(crate) fn key(&self) -> String {
        let mut b = Vec::with_capacity(24);
        self.write(&mut b);
        // Only ASCII is ever written, so this cannot fail; fall back rather than unwrap.
        String::from_utf8(b).unwrap_or_default()
    }
}

/// The type-specific part of an event; dates are day numbers.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Body {
    Referral {
        date: i32,
        source: &'static str,
        patient: Option<Patient>,
    },
    Assessment {
        date: i32,
        outcome: Option<&'static str>,
    },
    Intervention {
        date: i32,
        kind: Option<&'static str>,
    },
    Appointment {
        stage: &'static str,
        date: i32,
        outcome: &'static str,
    },
    Closed {
        date: i32,
        reason: Option<&'static str>,
    },
    Retracted {
        retracts: Uuid,
    },
}

impl Body {
    /// The SPEC's `event_type`.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Body::Referral { .. } => "referral_received",
            Body::Assessment { .. } => "assessment_undertaken",
            Body::Intervention { .. } => "intervention_started",
            Body::Appointment { .. } => "appointment_outcome",
            Body::Closed { .. } => "referral_closed",
            Body::Retracted { .. } => "event_retracted",
        }
    }

    /// The clinical date, if the type has one.
    pub(crate) fn date(&self) -> Option<i32> {
        match *self {
            Body::Referral { date, .. }
            | Body::Assessment { date, .. }
            | Body::Intervention { date, .. }
            | Body::Appointment { date, .. }
            | Body::Closed { date, .. } => Some(date),
            Body::Retracted { .. } => None,
        }
    }

    /// Moves the clinical date (no-op for retractions).
    pub(crate) fn set_date(&mut self, d: i32) {
        match self {
            Body::Referral { date, .. }
            | Body::Assessment { date, .. }
            | Body::Intervention { date, .. }
            | Body::Appointment { date, .. }
            | Body::Closed { date, .. } => *date = d,
            Body::Retracted { .. } => {}
        }
    }
}

/// One event as generated, before serialisation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event {
    pub id: Uuid,
    pub referral: RefId,
    /// `recorded_at`, Unix seconds.
    pub recorded: i64,
    pub supersedes: Option<Uuid>,
    pub body: Body,
    /// A correction may move the clinical date within `lo..=hi` (the neighbouring events'
    /// dates), so corrections never invent data-quality flags the original lacked.
    pub lo: i32,
    pub hi: i32,
}

impl Event {
    /// An event with no id or recorded time yet (the planner's `finish` assigns them).
    pub(crate) fn new(referral: RefId, body: Body) -> Self {
        Event {
            id: Uuid::nil(),
            referral,
            recorded: 0,
            supersedes: None,
            body,
            lo: 0,
            hi: 0,
        }
    }
}

/// A v4 UUID drawn from the seeded RNG, so a seed reproduces the feed byte for byte.
pub(crate) fn new_id<R: Rng>(rng: &mut R) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random::<u128>().to_le_bytes()).into_uuid()
}
