"""Plan quality measures: balance, inequality and shape.

Areas and perimeters are geodesic (on the WGS84 ellipsoid) for geographic layers and planar for
projected ones, so they never compare degrees with metres.
"""

from __future__ import annotations

import numpy as np
import pyproj
import shapely


def gini(values) -> float:
    """Gini coefficient of non-negative values (0 = all equal, 1 = one holds everything)."""
    v = np.sort(np.asarray(values, dtype=float))
    v = v[np.isfinite(v)]
    if len(v) == 0 or v.sum() <= 0:
        return 0.0
    v = np.clip(v, 0, None)
    n = len(v)
    ranks = np.arange(1, n + 1)
    return float((2 * np.sum(ranks * v) / (n * v.sum())) - (n + 1) / n)


def deviation(values) -> np.ndarray:
    """Relative deviation of each value from the mean (0.1 = 10 % above the mean)."""
    v = np.asarray(values, dtype=float)
    mean = v.mean() if len(v) else np.nan
    if not np.isfinite(mean) or mean == 0:
        return np.zeros_like(v)
    return v / mean - 1.0


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
        unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
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
    # perimeter: local radii of curvature at each segment's mid-latitude
    mid = (lat1 + lat2) / 2
    w = 1 - _E2 * np.sin(mid) ** 2
    meridional = _A * (1 - _E2) / w**1.5
    prime = _A / np.sqrt(w)
    seg_len = np.hypot(meridional * (lat2 - lat1), prime * np.cos(mid) * dlon)
    part_perim = np.bincount(ring_of, weights=np.bincount(seg_ring, weights=seg_len,
                                                          minlength=len(rings)),
                             minlength=len(parts))  # fmt: skip
    area += np.bincount(part_of, weights=part_area, minlength=len(geoms))
    perim += np.bincount(part_of, weights=part_perim, minlength=len(geoms))
    return area / 1e6, perim / 1e3


def polsby_popper(area_km2: np.ndarray, perimeter_km: np.ndarray) -> np.ndarray:
    """Polsby-Popper compactness 4πA/P² (1 = circle, near 0 = long or ragged shapes)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pp = 4 * np.pi * area_km2 / perimeter_km**2
    return np.where(perimeter_km > 0, pp, np.nan)
