"""Every bad input gets one clear paragraph (file, column, rows, fix), exit code 1, no output.

Each case builds its files, runs ``territory assign`` through click's CliRunner, and checks the
message, the exit code, the absence of a traceback and that no output file was written.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import Point, Polygon, box

import territory
from territory.cli import cli


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


GOOD = "account_id,lat,lon,revenue\na1,0.5,0.5,10\na2,0.5,1.5,20\n"


def case_missing_file(tmp, terr):
    return tmp / "nope.csv", terr, [], ["File not found", "nope.csv"]


def case_missing_column(tmp, terr):
    acc = write_csv(tmp / "acc.csv", GOOD)
    return acc, terr, ["--lat", "latt"], ["Column 'latt'", "acc.csv", "Available columns", "lat"]


def case_non_numeric_measure(tmp, terr):
    acc = write_csv(tmp / "acc.csv", "account_id,lat,lon,revenue\na1,0.5,0.5,10\na2,0.5,1.5,abc")
    return acc, terr, [], ["Column 'revenue'", "acc.csv", "line 3", "'abc'", "must be numeric"]


def case_non_numeric_coordinate(tmp, terr):
    acc = write_csv(tmp / "acc.csv", "account_id,lat,lon\na1,0.5,0.5\na2,north,1.5")
    return acc, terr, [], ["Column 'lat'", "line 3", "'north'"]


def case_latitude_out_of_range(tmp, terr):
    acc = write_csv(tmp / "acc.csv", "account_id,lat,lon\na1,0.5,0.5\na2,123,170")
    return acc, terr, [], ["out of range", "acc.csv", "line 3", "lat=123", "within ±90"]


def case_rows_swapped(tmp, terr):
    acc = write_csv(tmp / "acc.csv", "account_id,lat,lon\na1,-100.2,40.1\na2,0.5,0.5")
    return acc, terr, [], ["out of range", "line 2", "look swapped", "'lat'"]


def case_file_swapped(tmp, terr):
    # Territory in Europe (lon 5..15, lat 45..55); accounts with the two columns exchanged.
    europe = gpd.GeoDataFrame({"territory_id": ["DE"]}, geometry=[box(5, 45, 15, 55)], crs=4326)
    europe_path = tmp / "europe.geojson"
    europe.to_file(europe_path)
    rows = "\n".join(f"a{i},{10 + i * 0.1},{50 + i * 0.1}" for i in range(10))
    acc = write_csv(tmp / "acc.csv", "account_id,lat,lon\n" + rows)
    return acc, europe_path, [], ["appear swapped", "acc.csv", "--lat"]


def case_duplicate_ids(tmp, terr):
    acc = write_csv(tmp / "acc.csv", "account_id,lat,lon\nx,0.5,0.5\nx,0.5,1.5\ny,0.2,0.2")
    return acc, terr, [], ["Duplicate account ids", "'x'", "lines 2, 3", "unique"]


def case_blank_ids(tmp, terr):
    acc = write_csv(tmp / "acc.csv", "account_id,lat,lon\n,0.5,0.5\nb,0.5,1.5")
    return acc, terr, [], ["blank", "line 2", "account id"]


def case_empty_accounts(tmp, terr):
    acc = write_csv(tmp / "acc.csv", "account_id,lat,lon")
    return acc, terr, [], ["has no rows", "acc.csv"]


def case_zero_byte_accounts(tmp, terr):
    acc = tmp / "acc.csv"
    acc.write_bytes(b"")
    return acc, terr, [], ["has no rows", "acc.csv"]


def case_empty_geometry(tmp, terr):
    layer = gpd.GeoDataFrame(
        {"territory_id": ["A", "B"]}, geometry=[box(0, 0, 1, 1), Polygon()], crs=4326
    )
    path = tmp / "terr.gpkg"
    layer.to_file(path)
    acc = write_csv(tmp / "acc.csv", GOOD)
    # without --strict an empty shape is kept and reported (tests/test_real_layers.py)
    return acc, path, ["--strict"], ["empty geometry", "'B'", "terr.gpkg", "row 2"]


def case_point_territories(tmp, terr):
    layer = gpd.GeoDataFrame({"territory_id": ["A"]}, geometry=[Point(0, 0)], crs=4326)
    path = tmp / "terr.geojson"
    layer.to_file(path)
    acc = write_csv(tmp / "acc.csv", GOOD)
    return acc, path, [], ["must be polygons", "'A'"]


def case_territories_without_crs(tmp, terr):
    layer = gpd.GeoDataFrame({"territory_id": ["A"]}, geometry=[box(0, 0, 1, 1)])
    path = tmp / "terr.parquet"
    layer.to_parquet(path)
    acc = write_csv(tmp / "acc.csv", GOOD)
    return acc, path, [], ["has no CRS", "terr.parquet", "--crs EPSG:4326"]


def case_territories_without_geometry(tmp, terr):
    path = write_csv(tmp / "terr.csv", "territory_id,name\nA,Alpha")
    acc = write_csv(tmp / "acc.csv", GOOD)
    return acc, path, [], ["no geometry column", "terr.csv", "alignment"]


def _blocks(tmp):
    blocks = gpd.GeoDataFrame(
        {"block_id": ["01001", "01003"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326
    )
    path = tmp / "blocks.geojson"
    blocks.to_file(path)
    return path


def case_alignment_block_not_in_geometry(tmp, terr):
    align = write_csv(tmp / "align.csv", "block_id,territory_id\n01001,T1\n01003,T2\n99999,T3")
    acc = write_csv(tmp / "acc.csv", GOOD)
    return (
        acc,
        _blocks(tmp),
        ["--alignment", str(align)],
        [
            "'99999'",
            "not in the block layer",
            "align.csv",
        ],
    )


def case_geometry_block_not_in_alignment(tmp, terr):
    align = write_csv(tmp / "align.csv", "block_id,territory_id\n01001,T1")
    acc = write_csv(tmp / "acc.csv", GOOD)
    return (
        acc,
        _blocks(tmp),
        ["--alignment", str(align)],
        [
            "'01003'",
            "missing from the alignment",
            "blocks.geojson",
        ],
    )


def case_alignment_lost_leading_zeros(tmp, terr):
    align = write_csv(tmp / "align.csv", "block_id,territory_id\n1001,T1\n1003,T2")
    acc = write_csv(tmp / "acc.csv", GOOD)
    return acc, _blocks(tmp), ["--alignment", str(align)], ["leading zeros", "as text"]


def case_alignment_block_twice(tmp, terr):
    align = write_csv(tmp / "align.csv", "block_id,territory_id\n01001,T1\n01003,T2\n01001,T2")
    acc = write_csv(tmp / "acc.csv", GOOD)
    return (
        acc,
        _blocks(tmp),
        ["--alignment", str(align)],
        [
            "more than one territory",
            "01001",
            "lines 2, 4",
        ],
    )


def case_unknown_file_type(tmp, terr):
    acc = tmp / "acc.ods"
    acc.write_bytes(b"not really")
    return acc, terr, [], ["unknown file type '.ods'", ".csv", ".xlsx"]


def case_unknown_crs(tmp, terr):
    acc = write_csv(tmp / "acc.csv", GOOD)
    return acc, terr, ["--crs", "EPSG:99999"], ["'EPSG:99999'", "not a coordinate", "EPSG:4326"]


def case_truncated_parquet(tmp, terr):
    good = tmp / "whole.parquet"
    pd.read_csv(write_csv(tmp / "acc.csv", GOOD)).to_parquet(good)
    acc = tmp / "acc.parquet"
    acc.write_bytes(good.read_bytes()[:300])  # a copy cut short
    return acc, terr, [], ["Cannot read the accounts in", "acc.parquet", "complete Parquet file"]


CASES = [v for k, v in sorted(globals().items()) if k.startswith("case_")]


def test_a_truncated_parquet_file_is_one_clear_error_on_dask_too(tmp_path, squares_geojson):
    accounts, territories, _, expected = case_truncated_parquet(tmp_path, squares_geojson)
    out = tmp_path / "out" / "assignments.csv"
    args = ["assign", str(accounts), str(territories), "-o", str(out), "--engine", "dask"]
    result = CliRunner().invoke(cli, args)
    text = " ".join(result.output.split())
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert all(fragment in text for fragment in expected), text
    assert not out.parent.exists()


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[5:] for c in CASES])
def test_bad_input_is_one_clear_error(tmp_path, squares_geojson, case):
    accounts, territories, extra, expected = case(tmp_path, squares_geojson)
    out = tmp_path / "out" / "assignments.csv"
    runner = CliRunner()
    result = runner.invoke(cli, ["assign", str(accounts), str(territories), "-o", str(out), *extra])
    text = " ".join(result.output.split())
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert text.startswith("Error:")
    for fragment in expected:
        assert fragment in text, f"{fragment!r} not in: {text}"
    assert not out.exists()
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_invalid_geometry_is_repaired_and_reported(tmp_path):
    bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])
    layer = gpd.GeoDataFrame(
        {"territory_id": ["X", "Y"]}, geometry=[bowtie, box(2, 0, 3, 1)], crs=4326
    )
    # The repaired bowtie is two triangles, left and right of (0.5, 0.5).
    accounts = pd.DataFrame({"account_id": ["a", "b"], "lat": [0.5, 0.5], "lon": [0.2, 2.5]})
    result = territory.run(accounts, layer)
    assert result.assignments["territory_id"].tolist() == ["X", "Y"]
    note = next(n for n in result.notes if "Repaired invalid geometry" in n)
    assert "'X'" in note and "Self-intersection" in note


def test_unknown_postal_codes_are_listed_not_dropped(tmp_path, two_squares):
    accounts = pd.DataFrame(
        {"account_id": ["a", "b", "c"], "zip": ["99999", "", "10001-1234"], "revenue": [1, 2, 4]}
    )
    us = gpd.GeoDataFrame({"territory_id": ["US"]}, geometry=[box(-130, 20, -60, 50)], crs=4326)
    result = territory.run(accounts, us)
    rows = result.assignments.set_index("account_id")
    assert "postal code '99999' not found" in rows.loc["a", "reason"]
    assert "blank" in rows.loc["b", "reason"]
    assert rows.loc["c", "territory_id"] == "US"
    assert result.summary["totals"]["revenue"] == {"input": 7.0, "assigned": 4.0, "unassigned": 3.0}
    assert any("could not be located by postal code" in n for n in result.notes)


def test_blank_measure_cells_count_as_zero_and_are_reported(two_squares):
    accounts = pd.DataFrame(
        {
            "account_id": ["a", "b"],
            "lat": [0.5, 0.5],
            "lon": [0.5, 1.5],
            "revenue": ["1,200.50", ""],
        }
    )
    result = territory.run(accounts, two_squares)
    assert result.assignments["revenue"].tolist() == [1200.5, 0.0]
    assert any("1 blank cells" in n for n in result.notes)


def test_plan_file_with_unknown_setting(tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text('[accounts]\npath = "a.csv"\nlatitude = "y"\n[territories]\npath = "t.gpkg"\n')
    result = CliRunner().invoke(cli, ["run", str(plan)])
    assert result.exit_code == 1
    assert "Unknown setting(s) latitude in [accounts]" in " ".join(result.output.split())


def test_plan_on_a_parquet_folder_with_a_stray_file_and_a_bad_crs(tmp_path, squares_geojson):
    """Accounts given as a folder of Parquet files (read in batches) that also holds a notes
    file, and a plan whose CRS is not one: each is one clear error, no traceback, no output."""
    folder = tmp_path / "accounts"
    folder.mkdir()
    frame = pd.read_csv(write_csv(tmp_path / "acc.csv", GOOD))
    frame.iloc[:1].to_parquet(folder / "part-0.parquet")
    frame.iloc[1:].to_parquet(folder / "part-1.parquet")
    (folder / "notes.csv").write_text("exported on Monday\n")
    plan = tmp_path / "plan.toml"
    body = f'[accounts]\npath = "accounts"\n[territories]\npath = "{squares_geojson.name}"\n'
    plan.write_text(body)
    result = CliRunner().invoke(cli, ["run", str(plan), "--out", str(tmp_path / "out")])
    text = " ".join(result.output.split())
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "notes.csv" in text and "every file in the folder is a Parquet file" in text
    assert not (tmp_path / "out").exists()
    (folder / "notes.csv").unlink()
    plan.write_text(body.replace('path = "accounts"', 'path = "accounts"\ncrs = "bogus"'))
    result = CliRunner().invoke(cli, ["run", str(plan), "--out", str(tmp_path / "out")])
    text = " ".join(result.output.split())
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "'bogus', is not a coordinate reference system" in text
    plan.write_text(body + '[outputs]\nassignments = "assignments.json"\n')
    result = CliRunner().invoke(cli, ["run", str(plan), "--out", str(tmp_path / "out")])
    text = " ".join(result.output.split())
    assert result.exit_code == 1 and "[outputs] assignments table as assignments.json" in text
    assert not (tmp_path / "out").exists()  # refused before the run
    plan.write_text(body)
    result = CliRunner().invoke(cli, ["run", str(plan), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("command", "name"), [("assign", "assignments.json"), ("kpis", "kpis.txt"), ("assign", "a")]
)
def test_an_output_name_no_table_can_be_written_as_is_refused_first(
    tmp_path, accounts_csv, squares_geojson, command, name
):
    """Refused before the run, by the name the user gave (never a staging name), and nothing
    is written; a table without shapes is never written as GeoJSON with empty geometries."""
    out = tmp_path / "out" / name
    result = CliRunner().invoke(
        cli, [command, str(accounts_csv), str(squares_geojson), "-o", str(out)]
    )
    text = " ".join(result.output.split())
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"as {name}: unknown output type" in text and ".csv, .csv.gz, .parquet" in text
    assert "territory-tmp" not in text and "Assignment methods" not in text  # no work done
    assert not out.parent.exists()
