-- vouch metrics incidents: one row per incident with what the incident SLAs are made of
-- (runbook §1: acknowledge within 5 minutes, postmortem within 48 hours).
--
-- Tables: data_incident (the input), params (one row: as_of, the --as-of time).
-- Times are UTC. Durations are in seconds.
--   tta_seconds    acknowledged_at - start_at (NULL when never acknowledged)
--   ttr_seconds    end_at - start_at (NULL while the incident is open)
--   ack_within_5m  acknowledged at most 5 minutes (300 s, inclusive) after the start;
--                  an unacknowledged incident is a miss
--   postmortem     for resolved incidents: 'on_time' when postmortem_at <= end_at + 48 h,
--                  'late' when after, 'pending' when there is none yet and as_of is still
--                  inside the 48-hour window, 'missing' when there is none past it;
--                  NULL while the incident is open
-- incidents_summary.sql runs over these rows, overall, by severity
-- and (with --by month) by the month of start_at.
SELECT
    i.incident_id,
    i.severity,
    STRFTIME(i.start_at, '%Y-%m') AS month,
    i.end_at IS NULL AS is_open,
    EXTRACT(EPOCH FROM i.acknowledged_at) - EXTRACT(EPOCH FROM i.start_at) AS tta_seconds,
    EXTRACT(EPOCH FROM i.end_at) - EXTRACT(EPOCH FROM i.start_at) AS ttr_seconds,
    COALESCE(i.acknowledged_at <= i.start_at + INTERVAL '5 minutes', FALSE) AS ack_within_5m,
    CASE
        WHEN i.end_at IS NULL THEN NULL
        WHEN i.postmortem_at <= i.end_at + INTERVAL '48 hours' THEN 'on_time'
        WHEN i.postmortem_at IS NOT NULL THEN 'late'
        WHEN p.as_of <= i.end_at + INTERVAL '48 hours' THEN 'pending'
        ELSE 'missing'
    END AS postmortem
FROM data_incident AS i
CROSS JOIN params AS p
ORDER BY i.incident_id
