-- vouch metrics holds: every purge run that ran on a dataset under legal hold: started at
-- or after the hold's hold_set_at, or at any time when the hold has none (the runbook's
-- "pause purge jobs" was not kept). A purge run that never started is not one.
--
-- Tables: data_retention_policy (the input), analytics_job_run (--job-runs).
SELECT
    r.run_id,
    TRIM(r.dataset) AS dataset,
    r.job_name,
    r.started_at,
    p.hold_set_at
FROM analytics_job_run AS r
JOIN data_retention_policy AS p ON TRIM(p.dataset) = TRIM(r.dataset)
WHERE COALESCE(p.legal_hold_flag, FALSE)
    AND r.job_type = 'purge'
    AND r.started_at IS NOT NULL
    AND (p.hold_set_at IS NULL OR r.started_at >= p.hold_set_at)
ORDER BY r.run_id
