"""Local search on a partition: balance (moves, trades, chains of moves) and compactness (moves
and pairs of moves that raise Polsby-Popper within the tolerance)."""

from __future__ import annotations

from collections import deque

import numpy as np

from territory.designer.solver.partition import Partition


def balance(part: Partition, target_dev: float, *, disruption: bool = False, budget=200_000):
    """Local search on the sum of squared relative deviations, with chains of moves.

    With ``disruption`` (rebalance mode) each step takes the move that fixes the most
    deviation per unit of disruption, and the search stops as soon as ``target_dev`` is met.
    """
    stuck: set[int] = set()  # territories no move or chain can improve right now
    failed = np.zeros(
        part.problem.k, dtype=int
    )  # after a few failures a territory is left as it is
    for _ in range(budget):
        dev = np.abs(part.dev())
        worst = next((int(t) for t in np.argsort(-dev) if int(t) not in stuck), None)
        if worst is None or dev[worst] <= target_dev:
            return
        move = _best_move(part, worst, disruption)
        if move is not None:
            part.move(*move)
        elif not (_swap(part, worst) or _chain(part, worst, target_dev)):
            stuck.add(worst)
            failed[worst] += 1
            continue
        stuck &= set(np.flatnonzero(failed >= 5).tolist())


def _gain(part: Partition, b: int, j: int) -> float:
    i = part.owner[b]
    wb = part.block_load[b]
    ti, tj = part.load_target[i], part.load_target[j]
    li, lj = part.load[i], part.load[j]
    before = (li / ti - 1) ** 2 + (lj / tj - 1) ** 2
    after = ((li - wb) / ti - 1) ** 2 + ((lj + wb) / tj - 1) ** 2
    return before - after


def _move_cost(part: Partition, b: int, j: int) -> float:
    p = part.problem
    if p.cost is None or p.start is None:
        return 0.0
    i = part.owner[b]
    if p.start[b] == i:
        return float(p.cost[b])
    if p.start[b] == j:
        return -float(p.cost[b])
    return 0.0


def _best_move(part: Partition, t: int, disruption: bool):
    """The best single move that lowers the deviation of territory ``t``."""
    g = part.problem.graph
    lab = part.owner
    heavy = part.dev(t) > 0
    candidates = []
    if heavy:  # give a boundary block of t to a neighbour
        for b in _boundary(part, t):
            for j in part.boundary_targets(b):
                if part.allowed(b, j):
                    candidates.append((b, j))
    else:  # take a block of a neighbouring territory
        seen = set()
        for b in _boundary(part, t):
            for j in g.neighbours[b]:
                if lab[j] != t and j not in seen and part.allowed(j, t):
                    seen.add(j)
                    candidates.append((j, t))
    gains = [(gain, b, j) for b, j in candidates if (gain := _gain(part, b, j)) > 1e-15]
    if disruption:
        # disruption per unit of gain; the floor (a typical block's cost) keeps moves of empty
        # blocks for when nothing else helps
        floor = part.problem.cost_floor
        scored = [(-g / (max(_move_cost(part, b, j), 0.0) + floor), b, j) for g, b, j in gains]
        # the best scored move whose block can leave (the connectivity check only as needed)
        return next(((b, j) for _, b, j in sorted(scored) if part.can_leave(b)), None)
    # the score is the gain times 0.5 to 1.5 by the compactness it brings: taken by falling
    # gain, the search stops once no remaining gain can beat the best score
    best, best_score = None, 0.0
    for g, b, j in sorted(gains, key=lambda c: -c[0]):
        if 1.5 * g <= best_score:
            break
        score = g * (1 + 0.5 * np.tanh(20 * part.pp_gain(b, j)))
        if score > best_score and part.can_leave(b):
            best, best_score = (b, j), score
    return best


def _swap(part: Partition, t: int, tries: int = 30) -> bool:
    """Trade a block of ``t`` for a lighter or heavier one of a neighbour (blocks too coarse for
    a single move: a few big urban blocks); kept only if it lowers the squared deviations.
    The best trades are tried in turn until one keeps both territories in one piece."""
    heavy = part.dev(t) > 0
    lab, nbrs, w = part.owner, part.problem.graph.neighbours, part.block_load
    touching: dict[int, list[int]] = {}  # blocks of a neighbour that touch t
    for x in _boundary(part, t):
        for c in nbrs[x]:
            if lab[c] != t and part.movable(c) and part.allowed(c, t):
                touching.setdefault(lab[c], []).append(c)
    li, ti = part.load[t], part.load_target[t]
    options = []
    for b in _boundary(part, t):
        if part.problem.locked[b] >= 0:
            continue
        for j in part.boundary_targets(b):
            if not part.allowed(b, j):
                continue
            lj, tj = part.load[j], part.load_target[j]
            for c in set(touching.get(j, ())):
                net = w[b] - w[c]  # load t gives to j
                if net <= 0 if heavy else net >= 0:
                    continue
                gain = ((li / ti - 1) ** 2 + (lj / tj - 1) ** 2
                        - ((li - net) / ti - 1) ** 2 - ((lj + net) / tj - 1) ** 2)  # fmt: skip
                if gain > 1e-12:
                    options.append((-gain, b, j, c))
    for _, b, j, c in sorted(options)[:tries]:
        if not part.can_leave(b):
            continue
        part.move(b, j)
        if any(lab[y] == t for y in nbrs[c]) and part.can_leave(c):
            part.move(c, t)
            return True
        part.move(b, t)
    return False


def _boundary(part: Partition, t: int):
    lab = part.owner
    nbrs = part.problem.graph.neighbours
    return [b for b in _members(part, t) if any(lab[j] != t for j in nbrs[b])]


def _members(part: Partition, t: int):
    return part.members[t]


def _chain(part: Partition, t: int, target_dev: float, tries: int = 8) -> bool:
    """Push load along a path of territories between ``t`` and one with room to spare.

    Each link moves one boundary block in the direction of the path, of about the weight the
    previous link moved, so the territories in between keep their load. Paths to the nearest
    few territories with room are tried; a chain is kept only if it lowers the sum of squared
    deviations, else every move of it is undone.
    """
    heavy = part.dev(t) > 0
    adj = part.territory_adjacency()
    dev = part.dev()
    prev = {t: None}
    queue = deque([t])
    ends = []
    while queue and len(ends) < tries:
        u = queue.popleft()
        for v in adj[u]:
            if v in prev:
                continue
            prev[v] = u
            if (dev[v] < -target_dev / 2) if heavy else (dev[v] > target_dev / 2):
                ends.append(v)
            queue.append(v)
    for end in ends:
        path = [end]
        while prev[path[-1]] is not None:
            path.append(prev[path[-1]])
        if heavy:
            path.reverse()  # load flows from the heavy end to the light end
        if _push(part, path):
            return True
    return False


def _push(part: Partition, path: list[int]) -> bool:
    amount = min(
        abs(part.dev(path[0])) * part.load_target[path[0]],
        abs(part.dev(path[-1])) * part.load_target[path[-1]],
    )
    before = float(np.sum(part.dev() ** 2))
    done = []
    for u, v in zip(path[:-1], path[1:], strict=True):
        move = _transfer(part, u, v, amount)
        if move is None:
            break
        done.append((move, u))
        amount = part.block_load[move[0]]
        part.move(*move)
    else:
        if float(np.sum(part.dev() ** 2)) < before - 1e-12:
            return True
    for (b, _), u in reversed(done):
        part.move(b, u)
    return False


def _transfer(part: Partition, u: int, v: int, amount: float):
    """A block of ``u`` bordering ``v`` whose weight is closest to ``amount``."""
    lab = part.owner
    nbrs = part.problem.graph.neighbours
    w = part.block_load
    options = sorted(
        (abs(w[b] - amount), b)
        for b in part.members[u]
        if w[b] > 0 and any(lab[j] == v for j in nbrs[b]) and part.allowed(b, v)
    )
    for _, b in options[:12]:
        if part.can_leave(b):
            return b, v
    return None


def compact(part: Partition, limit: float, sweeps: int = 40, floor: float = 0.0) -> None:
    """Moves that raise Polsby-Popper compactness and keep both territories within ``limit``.

    Single block moves first; where the balance leaves no single move, pairs: a block moves
    where it raises compactness even though that upsets the balance, and a second block near it
    moves to restore the balance, kept when the pair raises compactness in all. No move leaves
    a territory it changes less compact than ``floor`` (after the least compact were raised).
    """
    for _ in range(sweeps):
        while _compact_sweep(part, limit, floor):
            pass
        if not _reshape_sweep(part, limit, floor):
            break


def _border_blocks(part: Partition) -> np.ndarray:
    """Blocks with a neighbour in another territory, in random order."""
    cross = part.owner_array[part.src] != part.owner_array[part.dst]
    blocks = np.unique(part.src[cross])
    part.problem.rng.shuffle(blocks)
    return blocks


def _compact_sweep(part: Partition, limit: float, floor: float = 0.0) -> int:
    order = _border_blocks(part)
    moved = 0
    for b in order.tolist():
        if not part.movable(b):
            continue
        i = part.owner[b]
        wb = part.block_weight[b]
        best, best_gain = None, 1e-6
        for j in part.boundary_targets(b):
            if not part.allowed(b, j):
                continue
            di, dj = part.real_dev(i, -wb), part.real_dev(j, wb)
            # stay within the limit, or at least do not get further from it
            if abs(di) > limit and abs(di) >= abs(part.real_dev(i)):
                continue
            if abs(dj) > limit and abs(dj) >= abs(part.real_dev(j)):
                continue
            gain = part.pp_gain(b, j)
            if gain > best_gain and (not floor or min(part.pp_after(b, j)) >= floor):
                best, best_gain = j, gain
        if best is not None and part.can_leave(b):
            part.move(b, best)
            moved += 1
    return moved


def _reshape_sweep(part: Partition, limit: float, floor: float = 0.0) -> int:
    order = _border_blocks(part)
    return sum(_reshape(part, b, limit, floor) for b in order.tolist() if part.movable(b))


def _reshape(part: Partition, b: int, limit: float, floor: float = 0.0) -> bool:
    """Move ``b`` where it raises compactness, then a block near it to restore the balance."""
    i = part.owner[b]
    for j in part.boundary_targets(b):
        first = part.pp_gain(b, j)
        if first <= 0 or not part.allowed(b, j):
            continue
        if not part.can_leave(b):
            return False
        before = {i: abs(part.real_dev(i)), j: abs(part.real_dev(j))}
        part.move(b, j)
        for _, c, m in _followers(part, b, before, limit, 1e-6 - first):
            if part.can_leave(c):
                lc = part.owner[c]
                part.move(c, m)
                if not floor or min(part.polsby_popper(u) for u in {i, j, lc, m}) >= floor:
                    return True
                part.move(c, lc)
        part.move(b, i)
    return False


def _followers(part: Partition, b: int, before: dict[int, float], limit: float, need: float):
    """Moves of blocks within two steps of ``b`` that bring the territories ``before`` names
    back within ``limit`` (or no further off than they were) and gain more than ``need``, best
    first."""
    nbrs = part.problem.graph.neighbours
    near = {c for x in nbrs[b] for c in (x, *nbrs[x])} - {b}
    found = []
    for c in near:
        if not part.movable(c):
            continue
        lc, wc = part.owner[c], part.block_weight[c]
        for m in part.boundary_targets(c):
            if not part.allowed(c, m):
                continue
            gain = part.pp_gain(c, m)
            if gain <= need:
                continue
            ok = True
            for t in {lc, m} | set(before):
                d = abs(part.real_dev(t, (wc if t == m else 0) - (wc if t == lc else 0)))
                if d > limit and d >= before.get(t, abs(part.real_dev(t))) - 1e-12:
                    ok = False
                    break
            if ok:
                found.append((-gain, c, m))
    return sorted(found)
