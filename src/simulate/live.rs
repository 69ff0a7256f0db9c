//! A live trickle of events for demos: new referrals dated today, and the later steps of
//! pathways this feed started earlier, re-dated to today as they come due.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::calendar::day_of;
use super::event::{Event, RefId};
use super::faults::{self, Outgoing, Shares};
use super::pathway::{plan, Plan};
use super::profile::{new_patient, pick, BOARDS};
use super::{message, SimConfig, SimMessage};

/// Calls between one step of a pathway and the next. A demo runs for minutes, not weeks, so
/// steps are spaced in messages and dated the day they are sent.
const GAP: std::ops::Range<u64> = 20..1000;
/// Above this many open pathways, due steps always go before new referrals.
const MAX_OPEN: usize = 5000;

/// The remaining steps of one pathway, due at call number `due`.
#[derive(Debug)]
struct Open {
    due: u64,
    seq: u64,
    steps: Vec<Event>,
    next: usize,
}

impl PartialEq for Open {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Open {}
impl PartialOrd for Open {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Open {
    // Reversed: the max-heap pops the earliest due first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

/// A live trickle for a demo: each call returns the next message for "now".
///
/// New referrals are dated today; assessments, interventions, appointments and closures of
/// referrals created earlier by this feed come due after 20–1000 calls and are dated today too
/// (`recorded_at` = now). Re-sends and invalid messages follow the config's shares and go out
/// on the next calls; corrections, retractions and late events need days of history, so a
/// live feed has none. Referral ids are `R<board>-L<unix time of the first call>-<n>`, so they
/// never collide with a [`super::history`] or an earlier run.
#[derive(Debug)]
pub struct LiveFeed {
    rng: StdRng,
    boards: Vec<(usize, f64)>,
    shares: Shares,
    series: u64,
    counters: [u32; 7],
    tick: u64,
    seq: u64,
    open: BinaryHeap<Open>,
    ready: VecDeque<Outgoing>,
    scratch: Vec<Event>,
    out: Vec<Outgoing>,
}

impl LiveFeed {
    /// A feed over `cfg.boards`, seeded by `cfg.seed` (other history knobs are not used).
    pub fn new(cfg: &SimConfig) -> Self {
        let mut boards: Vec<(usize, f64)> = cfg
            .board_indices()
            .into_iter()
            .map(|b| (b, BOARDS[b].weight))
            .collect();
        if boards.is_empty() {
            // With no known board there is nothing sensible to simulate; fall back to all of Wales.
            boards = BOARDS
                .iter()
                .enumerate()
                .map(|(i, b)| (i, b.weight))
                .collect();
        }
        LiveFeed {
            rng: StdRng::seed_from_u64(cfg.seed),
            boards,
            shares: cfg.shares(),
            series: 0,
            counters: [0; 7],
            tick: 0,
            seq: 0,
            open: BinaryHeap::new(),
            ready: VecDeque::new(),
            scratch: Vec::new(),
            out: Vec::new(),
        }
    }

    /// The next message, sent at `now` (pass a non-decreasing clock).
    pub fn next_message(&mut self, now: DateTime<Utc>) -> SimMessage {
        let secs = now.timestamp();
        if self.series == 0 {
            self.series = secs.max(1) as u64;
        }
        self.tick += 1;
        if let Some(mut o) = self.ready.pop_front() {
            o.send = o.send.max(secs);
            return message(o, now);
        }
        let due = self.open.peek().is_some_and(|o| o.due <= self.tick);
        let event = if due && (self.open.len() > MAX_OPEN || self.rng.random::<f64>() < 0.6) {
            self.follow_up(secs)
        } else {
            self.new_referral(secs)
        };
        self.out.clear();
        faults::emit(&mut self.rng, &self.shares, secs, &[event], &mut self.out);
        let mut drained = self.out.drain(..);
        let first = drained.next();
        self.ready.extend(drained);
        match first {
            Some(o) => message(o, now),
            // `emit` always yields the event's own message first; keep going if it ever did not.
            None => self.next_message(now),
        }
    }

    fn follow_up(&mut self, secs: i64) -> Event {
        // Only called when the heap has a due entry.
        let Some(mut open) = self.open.pop() else {
            return self.new_referral(secs);
        };
        let mut e = open.steps[open.next];
        e.body.set_date(day_of(secs));
        e.recorded = secs;
        open.next += 1;
        if open.next < open.steps.len() {
            open.due = self.tick + self.rng.random_range(GAP);
            self.open.push(open);
        }
        e
    }

    fn new_referral(&mut self, secs: i64) -> Event {
        let b = pick(&mut self.rng, &self.boards);
        self.counters[b] += 1;
        let r = RefId {
            board: b as u8,
            number: self.counters[b],
            series: self.series,
        };
        let today = day_of(secs);
        let prof = &BOARDS[b];
        let p = Plan {
            p1a: prof.p1a,
            p1b: prof.p1b,
            within_56: prof.within_56,
            late_share: 0.0,
        };
        let patient = new_patient(&mut self.rng, prof, today);
        self.scratch.clear();
        plan(&mut self.rng, &p, r, today, patient, &mut self.scratch);
        let mut referral = self.scratch[0];
        referral.recorded = secs;
        if self.scratch.len() > 1 {
            self.seq += 1;
            let due = self.tick + self.rng.random_range(GAP);
            self.open.push(Open {
                due,
                seq: self.seq,
                steps: self.scratch[1..].to_vec(),
                next: 0,
            });
        }
        referral
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::{TimeZone, Utc};

    use super::super::tests::{cfg, check_valid, date};
    use super::*;

    #[test]
    fn live_feed_is_parseable_and_dated_today() {
        let c = SimConfig {
            boards: vec!["7A2".into(), "7A7".into(), "XXX".into()],
            ..cfg(1, 1, 11)
        };
        let mut feed = LiveFeed::new(&c);
        let start = Utc.with_ymd_and_hms(2025, 3, 10, 9, 0, 0).unwrap();
        let (mut referrals, mut types) = (HashSet::new(), HashSet::new());
        for i in 0..6000 {
            let now = start + chrono::Duration::seconds(i * 5);
            let m = feed.next_message(now);
            assert!(m.board == "7A2" || m.board == "7A7");
            assert_eq!(m.recorded_at, now);
            if m.expected_reason.is_some() {
                continue;
            }
            let v = check_valid(&m);
            let t = v["event_type"].as_str().unwrap().to_string();
            let field = match t.as_str() {
                "referral_received" => "referral_received_date",
                "assessment_undertaken" => "assessment_date",
                "intervention_started" => "start_date",
                "appointment_outcome" => "appointment_date",
                _ => "closed_date",
            };
            assert_eq!(date(&v, field), now.date_naive());
            if t == "referral_received" {
                referrals.insert(m.key.clone());
            } else {
                assert!(
                    referrals.contains(&m.key),
                    "follow-up for unknown referral {}",
                    m.key
                );
            }
            types.insert(t);
        }
        assert_eq!(types.len(), 5, "{types:?}");
        let mut again = LiveFeed::new(&c);
        assert_eq!(
            again.next_message(start),
            LiveFeed::new(&c).next_message(start)
        );
    }
}
