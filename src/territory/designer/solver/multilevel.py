"""First plans by multilevel graph bisection (METIS): short borders, balanced, in one piece.

The block graph is cut in two by METIS (``pymetis``), weighted by the balance measure (vertex
weights) and the shared border length (edge weights: the least cut is the least total border,
so the parts are compact), in proportion to the territories on each side; again inside each
half, down to one part per territory. METIS balances only up to its imbalance factor, and on
sparse layers (most blocks empty) it may leave a side in several pieces, so each cut is then
made exact: the blocks are ordered by how deep they lie inside the METIS side (graph distance
to the other side, signed) and the cut is moved along that order to where the measure splits
exactly (up to one block); pieces of a side cut off from the rest join the other side.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components, dijkstra

from territory.designer.solver.problem import Problem, bisect_recursively

# METIS imbalance factor for each cut (1/1000 over the wanted share); the exact split follows.
UFACTOR = 30
# vertex weights are the balance measure scaled to integers summing to about this
WEIGHT_SCALE = 10**8
# a block of no weight counts this share of the mean block weight, so empty areas are shared
EMPTY_SHARE = 0.05
# the weight of an empty block in the exact cuts, as a share of the mean block weight
EMPTY_TRACE = 1e-6
# METIS seeds tried per cut while the exact cut misses its share by more than CUT_SLACK
# (relative to the smaller side)
CUT_TRIES = 6
CUT_SLACK = 0.002
# blocks searched around a block to see that taking it leaves its side in one piece
SIMPLE_REACH = 400
# times a growing side may take a block that holds the other side together (with the pieces
# it cuts off)
GROW_BREAKS = 20
# METIS edge weight of a bridge (100 = a border of median length)
BRIDGE = 10_000


class _Graph:
    """The block graph as sparse matrices: border lengths (METIS edge weights) and centroid
    distances (for the signed depth of each block in its side)."""

    def __init__(self, problem: Problem):
        g = problem.graph
        src, dst, length = g.edges()
        n = len(g)
        scale = float(np.median(length[length > 0])) if (length > 0).any() else 1.0
        # a bridge between islands (no shared edge) is never the cheap place to cut: a side
        # joined to the rest by one bridge could not be balanced across it
        border = np.where(length > 0, np.maximum(np.round(100 * length / scale), 1), BRIDGE)
        self.border = sparse.csr_matrix((border, (src, dst)), shape=(n, n))
        self.border.sum_duplicates()
        dist = np.hypot(g.x[src] - g.x[dst], g.y[src] - g.y[dst]) + 1e-6
        self.dist = sparse.csr_matrix((dist, (src, dst)), shape=(n, n))
        self.dist.sum_duplicates()
        w = problem.weight
        self.weight = w + EMPTY_SHARE * max(float(w.mean()), 1e-12) * (w <= 0)
        exact = _cut_weights(w, problem.k, problem.tolerance)
        # blocks of no weight weigh a trace, so a side of only such blocks is still shared out
        # by count (every territory gets blocks even where the measure cannot be split)
        trace = EMPTY_TRACE * max(float(exact.sum()), 1.0) / n
        self.exact = np.where(exact > 0, exact, trace)


def _cut_weights(w: np.ndarray, k: int, tolerance: float) -> np.ndarray:
    """What the cuts share out: the measure, with each block that alone outweighs a territory
    counted as one territory's share (the rest scaled to the other territories), so such a
    block gets a territory to itself and the others are balanced with each other (as the
    effective targets of the search want)."""
    total, cut = float(w.sum()), w.astype(float)
    heavy = np.zeros(len(w), dtype=bool)
    for _ in range(k):
        rest = total - w[heavy].sum()
        share = rest / max(k - heavy.sum(), 1)
        more = ~heavy & (w > share * (1 + tolerance))
        if not more.any() or heavy.sum() + more.sum() >= k:
            break
        heavy |= more
    if heavy.any():
        cut[heavy] = total / k
        cut[~heavy] = w[~heavy] * (total - total / k * heavy.sum()) / max(w[~heavy].sum(), 1e-12)
    return cut


def partition(problem: Problem, seed: int = 0) -> np.ndarray:
    """A part (territory position) per block: recursive exact METIS bisection (see module)."""
    import pymetis

    graph = _Graph(problem)

    def split(members, first, parts, left, share):
        sizes = (left, parts - left)
        side = _best_cut(pymetis, graph, members, share, sizes, seed + first * CUT_TRIES)
        _enough_blocks(graph, members, side, sizes)
        return members[side == 0], members[side == 1]

    return bisect_recursively(problem, split)


def _enough_blocks(graph: _Graph, members, side: np.ndarray, parts: tuple[int, int]) -> None:
    """Give a side at least one block per territory it is to hold, taking the other side's
    blocks next to it (breadth first), so no territory is left without blocks."""
    counts = np.bincount(side, minlength=2)
    if counts[0] >= parts[0] and counts[1] >= parts[1]:
        return  # the usual case: nothing to move, no sub-graph to build
    adjacency = graph.border[members][:, members].tocsr()
    for s in (0, 1):
        need = parts[s] - int((side == s).sum())
        while need > 0:
            mine = side == s
            frontier = np.flatnonzero(~mine & (adjacency @ mine.astype(np.int64) > 0))
            if not len(frontier):  # not touching: any block of the other side
                frontier = np.flatnonzero(~mine)
            take = frontier[: min(need, int((~mine).sum()) - parts[1 - s])]
            if not len(take):
                break
            side[take] = s
            need -= len(take)


def _best_cut(pymetis, graph: _Graph, members, share: float, parts: tuple[int, int], seed: int):
    """Of up to ``CUT_TRIES`` METIS cuts made exact, the first whose side 0 holds ``share`` of
    the measure within ``CUT_SLACK`` of it, else the closest. Where pieces cut off from their
    side made a cut miss, the next asks METIS for a share corrected by the miss."""
    w = graph.exact[members]
    total = max(float(w.sum()), 1e-12)
    scale = max(total * min(share, 1 - share), 1e-12)
    adjacency = graph.border[members][:, members].tocsr()
    best, best_err, ask = None, np.inf, share
    for attempt in range(CUT_TRIES):
        side = _metis_cut(pymetis, graph, members, ask, seed + attempt // 2)
        _join_pieces(adjacency, side, parts)
        joined = w[side == 0].sum() / total
        side = _exact_cut(graph, members, side, share, parts)
        err = abs(w[side == 0].sum() - share * total) / scale
        if err < best_err:
            best, best_err = side, err
        if err <= CUT_SLACK:
            break
        ask = float(np.clip(ask + share - joined, 0.05 * share, 1 - 0.05 * (1 - share)))
    return best


def _metis_cut(pymetis, graph: _Graph, members: np.ndarray, share: float, seed: int):
    """METIS's two sides (0 takes ``share`` of the weight) of the blocks ``members``."""
    sub = graph.border[members][:, members].tocsr()
    weight = graph.weight[members]
    vw = np.maximum(np.round(weight * WEIGHT_SCALE / max(weight.sum(), 1e-12)), 1)
    options = pymetis.Options(seed=int(seed) % (2**31 - 1), ufactor=UFACTOR)
    if sub.nnz == 0:
        return (np.arange(len(members)) >= len(members) * share).astype(np.int8)
    _, sides = pymetis.part_graph(
        2,
        pymetis.CSRAdjacency(sub.indptr.astype(np.int64), sub.indices.astype(np.int64)),
        vweights=vw.astype(np.int64),
        eweights=sub.data.astype(np.int64),
        tpwgts=[share, 1 - share],
        options=options,
    )
    return np.asarray(sides, dtype=np.int8)


def _exact_cut(graph: _Graph, members, side, share: float, parts: tuple[int, int]):
    """Make the METIS cut exact: pieces cut off from their side join the other, then the
    lighter side grows into the heavier one, nearest blocks first, until side 0 holds
    ``share`` of the measure (up to one block). Only blocks whose removal keeps the heavier
    side in one piece are taken, so both sides stay connected."""
    adjacency = graph.border[members][:, members].tocsr()
    _join_pieces(adjacency, side, parts)
    w = graph.exact[members]
    want = w.sum() * share
    grow = 0 if w[side == 0].sum() < want else 1
    deficit = want - w[side == 0].sum() if grow == 0 else (w.sum() - want) - w[side == 1].sum()
    if deficit <= 0:
        return side
    dist = graph.dist[members][:, members].tocsr()
    depth = dijkstra(dist, indices=np.flatnonzero(side == grow), min_only=True)
    _grow(adjacency, side, grow, w, deficit, depth, parts[1 - grow])
    return side


def _grow(adjacency, side, grow: int, w, deficit: float, depth, keep: int) -> None:
    """Move blocks of the other side to ``grow`` (in place), nearest first, while that lowers
    the ``deficit`` and keeps the other side connected and ``keep`` blocks strong. Where every
    block at the border holds the other side together, the nearest one goes with the pieces it
    would cut off, if they fit in the deficit."""
    import heapq

    ptr, idx = adjacency.indptr, adjacency.indices
    nbrs = [idx[ptr[b] : ptr[b + 1]].tolist() for b in range(len(side))]
    lab = side.tolist()
    other = 1 - grow
    heap = [(depth[b], b) for b in range(len(lab)) if lab[b] == other
            and any(lab[c] == grow for c in nbrs[b])]  # fmt: skip
    heapq.heapify(heap)
    waiting: set[int] = set()
    for _ in range(GROW_BREAKS):
        while heap and deficit > 0:
            _, b = heapq.heappop(heap)
            if lab[b] != other or w[b] > 2 * deficit:
                continue
            if not _simple(nbrs, lab, b, other):
                waiting.add(b)
                continue
            deficit -= _take(lab, nbrs, [b], grow, w, heap, depth, waiting)
        if deficit <= 0 or not waiting:
            break
        deficit -= _break_through(adjacency, lab, nbrs, grow, w, deficit, depth, keep, heap,
                                  waiting)  # fmt: skip
        if not heap:
            break
    if (np.asarray(lab) != grow).sum() >= keep:
        side[:] = lab


def _take(lab, nbrs, blocks, grow: int, w, heap, depth, waiting) -> float:
    """Give ``blocks`` to side ``grow``; their other-side neighbours join the queue."""
    import heapq

    for b in blocks:
        lab[b] = grow
    for b in blocks:
        for c in nbrs[b]:
            if lab[c] != grow:
                waiting.discard(c)
                heapq.heappush(heap, (depth[c], c))
    return float(w[blocks].sum())


def _break_through(adjacency, lab, nbrs, grow, w, deficit, depth, keep, heap, waiting) -> float:
    """The nearest waiting block whose move, with the pieces it cuts off, fits the deficit:
    moved; the weight moved (0 if none fits)."""
    arr = np.asarray(lab)
    for b in sorted(waiting, key=lambda b: depth[b]):
        rest = np.flatnonzero((arr != grow) & (np.arange(len(arr)) != b))
        count, piece = connected_components(adjacency[rest][:, rest], directed=False)
        cut_off = rest[piece != np.argmax(np.bincount(piece))] if count > 1 else rest[:0]
        gain = w[b] + w[cut_off].sum()
        if gain <= 1.5 * deficit and len(rest) - len(cut_off) >= keep:
            waiting.discard(b)
            return _take(lab, nbrs, [b, *cut_off.tolist()], grow, w, heap, depth, waiting)
    waiting.clear()
    return 0.0


def _simple(nbrs, lab, b: int, s: int, reach: int = SIMPLE_REACH) -> bool:
    """Whether ``b`` can leave side ``s`` without cutting it: its neighbours in ``s`` are
    linked to each other within ``reach`` blocks of ``s`` around it, avoiding ``b`` (a
    sufficient test: a farther link is taken as none)."""
    ring = {c for c in nbrs[b] if lab[c] == s}
    if len(ring) <= 1:
        return bool(ring)
    start = next(iter(ring))
    seen, todo, found = {start, b}, [start], 1
    while todo and len(seen) <= reach:
        u = todo.pop(0)
        for v in nbrs[u]:
            if v not in seen and lab[v] == s:
                seen.add(v)
                todo.append(v)
                if v in ring:
                    found += 1
                    if found == len(ring):
                        return True
    return False


def _join_pieces(adjacency, side: np.ndarray, parts: tuple[int, int]) -> None:
    """Pieces of a side cut off from its largest piece join the other side (in place), unless
    that would leave a side with fewer blocks than territories."""
    for s in (0, 1):
        here = np.flatnonzero(side == s)
        if len(here) <= 1:
            continue
        count, piece = connected_components(adjacency[here][:, here], directed=False)
        if count <= 1:
            continue
        cut_off = here[piece != np.argmax(np.bincount(piece))]
        if len(here) - len(cut_off) >= parts[s]:
            side[cut_off] = 1 - s
