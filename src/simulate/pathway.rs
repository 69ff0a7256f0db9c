//! One referral's pathway: the planner that lays out a realistic sequence of clinical events,
//! their dates and recorded times.

use rand::Rng;

use super::calendar::{start_of, DAY, MEASURE_START};
use super::event::{new_id, Body, Event, RefId};
use super::profile::{pick, sample_wait, Patient, SOURCES};

/// The month's parameters for one board.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    pub p1a: f64,
    pub p1b: f64,
    pub within_56: f64,
    pub late_share: f64,
}

#[rustfmt::skip]
const ASSESS_OUTCOMES: &[(&str, f64)] =
    &[("intervention_needed", 0.55), ("referred_on", 0.15), ("advice_only", 0.18),
      ("no_further_action", 0.12)];
#[rustfmt::skip]
const INTERVENTIONS: &[(&str, f64)] = &[
    ("counselling", 0.25), ("cbt", 0.20), ("stress_management", 0.10), ("solution_focused", 0.12),
    ("bibliotherapy", 0.05), ("guided_self_help", 0.12), ("group", 0.10), ("other", 0.06),
];
const DNA: &str = "did_not_attend";
const CANCELLED: &str = "cancelled_by_patient";

fn appt(r: RefId, stage: &'static str, date: i32, outcome: &'static str) -> Event {
    Event::new(
        r,
        Body::Appointment {
            stage,
            date,
            outcome,
        },
    )
}

fn closed(r: RefId, date: i32, reason: &'static str) -> Event {
    Event::new(
        r,
        Body::Closed {
            date,
            reason: Some(reason),
        },
    )
}

/// Appends one pathway's events to `out` in clinical-date order; `recorded_at` is
/// non-decreasing except for late events. Nothing is cut at the simulation's end; the caller
/// does that.
pub(crate) fn plan<R: Rng>(
    rng: &mut R,
    p: &Plan,
    r: RefId,
    day: i32,
    patient: Patient,
    out: &mut Vec<Event>,
) {
    let first = out.len();
    let source = pick(rng, SOURCES);
    out.push(Event::new(
        r,
        Body::Referral {
            date: day,
            source,
            patient: Some(patient),
        },
    ));
    if rng.random::<f64>() < 0.85 {
        assessed(rng, p, r, day, out);
    } else {
        not_assessed(rng, r, day, out);
    }
    finish(rng, p, &mut out[first..]);
}

/// The ~15% never assessed: withdrawn, rejected, discharged after DNAs, moved; stale ones are
/// closed by a later waiting-list validation exercise, so the list does not grow forever.
fn not_assessed<R: Rng>(rng: &mut R, r: RefId, day: i32, out: &mut Vec<Event>) {
    let u = rng.random::<f64>();
    if u < 0.30 {
        out.push(closed(r, day + rng.random_range(3..60), "withdrawn"));
    } else if u < 0.50 {
        out.push(closed(r, day + rng.random_range(0..10), "rejected"));
    } else if u < 0.75 {
        let d1 = day + rng.random_range(7..35);
        let d2 = d1 + rng.random_range(7..28);
        out.push(appt(r, "assessment", d1, DNA));
        out.push(appt(r, "assessment", d2, DNA));
        out.push(closed(
            r,
            d2 + rng.random_range(1..14),
            "discharged_after_dna",
        ));
    } else if u < 0.87 {
        let reason = pick(
            rng,
            &[("moved_away", 0.5), ("transferred", 0.45), ("died", 0.05)],
        );
        out.push(closed(r, day + rng.random_range(5..90), reason));
    } else if u < 0.97 {
        let d = day + rng.random_range(3..30);
        out.push(appt(r, "assessment", d, CANCELLED));
        out.push(closed(r, d + rng.random_range(0..14), "withdrawn"));
    } else {
        out.push(closed(r, day + rng.random_range(180..540), "other"));
    }
}

/// One stage's clock: which appointments it books, and its performance.
struct Stage {
    name: &'static str,
    p_within: f64,
    within_56: f64,
    /// Chance of a DNA or patient cancellation before the clock stops.
    p_delay: f64,
}

/// Waits for a clock stop after `from`: a patient-initiated delay (DNA or cancellation) with
/// probability `p_delay` pushes the real appointment back, as happens in services.
fn wait_with_delays<R: Rng>(
    rng: &mut R,
    r: RefId,
    st: &Stage,
    from: i32,
    out: &mut Vec<Event>,
) -> i32 {
    let mut wait = sample_wait(rng, st.p_within, st.within_56);
    if rng.random::<f64>() < st.p_delay {
        let d = from + rng.random_range(0..=wait.min(27));
        let outcome = if rng.random::<f64>() < 0.6 {
            DNA
        } else {
            CANCELLED
        };
        out.push(appt(r, st.name, d, outcome));
        wait = d - from + rng.random_range(7..=35);
    }
    let stop = from + wait;
    // About half the services also report the attended appointment itself.
    if rng.random::<f64>() < 0.5 {
        out.push(appt(r, st.name, stop, "attended"));
    }
    stop
}

fn assessed<R: Rng>(rng: &mut R, p: &Plan, r: RefId, day: i32, out: &mut Vec<Event>) {
    let stage = Stage {
        name: "assessment",
        p_within: p.p1a,
        within_56: p.within_56,
        p_delay: 0.12,
    };
    let a = wait_with_delays(rng, r, &stage, day, out);
    let outcome = pick(rng, ASSESS_OUTCOMES);
    out.push(Event::new(
        r,
        Body::Assessment {
            date: a,
            outcome: Some(outcome),
        },
    ));
    if outcome != "intervention_needed" {
        if rng.random::<f64>() < 0.8 {
            let reason = if outcome == "referred_on" {
                "transferred"
            } else {
                "completed"
            };
            out.push(closed(r, a + rng.random_range(0..21), reason));
        }
        return;
    }
    let u = rng.random::<f64>();
    if u < 0.8 {
        let stage = Stage {
            name: "intervention",
            p_within: p.p1b,
            within_56: p.within_56,
            p_delay: 0.08,
        };
        let s = wait_with_delays(rng, r, &stage, a, out);
        let kind = pick(rng, INTERVENTIONS);
        out.push(Event::new(
            r,
            Body::Intervention {
                date: s,
                kind: Some(kind),
            },
        ));
        let v = rng.random::<f64>();
        if v < 0.75 {
            out.push(closed(r, s + rng.random_range(28..140), "completed"));
        } else if v < 0.87 {
            let d = s + rng.random_range(7..60);
            out.push(appt(r, "intervention", d, DNA));
            out.push(closed(
                r,
                d + rng.random_range(7..21),
                "discharged_after_dna",
            ));
        } else if v < 0.92 {
            out.push(closed(r, s + rng.random_range(7..90), "withdrawn"));
        }
    } else if u < 0.89 {
        out.push(closed(r, a + rng.random_range(7..90), "withdrawn"));
    } else if u < 0.95 {
        let d = a + rng.random_range(7..40);
        out.push(appt(r, "intervention", d, DNA));
        out.push(closed(
            r,
            d + rng.random_range(7..21),
            "discharged_after_dna",
        ));
    } else if u < 0.98 {
        out.push(closed(r, a + rng.random_range(7..120), "moved_away"));
    } else {
        out.push(closed(r, a + rng.random_range(180..540), "other"));
    }
}

/// Assigns ids, correction bounds and `recorded_at`: 8:00–18:00 the same day for 75%, the
/// next day otherwise (so within 48 hours), never before the pathway's previous on-time event
/// (a source system records in order); or 5–60 days late with probability `late_share`.
fn finish<R: Rng>(rng: &mut R, p: &Plan, evs: &mut [Event]) {
    let n = evs.len();
    let mut prev = i64::MIN;
    for i in 0..n {
        let date = evs[i].body.date().unwrap_or(MEASURE_START);
        let before = if i == 0 {
            date - 7
        } else {
            evs[i - 1].body.date().unwrap_or(date)
        };
        let after = evs
            .get(i + 1)
            .and_then(|e| e.body.date())
            .unwrap_or(date + 7);
        let e = &mut evs[i];
        e.lo = before.max(MEASURE_START).min(date);
        e.hi = after.max(date);
        e.id = new_id(rng);
        if rng.random::<f64>() < p.late_share {
            // Keyed in weeks later (a backlog): it neither waits for nor delays the others, so
            // a late referral arrives after its assessment, as the pipeline must cope with.
            e.recorded = start_of(date) + rng.random_range(5..=60) * DAY + rng.random_range(0..DAY);
            continue;
        }
        let lag = if rng.random::<f64>() < 0.75 {
            8 * 3600 + rng.random_range(0..10 * 3600)
        } else {
            DAY + rng.random_range(0..DAY)
        };
        e.recorded = (start_of(date) + lag).max(prev.saturating_add(rng.random_range(1..=600)));
        prev = e.recorded;
    }
}
