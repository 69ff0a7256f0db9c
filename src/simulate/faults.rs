//! Turns a pathway's events into messages, injecting the faults real feeds have: verbatim
//! re-sends, corrections (`supersedes`), retractions (`event_retracted`, including a duplicate
//! referral entry and an assessment keyed to the wrong pathway) and invalid messages covering
//! every dead-letter reason except `board_mismatch`.

use rand::Rng;

use super::calendar::{day_of, DAY, MEASURE_START};
use super::event::{new_id, Body, Event, RefId};
use super::json::{to_vec, Mutation};
use super::profile::{corrupt_nhs_number, new_nhs_number, PatientId, SOURCES};

/// One message to publish, kept as the event plus its defect and serialised only when
/// released: queued messages then cost no allocation, and a payload lives only briefly.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outgoing {
    /// When it is sent (Unix seconds): the payload's `recorded_at`, later for re-sends.
    pub send: i64,
    pub event: Event,
    pub mutation: Mutation,
    /// For `malformed`: keep only this many thousandths of the serialised bytes.
    pub cut_permille: Option<u16>,
    /// The dead-letter reason it was built to trigger, if any.
    pub reason: Option<&'static str>,
}

impl Outgoing {
    fn valid(event: &Event, send: i64) -> Self {
        Outgoing {
            send,
            event: *event,
            mutation: Mutation::None,
            cut_permille: None,
            reason: None,
        }
    }

    /// The pathway (and so topic and key) the message belongs to.
    pub(crate) fn referral(&self) -> RefId {
        self.event.referral
    }

    /// The message's bytes.
    pub(crate) fn payload(&self) -> Vec<u8> {
        let mut p = to_vec(&self.event, self.mutation);
        if let Some(k) = self.cut_permille {
            // Cut mid-object: never valid JSON, and still ASCII so still UTF-8.
            p.truncate(p.len() * usize::from(k) / 1000);
        }
        p
    }
}

/// Per-event probabilities of each fault (from [`super::SimConfig`], clamped to 0–1).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shares {
    pub duplicate: f64,
    pub correction: f64,
    pub retraction: f64,
    pub invalid: f64,
}

/// The reason codes invalid messages cycle through, in SPEC order.
pub(crate) const INVALID_REASONS: [&str; 9] = [
    "malformed",
    "missing_field",
    "invalid_field",
    "unknown_event_type",
    "unknown_health_board",
    "invalid_nhs_number",
    "date_in_future",
    "date_before_measure",
    "unsupported_schema_version",
];

fn push(out: &mut Vec<Outgoing>, e: &Event, send: i64) {
    out.push(Outgoing::valid(e, send));
}

/// Emits `evs` (one pathway, already cut at `end`) and their faults into `out`; the valid
/// message of each event comes first. Nothing is sent after `end`: a fault that would be is
/// dropped (a re-send or invalid copy is sent at `end` instead).
pub(crate) fn emit<R: Rng>(
    rng: &mut R,
    s: &Shares,
    end: i64,
    evs: &[Event],
    out: &mut Vec<Outgoing>,
) {
    for e in evs {
        push(out, e, e.recorded);
        if rng.random::<f64>() < s.duplicate {
            // A re-send (producer retry, or a board replaying a batch) up to three days later.
            let send = (e.recorded + rng.random_range(1..3 * DAY))
                .min(end)
                .max(e.recorded);
            out.push(Outgoing::valid(e, send));
        }
        if rng.random::<f64>() < s.correction {
            if let Some(c) = correct(rng, e, end) {
                push(out, &c, c.recorded);
                // One correction in ten is itself corrected, making an A <- B <- C chain.
                if rng.random::<f64>() < 0.1 {
                    if let Some(c2) = correct(rng, &c, end) {
                        push(out, &c2, c2.recorded);
                    }
                }
            }
        }
        if rng.random::<f64>() < s.retraction {
            retract(rng, e, end, out);
        }
        if rng.random::<f64>() < s.invalid {
            invalid(rng, e, evs, end, out);
        }
    }
}

/// A correction 1–30 days later: the clinical date moved by 1–3 days within the neighbouring
/// events' dates, or, where that lands on the same date, an amended optional field.
pub(crate) fn correct<R: Rng>(rng: &mut R, e: &Event, end: i64) -> Option<Event> {
    let recorded = e.recorded + rng.random_range(DAY..30 * DAY);
    if recorded > end {
        return None;
    }
    let mut c = *e;
    c.id = new_id(rng);
    c.supersedes = Some(e.id);
    c.recorded = recorded;
    let date = e.body.date()?;
    let shift = rng.random_range(1..=3) * if rng.random::<bool>() { 1 } else { -1 };
    let moved = (date + shift)
        .max(e.lo)
        .min(e.hi.min(day_of(recorded)))
        .max(MEASURE_START);
    if moved != date {
        c.body.set_date(moved);
    } else {
        amend(rng, &mut c.body);
    }
    Some(c)
}

fn amend<R: Rng>(rng: &mut R, body: &mut Body) {
    match body {
        Body::Referral { source, .. } => *source = SOURCES[rng.random_range(0..SOURCES.len())].0,
        Body::Assessment {
            outcome: Some(o), ..
        } if *o != "intervention_needed" => {
            *o = if *o == "advice_only" {
                "no_further_action"
            } else {
                "advice_only"
            };
        }
        Body::Appointment { outcome, .. } if *outcome != "attended" => {
            *outcome = if *outcome == "did_not_attend" {
                "cancelled_by_patient"
            } else {
                "did_not_attend"
            };
        }
        Body::Closed {
            reason: Some(r), ..
        } if *r == "withdrawn" => *r = "other",
        _ => {} // a re-keyed record whose visible content did not change
    }
}

fn retraction<R: Rng>(rng: &mut R, target: &Event, recorded: i64) -> Event {
    Event {
        id: new_id(rng),
        referral: target.referral,
        recorded,
        supersedes: None,
        body: Body::Retracted {
            retracts: target.id,
        },
        lo: 0,
        hi: 0,
    }
}

/// Retracts `e` 1–30 days later. A referral is instead entered twice and the second entry
/// retracted (a duplicate referral until then); half the assessments are instead first keyed to
/// a recent pathway of the same board and retracted from there within a fortnight.
fn retract<R: Rng>(rng: &mut R, e: &Event, end: i64, out: &mut Vec<Outgoing>) {
    let mut target = *e;
    let wrong_pathway =
        matches!(e.body, Body::Assessment { .. }) && e.referral.number > 1 && rng.random::<bool>();
    if matches!(e.body, Body::Referral { .. }) || wrong_pathway {
        target.id = new_id(rng);
        target.recorded = e.recorded + rng.random_range(60..3 * DAY);
        if wrong_pathway {
            let back = rng.random_range(1..=e.referral.number.saturating_sub(1).clamp(1, 20));
            target.referral.number -= back;
        }
        if target.recorded > end {
            return;
        }
        push(out, &target, target.recorded);
    }
    let span = if wrong_pathway { 14 * DAY } else { 30 * DAY };
    let recorded = target.recorded + rng.random_range(DAY..span);
    if recorded <= end {
        let r = retraction(rng, &target, recorded);
        push(out, &r, recorded);
    }
}

/// One invalid message about `e`'s pathway, with a fresh `event_id`, for a reason drawn
/// uniformly from [`INVALID_REASONS`]; each carries exactly one defect.
fn invalid<R: Rng>(rng: &mut R, e: &Event, evs: &[Event], end: i64, out: &mut Vec<Outgoing>) {
    let mut bad = *e;
    bad.id = new_id(rng);
    bad.supersedes = None;
    bad.recorded = (e.recorded + rng.random_range(0..3600))
        .min(end)
        .max(e.recorded);
    let reason = INVALID_REASONS[rng.random_range(0..INVALID_REASONS.len())];
    let m = match reason {
        "malformed" => Mutation::None,
        "missing_field" if rng.random::<bool>() => Mutation::OmitReferralId,
        "missing_field" => Mutation::OmitDate,
        "invalid_field" if rng.random::<bool>() => Mutation::BadEnum,
        "invalid_field" => Mutation::BadDate,
        "unknown_event_type" => Mutation::EventType("referral_updated"),
        "unknown_health_board" => Mutation::Board("7Z9"),
        "invalid_nhs_number" => {
            // Re-send the pathway's referral with a mistyped check digit.
            let Some(Body::Referral {
                date,
                source,
                patient: Some(mut p),
            }) = evs
                .iter()
                .map(|x| x.body)
                .find(|b| matches!(b, Body::Referral { .. }))
            else {
                return;
            };
            let valid = match p.id {
                PatientId::Nhs(n) => n,
                PatientId::Pseudo(_) => new_nhs_number(rng),
            };
            p.id = PatientId::Nhs(corrupt_nhs_number(rng, valid));
            bad.body = Body::Referral {
                date,
                source,
                patient: Some(p),
            };
            Mutation::None
        }
        "date_in_future" => Mutation::Date(day_of(bad.recorded) + rng.random_range(10..90)),
        "date_before_measure" => Mutation::Date(MEASURE_START - rng.random_range(1..=365)),
        _ => Mutation::SchemaVersion(2),
    };
    let cut_permille = (reason == "malformed").then(|| rng.random_range(250..750));
    out.push(Outgoing {
        send: bad.recorded,
        event: bad,
        mutation: m,
        cut_permille,
        reason: Some(reason),
    });
}
