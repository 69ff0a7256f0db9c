-- suspect_ids: SPEC 4 rule 1 can only change what happens to a few ids: one landed more than
-- once, a correction's or retraction's own id, and an id a correction or retraction names. Every
-- other event is its own first-landed copy and nothing removes it, so rule 1 keeps it as it is.
-- This stage lists those ids as 64-bit hashes (lpmhss_hash64) so that one pass over 8-byte values
-- finds them. A collision only adds an id that did not need to be here, which rule 1 then treats
-- exactly (all copies of an id share its hash), so no hash can change a result.
-- Output: h
SELECT h FROM id_hashes WHERE copies > 1 OR controls
UNION
SELECT lpmhss_hash64(supersedes) FROM scoped_events WHERE supersedes IS NOT NULL
UNION
SELECT lpmhss_hash64(retracts) FROM scoped_events WHERE retracts IS NOT NULL
