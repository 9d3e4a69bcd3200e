"""Shape measures shared by the KPIs and the designer: area, length, compactness, projection.

Geographic (lon/lat) layers are measured on the WGS84 ellipsoid, projected layers in their
CRS's linear unit converted to km, so degrees are never compared with metres and every part of
the product reports the same area and Polsby-Popper compactness for the same shape.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyproj
import shapely

# WGS84 ellipsoid
_A = 6378137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)
_E = np.sqrt(_E2)


def _q(sin_phi: np.ndarray) -> np.ndarray:
    """The authalic ``q`` function of latitude (Snyder, Map Projections, eq. 3-12)."""
    es = _E * sin_phi
    return (1 - _E2) * (sin_phi / (1 - _E2 * sin_phi**2) - np.log((1 - es) / (1 + es)) / (2 * _E))


_QP = _q(np.array(1.0))
_RQ2 = _A**2 * _QP / 2  # squared radius of the authalic sphere


def area_perimeter_km(geoms: np.ndarray, crs: pyproj.CRS) -> tuple[np.ndarray, np.ndarray]:
    """Area (km²) and perimeter (km, every ring: holes count) of each (multi)polygon.

    Geographic layers are measured on the WGS84 ellipsoid, vectorised over all vertices: the
    area through the authalic latitude (an exact equal-area mapping of the ellipsoid to a
    sphere; edges follow the dense boundary vertices), perimeters by summing segments with the
    local meridian and prime-vertical radii. Agrees with ``pyproj.Geod`` to well under 0.1 %
    on real boundaries (tested) at a fraction of the time. Projected layers: planar, in the
    CRS's linear unit converted to km.
    """
    geoms = np.asarray(geoms, dtype=object)
    if not crs.is_geographic:
        unit = metres_per_unit(crs)
        return shapely.area(geoms) * unit**2 / 1e6, shapely.length(geoms) * unit / 1e3
    area = np.zeros(len(geoms))
    perim = np.zeros(len(geoms))
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    coords, vertex_ring = shapely.get_coordinates(rings, return_index=True)
    if not len(coords):
        return area, perim
    same = vertex_ring[:-1] == vertex_ring[1:]
    lon = np.radians(coords[:, 0])
    lat = np.radians(coords[:, 1])
    seg_ring = vertex_ring[:-1][same]
    lon1, lon2 = lon[:-1][same], lon[1:][same]
    lat1, lat2 = lat[:-1][same], lat[1:][same]
    dlon = (lon2 - lon1 + np.pi) % (2 * np.pi) - np.pi
    # area: trapezoids in (longitude, sin(authalic latitude)); signed, per ring
    sb1 = _q(np.sin(lat1)) / _QP
    sb2 = _q(np.sin(lat2)) / _QP
    ring_area = np.abs(np.bincount(seg_ring, weights=dlon * (sb1 + sb2) / 2, minlength=len(rings)))
    ring_area *= _RQ2
    # exterior rings count positive, interior rings (holes) negative
    first_ring = np.r_[True, ring_of[1:] != ring_of[:-1]]
    signed = np.where(first_ring, ring_area, -ring_area)
    part_area = np.bincount(ring_of, weights=signed, minlength=len(parts))
    seg_len = _segment_lengths(lat1, lat2, dlon)
    part_perim = np.bincount(ring_of, weights=np.bincount(seg_ring, weights=seg_len,
                                                          minlength=len(rings)),
                             minlength=len(parts))  # fmt: skip
    area += np.bincount(part_of, weights=part_area, minlength=len(geoms))
    perim += np.bincount(part_of, weights=part_perim, minlength=len(geoms))
    return area / 1e6, perim / 1e3


def degree_km(lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kilometres per degree of longitude and of latitude at ``lat`` (degrees), WGS84."""
    s = np.sin(np.radians(lat))
    w = 1 - _E2 * s * s
    prime = _A / np.sqrt(w) / 1e3
    meridional = _A * (1 - _E2) / w**1.5 / 1e3
    return np.radians(prime * np.cos(np.radians(lat))), np.radians(meridional)


def _segment_lengths(lat1, lat2, dlon):
    """Ellipsoidal lengths (m) of short segments, from the local radii of curvature at each
    segment's mid-latitude (angles in radians)."""
    mid = (lat1 + lat2) / 2
    w = 1 - _E2 * np.sin(mid) ** 2
    meridional = _A * (1 - _E2) / w**1.5
    prime = _A / np.sqrt(w)
    return np.hypot(meridional * (lat2 - lat1), prime * np.cos(mid) * dlon)


def length_km(geoms: np.ndarray, crs: pyproj.CRS) -> np.ndarray:
    """Length (km) of each (multi)line, measured as :func:`area_perimeter_km` measures rings."""
    geoms = np.asarray(geoms, dtype=object)
    if not crs.is_geographic:
        return shapely.length(geoms) * metres_per_unit(crs) / 1e3
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    coords, vertex_part = shapely.get_coordinates(parts, return_index=True)
    out = np.zeros(len(geoms))
    if len(coords) < 2:
        return out
    same = vertex_part[:-1] == vertex_part[1:]
    lon, lat = np.radians(coords[:, 0]), np.radians(coords[:, 1])
    dlon = ((lon[1:] - lon[:-1] + np.pi) % (2 * np.pi) - np.pi)[same]
    seg = _segment_lengths(lat[:-1][same], lat[1:][same], dlon)
    per_part = np.bincount(vertex_part[:-1][same], weights=seg, minlength=len(parts))
    return np.bincount(part_of, weights=per_part, minlength=len(geoms)) / 1e3


def metres_per_unit(crs: pyproj.CRS) -> float:
    """Metres per coordinate unit of a projected CRS."""
    return crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0


def polsby_popper(area_km2: np.ndarray, perimeter_km: np.ndarray) -> np.ndarray:
    """Polsby-Popper compactness 4πA/P² (1 = circle, near 0 = long or ragged shapes)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pp = 4 * np.pi * area_km2 / perimeter_km**2
    return np.where(perimeter_km > 0, pp, np.nan)


def polsby_popper_or_zero(area_km2: float, perimeter_km: float) -> float:
    """:func:`polsby_popper` of one shape, 0 (not NaN) when it has no perimeter.

    For the design search, which sums the scores of territories that can be empty for a move
    (a NaN would make every sum and comparison false) and calls it once per candidate move
    (a scalar, not an array).
    """
    return 4 * np.pi * area_km2 / (perimeter_km * perimeter_km) if perimeter_km > 0 else 0.0


def equal_area_crs(geoms: np.ndarray, crs: pyproj.CRS) -> pyproj.CRS:
    """A Lambert azimuthal equal-area CRS centred on the layer.

    The centre is the area-weighted mean of the shapes' centroids taken as unit vectors on the
    sphere, so a layer that crosses the antimeridian (the Aleutians, Fiji, Chukotka) is centred
    on its mass and not on the mean of its longitude bounds, which would fall on the far side
    of the globe.
    """
    geoms = np.asarray(geoms, dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    parts = shapely.get_parts(geoms)
    centroids = shapely.centroid(parts)
    x, y = shapely.get_x(centroids), shapely.get_y(centroids)
    if crs.is_geographic:
        lon, lat = x, y
        weight, _ = area_perimeter_km(parts, crs)
    else:
        weight = shapely.area(parts)
        to_lonlat = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
        lon, lat = to_lonlat.transform(x, y)
    lon, lat = np.radians(np.asarray(lon)), np.radians(np.asarray(lat))
    weight = np.where(np.isfinite(weight), weight, 0.0)
    if not len(lon) or weight.sum() <= 0:
        weight = np.ones(len(lon))
    vx = np.sum(weight * np.cos(lat) * np.cos(lon))
    vy = np.sum(weight * np.cos(lat) * np.sin(lon))
    vz = np.sum(weight * np.sin(lat))
    lon0 = float(np.degrees(np.arctan2(vy, vx))) if (vx or vy) else 0.0
    lat0 = float(np.degrees(np.arctan2(vz, np.hypot(vx, vy)))) if (vx or vy or vz) else 0.0
    return pyproj.CRS.from_proj4(
        f"+proj=laea +lat_0={lat0:.4f} +lon_0={lon0:.4f} +datum=WGS84 +units=m +no_defs"
    )


def dissolve(geoms: np.ndarray, keys, *, sort: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Merge the shapes that share a key: ``(keys, merged shapes)``, one per distinct key.

    Keys come out sorted (or in first-seen order with ``sort=False``). A group that is a clean
    coverage (blocks whose shared borders are identical) is merged with the fast coverage
    union, any other by a full union; empty shapes add nothing.
    """
    geoms = np.asarray(geoms, dtype=object)
    codes, uniques = pd.factorize(pd.Series(keys, dtype=object), sort=sort)
    order = np.argsort(codes, kind="stable")
    edges = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    merged = np.array(
        [_union(geoms[order[a:b]]) for a, b in zip(edges[:-1], edges[1:], strict=True)],
        dtype=object,
    )
    return np.asarray(uniques, dtype=object), merged


def _union(geoms: np.ndarray):
    shaped = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if len(shaped) == 0:
        return shapely.Polygon()
    if len(shaped) == 1:
        return shaped[0]
    if shapely.coverage_is_valid(shaped):
        return shapely.coverage_union_all(shaped)
    return shapely.union_all(shaped)
