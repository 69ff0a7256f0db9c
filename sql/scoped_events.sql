-- scoped_events: the landed events that exist at the snapshot time (SPEC 4, `--as-of T`).
-- {as_of_predicate} is `TRUE`, or `recorded_at <= TIMESTAMP '…'` when a snapshot is asked for.
-- event_id_hash is lpmhss_hash64(event_id), computed once here for the stages that select the
-- few ids needing exact work by hash (id_hashes, suspect_events, effective_events): they would
-- otherwise hash every id again for every test. A bucketed derivation and a refresh, which
-- make this table in Rust, append the same column (hash_udfs.rs, with_event_id_hash).
-- Output: every column of `events`, event_id_hash
SELECT *, lpmhss_hash64(event_id) AS event_id_hash FROM events WHERE {as_of_predicate}
