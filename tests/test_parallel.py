"""Work split over threads answers exactly as one thread does.

The engine cuts its per-point steps into pieces run on all cores: the cell-grid lookup, the
nearest search (strips of longitude) and the layer checks (chunks of shapes or shape pairs).
These tests force many small pieces on four threads and compare every answer with one thread
(or the unsplit exact path) on the embedded county layer.
"""

from __future__ import annotations

from importlib import resources

import geopandas as gpd
import numpy as np
import pytest
import shapely

import territory.nearest as nearest
import territory.pointgrid as pointgrid
import territory.validate as validate
from territory.assignment import OVERLAP, AssignOptions, locate_points

from .test_pointgrid import _assert_same, _hard_points


@pytest.fixture(scope="module")
def counties() -> np.ndarray:
    path = resources.files("territory.data") / "us_counties.parquet"
    return gpd.read_parquet(path).geometry.to_numpy()


def test_grid_pieces_on_four_threads_answer_as_the_exact_pass(counties, monkeypatch):
    monkeypatch.setattr(pointgrid, "CHUNK", 4096)  # ~40 pieces, shared out over 4 threads
    x, y = _hard_points(counties, np.random.default_rng(11))
    rank = np.arange(len(counties))
    args = dict(geographic=True, tie_rank=rank, overlap_rank=rank)
    exact = locate_points(x, y, counties, grid=False, options=AssignOptions(threads=1), **args)
    fast = locate_points(x, y, counties, grid=True, options=AssignOptions(threads=4), **args)
    _assert_same(fast, exact)


def _coastal_points(geoms, rng):
    """Points off borders and coasts (many outside every county, some beyond reach), and
    points either side of the antimeridian near the Aleutians."""
    coords = shapely.get_coordinates(shapely.get_rings(shapely.get_parts(geoms)))
    off = coords[rng.choice(len(coords), 20_000, replace=False)] + rng.normal(0, 0.1, (20_000, 2))
    dateline = np.column_stack([rng.choice([-179.95, 179.95], 400), rng.uniform(51, 53, 400)])
    xy = np.concatenate([off, dateline])
    outside = ~shapely.intersects_xy(shapely.union_all(geoms), xy[:, 0], xy[:, 1])
    return xy[outside, 0].copy(), xy[outside, 1].copy()


def test_nearest_strips_on_four_threads_answer_as_one_thread(counties, monkeypatch):
    x, y = _coastal_points(counties, np.random.default_rng(5))
    bounds = shapely.bounds(counties)
    rank = np.arange(len(counties))[::-1].copy()  # ties go by this rank, not by position
    one = nearest.nearest_polygons(x, y, counties, bounds, True, 10.0, rank=rank, threads=1)
    monkeypatch.setattr(nearest, "PARALLEL_FROM", 200)  # strips of ~100 points
    four = nearest.nearest_polygons(x, y, counties, bounds, True, 10.0, rank=rank, threads=4)
    np.testing.assert_array_equal(four[0], one[0])
    np.testing.assert_array_equal(four[1], one[1])
    found = one[0] >= 0
    assert found.sum() > 1_500 and (~found).sum() > 100  # both reached and out-of-reach points
    assert (found & (np.abs(x) > 179)).sum() > 50  # found across the antimeridian too


def test_layer_checks_on_threads_match_one_thread_also_with_prepared_shapes(counties):
    fresh = shapely.from_wkb(shapely.to_wkb(counties))  # unprepared copies
    left, right = validate._box_pairs(fresh)
    direct = shapely.relate_pattern(fresh[left], fresh[right], "2********")
    split = validate.in_threads(
        shapely.relate_pattern, fresh[left], fresh[right], "2********", threads=4
    )
    np.testing.assert_array_equal(split, direct)
    np.testing.assert_array_equal(validate.in_threads(shapely.is_valid, fresh, threads=4),
                                  shapely.is_valid(fresh))  # fmt: skip
    # prepared shapes build their index on first use, which two threads must not do at once:
    # such input runs in one thread (threading it crashes the interpreter)
    shapely.prepare(fresh)
    for _ in range(3):
        again = validate.in_threads(shapely.relate_pattern, fresh[left], fresh[right], "2********",
                           threads=4)  # fmt: skip
        np.testing.assert_array_equal(again, direct)


def test_overlap_rank_is_computed_only_when_a_point_is_in_overlapping_shapes(counties):
    calls = []

    def rank_of(geoms):
        def rank():
            calls.append(1)
            return np.arange(len(geoms))[::-1].copy()

        return rank

    x, y = _hard_points(counties, np.random.default_rng(2))
    tie = np.arange(len(counties))
    lazy = locate_points(x, y, counties, geographic=True, tie_rank=tie,
                         overlap_rank=rank_of(counties))  # fmt: skip
    eager = locate_points(x, y, counties, geographic=True, tie_rank=tie, overlap_rank=tie)
    _assert_same(lazy, eager)
    assert not calls  # the county layer has no overlaps: the areas are never needed

    squares = np.array([shapely.box(0, 0, 10, 10), shapely.box(5, 5, 15, 15)])
    xy = np.random.default_rng(0).uniform(-1, 16, (5_000, 2))
    tie = np.arange(2)
    lazy = locate_points(xy[:, 0], xy[:, 1], squares, geographic=False, tie_rank=tie,
                         overlap_rank=rank_of(squares))  # fmt: skip
    eager = locate_points(xy[:, 0], xy[:, 1], squares, geographic=False, tie_rank=tie,
                          overlap_rank=np.array([1, 0]))  # fmt: skip
    _assert_same(lazy, eager)
    assert calls == [1]
    in_both = lazy.method == OVERLAP
    assert in_both.sum() > 300 and (lazy.polygon[in_both] == 1).all()  # rank 0 wins: square 1
