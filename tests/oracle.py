"""An independent assignment oracle, for comparing the product with a second computation.

Nothing here uses ``territory``'s engine. The rules are the documented ones
(``territory.assignment``): strictly inside -> that polygon (several: smallest area, then lowest
id); on a boundary -> lowest id (string order) of the polygons touched; outside all -> the
nearest polygon within ``max_km``, else unassigned.

- inside / boundary: ``geopandas.sjoin`` with ``predicate="within"`` and then ``"intersects"``.
- distances (lon/lat layers): each candidate polygon is clipped to a box around the point
  (copies shifted by ±360° cover the antimeridian), segmentized at 0.01° so edges follow the
  lon/lat straight lines the layer means, projected into a WGS84 azimuthal equidistant frame
  centred on the point (exact geodesic distance from the centre) and measured with
  ``shapely.distance`` from the origin.
- distances (projected layers): planar ``shapely.distance`` in the layer's CRS, times the
  unit's metres.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

GEOD = pyproj.Geod(ellps="WGS84")
SEGMENT_DEG = 0.01


def clean_layer(layer: gpd.GeoDataFrame, id_col: str = "territory_id") -> gpd.GeoDataFrame:
    """The layer the oracle reasons about: ids as text, empty shapes dropped, invalid repaired.

    Repair follows the product's documented rule (``make_valid`` with the structure method,
    collapsed parts dropped, polygonal parts kept); shapes that collapse to nothing are dropped
    like empty ones (no account can be assigned to them).
    """
    geoms = layer.geometry.to_numpy().copy()
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    bad = keep & ~shapely.is_valid(geoms)
    if bad.any():
        fixed = shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
        geoms[bad] = [_polygonal(g) for g in fixed]
    keep &= ~shapely.is_empty(geoms)
    out = gpd.GeoDataFrame(
        {"territory_id": layer[id_col].astype(str).to_numpy()[keep]},
        geometry=geoms[keep],
        crs=layer.crs,
    )
    return out.reset_index(drop=True)


def _polygonal(g):
    parts = shapely.get_parts(g)
    parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
    return shapely.union_all(parts) if len(parts) else shapely.Polygon()


@dataclass
class OracleResult:
    """Per point: territory, method, distance (nearest / too far), and candidate distances."""

    frame: pd.DataFrame  # territory_id, method, distance_km, candidates
    distances: list[dict[str, float]]  # territory id -> km, for points outside all polygons


def assign(
    x: np.ndarray,
    y: np.ndarray,
    layer: gpd.GeoDataFrame,
    *,
    max_km: float = 10.0,
    reach_km: float | None = None,
) -> OracleResult:
    """Oracle assignment of points ``(x, y)`` (in the layer's CRS) to a cleaned layer.

    Distances are searched up to ``reach_km`` (default ``2 * max_km``, what the product
    reports for too-far points); beyond that the distance is NaN.
    """
    reach = 2 * max_km if reach_km is None else reach_km
    n = len(x)
    ids = layer["territory_id"].to_numpy(dtype=object)
    points = gpd.GeoDataFrame(geometry=shapely.points(x, y), crs=layer.crs)
    terr = np.full(n, None, dtype=object)
    method = np.full(n, "unassigned", dtype=object)
    distance = np.full(n, np.nan)
    candidates = [()] * n

    within = gpd.sjoin(points, layer, predicate="within", how="inner")
    if len(within):
        area = _areas(layer)
        hits = pd.DataFrame({"p": within.index.to_numpy(), "g": within["index_right"].to_numpy()})
        hits["area"] = area[hits["g"]]
        hits["id"] = ids[hits["g"]].astype(str)
        hits = hits.sort_values(["p", "area", "id"])
        for p, group in hits.groupby("p", sort=False):
            terr[p] = group["id"].iloc[0]
            method[p] = "inside" if len(group) == 1 else "overlap"
            candidates[p] = tuple(group["id"])

    rest = np.flatnonzero(terr == None)  # noqa: E711
    if len(rest):
        touch = gpd.sjoin(points.iloc[rest], layer, predicate="intersects", how="inner")
        for p, group in touch.groupby(level=0, sort=False):
            names = sorted(ids[group["index_right"].to_numpy()].astype(str))
            terr[p] = names[0]
            method[p] = "boundary"
            candidates[p] = tuple(names)

    dists: list[dict[str, float]] = [{} for _ in range(n)]
    rest = np.flatnonzero(terr == None)  # noqa: E711
    if len(rest) and max_km > 0:
        crs = pyproj.CRS.from_user_input(layer.crs)
        if crs.is_geographic:
            found = _geodesic_distances(x[rest], y[rest], layer, reach)
        else:
            found = _planar_distances(x[rest], y[rest], layer, reach, _metres_per_unit(crs))
        for p, d in zip(rest, found, strict=True):
            dists[p] = d
            if not d:
                continue
            best = min(d.items(), key=lambda kv: (kv[1], kv[0]))
            distance[p] = best[1]
            if best[1] <= max_km:
                terr[p] = best[0]
                method[p] = "nearest"
    frame = pd.DataFrame(
        {"territory_id": terr, "method": method, "distance_km": distance, "candidates": candidates}
    )
    return OracleResult(frame, dists)


def _areas(layer: gpd.GeoDataFrame) -> np.ndarray:
    crs = pyproj.CRS.from_user_input(layer.crs)
    if crs.is_geographic:
        return layer.to_crs("EPSG:6933").area.to_numpy()  # equal-area, world-wide
    return layer.area.to_numpy()


def _metres_per_unit(crs: pyproj.CRS) -> float:
    return float(crs.axis_info[0].unit_conversion_factor)


def search_box(lon: float, lat: float, km: float) -> tuple[float, float, float, float]:
    """A lon/lat box holding every point within ``km`` of ``(lon, lat)`` (generously)."""
    dlat = km / 110.0 * 1.2 + 1e-6
    top = min(abs(lat) + dlat, 89.99)
    dlon = min(km / (111.0 * np.cos(np.radians(top))) * 1.2 + 1e-6, 180.0)
    return lon - dlon, max(lat - dlat, -90.0), lon + dlon, min(lat + dlat, 90.0)


def _geodesic_distances(lon, lat, layer, reach_km) -> list[dict[str, float]]:
    geoms = layer.geometry.to_numpy()
    ids = layer["territory_id"].to_numpy(dtype=object)
    tree = shapely.STRtree(geoms)
    out: list[dict[str, float]] = []
    for px, py in zip(lon, lat, strict=True):
        west, south, east, north = search_box(px, py, reach_km)
        found: dict[str, float] = {}
        # the box may stick out past ±180: look at the layer shifted by ±360 as well
        for shift in (0.0, 360.0, -360.0):
            query = shapely.box(west - shift, south, east - shift, north)
            if not (-180 <= query.bounds[2] and query.bounds[0] <= 180):
                continue
            hits = tree.query(query)
            if not len(hits):
                continue
            pipe = pyproj.Transformer.from_pipeline(
                "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
                f"+step +proj=aeqd +lat_0={float(py)!r} +lon_0={float(px)!r} +ellps=WGS84"
            )
            for g in hits:
                part = shapely.clip_by_rect(geoms[g], west - shift, south, east - shift, north)
                if part.is_empty:
                    continue
                part = shapely.transform(part, lambda c, s=shift: c + [s, 0.0])
                part = shapely.segmentize(part, SEGMENT_DEG)
                local = shapely.transform(
                    part, lambda c, t=pipe: np.column_stack(t.transform(c[:, 0], c[:, 1]))
                )
                km = float(shapely.distance(shapely.Point(0, 0), local)) / 1000.0
                if km <= reach_km:
                    key = str(ids[g])
                    found[key] = min(km, found.get(key, np.inf))
        out.append(found)
    return out


def _planar_distances(x, y, layer, reach_km, unit) -> list[dict[str, float]]:
    geoms = layer.geometry.to_numpy()
    ids = layer["territory_id"].to_numpy(dtype=object)
    tree = shapely.STRtree(geoms)
    pts = shapely.points(x, y)
    pair_pt, pair_g = tree.query(pts, predicate="dwithin", distance=reach_km * 1000.0 / unit)
    km = shapely.distance(pts[pair_pt], geoms[pair_g]) * unit / 1000.0
    out: list[dict[str, float]] = [{} for _ in range(len(x))]
    for p, g, d in zip(pair_pt, pair_g, km, strict=True):
        key = str(ids[g])
        out[p][key] = min(float(d), out[p].get(key, np.inf))
    return out


NUMBER = re.compile(r"(\d+(?:\.\d+)?) km away")


def compare(
    product: pd.DataFrame,
    oracle: OracleResult,
    *,
    max_km: float = 10.0,
    reach_km: float | None = None,
    tie_m: float = 1.0,
    tie_rel: float = 1e-3,
    dist_rel: float = 0.01,
    dist_abs_km: float = 0.02,
) -> pd.DataFrame:
    """Accounts where the product disagrees with the oracle, one row per disagreement.

    Tolerated: nearest-rule ties (another territory within ``tie_m`` metres plus ``tie_rel`` of
    the distance, the accuracy asked of the product's distances), and the method of points
    whose distance is within ``dist_rel`` of the limit. Distances must agree within
    ``dist_rel`` (or ``dist_abs_km`` for tiny ones). Reasons must name the right territory
    and distance.
    """
    reach = 2 * max_km if reach_km is None else reach_km
    o = oracle.frame
    rows = []
    for i in range(len(o)):
        got_t = product["territory_id"].iloc[i]
        got_t = None if pd.isna(got_t) else str(got_t)
        got_m = str(product["method"].iloc[i])
        got_d = float(product["distance_km"].iloc[i])
        reason = str(product["reason"].iloc[i] or "")
        want_t, want_m, want_d = o["territory_id"][i], o["method"][i], o["distance_km"][i]
        d = oracle.distances[i]

        def bad(what, i=i, got=(got_t, got_m, got_d), want=(want_t, want_m, want_d)):
            rows.append(
                {
                    "row": i,
                    "problem": what,
                    "product": "{} {} {:.4f}".format(*got),
                    "oracle": "{} {} {:.4f}".format(*want),
                    "reason": str(product["reason"].iloc[i] or ""),
                }
            )

        def close(a, b):
            return abs(a - b) <= max(dist_rel * b, dist_abs_km)

        near_limit = np.isfinite(want_d) and abs(want_d - max_km) <= dist_rel * max_km
        if want_m in ("inside", "overlap", "boundary"):
            if got_m != want_m or got_t != want_t:
                bad("territory/method")
            elif (
                want_m == "boundary" and len(o["candidates"][i]) > 1 and f"'{want_t}'" not in reason
            ):
                bad("boundary reason does not name the winner")
            continue
        if got_m not in ("nearest", "unassigned"):
            bad("territory/method")
            continue
        if got_m != want_m and not near_limit:
            bad("territory/method")
            continue
        if got_m == "nearest":
            if got_t not in d:
                bad("territory/method")
                continue
            best = min(d.values())
            if d[got_t] > best + tie_m / 1000.0 + tie_rel * best:
                bad("territory/method")
                continue
            if not close(got_d, d[got_t]):
                bad("distance")
            stated = [float(v) for v in NUMBER.findall(reason)]
            if f"'{got_t}'" not in reason or not any(
                abs(v - d[got_t]) <= dist_rel * d[got_t] + 0.006 for v in stated
            ):
                bad("nearest reason does not state the territory and distance")
            continue
        # unassigned: too far
        if np.isfinite(want_d) and want_d < reach * (1 - dist_rel):
            if not (np.isfinite(got_d) and close(got_d, want_d)):
                bad("distance")
            stated = [float(v) for v in NUMBER.findall(reason)]
            if not any(abs(v - want_d) <= dist_rel * want_d + 0.051 for v in stated):
                bad("too-far reason does not state the distance")
        elif not np.isfinite(want_d) and np.isfinite(got_d) and got_d < reach * (1 - dist_rel):
            bad("distance")
        if f"{max_km:g} km" not in reason:
            bad("too-far reason does not state the limit")
    return pd.DataFrame(rows, columns=["row", "problem", "product", "oracle", "reason"])


def summary(name: str, mismatches: pd.DataFrame, oracle: OracleResult, limit: int = 8) -> str:
    """A printable report: counts per oracle method and the first disagreements."""
    counts = oracle.frame["method"].value_counts().to_dict()
    lines = [f"{name}: {len(oracle.frame)} points {counts}; {len(mismatches)} disagree"]
    if len(mismatches):
        lines.append(f"  by problem: {mismatches['problem'].value_counts().to_dict()}")
        for r in mismatches.head(limit).itertuples():
            lines.append(f"  #{r.row} {r.problem}: product {r.product} / oracle {r.oracle}")
    return "\n".join(lines)
