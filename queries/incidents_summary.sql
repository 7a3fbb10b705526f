-- vouch metrics incidents: the figures per group over the rows of incidents.sql, which
-- vouch repeats once per grouping: grp_kind 'all' (grp 'all'), 'severity' (grp: the
-- severity) and, with --by month, 'month' (grp: YYYY-MM of start_at).
--   MTTA  mean / p50 / p90 of tta_seconds over acknowledged incidents
--   MTTR  mean / p50 / p90 of ttr_seconds over resolved incidents
--   ack_within_5m_rate          incidents acknowledged within 5 minutes / all incidents
--   postmortem_within_48h_rate  'on_time' / ('on_time' + 'late' + 'missing'): pending and
--                               open incidents are left out; NULL when none is left
-- Percentiles interpolate linearly between ranks (quantile_cont).
SELECT
    grp_kind,
    grp,
    COUNT(*) AS count,
    CAST(SUM(CASE WHEN is_open THEN 1 ELSE 0 END) AS BIGINT) AS open,
    AVG(tta_seconds) AS mtta_mean_seconds,
    QUANTILE_CONT(tta_seconds, 0.5) AS mtta_p50_seconds,
    QUANTILE_CONT(tta_seconds, 0.9) AS mtta_p90_seconds,
    AVG(ttr_seconds) AS mttr_mean_seconds,
    QUANTILE_CONT(ttr_seconds, 0.5) AS mttr_p50_seconds,
    QUANTILE_CONT(ttr_seconds, 0.9) AS mttr_p90_seconds,
    AVG(CASE WHEN ack_within_5m THEN 1.0 ELSE 0.0 END) AS ack_within_5m_rate,
    SUM(CASE WHEN postmortem = 'on_time' THEN 1 ELSE 0 END)
        / CAST(NULLIF(SUM(CASE WHEN postmortem IN ('on_time', 'late', 'missing') THEN 1 ELSE 0 END), 0) AS DOUBLE)
        AS postmortem_within_48h_rate
FROM incident_facts
GROUP BY grp_kind, grp
ORDER BY grp_kind, grp
