"""The territory designer: cuts and power diagrams, then local search for balance and shape.

1. **Recursive bisection**: the blocks are cut in two by a straight line where the balance
   measure splits in proportion to the territories on each side (of 16 directions, the one
   with the shortest border that leaves each side in one piece), and again inside each half,
   down to one part per territory: balanced up to one block per cut, and compact.
2. **Power diagram**: Lloyd iterations from the cut parts; each assigns blocks to the part
   centroids by a balanced optimal transport, whose prices make the parts convex cells.
3. **Anchors**: territories with a rep home or locked blocks take the part nearest them (an
   optimal matching); locked blocks are put in place and detached pieces of a territory join
   the neighbour they share the longest edge with, so every territory is contiguous.
4. **Balance**: boundary blocks move to a neighbouring territory when that lowers the sum of
   squared relative deviations; where no single move helps, a trade of blocks with a neighbour
   settles what single blocks are too coarse for, or a chain of moves pushes load along a path
   of territories from the heaviest to a light one.
5. **Compactness**: while every territory stays within the tolerance, boundary blocks move
   (alone, or in pairs that keep the balance) where that raises Polsby-Popper compactness
   (tracked exactly from areas, perimeters and shared-edge lengths).

Rebalancing plans the load each border must carry with a linear programme (``flow``) and peels
blocks along those borders before the balance search settles the rest.

Every move keeps the donor territory connected (no block that holds it together is taken),
never moves locked blocks, and respects the maximum distance from a rep's home.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

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
        self.load_target = problem.target * (weight.sum() / max(problem.weight.sum(), 1e-12))
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

    def polsby_popper(self, area, perim):
        return 4 * np.pi * area / (perim * perim) if perim > 0 else 0.0

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
        """Change in the sum of Polsby-Popper scores of both territories if ``b`` moves to j."""
        i = self.owner[b]
        g = self.problem.graph
        si, sj = self.shared_with(b, i), self.shared_with(b, j)
        before = self.polsby_popper(self.area[i], self.perim[i]) + self.polsby_popper(
            self.area[j], self.perim[j]
        )
        after = self.polsby_popper(
            self.area[i] - g.area[b], self.perim[i] + 2 * si - g.perimeter[b]
        )
        after += self.polsby_popper(
            self.area[j] + g.area[b], self.perim[j] + g.perimeter[b] - 2 * sj
        )
        return after - before

    def boundary_targets(self, b: int) -> set[int]:
        lab = self.owner
        i = lab[b]
        return {lab[j] for j in self.problem.graph.neighbours[b] if lab[j] != i}


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
        turn = rng.uniform(0, np.pi) if jitter else 0.0
        cuts = []
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
            cuts.append((el[across].sum(), len(cuts), order, cut))
        # the shortest cut that leaves each side in one piece (else the one with fewest pieces)
        best = None
        for _, _, order, cut in sorted(cuts, key=lambda c: c[:2]):
            side[members[order[:cut]]] = 0
            side[members[order[cut:]]] = 1
            same = side[es] == side[ed]
            graph = sparse.csr_matrix(
                (np.ones(same.sum()), (local[es[same]], local[ed[same]])),
                shape=(len(members), len(members)),
            )
            pieces = connected_components(graph, directed=False)[0]
            if best is None or pieces < best[0]:
                best = (pieces, order, cut)
            if pieces <= 2:
                break
        _, order, cut = best
        stack.append((members[order[:cut]], left, first))
        stack.append((members[order[cut:]], parts - left, first + left))
    return labels


NEAREST_CENTRES = 4  # centres each block may go to in a power diagram's transport


def power_diagram(problem: Problem, labels: np.ndarray, iterations: int = 12) -> np.ndarray:
    """Reshape parts into a balanced centroidal power diagram (Lloyd iterations).

    Each iteration puts a centre at the area centroid of every part, then assigns the blocks to
    the centres by an optimal transport: least sum of weight x squared distance such that every
    part gets its target load. Its dual prices make the assignment a power diagram (block ``b``
    goes to the part minimising ``d(b, t)^2 - price_t``), whose cells are convex around the
    block centroids: compact and balanced up to the few blocks the transport splits. Blocks of
    zero weight follow the same rule. Stops when few blocks change part.
    """
    w = problem.weight
    g, k = problem.graph, problem.k
    if k < 2 or w.sum() <= 0 or (w > 0).sum() < k:
        return labels
    for _ in range(iterations):
        tot = np.maximum(np.bincount(labels, weights=g.area, minlength=k), 1e-12)
        cx = np.bincount(labels, weights=g.area * g.x, minlength=k) / tot
        cy = np.bincount(labels, weights=g.area * g.y, minlength=k) / tot
        new = _power_assign(g, w, cx, cy, problem.target)
        if new is None:
            return labels
        changed = int((new != labels).sum())
        labels = new
        if changed <= max(2, len(g) // 500):
            break
    return labels


def _power_assign(g: BlockGraph, w: np.ndarray, cx, cy, target) -> np.ndarray | None:
    """Blocks to centres by the balanced transport (see ``power_diagram``); None if it fails.

    Each block may go to one of its few nearest centres; a part that those cannot fill (or
    overfill) takes the difference as slack at a price above any move, so the programme is
    always feasible and stays small.
    """
    from scipy.optimize import linprog
    from scipy.spatial import cKDTree

    k = len(cx)
    tree = cKDTree(np.c_[cx, cy])
    pts = np.c_[g.x, g.y]
    heavy = np.flatnonzero(w > 0)
    near = min(k, NEAREST_CENTRES)
    dist, idx = tree.query(pts[heavy], k=near)
    dist, idx = dist.reshape(len(heavy), near), idx.reshape(len(heavy), near)
    scale = float(np.mean(dist**2)) or 1.0
    rows = np.repeat(np.arange(len(heavy)), near)
    cols = idx.ravel()
    nv = len(rows)
    slack = sparse.hstack([sparse.eye(k), -sparse.eye(k)])
    a = sparse.vstack(
        [
            sparse.csr_matrix((np.ones(nv), (rows, np.arange(nv))), shape=(len(heavy), nv + 2 * k)),
            sparse.hstack(
                [sparse.csr_matrix((w[heavy][rows], (cols, np.arange(nv))), shape=(k, nv)), slack]
            ),
        ]
    )
    cost = dist.ravel() ** 2 / scale
    penalty = 10 * (cost.max() + 1)
    res = linprog(
        np.r_[w[heavy][rows] * cost, np.full(2 * k, penalty)],
        A_eq=a.tocsr(),
        b_eq=np.r_[np.ones(len(heavy)), target],
        bounds=(0, None),
        method="highs",
    )
    if res.status != 0:
        return None
    res.x = res.x[:nv]
    price = res.eqlin.marginals[len(heavy) :]
    share = sparse.csr_matrix((res.x, (rows, cols)), shape=(len(heavy), k))
    labels = np.empty(len(g), dtype=np.int64)
    labels[heavy] = np.asarray(share.argmax(axis=1)).ravel()
    light = np.flatnonzero(w <= 0)
    if len(light):
        near = min(k, 8)
        dist, idx = tree.query(pts[light], k=near)
        dist, idx = dist.reshape(len(light), near), idx.reshape(len(light), near)
        power = dist**2 / scale - price[idx]
        labels[light] = idx[np.arange(len(light)), np.argmin(power, axis=1)]
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
    best, best_score = None, 0.0
    for b, j in candidates:
        gain = _gain(part, b, j)
        if gain <= 1e-15:
            continue
        if disruption:
            # disruption per unit of gain; the floor (a typical block's cost) keeps moves of
            # empty blocks for when nothing else helps
            score = gain / (max(_move_cost(part, b, j), 0.0) + part.problem.cost_floor)
        else:
            score = gain * (1 + 0.5 * np.tanh(20 * part.pp_gain(b, j)))
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
            if lab[c] != t and _movable(part, c) and part.allowed(c, t):
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
    pairs = [(u, v) for u, near in enumerate(_territory_adjacency(part)) for v in near if free[u]]
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


def _territory_adjacency(part: Partition) -> list[set[int]]:
    a, b = part.owner_array[part.src], part.owner_array[part.dst]
    cross = a != b
    pairs = np.unique(a[cross] * part.problem.k + b[cross])
    adj = [set() for _ in range(part.problem.k)]
    for u, v in zip(
        (pairs // part.problem.k).tolist(), (pairs % part.problem.k).tolist(), strict=True
    ):
        adj[u].add(v)
    return adj


# --------------------------------------------------------------------------------------------
# 4. compactness


def compact(part: Partition, limit: float, sweeps: int = 40) -> None:
    """Moves that raise Polsby-Popper compactness and keep both territories within ``limit``.

    Single block moves first; where the balance leaves no single move, pairs: a block moves
    where it raises compactness even though that upsets the balance, and a second block near it
    moves to restore the balance, kept when the pair raises compactness in all.
    """
    for _ in range(sweeps):
        while _compact_sweep(part, limit):
            pass
        if not _reshape_sweep(part, limit):
            break


def _border_blocks(part: Partition) -> np.ndarray:
    """Blocks with a neighbour in another territory, in random order."""
    cross = part.owner_array[part.src] != part.owner_array[part.dst]
    blocks = np.unique(part.src[cross])
    part.problem.rng.shuffle(blocks)
    return blocks


def _compact_sweep(part: Partition, limit: float) -> int:
    order = _border_blocks(part)
    moved = 0
    for b in order.tolist():
        if not _movable(part, b):
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
            if gain > best_gain:
                best, best_gain = j, gain
        if best is not None and part.can_leave(b):
            part.move(b, best)
            moved += 1
    return moved


def _movable(part: Partition, b: int) -> bool:
    p = part.problem
    return p.locked[b] < 0 and (p.movable is None or bool(p.movable[b]))


def _reshape_sweep(part: Partition, limit: float) -> int:
    order = _border_blocks(part)
    return sum(_reshape(part, b, limit) for b in order.tolist() if _movable(part, b))


def _reshape(part: Partition, b: int, limit: float) -> bool:
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
                part.move(c, m)
                return True
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
        if not _movable(part, c):
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
