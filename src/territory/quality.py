"""Plan quality measures: balance, inequality and shape.

Areas, perimeters and compactness come from :mod:`territory.geometry`, the one place both the
KPIs and the designer measure shapes.
"""

from __future__ import annotations

import numpy as np

from territory.geometry import area_perimeter_km, polsby_popper

__all__ = ["area_perimeter_km", "deviation", "gini", "polsby_popper"]


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
