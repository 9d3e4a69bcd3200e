"""A partition of the blocks into territories, updated move by move with running sums."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from territory.designer.solver.problem import Problem
from territory.geometry import polsby_popper_or_zero


class Partition:
    """Mutable assignment of blocks to territories with running sums for fast move checks.

    Per block: ``owner`` (its territory, a list for fast single reads) and ``owner_array`` (the
    same as an array, for vector work); ``block_weight`` (the balance measure) and
    ``block_load`` (the measure plus a small extra, what the search balances). Per territory:
    ``load`` and ``load_target`` (with the extra), ``real_load`` and ``real_target`` (without:
    what the tolerance is checked against), ``area``, ``perim`` (perimeter), ``size`` (blocks)
    and ``members`` (the set of its blocks). ``problem`` is the :class:`Problem` searched.
    """

    def __init__(self, problem: Problem, labels: np.ndarray):
        self.problem = problem
        g = problem.graph
        self.owner = [int(v) for v in labels]
        self.owner_array = np.asarray(labels, dtype=np.int64).copy()  # the same, as an array
        self.src, self.dst, _ = g.edges()
        k = problem.k
        # Every block weighs a little (0.1 % of the mean block): blocks without accounts can then
        # move towards lighter territories and uncover the weighted blocks behind them.
        weight = problem.weight + 1e-3 * max(problem.weight.mean(), 1e-12)
        self.load = np.bincount(labels, weights=weight, minlength=k).astype(float)
        self.area = np.bincount(labels, weights=g.area, minlength=k).astype(float)
        self.size = np.bincount(labels, minlength=k)
        self.members: list[set[int]] = [set() for _ in range(k)]
        for b, t in enumerate(self.owner):
            self.members[t].add(b)
        inner = g.inner_edge(np.asarray(labels), k)
        self.perim = np.bincount(labels, weights=g.perimeter, minlength=k) - 2 * inner
        self.block_load = weight.tolist()
        # A territory aims at its target scaled up by the extra; one whose target is nil (all
        # of the measure sits in a few heavy blocks elsewhere) aims at an equal share of the
        # extra, so the blocks without measure are spread over such territories
        extra = weight.sum() - problem.weight.sum()
        self.load_target = np.where(
            problem.target > 0,
            problem.target * (weight.sum() / max(problem.weight.sum(), 1e-12)),
            extra / k,
        )
        # the real loads, without the extra: what the tolerance is checked against
        self.block_weight = problem.weight.tolist()
        self.real_load = np.bincount(labels, weights=problem.weight, minlength=k).astype(float)
        self.real_target = np.maximum(problem.target, 1e-12)

    # ---- measures ------------------------------------------------------------------------
    def dev(self, t=None):
        return (
            (self.load / self.load_target - 1)
            if t is None
            else self.load[t] / self.load_target[t] - 1
        )

    def real_dev(self, t: int, change: float = 0.0) -> float:
        """Deviation of territory ``t`` by the real measure, after adding ``change``."""
        return (self.real_load[t] + change - self.problem.target[t]) / self.real_target[t]

    def max_dev(self) -> float:
        return float(np.max(np.abs(self.dev())))

    def labels(self) -> np.ndarray:
        return np.asarray(self.owner)

    # ---- moves ---------------------------------------------------------------------------
    def shared_with(self, b: int, t: int) -> float:
        g = self.problem.graph
        lab = self.owner
        return sum(s for j, s in zip(g.neighbours[b], g.shared[b], strict=True) if lab[j] == t)

    def can_leave(self, b: int) -> bool:
        """``b`` may leave its territory: not locked, not the last block, not a cut block."""
        if self.problem.locked[b] >= 0:
            return False
        i = self.owner[b]
        if self.size[i] <= 1:
            return False
        lab = self.owner
        inside = [j for j in self.problem.graph.neighbours[b] if lab[j] == i]
        if len(inside) <= 1:
            return len(inside) == 1
        # breadth-first search from one neighbour inside, avoiding b, until all are reached
        wanted = set(inside[1:])
        seen = {b, inside[0]}
        queue = deque([inside[0]])
        nbrs = self.problem.graph.neighbours
        while queue:
            u = queue.popleft()
            for v in nbrs[u]:
                if v not in seen and lab[v] == i:
                    if v in wanted:
                        wanted.discard(v)
                        if not wanted:
                            return True
                    seen.add(v)
                    queue.append(v)
        return False

    def allowed(self, b: int, t: int) -> bool:
        return self.problem.allowed is None or bool(self.problem.allowed[b, t])

    def move(self, b: int, j: int) -> None:
        i = self.owner[b]
        g = self.problem.graph
        si, sj = self.shared_with(b, i), self.shared_with(b, j)
        wb = self.block_load[b]
        self.load[i] -= wb
        self.load[j] += wb
        self.real_load[i] -= self.block_weight[b]
        self.real_load[j] += self.block_weight[b]
        self.area[i] -= g.area[b]
        self.area[j] += g.area[b]
        self.perim[i] += 2 * si - g.perimeter[b]
        self.perim[j] += g.perimeter[b] - 2 * sj
        self.size[i] -= 1
        self.size[j] += 1
        self.members[i].discard(b)
        self.members[j].add(b)
        self.owner[b] = j
        self.owner_array[b] = j

    def pp_gain(self, b: int, j: int) -> float:
        """Change in the compactness score of both territories if ``b`` moves to ``j``: the
        sum of Polsby-Popper scores, or with ``problem.log_compactness`` of
        ``log(PP + PP_SHIFT)``, where a gain for the least compact territory counts more than
        the same gain for a compact one (raising the minimum)."""
        i = self.owner[b]
        g = self.problem.graph
        score = _log_score if self.problem.log_compactness else polsby_popper_or_zero
        si, sj = self.shared_with(b, i), self.shared_with(b, j)
        before = score(self.area[i], self.perim[i]) + score(self.area[j], self.perim[j])
        after = score(self.area[i] - g.area[b], self.perim[i] + 2 * si - g.perimeter[b])
        after += score(self.area[j] + g.area[b], self.perim[j] + g.perimeter[b] - 2 * sj)
        return after - before

    def polsby_popper(self, t: int) -> float:
        """Polsby-Popper compactness of territory ``t`` (0 when it has no perimeter)."""
        return polsby_popper_or_zero(self.area[t], self.perim[t])

    def pp_after(self, b: int, j: int) -> tuple[float, float]:
        """Polsby-Popper compactness of ``b``'s territory and of ``j`` if ``b`` moved to ``j``."""
        i, g = self.owner[b], self.problem.graph
        si, sj = self.shared_with(b, i), self.shared_with(b, j)
        return (
            polsby_popper_or_zero(
                self.area[i] - g.area[b], self.perim[i] + 2 * si - g.perimeter[b]
            ),
            polsby_popper_or_zero(
                self.area[j] + g.area[b], self.perim[j] + g.perimeter[b] - 2 * sj
            ),
        )

    def boundary_targets(self, b: int) -> set[int]:
        lab = self.owner
        i = lab[b]
        return {lab[j] for j in self.problem.graph.neighbours[b] if lab[j] != i}

    def movable(self, b: int) -> bool:
        """``b`` is free for moves that do not balance: not locked, and among the blocks
        ``problem.movable`` allows (all when it is None)."""
        p = self.problem
        return p.locked[b] < 0 and (p.movable is None or bool(p.movable[b]))

    def territory_adjacency(self) -> list[set[int]]:
        """The territories each territory borders."""
        a, b = self.owner_array[self.src], self.owner_array[self.dst]
        cross = a != b
        pairs = np.unique(a[cross] * self.problem.k + b[cross])
        adj = [set() for _ in range(self.problem.k)]
        for u, v in zip(
            (pairs // self.problem.k).tolist(), (pairs % self.problem.k).tolist(), strict=True
        ):
            adj[u].add(v)
        return adj


PP_SHIFT = 0.05  # keeps the compactness score finite for shapes of no area


def _log_score(area: float, perimeter: float) -> float:
    return math.log(polsby_popper_or_zero(area, perimeter) + PP_SHIFT)
