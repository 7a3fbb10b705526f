-- vouch metrics costs: one row per cost anomaly with what its remediation figures are
-- made of (runbook §4: mitigate, update the incident log with the mitigation, review
-- monthly with FinOps).
--
-- Tables: cost_anomaly (the input), params (as_of, incidents_checked: whether --incidents
-- was given), data_incident (its incident ids; empty without --incidents). Times are UTC.
--   open              mitigated_at is not set
--   mitigate_seconds  mitigated_at - detected_at
--   excess_usd        cost_usd - expected_usd where that is positive, else 0
--   over_budget_80    budget_used_pct > 0.8 (a fraction of the budget: the runbook's trigger)
--   unlogged          mitigated, and no incident_id, or (with --incidents) one the
--                     incident log does not hold
WITH incidents AS (
    SELECT DISTINCT TRIM(incident_id) AS incident_id FROM data_incident
)
SELECT
    a.anomaly_id,
    COALESCE(a.service, '(none)') AS service,
    STRFTIME(a.detected_at, '%Y-%m') AS month,
    a.mitigated_at IS NULL AS open,
    EXTRACT(EPOCH FROM a.mitigated_at) - EXTRACT(EPOCH FROM a.detected_at) AS mitigate_seconds,
    CASE
        WHEN a.cost_usd > a.expected_usd THEN a.cost_usd - a.expected_usd
        ELSE 0.0
    END AS excess_usd,
    COALESCE(a.budget_used_pct > 0.8, FALSE) AS over_budget_80,
    a.mitigated_at IS NOT NULL
        AND (
            COALESCE(TRIM(a.incident_id), '') = ''
            OR (p.incidents_checked AND i.incident_id IS NULL)
        ) AS unlogged
FROM cost_anomaly AS a
LEFT JOIN incidents AS i ON i.incident_id = TRIM(a.incident_id)
CROSS JOIN params AS p
ORDER BY a.anomaly_id
