"""Results written to DuckDB files (one transaction, spatial types from the offline extension),
and designed alignments written to DuckDB and PostGIS. The oracle is duckdb / pandas reading
the file back."""

from __future__ import annotations

import signal

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import box

from territory.cli import cli
from territory.db import write as db_write
from territory.db.write import load_spatial
from territory.errors import OutputError
from territory.model import Plan
from tests.test_db_write import (
    HOSTILE,
    assert_tables_equal,
    pg_reader,
    start_paused_run,
    wait_for_first_table,
    without_adjustments_and_segments,
    write_plan,
)


def duck_url(path) -> str:
    return f"duckdb:///{path}"


def duck_reader(path, schema: str = "main"):
    def read(table: str) -> pd.DataFrame:
        con = duckdb.connect(str(path), read_only=True)
        try:
            load_spatial(con)
            name = f'"{path.stem}"."{schema}"."{table}"'  # the schema may be the file's name
            frame = con.execute(f"select * from {name}").df()
        finally:
            con.close()
        return frame

    return read


def duck_snapshot(path) -> dict[str, list]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        load_spatial(con)
        names = con.execute(
            "select table_catalog, table_schema, table_name from information_schema.tables "
            "order by all"
        ).fetchall()
        return {
            f"{s}.{n}": sorted(
                map(
                    repr,
                    con.execute(f'select columns(*)::varchar from "{c}"."{s}"."{n}"').fetchall(),
                )
            )
            for c, s, n in names
        }
    finally:
        con.close()


def test_plan_run_writes_every_table_to_a_duckdb_file_as_computed(tmp_path):
    db = tmp_path / "plans.duckdb"
    plan = write_plan(tmp_path, f'database = "{duck_url(db)}"\n')
    result = CliRunner().invoke(cli, ["run", str(plan)])
    assert result.exit_code == 0, result.output
    assert_tables_equal(duck_reader(db), Plan.from_file(plan).run())
    con = duckdb.connect(str(db), read_only=True)
    load_spatial(con)
    types = dict(
        con.execute(
            "select column_name, data_type from information_schema.columns where table_name = "
            "'territory_assignments'"
        ).fetchall()
    )
    assert types["account_id"] == "VARCHAR" and types["revenue"] == "DOUBLE"
    assert types["run_at"] == "TIMESTAMP WITH TIME ZONE"
    shapes = con.execute(
        "select territory_id, ST_AsWKB(geometry) from territory_shapes order by 1"
    ).fetchall()
    con.close()
    layer = gpd.read_file(tmp_path / "territories.geojson").set_index("territory_id")
    assert [t for t, _ in shapes] == ["007", "010"]
    for tid, wkb in shapes:
        assert shapely.from_wkb(bytes(wkb)).equals(layer.geometry[tid])


def test_duckdb_append_twice_then_replace(tmp_path):
    db = tmp_path / "plans.duckdb"
    plan = write_plan(tmp_path, f'database = "{duck_url(db)}"\nschema = "plans"\n')
    for _ in range(2):
        result = CliRunner().invoke(cli, ["run", str(plan), "--mode", "append"])
        assert result.exit_code == 0, result.output
    read = duck_reader(db, "plans")
    assignments = read("territory_assignments")
    assert assignments["run_id"].nunique() == 2 and len(assignments) == 10
    assert len(read("territory_adjustments")) == 2 * 2
    result = CliRunner().invoke(cli, ["run", str(plan)])
    assert result.exit_code == 0, result.output
    assert_tables_equal(read, Plan.from_file(plan).run())


def test_a_duckdb_replace_removes_the_tables_an_older_run_had_and_this_one_has_not(tmp_path):
    db = tmp_path / "plans.duckdb"
    plan = write_plan(tmp_path, f'database = "{duck_url(db)}"\n')
    assert CliRunner().invoke(cli, ["run", str(plan)]).exit_code == 0
    tables = set(duck_snapshot(db))
    assert {"main.territory_adjustments", "main.territory_segment_kpis"} <= tables
    without_adjustments_and_segments(plan)
    result = CliRunner().invoke(cli, ["run", str(plan)])
    assert result.exit_code == 0, result.output
    assert "territory_segment_kpis removed" in result.output
    assert set(duck_snapshot(db)) == tables - {"main.territory_adjustments",
                                               "main.territory_segment_kpis"}  # fmt: skip
    assert_tables_equal(duck_reader(db), Plan.from_file(plan).run())


def test_a_duckdb_run_failing_after_the_first_table_changes_nothing(tmp_path, monkeypatch):
    db = tmp_path / "plans.duckdb"
    plan = write_plan(tmp_path, f'database = "{duck_url(db)}"\n')
    assert CliRunner().invoke(cli, ["run", str(plan)]).exit_code == 0
    before = duck_snapshot(db)
    write_plan(tmp_path, f'database = "{duck_url(db)}"\n', revenue_scale=2.0)
    write_table, sent = db_write._duck_table, []

    def write_then_fail(con, database, target, schema, table, spatial):
        if sent:
            raise duckdb.IOException("No space left on device")
        write_table(con, database, target, schema, table, spatial)
        sent.append(table.name)

    monkeypatch.setattr(db_write, "_duck_table", write_then_fail)
    result = CliRunner().invoke(cli, ["run", str(plan)])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "Nothing was written" in message and "territory_kpis" in message
    assert "No space left on device" in message and "The output files were written" in message
    assert sent == ["territory_assignments"]
    assert duck_snapshot(db) == before


@pytest.mark.slow
def test_a_run_killed_mid_write_leaves_the_duckdb_file_as_it_was(tmp_path):
    db = tmp_path / "plans.duckdb"
    plan = write_plan(tmp_path, f'database = "{duck_url(db)}"\n')
    assert CliRunner().invoke(cli, ["run", str(plan)]).exit_code == 0
    before = duck_snapshot(db)
    write_plan(tmp_path, f'database = "{duck_url(db)}"\n', revenue_scale=7.0)
    proc = start_paused_run(["run", str(plan), "--mode", "append"], {})
    assert wait_for_first_table(proc) == "territory_assignments"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert duck_snapshot(db) == before


def test_hostile_names_and_values_in_duckdb(tmp_path):
    db = tmp_path / "plans.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create table accounts (id integer)")
    con.close()
    result = Plan.from_file(write_plan(tmp_path)).run()
    report = result.to_database(duck_url(db), schema=HOSTILE, tables={"kpis": HOSTILE})
    assert (f"{HOSTILE}.{HOSTILE}", 2) in report.tables
    assert "main.accounts" in duck_snapshot(db)
    read = duck_reader(db, HOSTILE)
    assert HOSTILE in set(read(HOSTILE)["name"])
    assert HOSTILE in set(read("territory_adjustments")["reason"])


def test_an_unopenable_duckdb_file_is_reported_before_the_run(tmp_path):
    plan = write_plan(tmp_path)
    url = duck_url(tmp_path / "missing-folder" / "plans.duckdb")
    result = CliRunner().invoke(cli, ["run", str(plan), "--to-database", url])
    assert result.exit_code == 1
    assert "folder does not exist" in result.output
    assert not (tmp_path / "out").exists()


# --- a designed alignment -----------------------------------------------------------------------


@pytest.fixture
def blocks_and_accounts(tmp_path):
    cells = [(r, c) for r in range(2) for c in range(4)]
    gpd.GeoDataFrame(
        {"block_id": [f"0{i}" for i in range(len(cells))]},
        geometry=[box(c, r, c + 1, r + 1) for r, c in cells],
        crs="EPSG:4326",
    ).to_file(tmp_path / "blocks.geojson")
    rng = np.random.default_rng(1)
    pd.DataFrame(
        {
            "account_id": [f"A{i:03d}" for i in range(40)],
            "lat": rng.uniform(0.05, 1.95, 40),
            "lon": rng.uniform(0.05, 3.95, 40),
            "revenue": rng.uniform(10, 100, 40).round(2),
        }
    ).to_csv(tmp_path / "accounts.csv", index=False)
    return tmp_path


def design_args(folder, *extra):
    return ["design", str(folder / "blocks.geojson"), "--accounts", str(folder / "accounts.csv"),
            "-k", "2", "--out", str(folder / "design"), *extra]  # fmt: skip


def test_design_writes_the_alignment_and_dissolved_territories_to_duckdb(blocks_and_accounts):
    folder = blocks_and_accounts
    db = folder / "design.duckdb"
    result = CliRunner().invoke(cli, design_args(folder, "--to-database", duck_url(db)))
    assert result.exit_code == 0, result.output
    read = duck_reader(db)
    got = read("territory_alignment").drop(columns=["run_id", "run_at"])
    expected = pd.read_csv(folder / "design" / "alignment.csv", dtype=str)
    pd.testing.assert_frame_equal(
        got.sort_values("block_id").reset_index(drop=True).astype(object),
        expected.sort_values("block_id").reset_index(drop=True).astype(object),
    )
    assert got["block_id"].str.startswith("0").all()
    con = duckdb.connect(str(db), read_only=True)
    load_spatial(con)
    shapes = con.execute("select territory_id, ST_AsWKB(geometry) from territory_shapes").fetchall()
    con.close()
    written = gpd.read_file(folder / "design" / "territories.geojson").set_index("territory_id")
    assert sorted(t for t, _ in shapes) == sorted(written.index)
    for tid, wkb in shapes:
        assert (
            shapely.from_wkb(bytes(wkb))
            .normalize()
            .equals_exact(written.geometry[tid].normalize(), 1e-9)
        )
    assert len(read("territory_quality")) == 2


def test_rebalance_appends_the_alignment_to_postgis_with_its_srid(
    blocks_and_accounts, postgis_server, postgis_url
):
    folder = blocks_and_accounts
    postgis_server.psql("drop schema if exists designs cascade")
    result = CliRunner().invoke(cli, design_args(folder))
    assert result.exit_code == 0, result.output
    current = folder / "design" / "alignment.csv"
    (folder / "current.csv").write_bytes(current.read_bytes())
    args = ["rebalance", str(folder / "blocks.geojson"), "--current", str(folder / "current.csv"),
            "--accounts", str(folder / "accounts.csv"), "--out", str(folder / "again"),
            "--to-database", postgis_url, "--schema", "designs", "--mode", "append"]  # fmt: skip
    for _ in range(2):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
    read = pg_reader(postgis_url, "designs")
    alignment = read("territory_alignment")
    assert alignment["run_id"].nunique() == 2 and len(alignment) == 2 * 8
    srids = postgis_server.psql("select distinct ST_SRID(geometry) from designs.territory_shapes")
    assert srids.split() == ["4326"]


def test_to_database_refuses_a_result_table_with_a_run_column(tmp_path):
    result = Plan.from_file(write_plan(tmp_path)).run()
    result.kpis["run_id"] = "mine"
    with pytest.raises(OutputError, match="run_id.*Rename"):
        result.to_database(duck_url(tmp_path / "x.duckdb"))
    assert not (tmp_path / "x.duckdb").exists()


def test_write_database_is_one_call_for_a_design_and_a_plan_run(blocks_and_accounts):
    import territory

    folder = blocks_and_accounts
    db = folder / "api.duckdb"
    designed = territory.design(folder / "blocks.geojson", folder / "accounts.csv", k=2)
    report = territory.write_database(designed, duck_url(db), run_id="design-1")
    assert [name for name, _ in report.tables] == [
        "main.territory_alignment",
        "main.territory_shapes",
        "main.territory_quality",
    ]
    alignment = duck_reader(db)("territory_alignment")
    assert set(alignment["run_id"]) == {"design-1"}
    pd.testing.assert_series_equal(
        alignment["territory_id"].astype(object),
        designed.alignment["territory_id"].astype(object),
        check_names=False,
    )
    run = Plan.from_file(write_plan(folder)).run()
    report = territory.write_database(run, duck_url(db), only=("kpis",))
    assert [name for name, _ in report.tables] == ["main.territory_kpis"]


def test_results_never_replace_an_input_table_nor_go_to_memory(tmp_path, duck_book):
    from territory import make_plan

    path = duck_book.removeprefix("duckdb:///")
    before = duck_snapshot(path)
    plan = make_plan(f"{duck_book}#sales.accounts", blocks=f"{duck_book}#sales.blocks",
                     alignment=f"{duck_book}#sales.alignment", block_id="block_id",
                     crs="EPSG:4326")  # fmt: skip
    result = plan.run()
    with pytest.raises(OutputError, match="is an input of this run"):
        result.to_database(duck_book, schema="sales", tables={"assignments": "accounts"})
    with pytest.raises(OutputError, match="is an input of this run"):  # case and default schema
        result.to_database(duck_book, schema="SALES", tables={"kpis": "Blocks"})
    assert duck_snapshot(path) == before
    with pytest.raises(OutputError, match="in-memory DuckDB database"):
        result.to_database("duckdb:///:memory:")
    result.to_database(duck_book, schema="results")  # another schema is fine
    assert duck_snapshot(path) != before


def test_a_relative_duckdb_output_is_in_the_plans_folder(tmp_path, monkeypatch, duck_book):
    folder, elsewhere = tmp_path / "plans", tmp_path / "cwd"
    folder.mkdir()
    elsewhere.mkdir()
    (folder / "plan.toml").write_text(
        f'[accounts]\nsource = {{ database = "{duck_book}", table = "sales.accounts" }}\n'
        f'crs = "EPSG:4326"\n[blocks]\nsource = {{ database = "{duck_book}", table = '
        f'"sales.blocks" }}\nid = "block_id"\ncrs = "EPSG:4326"\n[alignment]\nsource = {{ '
        f'database = "{duck_book}", table = "sales.alignment" }}\n'
        '[outputs]\ndir = "out"\nmap = ""\ndatabase = "duckdb:///results.duckdb"\n'
    )
    monkeypatch.chdir(elsewhere)
    res = CliRunner().invoke(cli, ["run", str(folder / "plan.toml")])
    assert res.exit_code == 0, res.output
    assert (folder / "out").is_dir() and (folder / "results.duckdb").is_file()
    assert not (elsewhere / "results.duckdb").exists()


def test_a_column_the_database_cannot_hold_is_a_clear_error_before_writing():
    import datetime as dt

    from territory.db.tables import prepare

    now = dt.datetime.now(dt.UTC)
    for frame, column in (
        (pd.DataFrame({"at": pd.to_datetime(["2020-01-01 00:00:00.000000001"])}), "at"),
        (pd.DataFrame({"big": np.array([2**64 - 1], dtype=np.uint64)}), "big"),
    ):
        with pytest.raises(OutputError, match=f"Column '{column}' of the kpis table cannot be"):
            prepare("kpis", "kpis", frame, "run", now, "outputs")
