//! Deterministic, realistic simulated feed of LPMHSS events (SPEC section 3): history and live.
//!
//! Pure: no I/O, no threads. The same [`SimConfig`] (including `seed` and `end`) reproduces the
//! same messages byte for byte; event ids are v4 UUIDs drawn from the seeded RNG.
//!
//! # Realism choices
//! - **Volumes.** `referrals_per_month` is the Wales total, split by rough population share
//!   (7A1 0.22, 7A2 0.12, 7A3 0.12, 7A4 0.16, 7A5 0.14, 7A6 0.19, 7A7 0.05; a board left out
//!   of `boards` is simply not simulated), times a seasonal factor (August and December dips,
//!   averaging 1 over a year) and ±4% noise. Referral dates spread over the month with
//!   weekends at a fifth of a weekday. About 12% of referrals re-refer an earlier patient.
//! - **Months.** `months` calendar months ending with the month of `end` (which is partial:
//!   nothing is dated or recorded after `end`); months before 2012-01 are skipped.
//! - **Waits.** Each board has its own Part 1a / 1b performance (7A1 ~55% / 70% within 28 days,
//!   the others 72–93% / 80–95%), wobbling ±6 points month to month. A wait is within 28 days
//!   (skewed towards 28, as services book to target) or else 29–56 or a long tail past 56.
//!   12% of assessments and 8% of interventions are first delayed by a DNA or patient
//!   cancellation (`appointment_outcome`), which lengthens the official wait.
//! - **Pathways.** 85% are assessed (outcome `intervention_needed` 55%, `referred_on` 15%,
//!   `advice_only` 18%, `no_further_action` 12%); 80% of those needing one start an
//!   intervention; most pathways are closed (`completed`, `withdrawn`, `rejected`,
//!   `discharged_after_dna`, ...), and a stale few by a validation exercise after 6–18 months.
//!   Events dated after `end` are not emitted, so the last weeks have people still waiting.
//! - **Patients.** 80% NHS number (valid modulus 11), else a board `pseudo_id`; ~15% under 18,
//!   ~2% no date of birth; sex, NHS Wales ethnic category, Welsh speakers ~10% (more in 7A1 and
//!   7A2), WIMD quintile skewed to deprivation, and a W06 local authority of the board.
//! - **Recording.** `recorded_at` is 08:00–18:00 UTC on the clinical date (75%) or the next day,
//!   and never before the pathway's previous event, except late events (5–60 days), which
//!   can arrive after later events of their pathway (a late referral makes a temporary orphan).
//! - **Faults** (shares are per generated event): verbatim re-sends up to 3 days later,
//!   corrections 1–30 days later (date moved within its neighbours, sometimes a chain of two),
//!   retractions (of the event; for a referral, of a second duplicate entry; for half the
//!   assessments, of a copy keyed to a recent pathway of the same board), and invalid extra
//!   messages evenly over nine reason codes (never `board_mismatch`).
//!
//! Messages come out in order of send time (the payload's `recorded_at`, later for re-sends),
//! so a feed replays as a board would have sent it.

mod calendar;
mod event;
mod faults;
mod json;
mod live;
mod pathway;
mod profile;
mod stream;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};

use faults::{Outgoing, Shares};
use profile::{board_index, BOARDS};

pub use live::LiveFeed;
pub use stream::{history, History};

/// Knobs for a simulated feed.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// ODS codes to simulate (default all seven, `7A1`..`7A7`); unknown codes are ignored.
    pub boards: Vec<String>,
    /// Calendar months of history ending with the month of `end` (default 12); months
    /// before 2012-01, when the measure's data starts, are skipped.
    pub months: u32,
    /// The simulated "now": nothing is dated or recorded after it.
    pub end: DateTime<Utc>,
    /// RNG seed; the same config reproduces the same bytes.
    pub seed: u64,
    /// Wales total referrals a month (default 6500), split across boards by population.
    pub referrals_per_month: u32,
    /// Share of messages re-sent verbatim, same `event_id` (default 0.01).
    pub duplicate_share: f64,
    /// Share of events later corrected by a new event with `supersedes` (default 0.01).
    pub correction_share: f64,
    /// Share of events later retracted with `event_retracted` (default 0.005).
    pub retraction_share: f64,
    /// Share of events recorded 5–60 days after their clinical date (default 0.02).
    pub late_share: f64,
    /// Share of extra, deliberately invalid messages (default 0.005).
    pub invalid_share: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            boards: BOARDS.iter().map(|b| b.code.to_string()).collect(),
            months: 12,
            end: Utc::now(),
            seed: 1,
            referrals_per_month: 6500,
            duplicate_share: 0.01,
            correction_share: 0.01,
            retraction_share: 0.005,
            late_share: 0.02,
            invalid_share: 0.005,
        }
    }
}

impl SimConfig {
    fn board_indices(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .boards
            .iter()
            .filter_map(|b| board_index(b.trim()))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    fn shares(&self) -> Shares {
        Shares {
            duplicate: probability(self.duplicate_share),
            correction: probability(self.correction_share),
            retraction: probability(self.retraction_share),
            invalid: probability(self.invalid_share),
        }
    }
}

/// A share as a usable probability: clamped to 0–1, and 0 for NaN or infinities.
fn probability(x: f64) -> f64 {
    if x.is_finite() {
        x.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// One message to publish: to topic `lpmhss.events.<board>` with key `key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimMessage {
    /// ODS code of the topic's board (even when the payload's `provider_lhb` is deliberately bad).
    pub board: String,
    /// Message key: the pathway's `referral_id`.
    pub key: String,
    /// The JSON event (or, for `malformed`, a truncated one).
    pub payload: Vec<u8>,
    /// When the message is sent: the payload's `recorded_at`, except a verbatim re-send,
    /// which goes out later with the original payload.
    pub recorded_at: DateTime<Utc>,
    /// For a deliberately invalid message, the dead-letter reason it should get; else `None`.
    pub expected_reason: Option<&'static str>,
}

fn message(o: Outgoing, fallback: DateTime<Utc>) -> SimMessage {
    SimMessage {
        board: o.referral().board_code().to_string(),
        key: o.referral().key(),
        payload: o.payload(),
        recorded_at: DateTime::from_timestamp(o.send, 0).unwrap_or(fallback),
        expected_reason: o.reason,
    }
}
