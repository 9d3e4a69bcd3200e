"""Colours of territory maps: sequential and diverging KPI scales, categories, the status
palette and identity colours in which no two neighbours share a colour."""

from __future__ import annotations

import branca.colormap as cm
import numpy as np
import pandas as pd
import shapely

from territory.formatting import NO_DATA, STATUS_COLOURS, cell

# Ratios drawn on a diverging scale centred at 100 % (attainment of the plan's target; tracked
# actuals against the sales expected by the as-of date).
DIVERGING = {"attainment", "attainment_vs_pace"}


def sequential(values: pd.Series, kpi: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Colours for a KPI on a sequential (or, for attainment, diverging) scale, plus legend."""
    finite = values[np.isfinite(values)]
    if finite.empty:
        return [NO_DATA] * len(values), [(NO_DATA, "no data")]
    if kpi in DIVERGING:
        lo, hi = min(finite.min(), 0.5), max(finite.max(), 1.5)
        scale = cm.LinearColormap(["#b2182b", "#f7f7f7", "#2166ac"], index=[lo, 1.0, hi])
    else:
        lo, hi = float(finite.min()), float(finite.max())
        hi = hi if hi > lo else lo + 1
        scale = cm.linear.YlGnBu_09.scale(lo, hi)
    colours = [scale(v) if np.isfinite(v) else NO_DATA for v in values]
    edges = np.linspace(lo, hi, 6)
    if kpi in DIVERGING:  # 100% is the step that matters: always one, none crowding it
        edges = np.union1d(edges[np.abs(edges - 1.0) > (hi - lo) / 20], [1.0])
    steps = [(scale(v), cell(kpi, v)) for v in edges[::-1]]
    if len(finite) < len(values):
        steps.append((NO_DATA, "no data"))
    return colours, steps


STATUS = STATUS_COLOURS  # the one status palette (also the dashboard's)
CATEGORIES = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
              "#666666"]  # fmt: skip


# Qualitative colours (ColorBrewer Set3 and Paired), light enough for labels to stay readable.
IDENTITY = ["#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69",
            "#fccde5", "#d9d9d9", "#bc80bd", "#ccebc5", "#ffed6f"]  # fmt: skip


def neighbour_colours(geoms: np.ndarray) -> np.ndarray:
    """A colour index per shape such that no two touching shapes share one.

    Greedy colouring, largest number of neighbours first (planar maps need few colours; the
    12 of :data:`IDENTITY` are plenty for territory maps and raise if ever exceeded).
    """
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left != right
    neighbours = [[] for _ in range(len(geoms))]
    for a, b in zip(left[keep], right[keep], strict=True):
        neighbours[a].append(b)
    colour = np.full(len(geoms), -1)
    for i in sorted(range(len(geoms)), key=lambda i: -len(neighbours[i])):
        used = {colour[j] for j in neighbours[i]}
        colour[i] = next(c for c in range(len(geoms) + 1) if c not in used)
    if colour.max(initial=0) >= len(IDENTITY):
        raise ValueError("territory identity colouring needs more colours than the palette has")
    return colour


def categorical(values: pd.Series) -> tuple[list[str], list[tuple[str, str]]]:
    """Colours for a categorical KPI (on-track status gets its traffic-light colours)."""
    labels = [str(v) for v in values.fillna("no data")]
    order = (
        [k for k in STATUS if k in labels] if set(labels) <= set(STATUS) else sorted(set(labels))
    )
    palette = STATUS if set(labels) <= set(STATUS) else {
        k: CATEGORIES[i % len(CATEGORIES)] for i, k in enumerate(order)
    }  # fmt: skip
    return [palette.get(v, NO_DATA) for v in labels], [(palette[k], k) for k in order]
