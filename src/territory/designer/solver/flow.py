"""Rebalance by planned border flows: a linear programme for the load each border carries, then
blocks peeled along those borders."""

from __future__ import annotations

from collections import deque

import numpy as np
from scipy import sparse

from territory.designer.solver.partition import Partition


def flow(part: Partition, limit: float, rounds: int = 5) -> None:
    """Rebalance by the least load moved across borders: plan, then peel.

    A linear programme over the territory adjacency finds how much load must cross each
    border so every territory ends within ``limit`` while the total crossing is least (load is
    passed on along chains of territories where the heavy and light ones do not touch). Each
    planned crossing is then made by peeling blocks off the giving territory along that border,
    best-enclosed blocks first, until about the planned load has crossed; borders are taken in
    the order of the flow, so a territory receives before it passes load on. Where a border
    cannot carry its share (blocks too heavy, or holding the territory together), the plan is
    made again from the loads reached, up to ``rounds`` times.
    """
    for _ in range(rounds):
        if part.max_dev() <= limit:
            return
        planned = _plan_flows(part, limit)
        if not planned:
            return
        before = part.owner_array.copy()
        for u, v in _flow_order(planned, part.problem.k):
            # never below the limit: if a planned receipt failed, pass on only what came in
            room = part.load[u] - part.load_target[u] * (1 - limit)
            _peel(part, u, v, min(planned[u, v], room))
        if (part.owner_array == before).all():
            return


def _plan_flows(part: Partition, limit: float) -> dict[tuple[int, int], float]:
    """Load to move across each border (giver, taker) so all are within ``limit``: least total."""
    from scipy.optimize import linprog

    k = part.problem.k
    free = np.zeros(k, dtype=bool)
    free[part.owner_array[part.problem.locked < 0]] = True
    pairs = [(u, v) for u, near in enumerate(part.territory_adjacency()) for v in near if free[u]]
    if not pairs:
        return {}
    n = len(pairs)
    givers, takers = [u for u, _ in pairs], [v for _, v in pairs]
    # out - in = load now - load after, with the load after within the limit of the target
    net = sparse.csr_matrix(
        (np.r_[np.ones(n), -np.ones(n)], (givers + takers, np.r_[np.arange(n), np.arange(n)])),
        shape=(k, n),
    )
    res = linprog(
        np.ones(n),
        A_ub=sparse.vstack([net, -net]),
        b_ub=np.r_[
            part.load - part.load_target * (1 - limit), part.load_target * (1 + limit) - part.load
        ],
        bounds=(0, None),
        method="highs",
    )
    if res.status != 0:
        return {}
    return {pair: amount for pair, amount in zip(pairs, res.x, strict=True) if amount > 1e-9}


def _flow_order(planned: dict[tuple[int, int], float], k: int) -> list[tuple[int, int]]:
    """Borders in the order of the flow: a territory's incoming borders before its outgoing."""
    incoming = np.zeros(k, dtype=int)
    outgoing: list[list[tuple[int, int]]] = [[] for _ in range(k)]
    for u, v in sorted(planned):
        incoming[v] += 1
        outgoing[u].append((u, v))
    ready = deque(t for t in range(k) if incoming[t] == 0)
    order = []
    while ready:
        for u, v in outgoing[ready.popleft()]:
            order.append((u, v))
            incoming[v] -= 1
            if incoming[v] == 0:
                ready.append(v)
    done = set(order)
    return order + [pair for pair in sorted(planned) if pair not in done]  # cycles, if any


def _peel(part: Partition, u: int, v: int, amount: float) -> None:
    """Move blocks of ``u`` bordering ``v`` to ``v`` until about ``amount`` crossed, nearest to
    the centre of ``v`` first, so ``v`` grows in one compact piece."""
    g = part.problem.graph
    lab = part.owner
    inside = list(part.members[v])
    cx, cy = (np.average(c[inside], weights=g.area[inside]) for c in (g.x, g.y))
    left = amount
    while left > 0:
        best, best_key = None, None
        for b in part.members[u]:
            wb = part.block_load[b]
            if wb > left * 1.5 or part.problem.locked[b] >= 0 or not part.allowed(b, v):
                continue
            if not any(lab[j] == v for j in g.neighbours[b]):
                continue
            key = (g.x[b] - cx) ** 2 + (g.y[b] - cy) ** 2
            if (best_key is None or key < best_key) and part.can_leave(b):
                best, best_key = b, key
        if best is None:
            return
        # the last block may overshoot: only if that leaves less off than stopping short
        if part.block_load[best] > left and part.block_load[best] - left > left:
            return
        part.move(best, v)
        left -= part.block_load[best]
