"""Why a territory misses its tolerance: a flag per measure naming the territories and the reason
for each, read off the alignment (its border blocks, their weights, the neighbours' room)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from territory.designer.blocks import BlockGraph


def tolerance_flags(
    graph: BlockGraph,
    labels: np.ndarray,
    quality: pd.DataFrame,
    measures: pd.DataFrame,
    balance: pd.Series,
    tolerance: float,
    tolerances: dict[str, float],
) -> list[str]:
    """One flag per measure with territories outside its tolerance: every one of them, the
    furthest first, each with its deviation and the reason."""
    checks = [(m, measures[m].to_numpy(float), f"{m}_deviation_pct", f"{m}_target", t)
              for m, t in tolerances.items()]  # fmt: skip
    if not tolerances:
        checks = [("balance", balance.to_numpy(float), "deviation_pct", "balance_target",
                   tolerance)]  # fmt: skip
    flags = []
    for name, weight, dev_col, target_col, tol in checks:
        dev = quality[dev_col].to_numpy(float) / 100
        over = np.flatnonzero(np.abs(dev) > tol + 1e-9)
        if not len(over):
            continue
        target = quality[target_col].to_numpy(float)
        room = np.abs(dev) <= tol
        context = (graph, labels, quality, weight, target, dev, tol, room)
        shown = "; ".join(
            f"{quality['territory_id'].iloc[t]} ({100 * dev[t]:+.1f}%: "
            f"{_why(*context, int(t), name, tolerances)})"
            for t in over[np.argsort(-np.abs(dev[over]))]
        )
        what = "the target balance" if name == "balance" else f"its {name} target"
        flags.append(
            f"{_territories(len(over))} outside ±{tol:.1%} of {what}: {shown}. Raise the "
            "tolerance, use smaller blocks, or unlock blocks."
        )
    return flags


def _territories(n: int) -> str:
    return "1 territory is" if n == 1 else f"{n} territories are"


def _why(graph, labels, quality, weight, target, dev, tol, room, t, name, tolerances) -> str:
    """Measures pulling apart in ``t`` first (the deeper cause), else what its border lacks."""
    return _conflict(graph, labels, quality, t, name, tolerances) or _reason(
        graph, labels, weight, target, dev, tol, room, t, tolerances
    )


def _conflict(graph, labels, quality, t: int, name: str, tolerances: dict[str, float]) -> str:
    """Why ``t`` cannot hold ``name`` and another measure each within its tolerance: the two
    measures' ratio in it is outside what both tolerances allow together (e.g. workload per
    account, where blocks are large), and whether its neighbours together are alike ('' if no
    measure pulls apart from ``name`` there)."""
    if name not in tolerances:
        return ""
    src, dst, _ = graph.edges()
    near = np.union1d(labels[dst[(labels[src] == t) & (labels[dst] != t)]], [t])
    tol = tolerances[name]
    for other, tol_o in tolerances.items():
        if other == name:
            continue
        lo, hi = (1 - tol) / (1 + tol_o), (1 + tol) / (1 - tol_o)
        ratio = _ratio(quality, name, other, [t])
        if lo <= ratio <= hi:
            continue
        if not np.isfinite(ratio):
            return (f"it holds {name} but no {other}, so ±{tol:.1%} / ±{tol_o:.1%} cannot "
                    "both hold")  # fmt: skip
        around = _ratio(quality, name, other, near)
        same_side = (around > hi) if ratio > hi else (around < lo)
        alike = (
            f"its neighbours with it are alike ({_times(around)})"
            if same_side
            else f"its neighbours with it are at {_times(around)}, so blocks from them could mix it"
        )
        return (
            f"its {name} per {other} is {_times(ratio)} its targets' and ±{tol:.1%} / "
            f"±{tol_o:.1%} on both allow {_times(lo)}-{_times(hi)}: the two measures pull apart "
            f"here; {alike}"
        )
    return ""


def _times(ratio: float) -> str:
    """A ratio with enough decimals that one outside a band never prints as its edge."""
    return f"{ratio:.3f}x" if np.isfinite(ratio) else "no"


def _ratio(quality: pd.DataFrame, name: str, other: str, rows) -> float:
    """``name`` per ``other`` of the territories ``rows`` together, relative to their targets
    (inf when they hold none of ``other``)."""
    q = quality.iloc[np.asarray(rows, dtype=int)]
    load = q[name].sum() / max(q[f"{name}_target"].sum(), 1e-12)
    other_load = q[other].sum() / max(q[f"{other}_target"].sum(), 1e-12)
    return float(load / other_load) if other_load > 0 else float("inf")


def _reason(graph, labels, weight, target, dev, tol, room, t, tolerances) -> str:
    """Why territory ``t`` is off: nothing to give or take on its border, border blocks too
    coarse for the tolerance band, or every fitting move pushes a neighbour (or another
    measure) out."""
    heavy = dev[t] > 0
    inside = labels == t
    src, dst, _ = graph.edges()
    border = (labels[src] != labels[dst]) & (inside[src] if heavy else inside[dst])
    movable = np.unique(src[border] if heavy else src[border & ~inside[src]])
    carrying = movable[weight[movable] > 0]
    if not len(carrying):
        return (
            "no block on its border carries any of it"
            if heavy
            else ("no neighbouring block carries any of it")
        )
    need = abs(dev[t]) - tol  # share of the target to move, at least
    band = 2 * tol  # the width of the tolerance band, as a share of the target
    lightest = weight[carrying].min() / max(target[t], 1e-12)
    if lightest > need + band:
        where = "it could give" if heavy else "next to it"
        return (
            f"its border blocks are too coarse: the lightest {where} "
            f"is {lightest:.1%} of the target, more than the ±{tol:.1%} band allows"
        )
    neighbours = np.unique(labels[dst[border]] if heavy else labels[src[border]])
    neighbours = neighbours[neighbours != t]
    if not room[neighbours].any():
        return "every neighbouring territory is itself outside the tolerance"
    other = " or another measure" if len(tolerances) > 1 else ""
    return (
        f"each fitting border move would push a neighbour{other} outside its tolerance or split "
        "a territory"
    )
