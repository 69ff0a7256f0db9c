-- dead_letter_summary: rejected messages per board partition (`unknown` when a file line
-- named no valid board), month received and reason: the feedback a board needs to fix its feed.
-- Output: provider_lhb, period, reason, messages.
SELECT lhb AS provider_lhb, to_char(received_at, '%Y-%m') AS period, reason, COUNT(*) AS messages
FROM dead_letters
GROUP BY lhb, to_char(received_at, '%Y-%m'), reason
ORDER BY period, provider_lhb, reason
