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


def _box_km(px, py, box, n=4001):
    """Oracle: geodesic distance (km) from a point to a box's boundary, sampled densely along
    its edges (straight in lon/lat, as the layers draw them)."""
    ring = np.asarray(box.exterior.coords)
    t = np.linspace(0, 1, n)[:, None]
    pts = np.concatenate([a + t * (b - a) for a, b in zip(ring[:-1], ring[1:], strict=True)])
    _, _, m = GEOD.inv(np.full(len(pts), px), np.full(len(pts), py), pts[:, 0], pts[:, 1])
    return m.min() / 1000


def _box_at(lon0, lat, az, km):
    """A 0.02-degree square whose boundary is ``km`` from (lon0, lat), its corner towards the
    point along azimuth ``az``; longitudes wrapped into [-180, 180]."""
    cx, cy, _ = GEOD.fwd(lon0, lat, az, km * 1000 + 2000)
    dx, dy = (cx - lon0 + 180) % 360 - 180, cy - lat
    scale = 1.0
    for _ in range(5):
        x = lon0 + dx * scale
        x = (x + 180) % 360 - 180
        box = shapely.box(x - 0.01, lat + dy * scale - 0.01, x + 0.01, lat + dy * scale + 0.01)
        scale *= km / _box_km(lon0, lat, box)
    return box


@pytest.mark.parametrize(
    ("lat", "lon0"),
    [(30.0, 0.0), (45.0, 0.0), (60.0, 0.0), (75.0, 0.0), (45.0, 179.9999), (70.0, -179.9999)],
)
def test_the_nearer_of_two_territories_wins_by_geodesic_distance_in_every_direction(lat, lon0):
    """Two small territories 10 km off in different directions, the second 2 m farther (two
    ties away): the nearer by the ellipsoid wins and its distance is the geodesic one. A frame
    that scales longitude at the point's latitude misjudges pieces to the north-east or
    south-west by several metres at this range. Next to the antimeridian one territory lies
    on each side of it."""
    rng = np.random.default_rng(int(lat))
    wrong = 0
    for _ in range(12):
        az = rng.uniform(0, 360, 2)
        if abs(lon0) > 179:  # one west of the point, one east, across ±180
            az = rng.permutation([rng.uniform(200, 340), rng.uniform(20, 160)])
        boxes = [_box_at(lon0, lat, az[k], km) for k, km in enumerate((10.0, 10.002))]
        true = [_box_km(lon0, lat, b) for b in boxes]
        assert true[1] - true[0] > 0.0015  # the second is really farther, beyond a tie
        assert all(b.bounds[2] - b.bounds[0] < 1 for b in boxes)  # none wraps round the globe
        polys = np.array(boxes[::-1])  # the farther one first: ties or rank cannot help
        near, km = nearest_polygons(np.array([lon0]), np.array([lat]), polys,
                                    shapely.bounds(polys), True, 15.0)  # fmt: skip
        wrong += near[0] != 1
        assert km[0] == pytest.approx(true[int(near[0] == 0)], abs=2e-4)
    assert wrong == 0
