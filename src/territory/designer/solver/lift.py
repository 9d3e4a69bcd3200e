"""Raise the least compact territories: a max-min pass on Polsby-Popper compactness.

The compactness moves of ``improve`` raise a sum over all territories, so a gain for a
compact territory can pay for a loss of the least compact one. This pass looks only at the
least compact territory: it trades boundary blocks with its neighbours (a block given or taken
alone, or followed by a second move that restores the balance) when the least compactness of
the territories the moves touch rises. Every such step raises the sorted list of compactness
scores (lexicographically), so the pass ends; the minimum rises first. A territory no step can
lift is set aside until one of its neighbours changes.

Where the least compact territory is stuck (a coastal territory whose shape only a change of
many blocks could mend: a peninsula with islands, say), the territory and its neighbours are
cut again as one group: multilevel cuts of the group's blocks with a few METIS seeds, each
searched for balance and shape (and lifted by steps), and the group's best is kept if its
least compactness is higher than before and every territory of it is within the tolerance and
in one piece.

Compactness is tracked exactly (areas, perimeters and shared-edge lengths of the partition),
every move keeps the donor territory connected, locked blocks stay and every territory ends
within the tolerance (or no further from it than it was).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.sparse.csgraph import dijkstra

from territory.designer.solver.improve import balance, compact
from territory.designer.solver.multilevel import partition
from territory.designer.solver.partition import Partition
from territory.designer.solver.repair import components, make_contiguous
from territory.geometry import polsby_popper_or_zero

# a step must raise the least compactness of the territories it touches by at least this
LIFT_EPS = 1e-6
# territories the pass may lift: the least compact share of them (at least LIFT_LEAST)
LIFT_SHARE = 0.1
LIFT_LEAST = 5
# steps (moves or pairs of moves) the pass may take, per territory
STEPS_PER_TERRITORY = 40
# first moves of a pair tried per step (best first)
PAIR_FIRSTS = 12
# group cuts (least compact territory and its neighbours cut again) per pass, and METIS seeds
# tried for each
RECUTS = 3
RECUT_SEEDS = 1
# rings of neighbours a group cut may take in (the neighbours, then also theirs), up to this
# many territories
RECUT_RINGS = 2
RECUT_GROUP = 10
# a territory grown anew starts from its blocks deeper inside it than these shares of them
# (1 = the deepest block), towards centres offset by these multiples of its radius; the most
# compact few are the starts of group cuts
CORE_DEPTHS = (0.75, 0.9, 1.0)
GROW_OFFSETS = (-0.5, 0.0, 0.5)
GROWN_STARTS = 2


def lift(part: Partition, limit: float, recuts: int = RECUTS, seed: int = 0) -> int:
    """Raise the least Polsby-Popper compactness while every territory stays within ``limit``
    (see module), with up to ``recuts`` group cuts; the number of steps taken."""
    k = part.problem.k
    pp = np.array([part.polsby_popper(t) for t in range(k)])
    lifted = max(LIFT_LEAST, int(np.ceil(LIFT_SHARE * k)))
    set_aside: set[int] = set()
    steps = 0
    for _ in range(STEPS_PER_TERRITORY * k):
        order = [int(t) for t in np.argsort(pp, kind="stable")[:lifted] if int(t) not in set_aside]
        if not order:
            break
        t = order[0]
        touched = _step(part, t, limit)
        if not touched and recuts > 0 and t == int(np.argmin(pp)):
            recuts -= 1
            touched = recut(part, t, limit, seed + recuts)
        if not touched:
            set_aside.add(t)
            continue
        steps += 1
        for u in touched:
            pp[u] = part.polsby_popper(u)
        # neighbours of a changed territory may have a step again
        adjacency = part.territory_adjacency()
        for u in touched:
            set_aside -= adjacency[u] | {u}
    return steps


def _balanced(part: Partition, b: int, j: int, limit: float) -> bool:
    """Moving ``b`` to ``j`` leaves both territories within ``limit`` (or no further off)."""
    i, wb = part.owner[b], part.block_weight[b]
    for t, change in ((i, -wb), (j, wb)):
        d = abs(part.real_dev(t, change))
        if d > limit and d > abs(part.real_dev(t)) + 1e-12:
            return False
    return True


def _candidates(part: Partition, t: int):
    """Moves that change ``t``: its boundary blocks to a neighbour, neighbours' blocks to it;
    with the compactness of both territories after the move, best least score first."""
    lab, nbrs = part.owner, part.problem.graph.neighbours
    moves = set()
    for b in part.members[t]:
        for c in nbrs[b]:
            if lab[c] != t:
                moves.add((b, lab[c]))
                moves.add((c, t))
    found = []
    for b, j in moves:
        if not part.movable(b) or not part.allowed(b, j):
            continue
        pi, pj = part.pp_after(b, j)
        found.append((-min(pi, pj), -(pi + pj), b, j))
    found.sort()
    return found


def _step(part: Partition, t: int, limit: float) -> tuple[int, ...]:
    """One step that lifts ``t``: the best single move, else the best pair; the territories
    it changed (empty if none)."""
    floor = part.polsby_popper(t)
    firsts = []
    for neg_least, _, b, j in _candidates(part, t):
        if -neg_least <= floor + LIFT_EPS:
            break  # sorted: no later move lifts the least compact territory either
        i = part.owner[b]
        if _balanced(part, b, j, limit):
            if part.can_leave(b):
                part.move(b, j)
                return (i, j)
        elif len(firsts) < PAIR_FIRSTS:
            firsts.append((b, j))
    for b, j in firsts:
        touched = _pair(part, b, j, limit, floor)
        if touched:
            return touched
    return ()


def _pair(part: Partition, b: int, j: int, limit: float, floor: float) -> tuple[int, ...]:
    """Move ``b`` to ``j`` and then a block that brings the balance back: kept when every
    territory the two moves touch ends within ``limit`` (or no further off than before) and
    their least compactness ends above ``floor`` and above where it was."""
    i = part.owner[b]
    if not part.can_leave(b):
        return ()
    was = {i: abs(part.real_dev(i)), j: abs(part.real_dev(j))}
    before = {i: part.polsby_popper(i), j: part.polsby_popper(j)}
    part.move(b, j)
    options = []
    for c, q in _restoring(part, (i, j), was, limit):
        p = part.owner[c]
        pc, pq = part.pp_after(c, q)
        after = {u: part.polsby_popper(u) for u in (i, j)} | {p: pc, q: pq}
        least_before = min(before.get(u, part.polsby_popper(u)) for u in after)
        least = min(after.values())
        if least > max(floor, least_before) + LIFT_EPS:
            options.append((-least, c, q))
    for _, c, q in sorted(options):
        if part.can_leave(c):
            p = part.owner[c]
            part.move(c, q)
            return tuple({i, j, p, q})
    part.move(b, i)
    return ()


def _restoring(part: Partition, pair: tuple[int, int], was: dict[int, float], limit: float):
    """Moves of one block that bring the territories of ``pair`` outside ``limit`` back: a
    heavy one gives a boundary block to a neighbour, a light one takes a neighbour's block;
    only moves that leave every territory they touch within ``limit`` or no further off than
    it was (``was``: deviations before the first move)."""
    lab, nbrs = part.owner, part.problem.graph.neighbours
    moves = set()
    for t in pair:
        if abs(part.real_dev(t)) <= limit:
            continue
        heavy = part.real_dev(t) > 0
        for b in part.members[t]:
            for c in nbrs[b]:
                if lab[c] != t:
                    moves.add((b, lab[c]) if heavy else (c, t))
    keep = []
    for c, q in moves:
        if not part.movable(c) or not part.allowed(c, q):
            continue
        p, wc = part.owner[c], part.block_weight[c]
        ok = True
        for u in {p, q} | set(pair):
            change = (wc if u == q else 0.0) - (wc if u == p else 0.0)
            d = abs(part.real_dev(u, change))
            if d > limit and d > was.get(u, abs(part.real_dev(u))) + 1e-12:
                ok = False
                break
        if ok:
            keep.append((c, q))
    return sorted(keep)


def recut(part: Partition, t: int, limit: float, seed: int = 0) -> tuple[int, ...]:
    """Cut ``t`` and its neighbours (then also theirs) again as one group (see module); the
    territories changed (empty if no cut of the group raised its least compactness)."""
    p = part.problem
    if p.allowed is not None:
        return ()
    adjacency = part.territory_adjacency()
    group = [t, *sorted(adjacency[t])]
    for _ in range(RECUT_RINGS):
        members = np.flatnonzero(np.isin(part.owner_array, group))
        if len(members) < len(group):  # a group with an empty territory: nothing to cut
            return ()
        # locked blocks stay where they are; a territory aiming at nothing cannot be cut for
        if (p.locked[members] >= 0).any() or (p.target[group] <= 0).any():
            return ()
        sub = _group_problem(p, members, group, seed)
        labels = [partition(sub, seed * RECUT_SEEDS + s) for s in range(RECUT_SEEDS)]
        labels += _grown_starts(part, sub, members, t)
        least = min(part.polsby_popper(u) for u in group)
        best = None
        for start in labels:
            cut = Partition(sub, make_contiguous(sub, start))
            balance(cut, limit)
            compact(cut, limit)
            lift(cut, limit, recuts=0)
            score = min(cut.polsby_popper(u) for u in range(len(group)))
            if score > least + LIFT_EPS and _valid(cut, limit):
                best, least = cut.owner_array.copy(), score
        if best is not None:
            _apply(part, members, best, group)
            return tuple(group)
        group = [t, *sorted(set().union(*(adjacency[u] for u in group)) - {t})]
        if len(group) > RECUT_GROUP:
            break
    return ()


def _group_problem(p, members: np.ndarray, group: list[int], seed: int):
    """The design problem of a group of territories on their blocks ``members`` (part ``u``
    is territory ``group[u]``, with its target)."""
    graph, _ = p.graph.subgraph(members)
    return replace(
        p, graph=graph, weight=p.weight[members], target=p.target[group],
        seeds=[[] for _ in group], locked=np.full(len(members), -1), start=None, cost=None,
        movable=None, log_compactness=True, rng=np.random.default_rng(seed),
    )  # fmt: skip


def _valid(cut: Partition, limit: float) -> bool:
    """Every territory of a group cut within ``limit`` and in one piece."""
    k, labels = cut.problem.k, cut.owner_array
    if any(abs(cut.real_dev(u)) > limit for u in range(k)):
        return False
    return all(len(components(cut.problem.graph, labels, u)) == 1 for u in range(k))


def _grown_starts(part: Partition, sub, members: np.ndarray, t: int) -> list[np.ndarray]:
    """Group starts where ``t`` (part 0) is grown anew, as a compact blob: from its blocks
    deepest inside it (farthest from the group's other territories), taking the blocks nearest
    a centre until it holds its target; of a few centres around ``t``, the ``GROWN_STARTS``
    most compact. The rest of the group is cut by METIS into the other parts."""
    g = sub.graph
    own = part.owner_array[members] == t
    if own.all() or not own.any():
        return []
    depth = dijkstra(g.matrix(), indices=np.flatnonzero(~own), min_only=True)
    cx, cy = (np.average(c[own], weights=g.area[own]) for c in (g.x, g.y))
    radius = np.sqrt(g.area[own].sum() / np.pi)
    grown = []
    for share in CORE_DEPTHS:
        core = np.flatnonzero(own & (depth >= np.quantile(depth[own], share)))
        for dx in GROW_OFFSETS:
            for dy in GROW_OFFSETS:
                blob, score = _grow(sub, core, cx + dx * radius, cy + dy * radius)
                grown.append((-score, len(grown), blob))
    starts = []
    for _, _, blob in sorted(grown, key=lambda c: c[:2])[:GROWN_STARTS]:
        labels = np.zeros(len(members), dtype=np.int64)
        rest = np.flatnonzero(~blob)
        if len(rest) < sub.k - 1:
            continue
        inner, _ = g.subgraph(rest)
        others = replace(
            sub, graph=inner, weight=sub.weight[rest], target=sub.target[1:],
            seeds=[[] for _ in range(sub.k - 1)], locked=np.full(len(rest), -1),
        )  # fmt: skip
        labels[rest] = 1 + partition(others, 0)
        starts.append(labels)
    return starts


def _grow(sub, core: np.ndarray, cx: float, cy: float) -> tuple[np.ndarray, float]:
    """Blocks of a compact territory grown from ``core`` towards ``(cx, cy)`` until it holds
    the target of part 0; with its Polsby-Popper compactness."""
    import heapq

    g, w, want = sub.graph, sub.weight, sub.target[0]
    inside = np.zeros(len(g), dtype=bool)
    inside[core] = True
    src, dst, length = g.edges()
    both = inside[src] & inside[dst]
    area, perim = g.area[core].sum(), g.perimeter[core].sum() - length[both].sum()
    load = w[core].sum()
    heap = [(np.hypot(g.x[j] - cx, g.y[j] - cy), j) for b in core for j in g.neighbours[b]]
    heapq.heapify(heap)
    while load < want and heap:
        _, b = heapq.heappop(heap)
        if inside[b] or load + w[b] > want * (1 + sub.tolerance):
            continue
        shared = sum(s for j, s in zip(g.neighbours[b], g.shared[b], strict=True) if inside[j])
        inside[b] = True
        area, perim, load = area + g.area[b], perim + g.perimeter[b] - 2 * shared, load + w[b]
        for j in g.neighbours[b]:
            if not inside[j]:
                heapq.heappush(heap, (np.hypot(g.x[j] - cx, g.y[j] - cy), j))
    return inside, polsby_popper_or_zero(area, perim)


def _apply(part: Partition, members: np.ndarray, labels: np.ndarray, group: list[int]) -> None:
    """Give ``members`` the group's new parts (part ``u`` is territory ``group[u]``, whose
    target it was cut for)."""
    for b, u in zip(members.tolist(), np.asarray(group)[labels].tolist(), strict=True):
        if part.owner[b] != u:
            part.move(b, u)
