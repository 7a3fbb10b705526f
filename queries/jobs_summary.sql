-- vouch metrics jobs: the figures per group over the rows of jobs.sql, which vouch
-- repeats once per grouping: grp_kind 'all' (grp 'all'), 'job' (grp: the job name) and,
-- with --by month, 'month' (grp: YYYY-MM of scheduled_at).
--   failure_rate  failed / finished runs; NULL when none finished
--   recovery      mean / p50 / p90 of recovery_seconds over recovered failed runs
-- Percentiles interpolate linearly between ranks (quantile_cont).
SELECT
    grp_kind,
    grp,
    COUNT(*) AS runs,
    CAST(SUM(CASE WHEN failed THEN 1 ELSE 0 END) AS BIGINT) AS failed,
    SUM(CASE WHEN failed THEN 1 ELSE 0 END)
        / CAST(NULLIF(SUM(CASE WHEN finished THEN 1 ELSE 0 END), 0) AS DOUBLE)
        AS failure_rate,
    AVG(recovery_seconds) AS recovery_mean_seconds,
    QUANTILE_CONT(recovery_seconds, 0.5) AS recovery_p50_seconds,
    QUANTILE_CONT(recovery_seconds, 0.9) AS recovery_p90_seconds
FROM job_facts
GROUP BY grp_kind, grp
ORDER BY grp_kind, grp
