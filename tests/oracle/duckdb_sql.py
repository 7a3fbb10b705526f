"""Runs SQL statements in DuckDB. Argument: JSON {"statements": [sql, ...]}.
Prints JSON: for each statement, its rows as lists."""
import json
import sys

import duckdb

arg = json.loads(sys.argv[1])
con = duckdb.connect()
print(json.dumps([[list(map(str, r)) for r in con.execute(s).fetchall()] for s in arg["statements"]]))
