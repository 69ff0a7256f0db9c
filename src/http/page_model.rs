//! Builds the status page's data from the latest computation: the last complete and current
//! months, a twelve-month trend, the waiting list and feed freshness.

use super::status_page::{
    AgeFigures, BoardStatus, Lang, Measure, StatusPage, TrendPoint, TrendSeries, WaitingStatus,
};
use crate::compliance::{Computation, Month, MonthlyRow, StageCounts};
use crate::event::reference::{self, AGE_GROUPS, WALES};
use chrono::{DateTime, Utc};
use std::time::Duration;

fn measure(s: &StageCounts) -> Measure {
    Measure {
        within_28: s.within_28,
        total: s.total,
        pct: (s.total > 0).then(|| s.pct_text()),
    }
}

fn pct(s: &StageCounts) -> Option<f64> {
    s.pct_within_28_tenths.map(|t| t as f64 / 10.0)
}

fn name_of(code: &str, lang: Lang) -> String {
    match (reference::board(code), lang) {
        (Some(b), Lang::En) => b.name.clone(),
        (Some(b), Lang::Cy) => b.name_cy.clone(),
        (None, Lang::En) => "Wales".into(),
        (None, Lang::Cy) => "Cymru".into(),
    }
}

fn figures(rows: &[&MonthlyRow], code: &str, period: &str) -> Vec<AgeFigures> {
    AGE_GROUPS
        .iter()
        .map(|age| {
            let row = rows
                .iter()
                .find(|r| r.provider_lhb == code && r.period == period && r.age_group == *age);
            let empty = StageCounts::default();
            AgeFigures {
                age_group: age.to_string(),
                assessment: measure(row.map_or(&empty, |r| &r.assessments)),
                intervention: measure(row.map_or(&empty, |r| &r.interventions)),
            }
        })
        .collect()
}

/// The page for `c`, rendered at `now` in `lang`.
pub fn status_page(
    c: &Computation,
    now: DateTime<Utc>,
    lang: Lang,
    target_ratio: f64,
    silence: Duration,
) -> StatusPage {
    let current = Month::of(c.today);
    let last = current.previous();
    let rows: Vec<&MonthlyRow> = c.monthly.iter().collect();
    let codes = reference::report_lhbs();
    let boards = codes
        .iter()
        .map(|code| {
            let last_event = if *code == WALES {
                c.last_landed.values().max().copied()
            } else {
                c.last_landed.get(*code).copied()
            };
            let age = last_event.map(|t| (now - t).num_seconds().max(0) as f64);
            BoardStatus {
                code: code.to_string(),
                name: name_of(code, lang),
                last_complete: figures(&rows, code, &last.to_string()),
                current: figures(&rows, code, &current.to_string()),
                last_event_at: last_event.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
                feed_age_seconds: age,
                feed_silent: age.is_none_or(|a| a > silence.as_secs_f64()),
            }
        })
        .collect();
    let first_trend = {
        let mut m = current;
        for _ in 0..11 {
            m = m.previous();
        }
        m
    };
    let months: Vec<String> = first_trend
        .through(current)
        .iter()
        .map(Month::to_string)
        .collect();
    // WALES first (drawn bold), then the boards.
    let trend = std::iter::once(&WALES)
        .chain(codes.iter().filter(|c| **c != WALES))
        .map(|code| TrendSeries {
            code: code.to_string(),
            name: name_of(code, lang),
            points: months
                .iter()
                .map(|p| {
                    let row = rows.iter().find(|r| {
                        r.provider_lhb == *code && &r.period == p && r.age_group == "all"
                    });
                    TrendPoint {
                        period: p.clone(),
                        assessment_pct: row.and_then(|r| pct(&r.assessments)),
                        intervention_pct: row.and_then(|r| pct(&r.interventions)),
                    }
                })
                .collect(),
        })
        .collect();
    let waiting = codes
        .iter()
        .map(|code| {
            let stage = |s: &str| {
                c.waiting
                    .iter()
                    .find(|w| w.provider_lhb == *code && w.age_group == "all" && w.stage == s)
            };
            let (a, i) = (stage("assessment"), stage("intervention"));
            WaitingStatus {
                code: code.to_string(),
                name: name_of(code, lang),
                assessment_waiting: a.map_or(0, |w| w.total),
                assessment_over_28: a.map_or(0, |w| w.from_29_to_56 + w.over_56),
                assessment_breach_within_7_days: a.map_or(0, |w| w.will_breach_within_7_days),
                intervention_waiting: i.map_or(0, |w| w.total),
                intervention_over_28: i.map_or(0, |w| w.from_29_to_56 + w.over_56),
                intervention_breach_within_7_days: i.map_or(0, |w| w.will_breach_within_7_days),
            }
        })
        .collect();
    StatusPage {
        lang,
        generated_at: now.format("%Y-%m-%d %H:%M UTC").to_string(),
        target_pct: target_ratio * 100.0,
        last_complete_month: last.to_string(),
        current_month: current.to_string(),
        boards,
        trend,
        waiting_on: c.today.format("%Y-%m-%d").to_string(),
        waiting,
    }
}
