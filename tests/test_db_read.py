"""Databases as sources: the same plan from files, from PostGIS and from DuckDB gives the same
assignments, KPI tables, summary and tracking (the file run is the oracle); batches through the
local engine; types kept; rows named by table."""

from __future__ import annotations

import pandas as pd
import pandas.testing as pdt
import pytest

from territory.db.source import DatabaseSource
from territory.errors import InputError, ValidationError
from territory.io import as_frame
from territory.plan import Plan

from . import db_book


@pytest.fixture(scope="module")
def book_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("book")
    return folder, db_book.write_files(folder)


def plan_data(inputs: dict, geometry: bool = False) -> dict:
    """The one plan; ``inputs`` maps each input to a path or a database source table."""

    def where(name):
        value = inputs[name]
        return {"source": value} if isinstance(value, dict) else {"path": str(value)}

    accounts = "accounts_geo" if geometry else "accounts"
    return {
        "name": "Book",
        "accounts": {**where(accounts), "measures": ["revenue", "pipeline"], "crs": "EPSG:4326"},
        "blocks": {**where("blocks"), "id": "block_id", "crs": "EPSG:4326"},
        "alignment": where("alignment"),
        "targets": where("targets"),
        "kpis": {"segments": ["segment"], "balance": "revenue"},
        "tracking": {"orders": inputs["orders"], "as_of": "2017-06-30"},
    }


def file_inputs(paths) -> dict:
    return {**{k: str(v) for k, v in paths.items()}}


def db_inputs(database: str, schema: str, **queries) -> dict:
    out = {name: {"database": database, "table": f"{schema}.{name}"} for name in db_book.TABLES}
    for name, query in queries.items():
        out[name] = {"database": database, "query": query}
    return out


def outcome(data: dict, base, **options):
    """Assignments, KPIs, segment KPIs, summary and tracking of the plan (what users read)."""
    from territory.api import track

    plan = Plan.from_dict(data, base=base, source="book.toml")
    result = plan.run(**options)
    summary = {k: v for k, v in result.summary.items() if k != "plugin_seconds"}
    tracked = track(plan, result=result)
    issues = tracked.issues.drop(columns="source")
    return {
        "assignments": result.assignments.reset_index(drop=True),
        "kpis": result.kpis,
        "segments": result.segments["segment"],
        "summary": summary,
        "tracking": tracked.territories,
        "issues": issues,
    }


def assert_same(got: dict, expected: dict, lines: bool = True, dtypes: bool = True) -> None:
    """Equal outputs; ``lines``: the expected run read a CSV, whose issues name file lines;
    ``dtypes=False``: a run in batches against one in one piece (the reason column of batches
    is text, not categorical, and sums added batch by batch may differ in the last digit)."""
    tolerance = {"check_exact": True} if dtypes else {"check_exact": False, "rtol": 1e-12}
    for key in ("assignments", "kpis", "segments", "tracking"):
        pdt.assert_frame_equal(got[key], expected[key], obj=key, check_dtype=dtypes,
                               check_categorical=dtypes, **tolerance)  # fmt: skip
    if dtypes:
        assert got["summary"] == expected["summary"]
    else:
        flat = [pd.json_normalize(x["summary"]).iloc[0] for x in (got, expected)]
        pdt.assert_series_equal(*flat, check_dtype=False, **tolerance)
    # the same issues; a CSV names file lines (the header is line 1), a table its rows
    expected_issues = expected["issues"]
    lines = expected_issues.assign(row=expected_issues["row"] - (1 if lines else 0))
    pdt.assert_frame_equal(got["issues"], lines, obj="issues", check_exact=True)
    assert len(lines) > 5


@pytest.mark.parametrize("geometry", [False, True], ids=["lat-lon", "geometry"])
def test_files_postgis_and_duckdb_give_the_same_plan(book_files, pg_book, duck_book, geometry):
    folder, paths = book_files
    oracle = outcome(plan_data(file_inputs(paths), geometry), folder)
    assert oracle["summary"]["accounts"] == db_book.N
    assert oracle["assignments"]["account_id"].iloc[0] == "000000"  # leading zeros kept
    assert set(oracle["assignments"]["method"]) >= {"inside", "unassigned"}

    url, schema = pg_book
    postgis = outcome(plan_data(db_inputs(url, schema), geometry), folder)
    assert_same(postgis, oracle)
    duck = outcome(plan_data(db_inputs(duck_book, "sales"), geometry), folder)
    assert_same(duck, oracle)
    # in batches through the local engine (server-side cursor / Arrow batches): the same as
    # the (Geo)Parquet file in batches
    files = file_inputs(paths)
    files["accounts"], files["accounts_geo"] = paths["accounts_parquet"], paths["accounts_geo"]
    batched = outcome(plan_data(files, geometry), folder, batch_rows=9)
    assert_same(batched, oracle, lines=False, dtypes=False)  # orders from the same CSV
    assert_same(outcome(plan_data(db_inputs(url, schema), geometry), folder, batch_rows=9),
                batched)  # fmt: skip
    assert_same(outcome(plan_data(db_inputs(duck_book, "sales"), geometry), folder,
                        batch_rows=9), batched)  # fmt: skip


def test_queries_and_wkb_columns_read_like_tables(book_files, pg_book, tmp_path):
    folder, paths = book_files
    oracle = outcome(plan_data(file_inputs(paths), geometry=True), folder)
    url, schema = pg_book
    # the user's own SQL, with a %, a :: cast and a join, run as written
    queries = {
        "accounts_geo": f"SELECT a.*, 'x%'::text AS note FROM {schema}.accounts_geo a "
        "ORDER BY a.account_id",
        "alignment": f"SELECT * FROM {schema}.alignment WHERE territory_id LIKE '%'",
    }
    got = outcome(plan_data(db_inputs(url, schema, **queries), geometry=True), folder)
    assert_same(got, oracle)
    # a DuckDB file written without the spatial types: geometry as WKB BLOB columns
    path = tmp_path / "wkb.duckdb"
    db_book.load_duckdb(path, spatial=False)
    got = outcome(plan_data(db_inputs(f"duckdb:///{path}", "sales"), geometry=True), folder,
                  batch_rows=13)  # fmt: skip
    assert_same(got, oracle, dtypes=False)


def test_types_are_kept(pg_book, duck_book):
    url, schema = pg_book
    for database, table in ((url, f"{schema}.accounts"), (duck_book, "sales.accounts")):
        frame, source = as_frame(DatabaseSource(database, table=table), "accounts")
        expected = db_book.accounts()
        assert frame["account_id"].tolist() == expected["account_id"].tolist()
        assert frame["revenue"].dtype == "float64"  # numeric(12,2) -> a number
        pdt.assert_series_equal(
            frame["revenue"], expected["revenue"], check_names=False, check_exact=True
        )
        assert frame["revenue"].isna().sum() == 2  # NULL -> missing
        assert [pd.Timestamp(v) for v in frame["signed"]] == [
            pd.Timestamp(v) for v in expected["signed"]
        ]
        assert source.name.startswith(f"table {table} in ")


def test_row_errors_name_the_table_and_row(pg_book, postgis_server):
    url, schema = pg_book
    postgis_server.psql(f"UPDATE {schema}.accounts SET account_id = NULL WHERE lat > 4.5")
    blank = postgis_server.psql(
        f"SELECT n FROM (SELECT account_id, row_number() OVER () AS n FROM {schema}.accounts) "
        "t WHERE account_id IS NULL"
    ).split()
    data = plan_data(db_inputs(url, schema))
    with pytest.raises(ValidationError) as err:
        Plan.from_dict(data, source="book.toml").run()
    message = str(err.value)
    assert f"in table {schema}.accounts in postgresql+psycopg://territory@/territory" in message
    assert f"row{'s' if len(blank) > 1 else ''} {blank[0]}" in message
    assert "Every row needs an id" in message


def test_plan_file_duckdb_paths_are_relative_to_the_plan(tmp_path, monkeypatch):
    folder = tmp_path / "plans"
    folder.mkdir()
    db_book.load_duckdb(folder / "crm.duckdb")
    db_book.write_files(folder)
    (folder / "plan.toml").write_text(
        '[accounts]\nsource = { database = "duckdb:///crm.duckdb", table = "sales.accounts" }\n'
        '[blocks]\npath = "blocks.geojson"\nid = "block_id"\n'
        '[alignment]\nsource = { database = "duckdb:///crm.duckdb", query = '
        '"select * from sales.alignment" }\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    plan = Plan.from_file(folder / "plan.toml")
    assert plan.accounts.source.database == f"duckdb:///{folder}/crm.duckdb"
    result = plan.run()
    assert result.summary["accounts"] == db_book.N
    assert "crm.duckdb" not in {p.name for p in elsewhere.iterdir()}


def test_srid_is_one_for_the_whole_table_across_batches(pg_book, monkeypatch):
    import territory.db.read as db_read

    url, schema = pg_book
    monkeypatch.setattr(db_read, "FETCH_ROWS", 4)  # several round trips for a small table
    # the NULL geometry first: its batch alone has no SRID, the table has one
    nulls_first = f"SELECT * FROM {schema}.accounts_geo ORDER BY geom IS NOT NULL, account_id"
    frame, _ = as_frame(DatabaseSource(url, query=nulls_first), "accounts")
    assert frame.geometry.isna().iloc[0] and frame.crs == "EPSG:4326"
    mixed = (
        f"SELECT account_id, CASE WHEN account_id < '000100' THEN ST_Transform(geom, 3857) "
        f"ELSE geom END AS geom FROM {schema}.accounts_geo ORDER BY account_id"
    )
    with pytest.raises(InputError, match=r"Column 'geom' of the query .* mixes SRIDs "
                                         r"\(EPSG:3857, EPSG:4326\)\. Transform"):  # fmt: skip
        as_frame(DatabaseSource(url, query=mixed), "accounts")
