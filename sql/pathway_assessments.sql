-- pathway_assessments: SPEC 4 rule 4 per pathway with a referral, from pathway_events: the
-- counted assessment's date (the earliest on or after the referral date), how many assessments
-- are dated before the referral (flag assessment_before_referral), and the lowest and highest
-- outcome among those on or after it (missing ones as ''): when they agree, that is the counted
-- assessment's outcome whichever one is chosen, and only the rare pathways where they differ need
-- pathways.sql's ordering. A stage of its own because rules 5 and 6.2 and the final join all
-- read it: DataFusion would otherwise evaluate it once per reference.
-- Output: pathway_no, assessment_date, assessments_before_referral, lowest_outcome, highest_outcome
SELECT pathway_no,
       MIN(assessment_date) FILTER (WHERE assessment_date >= referral_received_date) AS assessment_date,
       COUNT(*) FILTER (WHERE assessment_date < referral_received_date) AS assessments_before_referral,
       MIN(COALESCE(assessment_outcome, '')) FILTER (WHERE assessment_date >= referral_received_date) AS lowest_outcome,
       MAX(COALESCE(assessment_outcome, '')) FILTER (WHERE assessment_date >= referral_received_date) AS highest_outcome
FROM pathway_events
WHERE event_type = 'assessment_undertaken' AND pathway_no IS NOT NULL
GROUP BY pathway_no
