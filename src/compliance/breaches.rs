//! The per-pathway breach list: who is about to pass (or has passed) 28 days without being seen.

use super::columns::{opt_ints, strings};
use super::rules;
use super::{ComplianceError, Engine};
use chrono::NaiveDate;

/// One waiting pathway near or past its breach date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreachRow {
    /// Board.
    pub provider_lhb: String,
    /// The board's (pseudonymous) referral id.
    pub referral_id: String,
    /// `assessment` or `intervention`.
    pub stage: String,
    /// Clock start (referral or assessment date) as YYYY-MM-DD.
    pub clock_start: String,
    /// Days waited on the snapshot date.
    pub days_waited: i64,
    /// First day the wait exceeds 28 days.
    pub breach_date: String,
    /// Days until then (0 or negative: already breached).
    pub days_to_breach: i64,
}

/// Column names of the breach list.
pub const BREACH_HEADER: [&str; 7] = [
    "provider_lhb",
    "referral_id",
    "stage",
    "clock_start",
    "days_waited",
    "breach_date",
    "days_to_breach",
];

impl Engine {
    /// Pathways waiting on `on` whose breach date is at most `within` days away, optionally for
    /// one board, most urgent first.
    pub async fn breaches(
        &self,
        on: NaiveDate,
        within: u32,
        board: Option<&str>,
    ) -> Result<Vec<BreachRow>, ComplianceError> {
        let date = on.format("%Y-%m-%d").to_string();
        let within = within.to_string();
        // The board code is checked against the reference list by the caller.
        let predicate = board.map_or("TRUE".to_string(), |b| format!("provider_lhb = '{b}'"));
        let (_, batches) = self
            .run(
                rules::BREACHES,
                &[
                    ("on_date", &date),
                    ("within", &within),
                    ("board_predicate", &predicate),
                ],
            )
            .await?;
        let mut rows = Vec::new();
        for b in &batches {
            let (l, r, s, c, bd) = (
                strings(b, "provider_lhb")?,
                strings(b, "referral_id")?,
                strings(b, "stage")?,
                strings(b, "clock_start")?,
                strings(b, "breach_date")?,
            );
            let (w, d) = (opt_ints(b, "days_waited")?, opt_ints(b, "days_to_breach")?);
            for i in 0..b.num_rows() {
                rows.push(BreachRow {
                    provider_lhb: l[i].clone(),
                    referral_id: r[i].clone(),
                    stage: s[i].clone(),
                    clock_start: c[i].clone(),
                    days_waited: w[i].unwrap_or(0),
                    breach_date: bd[i].clone(),
                    days_to_breach: d[i].unwrap_or(0),
                });
            }
        }
        Ok(rows)
    }
}
