-- effective_events: SPEC 4 rule 1, second half. Drop every event named by another event's
-- `supersedes` (a correction acts only on an event of its own type) and every non-retraction
-- named by an effective retraction's `retracts` (one not itself superseded); a chain A <- B <- C
-- leaves only C. Retraction events are control events and are not returned.
-- Output: the columns of deduped_events.
WITH superseded AS (
  SELECT DISTINCT target_id AS event_id
  FROM control_links
  WHERE link = 'supersedes' AND target_type = control_type AND target_id <> control_id
),
retracted AS (
  SELECT DISTINCT l.target_id AS event_id
  FROM control_links l
  WHERE l.link = 'retracts' AND l.target_type <> 'event_retracted'
    AND NOT EXISTS (SELECT 1 FROM superseded s WHERE s.event_id = l.control_id)
),
removed AS (
  SELECT event_id FROM superseded
  UNION
  SELECT event_id FROM retracted
)
SELECT d.*
FROM deduped_events d
WHERE d.event_type <> 'event_retracted'
  AND NOT EXISTS (SELECT 1 FROM removed r WHERE r.event_id = d.event_id)
