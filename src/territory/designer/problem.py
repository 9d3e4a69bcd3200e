"""From a request and its inputs to the design problem: how many territories, their names,
locked blocks, rep homes as seeds, reach from home, and the even target."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from territory.designer.blocks import BlockGraph
from territory.designer.inputs import Inputs, reach, read_homes, read_locked
from territory.designer.request import DesignRequest
from territory.errors import ValidationError


@dataclass
class DesignProblem:
    """What the strategies solve, with block positions in the order of ``graph.ids``.

    ``names[t]``: the id of territory ``t``; ``start``: the current territory of each block as a
    position in ``current_names`` (NaN where the current alignment has none), None without a
    current alignment; ``locked[b]``: the territory block ``b`` must stay in (-1 = free);
    ``seeds[t]``: the home block of territory ``t`` (empty without homes); ``allowed``: the
    (blocks x territories) reach mask, None without a maximum distance; ``target``: the even
    share of the balance measure per territory; ``flags``: requests already known to be unmet.
    """

    graph: BlockGraph
    weight: np.ndarray
    k: int
    names: list[str]
    target: np.ndarray
    locked: np.ndarray
    seeds: list[list[int]]
    allowed: np.ndarray | None = None
    start: np.ndarray | None = None
    current_names: list | None = None
    home_rows: pd.DataFrame | None = None
    lock_table: pd.DataFrame | None = None
    flags: list[str] = field(default_factory=list)


def frame_problem(
    request: DesignRequest, inputs: Inputs, align: pd.DataFrame | None
) -> DesignProblem:
    """Resolve ``k`` and the names, read locked blocks and homes, and flag heavy blocks."""
    graph, weight = inputs.graph, inputs.weight.to_numpy(float)
    pos = pd.Series(np.arange(len(graph)), index=graph.ids)
    flags: list[str] = []
    start, current_names = _current_start(align, graph)
    homes = read_homes(request.homes, inputs.polygons, pos) if request.homes is not None else None
    k, names = _count(request, current_names, homes, len(graph))
    lock_table = read_locked(request.locked, pos) if request.locked is not None else None
    if names is None:
        names = _generated_names(k, lock_table)
    locked = _locked_blocks(names, lock_table, request.locked_territories, start, len(graph))
    seeds = _home_seeds(graph, names, homes, locked, k)
    allowed = None
    if request.max_distance_km is not None:
        if homes is None:
            raise ValidationError("A maximum distance from home needs rep homes (--homes FILE).")
        allowed = reach(graph, homes, request.max_distance_km, names, flags)
    target = np.full(k, weight.sum() / k)
    flags.extend(_heavy_block_flags(graph, weight, target[0], request.tolerance))
    return DesignProblem(
        graph, weight, k, names, target, locked, seeds, allowed, start, current_names, homes,
        lock_table, flags,
    )  # fmt: skip


def _current_start(align: pd.DataFrame | None, graph: BlockGraph):
    """The current territory of each block (position in the current names) and those names."""
    if align is None:
        return None, None
    aligned = align.dropna(subset=["territory_id"])
    names = list(pd.unique(aligned["territory_id"]))
    start = pd.Series(aligned["territory_id"].to_numpy(), index=aligned["block_id"])
    start = pd.Series(range(len(names)), index=names).reindex(start.reindex(graph.ids)).to_numpy()
    return start, names


def _count(request: DesignRequest, current_names, homes, n: int) -> tuple[int, list | None]:
    """The number of territories and, when the request fixes them, their names: a rebalance
    keeps the current territories, homes make one territory each, else ``k`` is asked for."""
    k = request.k
    if request.rebalance:
        if k is not None and k != len(current_names):
            raise ValidationError(
                f"-k {k} differs from the {len(current_names)} territories of the current "
                "alignment; rebalancing keeps the territories (drop -k)."
            )
        k, names = len(current_names), current_names
    elif homes is not None:
        if k is not None and k != len(homes):
            raise ValidationError(
                f"-k {k} differs from the {len(homes)} rep homes given; each home makes "
                "one territory (drop -k)."
            )
        k, names = len(homes), homes["territory_id"].tolist()
    else:
        if k is None:
            raise ValidationError(
                "Say how many territories to build: -k N (k= in Python), or give rep homes."
            )
        names = None
    if k < 1:
        raise ValidationError(f"k must be 1 or more, not {k}.")
    if k > n:
        raise ValidationError(
            f"k = {k} territories cannot be built from {n} blocks: each territory needs at least "
            f"one block. Lower k, or use smaller blocks (e.g. ZIP areas instead of counties)."
        )
    return k, names


def _generated_names(k: int, lock_table: pd.DataFrame | None) -> list[str]:
    """The territories the locked blocks name, then T1, T2 ... (zero-padded to k's width)."""
    fixed = list(pd.unique(lock_table["territory_id"])) if lock_table is not None else []
    if len(fixed) > k:
        raise ValidationError(f"The locked blocks name {len(fixed)} territories but k is {k}.")
    width = len(str(k))
    generated = (f"T{i:0{width}d}" for i in range(1, 10 * k + 1))
    return fixed + [g for g in generated if g not in set(fixed)][: k - len(fixed)]


def _locked_blocks(names, lock_table, locked_territories, start, n: int) -> np.ndarray:
    """Territory position each block is locked to (-1 = free): locked blocks, then every block
    of a locked current territory."""
    index_of = {t: i for i, t in enumerate(names)}
    locked = np.full(n, -1)
    if lock_table is not None:
        unknown = sorted(set(lock_table["territory_id"]) - set(index_of))
        if unknown:
            raise ValidationError(
                f"Locked blocks name territories that are not in the plan: {unknown[:5]}. Use "
                "the territory ids of the homes or current alignment."
            )
        locked[lock_table["pos"].to_numpy()] = [index_of[t] for t in lock_table["territory_id"]]
    for t in locked_territories:
        if start is None or t not in index_of:
            raise ValidationError(
                f"Locked territory '{t}' is not in the current alignment (give --current with it)."
            )
        locked[start == index_of[t]] = index_of[t]
    return locked


def _home_seeds(graph, names, homes, locked: np.ndarray, k: int) -> list[list[int]]:
    """Each territory's home block as its seed, locked to it (``locked`` is updated)."""
    seeds: list[list[int]] = [[] for _ in range(k)]
    if homes is None:
        return seeds
    index_of = {t: i for i, t in enumerate(names)}
    for t, b in zip(homes["territory_id"], homes["pos"], strict=True):
        if locked[b] >= 0 and locked[b] != index_of[t]:
            raise ValidationError(
                f"The home block of '{t}' ({graph.ids[b]}) is locked to '{names[locked[b]]}'."
            )
        seeds[index_of[t]] = [int(b)]
        locked[b] = index_of[t]
    return seeds


def _heavy_block_flags(graph, weight: np.ndarray, even: float, tolerance: float) -> list[str]:
    """A flag for blocks that alone weigh more than a territory may."""
    heavy = np.flatnonzero(weight > even * (1 + tolerance))
    if not len(heavy):
        return []
    shown = ", ".join(f"{graph.ids[b]} ({weight[b] / even:.2f}x)" for b in heavy[:5])
    return [
        f"{len(heavy)} block(s) alone weigh more than a territory may ({shown} of the "
        f"even target): the territories holding them aim at the blocks' own weight and the "
        "others are balanced on the rest (balance_target in the quality table). Use smaller "
        "blocks there or lower k for an even split."
    ]
