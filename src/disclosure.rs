//! Statistical disclosure control for published tables (SPEC 6.3, issue 6).
//!
//! Primary suppression: every count from 1 to 4 is shown as `*`.
//! Secondary suppression: a table is a grid of cells plus *relations*, sets of cells whose
//! members add up (parts and their published total: the bands of a row and its total; the
//! same cell across the values of a dimension and the unsplit figure; the seven boards and
//! WALES). A relation with exactly one suppressed member would let a reader recover it by
//! subtraction, so the smallest other member of that relation is suppressed too; this repeats
//! until no relation has exactly one suppressed member. Choosing the smallest keeps the loss of
//! information low, as in the common "minimum cell" heuristic used by official statisticians.

/// A cell position: (row, column).
pub type Pos = (usize, usize);

/// Smallest count shown (counts 1..SMALLEST-1 are suppressed).
pub const SMALLEST_SHOWN: u64 = 5;

/// A grid of counts to suppress.
#[derive(Debug, Clone)]
pub struct Grid {
    /// Counts, row-major.
    pub values: Vec<Vec<u64>>,
    /// Suppressed flags, same shape.
    pub suppressed: Vec<Vec<bool>>,
}

impl Grid {
    /// Primary suppression of `values` on the given columns.
    pub fn primary(values: Vec<Vec<u64>>, count_columns: &[usize]) -> Grid {
        let suppressed = values
            .iter()
            .map(|row| {
                (0..row.len())
                    .map(|c| count_columns.contains(&c) && (1..SMALLEST_SHOWN).contains(&row[c]))
                    .collect()
            })
            .collect();
        Grid { values, suppressed }
    }

    /// Secondary suppression over `relations` until none has exactly one suppressed member.
    /// Returns how many cells were suppressed by this step.
    pub fn secondary(&mut self, relations: &[Vec<Pos>]) -> usize {
        let mut added = 0;
        loop {
            let mut changed = false;
            for rel in relations {
                let hidden = rel.iter().filter(|p| self.suppressed[p.0][p.1]).count();
                if hidden != 1 {
                    continue;
                }
                let pick = rel
                    .iter()
                    .filter(|p| !self.suppressed[p.0][p.1])
                    .min_by_key(|p| (self.values[p.0][p.1] == 0, self.values[p.0][p.1]));
                if let Some(p) = pick {
                    self.suppressed[p.0][p.1] = true;
                    added += 1;
                    changed = true;
                }
            }
            if !changed {
                return added;
            }
        }
    }

    /// Whether some relation still lets a suppressed cell be recomputed.
    pub fn is_safe(&self, relations: &[Vec<Pos>]) -> bool {
        relations
            .iter()
            .all(|rel| rel.iter().filter(|p| self.suppressed[p.0][p.1]).count() != 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_suppressed_band_takes_a_partner() {
        // within, 29-56, over, total
        let mut g = Grid::primary(vec![vec![3, 10, 20, 33]], &[0, 1, 2, 3]);
        assert!(g.suppressed[0][0]);
        let rel = vec![vec![(0, 0), (0, 1), (0, 2), (0, 3)]];
        assert!(!g.is_safe(&rel));
        g.secondary(&rel);
        assert!(g.is_safe(&rel));
        assert!(g.suppressed[0][1], "the smallest other cell is the partner");
    }

    #[test]
    fn suppression_propagates_across_relations() {
        // Two rows (values of a dimension) and a total row; one column.
        let mut g = Grid::primary(vec![vec![2], vec![40], vec![42]], &[0]);
        let rel = vec![vec![(0, 0), (1, 0), (2, 0)]];
        g.secondary(&rel);
        assert!(g.is_safe(&rel));
    }

    #[test]
    fn zero_is_not_suppressed_by_primary() {
        let g = Grid::primary(vec![vec![0, 4, 5]], &[0, 1, 2]);
        assert_eq!(g.suppressed[0], vec![false, true, false]);
    }
}
