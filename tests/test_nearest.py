"""The nearest-territory rule at its edges: answers beyond the reach and points within reach of
a pole (pyproj.Geod is the oracle)."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely

from territory.nearest import nearest_polygons

GEOD = pyproj.Geod(ellps="WGS84")


def test_a_point_beyond_the_reach_gets_the_same_answer_whatever_points_come_with_it():
    # The search reaches twice the limit (2 km here); P is 2.3 km from the square, Q 0.5 km.
    x0, y0 = 500_000.0, 5_000_000.0
    polys = np.array([shapely.box(x0, y0, x0 + 5000, y0 + 5000)])
    bounds = shapely.bounds(polys)
    p, q = (x0 - 2300.0, y0 + 2500.0), (x0 - 500.0, y0 + 2500.0)
    alone = nearest_polygons(np.array([p[0]]), np.array([p[1]]), polys, bounds, False, 1.0)
    both = nearest_polygons(np.array([p[0], q[0]]), np.array([p[1], q[1]]), polys, bounds,
                            False, 1.0)  # fmt: skip
    assert alone[0][0] == both[0][0] == -1
    assert np.isnan(alone[1][0]) and np.isnan(both[1][0])
    assert both[0][1] == 0 and both[1][1] == pytest.approx(0.5)


def test_within_reach_of_a_pole_every_longitude_is_searched():
    # 0.01 degrees from the pole, a territory 25-35 degrees of longitude away is 0.48 km off.
    polys = np.array([shapely.box(25, 89.985, 35, 89.99)])
    near, km = nearest_polygons(np.array([0.0]), np.array([89.99]), polys,
                                shapely.bounds(polys), True, 1.0)  # fmt: skip
    assert near[0] == 0
    assert km[0] == pytest.approx(GEOD.inv(0, 89.99, 25, 89.99)[2] / 1000, rel=1e-6)
