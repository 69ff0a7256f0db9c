//! The buckets of a derivation in the order they are derived and written
//! ([`working_order`]), and the smallest whole board split so that every worker has a last
//! bucket ([`even_tail`]): which boards the workers split together and which alone, and how the
//! derivation ends on every core (`bucket_workers.rs`, `shared_split.rs`).

use super::bucketed::Bucket;

/// `buckets`, with the smallest board derived whole split further so that the count of buckets
/// is a multiple of `workers`. Its bucket is derived last (working_order), and alone it kept
/// one core busy while the others idled (ten years of Wales: 0.19 s for its 159,000 events).
/// Split, its parts are derived at once, and the workers split it together at no more cost than
/// one reading it (`shared_split.rs`). Smaller buckets need less memory, never more.
pub(super) fn even_tail(mut buckets: Vec<Bucket>, workers: usize) -> Vec<Bucket> {
    let short = (workers - buckets.len() % workers) % workers;
    let smallest = buckets
        .iter()
        .enumerate()
        .filter(|(_, b)| b.parts == 1)
        .min_by_key(|(_, b)| (b.events, b.board.clone()))
        .map(|(i, _)| i);
    let Some(smallest) = smallest.filter(|_| short > 0) else {
        return buckets;
    };
    let whole = buckets.remove(smallest);
    let parts = 1 + short as u64;
    buckets.extend((0..parts).map(|part| Bucket {
        part,
        parts,
        events: whole.events.div_ceil(parts),
        ..whole.clone()
    }));
    buckets
}

/// The order buckets are derived and written in, boards from the largest. The buckets of a
/// board split in at most one part per worker come one after the other (a0 a1 b0 b1 …): the
/// workers reach its buckets together and split it together, each keeping its part in memory
/// (`shared_split.rs`). Boards split in more parts come first (they are the largest), two at a
/// time with their buckets alternating (a0 b0 a1 b1 … then the rest of the longer one): each
/// worker splits one of them alone, keeping its own part and writing the others to files, as
/// before the shared split: split together, most of its parts would still go to files, and
/// single 50M runs peaked higher (benches/e2e/NOTES.md). The smallest boards come last, when
/// one worker may be left alone. Deterministic: the same plan always gives the same file.
pub(super) fn working_order(buckets: Vec<Bucket>, workers: usize) -> Vec<Bucket> {
    let mut boards: Vec<Vec<Bucket>> = Vec::new();
    for bucket in buckets {
        match boards.iter_mut().find(|b| b[0].board == bucket.board) {
            Some(board) => board.push(bucket),
            None => boards.push(vec![bucket]),
        }
    }
    for board in &mut boards {
        board.sort_by_key(|b| b.part);
    }
    boards.sort_by(|a, b| {
        let size = |x: &[Bucket]| x.iter().map(|b| b.events).sum::<u64>();
        size(b)
            .cmp(&size(a))
            .then_with(|| a[0].board.cmp(&b[0].board))
    });
    let (many, few): (Vec<_>, Vec<_>) = boards.into_iter().partition(|b| b.len() > workers);
    let mut ordered = Vec::new();
    let mut many = many.into_iter();
    while let Some(first) = many.next() {
        let second = many.next().unwrap_or_default();
        let (mut first, mut second) = (first.into_iter(), second.into_iter());
        loop {
            let (a, b) = (first.next(), second.next());
            if a.is_none() && b.is_none() {
                break;
            }
            ordered.extend(a.into_iter().chain(b));
        }
    }
    ordered.extend(few.into_iter().flatten());
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Every bucket of board `name`, split in `parts` of `events` each.
    fn board(name: &str, parts: u64, events: u64) -> Vec<Bucket> {
        (0..parts)
            .map(|part| Bucket {
                board: name.into(),
                part,
                parts,
                events,
                board_events: events * parts,
                files: Arc::new(Vec::new()),
            })
            .collect()
    }

    fn plan(boards: &[(&str, u64, u64)]) -> Vec<Bucket> {
        boards
            .iter()
            .flat_map(|&(name, parts, events)| board(name, parts, events))
            .collect()
    }

    fn names(buckets: &[Bucket]) -> Vec<String> {
        buckets
            .iter()
            .map(|b| format!("{}.{}", b.board, b.part))
            .collect()
    }

    #[test]
    fn boards_of_many_parts_alternate_first_and_the_others_keep_their_buckets_together() {
        let plan = plan(&[
            ("A", 1, 100),
            ("B", 3, 300),
            ("C", 3, 280),
            ("E", 4, 100),
            ("F", 2, 150),
        ]);
        assert_eq!(
            names(&working_order(plan, 2)),
            [
                "B.0", "C.0", "B.1", "C.1", "B.2", "C.2", "E.0", "E.1", "E.2", "E.3", "F.0", "F.1",
                "A.0"
            ]
        );
    }

    #[test]
    fn boards_come_largest_first_each_with_its_buckets_together() {
        let plan = plan(&[("A", 1, 100), ("B", 3, 300), ("C", 2, 400), ("D", 1, 50)]);
        let ordered = working_order(plan.clone(), 2);
        assert_eq!(
            names(&ordered),
            ["B.0", "B.1", "B.2", "C.0", "C.1", "A.0", "D.0"]
        );
        assert_eq!(
            names(&working_order(plan.into_iter().rev().collect(), 2)),
            names(&ordered)
        );
    }

    #[test]
    fn the_smallest_whole_board_is_split_so_that_every_worker_has_a_last_bucket() {
        let plan = plan(&[("A", 1, 100), ("B", 2, 300), ("D", 1, 50), ("E", 1, 70)]);
        let even = working_order(even_tail(plan.clone(), 2), 2);
        assert_eq!(
            names(&even),
            ["B.0", "B.1", "A.0", "E.0", "D.0", "D.1"],
            "D, the smallest whole board, in two parts"
        );
        assert!(even
            .iter()
            .filter(|b| b.board == "D")
            .all(|b| b.parts == 2 && b.events == 25));
        assert_eq!(even_tail(plan.clone(), 1), plan, "one worker: as planned");
        assert_eq!(
            names(&even_tail(plan[..4].to_vec(), 2)),
            names(&plan[..4]),
            "already even"
        );
        let three = even_tail(plan.clone(), 3);
        assert_eq!(three.len(), 6);
        assert_eq!(three.iter().filter(|b| b.board == "D").count(), 2);
        let split_only = board("B", 3, 300);
        assert_eq!(
            even_tail(split_only.clone(), 2),
            split_only,
            "no whole board to split"
        );
    }

    #[test]
    fn every_bucket_is_taken_once() {
        let plan: Vec<Bucket> = (0..5)
            .flat_map(|b| board(&format!("B{b}"), b + 1, 10))
            .collect();
        let mut ordered = names(&working_order(plan.clone(), 2));
        let mut planned = names(&plan);
        ordered.sort();
        planned.sort();
        assert_eq!(ordered, planned);
    }
}
