"""The nearest polygon to points outside every polygon, within a reach (see
:func:`nearest_polygons`)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyproj
import shapely

from territory.geometry import degree_km
from territory.sortedpoints import SortedPoints, ramp

PARALLEL_FROM = 20_000  # points searched in spatial chunks on all cores from this many
ROUNDS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1)  # search radii, as shares of the reach


def nearest_polygons(x, y, polygons, bounds, geographic, max_km, unit=1.0, rank=None, threads=None):
    """Nearest polygon to each point within reach, and its distance in km.

    Every part of every candidate (multi)polygon is cut into its ring segments, and those into
    pieces of at most :data:`PIECE_KM`, indexed by midpoint with the same sorted-point
    machinery as the main pass: each point's box, grown by the search radius and half a piece,
    selects its (point, piece) pairs in one range query, and point-to-segment distances are
    computed in numpy in a local frame around each point (planar for projected layers, whose
    linear unit is ``unit`` metres). For lon/lat layers the frame uses the WGS84 radii of
    curvature, points within reach of the antimeridian are searched on both sides of it, and
    the winner's distance is the geodesic distance (``pyproj.Geod``) to the nearest point of
    its segment; where the local frame could misorder candidates by more than a tenth of a tie
    (metres at tens of km, more towards the poles) they are ranked again geodesically
    (:meth:`_Segments.rerank`).
    Polygons within a metre of the same distance tie; the lowest ``rank`` (id order) wins.
    The search reaches twice ``max_km`` so near misses are reported with their distance; the
    caller applies the limit.

    A point's answer depends on no other point, so from :data:`PARALLEL_FROM` points they are
    cut into strips of longitude searched on all cores (numpy and GEOS release the GIL).
    """
    n = len(x)
    if max_km <= 0 or n == 0:
        return np.full(n, -1, dtype=np.int64), np.full(n, np.nan)
    rank = np.arange(len(polygons)) if rank is None else np.asarray(rank)
    workers = max(1, min(threads or os.cpu_count() or 1, n // (PARALLEL_FROM // 2)))
    if workers == 1:
        return _nearest(x, y, polygons, bounds, geographic, max_km, unit, rank)
    order = np.argsort(x, kind="stable")
    strips = np.array_split(order, workers * 2)  # neighbours in a strip share their segments

    def run(strip):
        return _nearest(x[strip], y[strip], polygons, bounds, geographic, max_km, unit, rank)

    near = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.nan)
    with ThreadPoolExecutor(workers) as pool:
        for strip, (p, d) in zip(strips, pool.map(run, strips), strict=True):
            near[strip], dist[strip] = p, d
    return near, dist


def _nearest(x, y, polygons, bounds, geographic, max_km, unit, rank):
    """:func:`nearest_polygons` in one thread."""
    n = len(x)
    near = np.full(n, -1, dtype=np.int64)
    reach = 2 * max_km
    x, y, origin = _with_shifted_copies(x, y, reach) if geographic else (x, y, np.arange(n))
    # points in rows of about a search box's height, by x in each: neighbours query the same
    # stretch of the index one after the other
    _, height = _grow(np.zeros((1, 4)), np.zeros(1), PIECE_KM, geographic, unit)
    order = np.lexsort((x, np.floor((y - np.min(y)) / height)))
    x, y, origin = x[order], y[order], origin[order]
    m = len(x)
    best_poly = np.full(m, -1, dtype=np.int64)
    best_seg = np.full(m, -1, dtype=np.int64)
    dist = np.full(m, np.inf)
    cand = _polygons_near(x, y, bounds, reach, geographic, unit)
    if not len(cand):
        return near, np.full(n, np.nan)
    parts, part_poly = shapely.get_parts(polygons[cand], return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    same = ring_of[:-1] == ring_of[1:]
    a, b = coords[:-1][same], coords[1:][same]
    seg_poly = cand[part_poly[ring_part[ring_of[:-1][same]]]]
    # each segment's place in its polygon, the same whichever points ask: exact ties between
    # segments (a shared vertex) go to the first, so answers do not depend on the points' split
    place = np.arange(len(seg_poly)) - np.searchsorted(seg_poly, seg_poly)
    seg_lat = np.maximum(np.abs(a[:, 1]), np.abs(b[:, 1]))
    seg_box = np.column_stack(
        [np.minimum(a[:, 0], b[:, 0]), np.minimum(a[:, 1], b[:, 1]),
         np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])]
    )  # fmt: skip
    useful = _within_reach(x, y, seg_box, seg_lat, reach, geographic, unit)
    a, b, seg_poly, place = (v[useful] for v in (a, b, seg_poly, place))
    scale = degree_km(y) if geographic else None  # km per degree at each point
    segs = _Segments.cut(a, b, seg_poly, place, rank, geographic, unit, scale)
    # Progressive search: a point whose best distance is within the current radius is final,
    # since every segment within that radius was a candidate. Radii double from round to round
    # (points far from every shape pair with many segments, so they should not overshoot); a
    # point with a candidate searches only as far as that candidate, rounded up.
    todo = np.arange(m)
    for radius in (reach * f for f in ROUNDS):
        if not len(todo):
            break
        need = _radii(dist[todo], radius)
        segs.search(x, y, todo, need, best_poly, best_seg, dist)
        # final only if no segment a tie away beyond its radius could still win on id
        todo = todo[~(dist[todo] <= need - TIE_KM)]

    if geographic:
        segs.rerank(x, y, best_poly, best_seg, dist, reach)
    found = np.flatnonzero(best_poly >= 0)
    if geographic and len(found):
        # every copy's winner measured to its piece on the ellipsoid (a segment may span half
        # the globe), so the copies on either side of the antimeridian compare like for like
        piece = best_seg[found]
        dist[found] = _geodesic_km(x[found], y[found], segs.a[piece], segs.b[piece])
    # one answer per original point: the best of it and its shifted copies, by the same rule
    first = found[_best(origin[found], dist[found], rank[best_poly[found]])]
    near[origin[first]] = best_poly[first]
    out = np.full(n, np.nan)
    out[origin[first]] = dist[first]
    return near, out


CHAIN = 64  # consecutive segments tested as one box before they are tested one by one


def _within_reach(x, y, boxes, abs_lat, reach, geographic, unit) -> np.ndarray:
    """Which ``boxes`` come within ``reach`` km of some point: tested by chains of
    :data:`CHAIN` consecutive boxes first (a ring's segments follow each other, so a chain is
    a short stretch of boundary), then one by one in the chains that do."""
    if not len(boxes):
        return np.zeros(0, dtype=bool)
    _, gy = _grow(np.zeros((1, 4)), np.zeros(1), reach, geographic, unit)
    points = SortedPoints(x, y, gy)
    starts = np.arange(0, len(boxes), CHAIN)
    chains = np.column_stack(
        [np.minimum.reduceat(boxes[:, 0], starts), np.minimum.reduceat(boxes[:, 1], starts),
         np.maximum.reduceat(boxes[:, 2], starts), np.maximum.reduceat(boxes[:, 3], starts)]
    )  # fmt: skip
    grown, _ = _grow(chains, np.maximum.reduceat(abs_lat, starts), reach, geographic, unit)
    near = np.repeat(points.any_in(grown), CHAIN)[: len(boxes)]
    some = np.flatnonzero(near)
    grown, _ = _grow(boxes[some], abs_lat[some], reach, geographic, unit)
    near[some] = points.any_in(grown)
    return near


def _with_shifted_copies(x, y, reach):
    """Points, plus copies shifted by 360 degrees of those within ``reach`` km of the
    antimeridian; returns ``(x, y, origin)``, ``origin`` the point each row stands for."""
    origin = np.arange(len(x))
    margin = _grow(np.zeros((len(x), 4)), np.abs(y), reach, True, 1.0)[0][:, 2]
    for shift, side in ((-360.0, x > 180 - margin), (360.0, x < -180 + margin)):
        extra = np.flatnonzero(side)
        if len(extra):
            x = np.concatenate([x, x[extra] + shift])
            y = np.concatenate([y, y[extra]])
            origin = np.concatenate([origin, extra])
    return x, y, origin


def _radii(d: np.ndarray, radius: float) -> np.ndarray:
    """Search radius of each open point in a round of ``radius`` km, given its best so far.

    A point with a candidate ``d`` km away needs only the segments within ``d`` + a tie: those
    farther can neither win nor tie. It searches that far (rounded up to a power of 2, so points
    share rounds) and is then final; the others search the round's radius.
    """
    need = np.where(d + 2 * TIE_KM <= radius, 2 ** np.ceil(np.log2(d + TIE_KM)), radius)
    return np.where(need > radius - TIE_KM, radius, np.maximum(need, d + TIE_KM))


def _best(point: np.ndarray, km: np.ndarray, rank: np.ndarray, place=None) -> np.ndarray:
    """Per point, the position of its best candidate: the nearest, and among candidates within
    :data:`TIE_KM` of that the lowest ``rank`` (id order); exact ties in distance go to the
    lowest ``place`` when given."""
    if not len(point):
        return np.zeros(0, dtype=np.int64)
    # nearest per point without sorting all candidates: only the few within a tie are sorted
    kmin = np.full(int(point.max()) + 1, np.inf)
    np.minimum.at(kmin, point, km)
    tied = np.flatnonzero(km <= kmin[point] + TIE_KM)
    keys = (km[tied], rank[tied], point[tied])
    pick = tied[np.lexsort(keys if place is None else (place[tied], *keys))]
    return pick[np.r_[True, point[pick][1:] != point[pick][:-1]]]


def _grow(boxes: np.ndarray, abs_lat: np.ndarray, radius, geographic: bool, unit: float):
    """Boxes grown by ``radius`` km (a number, or one per box) on every side; returns
    ``(grown, growth in y)``.

    In degrees the growth in longitude widens with latitude (``abs_lat``, the box's highest
    absolute latitude); in projected layers it is ``radius`` in the CRS unit.
    """
    if geographic:
        gy = radius / 110.574 * 1.01
        lat = abs_lat + gy
        # within reach of a pole every longitude is: search the whole circle
        with np.errstate(divide="ignore"):
            gx = radius / (111.320 * np.cos(np.radians(np.minimum(lat, 90.0)))) * 1.01
        gx = np.where(lat >= 89.9, 360.0, np.minimum(gx, 360.0))
    else:
        gy = radius * 1000.0 / unit
        gx = gy
    gx = np.broadcast_to(gx, len(boxes))
    gy_all = np.broadcast_to(gy, len(boxes))
    return boxes + np.column_stack([-gx, -gy_all, gx, gy_all]), gy


def _polygons_near(x, y, bounds, radius, geographic, unit):
    """Polygons whose box lies within ``radius`` km of a point."""
    grown, gy = _grow(bounds, np.maximum(np.abs(bounds[:, 1]), np.abs(bounds[:, 3])), radius,
                      geographic, unit)  # fmt: skip
    _, starts = SortedPoints(x, y, gy).candidates(grown, np.arange(len(bounds)))
    return np.flatnonzero(np.diff(starts) > 0)


TIE_KM = 0.001  # polygons within a metre of the same distance tie (lowest id wins)


PIECE_KM = 1.0  # segments are indexed in pieces about this long at most


@dataclass
class _Segments:
    """Boundary segments of candidate polygons, cut into short pieces indexed by midpoint.

    A piece no wider nor taller than ``2 * half`` has every point
    within ``half`` of its midpoint, so the pieces within a radius of a point have their
    midpoints in the point's box grown by the radius and ``half``: one range query per point.
    """

    a: np.ndarray  # piece ends
    b: np.ndarray
    of: np.ndarray  # the segment each piece is part of
    place: np.ndarray  # each piece's place in its polygon's rings
    poly: np.ndarray  # the polygon each piece belongs to
    rank: np.ndarray
    geographic: bool
    unit: float
    scale: tuple[np.ndarray, np.ndarray] | None  # per point: km per degree of lon, of lat
    half: float
    index: SortedPoints

    @classmethod
    def cut(cls, a, b, poly, place, rank, geographic, unit, scale):
        """Segments ``a``-``b`` of polygons ``poly``, cut into pieces of at most
        :data:`PIECE_KM` (in degrees of latitude for lon/lat layers) on either axis."""
        size = PIECE_KM / 110.574 if geographic else PIECE_KM * 1000.0 / unit
        d = b - a
        count = np.maximum(np.ceil(np.abs(d).max(axis=1, initial=0) / size), 1).astype(np.int64)
        of = np.repeat(np.arange(len(a)), count)
        k = ramp(count)
        t0 = (k / count[of])[:, None]
        t1 = ((k + 1) / count[of])[:, None]
        pa = a[of] + d[of] * t0
        pb = np.where(t1 == 1.0, b[of], a[of] + d[of] * t1)
        place = place[of] * int(count.max(initial=1)) + k
        mid = (pa + pb) / 2
        half = size / 2 * 1.001  # a piece's ends are within this of its midpoint, with rounding
        index = SortedPoints(mid[:, 0], mid[:, 1], 4 * half) if len(mid) else None
        return cls(pa, pb, of, place, poly[of], rank, geographic, unit, scale, half, index)

    def search(self, x, y, todo, radius, best_poly, best_seg, dist):
        """One search round: improve the best segment of points ``todo`` among the pieces
        within ``radius`` km of each (an array, one radius per point)."""
        for point, piece, km in self.pairs(x, y, todo, radius):
            self._merge(point, piece, km, best_poly, best_seg, dist)

    def pairs(self, x, y, todo, radius):
        """``(point, piece, km)`` in chunks: the pieces within ``radius`` km (one per point) of
        points ``todo``, with their distance in the local frame."""
        if self.index is None or not len(todo):
            return
        for part in np.array_split(np.arange(len(todo)), max(1, len(todo) // 32768)):
            point = todo[part]
            px, py = x[point], y[point]
            boxes = np.column_stack([px, py, px, py])
            grown, _ = _grow(boxes, np.abs(py), radius[part], self.geographic, self.unit)
            grown += np.array([-self.half, -self.half, self.half, self.half])
            pos, starts = self.index.candidates(grown, np.arange(len(part)))
            if not len(pos):
                continue
            piece = self.index.order[pos]
            point = np.repeat(point, np.diff(starts))
            k = None if self.scale is None else (self.scale[0][point], self.scale[1][point])
            km = _segment_km(x[point], y[point], self.a[piece], self.b[piece], self.geographic,
                             self.unit, k)  # fmt: skip
            # pieces beyond the radius are left out: whether they are in the index depends on
            # the other points searched with these, and no answer may
            near = km <= np.repeat(radius[part], np.diff(starts))
            yield point[near], piece[near], km[near]

    def rerank(self, x, y, best_poly, best_seg, dist, reach):
        """Rank again on the ellipsoid the candidates of lon/lat points that the local frame
        may have put in the wrong order.

        The local frame scales longitude at the point's own latitude, so a piece off to the
        north-east or south-west is misplaced by about ``3e-5 km * d**2 * tan(latitude)`` at
        ``d`` km (3 m at 10 km and 45 degrees, 17 m at 80); :data:`TIE_KM` is far finer. Every
        piece within the best distance plus twice that margin (with room to spare) is measured
        geodesically and the nearest wins, ties by the same rule; within the reach only, so
        answers still depend on no other point. Points with no other polygon that near keep
        their answer (its distance is measured on the ellipsoid afterwards).
        """
        found = np.flatnonzero(best_poly >= 0)
        d = dist[found]
        # the highest latitude the candidates reach; by the pole the margin grows to the reach
        lat = np.radians(np.minimum(np.abs(y[found]) + d / 110.574, 89.99))
        margin = 5e-5 * d**2 * (np.tan(lat) + 0.1)
        wide = margin > TIE_KM / 10
        todo = found[wide]
        radius = np.minimum(d[wide] + 2 * margin[wide] + TIE_KM, reach)
        for point, piece, _ in self.pairs(x, y, todo, radius):
            # only points with another polygon in the window can change hands
            keep = np.isin(point, point[self.poly[piece] != best_poly[point]])
            point, piece = point[keep], piece[keep]
            if not len(point):
                continue
            km = _geodesic_km(x[point], y[point], self.a[piece], self.b[piece])
            first = _best(point, km, self.rank[self.poly[piece]], self.place[piece])
            p, s = point[first], piece[first]
            best_poly[p], best_seg[p], dist[p] = self.poly[s], s, km[first]

    def _merge(self, point, piece, km, best_poly, best_seg, dist):
        """Keep, per point, the nearest polygon; within :data:`TIE_KM` the lowest rank wins."""
        rank = self.rank[self.poly[piece]]
        first = _best(point, km, rank, self.place[piece])
        p, s, d, r = point[first], piece[first], km[first], rank[first]
        held = best_poly[p] >= 0
        old_rank = np.where(held, self.rank[np.maximum(best_poly[p], 0)], 0)
        old = dist[p]
        # a nearer piece of the same polygon is taken too, so the distance is the true one
        # whichever round found which piece
        take = ~held | (d < old - TIE_KM) | ((d <= old + TIE_KM) & (r < old_rank))
        take |= (self.poly[s] == best_poly[p]) & (d < old)
        p, s, d = p[take], s[take], d[take]
        dist[p] = d
        best_poly[p] = self.poly[s]
        best_seg[p] = s


def _segment_km(px, py, a, b, geographic, unit, scale=None):
    """Distance in km from points to segments ``a``-``b`` (one segment per point); ``scale``
    is :func:`degree_km` of ``py`` when the caller has it."""
    if geographic:
        kx, ky = degree_km(py) if scale is None else scale
        ax = ((a[:, 0] - px + 180) % 360 - 180) * kx
        bx = ((b[:, 0] - px + 180) % 360 - 180) * kx
        ay, by = (a[:, 1] - py) * ky, (b[:, 1] - py) * ky
    else:
        k = unit / 1000.0
        ax, bx = (a[:, 0] - px) * k, (b[:, 0] - px) * k
        ay, by = (a[:, 1] - py) * k, (b[:, 1] - py) * k
    t = _closest_t(ax, ay, bx, by)
    return np.hypot(ax + t * (bx - ax), ay + t * (by - ay))


def _closest_t(ax, ay, bx, by):
    """Position (0..1) along each segment a-b of its point closest to the origin."""
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.clip(-(ax * dx + ay * dy) / length2, 0.0, 1.0)
    return np.where(length2 > 0, t, 0.0)


_GEOD = pyproj.Geod(ellps="WGS84")


def _geodesic_km(px, py, a, b):
    """Geodesic distance (km) from points to the nearest point of their segment ``a``-``b``.

    The nearest point is found in the local frame at the mid-latitude of the point and its
    first estimate (so the longitude scale fits the whole span), then measured on the ellipsoid.
    """
    lat = py
    for _ in range(2):
        kx, ky = degree_km(lat)
        ax = ((a[:, 0] - px + 180) % 360 - 180) * kx
        bx = ((b[:, 0] - px + 180) % 360 - 180) * kx
        ay, by = (a[:, 1] - py) * ky, (b[:, 1] - py) * ky
        t = _closest_t(ax, ay, bx, by)
        qy = a[:, 1] + t * (b[:, 1] - a[:, 1])
        lat = (py + qy) / 2
    dlon = (b[:, 0] - a[:, 0] + 180) % 360 - 180
    qx = a[:, 0] + t * dlon
    _, _, metres = _GEOD.inv(px, py, qx, qy)
    return np.asarray(metres) / 1000.0
