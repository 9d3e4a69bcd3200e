"""Several measures at once: after the search balanced their mix, boundary moves bring each
measure of each territory within its own tolerance."""

from __future__ import annotations

import numpy as np

from territory.designer.solver.partition import Partition
from territory.designer.solver.problem import effective_targets

AIM = 0.9  # moves aim this share inside each tolerance, so the last blocks do not sit on its edge
STALL = 3  # steps per territory without a lower total excess before the search gives up


def balance_several(
    part: Partition, values: np.ndarray, tolerances: np.ndarray, budget: int = 100_000
) -> None:
    """Move boundary blocks until every measure of every territory is within its tolerance.

    ``values`` is (blocks x measures), ``tolerances`` one per measure. Each step takes the
    territory and measure furthest outside (relative to the tolerance) and the border move
    (giving a block, or taking one from a neighbour) that most lowers the total excess over
    the tolerances of both territories in every measure; moves keep territories connected and
    respect locks and reach. When the total excess stops falling (``STALL`` steps per
    territory), the best plan seen is kept. Territories holding blocks that alone outweigh a
    territory aim at those blocks' weight (as the quality report does); such blocks stay put.
    """
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
    limits = tolerances * AIM
    stuck: set[int] = set()
    best, best_excess, since = part.labels().copy(), np.inf, 0
    for _ in range(budget):
        excess = _excess(loads / targets - 1, tolerances)
        total = float((excess**2).sum())
        if total < best_excess - 1e-12:
            best, best_excess, since = part.labels().copy(), total, 0
        else:
            since += 1
        order = np.argsort(-excess.max(axis=1))
        worst = next((int(t) for t in order if int(t) not in stuck), None)
        if worst is None or excess[worst].max() <= 0:
            return
        if since > STALL * k:  # no progress for a while: back to the best plan seen
            _restore(part, best, values, loads)
            return
        m = int(np.argmax(excess[worst]))
        move = _best(part, worst, m, values, loads, targets, limits, heavy)
        if move is None:
            if not _trade(part, worst, values, loads, targets, limits, heavy):
                stuck.add(worst)
                continue
        else:
            _move(part, *move, values, loads)
        stuck.clear()


def _restore(part: Partition, labels: np.ndarray, values: np.ndarray, loads: np.ndarray) -> None:
    """Move blocks back to ``labels`` (a plan seen earlier in this search)."""
    for b in np.flatnonzero(part.owner_array != labels).tolist():
        _move(part, b, int(labels[b]), values, loads)


def _move(part: Partition, b: int, j: int, values: np.ndarray, loads: np.ndarray) -> None:
    loads[part.owner[b]] -= values[b]
    loads[j] += values[b]
    part.move(b, j)


def _trade(part, t, values, loads, targets, limits, heavy, tries: int = 200) -> bool:
    """Trade a border block of ``t`` for one of a neighbour where the measures pull apart (one
    block rich in one measure, the other in another); the best trades are tried in turn until
    one keeps both territories in one piece."""
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
            return True
        _move(part, b, t, values, loads)
    return False


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
