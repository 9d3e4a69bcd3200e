"""Database sources that cannot be read: one message naming the table or query, the column and
the fix, exit code 1 from the CLI, no traceback, nothing written, never the password."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from territory.cli import cli
from territory.db.source import DatabaseSource
from territory.errors import InputError, TerritoryError, ValidationError
from territory.io import as_frame
from territory.plan import Plan

from . import db_book, pgserver


def cli_fails(args, tmp_path) -> str:
    """Run the CLI; it must exit 1 with a message, no traceback, nothing written."""
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(cli, [*args, "-o", str(out)])
    text = result.output
    assert result.exit_code == 1, text
    assert "Traceback" not in text and "Error:" in text
    assert pgserver.PASSWORD not in text
    assert not out.exists()
    return " ".join(text.split())


def assign_args(url: str, schema: str, accounts: str = "accounts") -> list[str]:
    return ["assign", f"{url}#{schema}.{accounts}", f"{url}#{schema}.blocks",
            "--alignment", f"{url}#{schema}.alignment", "--block-id", "block_id"]  # fmt: skip


def test_cli_reads_database_tables_like_files(pg_book, tmp_path):
    url, schema = pg_book
    paths = db_book.write_files(tmp_path)
    from_files = tmp_path / "files.csv"
    args = ["assign", str(paths["accounts"]), str(paths["blocks"]), "--alignment",
            str(paths["alignment"]), "--block-id", "block_id", "-o", str(from_files)]  # fmt: skip
    assert CliRunner().invoke(cli, args).exit_code == 0
    from_db = tmp_path / "db.csv"
    result = CliRunner().invoke(cli, [*assign_args(url, schema), "-o", str(from_db)])
    assert result.exit_code == 0, result.output
    assert from_db.read_text() == from_files.read_text()


def test_unknown_table_lists_the_tables(pg_book, duck_book, tmp_path):
    url, schema = pg_book
    text = cli_fails(assign_args(url, schema, "acounts"), tmp_path)
    assert f"There is no table {schema}.acounts for the accounts in postgresql" in text
    assert "accounts, accounts_geo, alignment, blocks, orders, targets" in text
    with pytest.raises(InputError, match=r"no table sales\.acounts .* sales\.accounts"):
        as_frame(DatabaseSource(duck_book, table="sales.acounts"), "accounts")
    with pytest.raises(InputError, match="Schema 'nope' .* does not exist"):
        as_frame(DatabaseSource(url, table="nope.accounts"), "accounts")


def test_missing_column_names_the_table(pg_book, tmp_path):
    url, schema = pg_book
    text = cli_fails([*assign_args(url, schema), "--account-id", "acct"], tmp_path)
    assert "acct" in text and f"table {schema}.accounts in postgresql" in text
    data = {"accounts": {"source": {"database": url, "table": f"{schema}.accounts"},
                         "measures": ["turnover"]},
            "blocks": {"source": {"database": url, "table": f"{schema}.blocks"}},
            "alignment": {"source": {"database": url, "table": f"{schema}.alignment"}}}  # fmt: skip
    with pytest.raises(TerritoryError, match=rf"turnover.*table {schema}\.accounts in "):
        Plan.from_dict(data).run()


def test_geometry_column_of_the_wrong_type(pg_book, duck_book):
    url, schema = pg_book
    for database, table in ((url, f"{schema}.accounts_geo"), (duck_book, "sales.accounts_geo")):
        src = DatabaseSource(database, table=table, geometry="segment")
        with pytest.raises(InputError, match=r"Column 'segment' of the table .* is not a geometry"):
            as_frame(src, "accounts")
        src = DatabaseSource(database, table=table, geometry="shape")
        with pytest.raises(InputError, match=r"Geometry column 'shape' is not in the table .* "
                                             r"Columns: account_id, revenue"):  # fmt: skip
            as_frame(src, "accounts")


def test_connection_refused_and_database_missing(postgis_server, postgis_url, tmp_path):
    nowhere = postgis_url.replace("/socket", "/no-server-here")
    text = cli_fails(assign_args(nowhere, "public"), tmp_path)
    # territories are read first: the blocks table is where the connection fails
    assert "Cannot connect to the blocks database" in text and "no server is listening" in text
    missing = postgis_url.replace("/territory?", "/no_such_db?")
    text = cli_fails(assign_args(missing, "public"), tmp_path)
    assert "does not exist on that server" in text and "no_such_db" in text
    text = cli_fails(assign_args(f"duckdb:///{tmp_path}/none.duckdb", "main"), tmp_path)
    assert "does not exist: no file" in text


def test_password_refused_and_never_shown(postgis_server, postgis_url, monkeypatch, tmp_path):
    wrong = "Wrong-Secret-42"
    monkeypatch.setenv("PGPASSWORD", wrong)
    text = cli_fails(assign_args(postgis_url, "public"), tmp_path)
    assert "refused the password" in text and "PGPASSWORD" in text
    assert wrong not in text
    monkeypatch.delenv("PGPASSWORD")
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    text = cli_fails(assign_args(postgis_url, "public"), tmp_path)
    assert "refused the password" in text
    # written into the URL, it is refused before any connection, and not repeated
    with_password = postgis_url.replace("territory@", f"territory:{wrong}@")
    text = cli_fails(assign_args(with_password, "public"), tmp_path)
    assert "contains a password" in text and wrong not in text


def test_permission_denied_names_the_table(pg_book, postgis_server, tmp_path):
    url, schema = pg_book
    table = db_book.new_schema()
    postgis_server.psql(f"CREATE TABLE public.{table} (account_id text, lat float, lon float)")
    try:
        args = assign_args(url, schema)
        args[1] = f"{url}#public.{table}"  # a table the user may not read
        text = cli_fails(args, tmp_path)
        assert "The accounts database" in text
        assert "denied access" in text and f"permission denied for table {table}" in text
        assert "GRANT" in text
    finally:
        postgis_server.psql(f"DROP TABLE public.{table}")


def test_queries_run_read_only(pg_book, postgis_server, duck_book):
    url, schema = pg_book
    before = postgis_server.psql(f"SELECT count(*) FROM {schema}.accounts")
    delete = f"DELETE FROM {schema}.accounts RETURNING *"
    for query in (delete, f"WITH d AS ({delete}) SELECT * FROM d"):
        with pytest.raises(InputError, match="The query for the accounts in postgresql.* failed"):
            as_frame(DatabaseSource(url, query=query), "accounts")
    assert postgis_server.psql(f"SELECT count(*) FROM {schema}.accounts") == before
    with pytest.raises(InputError, match="read-only"):
        as_frame(DatabaseSource(duck_book, query="CREATE TABLE x AS SELECT 1 AS a"), "accounts")
    with pytest.raises(InputError, match=r"query for the accounts .* failed: .*nocolumn"):
        as_frame(DatabaseSource(url, query=f"SELECT nocolumn FROM {schema}.accounts"), "accounts")


def test_row_problems_name_the_row_of_the_table(duck_book, tmp_path):
    import duckdb

    path = tmp_path / "dup.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE accounts (account_id VARCHAR, lat DOUBLE, lon DOUBLE)")
    con.execute("INSERT INTO accounts VALUES ('007', 1, 1), ('008', 1, 2), ('007', 2, 2)")
    con.close()
    with pytest.raises(ValidationError) as err:
        Plan.from_dict({
            "accounts": {"source": {"database": f"duckdb:///{path}", "table": "accounts"}},
            "territories": {"path": str(tmp_path / "unused.geojson")},
        }).accounts.load()  # fmt: skip
    assert "'007' (rows 1, 3). Ids must be unique" in str(err.value)
    assert f"table accounts in duckdb:///{path}" in str(err.value)


def test_plan_file_source_settings_are_checked(tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[accounts]\nsource = { database = "postgresql://planner@db.example/sales", '
        'tabel = "accounts" }\n[territories]\npath = "t.geojson"\n'
    )
    with pytest.raises(TerritoryError, match=r"Unknown key\(s\) tabel .* database, table, query"):
        Plan.from_file(plan)
    plan.write_text(
        '[accounts]\nsource = { database = "postgresql://planner@db.example/sales" }\n'
        '[territories]\npath = "t.geojson"\n'
    )
    with pytest.raises(TerritoryError, match="needs exactly one of table"):
        Plan.from_file(plan)
    plan.write_text('[accounts]\nsource = "accounts.csv"\n[territories]\npath = "t.geojson"\n')
    with pytest.raises(TerritoryError, match="a file goes into path"):
        Plan.from_file(plan)


def test_subprocess_error_has_no_traceback(postgis_server, postgis_url, tmp_path):
    missing = postgis_url.replace("/territory?", "/no_such_db?")
    out = subprocess.run(
        [sys.executable, "-m", "territory", *assign_args(missing, "public"),
         "-o", str(tmp_path / "x.csv")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 1
    assert "Traceback" not in out.stderr + out.stdout
    assert "does not exist on that server" in " ".join(out.stderr.split())
    assert pgserver.PASSWORD not in out.stderr + out.stdout
    assert not (tmp_path / "x.csv").exists()


def test_layers_without_geometry_or_crs_say_what_a_table_needs(duck_book, tmp_path):
    args = ["validate", f"{duck_book}#sales.accounts", f"{duck_book}#sales.blocks",
            "--alignment", f"{duck_book}#sales.alignment"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    text = " ".join(result.output.split())
    assert result.exit_code == 1 and "Traceback" not in text
    assert "The block table sales.blocks in duckdb:///" in text and "has no CRS" in text
    assert "DuckDB geometries carry none" in text and "crs in the plan file" in text
    plan = Plan.from_dict({
        "accounts": {"source": {"database": duck_book, "table": "sales.accounts"}},
        "blocks": {"source": {"database": duck_book, "table": "sales.alignment"}},
        "alignment": {"source": {"database": duck_book, "table": "sales.alignment"}},
    })  # fmt: skip
    expected = r"block table sales\.alignment in duckdb:.* no geometry column\. Blocks must be "
    with pytest.raises(InputError, match=expected + r"polygons \(a PostGIS geometry"):
        plan.run()


def test_a_failed_read_leaves_no_connection_open(tmp_path, duck_book):
    import duckdb

    with pytest.raises(InputError, match="no table sales.acounts") as caught:
        as_frame(DatabaseSource(duck_book, table="sales.acounts"), "accounts")
    kept = caught.value  # the error kept, as a notebook keeps the last one
    assert kept.__traceback__ is not None
    # the same process can open the file read-write at once (a left-open read-only connection
    # would refuse: "different configuration than existing connections")
    duckdb.connect(duck_book.removeprefix("duckdb:///")).close()


def test_a_duckdb_query_cannot_write_files_or_other_databases(tmp_path, duck_book):
    leaked, side = tmp_path / "leaked.csv", tmp_path / "side.duckdb"
    for query in (f"COPY (SELECT * FROM sales.accounts) TO '{leaked}'",
                  f"ATTACH '{side}' AS side"):  # fmt: skip
        with pytest.raises(InputError, match="query for the accounts .* failed"):
            as_frame(DatabaseSource(duck_book, query=query), "accounts")
    assert not leaked.exists() and not side.exists()
    # plain queries still work
    frame, _ = as_frame(DatabaseSource(duck_book, query="SELECT * FROM sales.accounts"), "x")
    assert len(frame) > 0
