"""Plan quality measures: balance, inequality and shape.

Areas and perimeters are geodesic (on the WGS84 ellipsoid) for geographic layers and planar for
projected ones, so they never compare degrees with metres.
"""

from __future__ import annotations

import numpy as np
import pyproj
import shapely

_GEOD = pyproj.Geod(ellps="WGS84")


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


def area_perimeter_km(geoms: np.ndarray, crs: pyproj.CRS) -> tuple[np.ndarray, np.ndarray]:
    """Area (km²) and perimeter (km) of each geometry.

    Geodesic for geographic CRSs; planar in the CRS's linear unit (converted to km) otherwise.
    """
    if crs.is_geographic:
        out = np.array(
            [_GEOD.geometry_area_perimeter(g) if g is not None else (0.0, 0.0) for g in geoms]
        )
        return np.abs(out[:, 0]) / 1e6, out[:, 1] / 1e3
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return (
        shapely.area(geoms) * unit**2 / 1e6,
        shapely.length(geoms) * unit / 1e3,
    )


def polsby_popper(area_km2: np.ndarray, perimeter_km: np.ndarray) -> np.ndarray:
    """Polsby-Popper compactness 4πA/P² (1 = circle, near 0 = long or ragged shapes)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pp = 4 * np.pi * area_km2 / perimeter_km**2
    return np.where(perimeter_km > 0, pp, np.nan)
