"""Anchors: territories with homes or locked blocks take the part nearest them."""

from __future__ import annotations

import numpy as np

from territory.designer.solver.problem import Problem


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
