-- effective_events: SPEC 4 rule 1, second half. Drop every event named by another event's
-- `supersedes` and every non-retraction named by an effective retraction's `retracts`
-- (a chain A <- B <- C leaves only C). A correction or retraction acts only within its own
-- pathway (and a correction only on an event of its own type), so one board can never remove
-- another board's events. Retraction events themselves are control events and are not returned.
-- Output: the columns of deduped_events.
WITH superseded AS (
  SELECT DISTINCT target.event_id
  FROM deduped_events target
  JOIN deduped_events correction
    ON correction.supersedes = target.event_id
   AND correction.provider_lhb = target.provider_lhb
   AND correction.referral_id = target.referral_id
   AND correction.event_type = target.event_type
   AND correction.event_id <> target.event_id
),
effective_retractions AS (
  SELECT r.retracts, r.provider_lhb, r.referral_id
  FROM deduped_events r
  LEFT JOIN superseded s ON s.event_id = r.event_id
  WHERE r.event_type = 'event_retracted' AND s.event_id IS NULL
),
retracted AS (
  SELECT DISTINCT target.event_id
  FROM deduped_events target
  JOIN effective_retractions r
    ON r.retracts = target.event_id
   AND r.provider_lhb = target.provider_lhb
   AND r.referral_id = target.referral_id
  WHERE target.event_type <> 'event_retracted'
)
SELECT d.*
FROM deduped_events d
LEFT JOIN superseded s ON s.event_id = d.event_id
LEFT JOIN retracted x ON x.event_id = d.event_id
WHERE d.event_type <> 'event_retracted'
  AND s.event_id IS NULL
  AND x.event_id IS NULL
