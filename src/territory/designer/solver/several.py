"""Several measures at once: after the search balanced their mix, boundary moves and trades
bring each measure of each territory within its own tolerance; forced moves settle near misses."""

from __future__ import annotations

import numpy as np

from territory.designer.solver.partition import Partition
from territory.designer.solver.problem import effective_targets

AIM = 0.9  # moves aim this share inside each tolerance, so the last blocks do not sit on its edge
STALL = 3  # steps per territory without a lower total excess before the search gives up
STEPS = 20  # steps per territory at most (where measures pull apart, the excess barely falls)
KICK_ROUNDS = 20  # forced moves kept at most
KICKS = 6  # forced moves tried for the territory furthest out, least pair cost first
KICK_STEPS = 4  # search steps per territory after a forced move
# forced moves only while every deviation is within this many tolerances beyond its tolerance:
# further out, the measures pull apart over whole regions and single blocks do not help
KICK_NEAR = 1.0


def balance_several(
    part: Partition, values: np.ndarray, tolerances: np.ndarray, budget: int | None = None
) -> None:
    """Move boundary blocks until every measure of every territory is within its tolerance:
    the search (``_search``), then, where a territory is still (a little, ``KICK_NEAR``)
    outside and no move or trade helps, forced moves (``_kick``): one of its border moves
    that least upsets the pair is made and held, the search settles the rest, and it is kept
    when the total excess over the tolerances fell without the largest excess rising (else
    undone)."""
    _search(part, values, tolerances, budget)
    for _ in range(KICK_ROUNDS):
        if not _kick(part, values, tolerances):
            return


def _kick(part: Partition, values: np.ndarray, tolerances: np.ndarray) -> bool:
    k = part.problem.k
    targets, loads, heavy = _state(part, values, tolerances)
    excess = _excess(loads / targets - 1, tolerances)
    before = (float((excess**2).sum()), float(excess.max()))
    t = int(np.argmax(excess.max(axis=1)))
    if not 0 < before[1] <= KICK_NEAR:  # within, or too far out for single blocks to settle
        return False
    locked = part.problem.locked
    for b, j in _forced(part, t, int(np.argmax(excess[t])), values, loads, targets, tolerances,
                        heavy)[:KICKS]:  # fmt: skip
        snapshot = part.owner_array.copy()
        _move(part, b, j, values, loads)
        locked[b] = j
        try:
            _search(part, values, tolerances, KICK_STEPS * k)
        finally:
            locked[b] = -1
        targets, loads, _ = _state(part, values, tolerances)
        after = _excess(loads / targets - 1, tolerances)
        if float((after**2).sum()) < before[0] - 1e-12 and float(after.max()) <= before[1]:
            return True
        _restore(part, snapshot, values, loads)
    return False


def _forced(part, t, m, values, loads, targets, tolerances, heavy) -> list[tuple[int, int]]:
    """Border moves of ``t`` in the direction measure ``m`` needs, least pair cost first."""
    lab, nbrs = part.owner, part.problem.graph.neighbours
    give = loads[t, m] > targets[t, m]
    locked = part.problem.locked
    moves = set()
    for b in part.members[t]:
        for c in nbrs[b]:
            if lab[c] == t:
                continue
            block, to = (b, lab[c]) if give else (c, t)
            if not heavy[block] and locked[block] < 0 and part.allowed(block, to):
                moves.add((block, to))
    limits = tolerances * AIM
    scored = []
    for b, j in moves:
        pair = [lab[b], j]
        rows = loads[pair].copy()
        rows[0] -= values[b]
        rows[1] += values[b]
        scored.append((_cost(rows, targets[pair], limits), b, j))
    return [(b, j) for _, b, j in sorted(scored) if part.can_leave(b)]


def _state(part: Partition, values: np.ndarray, tolerances: np.ndarray):
    """Per territory and measure: effective targets and loads; and the blocks too heavy to move."""
    labels = part.labels()
    k, n_m = part.problem.k, values.shape[1]
    targets = np.column_stack([
        effective_targets(values[:, m], np.full(k, values[:, m].sum() / k), tolerances[m], labels)
        for m in range(n_m)
    ])  # fmt: skip
    targets = np.maximum(targets, 1e-12)
    loads = np.column_stack([np.bincount(labels, weights=values[:, m], minlength=k)
                             for m in range(n_m)])  # fmt: skip
    heavy = (values > targets[labels] * (1 + tolerances)).any(axis=1)
    return targets, loads, heavy


def _search(
    part: Partition, values: np.ndarray, tolerances: np.ndarray, budget: int | None = None
) -> None:
    """Move boundary blocks until every measure of every territory is within its tolerance.

    ``values`` is (blocks x measures), ``tolerances`` one per measure. Each step takes the
    territory and measure furthest outside (relative to the tolerance) and the border move
    (giving a block, or taking one from a neighbour) that most lowers the total excess over
    the tolerances of both territories in every measure; moves keep territories connected and
    respect locks and reach. When the total excess stops falling (``STALL`` steps per
    territory), no territory has a move left or ``budget`` steps (``STEPS`` per territory) are
    spent, the best plan seen is kept. Territories holding blocks that alone outweigh a
    territory aim at those blocks' weight (as the quality report does); such blocks stay put.
    """
    k = part.problem.k
    targets, loads, heavy = _state(part, values, tolerances)
    limits = tolerances * AIM
    stuck: set[int] = set()
    best, best_excess, since = part.labels().copy(), np.inf, 0
    for _ in range(STEPS * k if budget is None else budget):
        excess = _excess(loads / targets - 1, tolerances)
        total = float((excess**2).sum())
        if total < best_excess - 1e-12:
            best, best_excess, since = part.labels().copy(), total, 0
        else:
            since += 1
        order = np.argsort(-excess.max(axis=1))
        worst = next((int(t) for t in order if int(t) not in stuck), None)
        if worst is None or excess[worst].max() <= 0 or since > STALL * k:
            # done, no move left or no progress for a while: back to the best plan seen
            _restore(part, best, values, loads)
            return
        m = int(np.argmax(excess[worst]))
        move = _best(part, worst, m, values, loads, targets, limits, heavy)
        if move is None:
            partner = _trade(part, worst, values, loads, targets, limits, heavy)
            if partner is None:
                stuck.add(worst)
                continue
        else:
            partner = move[1] if part.owner[move[0]] == worst else part.owner[move[0]]
            _move(part, *move, values, loads)
        # only the two territories changed, and their neighbours may now find a move
        nbrs = part.territory_adjacency()
        stuck -= {worst, partner} | nbrs[worst] | nbrs[partner]
    if float((_excess(loads / targets - 1, tolerances) ** 2).sum()) >= best_excess:
        _restore(part, best, values, loads)


def worst_excess(labels: np.ndarray, values: np.ndarray, tolerances: np.ndarray, k: int) -> float:
    """The largest deviation of any measure of any territory relative to that measure's
    tolerance (1 = on the edge), against the effective targets the search aims at."""
    worst = 0.0
    for m in range(values.shape[1]):
        v = values[:, m]
        target = effective_targets(v, np.full(k, v.sum() / k), tolerances[m], labels)
        load = np.bincount(labels, weights=v, minlength=k)
        dev = np.abs(load / np.maximum(target, 1e-12) - 1)
        worst = max(worst, float(dev.max()) / max(float(tolerances[m]), 1e-12))
    return worst


def _restore(part: Partition, labels: np.ndarray, values: np.ndarray, loads: np.ndarray) -> None:
    """Move blocks back to ``labels`` (a plan seen earlier in this search)."""
    for b in np.flatnonzero(part.owner_array != labels).tolist():
        _move(part, b, int(labels[b]), values, loads)


def _move(part: Partition, b: int, j: int, values: np.ndarray, loads: np.ndarray) -> None:
    loads[part.owner[b]] -= values[b]
    loads[j] += values[b]
    part.move(b, j)


def _trade(part, t, values, loads, targets, limits, heavy, tries: int = 200) -> int | None:
    """Trade a border block of ``t`` for one of a neighbour where the measures pull apart (one
    block rich in one measure, the other in another); the best trades are tried in turn until
    one keeps both territories in one piece. The neighbour traded with (None if none)."""
    lab = part.owner
    nbrs = part.problem.graph.neighbours
    free = [b for b in part.members[t] if not heavy[b] and part.problem.locked[b] < 0]
    options = []
    for j in {lab[c] for b in free for c in nbrs[b]} - {t}:
        give = [b for b in free if any(lab[c] == j for c in nbrs[b]) and part.allowed(b, j)]
        take = list({c for b in give for c in nbrs[b] if lab[c] == j and not heavy[c]
                     and part.problem.locked[c] < 0 and part.allowed(c, t)})  # fmt: skip
        if not give or not take:
            continue
        pair = [t, j]
        before = _cost(loads[pair], targets[pair], limits)
        net = values[np.array(take)][None, :, :] - values[np.array(give)][:, None, :]
        after_t = loads[t] + net
        after_j = loads[j] - net
        cost = _penalty(after_t / targets[t] - 1, limits).sum(axis=2)
        cost += _penalty(after_j / targets[j] - 1, limits).sum(axis=2)
        for g, c in zip(*np.nonzero(cost < before - 1e-12), strict=True):
            options.append((float(cost[g, c] - before), give[g], j, take[c]))
    for _, b, j, c in sorted(options)[:tries]:
        if not part.can_leave(b):
            continue
        _move(part, b, j, values, loads)
        if any(lab[y] == t for y in nbrs[c]) and part.can_leave(c):
            _move(part, c, t, values, loads)
            return j
        _move(part, b, t, values, loads)
    return None


def _excess(dev: np.ndarray, limits: np.ndarray) -> np.ndarray:
    """How far each deviation is outside its limit, relative to the limit (0 inside)."""
    return np.maximum(np.abs(dev) - limits, 0.0) / np.maximum(limits, 1e-12)


def _cost(rows: np.ndarray, targets: np.ndarray, limits: np.ndarray) -> float:
    return float(_penalty(rows / targets - 1, limits).sum())


def _penalty(dev: np.ndarray, limits: np.ndarray) -> np.ndarray:
    """Squared deviations relative to the limits, and ten times more for any part outside:
    smooth, so a move towards balance always counts, and steep beyond the limits."""
    return (dev / limits) ** 2 + 10 * _excess(dev, limits) ** 2


def _best(part, t, m, values, loads, targets, limits, heavy):
    """The border move of most gain for territory ``t`` outside in measure ``m``, or None."""
    lab = part.owner
    nbrs = part.problem.graph.neighbours
    give = loads[t, m] > targets[t, m]
    options = []
    for b in part.members[t]:
        if give:
            options += [(b, j) for j in part.boundary_targets(b)]
        else:
            options += [(c, t) for c in nbrs[b] if lab[c] != t]
    best, best_gain = None, 1e-12
    for b, j in set(options):
        if heavy[b] or not part.allowed(b, j) or part.problem.locked[b] >= 0:
            continue
        pair = [lab[b], j]
        before = _cost(loads[pair], targets[pair], limits)
        after_rows = loads[pair].copy()
        after_rows[0] -= values[b]
        after_rows[1] += values[b]
        gain = before - _cost(after_rows, targets[pair], limits)
        if gain > best_gain and part.can_leave(b):
            best, best_gain = (b, j), gain
    return best
