-- repeated_copies: where each copy of a repeated event_id landed: landed_at and the source
-- coordinates, plus a landing key, one string that sorts in landing order (landed_at, then the
-- source coordinates), so the first landed copy is the one with the smallest key and ties are
-- broken deterministically. Narrow on purpose: deduped_events fetches the chosen copy's columns.
-- Output: event_id, landed_at, source_topic, source_partition, source_offset, source_file, source_line, landing_key
SELECT e.event_id, e.landed_at, e.source_topic, e.source_partition, e.source_offset,
       e.source_file, e.source_line,
       concat(lpad(CAST(CAST(e.landed_at AS BIGINT) AS VARCHAR), 20, '0'), '|',
              COALESCE(e.source_topic, ''), '|',
              lpad(CAST(COALESCE(e.source_partition, 0) AS VARCHAR), 10, '0'), '|',
              lpad(CAST(COALESCE(e.source_offset, 0) AS VARCHAR), 20, '0'), '|',
              COALESCE(e.source_file, ''), '|',
              lpad(CAST(COALESCE(e.source_line, 0) AS VARCHAR), 20, '0')) AS landing_key
FROM suspect_events e
WHERE EXISTS (SELECT 1 FROM repeated_event_ids r WHERE r.event_id = e.event_id)
