//! Integration tests: one binary, modules by concern (see each module's `//!`).

mod support;

mod analytics;
mod bucketed;
mod cli_errors;
mod demo;
mod differential;
mod files;
mod fuzz;
mod incremental;
mod invariants;
mod kafka;
mod monitoring;
mod rules;
mod validation;

/// The exact CSV header of SPEC 5.
pub const OFFICIAL_HEADER: &str = "period,provider_lhb,age_group,referrals_received,assessments_within_28,assessments_29_to_56,assessments_over_56,assessments_total,assessments_pct_within_28,interventions_within_28,interventions_29_to_56,interventions_over_56,interventions_total,interventions_pct_within_28";
