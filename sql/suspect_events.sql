-- suspect_events: every landed copy of the ids in suspect_ids, every column: the rows on which
-- the rest of SPEC 4 rule 1 (repeated_event_ids .. effective_events) does its work. The test
-- lpmhss_in_suspect_ids(h) means `h IN (SELECT h FROM suspect_ids)`; it is a scalar function so
-- that a scan can evaluate it on the event_id_hash column alone.
-- Output: every column of `events`.
SELECT * FROM scoped_events WHERE lpmhss_in_suspect_ids(event_id_hash)
