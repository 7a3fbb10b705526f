-- vouch metrics changes: the figures per group over the rows of changes.sql, which vouch
-- repeats once per grouping: grp_kind 'all' (grp 'all'), 'impact' (grp: the impact) and,
-- with --by month, 'month' (grp: YYYY-MM of submitted_at).
--   reviewed_within_2bd_rate  on time / (on time + late): pending changes are left out;
--                             NULL when none is left
SELECT
    grp_kind,
    grp,
    COUNT(*) AS changes,
    SUM(CASE WHEN on_time THEN 1 ELSE 0 END)
        / CAST(NULLIF(SUM(CASE WHEN on_time OR late THEN 1 ELSE 0 END), 0) AS DOUBLE)
        AS reviewed_within_2bd_rate,
    CAST(SUM(CASE WHEN late THEN 1 ELSE 0 END) AS BIGINT) AS late_count,
    CAST(SUM(CASE WHEN pending THEN 1 ELSE 0 END) AS BIGINT) AS pending_count,
    CAST(SUM(CASE WHEN escalate THEN 1 ELSE 0 END) AS BIGINT) AS escalation_count
FROM change_facts
GROUP BY grp_kind, grp
ORDER BY grp_kind, grp
