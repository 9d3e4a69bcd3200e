"""Plan quality measures: balance, inequality and shape, for the plan KPIs and the designer.

Areas, perimeters and compactness come from :mod:`territory.geometry`, the one place both the
KPIs and the designer measure shapes; balance and inequality are computed here for both.

Units in the outputs (both names are public and stay): the plan KPIs (``kpis.csv``,
``summary.json``) give ``deviation`` and ``max_deviation`` as fractions (0.1 = 10 % above the
mean territory); the designer's quality table and summary (``territory design`` /
``quality``) give ``deviation_pct`` and ``max_deviation_pct`` in percent (10.0 = 10 % above
the territory's balance target). Both come from :func:`deviation`.
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


def deviation(values, target=None) -> np.ndarray:
    """Relative deviation of each value from its target (0.1 = 10 % above it).

    ``target`` is one value per territory or a scalar; by default the mean of ``values``. A
    territory whose target is zero or not finite has deviation 0 (nothing to be off from).
    """
    v = np.asarray(values, dtype=float)
    if target is None:
        target = v.mean() if len(v) else np.nan
    t = np.broadcast_to(np.asarray(target, dtype=float), v.shape)
    ok = np.isfinite(t) & (t != 0)
    out = np.zeros_like(v)
    np.divide(v, t, out=out, where=ok)
    return np.where(ok, out - 1.0, 0.0)
