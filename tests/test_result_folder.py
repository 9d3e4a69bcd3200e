"""Result folders: maps and reports made again from what a run left, without running the plan.

The oracle for every report read from a folder is the same report made by running the plan
file again (maps compared with folium's random element ids renumbered, as
scripts/output_fingerprint.py does).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import geopandas as gpd
import geopandas.testing as gpt
import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from click.testing import CliRunner
from shapely.geometry import box

import territory
from territory.cli import cli
from territory.errors import TerritoryError
from tests.grid_plan import AS_OF, write_grid_plan

HEX_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")


def normalised(page: str) -> str:
    """``page`` with folium's random element ids numbered in order of appearance."""
    ids: dict[str, str] = {}
    return HEX_ID.sub(lambda m: ids.setdefault(m.group(0), f"id{len(ids)}"), page)


def same(a, b) -> bool:
    """Equal values of equal kinds, NaN equal to NaN (summaries hold NaN for "none")."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return a == b and (isinstance(a, bool) == isinstance(b, bool))


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """The grid plan with a segment axis, run once: (grid, its result folder)."""
    grid = write_grid_plan(tmp_path_factory.mktemp("grid"))
    text = grid.plan.read_text() + '[[segments]]\naxis = "value_tier"\ncolumn = "revenue"\n'
    grid.plan.write_text(text)
    ran = invoke("run", grid.plan)
    assert ran.exit_code == 0, ran.output
    return grid, grid.folder / "out"


@pytest.fixture
def no_plan_runs(monkeypatch):
    """Running a plan or reading its accounts fails the test; returns the refusing function."""

    def refuse(*args, **kwargs):
        raise AssertionError("the plan was run or read")

    monkeypatch.setattr("territory.runner.run", refuse)
    monkeypatch.setattr("territory.stages.read.read_accounts", refuse)
    return refuse


# --- maps -----------------------------------------------------------------------------------


def test_map_from_a_result_folder_equals_the_map_from_running_the_plan(grid, tmp_path,
                                                                      monkeypatch):  # fmt: skip
    plan, out = grid
    ran = invoke("map", plan.plan, "--kpi", "attainment", "-o", tmp_path / "plan.html")
    assert ran.exit_code == 0, ran.output
    from_plan = normalised((tmp_path / "plan.html").read_text())
    assert "Territory A" in from_plan and "Attainment by territory" in from_plan

    def refuse(*args, **kwargs):
        raise AssertionError("the plan was run")

    monkeypatch.setattr("territory.runner.run", refuse)
    from territory.maps import webcache

    webcache.clear()  # the web shapes come from the folder, not from the map drawn above
    read = invoke("map", out, "--kpi", "attainment", "-o", tmp_path / "folder.html")
    assert read.exit_code == 0, read.output
    assert normalised((tmp_path / "folder.html").read_text()) == from_plan
    assert (out / "result" / "web-shapes.parquet").is_file()
    # the Python API: the loaded result draws the map the run wrote
    page = territory.load_result(out).to_map().get_root().render()
    assert normalised(page) == normalised((out / "map.html").read_text())


# --- types ----------------------------------------------------------------------------------


def test_a_result_folder_round_trips_tables_types_and_crs(tmp_path):
    blocks = gpd.GeoDataFrame(
        {"code": ["007", "010", "011", "012"], "households": [10, 20, 30, 40]},
        geometry=[box(i * 1000.0, 0, (i + 1) * 1000.0, 1000.0) for i in range(4)],
        crs="EPSG:3857",
    )
    alignment = pd.DataFrame({"block_id": ["007", "010", "011", "012"],
                              "territory_id": ["01", "01", "02", "02"]})  # fmt: skip
    accounts = pd.DataFrame(
        {
            "account_id": ["0001", "0002", "0003", "0004", "0005"],
            "x": [100.0, 1500.0, 2500.0, 3500.0, 3600.0],
            "y": [500.0] * 5,
            "revenue": [1.0, 2.0, 3.0, 4.0, 5.0],
            "tier": pd.Categorical(
                ["b", "a", "b", "c", "a"], categories=["c", "b", "a", "z"], ordered=True
            ),  # fmt: skip
            "signed": pd.to_datetime(
                ["2020-01-31", "2021-02-28", None, "2022-03-01", "2023-12-31"]
            ),  # fmt: skip
            "visits": pd.array([1, None, 3, 4, 5], dtype="Int64"),
        }
    )
    accounts = gpd.GeoDataFrame(accounts, geometry=gpd.points_from_xy(accounts.x, accounts.y),
                                crs="EPSG:3857")  # fmt: skip
    plan = territory.make_plan(accounts, blocks, alignment=alignment, block_id="code",
                               segments=["tier"], name="Types", currency="EUR")  # fmt: skip
    result = plan.run()
    result.write(territory.OutputsSpec(dir=tmp_path / "out", map=""))
    loaded = territory.load_result(tmp_path / "out")

    for name in ("assignments", "kpis", "labels"):
        pdt.assert_frame_equal(getattr(loaded, name), getattr(result, name))
    assert list(loaded.segments) == list(result.segments) == ["tier"]
    pdt.assert_frame_equal(loaded.segments["tier"], result.segments["tier"])
    pdt.assert_frame_equal(loaded.accounts.frame, result.accounts.frame)
    assert loaded.accounts.frame["tier"].dtype == accounts["tier"].dtype  # unused 'z' kept
    assert loaded.accounts.frame["signed"].dtype.kind == "M"
    assert loaded.assignments["block_id"].dtype == result.assignments["block_id"].dtype
    assert loaded.kpis["territory_id"].tolist() == ["01", "02"]  # leading zeros kept
    np.testing.assert_array_equal(loaded.accounts.x, result.accounts.x)
    np.testing.assert_array_equal(loaded.accounts.unlocated, result.accounts.unlocated)
    assert loaded.accounts.crs.equals(result.accounts.crs)
    gpt.assert_geodataframe_equal(loaded.layer.territories, result.layer.territories)
    gpt.assert_geodataframe_equal(loaded.layer.blocks, result.layer.blocks)
    assert loaded.layer.territories.crs.to_epsg() == 3857
    pdt.assert_frame_equal(loaded.layer.alignment.frame, result.layer.alignment.frame)
    assert loaded.layer.alignment.roles == result.layer.alignment.roles
    assert same(loaded.summary, result.summary) and loaded.notes == result.notes
    assert np.isnan(loaded.summary["target_total"])  # no targets: NaN, not None
    assert (loaded.plan.name, loaded.plan.currency) == ("Types", "EUR")
    assert loaded.plan.segments == ("tier",) and loaded.plan.accounts.source is None


# --- options checked before any work --------------------------------------------------------


def test_a_bad_kpi_is_a_usage_error_before_the_plan_is_read_or_run(grid, tmp_path, no_plan_runs,
                                                                  monkeypatch):  # fmt: skip
    plan, out = grid
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no plugin KPIs remembered
    # the accounts file is gone: running the plan would fail, but no run is attempted
    broken = plan.plan.with_name("broken.toml")
    broken.write_text(plan.plan.read_text().replace('"accounts.csv"', '"gone.csv"'))
    target = tmp_path / "map.html"

    def rejected(where) -> None:
        res = invoke("map", where, "--kpi", "profit", "-o", target)
        assert res.exit_code == 2, res.output
        assert "Invalid value for '--kpi'" in res.output and "'profit'" in res.output
        assert "attainment" in res.output and "revenue_prior" in res.output
        assert "revenue_per_account" in res.output  # a KPI a plugin registers
        assert "value_tier" not in res.output  # a segment axis is no KPI
        assert not target.exists()

    rejected(broken)  # the plan file and the plugins are loaded (and their KPIs remembered)
    monkeypatch.setattr("territory.plan.Plan.from_file", no_plan_runs)
    rejected(broken)  # from the plan's TOML and the remembered plugin KPIs alone
    rejected(out)  # from the folder's index
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]
    res = invoke("map", out, "--tiles", "https://t.example/{z}/{x}/{y}.png", "-o", target)
    assert res.exit_code == 2 and "--online" in res.output and not target.exists()


def test_the_quick_kpi_names_of_a_plan_file_are_those_of_the_loaded_plan(grid, tmp_path,
                                                                         monkeypatch):  # fmt: skip
    from territory import columns, resultdir

    plan, _ = grid
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert resultdir.MEASURE_NAMES == columns.MEASURES
    assert resultdir.plan_file_kpi_names(plan.plan) is None  # plugin KPIs not known yet
    loaded = territory.Plan.from_file(plan.plan)
    full = resultdir.plan_kpi_names(loaded)
    assert resultdir.plan_file_kpi_names(plan.plan) == full
    assert set(loaded.run().kpis.columns) <= set(full)


def test_the_kpis_of_a_folder_come_from_its_kpi_table(grid, monkeypatch):
    plan, out = grid

    def refuse(*args, **kwargs):
        raise AssertionError("a table was read")

    monkeypatch.setattr("territory.resultdir.read_frame", refuse)
    names = territory.resultdir.result_kpi_names(out)
    assert names == [str(c) for c in pd.read_csv(out / "kpis.csv").columns]


# --- bad folders ----------------------------------------------------------------------------


def _copy(out: Path, tmp_path: Path, name: str) -> Path:
    return Path(shutil.copytree(out, tmp_path / name))


def _fails(folder: Path, *phrases: str) -> None:
    with pytest.raises(TerritoryError) as caught:
        territory.load_result(folder)
    for phrase in phrases:
        assert phrase in str(caught.value), str(caught.value)
    res = invoke("map", folder, "-o", folder.parent / f"{folder.name}.html")
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert phrases[0] in " ".join(res.output.split())
    assert not (folder.parent / f"{folder.name}.html").exists()


def test_bad_result_folders_are_clear_errors(grid, tmp_path):
    plan, out = grid
    empty = tmp_path / "empty"
    empty.mkdir()
    _fails(empty, "is not a result folder")
    _fails(tmp_path / "nowhere", "Result folder not found")

    old = tmp_path / "old"  # a run without a result folder, as earlier versions wrote them
    loaded = territory.load_result(out)
    territory.Plan.from_file(plan.plan).run().write(
        territory.OutputsSpec(dir=old, map="", result="")
    )
    _fails(old, "no result folder", "Run the plan again")

    changed = _copy(out, tmp_path, "changed")
    kpis = loaded.kpis.assign(revenue=loaded.kpis["revenue"] + 1)
    kpis.to_parquet(changed / "result" / "kpis.parquet")
    _fails(changed, "not whole", "result/kpis.parquet differs from the manifest")

    missing = _copy(out, tmp_path, "missing")
    (missing / "result" / "labels.parquet").unlink()
    _fails(missing, "not whole", "result/labels.parquet is missing")

    newer = _copy(out, tmp_path, "newer")
    index = json.loads((newer / "result" / "result.json").read_text())
    index["version"] = territory.resultdir.VERSION + 1
    (newer / "result" / "result.json").write_text(json.dumps(index))
    _fails(newer, "newer than this version of territory", "Upgrade territory")

    stripped = _copy(out, tmp_path, "stripped")  # an index that lost its table list
    index = json.loads((stripped / "result" / "result.json").read_text())
    del index["tables"]
    (stripped / "result" / "result.json").write_text(json.dumps(index))
    _fails(stripped, "not whole", "result/result.json differs from the manifest")
    with pytest.raises(TerritoryError, match="cannot be read: KeyError"):
        territory.load_result(stripped, verify=False)

    unpublished = _copy(out, tmp_path, "unpublished")
    (unpublished / "manifest.json").unlink()
    _fails(unpublished, "no manifest", "check-outputs --repair")


def test_an_output_never_overwrites_a_file_of_the_result_set(grid):
    plan, out = grid
    before = (out / "map.html").read_bytes()
    res = invoke("map", out, "-o", out / "map.html")
    assert res.exit_code == 1 and "overwrite the input" in res.output, res.output
    assert (out / "map.html").read_bytes() == before


# --- tracking, quality and compare ----------------------------------------------------------


def _same_files(a: Path, b: Path, names) -> None:
    for name in names:
        if name.endswith(".html"):
            assert normalised((a / name).read_text()) == normalised((b / name).read_text()), name
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_track_from_a_result_folder_equals_tracking_the_plan(grid, tmp_path, monkeypatch):
    plan, out = grid
    ran = invoke("track", plan.plan, "--as-of", AS_OF, "--out", tmp_path / "plan")
    assert ran.exit_code == 0, ran.output
    monkeypatch.setattr("territory.runner.run", lambda *a, **k: pytest.fail("plan run"))
    read = invoke("track", out, "--as-of", AS_OF, "--out", tmp_path / "folder")
    assert read.exit_code == 0, read.output
    names = sorted(p.name for p in (tmp_path / "plan").iterdir()
                   if p.suffix in (".csv", ".html"))  # fmt: skip
    assert {"tracking-territories.csv", "dashboard.html", "tracking-map.html"} <= set(names)
    _same_files(tmp_path / "plan", tmp_path / "folder", names)


def test_quality_and_compare_from_result_folders_equal_the_file_route(grid, tmp_path,
                                                                      monkeypatch):  # fmt: skip
    plan, out = grid
    f = plan.folder
    files = [f / "blocks.geojson", "--accounts", f / "accounts.csv", "--measure", "revenue",
             "--measure", "revenue_prior"]  # fmt: skip
    moved = pd.read_csv(plan.alignment, dtype=str)
    roles = ["territory_id", "name", "parent", "rep"]
    moved.loc[0, roles] = moved.loc[2, roles]  # block 0100 and its two accounts to G1
    moved.to_csv(tmp_path / "moved.csv", index=False)
    applied = invoke("apply", plan.plan, tmp_path / "moved.csv", "--out", tmp_path / "run2")
    assert applied.exit_code == 0, applied.output

    q_files = invoke("quality", files[0], plan.alignment, *files[1:], "-o", tmp_path / "q1.csv")
    c_files = invoke("compare", plan.alignment, tmp_path / "moved.csv", "--blocks", *files,
                     "--out", tmp_path / "c1")  # fmt: skip
    assert q_files.exit_code == 0 and c_files.exit_code == 0, q_files.output + c_files.output
    assert "1 blocks and 2 accounts changed territory" in c_files.output

    monkeypatch.setattr("territory.runner.run", lambda *a, **k: pytest.fail("plan run"))
    q_dir = invoke("quality", out, "-o", tmp_path / "q2.csv")
    assert q_dir.exit_code == 0, q_dir.output
    assert (tmp_path / "q1.csv").read_bytes() == (tmp_path / "q2.csv").read_bytes()
    assert q_dir.output.split("Wrote")[0] == q_files.output.split("Wrote")[0]
    names = ["blocks_moved.csv", "accounts_moved.csv", "territories.csv", "summary.csv"]
    for n, second in enumerate([tmp_path / "run2", tmp_path / "moved.csv"], start=2):
        c_dir = invoke("compare", out, second, "--out", tmp_path / f"c{n}")
        assert c_dir.exit_code == 0, c_dir.output
        _same_files(tmp_path / "c1", tmp_path / f"c{n}", names)


def test_a_column_of_mixed_types_is_kept_as_text_with_a_note(tmp_path):
    shapes = [box(0, 0, 1, 1), box(1, 0, 2, 1)]
    territories = gpd.GeoDataFrame({"territory_id": ["A", "B"]}, geometry=shapes, crs=4326)
    accounts = pd.DataFrame({"account_id": ["1", "2"], "lat": [0.5, 0.5], "lon": [0.5, 1.5],
                             "revenue": [1.0, 2.0],
                             "code": pd.Series([7, "x7"], dtype=object)})  # fmt: skip
    result = territory.make_plan(accounts, territories).run()
    result.write(territory.OutputsSpec(dir=tmp_path / "out", map=""))  # the run still writes
    loaded = territory.load_result(tmp_path / "out")
    assert loaded.accounts.frame["code"].tolist() == ["7", "x7"]
    assert any("code held values of mixed types" in note for note in loaded.notes)
    pdt.assert_frame_equal(loaded.kpis, result.kpis)


def _rehash(folder: Path) -> None:
    """Make the manifest match the files as they are now (as someone editing the set would)."""
    import hashlib

    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    for entry in manifest["files"]:
        data = (folder / entry["name"]).read_bytes()
        entry["size"], entry["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    path.write_text(json.dumps(manifest))


def test_a_map_from_a_folder_never_overwrites_the_runs_inputs(grid):
    plan, out = grid
    accounts = Path(json.loads((out / "manifest.json").read_text())["inputs"][0]["path"])
    before = accounts.read_bytes()
    res = invoke("map", out, "-o", accounts)
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert accounts.read_bytes() == before


def test_an_edited_index_or_a_table_outside_the_set_is_a_clear_error(grid, tmp_path):
    plan, out = grid
    # an index without its KPI names, the manifest made to match: --kpi and track say so
    edited = _copy(out, tmp_path, "edited")
    index = json.loads((edited / "result" / "result.json").read_text())
    del index["kpi_names"]
    (edited / "result" / "result.json").write_text(json.dumps(index))
    _rehash(edited)
    res = invoke("map", edited, "--kpi", "revenue", "-o", tmp_path / "m.html")
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert "lists no KPI names" in " ".join(res.output.split())
    # a summary of the wrong shape
    shaped = _copy(out, tmp_path, "shaped")
    index = json.loads((shaped / "result" / "result.json").read_text())
    index["summary"] = {"dict": [1]}
    (shaped / "result" / "result.json").write_text(json.dumps(index))
    _rehash(shaped)
    _fails(shaped, "cannot be read")
    # a table read from outside the result folder
    outside = _copy(out, tmp_path, "outside")
    index = json.loads((outside / "result" / "result.json").read_text())
    shutil.copy(outside / "result" / "kpis.parquet", tmp_path / "elsewhere.parquet")
    index["tables"]["kpis"]["file"] = str(tmp_path / "elsewhere.parquet")
    (outside / "result" / "result.json").write_text(json.dumps(index))
    _rehash(outside)
    _fails(outside, "names a table outside its result set")
