-- vouch: residual rows of deleted subjects in one table, as portable SQL.
--
-- The same check `vouch scan` makes, for cross-checking it at warehouse scale in Athena,
-- Trino, Spark SQL or DuckDB. Replace the three parameters before running:
--   {{table}}      the table: silver_private.events in a catalog, or in DuckDB
--                  read_parquet('lake/events/**/*.parquet', hive_partitioning = false)
--   {{id_column}}  the subject identifier column, e.g. user_id
--   {{id_list}}    the deleted subjects' IDs as SQL literals of the column's type:
--                  '5002', '5007' for text columns; 5002, 5007 for integer columns;
--                  UUID literals ('...' in DuckDB and Athena/Trino) for UUID columns
-- For a table with several identifier columns run it once per column (a row can name
-- the same subject twice; vouch counts such a row once).
--
-- Result: one row per subject that still has rows, and how many. No rows means clean.
SELECT
    CAST({{id_column}} AS VARCHAR) AS subject,
    COUNT(*) AS residual_rows
FROM {{table}}
WHERE {{id_column}} IN ({{id_list}})
GROUP BY CAST({{id_column}} AS VARCHAR)
ORDER BY subject;
