"""First plans: recursive bisection, power diagrams (balanced Lloyd iterations) and anchors
(territories with homes or locked blocks take the part nearest them)."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from territory.designer.blocks import BlockGraph
from territory.designer.solver.problem import Problem, bisect_recursively


def bisect(problem: Problem, jitter: float = 0.0, angles: int = 16) -> np.ndarray:
    """Split the blocks in two by a straight cut, recursively, down to one part per territory.

    Each cut divides the balance measure in proportion to the territories on either side
    (exact up to one block). Of ``angles`` cut directions, the one that leaves both sides in one
    piece with the shortest shared border is taken: short cuts make compact parts. ``jitter``
    turns the set of directions at random, for restarts.
    """
    g, w, rng = problem.graph, problem.weight, problem.rng
    src, dst, length = g.edges()
    side = np.zeros(len(g), dtype=np.int8)
    local = np.full(len(g), -1)

    def split(members, first, parts, left, share):
        x, y, a = g.x[members], g.y[members], g.area[members]
        cx, cy = np.average(x, weights=a), np.average(y, weights=a)
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
        return members[order[:cut]], members[order[cut:]]

    return bisect_recursively(problem, split)


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
