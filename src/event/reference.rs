//! Reference data of SPEC section 2 (health boards, local authorities), kept as data in `config/`
//! and embedded at build time so the binary needs no files to validate events.

use std::sync::OnceLock;

/// One local health board: the provider of LPMHSS services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Board {
    /// ODS code, e.g. `7A1`.
    pub ods: String,
    /// English name.
    pub name: String,
    /// Welsh name (Welsh language Active Offer).
    pub name_cy: String,
    /// ONS code, e.g. `W11000023`.
    pub ons: String,
}

/// The code used for the all-Wales total in reports and metrics.
pub const WALES: &str = "WALES";
/// ONS code of Wales.
pub const WALES_ONS: &str = "W92000004";

const BOARDS_CSV: &str = include_str!("../../config/boards.csv");
const LOCAL_AUTHORITIES_CSV: &str = include_str!("../../config/local_authorities.csv");

/// The seven boards in their official order (7A1…7A7).
pub fn boards() -> &'static [Board] {
    static BOARDS: OnceLock<Vec<Board>> = OnceLock::new();
    BOARDS.get_or_init(|| {
        data_rows(BOARDS_CSV)
            .map(|cols| Board {
                ods: cols[0].to_string(),
                name: cols[1].to_string(),
                name_cy: cols[2].to_string(),
                ons: cols[3].to_string(),
            })
            .collect()
    })
}

/// The board with this ODS code, if it is one of the seven.
pub fn board(ods: &str) -> Option<&'static Board> {
    boards().iter().find(|b| b.ods == ods)
}

/// Whether `code` is one of the 22 Welsh local authority (W06) codes.
pub fn is_local_authority(code: &str) -> bool {
    local_authority(code).is_some()
}

/// The reference data's own copy of a Welsh local authority (W06) code, if `code` is one.
pub fn local_authority(code: &str) -> Option<&'static str> {
    static CODES: OnceLock<Vec<&'static str>> = OnceLock::new();
    CODES
        .get_or_init(|| data_rows(LOCAL_AUTHORITIES_CSV).map(|c| c[0]).collect())
        .iter()
        .copied()
        .find(|c| *c == code)
}

/// The board codes followed by `WALES`: the row order of every published table.
pub fn report_lhbs() -> Vec<&'static str> {
    boards()
        .iter()
        .map(|b| b.ods.as_str())
        .chain(std::iter::once(WALES))
        .collect()
}

/// Age groups of the official table, in their published order.
pub const AGE_GROUPS: [&str; 3] = ["all", "under_18", "18_plus"];

/// The board an event topic belongs to: `lpmhss.events.7A1` → `7A1`.
pub fn board_of_topic(topic: &str) -> Option<&str> {
    topic.strip_prefix(TOPIC_PREFIX)
}

/// Prefix of the per-board Kafka topics.
pub const TOPIC_PREFIX: &str = "lpmhss.events.";

/// The Kafka topic of a board.
pub fn topic_of_board(ods: &str) -> String {
    format!("{TOPIC_PREFIX}{ods}")
}

// The embedded CSVs are ours and have no quoted commas, so a split is enough.
fn data_rows(csv: &'static str) -> impl Iterator<Item = Vec<&'static str>> {
    csv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(str::trim).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_boards_in_order_with_names() {
        let codes: Vec<_> = boards().iter().map(|b| b.ods.as_str()).collect();
        assert_eq!(codes, ["7A1", "7A2", "7A3", "7A4", "7A5", "7A6", "7A7"]);
        assert_eq!(board("7A7").unwrap().name, "Powys Teaching Health Board");
        assert!(board("7A8").is_none());
    }

    #[test]
    fn twenty_two_local_authorities() {
        assert!(is_local_authority("W06000001"));
        assert!(is_local_authority("W06000024"));
        assert!(!is_local_authority("W06000007"));
        assert_eq!(data_rows(LOCAL_AUTHORITIES_CSV).count(), 22);
    }

    #[test]
    fn topic_round_trip() {
        assert_eq!(board_of_topic(&topic_of_board("7A3")), Some("7A3"));
        assert_eq!(board_of_topic("other.topic"), None);
    }
}
