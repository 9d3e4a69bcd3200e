"""The cell grid answers only what the exact point-in-polygon test would answer.

The grid (:mod:`territory.pointgrid`) decides by lookup for points in cells no boundary passes
through; every other point is tested exactly. These tests compare the two paths point by point
on the embedded county layer with points placed where a grid goes wrong first: on borders and
vertices, in holes (independent cities inside their county), in exclaves and islands, at sea,
and on the grid's own edges.
"""

from __future__ import annotations

from importlib import resources

import geopandas as gpd
import numpy as np
import pytest
import shapely

from territory.assignment import (
    BOUNDARY,
    INSIDE,
    NEAREST,
    OVERLAP,
    UNASSIGNED,
    AssignOptions,
    locate_points,
)
from territory.pointgrid import BORDER, OUTSIDE, cell_labels

DATA = resources.files("territory.data")


@pytest.fixture(scope="module")
def counties() -> np.ndarray:
    return gpd.read_parquet(DATA / "us_counties.parquet").geometry.to_numpy()


def _hard_points(geoms: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points where a grid can go wrong, plus a dense random cloud so cells hold many points."""
    parts = shapely.get_parts(geoms)
    holes = [shapely.Polygon(r) for p in parts for r in p.interiors]
    assert len(holes) >= 30  # the layer has holes (counties around independent cities)
    inner = shapely.get_coordinates(shapely.point_on_surface(np.array(holes)))
    islands = shapely.get_coordinates(shapely.point_on_surface(parts))  # every part, exclaves too
    coords = shapely.get_coordinates(shapely.get_rings(parts))
    vertices = coords[rng.choice(len(coords), 8_000, replace=False)]  # exactly on borders
    mids = (coords[:-1] + coords[1:])[rng.choice(len(coords) - 1, 8_000, replace=False)] / 2
    near_border = vertices + rng.normal(0, 1e-4, vertices.shape)  # metres off a border
    lo, hi = shapely.total_bounds(geoms).reshape(2, 2)
    cloud = rng.uniform(lo, hi, (10_000, 2))  # mostly at sea or in Canada: nearest/unassigned
    conus = rng.uniform((-125, 25), (-67, 49), (100_000, 2))
    xy = np.concatenate([inner, islands, vertices, mids, near_border, cloud, conus])
    return xy[:, 0].copy(), xy[:, 1].copy()


def _both(x, y, geoms, **kw):
    rank = np.arange(len(geoms))
    args = dict(geographic=True, tie_rank=rank, overlap_rank=rank[::-1].copy(), **kw)
    return locate_points(x, y, geoms, grid=True, **args), locate_points(
        x, y, geoms, grid=False, **args
    )


def _assert_same(fast, exact):
    np.testing.assert_array_equal(fast.polygon, exact.polygon)
    np.testing.assert_array_equal(fast.method, exact.method)
    np.testing.assert_array_equal(fast.distance_km, exact.distance_km)
    assert fast.candidates.keys() == exact.candidates.keys()
    for k, v in exact.candidates.items():
        np.testing.assert_array_equal(fast.candidates[k], v)


def test_grid_and_exact_paths_agree_on_county_borders_holes_and_exclaves(counties):
    rng = np.random.default_rng(7)
    x, y = _hard_points(counties, rng)
    fast, exact = _both(x, y, counties)
    _assert_same(fast, exact)
    methods = np.bincount(exact.method, minlength=5)
    assert methods[INSIDE] > 50_000 and methods[BOUNDARY] > 5_000
    assert methods[NEAREST] > 100 and methods[UNASSIGNED] > 500
    # the grid really answered most points by lookup, and left the border points to the test
    shapely.prepare(counties)
    bounds = shapely.bounds(counties)

    def contains(cx, cy):
        tree = shapely.STRtree(counties)
        pt, poly = tree.query(shapely.points(cx, cy), predicate="within")
        return pt, poly

    label = cell_labels(x, y, counties, bounds, contains)
    assert (label >= 0).sum() > 50_000 and (label == OUTSIDE).sum() > 500
    on_border = exact.method == BOUNDARY
    assert (label[on_border] == BORDER).all()
    looked_up = label >= 0
    np.testing.assert_array_equal(label[looked_up], exact.polygon[looked_up])
    assert (exact.method[looked_up] == INSIDE).all()


def test_grid_leaves_overlaps_to_the_exact_rule():
    big = shapely.box(0, 0, 10, 10)
    small = shapely.Polygon([(2, 2), (6, 2), (6, 6), (2, 6)], holes=[[(3, 3), (4, 3), (4, 4)]])
    geoms = np.array([big, small, shapely.box(20, 0, 21, 1)])
    rng = np.random.default_rng(1)
    xy = rng.uniform(-1, 22, (80_000, 2))
    xy[:2000] = np.round(xy[:2000])  # integer points: many exactly on the squares' edges
    fast, exact = _both(xy[:, 0].copy(), xy[:, 1].copy(), geoms, options=AssignOptions())
    _assert_same(fast, exact)
    assert (exact.method == OVERLAP).sum() > 1_000 and (exact.method == BOUNDARY).sum() > 100


def test_points_on_the_grid_edges_and_a_single_point(counties):
    # all points on a line (a zero-height grid), at the extreme corners, and a lone point
    x = np.r_[np.linspace(-100, -80, 60_000), -179.1, 179.7, -90.0]
    y = np.r_[np.full(60_000, 40.0), 51.5, 52.0, 35.0]
    _assert_same(*_both(x, y, counties))
    _assert_same(*_both(np.array([-90.0]), np.array([35.0]), counties))


@pytest.mark.slow
def test_threads_share_no_prepared_state_that_changes_answers(counties):
    """Fresh, unprepared copies each run: the threaded passes prepare and use them at once."""
    rng = np.random.default_rng(3)
    x, y = _hard_points(counties, rng)
    rank = np.arange(len(counties))
    args = dict(geographic=True, tie_rank=rank, overlap_rank=rank, grid=True)
    first = locate_points(x, y, counties, options=AssignOptions(threads=1), **args)
    for _ in range(6):
        fresh = shapely.from_wkb(shapely.to_wkb(counties))
        again = locate_points(x, y, fresh, options=AssignOptions(threads=4), **args)
        _assert_same(again, first)
