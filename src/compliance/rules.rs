//! The SQL rule registry: every rule is a file under `sql/`, embedded at build time and
//! rendered with named parameters. SQL is data; this file only knows names.

/// One SQL rule.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// File stem under `sql/`, also the view or table name it defines.
    pub name: &'static str,
    /// The SQL text with `{parameter}` placeholders.
    pub sql: &'static str,
}

macro_rules! rule {
    ($name:literal) => {
        Rule {
            name: $name,
            sql: include_str!(concat!("../../sql/", $name, ".sql")),
        }
    };
}

/// Landed events visible at the snapshot time.
pub const SCOPED_EVENTS: Rule = rule!("scoped_events");
/// SPEC 4 rule 1's input: every id in scope (as a hash), its copies, whether it controls.
pub const ID_HASHES: Rule = rule!("id_hashes");
/// SPEC 4 rule 1: the ids (as hashes) whose events rule 1 can change.
pub const SUSPECT_IDS: Rule = rule!("suspect_ids");
/// SPEC 4 rule 1: every copy of those ids.
pub const SUSPECT_EVENTS: Rule = rule!("suspect_events");
/// SPEC 4 rule 1, deduplication: the ids landed more than once.
pub const REPEATED_EVENT_IDS: Rule = rule!("repeated_event_ids");
/// SPEC 4 rule 1, deduplication: every copy of those ids with its landing key.
pub const REPEATED_COPIES: Rule = rule!("repeated_copies");
/// SPEC 4 rule 1, deduplication.
pub const DEDUPED_EVENTS: Rule = rule!("deduped_events");
/// SPEC 4 rule 1, corrections and retractions joined to their targets.
pub const CONTROL_LINKS: Rule = rule!("control_links");
/// SPEC 4 rule 1, corrections and retractions.
pub const EFFECTIVE_EVENTS: Rule = rule!("effective_events");
/// SPEC 4 rule 2's candidates: the effective referral events.
pub const REFERRAL_CANDIDATES: Rule = rule!("referral_candidates");
/// SPEC 4 rules 2–3.
pub const PATHWAY_REFERRALS: Rule = rule!("pathway_referrals");
/// The events after the referral, keyed by pathway.
pub const PATHWAY_EVENTS: Rule = rule!("pathway_events");
/// SPEC 4 rule 4: each pathway's counted assessment date, flags and outcome span.
pub const PATHWAY_ASSESSMENTS: Rule = rule!("pathway_assessments");
/// SPEC 4 rule 5: each pathway's counted intervention date and flags.
pub const PATHWAY_INTERVENTIONS: Rule = rule!("pathway_interventions");
/// SPEC 4 rules 4–7.
pub const PATHWAYS: Rule = rule!("pathways");
/// Default report range.
pub const ACTIVITY_RANGE: Rule = rule!("activity_range");
/// SPEC 5.
pub const MONTHLY: Rule = rule!("monthly");
/// SPEC 6.4.
pub const DATA_QUALITY: Rule = rule!("data_quality");
/// SPEC 6.1.
pub const WAITING_LIST: Rule = rule!("waiting_list");
/// SPEC 6.3.
pub const EQUITY: Rule = rule!("equity");
/// Dead letters by board, month and reason (issue 6 data-quality feedback).
pub const DEAD_LETTER_SUMMARY: Rule = rule!("dead_letter_summary");

/// Per-pathway breach list (issue 6).
pub const BREACHES: Rule = rule!("breaches");

/// Every rule, for documentation and tests.
pub const ALL: [Rule; 22] = [
    BREACHES,
    ID_HASHES,
    SUSPECT_IDS,
    SUSPECT_EVENTS,
    REPEATED_EVENT_IDS,
    REPEATED_COPIES,
    DEDUPED_EVENTS,
    CONTROL_LINKS,
    SCOPED_EVENTS,
    EFFECTIVE_EVENTS,
    REFERRAL_CANDIDATES,
    PATHWAY_REFERRALS,
    PATHWAY_EVENTS,
    PATHWAY_ASSESSMENTS,
    PATHWAY_INTERVENTIONS,
    PATHWAYS,
    ACTIVITY_RANGE,
    MONTHLY,
    DATA_QUALITY,
    WAITING_LIST,
    EQUITY,
    DEAD_LETTER_SUMMARY,
];

/// The derivation plan (`sql/derivation.stages`): stage names in order, each with the tables
/// released after it.
const DERIVATION_STAGES: &str = include_str!("../../sql/derivation.stages");

/// One stage of the derivation plan.
#[derive(Debug, Clone)]
pub struct Stage {
    /// The rule evaluated and held in memory under its own name.
    pub rule: Rule,
    /// Tables no longer needed once this stage exists.
    pub drops: Vec<&'static str>,
    /// Whether the stage's `h` column becomes the set tested by `lpmhss_in_<name>(x)`.
    pub as_set: bool,
    /// Whether the stage is a view, evaluated inside each later stage that reads it instead of
    /// being held in memory: for a stage that is cheap to evaluate and read by stages that each
    /// keep only a part of its rows and columns, holding it would copy every row once more.
    pub as_view: bool,
}

/// The rule named `name`.
pub fn by_name(name: &str) -> Option<Rule> {
    ALL.into_iter().find(|r| r.name == name)
}

/// The derivation stages in order. The plan is embedded at build time and checked by a unit
/// test, so a malformed line is a build-time mistake, not a runtime condition.
pub fn derivation() -> Vec<Stage> {
    DERIVATION_STAGES
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next().unwrap_or_default();
            let rule = by_name(name)
                .unwrap_or_else(|| panic!("derivation stage {name} has no sql/{name}.sql"));
            let (mut as_set, mut as_view, mut drops) = (false, false, Vec::new());
            while let Some(word) = words.next() {
                match word {
                    "set" => as_set = true,
                    "view" => as_view = true,
                    "drop" => drops.extend(words.by_ref()),
                    other => panic!("derivation stage {name}: unexpected {other}"),
                }
            }
            // A view is never collected, so there would be no rows to make a set of.
            assert!(
                !(as_set && as_view),
                "derivation stage {name}: a view cannot be a set"
            );
            Stage {
                rule,
                drops,
                as_set,
                as_view,
            }
        })
        .collect()
}

impl Rule {
    /// The SQL with each `{name}` replaced by its value. Values are produced by this crate
    /// (dates, fixed identifiers), never by users, so plain substitution is safe.
    pub fn render(&self, params: &[(&str, &str)]) -> String {
        params.iter().fold(self.sql.to_string(), |sql, (k, v)| {
            sql.replace(&format!("{{{k}}}"), v)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derivation_plan_names_existing_rules_and_ends_in_pathways() {
        let stages = derivation();
        assert_eq!(stages.last().map(|s| s.rule.name), Some("pathways"));
        let mut seen: Vec<&str> = vec!["scoped_events"];
        for stage in &stages {
            for dropped in &stage.drops {
                assert!(
                    seen.contains(dropped),
                    "{} drops unknown {dropped}",
                    stage.rule.name
                );
            }
            seen.push(stage.rule.name);
        }
    }

    /// Whether `sql` names table `name` as a whole word.
    fn reads(sql: &str, name: &str) -> bool {
        sql.match_indices(name).any(|(at, _)| {
            let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
            let before = sql[..at].chars().next_back().is_none_or(|c| !word(c));
            let after = sql[at + name.len()..]
                .chars()
                .next()
                .is_none_or(|c| !word(c));
            before && after
        })
    }

    #[test]
    fn a_view_stage_s_inputs_stay_until_its_last_reader_has_run() {
        let stages = derivation();
        let mut earlier: Vec<&str> = vec!["scoped_events"];
        let mut views = 0;
        for (at, stage) in stages.iter().enumerate() {
            if stage.as_view {
                views += 1;
                let inputs: Vec<&str> = earlier
                    .iter()
                    .copied()
                    .filter(|t| reads(stage.rule.sql, t))
                    .collect();
                let last_reader = stages
                    .iter()
                    .rposition(|s| reads(s.rule.sql, stage.rule.name))
                    .unwrap_or_else(|| panic!("no stage reads view {}", stage.rule.name));
                for s in &stages[at..last_reader] {
                    for dropped in &s.drops {
                        assert!(
                            !inputs.contains(dropped),
                            "{} drops {dropped}, which view {} reads, before {} runs",
                            s.rule.name,
                            stage.rule.name,
                            stages[last_reader].rule.name
                        );
                    }
                }
            }
            earlier.push(stage.rule.name);
        }
        assert!(views > 0, "the plan has no view stage to check");
    }

    #[test]
    fn a_set_test_names_an_earlier_stage_kept_as_a_set() {
        let mut sets: Vec<&str> = Vec::new();
        for stage in derivation() {
            for (at, _) in stage.rule.sql.match_indices("lpmhss_in_") {
                let rest = &stage.rule.sql[at + "lpmhss_in_".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                assert!(
                    sets.contains(&name.as_str()),
                    "{} tests lpmhss_in_{name}, which no earlier `set` stage defines",
                    stage.rule.name
                );
            }
            if stage.as_set {
                sets.push(stage.rule.name);
            }
        }
        assert!(!sets.is_empty(), "the plan keeps no stage as a set");
    }

    #[test]
    fn every_rule_starts_with_a_header_comment() {
        for rule in ALL {
            assert!(
                rule.sql.starts_with("-- "),
                "{} lacks its header",
                rule.name
            );
        }
    }
}
