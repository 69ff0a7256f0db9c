-- pathway_interventions: SPEC 4 rule 5 per pathway with a referral, from pathway_events and
-- pathway_assessments: the counted intervention's date (the earliest on or after the counted
-- assessment), and how many interventions are dated before it (flag
-- intervention_before_assessment) or have no counted assessment to follow (flag
-- intervention_without_assessment). A stage of its own because 6.2's clock restarts and the final
-- join both read it.
-- Output: pathway_no, intervention_date, interventions_before_assessment, interventions_without_assessment
SELECT e.pathway_no,
       MIN(e.start_date) FILTER (WHERE e.start_date >= a.assessment_date) AS intervention_date,
       COUNT(*) FILTER (WHERE e.start_date < a.assessment_date) AS interventions_before_assessment,
       COUNT(*) FILTER (WHERE a.assessment_date IS NULL) AS interventions_without_assessment
FROM pathway_events e
LEFT JOIN pathway_assessments a ON a.pathway_no = e.pathway_no
WHERE e.event_type = 'intervention_started' AND e.pathway_no IS NOT NULL
GROUP BY e.pathway_no
