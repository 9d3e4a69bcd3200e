"""Assignment methods, tie-breaks and agreement with geopandas.sjoin on real boundaries."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import box

import territory
from territory.errors import ValidationError

from .conftest import DATA, point_accounts


def by_id(result: pd.DataFrame) -> pd.DataFrame:
    return result.set_index("account_id")


def test_every_method_and_reason(accounts_frame, two_squares):
    result = by_id(territory.assign(accounts_frame, two_squares))
    assert result.loc["in-a", "territory_id"] == "A"
    assert result.loc["in-a", "method"] == "inside"
    assert result.loc["in-b", "territory_id"] == "B"
    # On the shared edge: lowest id wins, deterministically, and the reason names both.
    assert result.loc["edge", "territory_id"] == "A"
    assert result.loc["edge", "method"] == "boundary"
    assert "'A', 'B'" in result.loc["edge", "reason"]
    # 0.05 degrees east of B at the equator is ~5.6 km: within the default 10 km.
    assert result.loc["near", "territory_id"] == "B"
    assert result.loc["near", "method"] == "nearest"
    assert result.loc["near", "distance_km"] == pytest.approx(5.57, abs=0.05)
    assert pd.isna(result.loc["far", "territory_id"])
    assert result.loc["far", "method"] == "unassigned"
    assert "more than 10 km from any" in result.loc["far", "reason"]
    assert result.loc["nowhere", "method"] == "unassigned"
    assert result.loc["nowhere", "reason"].startswith("no location")


def test_output_keeps_input_order_and_measures(accounts_frame, two_squares):
    result = territory.assign(accounts_frame, two_squares)
    assert list(result["account_id"]) == list(accounts_frame["account_id"])
    assert result["revenue"].tolist() == accounts_frame["revenue"].tolist()


def test_nearest_distance_limit_and_switch_off(accounts_frame, two_squares):
    tight = by_id(territory.assign(accounts_frame, two_squares, max_distance_km=5))
    assert tight.loc["near", "method"] == "unassigned"
    assert tight.loc["near", "distance_km"] == pytest.approx(5.57, abs=0.05)
    assert "5.6 km away, beyond the 5 km limit" in tight.loc["near", "reason"]
    off = by_id(territory.assign(accounts_frame, two_squares, max_distance_km=0))
    assert off.loc["near", "method"] == "unassigned"
    assert "fallback is off" in off.loc["near", "reason"]


@pytest.mark.parametrize(("rule", "winner"), [("smallest", "small"), ("first", "big")])
def test_overlap_rules(rule, winner):
    territories = gpd.GeoDataFrame(
        {"territory_id": ["big", "small"]},
        geometry=[box(0, 0, 10, 10), box(4, 4, 6, 6)],
        crs="EPSG:4326",
    )
    accounts = point_accounts([(5, 5), (1, 1)])
    result = territory.run(accounts, territories, overlap=rule)
    rows = by_id(result.assignments)
    assert rows.loc["a0", "territory_id"] == winner
    assert rows.loc["a0", "method"] == "overlap"
    assert rows.loc["a1", "territory_id"] == "big"
    assert any("overlapping pairs" in n for n in result.notes)


def test_unknown_overlap_rule_is_a_clear_error(accounts_frame, two_squares):
    with pytest.raises(ValidationError, match="Unknown overlap rule 'largest'"):
        territory.assign(accounts_frame, two_squares, overlap="largest")


def test_blocks_and_alignment(grid_blocks, grid_alignment):
    accounts = point_accounts([(0.5, 0.5), (3.5, 3.5), (2.0, 1.5)], revenue=[1.0, 2.0, 3.0])
    result = by_id(territory.assign(accounts, grid_blocks, alignment=grid_alignment))
    assert result.loc["a0", ["territory_id", "block_id"]].tolist() == ["W", "r0c0"]
    assert result.loc["a1", ["territory_id", "block_id"]].tolist() == ["E", "r3c3"]
    # x = 2 is the border between r1c1 (W) and r1c2 (E): lowest block id wins.
    assert result.loc["a2", ["territory_id", "block_id", "method"]].tolist() == [
        "W",
        "r1c1",
        "boundary",
    ]


def test_block_left_blank_in_alignment_gives_unassigned_with_reason(grid_blocks, grid_alignment):
    grid_alignment.loc[grid_alignment.block_id == "r0c0", "territory_id"] = ""
    accounts = point_accounts([(0.5, 0.5), (1.5, 0.5)])
    result = territory.run(accounts, grid_blocks, alignment=grid_alignment)
    rows = by_id(result.assignments)
    assert rows.loc["a0", "method"] == "unassigned"
    assert "r0c0" in rows.loc["a0", "reason"]
    assert rows.loc["a1", "territory_id"] == "W"
    assert any("without a territory" in n for n in result.notes)


def test_accounts_in_another_crs_are_reprojected_and_reported(two_squares):
    accounts = point_accounts([(0.5, 0.5), (1.5, 0.5)]).to_crs(3857)
    result = territory.run(accounts, two_squares)
    assert by_id(result.assignments)["territory_id"].tolist() == ["A", "B"]
    assert any("reprojected from EPSG:3857 to EPSG:4326" in n for n in result.notes)


def test_projected_territories_and_distances_in_metres(two_squares):
    projected = two_squares.to_crs(3857)
    accounts = point_accounts([(0.5, 0.5), (2.05, 0.5)])
    rows = by_id(territory.assign(accounts, projected))
    assert rows.loc["a0", "territory_id"] == "A"
    assert rows.loc["a1", "method"] == "nearest"
    # Web Mercator distances near the equator are close to true distances.
    assert rows.loc["a1", "distance_km"] == pytest.approx(5.57, abs=0.1)


def test_nearest_distance_is_to_the_nearest_edge_not_the_first_corner_found():
    # The account is 883.88 m from the corner (625, 625) and 883.50 m from the west edge
    # x = 883.5 of the same territory: the edge is the nearer by 0.38 m, within the 1 m in
    # which territories tie, and it must still be the distance reported (shapely's is the oracle).
    x0, y0 = 500_000.0, 5_000_000.0
    ring = [(883.5, -300), (3000, -300), (3000, 3000), (625, 3000), (625, 625), (883.5, 400)]
    area = shapely.Polygon([(x0 + x, y0 + y) for x, y in ring])
    layer = gpd.GeoDataFrame({"territory_id": ["T"]}, geometry=[area], crs=32633)
    accounts = gpd.GeoDataFrame({"account_id": ["a"]}, geometry=[shapely.Point(x0, y0)], crs=32633)
    row = by_id(territory.assign(accounts, layer)).loc["a"]
    want = shapely.distance(shapely.Point(x0, y0), area.exterior) / 1000
    assert want == pytest.approx(0.8835)
    assert row["method"] == "nearest"
    assert row["distance_km"] == pytest.approx(want, rel=1e-9)


def test_matches_sjoin_on_real_county_boundaries():
    counties = gpd.read_parquet(DATA / "us_counties.parquet")
    rng = np.random.default_rng(7)
    n = 20_000
    x = rng.uniform(-124, -67, n)
    y = rng.uniform(25, 49, n)
    accounts = gpd.GeoDataFrame(
        {"account_id": np.arange(n).astype(str)}, geometry=shapely.points(x, y), crs=4326
    )
    ours = territory.assign(accounts, counties, territory_id="GEOID", max_distance_km=0)
    joined = gpd.sjoin(accounts, counties[["GEOID", "geometry"]], predicate="within", how="left")
    joined = joined[~joined.index.duplicated()]
    expected = joined["GEOID"].reindex(accounts.index)
    inside = ours["method"].eq("inside").to_numpy()
    assert inside.sum() > 0.8 * n * 0.7  # most of the box is land in a county
    np.testing.assert_array_equal(ours["territory_id"].to_numpy()[inside], expected[inside])
    # Points sjoin finds nowhere are unassigned here too (no nearest fallback in this run).
    outside = expected.isna().to_numpy()
    assert (ours["method"].to_numpy()[outside] == "unassigned").all()


def test_threads_do_not_change_the_result():
    counties = gpd.read_parquet(DATA / "us_counties.parquet")
    rng = np.random.default_rng(3)
    accounts = pd.DataFrame(
        {
            "account_id": np.arange(5000).astype(str),
            "lat": rng.uniform(30, 45, 5000),
            "lon": rng.uniform(-110, -80, 5000),
        }
    )
    from territory.assignment import AssignOptions, assign_accounts
    from territory.territories import load_territories
    from territory.validate import prepare_accounts

    acc = prepare_accounts(accounts)
    layer = load_territories(counties, territory_id="GEOID")
    one = assign_accounts(acc, layer, AssignOptions(threads=1))
    many = assign_accounts(acc, layer, AssignOptions(threads=4))
    pd.testing.assert_frame_equal(one, many)


def test_distances_in_a_foot_based_crs_are_converted_to_km():
    """A layer in US survey feet (NY State Plane): the nearest distance is still in km."""
    layer = gpd.GeoDataFrame(
        {"territory_id": ["Manhattan"]}, geometry=[box(-74.02, 40.70, -73.93, 40.80)], crs=4326
    ).to_crs(2263)
    # 0.05 degrees of latitude north of the box: about 5.55 km
    accounts = point_accounts([(-73.97, 40.85)])
    rows = by_id(territory.assign(accounts, layer))
    assert rows.loc["a0", "method"] == "nearest"
    assert rows.loc["a0", "distance_km"] == pytest.approx(5.55, abs=0.1)


def _grid_territories(crs="EPSG:3857") -> gpd.GeoDataFrame:
    """A 3 x 2 grid of 10 km squares with a number id and a name."""
    cells = [box(i * 10_000, j * 10_000, (i + 1) * 10_000, (j + 1) * 10_000)
             for i in range(3) for j in range(2)]  # fmt: skip
    return gpd.GeoDataFrame(
        {"territory_id": [f"T{k}" for k in range(6)], "label": list("abcdef")},
        geometry=cells,
        crs=crs,
    )


def _strictly_inside(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points at least 100 m from every grid line, so 'within' has one answer."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, n) * 10_000 + rng.uniform(100, 9_900, n)
    y = rng.integers(0, 2, n) * 10_000 + rng.uniform(100, 9_900, n)
    return x, y


def test_assign_returns_the_users_geodataframe_with_columns_added():
    terr = _grid_territories()
    x, y = _strictly_inside(300, 11)
    accounts = gpd.GeoDataFrame(
        {
            "Customer": [f"c{i}" for i in range(300)],
            "revenue": np.arange(300, dtype="int64"),
            "tier": pd.Categorical(np.where(np.arange(300) % 3, "B", "A")),
            "note": ["kept"] * 300,
        },
        geometry=shapely.points(x, y),
        crs="EPSG:3857",
        index=pd.Index(np.arange(300)[::-1] * 7 + 5, name="row_key"),
    )
    before = accounts.copy()
    out = territory.assign(accounts, terr, account_id="Customer")
    assert isinstance(out, gpd.GeoDataFrame)
    assert out.crs == accounts.crs
    assert list(out.columns) == [*accounts.columns, "territory_id", "method", "distance_km",
                                 "reason"]  # fmt: skip
    assert_geodataframe_equal(out[list(accounts.columns)], before)
    assert_geodataframe_equal(accounts, before)  # the input is not modified
    joined = gpd.sjoin(accounts, terr[["territory_id", "geometry"]], predicate="within")
    assert joined.index.is_unique and len(joined) == len(accounts)
    expected = joined["territory_id"].reindex(accounts.index)
    np.testing.assert_array_equal(out["territory_id"].astype(str), expected.astype(str))
    assert (out["method"] == "inside").all()
    assert out["reason"].eq("").all()


def test_no_edit_of_the_returned_frame_reaches_the_users_frame():
    """Every kind of column (numpy, nullable integer, categorical, text, geometry), edited in
    every way pandas allows, including in place through ``.array`` and ``.values``."""
    terr = _grid_territories()
    x, y = _strictly_inside(50, 13)
    accounts = gpd.GeoDataFrame(
        {
            "account_id": [f"c{i}" for i in range(50)],
            "revenue": np.arange(50, dtype="float64"),
            "visits": pd.array(np.arange(50), dtype="Int64"),
            "tier": pd.Categorical(np.where(np.arange(50) % 3, "B", "A")),
            "note": pd.array(["kept"] * 50, dtype="string"),
        },
        geometry=shapely.points(x, y),
        crs="EPSG:3857",
    )
    before = accounts.copy()
    out = territory.assign(accounts, terr)
    out.loc[0, "revenue"] = -1.0
    out["visits"].array[1] = 99
    out["note"].array[2] = "changed"
    out["tier"].array[3] = "A"
    out.geometry.values[4] = shapely.Point(0, 0)
    out.iloc[5, 0] = "renamed"
    assert_geodataframe_equal(accounts, before)


def test_assign_returns_the_users_dataframe_located_by_lat_lon():
    terr = _grid_territories().to_crs(4326)
    x, y = _strictly_inside(200, 12)
    lonlat = gpd.GeoSeries(shapely.points(x, y), crs="EPSG:3857").to_crs(4326)
    accounts = pd.DataFrame(
        {
            "account_id": np.arange(200) + 1000,
            "Latitude": lonlat.y.to_numpy(),
            "lon": lonlat.x.to_numpy(),
            "owner": ["x"] * 200,
        },
        index=pd.RangeIndex(200, 400),
    )
    out = territory.assign(accounts, terr)
    assert type(out) is pd.DataFrame
    pd.testing.assert_frame_equal(out[list(accounts.columns)], accounts)
    points = gpd.GeoDataFrame(accounts, geometry=lonlat.to_numpy(), crs=4326)
    joined = gpd.sjoin(points, terr[["territory_id", "geometry"]], predicate="within")
    expected = joined["territory_id"].reindex(accounts.index)
    assert expected.notna().all()
    np.testing.assert_array_equal(out["territory_id"].astype(str), expected.astype(str))


def test_assign_refuses_a_clashing_column_unless_a_suffix_is_given(two_squares):
    accounts = point_accounts([(0.5, 0.5), (1.5, 0.5)], territory_id=["old-1", "old-2"])
    with pytest.raises(ValidationError, match=r"already have column\(s\) 'territory_id'.*suffix"):
        territory.assign(accounts, two_squares)
    out = territory.assign(accounts, two_squares, suffix="_new")
    assert out["territory_id"].tolist() == ["old-1", "old-2"]  # the user's column, untouched
    assert out["territory_id_new"].astype(str).tolist() == ["A", "B"]
    assert "method" in out.columns and "method_new" not in out.columns
