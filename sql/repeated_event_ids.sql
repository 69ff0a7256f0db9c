-- repeated_event_ids: SPEC 4 rule 1, first step: the event_ids landed more than once (a board
-- resending a message, or a replay), among the suspect events (every copy of a repeated id is
-- one of them). Almost every id lands once, so this set is small and the later stages use it as
-- the cheap side of their joins.
-- Output: event_id
SELECT event_id FROM suspect_events GROUP BY event_id HAVING COUNT(*) > 1
