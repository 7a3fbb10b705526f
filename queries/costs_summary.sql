-- vouch metrics costs: the figures per group over the rows of costs.sql, which vouch
-- repeats once per grouping: grp_kind 'all' (grp 'all'), 'service' (grp: the service)
-- and, with --by month, 'month' (grp: YYYY-MM of detected_at: the FinOps monthly review).
--   mitigate  mean / p50 / p90 of mitigate_seconds over mitigated anomalies
--   excess_cost_usd  the sum of excess_usd
-- Percentiles interpolate linearly between ranks (quantile_cont).
SELECT
    grp_kind,
    grp,
    COUNT(*) AS anomalies,
    CAST(SUM(CASE WHEN open THEN 1 ELSE 0 END) AS BIGINT) AS open,
    AVG(mitigate_seconds) AS mitigate_mean_seconds,
    QUANTILE_CONT(mitigate_seconds, 0.5) AS mitigate_p50_seconds,
    QUANTILE_CONT(mitigate_seconds, 0.9) AS mitigate_p90_seconds,
    CAST(SUM(excess_usd) AS DOUBLE) AS excess_cost_usd
FROM cost_facts
GROUP BY grp_kind, grp
ORDER BY grp_kind, grp
