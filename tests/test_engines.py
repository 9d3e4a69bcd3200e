"""Engines: batched local runs and Dask on a LocalCluster give the local engine's results."""

from __future__ import annotations

import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import territory

from .conftest import DATA

pytestmark = pytest.mark.slow


def book(n: int, seed: int = 5) -> pd.DataFrame:
    """Accounts around real ZIP points (a few fall in the sea: nearest and unassigned cases)."""
    zips = pd.read_parquet(DATA / "us_zip_points.parquet")
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(zips), n)
    return pd.DataFrame(
        {
            "account_id": [f"A{i:07d}" for i in range(n)],
            "lat": zips["lat"].to_numpy()[pick] + rng.normal(0, 0.03, n),
            "lon": zips["lon"].to_numpy()[pick] + rng.normal(0, 0.04, n),
            "revenue": rng.gamma(2.0, 4000.0, n).round(2),
            "pipeline": rng.gamma(1.5, 2000.0, n).round(2),
            "channel": rng.choice(["Direct", "Partner", "Online"], n),
        }
    )


def plan_for(accounts, **extra):
    return territory.make_plan(
        accounts, str(DATA / "us_counties.parquet"), alignment=str(DATA / "demo_alignment.csv"),
        segments=["channel"], axes=[{"axis": "value_tier"}, {"axis": "geography", "name": "region",
        "level": "region"}], target_from="revenue", target_growth=0.1,
        adjustments=[{"adjustment": "regional_economics", "strength": 0.5}], **extra,
    )  # fmt: skip


def assert_same(local, other, assignments):
    cols = list(local.assignments.columns)
    pd.testing.assert_frame_equal(
        local.assignments[cols].reset_index(drop=True),
        assignments[cols].reset_index(drop=True),
        check_dtype=False, check_categorical=False,
    )  # fmt: skip
    pd.testing.assert_frame_equal(local.kpis, other.kpis, rtol=1e-9)
    assert local.segments.keys() == other.segments.keys()
    for axis in local.segments:
        pd.testing.assert_frame_equal(local.segments[axis], other.segments[axis], rtol=1e-9)
    pd.testing.assert_frame_equal(local.adjustments, other.adjustments, rtol=1e-9)
    for key in ("accounts", "assigned", "unassigned", "methods", "territories"):
        assert local.summary[key] == other.summary[key]


@pytest.fixture(scope="module")
def accounts():
    return book(300_000)


@pytest.fixture(scope="module")
def local_result(accounts):
    return plan_for(accounts).run()


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            yield client


def test_local_batches_match_one_pass(tmp_path, accounts, local_result):
    path = tmp_path / "accounts.parquet"
    accounts.to_parquet(path, row_group_size=40_000)
    batched = plan_for(str(path)).run(batch_rows=50_000)
    assert_same(local_result, batched, batched.assignments)


def test_local_batches_of_geoparquet_and_row_numbers_in_errors(tmp_path, accounts):
    frame = accounts.head(60_000).copy()
    points = gpd.GeoDataFrame(
        frame.drop(columns=["lat", "lon"]), geometry=gpd.points_from_xy(frame.lon, frame.lat),
        crs=4326,
    )  # fmt: skip
    path = tmp_path / "accounts.geoparquet"
    points.to_parquet(path, row_group_size=10_000)
    one = plan_for(points).run()
    batched = plan_for(str(path)).run(batch_rows=10_000)
    assert_same(one, batched, batched.assignments)
    # a duplicate id across batches is still caught, with the right row numbers
    frame.loc[55_000, "account_id"] = frame.loc[5, "account_id"]
    frame.to_parquet(path, row_group_size=10_000)
    with pytest.raises(territory.ValidationError, match="rows 6, 55001"):
        plan_for(str(path)).run(batch_rows=10_000)


def test_dask_matches_local(cluster, accounts, local_result):
    result = plan_for(accounts).run(engine="dask", client=cluster, partition_rows=40_000)
    assert result.assignments.npartitions == 8
    assert_same(local_result, result, result.assignments.compute())


def test_dask_reads_a_folder_of_geoparquet_and_writes_partitions(cluster, tmp_path, accounts):
    frame = accounts.head(80_000)
    points = gpd.GeoDataFrame(
        frame.drop(columns=["lat", "lon"]), geometry=gpd.points_from_xy(frame.lon, frame.lat),
        crs=4326,
    )  # fmt: skip
    folder = tmp_path / "accounts"
    folder.mkdir()
    for i in range(4):
        points.iloc[i * 20_000 : (i + 1) * 20_000].to_parquet(folder / f"part-{i}.parquet")
    local = plan_for(points).run()
    result = plan_for(str(folder)).run(engine="dask", client=cluster)
    assert result.assignments.npartitions == 4
    assert_same(local, result, result.assignments.compute())
    written = result.write(territory.OutputsSpec(dir=tmp_path / "out", map=""))
    parts = sorted((tmp_path / "out" / "assignments.parquet").glob("*.parquet"))
    assert len(parts) == 4 and tmp_path / "out" / "kpis.csv" in written
    assert len(pd.read_parquet(tmp_path / "out" / "assignments.parquet")) == 80_000


def test_dask_reports_bad_input_like_local(cluster, accounts):
    bad = accounts.head(50_000).copy()
    bad.loc[45_000, "lat"] = 123.0
    with pytest.raises(
        territory.ValidationError, match=r"out of range in .*\(partition 2\) on row 20001"
    ):
        plan_for(bad).run(engine="dask", client=cluster, partition_rows=25_000)


def test_cli_engine_dask_as_a_subprocess(tmp_path, accounts):
    accounts.head(20_000).to_csv(tmp_path / "accounts.csv", index=False)
    (tmp_path / "plan.toml").write_text(
        f'[accounts]\npath = "accounts.csv"\n[blocks]\npath = "{DATA / "us_counties.parquet"}"\n'
        f'[alignment]\npath = "{DATA / "demo_alignment.csv"}"\n[kpis]\nsegments = ["channel"]\n'
        '[outputs]\ndir = "out"\nmap = ""\n'
    )
    run = subprocess.run(
        [sys.executable, "-m", "territory", "run", "plan.toml", "--engine", "dask"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "out" / "assignments.parquet").is_dir()
    kpis = pd.read_csv(tmp_path / "out" / "kpis.csv")
    assert (
        kpis["accounts"].sum()
        + len(
            pd.read_parquet(tmp_path / "out" / "assignments.parquet").query("territory_id.isna()")
        )
        == 20_000
    )


def _awkward_csv(path, accounts) -> None:
    """The accounts as a CSV a spreadsheet might write: blank lines before the header and among
    the rows, a trailing separator on some rows, a quoted value with a line break."""
    frame = accounts.head(30_000).copy()
    frame.loc[7, "channel"] = "Partner\nwith a note"
    text = frame.to_csv(index=False, lineterminator="\n").split("\n")
    lines = ["", *text[:5000], "", *(row + "," if i % 97 == 0 else row for i, row in
             enumerate(text[5000:]))]  # fmt: skip
    path.write_text("\n".join(lines))


def test_dask_text_blocks_read_like_local(cluster, tmp_path, accounts, monkeypatch):
    import dask

    from territory.engines import dask as dask_engine

    path = tmp_path / "accounts.csv"
    _awkward_csv(path, accounts)
    blocks = dask_engine.text_blocks(path, ",", b"\naccount_id,lat,lon,revenue,pipeline,channel\n",
                                     blocksize=200_000)  # fmt: skip
    assert len(blocks) > 5
    parts = dask.compute(*blocks, scheduler="sync")
    # the oracle: the whole file read by the local reader, record by record with line numbers
    whole, source = territory.io.read_source(path)
    pd.testing.assert_frame_equal(
        pd.concat([p.frame for p in parts], ignore_index=True), whole, check_dtype=False
    )
    lines = np.concatenate([p.lines for p in parts])
    np.testing.assert_array_equal(lines, source.rows(range(len(whole))))
    monkeypatch.setattr(dask_engine.text_blocks, "__defaults__", (200_000,))
    local = plan_for(str(path)).run()
    on_dask = plan_for(str(path)).run(engine="dask", client=cluster)
    assert_same(local, on_dask, on_dask.assignments.compute())


def test_dask_text_errors_name_file_lines(cluster, tmp_path, accounts, monkeypatch):
    from territory.engines import dask as dask_engine

    path = tmp_path / "accounts.csv"
    rows = accounts.head(20_000).to_csv(index=False, lineterminator="\n").split("\n")
    rows[15_000] += ",an extra value"
    rows[18_000] = rows[18_000].replace(rows[18_000].split(",")[1], "north", 1)
    path.write_text("\n".join(rows))
    monkeypatch.setattr(dask_engine.text_blocks, "__defaults__", (150_000,))
    runs = {"local": {}, "dask": {"engine": "dask", "client": cluster}}
    for options in runs.values():
        with pytest.raises(territory.ValidationError, match=r"more values .* on line 15001\b"):
            plan_for(str(path)).run(**options)
    rows[15_000] = rows[15_000].removesuffix(",an extra value")
    path.write_text("\n".join(rows))
    for options in runs.values():
        with pytest.raises(territory.ValidationError, match=r"line 18001\b"):
            plan_for(str(path)).run(**options)


def test_a_dask_run_leaves_a_result_folder_that_maps_read(cluster, tmp_path, accounts,
                                                          monkeypatch):  # fmt: skip
    """The result folder of a Dask run: its assignments are a dataset the workers wrote (one
    file per partition), read back lazily; tables and map equal the run's own (the oracle)."""
    from click.testing import CliRunner

    from territory.cli import cli

    frame = accounts.head(80_000)
    path = tmp_path / "accounts"  # a folder of four files: four partitions
    path.mkdir()
    for i in range(4):
        frame.iloc[i * 20_000 : (i + 1) * 20_000].to_parquet(path / f"part-{i}.parquet")
    result = plan_for(str(path)).run(engine="dask", client=cluster)
    result.write(territory.OutputsSpec(dir=tmp_path / "out"))
    parts = sorted((tmp_path / "out" / "result" / "assignments").glob("*.parquet"))
    assert len(parts) == result.assignments.npartitions > 1
    manifest = (tmp_path / "out" / "manifest.json").read_text()
    assert '"result/assignments"' in manifest

    local = plan_for(frame).run()
    monkeypatch.setattr("territory.runner.run", lambda *a, **k: pytest.fail("the plan was run"))
    loaded = territory.load_result(tmp_path / "out")
    assert loaded.accounts is None and loaded.assignments.npartitions == len(parts)
    want = result.assignments.compute().reset_index(drop=True)
    got = loaded.assignments.compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want[got.columns])
    assert list(got.columns) == list(want.columns)
    assert got["account_id"].dtype == want["account_id"].dtype
    pd.testing.assert_frame_equal(loaded.kpis, result.kpis, check_exact=True)
    for axis in result.segments:
        pd.testing.assert_frame_equal(loaded.segments[axis], result.segments[axis])
    assert (
        loaded.summary["assigned"]
        == result.summary["assigned"]
        == int(want["territory_id"].notna().sum())
    )
    # quality reads the plan's accounts again (a Dask run keeps none): as for the local run
    from territory.resultdir import block_inputs

    want_q = territory.plan_report(**block_inputs(local))[0]
    pd.testing.assert_frame_equal(territory.plan_report(**block_inputs(loaded))[0], want_q)
    ran = CliRunner().invoke(cli, ["map", str(tmp_path / "out"), "--kpi", "attainment",
                                   "-o", str(tmp_path / "again.html")])  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert "Attainment" in (tmp_path / "again.html").read_text()
