-- vouch metrics changes: one row per governance change with its review deadline
-- (runbook §3: review within 2 business days; escalate regulatory-impact changes).
--
-- Tables: governance_change_log (the input), params (as_of), business_calendar (one row
-- per date: day, is_business_day = Monday to Friday and not in --holidays, and
-- business_days = how many business days there are up to and including that day).
-- Times and dates are UTC.
--   due_at     the second business day after the day of submitted_at, at the same time
--              of day (submitted Friday 18:30 -> due Tuesday 18:30; Saturday 10:00 ->
--              Tuesday 10:00; a holiday in between moves it one business day on)
--   on_time    reviewed at or before due_at
--   late       reviewed after due_at, or not reviewed and due_at before as_of
--   pending    not reviewed and due_at at or after as_of (left out of the rate)
--   escalate   impact is 'regulatory'
WITH submitted AS (
    SELECT
        g.change_id,
        g.impact,
        g.submitted_at,
        g.reviewed_at,
        CAST(g.submitted_at AS DATE) AS submitted_day,
        g.submitted_at - CAST(CAST(g.submitted_at AS DATE) AS TIMESTAMP) AS time_of_day
    FROM governance_change_log AS g
),
due AS (
    SELECT
        s.*,
        CAST(b.day AS TIMESTAMP) + s.time_of_day AS due_at
    FROM submitted AS s
    JOIN business_calendar AS c ON c.day = s.submitted_day
    JOIN (
        SELECT day, business_days - 2 AS counted_from
        FROM business_calendar
        WHERE is_business_day
    ) AS b ON b.counted_from = c.business_days
)
SELECT
    d.change_id,
    d.impact,
    STRFTIME(d.submitted_at, '%Y-%m') AS month,
    d.due_at,
    d.reviewed_at IS NOT NULL AND d.reviewed_at <= d.due_at AS on_time,
    (d.reviewed_at IS NOT NULL AND d.reviewed_at > d.due_at)
        OR (d.reviewed_at IS NULL AND d.due_at < p.as_of) AS late,
    d.reviewed_at IS NULL AND d.due_at >= p.as_of AS pending,
    d.impact = 'regulatory' AS escalate
FROM due AS d
CROSS JOIN params AS p
ORDER BY d.change_id
