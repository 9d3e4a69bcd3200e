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

from territory.geometry import area_perimeter_km, metres_per_unit
from territory.nearest import nearest_polygons
from territory.pointgrid import BORDER, cell_labels
from territory.sortedpoints import SortedPoints

METHODS = ("inside", "boundary", "overlap", "nearest", "unassigned")
INSIDE, BOUNDARY, OVERLAP, NEAREST, UNASSIGNED = range(5)
OVERLAP_RULES = ("smallest", "first")
GRID_FROM = 50_000  # located points (and at least one per layer vertex) for the cell grid

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


def _polygon_pass(points: SortedPoints, polys, bounds, predicate, threads, subset=None):
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
    overlap_rank : ndarray of int, or a function returning it (called only if some point
        is inside several polygons): lower wins among overlapping polygons containing a point.
    grid : bool, optional
        Answer points in grid cells wholly inside one polygon (or outside all) by lookup and
        test only the others exactly (:mod:`territory.pointgrid`); the answers are the same.
        Default: on from :data:`GRID_FROM` located points, and at least as many as the layer
        has vertices (marking the grid costs about one exact test per vertex).
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
    if grid is None:
        grid = len(valid) >= max(GRID_FROM, int(shapely.get_num_coordinates(polygons).sum()))
    if grid:
        exact = _grid_pass(x, y, valid, polygons, bounds, band, polygon, method, options.threads)

    # 1. strictly inside (and overlaps)
    if len(exact):
        pts = SortedPoints(x[exact], y[exact], band)
        p, g = _polygon_pass(pts, polygons, bounds, shapely.contains_xy, options.threads)
        _resolve(exact, p, g, polygon, method, candidates, INSIDE, OVERLAP, overlap_rank)

    # 2. on a boundary: points not strictly inside anything, tested with intersects, only
    #    against the polygons whose bounding boxes hold such points
    rest = exact[polygon[exact] < 0]
    if len(rest):
        pts = SortedPoints(x[rest], y[rest], band)  # polygons whose box holds none: no work
        p, g = _polygon_pass(pts, polygons, bounds, shapely.intersects_xy, options.threads)
        _resolve(rest, p, g, polygon, method, candidates, BOUNDARY, BOUNDARY, tie_rank)

    # 3. outside: nearest polygon within the distance
    rest = np.flatnonzero(polygon < 0) if len(valid) == n else valid[polygon[valid] < 0]
    if len(rest):
        reach = options.max_distance_km
        near, dist = nearest_polygons(x[rest], y[rest], polygons, bounds, geographic, reach,
                                      unit, tie_rank, options.threads)  # fmt: skip
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
        pts = SortedPoints(cx, cy, band)
        return _polygon_pass(pts, polygons, bounds, shapely.contains_xy, threads)

    xs, ys = (x, y) if len(valid) == len(x) else (x[valid], y[valid])
    label = cell_labels(xs, ys, polygons, bounds, contains, threads)
    if len(valid) == len(x):  # every point located: write in place, no index arrays
        pure = label >= 0
        np.copyto(polygon, label, where=pure)
        np.copyto(method, INSIDE, where=pure)
        del pure
        return np.flatnonzero(label == BORDER)
    pure = label >= 0
    polygon[valid[pure]] = label[pure]
    method[valid[pure]] = INSIDE
    return valid[label == BORDER]


def _resolve(points, hit, g, polygon, method, candidates, single, multiple, rank):
    """Write hits (point ``points[hit]`` in polygon ``g``) into ``polygon``/``method``; points
    hit more than once pick the lowest rank."""
    if not len(hit):
        return
    once = np.bincount(hit, minlength=len(points))[hit] == 1  # counted among the tested only
    p = points[hit]
    del hit
    polygon[p[once]] = g[once]
    method[p[once]] = single
    if once.all():
        return
    p, g = p[~once], g[~once]
    rank = rank() if callable(rank) else rank
    order = np.lexsort((rank[g], p))
    p, g = p[order], g[order]
    first = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
    polygon[p[first]] = g[first]
    method[p[first]] = multiple
    for s, e in zip(first, np.r_[first[1:], len(p)], strict=True):
        candidates[int(p[s])] = g[s:e]


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
    said_of = [f"outside every {noun}; nearest '{i}' is " for i in ids.tolist()]
    limit = f" km away (limit {options.max_distance_km:g} km)"
    texts.append([
        f"{said_of[p]}{d:.2f}{limit}"
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
    categories = pd.Index(reason.categories, dtype=object)
    for where, said in zip(rows, texts, strict=True):
        if len(where):
            # one code per distinct sentence, new sentences appended in first-seen order
            local, uniques = pd.factorize(np.asarray(said, dtype=object))
            known = categories.get_indexer(uniques)
            new = known < 0
            known[new] = len(categories) + np.arange(int(new.sum()))
            categories = categories.append(pd.Index(uniques[new], dtype=object))
            codes[where] = known[local]
    # categories from a list of texts: the same dtype whichever rows had reasons (pandas infers
    # it), so parts of a run (batches, Dask partitions) concatenate
    return pd.Categorical.from_codes(codes, categories=categories.tolist())


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

    def overlap_rank():  # needed only when a point is inside overlapping polygons
        if options.overlap == "first":
            return np.arange(len(geoms))
        area, _ = area_perimeter_km(geoms, crs)  # km², not degrees², for lon/lat layers
        return np.lexsort((tie_rank, area)).argsort()

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
    out["distance_km"] = pd.Series(distance, index=out.index, copy=False)
    out["reason"] = reason
    measures = accounts.frame
    for m in accounts.measures:  # as Series: copy-on-write pandas copies no data here
        out[m] = measures[m] if measures.index.equals(out.index) else measures[m].to_numpy()
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
