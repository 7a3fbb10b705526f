-- vouch metrics jobs: one row per job run with what the run-history figures are made of
-- (runbook §2: review run history, re-run failed jobs with a backfill partition range).
--
-- Tables: analytics_job_run (the input), params (as_of). Times are UTC.
--   failed            status is 'failed'
--   finished          status is 'success' or 'failed' (running and cancelled runs are
--                     left out of the failure rate)
--   recovered_at      for a failed run: the earliest ended_at of a successful run of the
--                     same job (any job type: a backfill recovers it too) that ended after
--                     the failed run ended
--   recovery_seconds  recovered_at - ended_at of the failed run
--   unrecovered       failed and no such successful run
WITH outcomes AS (
    SELECT
        run_id,
        job_name,
        status,
        ended_at,
        CASE WHEN status = 'success' THEN 1 ELSE 0 END AS is_success,
        CASE WHEN status = 'success' THEN 0 ELSE 1 END AS tie_order
    FROM analytics_job_run
    WHERE status IN ('success', 'failed')
),
finished AS (
    -- Per finished run: how many successes of its job ended before it or with it (at an
    -- equal time a success sorts first, so it does not recover a failure that ended then).
    SELECT
        run_id,
        job_name,
        status,
        SUM(is_success) OVER (PARTITION BY job_name ORDER BY ended_at, tie_order)
            AS successes_so_far
    FROM outcomes
),
ranked_successes AS (
    SELECT
        job_name,
        ended_at,
        ROW_NUMBER() OVER (PARTITION BY job_name ORDER BY ended_at) AS k
    FROM analytics_job_run
    WHERE status = 'success'
),
recovery AS (
    -- The next success is the one ranked just after those.
    SELECT f.run_id, s.ended_at AS recovered_at
    FROM finished AS f
    JOIN ranked_successes AS s
        ON s.job_name = f.job_name AND s.k = f.successes_so_far + 1
    WHERE f.status = 'failed'
)
SELECT
    r.run_id,
    r.job_name,
    r.dataset,
    r.job_type,
    r.status,
    STRFTIME(r.scheduled_at, '%Y-%m') AS month,
    r.status = 'failed' AS failed,
    r.status IN ('success', 'failed') AS finished,
    c.recovered_at,
    CASE
        WHEN r.status = 'failed' THEN
            EXTRACT(EPOCH FROM c.recovered_at) - EXTRACT(EPOCH FROM r.ended_at)
    END AS recovery_seconds,
    r.status = 'failed' AND c.recovered_at IS NULL AS unrecovered
FROM analytics_job_run AS r
LEFT JOIN recovery AS c ON c.run_id = r.run_id
ORDER BY r.run_id
