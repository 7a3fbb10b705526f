-- vouch metrics dsar: one row per data subject request with its deadline under its
-- jurisdiction's rule (runbook §2; GDPR art. 12(3): one month, extendable by two further
-- months; CCPA: 45 days, once extendable by 45, receipt confirmed within 10 business days;
-- LGPD: 15 days).
--
-- Tables: dsar_request (the input; subject_id is never read), params (as_of),
-- dsar_rules (jurisdiction, months, days, extension_months, extension_days,
-- receipt_business_days: the built-in rules and [dsar.jurisdictions] in vouch.toml),
-- business_calendar (day, is_business_day, business_days: business days up to and
-- including the day; Monday to Friday and not in --holidays). Times are UTC.
--   jurisdiction      the request's, 'gdpr' when empty
--   due_at            received_at + the rule's months (same time of day, clamped to the
--                     last day of the target month: Jan 31 + 1 month -> Feb 28 or 29) +
--                     its days; extended: + the extension's months and days as well
--   completed         completed_at is set (an open request has none)
--   on_time           completed_at <= due_at (NULL while open)
--   days_to_complete  (completed_at - received_at) in days, fractional
--   overdue           open and due_at before as_of
--   at_risk           open and due within 5 days after as_of (as_of <= due_at <= as_of + 5 days)
--   receipt_due       with a receipt rule: the rule's number of business days after the
--                     day of received_at, at the same time of day
--   receipt_late      acknowledged_at after receipt_due, or not acknowledged and
--                     receipt_due before as_of
WITH requests AS (
    SELECT
        r.request_id,
        r.request_type,
        r.received_at,
        r.completed_at,
        r.acknowledged_at,
        COALESCE(r.extended, FALSE) AS extended,
        CASE
            WHEN r.jurisdiction IS NULL OR TRIM(r.jurisdiction) = '' THEN 'gdpr'
            ELSE LOWER(TRIM(r.jurisdiction))
        END AS jurisdiction
    FROM dsar_request AS r
),
ruled AS (
    SELECT
        q.*,
        CASE WHEN q.extended THEN u.months + u.extension_months ELSE u.months END AS months,
        CASE WHEN q.extended THEN u.days + u.extension_days ELSE u.days END AS days,
        u.receipt_business_days
    FROM requests AS q
    JOIN dsar_rules AS u ON u.jurisdiction = q.jurisdiction
),
due AS (
    SELECT
        j.*,
        CASE j.months
            WHEN 0 THEN j.received_at
            WHEN 1 THEN j.received_at + INTERVAL '1 month'
            WHEN 2 THEN j.received_at + INTERVAL '2 months'
            WHEN 3 THEN j.received_at + INTERVAL '3 months'
            WHEN 4 THEN j.received_at + INTERVAL '4 months'
            WHEN 5 THEN j.received_at + INTERVAL '5 months'
            WHEN 6 THEN j.received_at + INTERVAL '6 months'
            WHEN 7 THEN j.received_at + INTERVAL '7 months'
            WHEN 8 THEN j.received_at + INTERVAL '8 months'
            WHEN 9 THEN j.received_at + INTERVAL '9 months'
            WHEN 10 THEN j.received_at + INTERVAL '10 months'
            WHEN 11 THEN j.received_at + INTERVAL '11 months'
            WHEN 12 THEN j.received_at + INTERVAL '12 months'
        END + j.days * INTERVAL '1 day' AS due_at,
        CAST(j.received_at AS DATE) AS received_day,
        j.received_at - CAST(CAST(j.received_at AS DATE) AS TIMESTAMP) AS time_of_day
    FROM ruled AS j
),
receipt_target AS (
    SELECT d.request_id, c.business_days + d.receipt_business_days AS target
    FROM due AS d
    JOIN business_calendar AS c ON c.day = d.received_day
    WHERE d.receipt_business_days IS NOT NULL
),
receipt AS (
    SELECT t.request_id, CAST(b.day AS TIMESTAMP) AS receipt_day
    FROM receipt_target AS t
    JOIN (
        SELECT day, business_days FROM business_calendar WHERE is_business_day
    ) AS b ON b.business_days = t.target
)
SELECT
    d.request_id,
    d.request_type,
    d.jurisdiction,
    STRFTIME(d.received_at, '%Y-%m') AS month,
    d.due_at,
    d.completed_at IS NOT NULL AS completed,
    d.completed_at <= d.due_at AS on_time,
    (EXTRACT(EPOCH FROM d.completed_at) - EXTRACT(EPOCH FROM d.received_at)) / 86400.0
        AS days_to_complete,
    d.completed_at IS NULL AND d.due_at < p.as_of AS overdue,
    d.completed_at IS NULL AND d.due_at >= p.as_of AND d.due_at <= p.as_of + INTERVAL '5 days'
        AS at_risk,
    e.receipt_day + d.time_of_day AS receipt_due,
    COALESCE(
        (d.acknowledged_at IS NOT NULL AND d.acknowledged_at > e.receipt_day + d.time_of_day)
            OR (d.acknowledged_at IS NULL AND e.receipt_day + d.time_of_day < p.as_of),
        FALSE
    ) AS receipt_late
FROM due AS d
LEFT JOIN receipt AS e ON e.request_id = d.request_id
CROSS JOIN params AS p
ORDER BY d.request_id
