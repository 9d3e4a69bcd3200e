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

METHODS = ("inside", "boundary", "overlap", "nearest", "unassigned")
INSIDE, BOUNDARY, OVERLAP, NEAREST, UNASSIGNED = range(5)
OVERLAP_RULES = ("smallest", "first")
_GEOD = pyproj.Geod(ellps="WGS84")

if TYPE_CHECKING:
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

    def in_box(self, xmin, ymin, xmax, ymax) -> np.ndarray:
        """Sorted positions of the points inside the box (inclusive)."""
        if xmax < self.xmin or xmin > self.xmax or ymax < self.ymin or ymin > self.ymax:
            return np.empty(0, dtype=np.int64)
        bands = np.arange(self._band(np.float64(ymin)), self._band(np.float64(ymax)) + 1)
        lo = np.searchsorted(self.key, (bands << 32) | self._qx(np.float64(xmin)), "left")
        hi = np.searchsorted(self.key, (bands << 32) | self._qx(np.float64(xmax)), "right")
        spans = [np.arange(a, b) for a, b in zip(lo, hi, strict=True) if b > a]
        if not spans:
            return np.empty(0, dtype=np.int64)
        pos = np.concatenate(spans) if len(spans) > 1 else spans[0]
        ys = self.y[pos]
        return pos[(ys >= ymin) & (ys <= ymax)]


def _polygon_pass(points: _SortedPoints, polys, bounds, predicate, threads):
    """Run ``predicate(poly, x, y)`` for each polygon over the points in its box, in parallel.

    Returns ``(point_positions, polygon_positions)`` of all hits, in original point order.
    """
    n = len(polys)
    workers = max(1, min(threads or os.cpu_count() or 1, n))
    chunks = [np.arange(i, n, workers * 4) for i in range(min(n, workers * 4))]

    def run(chunk):
        pts, pls = [], []
        for i in chunk:
            pos = points.in_box(*bounds[i])
            if len(pos):
                hit = pos[predicate(polys[i], points.x[pos], points.y[pos])]
                if len(hit):
                    pts.append(hit)
                    pls.append(np.full(len(hit), i, dtype=np.int64))
        return pts, pls

    if workers == 1:
        results = [run(c) for c in chunks]
    else:
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(run, chunks))
    pts = [a for r in results for a in r[0]]
    pls = [a for r in results for a in r[1]]
    if not pts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return points.order[np.concatenate(pts)], np.concatenate(pls)


def locate_points(
    x: np.ndarray,
    y: np.ndarray,
    polygons: np.ndarray,
    *,
    geographic: bool,
    tie_rank: np.ndarray,
    overlap_rank: np.ndarray,
    options: AssignOptions = AssignOptions(),
) -> PointAssignment:
    """Find the polygon of each point (see the module docstring for the methods).

    Parameters
    ----------
    x, y : ndarray
        Coordinates in the polygons' CRS; NaN where a point has no location.
    polygons : ndarray of shapely Polygon/MultiPolygon, valid
    geographic : bool
        True when coordinates are longitude/latitude (distances are then geodesic).
    tie_rank : ndarray of int
        Lower wins among polygons sharing a boundary point.
    overlap_rank : ndarray of int
        Lower wins among overlapping polygons containing a point.
    """
    n = len(x)
    polygon = np.full(n, -1, dtype=np.int64)
    method = np.full(n, UNASSIGNED, dtype=np.int8)
    distance = np.full(n, np.nan)
    candidates: dict[int, np.ndarray] = {}
    valid = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    if not len(valid) or not len(polygons):
        return PointAssignment(polygon, method, distance, candidates)

    shapely.prepare(polygons)
    bounds = shapely.bounds(polygons)
    band = float(np.median(bounds[:, 3] - bounds[:, 1])) / 2

    # 1. strictly inside (and overlaps)
    pts = _SortedPoints(x[valid], y[valid], band)
    p, g = _polygon_pass(pts, polygons, bounds, shapely.contains_xy, options.threads)
    p = valid[p]
    _resolve(p, g, polygon, method, candidates, INSIDE, OVERLAP, overlap_rank)

    # 2. on a boundary: points not strictly inside anything, tested with intersects
    rest = valid[polygon[valid] < 0]
    if len(rest):
        pts = _SortedPoints(x[rest], y[rest], band)
        p, g = _polygon_pass(pts, polygons, bounds, shapely.intersects_xy, options.threads)
        _resolve(rest[p], g, polygon, method, candidates, BOUNDARY, BOUNDARY, tie_rank)

    # 3. outside: nearest polygon within the distance
    rest = valid[polygon[valid] < 0]
    if len(rest):
        near, dist = _nearest(x[rest], y[rest], polygons, geographic, options.max_distance_km)
        distance[rest] = dist
        ok = (near >= 0) & (dist <= options.max_distance_km)
        polygon[rest[ok]] = near[ok]
        method[rest[ok]] = NEAREST
    return PointAssignment(polygon, method, distance, candidates)


def _resolve(p, g, polygon, method, candidates, single, multiple, rank):
    """Write hits into ``polygon``/``method``; points hit more than once pick the lowest rank."""
    if not len(p):
        return
    order = np.lexsort((rank[g], p))
    p, g = p[order], g[order]
    first = np.ones(len(p), dtype=bool)
    first[1:] = p[1:] != p[:-1]
    counts = np.diff(np.append(np.flatnonzero(first), len(p)))
    winners_p, winners_g = p[first], g[first]
    polygon[winners_p] = winners_g
    method[winners_p] = np.where(counts > 1, multiple, single)
    if (counts > 1).any():
        starts = np.flatnonzero(first)
        for s, c in zip(starts[counts > 1], counts[counts > 1], strict=True):
            candidates[int(p[s])] = g[s : s + c]


def _nearest(x, y, polygons, geographic, max_km):
    """Nearest polygon to each point and its distance in km (NaN/-1 where none is in reach)."""
    n = len(x)
    near = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.nan)
    if max_km <= 0:
        return near, dist
    points = shapely.points(x, y)
    tree = shapely.STRtree(polygons)
    if geographic:
        # Search radius in degrees, generous at the points' latitude; exact distances below.
        coslat = np.cos(np.radians(np.minimum(np.abs(y).max(), 89.0)))
        radius = max_km / 111.0 / coslat * 1.5
    else:
        radius = max_km * 1000.0
    pi, gi = tree.query_nearest(points, max_distance=radius, all_matches=False)
    if not len(pi):
        return near, dist
    near[pi] = gi
    if geographic:
        ends = shapely.get_coordinates(shapely.shortest_line(points[pi], polygons[gi]))
        _, _, metres = _GEOD.inv(ends[0::2, 0], ends[0::2, 1], ends[1::2, 0], ends[1::2, 1])
        dist[pi] = np.asarray(metres) / 1000.0
    else:
        dist[pi] = shapely.distance(points[pi], polygons[gi]) / 1000.0
    return near, dist


def describe(
    result: PointAssignment,
    ids: np.ndarray,
    options: AssignOptions,
    unlocated: np.ndarray,
    noun: str = "territory",
) -> np.ndarray:
    """Build the human-readable reason for every account that is not simply ``inside``."""
    reason = np.full(len(result.polygon), "", dtype=object)
    for i, cands in result.candidates.items():
        names = ", ".join(f"'{ids[c]}'" for c in cands)
        if result.method[i] == BOUNDARY:
            reason[i] = f"on the shared boundary of {names}; lowest id '{ids[cands[0]]}' wins"
        else:
            rule = "smallest area" if options.overlap == "smallest" else "first listed"
            reason[i] = f"inside overlapping {names}; {rule} '{ids[cands[0]]}' wins"
    near = np.flatnonzero(result.method == NEAREST)
    for i in near:
        reason[i] = (
            f"outside every {noun}; nearest '{ids[result.polygon[i]]}' is "
            f"{result.distance_km[i]:.2f} km away (limit {options.max_distance_km:g} km)"
        )
    outside = np.flatnonzero((result.method == UNASSIGNED) & (unlocated == ""))
    for i in outside:
        if options.max_distance_km <= 0:
            reason[i] = f"outside every {noun} (nearest fallback is off)"
        elif np.isfinite(result.distance_km[i]):
            reason[i] = (
                f"outside every {noun}; nearest is {result.distance_km[i]:.1f} km away, "
                f"beyond the {options.max_distance_km:g} km limit"
            )
        else:
            reason[i] = (
                f"outside every {noun} and more than {options.max_distance_km:g} km from any"
            )
    has_note = unlocated != ""
    reason[has_note] = "no location: " + unlocated[has_note].astype(str)
    return reason


def method_labels(codes: np.ndarray) -> pd.Categorical:
    """Method codes as a categorical of :data:`METHODS`."""
    return pd.Categorical.from_codes(codes.astype(np.int8), categories=list(METHODS))


def assign_accounts(
    accounts: Accounts, layer: TerritoryLayer, options: AssignOptions = AssignOptions()
) -> pd.DataFrame:
    """Assign checked accounts to a checked territory layer.

    Returns one row per account, in input order: ``account_id``, ``territory_id`` (None when
    unassigned), ``block_id`` (when the layer is made of blocks), ``method``, ``distance_km``,
    ``reason`` and the account measures. Accounts in another CRS are reprojected to the layer's
    CRS first (and a note says so).
    """
    from territory.validate import check_swapped

    accounts = accounts.to_crs(layer.crs)
    frame = layer.assign_layer
    ids = layer.assign_ids
    check_swapped(accounts, frame.total_bounds)
    geoms = frame.geometry.to_numpy()
    tie_rank = _rank(ids)
    if options.overlap == "smallest":
        overlap_rank = np.lexsort((tie_rank, shapely.area(geoms))).argsort()
    else:
        overlap_rank = np.arange(len(geoms))
    result = locate_points(
        accounts.x,
        accounts.y,
        geoms,
        geographic=layer.crs.is_geographic,
        tie_rank=tie_rank,
        overlap_rank=overlap_rank,
        options=options,
    )
    noun = "block" if layer.blocks is not None else "territory"
    reason = describe(result, ids, options, accounts.unlocated, noun)
    hit = result.polygon >= 0
    terr_of_poly = frame["territory_id"].to_numpy(dtype=object)
    territory = np.full(len(result.polygon), None, dtype=object)
    territory[hit] = terr_of_poly[result.polygon[hit]]
    method = result.method.copy()
    out = pd.DataFrame({"account_id": accounts.frame["account_id"].to_numpy()})
    if layer.blocks is not None:
        block = np.full(len(result.polygon), None, dtype=object)
        block[hit] = ids[result.polygon[hit]]
        unaligned = hit & pd.isna(territory)
        if unaligned.any():
            method[unaligned] = UNASSIGNED
            reason[unaligned] = [
                f"in block '{b}', which the alignment leaves without a territory"
                for b in block[unaligned]
            ]
        out["territory_id"] = territory
        out["block_id"] = block
    else:
        out["territory_id"] = territory
    out["method"] = method_labels(method)
    out["distance_km"] = result.distance_km
    out["reason"] = reason
    for m in accounts.measures:
        out[m] = accounts.frame[m].to_numpy()
    return out


def _rank(ids: np.ndarray) -> np.ndarray:
    """Rank of each id in sorted order (0 = lowest), used for deterministic tie-breaks."""
    return np.argsort(np.argsort(ids.astype(str), kind="stable"), kind="stable")
