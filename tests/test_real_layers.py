"""Real-world layer shapes: multi-part territories, odd geometry columns, empty shapes,
coordinate checks, the antimeridian, geoarrow GeoParquet and one geometry measure for all.

Distances are checked against an independent oracle: shapely's distance in an azimuthal
equidistant projection centred on each point (the polygons segmentized first, so their edges
follow the straight lon/lat lines the file describes).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import MultiPolygon, Point, Polygon, box

import territory
from territory.cli import cli
from territory.errors import ValidationError
from territory.geometry import area_perimeter_km, equal_area_crs

DATA = Path(str(resources.files("territory.data")))
GEOD = pyproj.Geod(ellps="WGS84")


def oracle_km(lon: float, lat: float, geoms, within_deg: float = 1.0) -> np.ndarray:
    """Distance (km) from a point to each geometry, in an AEQD frame centred on the point.

    Shapes whose bounding box is more than ``within_deg`` degrees away are given infinity
    (every test distance here is far below that).
    """
    geoms = np.asarray(geoms)
    box_ = shapely.box(lon - within_deg, lat - within_deg, lon + within_deg, lat + within_deg)
    near = shapely.intersects(shapely.envelope(geoms), box_)
    out = np.full(len(geoms), np.inf)
    aeqd = f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m"
    clipped = shapely.clip_by_rect(geoms[near], *box_.buffer(within_deg).bounds)
    dense = gpd.GeoSeries(shapely.segmentize(clipped, 0.01), crs=4326)
    out[near] = dense.to_crs(aeqd).distance(Point(0, 0)).to_numpy() / 1000
    return out


def offshore(lon, lat, bearing, km):
    """The point ``km`` from (lon, lat) along ``bearing`` degrees."""
    x, y, _ = GEOD.fwd(lon, lat, bearing, km * 1000)
    return float(x), float(y)


def accounts(points, **columns) -> pd.DataFrame:
    lon, lat = zip(*points, strict=True)
    ids = [f"acct-{i}" for i in range(len(points))]
    return pd.DataFrame({"account_id": ids, "lat": lat, "lon": lon, **columns})


@pytest.fixture(scope="module")
def states() -> gpd.GeoDataFrame:
    layer = gpd.read_parquet(DATA / "us_states.parquet")
    return layer[["STUSPS", "geometry"]].rename(columns={"STUSPS": "territory_id"})


# --------------------------------------------------------------------------------------------
# 1. the nearest rule searches every part of multi-part shapes


def island_layer() -> gpd.GeoDataFrame:
    """'M' is a mainland square plus an island 1 degree east; 'S' a square to the south."""
    mainland, island = box(0, 0, 1, 1), box(2, 0, 2.5, 0.5)
    return gpd.GeoDataFrame(
        {"territory_id": ["M", "S"]},
        geometry=[MultiPolygon([mainland, island]), box(0, -2, 2.6, -1.5)],
        crs=4326,
    )


def test_nearest_reaches_the_islands_of_multipart_territories():
    layer = island_layer()
    # 3 km east of the island, 0.4 degrees (~44 km) from the mainland
    points = [(2.5 + 3 / 111.3, 0.25), (2.25, 0.5 + 2 / 110.6)]
    result = territory.assign(accounts(points), layer)
    assert list(result["territory_id"]) == ["M", "M"]
    assert list(result["method"]) == ["nearest", "nearest"]
    for (lon, lat), km in zip(points, result["distance_km"], strict=True):
        expected = oracle_km(lon, lat, layer.geometry).min()
        assert km == pytest.approx(expected, rel=0.01)


def test_real_coastal_points_go_to_the_state_an_oracle_picks(states):
    """Points just off real multi-part coasts (islands, bays) take the nearest state."""
    points = [(-118.55, 34.0)]  # off Malibu (the case; CA is multi-part)
    # Marblehead MA, a real ZIP point that lies just offshore of the simplified coast
    zips = pd.read_parquet(DATA / "us_zip_points.parquet")
    zips = zips[zips["postal_code"].isin(["01945", "02108", "02109", "02110", "02111"])]
    points += list(zip(zips["lon"], zips["lat"], strict=True))
    assert len(points) >= 4
    result = territory.assign(accounts(points), states)
    multipart = set(states.loc[states.geom_type == "MultiPolygon", "territory_id"])
    assert {"CA", "MA", "NY"} <= multipart
    for (lon, lat), row in zip(points, result.itertuples(), strict=True):
        dist = oracle_km(lon, lat, states.geometry)
        inside = states.contains(Point(lon, lat)).to_numpy()
        if inside.any():
            assert row.territory_id == states["territory_id"].to_numpy()[inside][0]
            continue
        best = int(np.argmin(dist))
        assert row.territory_id == states["territory_id"].iloc[best], row
        assert row.method == "nearest"
        assert row.distance_km == pytest.approx(dist[best], rel=0.01)
        assert f"'{row.territory_id}'" in row.reason


@pytest.mark.slow
def test_nearest_picks_the_closer_of_two_multipart_neighbours(states):
    """Around a multi-part state, points pushed 0.5-8 km out to sea take the oracle's state."""
    rng = np.random.default_rng(5)
    ny = states.set_index("territory_id").loc["NY", "geometry"]
    ring = shapely.get_exterior_ring(max(ny.geoms, key=lambda g: g.area))
    vertices = shapely.get_coordinates(ring)[:: max(1, len(ring.coords) // 60)]
    points = []
    for lon, lat in vertices:
        for _ in range(3):
            points.append(offshore(lon, lat, rng.uniform(0, 360), rng.uniform(0.5, 8)))
    result = territory.assign(accounts(points), states, max_distance_km=10)
    ids = states["territory_id"].to_numpy()
    checked = 0
    for (lon, lat), row in zip(points, result.itertuples(), strict=True):
        if row.method != "nearest":
            continue
        dist = oracle_km(lon, lat, states.geometry)
        order = np.argsort(dist)
        if dist[order[1]] - dist[order[0]] < 0.01:
            continue  # a tie within 10 m: either answer is defensible
        assert row.territory_id == ids[order[0]], (lon, lat, row)
        assert row.distance_km == pytest.approx(dist[order[0]], rel=0.01, abs=0.02)
        checked += 1
    assert checked >= 20


@pytest.mark.slow
def test_same_answer_in_every_vector_format(tmp_path, states):
    """GeoPackage promotes every shape to MultiPolygon; the answer must not change."""
    rng = np.random.default_rng(11)
    points = [offshore(-70.9, 42.5, rng.uniform(0, 360), rng.uniform(0, 9)) for _ in range(40)]
    points += [offshore(-118.6, 34.0, rng.uniform(0, 360), rng.uniform(0, 9)) for _ in range(40)]
    frames = {}
    for suffix in (".geojson", ".gpkg", ".parquet", ".shp"):
        path = tmp_path / f"states{suffix}"
        if suffix == ".parquet":
            states.to_parquet(path)
        else:
            states.rename(columns={"territory_id": "tid"}).to_file(path)
        frames[suffix] = territory.assign(
            accounts(points),
            str(path),
            territory_id=("territory_id" if suffix == ".parquet" else "tid"),
        )
    first = frames[".geojson"]
    assert (first["method"] == "nearest").sum() >= 10
    for suffix, frame in frames.items():
        pd.testing.assert_series_equal(
            frame["territory_id"].astype(object), first["territory_id"].astype(object),
            obj=suffix,
        )  # fmt: skip
        pd.testing.assert_series_equal(frame["method"], first["method"], obj=suffix)
        np.testing.assert_allclose(frame["distance_km"], first["distance_km"], atol=1e-6)


def test_nearest_ties_go_to_the_lowest_id():
    """Two squares whose corners lie within a metre of the same distance: lowest id wins.

    'b' is nearer by a few centimetres, which no boundary file is accurate to; the rule
    (documented in the README) makes the answer independent of layer order and file format.
    """
    layer = gpd.GeoDataFrame(
        {"territory_id": ["a", "b"]},
        geometry=[box(0, 0.000004, 1, 1), box(0, -1, 1, 0)],  # a 0.44 m gap between them
        crs=4326,
    )
    for order in (layer, layer.iloc[::-1]):
        result = territory.assign(accounts([(1.02, 0.0)]), order)
        assert result.loc[0, "territory_id"] == "a"
        assert result.loc[0, "method"] == "nearest"
    clear = territory.assign(accounts([(1.02, -0.01)]), layer)  # 1.1 km nearer to 'b'
    assert clear.loc[0, "territory_id"] == "b"


def test_nearest_across_the_antimeridian():
    """An island just west of 180° is the nearest territory of a point just east of it."""
    layer = gpd.GeoDataFrame(
        {"territory_id": ["west", "far"]},
        geometry=[box(179.5, 51.0, 179.98, 51.5), box(-170, 51, -169, 52)],
        crs=4326,
    )
    points = [(-179.97, 51.2), (179.99, 51.2)]
    result = territory.assign(accounts(points), layer)
    assert list(result["territory_id"]) == ["west", "west"]
    for (lon, lat), km in zip(points, result["distance_km"], strict=True):
        _, _, metres = GEOD.inv(lon, lat, 179.98, lat)
        assert km == pytest.approx(metres / 1000, rel=0.01)


@pytest.mark.parametrize("epsg", [5070, 2263])  # metres; US survey feet
def test_nearest_in_projected_layers_matches_lonlat(states, epsg):
    rng = np.random.default_rng(3)
    points = [offshore(-73.9, 40.55, rng.uniform(90, 200), rng.uniform(0.5, 6)) for _ in range(20)]
    east = states[states["territory_id"].isin(["NY", "NJ", "CT", "PA"])]
    lonlat = territory.assign(accounts(points), east)
    projected = territory.assign(accounts(points), east.to_crs(epsg))
    assert (lonlat["method"] == "nearest").sum() >= 5
    assert list(projected["territory_id"]) == list(lonlat["territory_id"])
    near = (lonlat["method"] == "nearest").to_numpy()
    np.testing.assert_allclose(
        projected["distance_km"][near], lonlat["distance_km"][near], rtol=0.01, atol=0.02
    )


# --------------------------------------------------------------------------------------------
# 2. the active geometry column may have any name


@pytest.mark.slow
@pytest.mark.parametrize("name", ["geom", "the_geom", "shape"])
def test_geometry_column_of_any_name(tmp_path, name, grid_blocks, grid_alignment):
    terr = gpd.GeoDataFrame(
        {"territory_id": ["A", "B"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326
    ).rename_geometry(name)
    path = tmp_path / "terr.parquet"
    terr.to_parquet(path)
    acc = gpd.GeoDataFrame(
        {"account_id": ["p", "q"], "revenue": [1.0, 2.0]},
        geometry=[Point(0.5, 0.5), Point(1.5, 0.5)],
        crs=4326,
    ).rename_geometry(name)
    for layer in (terr, str(path)):
        result = territory.assign(acc, layer)
        assert list(result["territory_id"]) == ["A", "B"]
    blocks = grid_blocks.rename_geometry(name)
    pts = [Point(c + 0.5, r + 0.5) for r in range(4) for c in range(4)]
    homes_acc = gpd.GeoDataFrame(
        {"account_id": [f"a{i}" for i in range(16)], "revenue": np.arange(16.0) + 1},
        geometry=pts,
        crs=4326,
    ).rename_geometry(name)
    designed = territory.design(blocks, homes_acc, k=2, tolerance=0.2)
    assert set(designed.alignment["territory_id"]) == set(designed.quality["territory_id"])
    rebalanced = territory.design(blocks, homes_acc, current=grid_alignment, rebalance=True)
    assert len(rebalanced.alignment) == 16
    blocks_path = tmp_path / "blocks.parquet"
    blocks.to_parquet(blocks_path)
    acc_path = tmp_path / "acc.parquet"
    homes_acc.to_parquet(acc_path)
    runner = CliRunner()
    for args in (
        ["assign", str(acc_path), str(path), "-o", str(tmp_path / "a.csv")],
        ["design", str(blocks_path), "-k", "2", "--accounts", str(acc_path), "--out",
         str(tmp_path / "d")],
    ):  # fmt: skip
        out = runner.invoke(cli, args)
        assert out.exit_code == 0, out.output
        assert "Traceback" not in out.output


# --------------------------------------------------------------------------------------------
# 3. an empty shape is reported, not fatal (unless strict)


def layer_with_empty() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"territory_id": ["A", "B", "Z"]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), Polygon()],
        crs=4326,
    )


def test_empty_territory_keeps_its_row_and_the_run_goes_on(tmp_path):
    layer = layer_with_empty()
    acc = accounts([(0.5, 0.5), (1.5, 0.5), (2.05, 0.5)], revenue=[1.0, 2.0, 4.0])
    result = territory.run(acc, layer)
    kpis = result.kpis.set_index("territory_id")
    assert kpis.loc["Z", "accounts"] == 0
    assert kpis.loc["Z", "revenue"] == 0
    assert kpis["revenue"].sum() == pytest.approx(7.0)
    assigned = result.assignments.set_index("account_id")
    assert assigned.loc["acct-2", "territory_id"] == "B"  # nearest rule, not the empty shape
    assert any("empty geometry" in n and "'Z'" in n for n in result.notes)
    page = result.to_map().get_root().render()  # the map renders the shapes that exist
    assert page.count('"territory_id": "A"') + page.count('"territory_id":"A"') >= 1
    # the file form, with the CLI and strict
    path = tmp_path / "terr.gpkg"
    layer.to_file(path)
    csv = tmp_path / "acc.csv"
    acc.to_csv(csv, index=False)
    runner = CliRunner()
    ok = runner.invoke(cli, ["assign", str(csv), str(path), "-o", str(tmp_path / "a.csv")])
    assert ok.exit_code == 0, ok.output
    assert "'Z'" in " ".join(ok.output.split())
    strict = runner.invoke(
        cli, ["assign", str(csv), str(path), "-o", str(tmp_path / "b.csv"), "--strict"]
    )
    assert strict.exit_code == 1
    assert "empty geometry" in strict.output and "'Z'" in strict.output
    with pytest.raises(ValidationError, match="empty geometry"):
        territory.assign(acc, layer, strict=True)


def test_empty_block_is_left_out_of_a_design_and_listed(grid_blocks):
    blocks = grid_blocks.copy()
    blocks.loc[5, "geometry"] = Polygon()
    empty_id = blocks.loc[5, "block_id"]
    pts = [Point(c + 0.5, r + 0.5) for r in range(4) for c in range(4)]
    acc = gpd.GeoDataFrame(
        {"account_id": [f"a{i}" for i in range(16)], "revenue": np.ones(16)},
        geometry=pts,
        crs=4326,
    )
    result = territory.design(blocks, acc, k=2, tolerance=0.2)
    row = result.alignment.set_index("block_id").loc[empty_id]
    assert pd.isna(row["territory_id"])
    assert any(empty_id in note for note in result.notes)
    # the account in the empty block is 55 km from any other block: listed, not lost
    assert result.quality["revenue"].sum() == pytest.approx(15.0)
    assert list(result.unassigned["account_id"]) == ["a5"]
    assert "10 km" in result.unassigned["reason"].iloc[0]
    assert result.quality["blocks"].sum() == 15
    with pytest.raises(ValidationError, match="empty geometry"):
        territory.design(blocks, acc, k=2, strict=True)


def test_blocks_with_empty_shapes_apply_through_an_alignment(grid_blocks, grid_alignment):
    blocks = grid_blocks.copy()
    blocks.loc[0, "geometry"] = None
    acc = accounts([(0.98, 0.5), (3.5, 3.5)], revenue=[1.0, 1.0])  # 2 km from block r0c1
    result = territory.assign(acc, blocks, alignment=grid_alignment)
    assert result.loc[0, "method"] == "nearest"
    assert result.loc[0, "block_id"] == "r0c1"
    assert result.loc[0, "territory_id"] == "W"
    assert result.loc[1, "territory_id"] == "E"


# --------------------------------------------------------------------------------------------
# 4. coordinates that cannot be lon/lat; rings across the antimeridian


def test_metres_declared_as_degrees_is_an_error(states):
    wrong = states.to_crs(5070).set_crs(4326, allow_override=True)
    with pytest.raises(ValidationError) as err:
        territory.assign(accounts([(-100, 40)]), wrong)
    text = str(err.value)
    assert "look like metres or feet" in text and "'CA'" in text and "CRS" in text


def test_latitude_beyond_90_in_a_layer_is_an_error():
    layer = gpd.GeoDataFrame(
        {"territory_id": ["ok", "bad"]},
        geometry=[box(0, 0, 1, 1), box(0, 80, 1, 95)],
        crs=4326,
    )
    with pytest.raises(ValidationError, match="'bad'.*within ±90"):
        territory.assign(accounts([(0.5, 0.5)]), layer)


def test_ring_across_the_antimeridian_is_split_not_356_degrees_wide():
    fiji = Polygon([(177, -16), (-179, -16), (-179, -19), (177, -19)])
    layer = gpd.GeoDataFrame(
        {"territory_id": ["fiji", "africa"]}, geometry=[fiji, box(-1, -1, 1, 1)], crs=4326
    )
    points = [(0.0, -17.5), (178.0, -17.5), (-179.5, -17.5), (179.999, -17.0)]
    result = territory.run(accounts(points), layer)
    assigned = result.assignments
    # longitude 0 is half a world away from Fiji, not inside it
    assert pd.isna(assigned["territory_id"].iloc[0])
    assert list(assigned["territory_id"][1:]) == ["fiji", "fiji", "fiji"]
    assert list(assigned["method"][:3]) == ["unassigned", "inside", "inside"]
    note = next(n for n in result.notes if "antimeridian" in n)
    assert note.startswith("1 territory in ") and "'fiji'" in note
    # the area is that of a 4 x 3 degree box, not of one 356 degrees wide
    area = result.layer.area_perimeter.loc["fiji", "area_km2"]
    expected = abs(GEOD.geometry_area_perimeter(box(177, -19, 181, -16))[0]) / 1e6
    assert area == pytest.approx(expected, rel=0.01)


# --------------------------------------------------------------------------------------------
# 5. one projection centre and one geometry measure


def test_equal_area_centre_of_a_layer_across_the_antimeridian():
    counties = gpd.read_parquet(DATA / "us_counties.parquet")
    alaska = counties[counties["STUSPS"] == "AK"]
    assert alaska.total_bounds[0] < -179 and alaska.total_bounds[2] > 179  # Aleutians
    crs = equal_area_crs(counties.geometry.to_numpy(), pyproj.CRS.from_epsg(4326))
    params = {p.name: p.value for p in crs.coordinate_operation.params}
    lat0 = params["Latitude of natural origin"]
    lon0 = params["Longitude of natural origin"]
    assert 30 < lat0 < 55 and -125 < lon0 < -85
    # 100 km east-west in Kansas reads 100 km within 3 % in that projection
    to = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    lon2, lat2, _ = GEOD.fwd(-98.0, 38.5, 90, 100_000)
    x, y = to.transform([-98.0, lon2], [38.5, lat2])
    assert np.hypot(x[1] - x[0], y[1] - y[0]) / 1000 == pytest.approx(100, rel=0.03)


def test_design_and_kpis_measure_compactness_the_same_way():
    """The designer's quality report and the plan KPIs agree on every territory's shape."""
    from territory.designer.compare import plan_report

    counties = gpd.read_parquet(DATA / "us_counties.parquet")
    alignment = pd.read_csv(DATA / "demo_alignment.csv", dtype=str)
    quality, _ = plan_report(counties, alignment, balance="ALAND")
    acc = pd.read_csv(DATA / "demo_accounts.csv", dtype=str)
    kpis = territory.kpis(acc, counties, alignment=alignment).set_index("territory_id")
    q = quality.set_index("territory_id").loc[kpis.index]
    np.testing.assert_allclose(q["polsby_popper"], kpis["compactness"], rtol=0.01)
    # and both agree with pyproj's geodesic area of the dissolved territories
    layer = territory.load_territories(counties, alignment=alignment)
    geod_area = [abs(GEOD.geometry_area_perimeter(g)[0]) / 1e6 for g in layer.territories.geometry]
    ours, _ = area_perimeter_km(layer.territories.geometry.to_numpy(), layer.crs)
    np.testing.assert_allclose(ours, geod_area, rtol=0.002)
    np.testing.assert_allclose(
        q.loc[layer.territories["territory_id"], "area_km2"], geod_area, rtol=0.002
    )


# --------------------------------------------------------------------------------------------
# 6. GeoParquet with native (geoarrow) encoding


@pytest.mark.slow
def test_geoarrow_encoded_geoparquet_folder_runs(tmp_path, states):
    rng = np.random.default_rng(2)
    n = 3000
    acc = gpd.GeoDataFrame(
        {"account_id": [f"x{i}" for i in range(n)], "revenue": rng.uniform(1, 100, n)},
        geometry=gpd.points_from_xy(rng.uniform(-104, -89, n), rng.uniform(33, 43, n)),
        crs=4326,
    )
    folder = tmp_path / "accounts"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(n), 3)):
        acc.iloc[part].to_parquet(folder / f"part-{i}.parquet", geometry_encoding="geoarrow")
    wkb = tmp_path / "wkb.parquet"
    acc.to_parquet(wkb)
    layer = tmp_path / "states.parquet"
    states.to_parquet(layer)
    plan = tmp_path / "plan.toml"
    plan.write_text(
        f'name = "geoarrow"\n[accounts]\npath = "{folder.as_posix()}"\n'
        f'[territories]\npath = "{layer.as_posix()}"\n[outputs]\ndir = "{tmp_path / "out"}"\n'
        'map = ""\n'
    )
    out = CliRunner().invoke(cli, ["run", str(plan)])
    assert out.exit_code == 0, out.output
    written = pd.read_csv(tmp_path / "out" / "assignments.csv", dtype={"account_id": str})
    expected = territory.assign(str(wkb), states)
    from_folder = territory.assign(str(folder), states)  # the folder read whole, as one table
    pd.testing.assert_frame_equal(
        from_folder.sort_values("account_id", ignore_index=True),
        expected.sort_values("account_id", ignore_index=True),
    )
    merged = written.merge(expected, on="account_id", suffixes=("", "_wkb"))
    assert len(merged) == n
    assert (merged["territory_id"] == merged["territory_id_wkb"].astype(object)).all()
    # revenue per state equals a plain pandas sum by an independent point-in-polygon join
    joined = gpd.sjoin(acc, states, predicate="within")
    oracle = joined.groupby("territory_id")["revenue"].sum()
    kpis = pd.read_csv(tmp_path / "out" / "kpis.csv").set_index("territory_id")
    np.testing.assert_allclose(kpis.loc[oracle.index, "revenue"], oracle, rtol=1e-9)


def test_plan_file_strict_setting(tmp_path):
    layer_with_empty().to_file(tmp_path / "terr.gpkg")
    accounts([(0.5, 0.5)], revenue=[1.0]).to_csv(tmp_path / "acc.csv", index=False)

    def run(strict: str):
        plan = tmp_path / "plan.toml"
        plan.write_text(
            '[accounts]\npath = "acc.csv"\n'
            f'[territories]\npath = "terr.gpkg"\nstrict = {strict}\n'
            '[outputs]\ndir = "out"\nmap = ""\n'
        )
        return CliRunner().invoke(cli, ["run", str(plan)])

    assert run("false").exit_code == 0
    refused = run("true")
    assert refused.exit_code == 1 and "empty geometry" in refused.output
    typo = run('"yes"')
    assert typo.exit_code == 1 and "[territories] strict" in typo.output
