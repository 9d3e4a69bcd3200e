"""Assign every account to exactly one territory.

The engine is a per-polygon pass over spatially sorted points: accounts are sorted once by a
(latitude band, longitude) key, so the accounts inside any polygon's bounding box are a few
contiguous slices found by binary search; each polygon is prepared once and tests its slice with
``shapely.contains_xy``. Polygons are processed on all cores (GEOS releases the GIL). No Python
code runs per account.

Every account gets one method:

``inside``      strictly inside one polygon.
``boundary``    on the boundary shared by several polygons; the lowest id wins (deterministic).
``overlap``     inside several overlapping polygons; resolved by the overlap rule
                (``"smallest"``: the polygon with the smallest area, the more specific one;
                ``"first"``: the first in the layer's order).
``nearest``     outside every polygon but within ``max_distance_km`` of one; the distance is
                recorded (geodesic for geographic CRSs).
``unassigned``  no location, or too far from every polygon; ``reason`` says which.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyproj
import shapely

from territory.geometry import area_perimeter_km, degree_km, metres_per_unit
from territory.pointgrid import BORDER, cell_labels

METHODS = ("inside", "boundary", "overlap", "nearest", "unassigned")
INSIDE, BOUNDARY, OVERLAP, NEAREST, UNASSIGNED = range(5)
OVERLAP_RULES = ("smallest", "first")
GRID_FROM = 50_000  # located points from which the cell grid pays for itself

if TYPE_CHECKING:
    import geopandas as gpd

    from territory.territories import TerritoryLayer
    from territory.validate import Accounts


@dataclass(frozen=True)
class AssignOptions:
    """How accounts outside or between polygons are treated.

    Parameters
    ----------
    max_distance_km : float
        Accounts outside every polygon go to the nearest one within this distance; 0 turns the
        fallback off. Default 10 km (covers coastal points and simplified borders).
    overlap : {"smallest", "first"}
        Rule for accounts inside several overlapping polygons.
    threads : int, optional
        Worker threads for the polygon pass (default: all cores).
    """

    max_distance_km: float = 10.0
    overlap: str = "smallest"
    threads: int | None = None

    def __post_init__(self):
        from territory.errors import ValidationError

        if self.overlap not in OVERLAP_RULES:
            raise ValidationError(
                f"Unknown overlap rule '{self.overlap}'. Use one of: {', '.join(OVERLAP_RULES)}."
            )
        if not np.isfinite(self.max_distance_km) or self.max_distance_km < 0:
            raise ValidationError(
                f"max_distance_km must be a number >= 0 (0 turns the nearest fallback off), "
                f"not {self.max_distance_km}."
            )


@dataclass
class PointAssignment:
    """Result of :func:`locate_points`, one entry per point.

    ``polygon`` is the chosen polygon's position (-1 if none), ``method`` a code into
    :data:`METHODS`, ``distance_km`` set for ``nearest`` (and for too-far points, the distance
    to the nearest polygon found), ``candidates`` maps a point to all polygons it touched for
    boundary/overlap cases.
    """

    polygon: np.ndarray
    method: np.ndarray
    distance_km: np.ndarray
    candidates: dict[int, np.ndarray]
    located: np.ndarray


class _SortedPoints:
    """Points sorted by a (band, quantised x) key for bounding-box range queries."""

    def __init__(self, x: np.ndarray, y: np.ndarray, band_height: float):
        self.xmin, self.xmax = float(x.min()), float(x.max())
        self.ymin, self.ymax = float(y.min()), float(y.max())
        self.h = max(band_height, (self.ymax - self.ymin) / 65536, 1e-9)
        self.nbands = int((self.ymax - self.ymin) / self.h) + 1
        self.scale = (2**31 - 2) / max(self.xmax - self.xmin, 1e-12)
        key = (self._band(y) << 32) | self._qx(x)
        self.order = np.argsort(key)
        self.key = key[self.order]
        self.x = x[self.order]
        self.y = y[self.order]

    def _band(self, y):
        return np.clip(((y - self.ymin) / self.h).astype(np.int64), 0, self.nbands - 1)

    def _qx(self, x):
        q = np.floor((np.clip(x, self.xmin, self.xmax) - self.xmin) * self.scale)
        return q.astype(np.int64)

    def _slices(self, boxes: np.ndarray):
        """Sorted-point slices ``[lo, hi)`` that can hold points of each box, one per band.

        Returns ``(box of each slice, lo, hi, boxes)``, the boxes with those that miss every
        point (or are NaN, as empty shapes give) zeroed.
        """
        inside = (boxes[:, 2] >= self.xmin) & (boxes[:, 0] <= self.xmax)
        inside &= (boxes[:, 3] >= self.ymin) & (boxes[:, 1] <= self.ymax)
        b = np.where(inside[:, None], boxes, 0.0)
        b0 = self._band(b[:, 1])
        nb = np.where(inside, self._band(b[:, 3]) - b0 + 1, 0)
        row = np.repeat(np.arange(len(b)), nb)
        band = b0[row] + _ramp(nb)
        lo = np.searchsorted(self.key, (band << 32) | self._qx(b[row, 0]), "left")
        hi = np.searchsorted(self.key, (band << 32) | self._qx(b[row, 2]), "right")
        return row, lo, hi, b

    def candidates(self, bounds: np.ndarray, polys: np.ndarray):
        """Points in the bounding box of each polygon in ``polys``, for all at once.

        Returns ``(positions, starts)``: sorted-point positions grouped by polygon (in the order
        of ``polys``), and ``starts`` so polygon ``polys[k]`` owns
        ``positions[starts[k]:starts[k+1]]``. No Python loop runs per polygon or point.
        """
        row, lo, hi, b = self._slices(bounds[polys])
        lengths = hi - lo
        pos = np.repeat(lo, lengths) + _ramp(lengths)
        owner = np.repeat(row, lengths)
        ys = self.y[pos]
        keep = (ys >= b[owner, 1]) & (ys <= b[owner, 3])
        pos, owner = pos[keep], owner[keep]
        starts = np.searchsorted(owner, np.arange(len(polys) + 1))
        return pos, starts

    def any_in(self, boxes: np.ndarray) -> np.ndarray:
        """Whether any point may lie in each box (exact in x, by band in y: a superset)."""
        row, lo, hi, _ = self._slices(boxes)
        return np.bincount(row, weights=hi - lo, minlength=len(boxes)) > 0


def _ramp(lengths: np.ndarray) -> np.ndarray:
    """``[0..l0-1, 0..l1-1, ...]`` for the given run lengths, vectorised."""
    total = int(lengths.sum())
    offsets = np.cumsum(lengths) - lengths
    return np.arange(total, dtype=np.int64) - np.repeat(offsets, lengths)


def _polygon_pass(points: _SortedPoints, polys, bounds, predicate, threads, subset=None):
    """Run ``predicate(poly, x, y)`` for each polygon over the points in its box, in parallel.

    ``subset`` limits the pass to those polygon positions. Returns ``(point_positions,
    polygon_positions)`` of all hits, with point positions in the caller's order.
    """
    todo = np.arange(len(polys)) if subset is None else np.asarray(subset, dtype=np.int64)
    pos, starts = points.candidates(bounds, todo)
    xs, ys = points.x[pos], points.y[pos]
    hit = np.zeros(len(pos), dtype=bool)
    busy = np.flatnonzero(np.diff(starts))
    workers = max(1, min(threads or os.cpu_count() or 1, len(busy)))

    def run(chunk):
        # GEOS releases the GIL in contains_xy/intersects_xy; slices are views, not copies.
        for k in chunk:
            a, e = starts[k], starts[k + 1]
            hit[a:e] = predicate(polys[todo[k]], xs[a:e], ys[a:e])

    if workers == 1:
        run(busy)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, [busy[i :: workers * 4] for i in range(workers * 4)]))
    owner = np.repeat(todo, np.diff(starts))
    return points.order[pos[hit]], owner[hit]


def locate_points(
    x: np.ndarray,
    y: np.ndarray,
    polygons: np.ndarray,
    *,
    geographic: bool,
    unit: float = 1.0,
    tie_rank: np.ndarray,
    overlap_rank: np.ndarray,
    options: AssignOptions = AssignOptions(),
    grid: bool | None = None,
) -> PointAssignment:
    """Find the polygon of each point (see the module docstring for the methods).

    Parameters
    ----------
    x, y : ndarray
        Coordinates in the polygons' CRS; NaN where a point has no location.
    polygons : ndarray of shapely Polygon/MultiPolygon, valid
    geographic : bool
        True when coordinates are longitude/latitude (distances on the WGS84 sphere scale).
    unit : float
        Metres per coordinate unit for projected layers (1 for metres).
    tie_rank : ndarray of int
        Lower wins among polygons sharing a boundary point.
    overlap_rank : ndarray of int
        Lower wins among overlapping polygons containing a point.
    grid : bool, optional
        Answer points in grid cells wholly inside one polygon (or outside all) by lookup and
        test only the others exactly (:mod:`territory.pointgrid`); the answers are the same.
        Default: on from :data:`GRID_FROM` located points.
    """
    n = len(x)
    polygon = np.full(n, -1, dtype=np.int64)
    method = np.full(n, UNASSIGNED, dtype=np.int8)
    distance = np.full(n, np.nan)
    candidates: dict[int, np.ndarray] = {}
    located = np.isfinite(x) & np.isfinite(y)
    valid = np.flatnonzero(located)
    if not len(valid) or not len(polygons):
        return PointAssignment(polygon, method, distance, candidates, located)

    shapely.prepare(polygons)
    bounds = shapely.bounds(polygons)
    heights = bounds[:, 3] - bounds[:, 1]  # NaN for empty shapes, which match nothing
    band = float(np.nanmedian(heights)) / 2 if np.isfinite(heights).any() else 1.0

    # 0. the grid answers points in cells wholly inside one polygon or outside all
    exact = valid
    if len(valid) >= GRID_FROM if grid is None else grid:
        exact = _grid_pass(x, y, valid, polygons, bounds, band, polygon, method, options.threads)

    # 1. strictly inside (and overlaps)
    if len(exact):
        pts = _SortedPoints(x[exact], y[exact], band)
        p, g = _polygon_pass(pts, polygons, bounds, shapely.contains_xy, options.threads)
        _resolve(exact[p], g, polygon, method, candidates, INSIDE, OVERLAP, overlap_rank)

    # 2. on a boundary: points not strictly inside anything, tested with intersects, only
    #    against the polygons whose bounding boxes hold such points
    rest = exact[polygon[exact] < 0]
    if len(rest):
        pts = _SortedPoints(x[rest], y[rest], band)  # polygons whose box holds none: no work
        p, g = _polygon_pass(pts, polygons, bounds, shapely.intersects_xy, options.threads)
        _resolve(rest[p], g, polygon, method, candidates, BOUNDARY, BOUNDARY, tie_rank)

    # 3. outside: nearest polygon within the distance
    rest = valid[polygon[valid] < 0]
    if len(rest):
        near, dist = _nearest(
            x[rest], y[rest], polygons, bounds, geographic, options.max_distance_km, unit, tie_rank
        )
        distance[rest] = dist
        ok = (near >= 0) & (dist <= options.max_distance_km)
        polygon[rest[ok]] = near[ok]
        method[rest[ok]] = NEAREST
    return PointAssignment(polygon, method, distance, candidates, located)


def _grid_pass(x, y, valid, polygons, bounds, band, polygon, method, threads) -> np.ndarray:
    """Write the points the cell grid answers (``inside`` one polygon) into ``polygon`` and
    ``method``; return those of ``valid`` that need the exact test (the others are outside
    every polygon)."""

    def contains(cx, cy):
        pts = _SortedPoints(cx, cy, band)
        return _polygon_pass(pts, polygons, bounds, shapely.contains_xy, threads)

    xs, ys = (x, y) if len(valid) == len(x) else (x[valid], y[valid])
    label = cell_labels(xs, ys, polygons, bounds, contains, threads)
    pure = label >= 0
    polygon[valid[pure]] = label[pure]
    method[valid[pure]] = INSIDE
    return valid[label == BORDER]


def _resolve(p, g, polygon, method, candidates, single, multiple, rank):
    """Write hits into ``polygon``/``method``; points hit more than once pick the lowest rank."""
    if not len(p):
        return
    counts = np.bincount(p, minlength=len(polygon))
    once = counts[p] == 1
    polygon[p[once]] = g[once]
    method[p[once]] = single
    if once.all():
        return
    p, g = p[~once], g[~once]
    order = np.lexsort((rank[g], p))
    p, g = p[order], g[order]
    first = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
    polygon[p[first]] = g[first]
    method[p[first]] = multiple
    for s, e in zip(first, np.r_[first[1:], len(p)], strict=True):
        candidates[int(p[s])] = g[s:e]


def _nearest(x, y, polygons, bounds, geographic, max_km, unit=1.0, rank=None):
    """Nearest polygon to each point within reach, and its distance in km.

    Every part of every candidate (multi)polygon is cut into its ring segments; the segments'
    boxes, grown by the search radius, select (point, segment) pairs with the same
    sorted-point machinery as the main pass, and point-to-segment distances are computed in
    numpy in a local frame around each point (planar for projected layers, whose linear unit
    is ``unit`` metres). For lon/lat layers the frame uses the WGS84 radii of curvature, points
    within reach of the antimeridian are searched on both sides of it, and the winner's
    distance is the geodesic distance (``pyproj.Geod``) to the nearest point of its segment.
    Polygons within a metre of the same distance tie; the lowest ``rank`` (id order) wins.
    The search reaches twice ``max_km`` so near misses are reported with their distance; the
    caller applies the limit.
    """
    n = len(x)
    near = np.full(n, -1, dtype=np.int64)
    if max_km <= 0 or n == 0:
        return near, np.full(n, np.nan)
    rank = np.arange(len(polygons)) if rank is None else np.asarray(rank)
    reach = 2 * max_km
    origin = np.arange(n)
    if geographic:
        # search copies shifted by 360 degrees for points near the antimeridian
        margin = _grow(np.zeros((n, 4)), np.abs(y), reach, True, 1.0)[0][:, 2]
        for shift, side in ((-360.0, x > 180 - margin), (360.0, x < -180 + margin)):
            extra = np.flatnonzero(side)
            if len(extra):
                x = np.concatenate([x, x[extra] + shift])
                y = np.concatenate([y, y[extra]])
                origin = np.concatenate([origin, extra])
    m = len(x)
    best_poly = np.full(m, -1, dtype=np.int64)
    best_seg = np.full(m, -1, dtype=np.int64)
    dist = np.full(m, np.inf)
    cand = _polygons_near(x, y, np.arange(m), bounds, reach, geographic, unit)
    if not len(cand):
        return near, np.full(n, np.nan)
    parts, part_poly = shapely.get_parts(polygons[cand], return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    same = ring_of[:-1] == ring_of[1:]
    a, b = coords[:-1][same], coords[1:][same]
    seg_poly = cand[part_poly[ring_part[ring_of[:-1][same]]]]
    seg_lat = np.maximum(np.abs(a[:, 1]), np.abs(b[:, 1]))
    seg_box = np.column_stack(
        [np.minimum(a[:, 0], b[:, 0]), np.minimum(a[:, 1], b[:, 1]),
         np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])]
    )  # fmt: skip
    # keep only the segments within reach of some point (one cheap pass over all of them)
    grown, gy = _grow(seg_box, seg_lat, reach, geographic, unit)
    useful = _SortedPoints(x, y, gy).any_in(grown)
    a, b, seg_box, seg_lat, seg_poly = (v[useful] for v in (a, b, seg_box, seg_lat, seg_poly))
    segs = _Segments(a, b, seg_box, seg_lat, seg_poly, rank, geographic, unit)
    # Progressive search: a point whose best distance is within the current radius is final,
    # since every segment within that radius was a candidate. Most points end in round one.
    seg_start = np.searchsorted(seg_poly, cand, "left")
    seg_end = np.searchsorted(seg_poly, cand, "right")
    todo = np.arange(m)
    for radius in (reach / 32, reach / 8, reach / 2, reach):
        if not len(todo):
            break
        # A point with a candidate d km away needs only the segments within d + a tie: those
        # farther can neither win nor tie. It searches that radius (rounded up to a power of
        # 2, to share rounds) and is then final; the others search the round's radius.
        d = dist[todo]
        need = np.where(d + 2 * TIE_KM <= radius, 2 ** np.ceil(np.log2(d + TIE_KM)), radius)
        need = np.where(need > radius - TIE_KM, radius, np.maximum(need, d + TIE_KM))
        for r in np.unique(need):
            group = todo[need == r]
            # only the segments of polygons whose boxes come within r of the group's points
            near_polys = _polygons_near(x, y, group, bounds, r, geographic, unit, cand)
            k = np.searchsorted(cand, near_polys)
            lengths = seg_end[k] - seg_start[k]
            segments = np.repeat(seg_start[k], lengths) + _ramp(lengths)
            segs.search(x, y, group, segments, r, best_poly, best_seg, dist)
        # final only if no segment a tie away beyond its radius could still win on id
        todo = todo[~(dist[todo] <= need - TIE_KM)]

    # one answer per original point: the best of it and its shifted copies, by the same rule
    found = np.flatnonzero(best_poly >= 0)
    first = found[_best(origin[found], dist[found], rank[best_poly[found]])]
    if geographic and len(first):
        dist[first] = _geodesic_km(x[first], y[first], a[best_seg[first]], b[best_seg[first]])
    near[origin[first]] = best_poly[first]
    out = np.full(n, np.nan)
    out[origin[first]] = dist[first]
    return near, out


def _best(point: np.ndarray, km: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Per point, the position of its best candidate: the nearest, and among candidates within
    :data:`TIE_KM` of that the lowest ``rank`` (id order)."""
    if not len(point):
        return np.zeros(0, dtype=np.int64)
    # nearest per point without sorting all candidates: only the few within a tie are sorted
    kmin = np.full(int(point.max()) + 1, np.inf)
    np.minimum.at(kmin, point, km)
    tied = np.flatnonzero(km <= kmin[point] + TIE_KM)
    pick = tied[np.lexsort((km[tied], rank[tied], point[tied]))]
    return pick[np.r_[True, point[pick][1:] != point[pick][:-1]]]


def _grow(boxes: np.ndarray, abs_lat: np.ndarray, radius: float, geographic: bool, unit: float):
    """Boxes grown by ``radius`` km on every side; returns ``(grown, growth in y)``.

    In degrees the growth in longitude widens with latitude (``abs_lat``, the box's highest
    absolute latitude); in projected layers it is ``radius`` in the CRS unit.
    """
    if geographic:
        gy = radius / 110.574 * 1.01
        lat = np.minimum(abs_lat + gy, 89.9)
        gx = np.minimum(radius / (111.320 * np.cos(np.radians(lat))) * 1.01, 360)
    else:
        gy = radius * 1000.0 / unit
        gx = np.full(len(boxes), gy)
    grown = boxes + np.column_stack([-gx, np.full(len(boxes), -gy), gx, np.full(len(boxes), gy)])
    return grown, gy


def _polygons_near(x, y, todo, bounds, radius, geographic, unit, among=None):
    """Polygons (of ``among``, default all) whose box lies within ``radius`` km of a point."""
    polys = np.arange(len(bounds)) if among is None else among
    b = bounds[polys]
    grown, gy = _grow(b, np.maximum(np.abs(b[:, 1]), np.abs(b[:, 3])), radius, geographic, unit)
    pts = _SortedPoints(x[todo], y[todo], gy)
    _, starts = pts.candidates(grown, np.arange(len(polys)))
    return polys[np.diff(starts) > 0]


TIE_KM = 0.001  # polygons within a metre of the same distance tie (lowest id wins)


@dataclass
class _Segments:
    """Boundary segments ``a``-``b`` of candidate polygons, with boxes and owners."""

    a: np.ndarray
    b: np.ndarray
    box: np.ndarray
    lat: np.ndarray
    poly: np.ndarray
    rank: np.ndarray
    geographic: bool
    unit: float

    def search(self, x, y, todo, segments, radius, best_poly, best_seg, dist):
        """One search round: improve the best segment of points ``todo`` among ``segments``."""
        if not len(segments):
            return
        boxes, gy = _grow(self.box[segments], self.lat[segments], radius, self.geographic,
                          self.unit)  # fmt: skip
        pts = _SortedPoints(x[todo], y[todo], gy)
        for chunk in np.array_split(np.arange(len(segments)), max(1, len(segments) // 200_000)):
            pos, starts = pts.candidates(boxes, chunk)
            if not len(pos):
                continue
            seg = segments[np.repeat(chunk, np.diff(starts))]
            point = todo[pts.order[pos]]
            km = _segment_km(x[point], y[point], self.a[seg], self.b[seg], self.geographic,
                             self.unit)  # fmt: skip
            self._merge(point, seg, km, best_poly, best_seg, dist)

    def _merge(self, point, seg, km, best_poly, best_seg, dist):
        """Keep, per point, the nearest polygon; within :data:`TIE_KM` the lowest rank wins."""
        rank = self.rank[self.poly[seg]]
        first = _best(point, km, rank)
        p, s, d, r = point[first], seg[first], km[first], rank[first]
        held = best_poly[p] >= 0
        old_rank = np.where(held, self.rank[np.maximum(best_poly[p], 0)], 0)
        old = dist[p]
        take = ~held | (d < old - TIE_KM) | ((d <= old + TIE_KM) & (r < old_rank))
        p, s, d = p[take], s[take], d[take]
        dist[p] = d
        best_poly[p] = self.poly[s]
        best_seg[p] = s


def _segment_km(px, py, a, b, geographic, unit):
    """Distance in km from points to segments ``a``-``b`` (one segment per point)."""
    if geographic:
        kx, ky = degree_km(py)
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


def describe(
    result: PointAssignment,
    ids: np.ndarray,
    options: AssignOptions,
    unlocated: np.ndarray,
    noun: str = "territory",
) -> pd.Categorical:
    """The human-readable reason of every account: empty for ``inside``, a sentence otherwise.

    A categorical (one code per account, the sentences once each), so ten million accounts
    that are mostly inside cost no ten million strings.
    """
    rows: list[np.ndarray] = []
    texts: list[list[str]] = []
    cand = np.fromiter(result.candidates, dtype=np.int64, count=len(result.candidates))
    rule = "smallest area" if options.overlap == "smallest" else "first listed"
    said = []
    for i, cands in result.candidates.items():
        names = ", ".join(f"'{ids[c]}'" for c in cands)
        if result.method[i] == BOUNDARY:
            said.append(f"on the shared boundary of {names}; lowest id '{ids[cands[0]]}' wins")
        else:
            said.append(f"inside overlapping {names}; {rule} '{ids[cands[0]]}' wins")
    rows.append(cand)
    texts.append(said)
    near = np.flatnonzero(result.method == NEAREST)
    rows.append(near)
    texts.append([
        f"outside every {noun}; nearest '{ids[p]}' is {d:.2f} km away "
        f"(limit {options.max_distance_km:g} km)"
        for p, d in zip(result.polygon[near].tolist(), result.distance_km[near].tolist(),
                        strict=True)
    ])  # fmt: skip
    outside = np.flatnonzero((result.method == UNASSIGNED) & result.located)
    rows.append(outside)
    texts.append([_outside_reason(d, options, noun) for d in result.distance_km[outside]])
    missing = np.flatnonzero(~result.located)
    rows.append(missing)
    texts.append(["no location: " + str(unlocated[i]) for i in missing])
    return with_reasons(pd.Categorical.from_codes(np.zeros(len(result.polygon), np.int32), [""]),
                        rows, texts)  # fmt: skip


def _outside_reason(km: float, options: AssignOptions, noun: str) -> str:
    if options.max_distance_km <= 0:
        return f"outside every {noun} (nearest fallback is off)"
    if np.isfinite(km):
        return (
            f"outside every {noun}; nearest is {km:.1f} km away, "
            f"beyond the {options.max_distance_km:g} km limit"
        )
    return f"outside every {noun} and more than {options.max_distance_km:g} km from any"


def with_reasons(
    reason: pd.Categorical, rows: list[np.ndarray], texts: list[list[str]]
) -> pd.Categorical:
    """``reason`` with ``texts[k][j]`` set at row ``rows[k][j]`` (later entries win)."""
    codes = np.asarray(reason.codes, dtype=np.int32).copy()
    code_of = {c: k for k, c in enumerate(reason.categories)}
    for where, said in zip(rows, texts, strict=True):
        if len(where):
            codes[where] = [code_of.setdefault(t, len(code_of)) for t in said]
    return pd.Categorical.from_codes(codes, categories=list(code_of))


def method_labels(codes: np.ndarray) -> pd.Categorical:
    """Method codes as a categorical of :data:`METHODS`."""
    return pd.Categorical.from_codes(codes.astype(np.int8), categories=list(METHODS))


def locate_accounts(
    accounts: Accounts,
    polygons: gpd.GeoDataFrame,
    ids: np.ndarray,
    options: AssignOptions = AssignOptions(),
    noun: str = "territory",
) -> tuple[PointAssignment, pd.Categorical]:
    """Locate checked accounts among ``polygons`` (checked, with string ``ids``).

    Accounts in another CRS are reprojected to the polygons' CRS first. Returns the
    :class:`PointAssignment` and the reason of every account (see :func:`describe`).
    """
    from territory.validate import check_swapped

    crs = pyproj.CRS.from_user_input(polygons.crs)
    accounts = accounts.to_crs(crs)
    check_swapped(accounts, polygons.total_bounds)
    geoms = polygons.geometry.to_numpy()
    tie_rank = _rank(ids)
    if options.overlap == "smallest":
        area, _ = area_perimeter_km(geoms, crs)  # km², not degrees², for lon/lat layers
        overlap_rank = np.lexsort((tie_rank, area)).argsort()
    else:
        overlap_rank = np.arange(len(geoms))
    result = locate_points(
        accounts.x,
        accounts.y,
        geoms,
        geographic=crs.is_geographic,
        unit=metres_per_unit(crs) if not crs.is_geographic else 1.0,
        tie_rank=tie_rank,
        overlap_rank=overlap_rank,
        options=options,
    )
    return result, describe(result, ids, options, accounts.unlocated, noun)


def assign_polygons(
    accounts: Accounts,
    polygons: gpd.GeoDataFrame,
    id_column: str,
    options: AssignOptions = AssignOptions(),
    noun: str = "block",
) -> pd.DataFrame:
    """Assign checked accounts to any checked polygon layer with an id column.

    Returns one row per account, in input order: ``account_id``, ``id_column`` (missing when
    unassigned), ``method``, ``distance_km``, ``reason`` and the account measures.
    """
    ids = polygons[id_column].to_numpy(dtype=object)
    result, reason = locate_accounts(accounts, polygons, ids, options, noun)
    out = pd.DataFrame({"account_id": accounts.frame["account_id"].to_numpy()})
    out[id_column] = _labels(result.polygon, ids, result.polygon >= 0)
    return _finish(out, accounts, result.method, result.distance_km, reason)


def assign_accounts(
    accounts: Accounts, layer: TerritoryLayer, options: AssignOptions = AssignOptions()
) -> pd.DataFrame:
    """Assign checked accounts to a checked territory layer.

    Returns one row per account, in input order: ``account_id``, ``territory_id`` (None when
    unassigned), ``block_id`` (when the layer is made of blocks), ``method``, ``distance_km``,
    ``reason`` and the account measures. Accounts in another CRS are reprojected to the layer's
    CRS first (and a note says so).
    """
    frame = layer.assign_layer
    ids = layer.assign_ids
    noun = "block" if layer.blocks is not None else "territory"
    result, reason = locate_accounts(accounts, frame, ids, options, noun)
    hit = result.polygon >= 0
    terr_of_poly = frame["territory_id"].to_numpy(dtype=object)
    method = result.method.copy()
    out = pd.DataFrame({"account_id": accounts.frame["account_id"].to_numpy()})
    if layer.blocks is not None:
        unaligned = hit & pd.isna(terr_of_poly[np.maximum(result.polygon, 0)])
        if unaligned.any():
            method[unaligned] = UNASSIGNED
            said = [
                f"in block '{b}', which the alignment leaves without a territory"
                for b in ids[result.polygon[unaligned]]
            ]
            reason = with_reasons(reason, [np.flatnonzero(unaligned)], [said])
        out["territory_id"] = _labels(result.polygon, terr_of_poly, hit & ~unaligned)
        out["block_id"] = _labels(result.polygon, ids, hit)
    else:
        out["territory_id"] = _labels(result.polygon, terr_of_poly, hit)
    return _finish(out, accounts, method, result.distance_km, reason)


def _finish(out, accounts, method, distance, reason) -> pd.DataFrame:
    """The columns every assignment table ends with: method, distance, reason, measures."""
    out["method"] = method_labels(method)
    out["distance_km"] = distance
    out["reason"] = reason
    for m in accounts.measures:
        out[m] = accounts.frame[m].to_numpy()
    return out


def _labels(polygon: np.ndarray, names: np.ndarray, keep: np.ndarray) -> pd.Categorical:
    """Per-account labels ``names[polygon]`` as a categorical, missing where not ``keep``."""
    present = pd.notna(names)
    categories = pd.Index(pd.unique(names[present]))
    try:
        categories = categories.sort_values()
    except TypeError:  # mixed id types: keep first-seen order
        pass
    code_of = np.full(len(names), -1, dtype=np.int64)
    code_of[present] = categories.get_indexer(names[present])
    codes = np.where(keep, code_of[np.maximum(polygon, 0)], -1)
    return pd.Categorical.from_codes(codes, categories=categories)


def _rank(ids: np.ndarray) -> np.ndarray:
    """Rank of each id in sorted order (0 = lowest), used for deterministic tie-breaks."""
    return np.argsort(np.argsort(ids.astype(str), kind="stable"), kind="stable")
