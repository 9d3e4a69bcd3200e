"""Large database tables stream through the local engine in batches: the peak memory of a
3-million-row table stays that of a table ten times smaller (PostGIS server-side cursor,
DuckDB Arrow batches). The figures are printed; nothing is timed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from . import db_book

ROOT = Path(__file__).resolve().parents[1]
BIG, SMALL, BATCH = 3_000_000, 300_000, 100_000

# generated rows: ids with leading zeros, coordinates and a numeric revenue (i % 5000)
PG_ROWS = (
    "SELECT lpad(i::text, 9, '0') AS account_id, 30 + (i % 997) / 100.0 AS lat, "
    "-100 + (i % 991) / 100.0 AS lon, (i % 5000)::numeric(12,2) AS revenue "
    "FROM generate_series(1, {n}) AS i"
)
DUCK_ROWS = (
    "SELECT lpad(i::varchar, 9, '0') AS account_id, 30 + (i % 997) / 100.0 AS lat, "
    "-100 + (i % 991) / 100.0 AS lon, (i % 5000)::decimal(12,2) AS revenue "
    "FROM range(1, {n} + 1) AS t(i)"
)


def revenue_of(n: int) -> float:
    full, rest = divmod(n, 5000)
    return float(full * sum(range(5000)) + sum(range(1, rest + 1)))


def peak(url: str, table: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "tests.db_stream", url, table, str(BATCH)],
        capture_output=True, text=True, cwd=ROOT, env=os.environ.copy(), timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def check_flat(url: str, tables: dict[int, str], what: str) -> None:
    runs = {n: peak(url, table) for n, table in tables.items()}
    for n, run in runs.items():
        assert run["rows"] == run["total"] == n
        assert run["batches"] == n // BATCH
        assert run["revenue"] == revenue_of(n)
    growth = {n: (run["peak_kb"] - run["before_kb"]) / 1024 for n, run in runs.items()}
    print(f"\n{what}: peak memory growth {growth[SMALL]:.0f} MB for {SMALL:,} rows, "
          f"{growth[BIG]:.0f} MB for {BIG:,} rows (batches of {BATCH:,})")  # fmt: skip
    # read whole, the big table alone would take some 300 MB more than the small one
    assert growth[SMALL] > 5  # the figure is measured, not zero
    assert growth[BIG] < 1.25 * growth[SMALL] + 50


@pytest.mark.slow
def test_postgis_table_streams_with_flat_memory(postgis_server, postgis_url):
    schema = db_book.new_schema()
    postgis_server.psql(f"CREATE SCHEMA {schema} AUTHORIZATION territory")
    try:
        for n in (SMALL, BIG):
            postgis_server.psql(
                f"CREATE TABLE {schema}.acc{n} AS {PG_ROWS.format(n=n)}; "
                f"ALTER TABLE {schema}.acc{n} OWNER TO territory"
            )
        check_flat(postgis_url, {n: f"{schema}.acc{n}" for n in (SMALL, BIG)}, "PostGIS")
    finally:
        postgis_server.psql(f"DROP SCHEMA {schema} CASCADE")


@pytest.mark.slow
def test_duckdb_table_streams_with_flat_memory(tmp_path):
    import duckdb

    path = tmp_path / "big.duckdb"
    con = duckdb.connect(str(path))
    for n in (SMALL, BIG):
        con.execute(f"CREATE TABLE acc{n} AS {DUCK_ROWS.format(n=n)}")
    con.close()
    check_flat(f"duckdb:///{path}", {n: f"acc{n}" for n in (SMALL, BIG)}, "DuckDB")
