-- vouch metrics holds: one row per dataset under legal hold (runbook §3.5: pause purge
-- jobs under legal hold; document the hold's reason and reviewer).
--
-- Tables: data_retention_policy (the input), analytics_job_run (--job-runs), params.
--   undocumented     hold_reason or hold_reviewer is empty
--   since_unknown    no hold_set_at: every purge run of the dataset is checked
--   purges           purge runs of the dataset that started at or after hold_set_at (any
--                    purge run that started, when the hold has no hold_set_at)
WITH held AS (
    SELECT
        TRIM(dataset) AS dataset,
        hold_reason,
        hold_reviewer,
        hold_set_at
    FROM data_retention_policy
    WHERE COALESCE(legal_hold_flag, FALSE)
),
purges AS (
    SELECT TRIM(r.dataset) AS dataset, COUNT(*) AS purges
    FROM analytics_job_run AS r
    JOIN held AS h ON h.dataset = TRIM(r.dataset)
    WHERE r.job_type = 'purge'
        AND r.started_at IS NOT NULL
        AND (h.hold_set_at IS NULL OR r.started_at >= h.hold_set_at)
    GROUP BY TRIM(r.dataset)
)
SELECT
    h.dataset,
    h.hold_set_at,
    COALESCE(TRIM(h.hold_reason), '') = '' OR COALESCE(TRIM(h.hold_reviewer), '') = ''
        AS undocumented,
    h.hold_set_at IS NULL AS since_unknown,
    CAST(COALESCE(p.purges, 0) AS BIGINT) AS purges
FROM held AS h
LEFT JOIN purges AS p ON p.dataset = h.dataset
ORDER BY h.dataset
