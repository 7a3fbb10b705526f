-- vouch metrics dsar: one row per data subject request with its GDPR deadline
-- (runbook §2; GDPR art. 12(3): one month, extendable by two further months).
--
-- Tables: dsar_request (the input; subject_id is never read), params (as_of).
-- Times are UTC.
--   due_at            received_at + 1 calendar month at the same time of day, clamped to
--                     the last day of the target month (Jan 31 -> Feb 28, or Feb 29 in a
--                     leap year); + 3 months instead when extended
--   completed         completed_at is set (an open request has none)
--   on_time           completed_at <= due_at (NULL while open)
--   days_to_complete  (completed_at - received_at) in days, fractional
--   overdue           open and due_at before as_of
--   at_risk           open and due within 5 days after as_of (as_of <= due_at <= as_of + 5 days)
WITH due AS (
    SELECT
        r.request_id,
        r.request_type,
        r.received_at,
        r.completed_at,
        CASE
            WHEN COALESCE(r.extended, FALSE) THEN r.received_at + INTERVAL '3 months'
            ELSE r.received_at + INTERVAL '1 month'
        END AS due_at
    FROM dsar_request AS r
)
SELECT
    d.request_id,
    d.request_type,
    STRFTIME(d.received_at, '%Y-%m') AS month,
    d.due_at,
    d.completed_at IS NOT NULL AS completed,
    d.completed_at <= d.due_at AS on_time,
    (EXTRACT(EPOCH FROM d.completed_at) - EXTRACT(EPOCH FROM d.received_at)) / 86400.0
        AS days_to_complete,
    d.completed_at IS NULL AND d.due_at < p.as_of AS overdue,
    d.completed_at IS NULL AND d.due_at >= p.as_of AND d.due_at <= p.as_of + INTERVAL '5 days'
        AS at_risk
FROM due AS d
CROSS JOIN params AS p
ORDER BY d.request_id
