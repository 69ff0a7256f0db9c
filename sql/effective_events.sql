-- effective_events: SPEC 4 rule 1.
-- Keep one row per event_id (the first landed; ties broken by source coordinates so the choice
-- is deterministic). Drop every event named by another event's `supersedes` and every
-- non-retraction named by an effective retraction's `retracts`. A correction or retraction acts
-- only within its own pathway (and a correction only on an event of its own type), so one
-- board can never remove another board's events. Retraction events themselves are control
-- events and are not returned.
-- Output: the columns of `events`.
WITH ranked AS (
  SELECT *,
         ROW_NUMBER() OVER (
           PARTITION BY event_id
           ORDER BY landed_at, source_topic, source_partition, source_offset, source_file, source_line
         ) AS copy_rank
  FROM scoped_events
),
deduped AS (
  SELECT * FROM ranked WHERE copy_rank = 1
),
superseded AS (
  SELECT DISTINCT target.event_id
  FROM deduped target
  JOIN deduped correction
    ON correction.supersedes = target.event_id
   AND correction.provider_lhb = target.provider_lhb
   AND correction.referral_id = target.referral_id
   AND correction.event_type = target.event_type
   AND correction.event_id <> target.event_id
),
effective_retractions AS (
  SELECT r.retracts, r.provider_lhb, r.referral_id
  FROM deduped r
  LEFT JOIN superseded s ON s.event_id = r.event_id
  WHERE r.event_type = 'event_retracted' AND s.event_id IS NULL
),
retracted AS (
  SELECT DISTINCT target.event_id
  FROM deduped target
  JOIN effective_retractions r
    ON r.retracts = target.event_id
   AND r.provider_lhb = target.provider_lhb
   AND r.referral_id = target.referral_id
  WHERE target.event_type <> 'event_retracted'
)
SELECT d.*
FROM deduped d
LEFT JOIN superseded s ON s.event_id = d.event_id
LEFT JOIN retracted x ON x.event_id = d.event_id
WHERE d.event_type <> 'event_retracted'
  AND s.event_id IS NULL
  AND x.event_id IS NULL
