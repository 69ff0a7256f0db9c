-- scoped_events: the landed events that exist at the snapshot time (SPEC 4, `--as-of T`).
-- {as_of_predicate} is `TRUE`, or `recorded_at <= TIMESTAMP '…'` when a snapshot is asked for.
-- Output: every column of `events`.
SELECT * FROM events WHERE {as_of_predicate}
