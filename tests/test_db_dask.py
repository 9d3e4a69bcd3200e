"""The Dask engine reads a database table by key ranges, one per worker task, and gives the
results of the local engine on the same data from a file."""

from __future__ import annotations

import pandas as pd
import pytest

import territory

from . import db_book, pgserver

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    # workers inherit the environment they start in: the password is there, as for a user
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PGPASSWORD", pgserver.PASSWORD)
        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
            with Client(cluster) as client:
                yield client


def plan(accounts, blocks, alignment):
    return territory.make_plan(
        accounts, blocks=blocks, alignment=alignment, block_id="block_id",
        segments=["segment"], target_from="revenue", crs="EPSG:4326",
    )  # fmt: skip


def assert_same(local, other) -> None:
    cols = list(local.assignments.columns)
    got = other.assignments.compute()
    order = got["account_id"].argsort(kind="stable")
    expected = local.assignments.sort_values("account_id", kind="stable")
    pd.testing.assert_frame_equal(
        expected[cols].reset_index(drop=True), got.iloc[order][cols].reset_index(drop=True),
        check_dtype=False, check_categorical=False,
    )  # fmt: skip
    pd.testing.assert_frame_equal(local.kpis, other.kpis, rtol=1e-12)
    pd.testing.assert_frame_equal(local.segments["segment"], other.segments["segment"],
                                  rtol=1e-12)  # fmt: skip
    for key in ("accounts", "assigned", "unassigned", "methods", "territories"):
        assert local.summary[key] == other.summary[key]


def test_dask_partitions_database_tables_by_key(cluster, pg_book, tmp_path):
    paths = db_book.write_files(tmp_path)
    local = plan(str(paths["accounts"]), str(paths["blocks"]), str(paths["alignment"])).run()
    url, schema = pg_book
    duck = tmp_path / "crm.duckdb"
    db_book.load_duckdb(duck)
    for database, prefix in ((url, schema), (f"duckdb:///{duck}", "sales")):
        tables = [f"{database}#{prefix}.{t}" for t in ("accounts", "blocks", "alignment")]
        result = plan(*tables).run(engine="dask", client=cluster, partition_rows=25)
        assert result.assignments.npartitions == 4  # 80 accounts, ranges of 25 keys
        assert_same(local, result)


def test_dask_reads_a_query_whole_and_reports_rows_by_partition(cluster, pg_book, postgis_server):
    url, schema = pg_book
    query = territory.DatabaseSource(url, query=f"SELECT * FROM {schema}.accounts")
    blocks = territory.DatabaseSource(url, table=f"{schema}.blocks")
    alignment = territory.DatabaseSource(url, table=f"{schema}.alignment")
    result = plan(query, blocks, alignment).run(engine="dask", client=cluster, partition_rows=30)
    assert result.summary["accounts"] == db_book.N
    postgis_server.psql(f"UPDATE {schema}.accounts SET lat = 123 WHERE account_id = '000350'")
    table = territory.DatabaseSource(url, table=f"{schema}.accounts")
    # account 000350 is the 51st id in key order: the third range of 25
    with pytest.raises(territory.ValidationError,
                       match=rf"table {schema}\.accounts in .*\(partition 3\) on row"):  # fmt: skip
        plan(table, blocks, alignment).run(engine="dask", client=cluster, partition_rows=25)
