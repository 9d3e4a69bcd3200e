"""The territory designer: seeded growth, then local search for balance and compactness.

1. **Recursive bisection**: the blocks are cut in two by a straight line where the balance
   measure splits in proportion to the territories on each side (of 16 directions, the one
   with the shortest border that leaves each side in one piece), and again inside each half,
   down to one part per territory: balanced up to one block per cut, and compact.
2. **Anchors**: territories with a rep home or locked blocks take the part nearest them (an
   optimal matching); locked blocks are put in place and detached pieces of a territory join
   the neighbour they share the longest edge with, so every territory is contiguous.
3. **Balance**: boundary blocks move to a neighbouring territory when that lowers the sum of
   squared relative deviations; where no single move helps, a chain of moves pushes load along
   a path of territories from the heaviest to a light one, or a trade of blocks with a
   neighbour settles what single blocks are too coarse for.
4. **Compactness**: while every territory stays within the tolerance, boundary blocks move
   where that raises Polsby-Popper compactness (tracked exactly from areas, perimeters and
   shared-edge lengths).

Every move keeps the donor territory connected (no block that holds it together is taken),
never moves locked blocks, and respects the maximum distance from a rep's home.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

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
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    @property
    def k(self) -> int:
        return len(self.target)

    @property
    def cost_floor(self) -> float:
        if self.cost is None or not (self.cost > 0).any():
            return 1e-3
        return float(np.median(self.cost[self.cost > 0]))


class Partition:
    """Mutable assignment of blocks to territories with running sums for fast move checks."""

    def __init__(self, problem: Problem, labels: np.ndarray):
        self.p = problem
        g = problem.graph
        self.label = [int(v) for v in labels]
        self.lab = np.asarray(labels, dtype=np.int64).copy()  # the same, as an array
        self.src, self.dst, _ = g.edges()
        k = problem.k
        # Every block weighs a little (0.1 % of the mean block): blocks without accounts can then
        # move towards lighter territories and uncover the weighted blocks behind them.
        weight = problem.weight + 1e-3 * max(problem.weight.mean(), 1e-12)
        self.load = np.bincount(labels, weights=weight, minlength=k).astype(float)
        self.area = np.bincount(labels, weights=g.area, minlength=k).astype(float)
        self.size = np.bincount(labels, minlength=k)
        self.members: list[set[int]] = [set() for _ in range(k)]
        for b, t in enumerate(self.label):
            self.members[t].add(b)
        inner = g.inner_edge(np.asarray(labels), k)
        self.perim = np.bincount(labels, weights=g.perimeter, minlength=k) - 2 * inner
        self.w = weight.tolist()
        self.t = problem.target * (weight.sum() / max(problem.weight.sum(), 1e-12))

    # ---- measures ------------------------------------------------------------------------
    def dev(self, t=None):
        return (self.load / self.t - 1) if t is None else self.load[t] / self.t[t] - 1

    def max_dev(self) -> float:
        return float(np.max(np.abs(self.dev())))

    def pp(self, area, perim):
        return 4 * np.pi * area / (perim * perim) if perim > 0 else 0.0

    def labels(self) -> np.ndarray:
        return np.asarray(self.label)

    # ---- moves ---------------------------------------------------------------------------
    def shared_with(self, b: int, t: int) -> float:
        g = self.p.graph
        lab = self.label
        return sum(s for j, s in zip(g.neighbours[b], g.shared[b], strict=True) if lab[j] == t)

    def can_leave(self, b: int) -> bool:
        """``b`` may leave its territory: not locked, not the last block, not a cut block."""
        if self.p.locked[b] >= 0:
            return False
        i = self.label[b]
        if self.size[i] <= 1:
            return False
        lab = self.label
        inside = [j for j in self.p.graph.neighbours[b] if lab[j] == i]
        if len(inside) <= 1:
            return len(inside) == 1
        # breadth-first search from one neighbour inside, avoiding b, until all are reached
        wanted = set(inside[1:])
        seen = {b, inside[0]}
        queue = deque([inside[0]])
        nbrs = self.p.graph.neighbours
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
        return self.p.allowed is None or bool(self.p.allowed[b, t])

    def move(self, b: int, j: int) -> None:
        i = self.label[b]
        g = self.p.graph
        si, sj = self.shared_with(b, i), self.shared_with(b, j)
        wb = self.w[b]
        self.load[i] -= wb
        self.load[j] += wb
        self.area[i] -= g.area[b]
        self.area[j] += g.area[b]
        self.perim[i] += 2 * si - g.perimeter[b]
        self.perim[j] += g.perimeter[b] - 2 * sj
        self.size[i] -= 1
        self.size[j] += 1
        self.members[i].discard(b)
        self.members[j].add(b)
        self.label[b] = j
        self.lab[b] = j

    def pp_gain(self, b: int, j: int) -> float:
        """Change in the sum of Polsby-Popper scores of both territories if ``b`` moves to j."""
        i = self.label[b]
        g = self.p.graph
        si, sj = self.shared_with(b, i), self.shared_with(b, j)
        before = self.pp(self.area[i], self.perim[i]) + self.pp(self.area[j], self.perim[j])
        after = self.pp(self.area[i] - g.area[b], self.perim[i] + 2 * si - g.perimeter[b])
        after += self.pp(self.area[j] + g.area[b], self.perim[j] + g.perimeter[b] - 2 * sj)
        return after - before

    def boundary_targets(self, b: int) -> set[int]:
        lab = self.label
        i = lab[b]
        return {lab[j] for j in self.p.graph.neighbours[b] if lab[j] != i}


# --------------------------------------------------------------------------------------------
# 1-2. recursive bisection and anchors


def bisect(problem: Problem, jitter: float = 0.0, angles: int = 16) -> np.ndarray:
    """Split the blocks in two by a straight cut, recursively, down to one part per territory.

    Each cut divides the balance measure in proportion to the territories on either side
    (exact up to one block). Of ``angles`` cut directions, the one that leaves both sides in one
    piece with the shortest shared border is taken: short cuts make compact parts. ``jitter``
    turns the set of directions at random, for restarts.
    """
    g, w, rng = problem.graph, problem.weight, problem.rng
    src, dst, length = g.edges()
    labels = np.zeros(len(g), dtype=np.int64)
    side = np.zeros(len(g), dtype=np.int8)
    local = np.full(len(g), -1)
    stack = [(np.arange(len(g)), problem.k, 0)]
    while stack:
        members, parts, first = stack.pop()
        if parts == 1 or len(members) <= 1:
            labels[members] = first
            continue
        left = parts // 2
        x, y, a = g.x[members], g.y[members], g.area[members]
        cx, cy = np.average(x, weights=a), np.average(y, weights=a)
        targets = problem.target[first : first + parts]
        share = targets[:left].sum() / targets.sum()
        inside = np.zeros(len(g), dtype=bool)
        inside[members] = True
        keep = inside[src] & inside[dst]
        es, ed, el = src[keep], dst[keep], length[keep]
        local[members] = np.arange(len(members))
        best = None
        turn = rng.uniform(0, np.pi) if jitter else 0.0
        for angle in turn + np.arange(angles) * np.pi / angles:
            proj = (x - cx) * np.cos(angle) + (y - cy) * np.sin(angle)
            order = np.argsort(proj, kind="stable")
            cum = np.cumsum(w[members][order])
            want = cum[-1] * share
            cut = int(np.searchsorted(cum, want))
            if cut < len(cum) and abs(cum[cut] - want) < abs((cum[cut - 1] if cut else 0) - want):
                cut += 1
            cut = min(max(cut, left), len(members) - (parts - left))  # a block for each territory
            side[members[order[:cut]]] = 0
            side[members[order[cut:]]] = 1
            across = side[es] != side[ed]
            same = sparse.csr_matrix(
                (np.ones((~across).sum()), (local[es[~across]], local[ed[~across]])),
                shape=(len(members), len(members)),
            )
            pieces = connected_components(same, directed=False)[0]
            cost = (pieces - 2, el[across].sum())  # one piece a side first, then the shortest
            if best is None or cost < best[0]:
                best = (cost, order, cut)
        _, order, cut = best
        stack.append((members[order[:cut]], left, first))
        stack.append((members[order[cut:]], parts - left, first + left))
    return labels


def anchor(problem: Problem, labels: np.ndarray) -> np.ndarray:
    """Number the parts so territories with homes or locked blocks get the part nearest them."""
    from scipy.optimize import linear_sum_assignment

    g, k = problem.graph, problem.k
    anchors = [
        list(s) or np.flatnonzero(problem.locked == t).tolist() for t, s in enumerate(problem.seeds)
    ]
    fixed = [t for t in range(k) if anchors[t]]
    if fixed:
        tot = np.bincount(labels, weights=g.area, minlength=k)
        px = np.bincount(labels, weights=g.area * g.x, minlength=k) / np.maximum(tot, 1e-12)
        py = np.bincount(labels, weights=g.area * g.y, minlength=k) / np.maximum(tot, 1e-12)
        ax = np.array([g.x[anchors[t]].mean() for t in fixed])
        ay = np.array([g.y[anchors[t]].mean() for t in fixed])
        cost = np.hypot(px[:, None] - ax[None], py[:, None] - ay[None])
        for col, t in enumerate(fixed):  # the part that already holds the anchor is best
            held = np.bincount(labels[anchors[t]], minlength=k)
            cost[:, col] -= 1e9 * held / len(anchors[t])
        part_of, which = linear_sum_assignment(cost)
        mapping = np.full(k, -1)
        mapping[part_of] = np.asarray(fixed)[which]
        rest = iter(t for t in range(k) if t not in set(fixed))
        mapping = np.array([m if m >= 0 else next(rest) for m in mapping])
        labels = mapping[labels]
    locked = problem.locked >= 0
    labels = labels.copy()
    labels[locked] = problem.locked[locked]
    return labels


# --------------------------------------------------------------------------------------------
# 3. balance


def balance(part: Partition, target_dev: float, *, disruption: bool = False, budget=200_000):
    """Local search on the sum of squared relative deviations, with chains of moves.

    With ``disruption`` (rebalance mode) each step takes the move that fixes the most
    deviation per unit of disruption, and the search stops as soon as ``target_dev`` is met.
    """
    stuck: set[int] = set()  # territories no move or chain can improve right now
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
            continue
        stuck.clear()


def _gain(part: Partition, b: int, j: int) -> float:
    i = part.label[b]
    wb = part.w[b]
    ti, tj = part.t[i], part.t[j]
    li, lj = part.load[i], part.load[j]
    before = (li / ti - 1) ** 2 + (lj / tj - 1) ** 2
    after = ((li - wb) / ti - 1) ** 2 + ((lj + wb) / tj - 1) ** 2
    return before - after


def _move_cost(part: Partition, b: int, j: int) -> float:
    p = part.p
    if p.cost is None or p.start is None:
        return 0.0
    i = part.label[b]
    if p.start[b] == i:
        return float(p.cost[b])
    if p.start[b] == j:
        return -float(p.cost[b])
    return 0.0


def _best_move(part: Partition, t: int, disruption: bool):
    """The best single move that lowers the deviation of territory ``t``."""
    g = part.p.graph
    lab = part.label
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
    best, best_score = None, 0.0
    for b, j in candidates:
        gain = _gain(part, b, j)
        if gain <= 1e-15:
            continue
        if disruption:
            # disruption per unit of gain; the floor (a typical block's cost) keeps moves of
            # empty blocks for when nothing else helps
            score = gain / (max(_move_cost(part, b, j), 0.0) + part.p.cost_floor)
        else:
            score = gain * (1 + 0.5 * np.tanh(20 * part.pp_gain(b, j)))
        if score > best_score and part.can_leave(b):
            best, best_score = (b, j), score
    return best


def _swap(part: Partition, t: int) -> bool:
    """Trade a block of ``t`` for a lighter or heavier one of a neighbour (blocks too coarse for
    a single move: a few big urban blocks); kept only if it lowers the squared deviations."""
    heavy = part.dev(t) > 0
    lab, nbrs, w = part.label, part.p.graph.neighbours, part.w
    best, best_gain = None, 1e-12
    for b in _boundary(part, t):
        for j in part.boundary_targets(b):
            if not part.allowed(b, j):
                continue
            # c: a block of j that touches t by more than b alone, near b
            near = {x for x in nbrs[b] if lab[x] == j}
            near |= {x for y in nbrs[b] if lab[y] == t for x in nbrs[y] if lab[x] == j}
            for c in near:
                if not any(lab[y] == t and y != b for y in nbrs[c]):
                    continue
                net = w[b] - w[c]  # load t gives to j
                if (net <= 0 if heavy else net >= 0) or not part.allowed(c, t):
                    continue
                li, lj = part.load[t], part.load[j]
                ti, tj = part.t[t], part.t[j]
                gain = ((li / ti - 1) ** 2 + (lj / tj - 1) ** 2
                        - ((li - net) / ti - 1) ** 2 - ((lj + net) / tj - 1) ** 2)  # fmt: skip
                if gain > best_gain:
                    best, best_gain = (b, j, c), gain
    if best is None:
        return False
    b, j, c = best
    if part.p.locked[c] >= 0 or not part.can_leave(b):
        return False
    part.move(b, j)
    if part.can_leave(c):
        part.move(c, t)
        return True
    part.move(b, t)
    return False


def _boundary(part: Partition, t: int):
    lab = part.label
    nbrs = part.p.graph.neighbours
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
    adj = _territory_adjacency(part)
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
        abs(part.dev(path[0])) * part.t[path[0]], abs(part.dev(path[-1])) * part.t[path[-1]]
    )
    before = float(np.sum(part.dev() ** 2))
    done = []
    for u, v in zip(path[:-1], path[1:], strict=True):
        move = _transfer(part, u, v, amount)
        if move is None:
            break
        done.append((move, u))
        amount = part.w[move[0]]
        part.move(*move)
    else:
        if float(np.sum(part.dev() ** 2)) < before - 1e-12:
            return True
    for (b, _), u in reversed(done):
        part.move(b, u)
    return False


def _transfer(part: Partition, u: int, v: int, amount: float):
    """A block of ``u`` bordering ``v`` whose weight is closest to ``amount``."""
    lab = part.label
    nbrs = part.p.graph.neighbours
    w = part.w
    options = sorted(
        (abs(w[b] - amount), b)
        for b in part.members[u]
        if w[b] > 0 and any(lab[j] == v for j in nbrs[b]) and part.allowed(b, v)
    )
    for _, b in options[:12]:
        if part.can_leave(b):
            return b, v
    return None


def _territory_adjacency(part: Partition) -> list[set[int]]:
    a, b = part.lab[part.src], part.lab[part.dst]
    cross = a != b
    pairs = np.unique(a[cross] * part.p.k + b[cross])
    adj = [set() for _ in range(part.p.k)]
    for u, v in zip((pairs // part.p.k).tolist(), (pairs % part.p.k).tolist(), strict=True):
        adj[u].add(v)
    return adj


# --------------------------------------------------------------------------------------------
# 4. compactness


def compact(part: Partition, limit: float, sweeps: int = 40) -> None:
    """Moves that raise Polsby-Popper compactness and keep both territories within ``limit``."""
    g = part.p.graph
    order = np.arange(len(g))
    for _ in range(sweeps):
        moved = 0
        part.p.rng.shuffle(order)
        for b in order.tolist():
            i = part.label[b]
            targets = part.boundary_targets(b)
            if not targets or part.p.locked[b] >= 0:
                continue
            if part.p.movable is not None and not part.p.movable[b]:
                continue
            wb = part.w[b]
            best, best_gain = None, 1e-6
            for j in targets:
                if not part.allowed(b, j):
                    continue
                di = (part.load[i] - wb) / part.t[i] - 1
                dj = (part.load[j] + wb) / part.t[j] - 1
                # stay within the limit, or at least do not get further from it
                if abs(di) > limit and abs(di) >= abs(part.dev(i)):
                    continue
                if abs(dj) > limit and abs(dj) >= abs(part.dev(j)):
                    continue
                gain = part.pp_gain(b, j)
                if gain > best_gain:
                    best, best_gain = j, gain
            if best is not None and part.can_leave(b):
                part.move(b, best)
                moved += 1
        if moved == 0:
            break


# --------------------------------------------------------------------------------------------
# repairs


def components(graph: BlockGraph, labels: np.ndarray, t: int) -> list[list[int]]:
    """Connected parts of territory ``t`` (lists of block positions), largest first."""
    members = np.flatnonzero(labels == t)
    seen: set[int] = set()
    parts = []
    for s in members.tolist():
        if s in seen:
            continue
        part, queue = [s], deque([s])
        seen.add(s)
        while queue:
            u = queue.popleft()
            for v in graph.neighbours[u]:
                if v not in seen and labels[v] == t:
                    seen.add(v)
                    part.append(v)
                    queue.append(v)
        parts.append(part)
    return sorted(parts, key=len, reverse=True)


def make_contiguous(problem: Problem, labels: np.ndarray) -> np.ndarray:
    """Give detached pieces of a territory to the neighbour they share the longest edge with.

    The piece kept is the one holding the territory's seed or locked blocks (else the
    heaviest). Pieces holding locked blocks of their own territory stay (reported later).
    """
    g = problem.graph
    labels = labels.copy()
    for _ in range(10):
        changed = False
        for t in range(problem.k):
            parts = components(g, labels, t)
            if len(parts) <= 1:
                continue
            anchor = set(problem.seeds[t]) | set(np.flatnonzero(problem.locked == t).tolist())

            def rank(part, anchor=anchor):
                return (len(anchor.intersection(part)), problem.weight[part].sum(), len(part))

            parts.sort(key=rank, reverse=True)
            for part in parts[1:]:
                if anchor.intersection(part):
                    continue
                edge: dict[int, float] = {}
                for b in part:
                    for j, s in zip(g.neighbours[b], g.shared[b], strict=True):
                        if labels[j] != t:
                            edge[labels[j]] = edge.get(labels[j], 0.0) + s + 1e-9
                if edge:
                    labels[part] = max(edge, key=edge.get)
                    changed = True
        if not changed:
            break
    return labels
