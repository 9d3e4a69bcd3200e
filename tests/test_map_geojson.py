"""GeoJSON built in bulk for maps equals geopandas' own (``to_json`` and back) value for value."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from territory.maps.geojson import feature_collection
from territory.maps.render import _web_shapes
from tests.conftest import DATA


def oracle(frame: gpd.GeoDataFrame) -> dict:
    return json.loads(frame.to_json(drop_id=True))


def test_feature_collection_equals_to_json_for_holes_parts_gaps_and_missing_values():
    holed = box(0, 0, 10, 10).difference(box(2, 2, 3, 3)).difference(box(5, 5, 6, 6))
    parts = MultiPolygon([box(20, 0, 21, 1), box(22, 0, 24, 2).difference(box(22.5, 0.5, 23, 1))])
    frame = gpd.GeoDataFrame(
        {"i": [0, 1, 2, 3], "x": [1.5, np.nan, -0.1, 1e20], "s": ["a", None, "<b>", "é"],
         "ok": [True, False, True, False]},
        geometry=[holed, parts, None, Polygon()],
        crs=4326,
    )  # fmt: skip
    got = feature_collection(frame)
    assert got == oracle(frame)
    assert json.dumps(got) == json.dumps(oracle(frame))  # same text, keys in the same order
    assert got["features"][2]["geometry"] is None and got["features"][3]["geometry"] is None
    assert feature_collection(frame.iloc[:0]) == oracle(frame.iloc[:0])


def test_feature_collection_of_web_shaped_counties_equals_to_json():
    counties = gpd.read_parquet(DATA / "us_counties.parquet")
    shapes = _web_shapes(counties[["GEOID", "ALAND", counties.geometry.name]], 500.0)
    assert json.dumps(feature_collection(shapes)) == json.dumps(oracle(shapes))


def test_other_shapes_and_projected_layers_take_geopandas_path():
    lines = gpd.GeoDataFrame({"i": [0]}, geometry=[shapely.LineString([(0, 0), (1, 1)])], crs=4326)
    assert feature_collection(lines) == oracle(lines)
    projected = gpd.GeoDataFrame({"i": [0]}, geometry=[box(0, 0, 1000, 1000)], crs=3857)
    assert feature_collection(projected) == oracle(projected)  # includes its "crs" member
    assert "crs" in feature_collection(projected)
