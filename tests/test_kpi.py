"""KPI numbers checked against independent computations."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

import territory
from territory.errors import ValidationError
from territory.quality import area_perimeter_km, gini, polsby_popper

from .conftest import DATA


def test_kpis_on_two_squares(accounts_frame, two_squares):
    result = territory.run(accounts_frame, two_squares, segments=["segment"])
    kpis = result.kpis.set_index("territory_id")
    # A: in-a (10) + edge (30); B: in-b (20) + near (40); far (50) and nowhere (60) unassigned.
    assert kpis.loc["A", ["accounts", "revenue", "pipeline"]].tolist() == [2, 40.0, 4.0]
    assert kpis.loc["B", ["accounts", "revenue", "pipeline"]].tolist() == [2, 60.0, 6.0]
    assert kpis.loc["A", "name"] == "Alpha"
    # Targets from the territory layer's target column.
    assert kpis.loc["A", "attainment"] == pytest.approx(40 / 200)
    assert kpis.loc["B", "attainment"] == pytest.approx(60 / 100)
    # Shares are of the input total (210), so territories + unassigned add up to 1.
    assert kpis["share"].sum() + 110 / 210 == pytest.approx(1.0)
    assert kpis.loc["A", "deviation"] == pytest.approx(40 / 50 - 1)
    s = result.summary
    assert s["accounts"] == 6 and s["assigned"] == 4 and s["unassigned"] == 2
    assert s["methods"] == {"inside": 2, "boundary": 1, "overlap": 0, "nearest": 1, "unassigned": 2}
    assert s["totals"]["revenue"] == {"input": 210.0, "assigned": 100.0, "unassigned": 110.0}
    assert s["max_deviation"] == pytest.approx(0.2)
    # Segment cells: same KPI set within each segment.
    seg = result.segments["segment"].set_index(["territory_id", "segment"])
    assert seg.loc[("A", "x"), ["accounts", "revenue"]].tolist() == [2, 40.0]
    assert seg.loc[("B", "y"), ["accounts", "revenue"]].tolist() == [2, 60.0]
    x_total = accounts_frame.loc[accounts_frame.segment == "x", "revenue"].sum()
    assert seg.loc[("A", "x"), "share"] == pytest.approx(40 / x_total)


def test_area_and_density_are_geodesic(two_squares):
    accounts = pd.DataFrame({"account_id": ["a"], "lat": [0.5], "lon": [0.5]})
    kpis = territory.kpis(accounts, two_squares).set_index("territory_id")
    # A 1 x 1 degree cell at the equator is 110.57 km x 111.32 km on WGS84.
    assert kpis.loc["A", "area_km2"] == pytest.approx(12308, rel=2e-3)
    assert kpis.loc["A", "density"] == pytest.approx(1 / 12308 * 1000, rel=2e-3)
    # A projected copy gives the same area up to the projection's distortion near the equator.
    area, _ = area_perimeter_km(
        two_squares.to_crs(6933).geometry.to_numpy(), two_squares.to_crs(6933).crs
    )
    assert area[1] == pytest.approx(12308, rel=5e-3)


def test_gini_and_polsby_popper():
    assert gini([5, 5, 5, 5]) == pytest.approx(0.0)
    assert gini([0, 0, 0, 8]) == pytest.approx(0.75)
    assert polsby_popper(np.array([1.0]), np.array([4.0]))[0] == pytest.approx(np.pi / 4)


def test_target_rule_and_targets_table(tmp_path, two_squares):
    accounts = pd.DataFrame(
        {
            "account_id": ["a", "b", "c"],
            "lat": [0.5, 0.5, 0.5],
            "lon": [0.2, 0.7, 1.5],
            "revenue": [10.0, 20.0, 30.0],
            "last_year": [100.0, 50.0, 10.0],
        }
    )
    by_rule = territory.kpis(accounts, two_squares, target_from="last_year", target_growth=0.1)
    assert by_rule.set_index("territory_id")["target"].to_dict() == pytest.approx(
        {"A": 165.0, "B": 11.0}
    )
    table = tmp_path / "targets.csv"
    table.write_text("territory_id,target\nA,60\nB,\n")
    by_table = territory.kpis(accounts, two_squares, targets=str(table)).set_index("territory_id")
    assert by_table.loc["A", "attainment"] == pytest.approx(0.5)
    assert np.isnan(by_table.loc["B", "target"]) and np.isnan(by_table.loc["B", "attainment"])
    table.write_text("territory_id,target\nA,60\nZ,5\n")
    with pytest.raises(ValidationError, match="do not exist: Z"):
        territory.kpis(accounts, two_squares, targets=str(table))


def test_plan_attainment_is_over_the_territories_with_a_target(tmp_path, two_squares):
    """Targets for some territories only: the plan's attainment compares their revenue with
    their targets (pandas over the assigned accounts is the oracle), not all revenue; a
    negative target is refused naming its line; the console table adds the unassigned accounts
    and the input total under the territories' total."""
    from click.testing import CliRunner

    from territory.cli import cli

    rng = np.random.default_rng(7)
    accounts = pd.DataFrame(
        {
            "account_id": [f"a{i}" for i in range(40)],
            "lat": rng.uniform(0.05, 0.95, 40),
            "lon": np.r_[rng.uniform(0.05, 1.95, 36), [9.0] * 4],  # four far outside
            "revenue": rng.integers(1, 100, 40).astype(float),
        }
    )
    table = tmp_path / "targets.csv"
    table.write_text("territory_id,target\nA,250\n")
    result = territory.run(accounts, two_squares.drop(columns="target"), targets=str(table))
    located = result.assignments.merge(accounts, on="account_id", suffixes=("", "_in"))
    in_a = located.loc[located["territory_id"] == "A", "revenue_in"].sum()
    assert result.summary["attainment"] == pytest.approx(in_a / 250)
    assert result.summary["attainment_territories"] == 1
    table.write_text("territory_id,target\nA,250\nB,-5\n")
    with pytest.raises(ValidationError, match="Negative targets .*line 3"):
        territory.run(accounts, two_squares.drop(columns="target"), targets=str(table))

    path = tmp_path / "accounts.csv"
    accounts.to_csv(path, index=False)
    squares = tmp_path / "squares.geojson"
    two_squares.to_file(squares)
    res = CliRunner().invoke(cli, ["kpis", str(path), str(squares)], terminal_width=200)
    assert res.exit_code == 0, res.output
    rows = {}
    for line in res.output.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if cells and cells[0] in ("TOTAL", "UNASSIGNED", "INPUT"):
            rows[cells[0]] = [float(c.replace(",", "")) for c in cells if c and c[0].isdigit()]
    assert rows["UNASSIGNED"] == [4, accounts["revenue"].iloc[36:].sum()]
    assert rows["INPUT"] == [40, accounts["revenue"].sum()]
    assert rows["TOTAL"][:2] == [36, accounts["revenue"].iloc[:36].sum()]


def test_unknown_balance_measure(accounts_frame, two_squares):
    with pytest.raises(ValidationError, match="Unknown balance measure 'profit'"):
        territory.kpis(accounts_frame, two_squares, balance="profit")


def test_demo_kpis_match_an_independent_spatial_join():
    """The demo's per-territory revenue equals a plain pandas/geopandas computation."""
    accounts = pd.read_csv(DATA / "demo_accounts.csv", dtype={"postal_code": str})
    zips = pd.read_parquet(DATA / "us_zip_points.parquet")
    located = accounts.merge(zips, on="postal_code", how="left")
    points = gpd.GeoDataFrame(
        located, geometry=gpd.points_from_xy(located.lon, located.lat), crs=4326
    )
    counties = gpd.read_parquet(DATA / "us_counties.parquet")[["GEOID", "geometry"]]
    joined = gpd.sjoin(points, counties, predicate="within", how="left")
    alignment = pd.read_csv(DATA / "demo_alignment.csv", dtype=str)
    joined = joined.merge(alignment, left_on="GEOID", right_on="block_id", how="left")
    expected = joined.groupby("territory_id")["revenue"].sum()

    from territory.cli import demo_plan

    result = demo_plan().run()
    got = result.kpis.set_index("territory_id")["revenue"]
    pd.testing.assert_series_equal(
        got.sort_index(), expected.sort_index(), check_names=False, rtol=1e-9
    )
    assert result.summary["accounts"] == len(accounts) == 793
    targets = joined.groupby("territory_id")["revenue_prior"].sum() * 1.1
    kpis = result.kpis.set_index("territory_id").sort_index()
    np.testing.assert_allclose(kpis["target_before_adjustments"], targets.sort_index())
    # the demo's regional adjustment redistributes targets but keeps their total
    assert kpis["target"].sum() == pytest.approx(targets.sum())


def test_segment_kpis_match_crosstab():
    from territory.cli import demo_plan

    result = demo_plan().run()
    seg = result.segments["segment"]
    merged = result.assignments[["account_id", "territory_id", "revenue"]].merge(
        result.accounts.frame[["account_id", "segment"]], on="account_id"
    )
    expected = merged.pivot_table(
        index="territory_id", columns="segment", values="revenue", aggfunc="sum"
    ).stack()
    expected.index = pd.MultiIndex.from_tuples(
        [(str(t), str(s)) for t, s in expected.index], names=["territory_id", "segment"]
    )
    got = seg.set_index(["territory_id", "segment"])["revenue"]
    pd.testing.assert_series_equal(
        got.sort_index(), expected.sort_index(), check_names=False, check_index_type=False
    )


def test_territory_without_accounts_is_listed_with_zeros():
    territories = gpd.GeoDataFrame(
        {"territory_id": ["full", "empty"]}, geometry=[box(0, 0, 1, 1), box(5, 5, 6, 6)], crs=4326
    )
    accounts = pd.DataFrame({"account_id": ["a"], "lat": [0.5], "lon": [0.5], "revenue": [3.0]})
    kpis = territory.kpis(accounts, territories).set_index("territory_id")
    assert kpis.loc["empty", ["accounts", "revenue"]].tolist() == [0, 0.0]
    assert kpis.loc["empty", "deviation"] == pytest.approx(-1.0)


def test_vectorised_ellipsoid_measures_agree_with_pyproj_geod():
    """Area and perimeter of real county boundaries (holes, multi-parts) match pyproj.Geod."""
    import pyproj

    counties = gpd.read_parquet(DATA / "us_counties.parquet")
    geoms = counties.geometry.to_numpy()
    area, perim = area_perimeter_km(geoms, pyproj.CRS.from_epsg(4326))
    geod = pyproj.Geod(ellps="WGS84")
    # Geod sums signed part areas, so parts must be oriented consistently first
    oriented = shapely.orient_polygons(geoms)
    ref_area = np.array([geod.geometry_area_perimeter(g)[0] for g in oriented]) / 1e6
    # the perimeter counts holes too (all of the boundary), as Polsby-Popper needs
    ref_perim = np.array([geod.geometry_length(b) for b in shapely.boundary(geoms)]) / 1e3
    # A few edges are long: simplified coasts in Alaska, and state lines that follow a
    # parallel (Sioux County, ND: 115 km along 46°N). Geod reads each edge as a geodesic, which
    # bows poleward; we follow the edge in longitude/latitude, as the boundary does. Those
    # counties differ by up to ~1 %; the typical county agrees to about 0.01 %.
    np.testing.assert_allclose(area, ref_area, rtol=1e-2)
    np.testing.assert_allclose(perim, ref_perim, rtol=1e-2)
    assert np.median(np.abs(area / ref_area - 1)) < 2e-4
    assert np.median(np.abs(perim / ref_perim - 1)) < 2e-4


def test_deviation_from_the_mean_or_from_given_targets():
    from territory.quality import deviation

    np.testing.assert_allclose(deviation([110.0, 90.0, 100.0]), [0.1, -0.1, 0.0])
    # the designer's balance targets: one per territory; a zero target is not "off"
    got = deviation([110.0, 45.0, 7.0], target=[100.0, 50.0, 0.0])
    np.testing.assert_allclose(got, [0.1, -0.1, 0.0])
    np.testing.assert_allclose(deviation([0.0, 0.0]), [0.0, 0.0])


def test_design_search_polsby_popper_is_the_kpi_one_with_zero_for_no_perimeter():
    from territory.geometry import polsby_popper_or_zero

    area = np.array([np.pi, 1.0, 0.0, 5.0])
    perimeter = np.array([2 * np.pi, 4.0, 0.0, 0.0])
    scores = [polsby_popper_or_zero(a, p) for a, p in zip(area, perimeter, strict=True)]
    np.testing.assert_allclose(scores[:2], [1.0, np.pi / 4])  # circle, unit square
    np.testing.assert_allclose(scores[:2], polsby_popper(area[:2], perimeter[:2]))
    assert scores[2:] == [0.0, 0.0]
    assert np.isnan(polsby_popper(area[2:], perimeter[2:])).all()
