"""Quality of a block alignment, designed or imported: balance, compactness, contiguity, disruption.

Areas and perimeters come from the block graph (measured by :mod:`territory.geometry`, as the
KPIs measure territories): a territory's area is the sum of its blocks' areas and its perimeter
the sum of their perimeters less twice the edges they share, so for a clean coverage
Polsby-Popper compactness equals that of the dissolved territory in the plan's KPIs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from territory.designer.blocks import BlockGraph
from territory.designer.solver import components, effective_targets
from territory.geometry import polsby_popper
from territory.quality import deviation, gini


def territory_shapes(graph: BlockGraph, labels: np.ndarray, k: int) -> pd.DataFrame:
    """Area (km²), perimeter (km), Polsby-Popper and number of connected parts per territory."""
    area = np.bincount(labels, weights=graph.area, minlength=k)
    perim = np.bincount(labels, weights=graph.perimeter, minlength=k)
    perim -= 2 * graph.inner_edge(labels, k)
    pp = polsby_popper(area, perim)
    parts = [len(components(graph, labels, t)) for t in range(k)]
    return pd.DataFrame(
        {"area_km2": area, "perimeter_km": perim, "polsby_popper": pp, "parts": parts}
    )


def plan_quality(
    graph: BlockGraph,
    labels: np.ndarray,
    names: list[str],
    measures: pd.DataFrame,
    balance: pd.Series,
    *,
    tolerance: float | None = None,
    tolerances: dict[str, float] | None = None,
    parents: list | None = None,
    baseline: np.ndarray | None = None,
    runtime_s: float | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Per-territory quality table and plan summary.

    ``labels`` gives each block's territory position (into ``names``), ``measures`` the block
    measures (``accounts``, ``revenue`` ...) and ``balance`` the balancing value per block.
    ``baseline`` (territory positions of an earlier alignment, -1 = none) adds disruption:
    accounts, revenue and blocks that changed territory.

    Targets are the even share, raised for territories holding blocks that alone outweigh what
    a territory may hold at ``tolerance`` (the others then share the rest; see
    :func:`~territory.designer.solver.effective_targets`), exactly as the designer aims: the
    one computation ``design``, ``rebalance``, ``quality`` and ``compare`` report.
    ``tolerances`` (several measures, each with its own tolerance) adds per measure
    ``<m>_target`` and ``<m>_deviation_pct`` columns and ``<m>_max_deviation_pct``,
    ``<m>_gini``, ``<m>_tolerance_pct`` figures; ``max_deviation_pct`` is then the largest.
    """
    k = len(names)
    table = pd.DataFrame({"territory_id": names})
    if parents is not None:
        table["parent"] = parents
    table["blocks"] = np.bincount(labels, minlength=k)
    for m in measures.columns:
        table[m] = np.bincount(labels, weights=measures[m].to_numpy(float), minlength=k)
    load = np.bincount(labels, weights=balance.to_numpy(float), minlength=k)
    table["balance"] = load
    target = _targets(balance.to_numpy(float), labels, k, tolerance)
    table["balance_target"] = target
    dev = deviation(load, target)  # a fraction; reported in percent (deviation_pct)
    table["deviation_pct"] = 100 * dev
    worst = float(np.max(np.abs(dev)) * 100) if k else 0.0
    figures = _by_measure(table, measures, labels, tolerances or {})
    if tolerances:
        worst = max(figures[f"{m}_max_deviation_pct"] for m in tolerances)
    shapes = territory_shapes(graph, labels, k)
    table = pd.concat([table, shapes], axis=1)
    table["contiguous"] = shapes["parts"] <= 1
    summary = {
        "territories": k,
        "blocks": len(graph),
        "max_deviation_pct": worst,
        "gini": gini(load),
        "raised_targets": int((target > load.sum() / max(k, 1) * (1 + 1e-9)).sum()),
        **figures,
        "polsby_popper_mean": float(np.nanmean(shapes["polsby_popper"])),
        "polsby_popper_min": float(np.nanmin(shapes["polsby_popper"])),
        "contiguous": bool(table["contiguous"].all()),
        "not_contiguous": table.loc[~table["contiguous"], "territory_id"].tolist(),
        "bridges": len(graph.bridges),
    }
    if baseline is not None:
        _disruption(table, summary, labels, baseline, measures, k)
    if tolerance is not None:
        summary["tolerance_pct"] = 100 * tolerance
    if runtime_s is not None:
        summary["runtime_s"] = round(runtime_s, 3)
    return table, summary


def _targets(weight: np.ndarray, labels: np.ndarray, k: int, tolerance: float | None):
    """Each territory's target for ``weight``: the even share, raised where blocks alone
    outweigh what a territory may hold at ``tolerance`` (None: the even share)."""
    even = np.full(k, weight.sum() / k if k else 0.0)
    if tolerance is None:
        return even
    return effective_targets(weight, even, tolerance, labels)


def _by_measure(table, measures, labels, tolerances: dict[str, float]) -> dict:
    """Per balanced measure: target and deviation columns (added to ``table``), and the
    measure's max deviation, Gini and tolerance."""
    k = len(table)
    figures = {}
    for m, tol in tolerances.items():
        v = measures[m].to_numpy(float)
        m_load = table[m].to_numpy(float)
        target = _targets(v, labels, k, tol)
        m_dev = deviation(m_load, target)
        table[f"{m}_target"] = target
        table[f"{m}_deviation_pct"] = 100 * m_dev
        figures[f"{m}_max_deviation_pct"] = float(np.max(np.abs(m_dev)) * 100) if k else 0.0
        figures[f"{m}_gini"] = gini(m_load)
        figures[f"{m}_tolerance_pct"] = 100 * tol
    return figures


def _disruption(table, summary, labels, baseline, measures, k) -> None:
    """Blocks and measures that came in and went out of each territory against ``baseline``."""
    # -1: no territory in the baseline; -2: a baseline territory this plan does not have
    moved = (baseline != labels) & (baseline != -1)
    out = moved & (baseline >= 0)
    table["blocks_in"] = np.bincount(labels[moved], minlength=k)
    table["blocks_out"] = np.bincount(baseline[out], minlength=k)
    summary["blocks_moved"] = int(moved.sum())
    for m in measures.columns:
        v = measures[m].to_numpy(float)
        table[f"{m}_in"] = np.bincount(labels[moved], weights=v[moved], minlength=k)
        table[f"{m}_out"] = np.bincount(baseline[out], weights=v[out], minlength=k)
        summary[f"{m}_moved"] = float(v[moved].sum())
        total = v.sum()
        summary[f"{m}_moved_pct"] = float(100 * v[moved].sum() / total) if total else 0.0
