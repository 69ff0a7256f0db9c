-- id_hashes: every event id in scope once, as its 64-bit hash (lpmhss_hash64), with how many
-- events carry it and whether one of them corrects or retracts another event. Input to
-- suspect_ids (SPEC 4 rule 1); a bucketed derivation also tallies these hashes to check that no
-- id was held by two buckets (src/compliance/bucket_ids.rs). A collision merges two ids into one
-- row here, which only makes both suspect: rule 1 then treats them exactly.
-- Output: h, copies, controls
SELECT event_id_hash AS h,
       COUNT(*) AS copies,
       bool_or(supersedes IS NOT NULL OR retracts IS NOT NULL) AS controls
FROM scoped_events
GROUP BY 1
