//! Typed report rows → printable tables, with the labelling of adjusted figures and the
//! disclosure control of `--publish` (see `disclosure` for the method).

use crate::compliance::{EquityRow, MonthlyRow, StageCounts, WaitKind, MONTHLY_HEADER};
use crate::disclosure::{Grid, Pos, SMALLEST_SHOWN};
use crate::output::{Cell, Tabular};
use std::collections::BTreeMap;

const ADJUSTED_NOTE: &str = "ADJUSTED waits (SPEC 6.2): the clock restarts at the latest did-not-attend or patient cancellation; these are not the official figures";
const SUPPRESSION_NOTE: &str = "disclosure control applied: counts 1-4 shown as *, further cells shown as * so no suppressed cell can be recovered from its row, its column or a published total, percentages left empty when their total is under 5 or a part is suppressed";

/// Values of one row in column order: referrals, then each stage's 3 bands, total and pct.
fn counts(referrals: u64, a: &StageCounts, i: &StageCounts) -> Vec<u64> {
    vec![
        referrals,
        a.within_28,
        a.from_29_to_56,
        a.over_56,
        a.total,
        0,
        i.within_28,
        i.from_29_to_56,
        i.over_56,
        i.total,
        0,
    ]
}

// Positions inside `counts`.
const COUNT_COLUMNS: [usize; 9] = [0, 1, 2, 3, 4, 6, 7, 8, 9];
const STAGES: [[usize; 4]; 2] = [[1, 2, 3, 4], [6, 7, 8, 9]];
const PCT: [(usize, usize, usize); 2] = [(5, 1, 4), (10, 6, 9)];

/// Apply primary and secondary suppression to rows of `counts`, where `groups` lists row sets
/// whose cells in each count column add up to a published figure.
fn suppress(values: Vec<Vec<u64>>, groups: &[Vec<usize>]) -> Grid {
    let mut relations: Vec<Vec<Pos>> = Vec::new();
    for r in 0..values.len() {
        for stage in STAGES {
            relations.push(stage.iter().map(|c| (r, *c)).collect());
        }
    }
    for g in groups.iter().filter(|g| g.len() > 1) {
        for c in COUNT_COLUMNS {
            relations.push(g.iter().map(|r| (*r, c)).collect());
        }
    }
    let mut grid = Grid::primary(values, &COUNT_COLUMNS);
    grid.secondary(&relations);
    debug_assert!(grid.is_safe(&relations));
    grid
}

fn cells(values: &[u64], hidden: Option<&[bool]>, pcts: [Option<i64>; 2]) -> Vec<Cell> {
    let is_hidden = |c: usize| hidden.is_some_and(|h| h[c]);
    let mut out: Vec<Cell> = (0..values.len())
        .map(|c| {
            if is_hidden(c) {
                Cell::Suppressed
            } else {
                Cell::Count(values[c])
            }
        })
        .collect();
    for (k, (pc, w, t)) in PCT.into_iter().enumerate() {
        let pct =
            if hidden.is_some() && (values[t] < SMALLEST_SHOWN || is_hidden(w) || is_hidden(t)) {
                None
            } else {
                pcts[k]
            };
        out[pc] = Cell::Tenths(pct);
    }
    out
}

fn group_rows<K: Ord>(keys: impl Iterator<Item = K>) -> Vec<Vec<usize>> {
    let mut groups: BTreeMap<K, Vec<usize>> = BTreeMap::new();
    for (i, k) in keys.enumerate() {
        groups.entry(k).or_default().push(i);
    }
    groups.into_values().collect()
}

/// The official (or adjusted) monthly table.
pub fn monthly_table(rows: &[MonthlyRow], kind: WaitKind, publish: bool) -> Tabular {
    let mut header: Vec<&str> = Vec::new();
    if kind == WaitKind::Adjusted {
        header.push("waits");
    }
    header.extend(MONTHLY_HEADER);
    let mut t = Tabular::new(&header);
    let values: Vec<Vec<u64>> = rows
        .iter()
        .map(|r| counts(r.referrals_received, &r.assessments, &r.interventions))
        .collect();
    let grid = publish.then(|| {
        // WALES is the sum of the seven boards in every column.
        let groups = group_rows(rows.iter().map(|r| (r.period.clone(), r.age_group.clone())));
        suppress(values.clone(), &groups)
    });
    for (i, r) in rows.iter().enumerate() {
        let mut row = Vec::new();
        if kind == WaitKind::Adjusted {
            row.push(Cell::Text("adjusted".into()));
        }
        row.extend([
            Cell::Text(r.period.clone()),
            Cell::Text(r.provider_lhb.clone()),
            Cell::Text(r.age_group.clone()),
        ]);
        row.extend(cells(
            &values[i],
            grid.as_ref().map(|g| g.suppressed[i].as_slice()),
            [
                r.assessments.pct_within_28_tenths,
                r.interventions.pct_within_28_tenths,
            ],
        ));
        t.rows.push(row);
    }
    if kind == WaitKind::Adjusted {
        t.notes.push(ADJUSTED_NOTE.into());
    }
    if publish {
        t.notes.push(SUPPRESSION_NOTE.into());
    }
    t
}

/// An equity breakdown: the official columns plus `dimension,value` after `age_group`.
pub fn equity_table(rows: &[EquityRow], publish: bool) -> Tabular {
    let mut header: Vec<&str> = MONTHLY_HEADER[..3].to_vec();
    header.extend(["dimension", "value"]);
    header.extend(&MONTHLY_HEADER[3..]);
    let mut t = Tabular::new(&header);
    let values: Vec<Vec<u64>> = rows
        .iter()
        .map(|r| counts(r.referrals_received, &r.assessments, &r.interventions))
        .collect();
    let grid = publish.then(|| {
        // The values of a dimension add up to the unsplit published figure, and the seven
        // boards add up to WALES.
        let mut groups = group_rows(rows.iter().map(|r| {
            (
                r.period.clone(),
                r.provider_lhb.clone(),
                r.age_group.clone(),
            )
        }));
        groups
            .extend(group_rows(rows.iter().map(|r| {
                (r.period.clone(), r.age_group.clone(), r.value.clone())
            })));
        suppress(values.clone(), &groups)
    });
    for (i, r) in rows.iter().enumerate() {
        let mut row = vec![
            Cell::Text(r.period.clone()),
            Cell::Text(r.provider_lhb.clone()),
            Cell::Text(r.age_group.clone()),
            Cell::Text(r.dimension.clone()),
            Cell::Text(r.value.clone()),
        ];
        row.extend(cells(
            &values[i],
            grid.as_ref().map(|g| g.suppressed[i].as_slice()),
            [
                r.assessments.pct_within_28_tenths,
                r.interventions.pct_within_28_tenths,
            ],
        ));
        t.rows.push(row);
    }
    if publish {
        t.notes.push(SUPPRESSION_NOTE.into());
    }
    t
}
