"""The search problem: blocks, weights, targets, seeds, locks and reach; targets when single
blocks outweigh a territory."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from territory.designer.blocks import BlockGraph


@dataclass
class Problem:
    """One design problem on a connected block graph.

    ``weight`` is the balancing measure per block; ``target`` the wanted load per territory
    (sums to the total weight). ``seeds[t]`` lists seed blocks of territory ``t`` (empty = the
    designer picks), ``locked[b]`` the territory block ``b`` must stay in (-1 = free),
    ``allowed`` an optional (blocks x territories) mask (maximum distance from home).
    ``cost`` is the disruption of moving a block away from ``start`` (rebalance mode).
    """

    graph: BlockGraph
    weight: np.ndarray
    target: np.ndarray
    tolerance: float
    seeds: list[list[int]]
    locked: np.ndarray
    allowed: np.ndarray | None = None
    start: np.ndarray | None = None
    cost: np.ndarray | None = None
    movable: np.ndarray | None = None  # blocks compactness moves may touch (None = all)
    # compactness moves raise the sum of log(Polsby-Popper) rather than its sum (the minimum
    # rises first); fresh single-measure designs use it
    log_compactness: bool = False
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    @property
    def k(self) -> int:
        return len(self.target)

    @property
    def cost_floor(self) -> float:
        if self.cost is None or not (self.cost > 0).any():
            return 1e-3
        return float(np.median(self.cost[self.cost > 0]))


def effective_targets(
    weight: np.ndarray, target: np.ndarray, tolerance: float, labels: np.ndarray
) -> np.ndarray:
    """Targets when some blocks alone outweigh what a territory may hold.

    A territory holding such blocks aims at their weight (it cannot be lighter); the other
    territories share the rest in proportion to their targets, so they are balanced with each
    other. Repeated while the lower shared targets make more blocks too heavy.
    """
    w, base, tol, k = weight, np.asarray(target, dtype=float), tolerance, len(target)
    target = base.copy()
    fixed = np.zeros(k, dtype=bool)
    while True:
        over = np.flatnonzero((w > target[labels] * (1 + tol)) & ~fixed[labels])
        if not len(over):
            return target
        own = np.bincount(labels[over], weights=w[over], minlength=k)
        target[own > 0] = own[own > 0]
        fixed |= own > 0
        if fixed.all():
            return target
        rest = max(w.sum() - target[fixed].sum(), 0.0)
        target[~fixed] = base[~fixed] * rest / max(base[~fixed].sum(), 1e-12)


def with_heavy_blocks(problem: Problem, labels: np.ndarray) -> Problem:
    """The problem with effective targets, and blocks too heavy for a territory locked where
    they are (moving them only moves the imbalance)."""
    target = effective_targets(problem.weight, problem.target, problem.tolerance, labels)
    if np.allclose(target, problem.target):
        return problem
    raised = target > problem.target
    share = target[~raised].min() if (~raised).any() else np.inf
    heavy = raised[labels] & (problem.weight > share * (1 + problem.tolerance))
    locked = problem.locked.copy()
    locked[heavy & (locked < 0)] = labels[heavy & (locked < 0)]
    return replace(problem, target=target, locked=locked)


def bisect_recursively(problem: Problem, split) -> np.ndarray:
    """A part (territory position) per block, by cutting the blocks in two again and again down
    to one part per territory. ``split(members, first, parts, left, share)`` cuts the blocks
    ``members`` of territories ``first .. first + parts - 1`` into those of the first ``left``
    territories and those of the others (two arrays), ``share`` being the first side's share of
    their targets."""
    labels = np.zeros(len(problem.graph), dtype=np.int64)
    stack = [(np.arange(len(problem.graph)), 0, problem.k)]
    while stack:
        members, first, parts = stack.pop()
        if parts == 1 or len(members) <= 1:
            labels[members] = first
            continue
        left = parts // 2
        targets = problem.target[first : first + parts]
        share = float(targets[:left].sum() / max(targets.sum(), 1e-12))
        low, high = split(members, first, parts, left, share)
        stack.append((low, first, left))
        stack.append((high, first + left, parts - left))
    return labels
