"""The CLI, through click's CliRunner and as a real subprocess."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from territory.cli import cli

from .conftest import DATA

COMMANDS = ["assign", "kpis", "validate", "run", "demo", "plugins", "track", "map"]


def decode_json_escapes(text: str) -> str:
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output.splitlines()) > 4


def test_assign_writes_every_account(tmp_path, accounts_csv, squares_geojson):
    out = tmp_path / "assignments.csv"
    result = CliRunner().invoke(
        cli, ["assign", str(accounts_csv), str(squares_geojson), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert table["account_id"].tolist() == ["in-a", "in-b", "edge", "near", "far", "nowhere"]
    assert table["method"].tolist() == [
        "inside",
        "inside",
        "boundary",
        "nearest",
        "unassigned",
        "unassigned",
    ]
    assert "inside 2, boundary 1, nearest 1, unassigned 2" in result.output


def test_kpis_prints_table_and_writes_segment_breakdown(tmp_path, accounts_csv, squares_geojson):
    out = tmp_path / "kpis.csv"
    result = CliRunner().invoke(
        cli, ["kpis", str(accounts_csv), str(squares_geojson), "--by", "segment", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "KPIs per territory" in result.output and "Alpha" in result.output
    written = pd.read_csv(out).set_index("territory_id")
    assert written["revenue"].to_dict() == {"A": 40.0, "B": 60.0}
    assert (tmp_path / "kpis-segment.csv").exists()


def test_validate_reports_without_writing(tmp_path, accounts_csv, squares_geojson):
    result = CliRunner().invoke(cli, ["validate", str(accounts_csv), str(squares_geojson)])
    assert result.exit_code == 0, result.output
    assert "OK: 6 accounts, 2 territories; 4 assigned, 2 unassigned." in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accounts.csv", "territories.geojson"]


def test_run_plan_file_with_relative_paths(tmp_path, accounts_csv, squares_geojson):
    plan = tmp_path / "plan.toml"
    plan.write_text(
        'name = "Test plan"\n[accounts]\npath = "accounts.csv"\n[territories]\n'
        'path = "territories.geojson"\n[kpis]\nsegments = ["segment"]\n'
        '[outputs]\ndir = "result"\nmap = ""\n'
    )
    result = CliRunner().invoke(cli, ["run", str(plan)])
    assert result.exit_code == 0, result.output
    produced = sorted(p.name for p in (tmp_path / "result").iterdir())
    assert produced == [
        "assignments.csv",
        "kpis.csv",
        "manifest.json",
        "result",  # the result folder maps and reports are read back from
        "segment-kpis-segment.csv",
        "summary.json",
    ]
    summary = json.loads((tmp_path / "result" / "summary.json").read_text())
    assert summary["plan"] == "Test plan" and summary["unassigned"] == 2


def test_plan_api_round_trip(tmp_path, accounts_csv, squares_geojson):
    import territory

    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[accounts]\npath = "accounts.csv"\n[territories]\npath = "territories.geojson"\n'
        "[assign]\nmax_distance_km = 0\n"
    )
    result = territory.Plan.from_file(plan).run()
    assert result.summary["methods"]["nearest"] == 0
    assert len(result.unassigned) == 3


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "territory", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_subprocess_assign_and_error_exit_code(tmp_path, accounts_csv, squares_geojson):
    out = tmp_path / "a.csv"
    ok = run_cli("assign", str(accounts_csv), str(squares_geojson), "-o", str(out))
    assert ok.returncode == 0, ok.stderr
    assert len(pd.read_csv(out)) == 6
    bad = run_cli("assign", str(tmp_path / "missing.csv"), str(squares_geojson))
    assert bad.returncode == 1
    assert bad.stderr.startswith("Error: File not found")
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
def test_subprocess_demo_writes_map_and_tables(tmp_path):
    result = run_cli("demo", "--out", str(tmp_path / "maps"))
    assert result.returncode == 0, result.stderr
    out = tmp_path / "maps"
    kpis = pd.read_csv(out / "demo-kpis.csv")
    assignments = pd.read_csv(out / "demo-assignments.csv")
    assert len(kpis) == 15
    assert len(assignments) == 793 and assignments["account_id"].is_unique
    page = decode_json_escapes((out / "demo.html").read_text())
    for name in kpis["name"]:
        assert html.escape(name) in page
    assert "cdn.jsdelivr" not in page and "code.jquery" not in page  # opens offline
    assert "KPIs per territory" in result.stdout
    # mid-year tracking of the 2017 targets: dashboard, tables and attainment map
    for name in ("demo-dashboard.html", "demo-tracking-territories.csv", "demo-tracking.xlsx",
                 "demo-tracking-map.html"):  # fmt: skip
        assert (out / name).exists()
    assert "FY2017 at 2017-06-30" in result.stdout
    # Revenue total equals the 12 months of order lines to the last order date.
    orders = pd.read_parquet(DATA / "superstore_orders.parquet")
    last = orders["Order Date"].max()
    window = orders[(orders["Order Date"] > last - pd.DateOffset(years=1))]
    assert kpis["revenue"].sum() == pytest.approx(window["Sales"].sum(), rel=1e-9)


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and "territory" in result.output


def test_help_lists_commands():
    text = CliRunner().invoke(cli, ["--help"]).output
    for command in COMMANDS:
        assert command in text


def test_readme_mentions_both_setup_commands():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


def test_map_command_identity_colours_and_tooltips_without_popups(tmp_path):
    out = tmp_path / "m.html"
    plan = DATA / "demo_plan.toml"
    ok = CliRunner().invoke(cli, ["map", str(plan), "--kpi", "territory", "-o", str(out)])
    assert ok.exit_code == 0, ok.output
    page = out.read_text()
    # territory figures show in a tooltip (it opens on a tap too); no popup repeats it
    # (matched on the territory layer's own code: the inlined Leaflet names both methods)
    assert re.search(r"geo_json_\w+\.bindTooltip\(", page)
    assert not re.search(r"geo_json_\w+\.bindPopup\(", page)
    assert "neighbours differ" in page
    bad = CliRunner().invoke(cli, ["map", str(plan), "--kpi", "profit"])
    assert bad.exit_code == 2 and "Cannot colour the map by 'profit'" in bad.output


def test_no_two_neighbouring_territories_share_a_colour():
    import geopandas as gpd
    import shapely

    from territory.maps import neighbour_colours

    counties = gpd.read_parquet(DATA / "us_counties.parquet").geometry.to_numpy()
    colours = neighbour_colours(counties)
    left, right = shapely.STRtree(counties).query(counties, predicate="intersects")
    pairs = left != right
    assert len(left[pairs]) > 15_000  # the county graph is dense enough to mean something
    assert (colours[left[pairs]] != colours[right[pairs]]).all()


def test_map_command_offline_by_default_and_tiles_only_online(tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    gpd.GeoDataFrame(
        {"territory_id": ["A", "B"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326
    ).to_file(tmp_path / "t.geojson")
    (tmp_path / "a.csv").write_text("account_id,lat,lon,revenue\n1,0.5,0.5,10\n2,0.5,1.5,20\n")
    (tmp_path / "plan.toml").write_text(
        '[accounts]\npath = "a.csv"\n[territories]\npath = "t.geojson"\n'
    )
    runner = CliRunner()
    plan = str(tmp_path / "plan.toml")
    tiles = "https://tiles.example.com/{z}/{x}/{y}.png"
    res = runner.invoke(cli, ["map", plan, "--tiles", tiles, "-o", str(tmp_path / "m.html")])
    assert res.exit_code == 2 and "--online" in res.output
    assert not (tmp_path / "m.html").exists()
    res = runner.invoke(cli, ["map", plan, "-o", str(tmp_path / "off.html")])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "off.html").read_text()
    # nothing loads from the network (the Leaflet attribution is only a link)
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']https?:""", page)
    assert "tiles.example.com" not in page
    res = runner.invoke(
        cli, ["map", plan, "--online", "--tiles", tiles, "-o", str(tmp_path / "on.html")]
    )
    assert res.exit_code == 0, res.output
    assert "tiles.example.com" in (tmp_path / "on.html").read_text()


def test_unassigned_summary_keeps_the_limit_and_shows_the_distances(tmp_path, squares_geojson):
    # accounts east of the squares (x <= 2): 0.2, 0.3 and 0.45 degrees out (22, 33 and 50 km):
    # the last two beyond a 30 km limit; and one without a latitude
    accounts = pd.DataFrame(
        {"account_id": ["a", "b", "c", "d", "in"], "lat": ["0.5", "0.5", "0.5", "", "0.5"],
         "lon": ["2.2", "2.3", "2.45", "1.5", "0.5"], "revenue": ["1", "2", "3", "4", "5"]}
    )  # fmt: skip
    path = tmp_path / "accounts.csv"
    accounts.to_csv(path, index=False)
    result = CliRunner().invoke(
        cli, ["assign", str(path), str(squares_geojson), "--max-distance-km", "30",
              "-o", str(tmp_path / "a.csv")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines() if "unassigned (" in line]
    written = pd.read_csv(tmp_path / "a.csv")
    far = written[written["reason"].str.contains("beyond", na=False)]
    assert len(far) == 2
    # the shown range is the written distances' range; the limit is the one given
    lo, hi = far["distance_km"].min(), far["distance_km"].max()
    assert (
        f"unassigned (2): outside every territory; nearest is {lo:,.1f}–{hi:,.1f} km away, "
        "beyond the 30 km limit" in lines
    )
    assert any(line.startswith("unassigned (1): no location") for line in lines)
    # one account beyond the limit: its distance, not a range of one value
    result = CliRunner().invoke(
        cli, ["assign", str(path), str(squares_geojson), "--max-distance-km", "40",
              "-o", str(tmp_path / "b.csv")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    km = pd.read_csv(tmp_path / "b.csv").set_index("account_id").loc["c", "distance_km"]
    assert (
        f"unassigned (1): outside every territory; nearest is {km:,.1f} km away, beyond the "
        "40 km limit" in [line.strip() for line in result.output.splitlines()]
    )


def test_a_bad_coordinate_cell_is_named_with_what_a_blank_would_mean(tmp_path, squares_geojson):
    path = tmp_path / "accounts.csv"
    path.write_text("account_id,lat,lon,revenue\na,0.5,0.5,1\nb,north,0.5,2\n")
    result = CliRunner().invoke(cli, ["assign", str(path), str(squares_geojson)])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "Column 'lat'" in text and "line 3 holds 'north'" in text
    assert "blank coordinate has no location and is listed as unassigned" in text
    assert "count as 0" not in text
