-- vouch metrics dsar: the figures per group over the rows of dsar.sql, which vouch
-- repeats once per grouping: grp_kind 'all' (grp 'all'), 'request_type' (grp: the type),
-- 'jurisdiction' (grp: the jurisdiction) and, with --by month, 'month' (grp: YYYY-MM of
-- received_at).
--   on_time_rate  completed on time / completed (NULL when none is completed)
--   days_to_complete_p50 / _p90  over completed requests, linear interpolation
SELECT
    grp_kind,
    grp,
    COUNT(*) AS requests,
    CAST(SUM(CASE WHEN completed THEN 1 ELSE 0 END) AS BIGINT) AS completed,
    CAST(SUM(CASE WHEN NOT completed THEN 1 ELSE 0 END) AS BIGINT) AS open,
    SUM(CASE WHEN on_time THEN 1 ELSE 0 END)
        / CAST(NULLIF(SUM(CASE WHEN completed THEN 1 ELSE 0 END), 0) AS DOUBLE) AS on_time_rate,
    CAST(SUM(CASE WHEN overdue THEN 1 ELSE 0 END) AS BIGINT) AS overdue_count,
    CAST(SUM(CASE WHEN at_risk THEN 1 ELSE 0 END) AS BIGINT) AS at_risk_count,
    QUANTILE_CONT(days_to_complete, 0.5) AS days_to_complete_p50,
    QUANTILE_CONT(days_to_complete, 0.9) AS days_to_complete_p90
FROM dsar_facts
GROUP BY grp_kind, grp
ORDER BY grp_kind, grp
