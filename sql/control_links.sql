-- control_links: every correction (`supersedes`) and retraction (`retracts`) joined to the event
-- it names, when that event is in the same pathway. Corrections and retractions are about 1.5 %
-- of events, so the links are the small (build) side and every event is probed once.
-- A correction or retraction naming an event of another pathway (or an unknown id) links to
-- nothing: one board can never remove another board's events.
-- Output: control_id, control_type, link ('supersedes' | 'retracts'), target_id, target_type
WITH links AS (
  SELECT event_id AS control_id, event_type AS control_type, 'supersedes' AS link,
         supersedes AS target_id, provider_lhb, referral_id
  FROM deduped_events WHERE supersedes IS NOT NULL
  UNION ALL
  SELECT event_id, event_type, 'retracts', retracts, provider_lhb, referral_id
  FROM deduped_events WHERE event_type = 'event_retracted' AND retracts IS NOT NULL
)
SELECT l.control_id, l.control_type, l.link, t.event_id AS target_id, t.event_type AS target_type
FROM links l
JOIN deduped_events t
  ON t.event_id = l.target_id AND t.provider_lhb = l.provider_lhb AND t.referral_id = l.referral_id
