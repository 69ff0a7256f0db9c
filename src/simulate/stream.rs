//! The history feed: month-by-month generation of referral cohorts, released in send order.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::calendar::{day_of, month_index, month_span, start_of, weekday, MEASURE_START};
use super::event::{Event, RefId};
use super::faults::{self, Outgoing, Shares};
use super::pathway::{plan, Plan};
use super::profile::{jitter, new_patient, Patient, BOARDS, SEASONAL, WEEKDAY};
use super::{message, SimConfig, SimMessage};

/// A queued message and its queueing order, which breaks ties between equal send times.
#[derive(Debug)]
struct Queued(Outgoing, u64);

/// Iterator over the whole history in send order. One month of referrals is generated at a
/// time; messages already due (sent before the next month starts) are released, later ones
/// (follow-ups of earlier cohorts, mostly from the last two or three months) wait as compact
/// structs in per-day buckets and are serialised only on release: about 300 MB at 80,000
/// referrals a month. Buckets are sorted as they are released, far cheaper than a heap.
#[derive(Debug)]
pub struct History {
    rng: StdRng,
    end: i64,
    end_dt: DateTime<Utc>,
    boards: Vec<usize>,
    per_month: f64,
    late_share: f64,
    shares: Shares,
    next_month: i32,
    last_month: i32,
    /// Queued messages sent before this instant can be released.
    cutoff: i64,
    counters: [u32; 7],
    /// Recent patients per board, for re-referrals.
    patients: [Vec<Patient>; 7],
    /// Waiting messages by send day: bucket `i` holds day `base + i`.
    buckets: VecDeque<Vec<Queued>>,
    base: i32,
    /// The released, sorted bucket being handed out.
    current: std::vec::IntoIter<Queued>,
    seq: u64,
    events: Vec<Event>,
    out: Vec<Outgoing>,
}

/// The history described by `cfg`.
pub fn history(cfg: &SimConfig) -> History {
    let end = cfg.end.timestamp();
    let last_month = month_index(day_of(end));
    let first = (last_month - cfg.months.min(100_000) as i32 + 1).max(month_index(MEASURE_START));
    History {
        rng: StdRng::seed_from_u64(cfg.seed),
        end,
        end_dt: cfg.end,
        boards: cfg.board_indices(),
        per_month: f64::from(cfg.referrals_per_month),
        late_share: super::probability(cfg.late_share),
        shares: cfg.shares(),
        next_month: first,
        last_month,
        cutoff: i64::MIN,
        counters: [0; 7],
        patients: Default::default(),
        buckets: VecDeque::new(),
        base: 0,
        current: Vec::new().into_iter(),
        seq: 0,
        events: Vec::new(),
        out: Vec::new(),
    }
}

/// Share of referrals that re-refer a recent patient of the same board.
const REREFERRAL: f64 = 0.12;
/// Recent patients remembered per board.
const PATIENT_MEMORY: usize = 4096;

impl History {
    fn patient(&mut self, b: usize, day: i32) -> Patient {
        let known = &mut self.patients[b];
        if !known.is_empty() && self.rng.random::<f64>() < REREFERRAL {
            return known[self.rng.random_range(0..known.len())];
        }
        let p = new_patient(&mut self.rng, &BOARDS[b], day);
        if known.len() < PATIENT_MEMORY {
            known.push(p);
        } else {
            known[self.rng.random_range(0..PATIENT_MEMORY)] = p;
        }
        p
    }

    /// Generates every referral dated in month `m` and queues its pathway's messages.
    fn generate_month(&mut self, m: i32) {
        let (first, len) = month_span(m);
        let mut cumulative = [0.0f64; 31];
        let mut total = 0.0;
        for (i, c) in cumulative.iter_mut().enumerate().take(len as usize) {
            total += WEEKDAY[weekday(first + i as i32) as usize];
            *c = total;
        }
        let season = SEASONAL[m.rem_euclid(12) as usize];
        for bi in 0..self.boards.len() {
            let b = self.boards[bi];
            let prof = &BOARDS[b];
            let noise = 0.96 + 0.08 * self.rng.random::<f64>();
            let n = (self.per_month * prof.weight * season * noise).round() as u32;
            let p = Plan {
                p1a: jitter(&mut self.rng, prof.p1a),
                p1b: jitter(&mut self.rng, prof.p1b),
                within_56: prof.within_56,
                late_share: self.late_share,
            };
            let mut per_day = [0u32; 31];
            for _ in 0..n {
                let x = self.rng.random::<f64>() * total;
                let d = cumulative[..len as usize].partition_point(|c| *c <= x);
                per_day[d.min(len as usize - 1)] += 1;
            }
            for (i, &k) in per_day.iter().enumerate().take(len as usize) {
                let day = first + i as i32;
                if start_of(day) > self.end {
                    break;
                }
                for _ in 0..k {
                    self.referral(b, day, &p);
                }
            }
        }
        self.cutoff = start_of(first + len);
    }

    fn referral(&mut self, b: usize, day: i32, p: &Plan) {
        self.counters[b] += 1;
        let r = RefId {
            board: b as u8,
            number: self.counters[b],
            series: 0,
        };
        let patient = self.patient(b, day);
        self.events.clear();
        plan(&mut self.rng, p, r, day, patient, &mut self.events);
        // Events not yet recorded at `end` do not exist yet.
        let end = self.end;
        self.events.retain(|e| e.recorded <= end);
        faults::emit(
            &mut self.rng,
            &self.shares,
            self.end,
            &self.events,
            &mut self.out,
        );
        // Taken out and put back so `enqueue` can borrow `self` while the buffer is reused.
        let mut out = std::mem::take(&mut self.out);
        for o in out.drain(..) {
            self.enqueue(o);
        }
        self.out = out;
    }

    fn enqueue(&mut self, o: Outgoing) {
        let day = day_of(o.send);
        if self.buckets.is_empty() {
            self.base = day;
        }
        // Before the first release, boards generated later can reach back to earlier days.
        while day < self.base {
            self.buckets.push_front(Vec::new());
            self.base -= 1;
        }
        let i = (day - self.base) as usize;
        if i >= self.buckets.len() {
            self.buckets.resize_with(i + 1, Vec::new);
        }
        self.buckets[i].push(Queued(o, self.seq));
        self.seq += 1;
    }
}

impl Iterator for History {
    type Item = SimMessage;

    fn next(&mut self) -> Option<SimMessage> {
        loop {
            if let Some(q) = self.current.next() {
                return Some(message(q.0, self.end_dt));
            }
            // Every future cohort sends at or after `cutoff` (a midnight), so whole days before
            // it are final and can be sorted and released.
            if !self.buckets.is_empty() && start_of(self.base) < self.cutoff {
                let mut day = self.buckets.pop_front().unwrap_or_default();
                self.base += 1;
                day.sort_unstable_by_key(|q| (q.0.send, q.1));
                self.current = day.into_iter();
            } else if self.next_month <= self.last_month {
                let m = self.next_month;
                self.next_month += 1;
                self.generate_month(m);
            } else if self.cutoff != i64::MAX {
                self.cutoff = i64::MAX;
            } else {
                return None;
            }
        }
    }
}
