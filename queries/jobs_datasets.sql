-- vouch metrics jobs: one row per dataset a refreshing run (any job type but 'purge')
-- writes, with how late it is (runbook §2: notify stakeholders if KPIs are impacted for
-- more than one cycle).
--
-- Tables: analytics_job_run (the input), params (as_of), dataset_cycles (dataset,
-- cycle_seconds: the cycles configured in vouch.toml [jobs.cycles]). Times are UTC.
--   cycle_seconds  the configured cycle, else the median gap between the dataset's
--                  distinct scheduled_at times; NULL with neither (one scheduled time)
--   last_success   the latest ended_at of a successful refreshing run
--   missed_cycles  floor((as_of - last_success) / cycle_seconds), counted from the first
--                  scheduled_at when no run succeeded, never below 0; NULL without a cycle
WITH refreshing AS (
    SELECT dataset, scheduled_at, ended_at, status
    FROM analytics_job_run
    WHERE job_type <> 'purge'
),
times AS (
    SELECT DISTINCT dataset, scheduled_at FROM refreshing
),
gaps AS (
    SELECT
        dataset,
        EXTRACT(EPOCH FROM scheduled_at)
            - EXTRACT(EPOCH FROM LAG(scheduled_at) OVER (PARTITION BY dataset ORDER BY scheduled_at))
            AS gap
    FROM times
),
observed AS (
    SELECT dataset, MEDIAN(gap) AS median_gap
    FROM gaps
    WHERE gap > 0
    GROUP BY dataset
),
last_success AS (
    SELECT dataset, MAX(ended_at) AS last_success
    FROM refreshing
    WHERE status = 'success'
    GROUP BY dataset
),
first_scheduled AS (
    SELECT dataset, MIN(scheduled_at) AS first_scheduled
    FROM refreshing
    GROUP BY dataset
),
cycles AS (
    SELECT
        f.dataset,
        l.last_success,
        COALESCE(c.cycle_seconds, o.median_gap) AS cycle_seconds,
        EXTRACT(EPOCH FROM p.as_of)
            - EXTRACT(EPOCH FROM COALESCE(l.last_success, f.first_scheduled)) AS behind_seconds
    FROM first_scheduled AS f
    LEFT JOIN last_success AS l ON l.dataset = f.dataset
    LEFT JOIN observed AS o ON o.dataset = f.dataset
    LEFT JOIN dataset_cycles AS c ON c.dataset = f.dataset
    CROSS JOIN params AS p
)
SELECT
    dataset,
    last_success,
    cycle_seconds,
    CASE
        WHEN cycle_seconds IS NULL OR cycle_seconds <= 0 THEN NULL
        WHEN behind_seconds <= 0 THEN 0
        ELSE CAST(FLOOR(behind_seconds / cycle_seconds) AS BIGINT)
    END AS missed_cycles
FROM cycles
ORDER BY dataset
