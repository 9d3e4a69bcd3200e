"""Blocks too coarse for the tolerance band: a move that overshoots, then the balance search
passes the surplus on through the neighbours; kept only when the plan got better."""

from __future__ import annotations

import numpy as np

from territory.designer.solver.improve import balance
from territory.designer.solver.partition import Partition

KICKS = 8  # forced moves tried for the territory furthest out, lightest overshoot first
REPAIR_BUDGET = 2_000  # balance steps after each forced move


def settle(part: Partition, limit: float, rounds: int = 20) -> None:
    """Bring the territory furthest outside ``limit`` in where no single move, trade or chain
    can: one of its border blocks moves (or a neighbour's block joins it) although that
    overshoots the band, is held there, and the balance search (by disruption) settles the
    neighbours it upset. The plan is kept when its largest real deviation fell (else undone);
    repeated while that helps, up to ``rounds`` times."""
    for _ in range(rounds):
        dev = _real_dev(part)
        worst = int(np.argmax(np.abs(dev)))
        if abs(dev[worst]) <= limit or not _kick_any(part, worst, limit, np.abs(dev).max()):
            return


def _kick_any(part: Partition, t: int, limit: float, before: float) -> bool:
    locked = part.problem.locked
    for b, j in _kicks(part, t)[:KICKS]:
        if not part.can_leave(b):
            continue
        snapshot = part.owner_array.copy()
        part.move(b, j)
        locked[b] = j  # held where it went while the neighbours settle
        try:
            balance(part, limit, disruption=True, budget=REPAIR_BUDGET)
        finally:
            locked[b] = -1
        if np.abs(_real_dev(part)).max() < before - 1e-9:
            return True
        for c in np.flatnonzero(part.owner_array != snapshot).tolist():
            part.move(c, int(snapshot[c]))
    return False


def _kicks(part: Partition, t: int) -> list[tuple[int, int]]:
    """Forced moves for ``t``: its border blocks to a neighbour when it is heavy, the
    neighbours' blocks touching it when light; those leaving ``t`` least far off first."""
    lab, nbrs = part.owner, part.problem.graph.neighbours
    heavy = part.real_dev(t) > 0
    free = part.problem.locked < 0
    moves = set()
    for b in part.members[t]:
        for c in nbrs[b]:
            if lab[c] == t:
                continue
            if heavy and free[b] and part.allowed(b, lab[c]):
                moves.add((b, lab[c]))
            elif not heavy and free[c] and part.allowed(c, t):
                moves.add((c, t))
    sign = -1 if heavy else 1
    return sorted(moves, key=lambda m: (abs(part.real_dev(t, sign * part.block_weight[m[0]])), m))


def _real_dev(part: Partition) -> np.ndarray:
    return (part.real_load - part.problem.target) / part.real_target
