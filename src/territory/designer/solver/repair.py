"""Contiguity: connected parts of a territory, and detached pieces joined to a neighbour."""

from __future__ import annotations

from collections import deque

import numpy as np

from territory.designer.blocks import BlockGraph
from territory.designer.solver.problem import Problem


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
