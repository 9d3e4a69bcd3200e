"""How a design is searched: fresh, in a hierarchy of regions, or rebalanced from the current
alignment. Each returns a territory position per block (and, for regions, their parents)."""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pandas as pd

from territory.designer import solver
from territory.designer.problem import DesignProblem
from territory.designer.quality import territory_shapes
from territory.designer.request import DesignRequest
from territory.designer.solver import Partition, Problem
from territory.errors import ValidationError

# Lloyd iterations x transport variables (blocks x nearest centres) one design with several
# measures may spend: about 55 iterations on 3,000 counties
POWER_BUDGET = 700_000

# Multilevel partitions (each searched) one design may spend: blocks x runs; 4 runs on 3,000
# counties, 1 on 33,000 ZIP areas
RUN_BUDGET = 16_000

# A fresh search balances to this share of the tolerance, so the real loads (without the small
# extra weight the search gives every block) are within the tolerance with room to spare.
SEARCH_MARGIN = 0.95

# The rebalance schedule. The search steers by loads with a small extra per block, so it may
# stop just outside the tolerance on the real loads: each round aims at a tighter share of the
# tolerance until the real loads are within it (most plans stop after the first round).
REBALANCE_GOALS = (0.999, 0.9, 0.75, 0.5)
# The border flows of a round aim this much inside the round's goal, leaving the last blocks to
# the balance search, which picks them by disruption.
FLOW_SHARE = 0.75


def run(request: DesignRequest, problem: DesignProblem, measures: pd.DataFrame):
    """The labels (territory position per block) and the parent of each territory (or None);
    with several measures, each then brought within its own tolerance (``solve_several`` for a
    fresh design)."""
    if request.tolerances and not (request.rebalance or request.regions):
        return solve_several(request, problem, measures), None
    labels, parents = _run(request, problem, measures)
    if request.tolerances:
        request.report("Bringing each measure within its own tolerance", 0.9)
        labels = _each_within(request, problem, labels, *_several(request, measures))
    return labels, parents


def _several(request: DesignRequest, measures: pd.DataFrame):
    names = list(request.tolerances)
    return measures[names].to_numpy(float), np.array([request.tolerances[m] for m in names])


def solve_several(request: DesignRequest, p: DesignProblem, measures: pd.DataFrame):
    """Several measures, each within its own tolerance: multilevel plans of the measures'
    equal mix (as many runs as ``RUN_BUDGET`` allows), each searched for the mix and then for
    every measure (``balance_several``); where none has every measure within its tolerance,
    the straight-cut plans are searched the same way. The plan closest to every tolerance
    (then the most compact) is kept."""
    values, tolerances = _several(request, measures)
    rng = np.random.default_rng(request.seed)
    search = Problem(p.graph, p.weight, p.target, request.tolerance, p.seeds, p.locked,
                     p.allowed, rng=rng, log_compactness=True)  # fmt: skip
    runs = int(np.clip(RUN_BUDGET // max(len(p.graph), 1), 1, max(1, request.restarts)))
    best, best_key = None, None
    for r in range(runs + 1):
        if r < runs:
            request.report(f"Partitioning the measures' mix, run {r + 1} of {runs}",
                           0.15 + 0.6 * r / runs)  # fmt: skip
            labels = _search(search, solver.partition(search, int(rng.integers(2**31 - 1))),
                             request.compactness)  # fmt: skip
        elif best_key[0] > 1:
            request.report("Straight cuts for the measures that pull apart", 0.8)
            cuts = replace(search, log_compactness=False, rng=np.random.default_rng(request.seed))
            labels = solve_by_cuts(cuts, request.compactness, request.restarts)
        else:
            break
        labels = _each_within(request, p, labels, values, tolerances)
        worst = solver.worst_excess(labels, values, tolerances, p.k)
        pp = np.nanmean(territory_shapes(p.graph, labels, p.k)["polsby_popper"])
        key = (max(worst, 1.0), -pp)
        if best_key is None or key < best_key:
            best, best_key = labels, key
    return best


def _each_within(request, p: DesignProblem, labels, values, tolerances) -> np.ndarray:
    """``labels`` after the several-measure search (each measure within its own tolerance)."""
    search = Problem(p.graph, p.weight, p.target, request.tolerance, p.seeds, p.locked,
                     p.allowed, start=p.start)  # fmt: skip
    part = Partition(search, labels)
    solver.balance_several(part, values, tolerances)
    return part.labels()


def _run(request: DesignRequest, problem: DesignProblem, measures: pd.DataFrame):
    rng = np.random.default_rng(request.seed)
    p = problem
    if request.rebalance:
        cost = _disruption_cost(measures, p.weight)
        labels = rebalance(p, request.tolerance, cost, rng, request.compactness)
        return labels, None
    search = Problem(
        p.graph, p.weight, p.target, request.tolerance, p.seeds, p.locked, p.allowed, rng=rng
    )
    if request.regions:
        regions = request.regions
        return hierarchy(
            search, regions, p.home_rows, request.compactness, request.restarts, request.report
        )
    return solve(search, request.compactness, request.restarts, request.report), None


def rebalance(
    p: DesignProblem, tolerance: float, cost: np.ndarray, rng, compactness: bool
) -> np.ndarray:
    """From the current alignment to the tolerance, moving as little as possible: border flows,
    the disruption-weighted balance search and forced moves where blocks are too coarse for it
    (``settle``), on the ``REBALANCE_GOALS`` schedule; then
    compactness moves with blocks that cost nothing to move."""
    problem = Problem(
        p.graph, p.weight, p.target, tolerance, p.seeds, p.locked, p.allowed, start=p.start,
        cost=cost, rng=rng,
    )  # fmt: skip
    problem = solver.with_heavy_blocks(problem, p.start)
    part = Partition(problem, p.start)
    for goal in REBALANCE_GOALS:
        solver.flow(part, tolerance * goal * FLOW_SHARE)
        solver.balance(part, tolerance * goal, disruption=True)
        solver.settle(part, tolerance * goal)
        real = np.bincount(part.labels(), weights=p.weight, minlength=p.k) / problem.target - 1
        if np.abs(real).max() <= tolerance:
            break
    if compactness:  # tidy shapes with blocks that cost nothing to move (no accounts)
        problem.movable = (problem.cost == 0) | (part.labels() != p.start)
        solver.compact(part, tolerance * goal)
    return part.labels()


def solve(problem: Problem, compactness: bool = True, restarts: int = 4, report=None) -> np.ndarray:
    """The most compact plan that meets the tolerance (else the best balanced) of ``restarts``
    multilevel partitions (METIS seeds), as many as ``RUN_BUDGET`` allows for the layer's size,
    each then searched for balance and shape; the least compact territories of the plan kept
    are then raised (``solver.lift``). ``report(step, done)`` is told each step."""
    report = report or (lambda step, done: None)
    runs = int(np.clip(RUN_BUDGET // max(len(problem.graph), 1), 1, max(1, restarts)))
    problem = replace(problem, log_compactness=True)
    best, best_key = None, None
    for r in range(runs):
        seed = int(problem.rng.integers(2**31 - 1))
        report(f"Partitioning {len(problem.graph):,} blocks into {problem.k:,} parts, run "
               f"{r + 1} of {runs}", 0.15 + 0.75 * r / runs)  # fmt: skip
        labels = solver.partition(problem, seed)
        report(f"Local search for balance and shape, run {r + 1} of {runs}",
               0.15 + 0.75 * (r + 0.5) / runs)  # fmt: skip
        labels = _search(problem, labels, compactness)
        key = _plan_key(problem, labels)
        if best_key is None or key > best_key:
            best, best_key = labels, key
    if compactness:
        report("Raising the least compact territories", 0.9)
        best = _lift(problem, best)
    return best


def _lift(problem: Problem, labels: np.ndarray) -> np.ndarray:
    """The max-min pass on the least compact territories of the chosen plan (``solver.lift``),
    then compactness moves that keep every territory above the least compactness it reached,
    within the search's share of the tolerance."""
    part = Partition(solver.with_heavy_blocks(problem, labels), labels)
    limit = problem.tolerance * SEARCH_MARGIN
    solver.lift(part, limit, seed=int(problem.rng.integers(2**16)))  # the design's seed
    # compactness moves again, none below the least compactness reached
    floor = min(part.polsby_popper(t) for t in range(problem.k))
    solver.compact(part, limit, floor=floor)
    solver.balance(part, limit)
    return part.labels()


def solve_by_cuts(problem: Problem, compactness: bool = True, restarts: int = 4, report=None):
    """With several measures each within its own tolerance: the most compact plan that meets
    the tolerance (else the best balanced) of ``restarts`` straight-cut bisections (convex
    power-diagram cells balance the measures' mix more evenly in each measure than the
    multilevel cuts do): the first searched as it is, and as many as the budget allows refined into
    power diagrams and searched. ``report(step, done)`` is told each step (optional)."""
    report = report or (lambda step, done: None)
    from concurrent.futures import ThreadPoolExecutor

    run_seeds = [problem.rng.integers(2**32) + r for r in range(max(1, restarts))]
    iterations = POWER_BUDGET // (len(problem.graph) * min(problem.k, solver.NEAREST_CENTRES))
    refined_runs = min(len(run_seeds), max(1, iterations // 12)) if compactness else 0
    iterations = int(np.clip(iterations // max(refined_runs, 1), 3, 12))
    runs = [
        replace(problem, rng=np.random.default_rng(s)) for s in run_seeds[: max(1, refined_runs)]
    ]
    refine = runs[:refined_runs]
    report(f"Cutting {problem.k:,} parts ({len(runs)} runs)", 0.15)
    starts = [solver.bisect(run, jitter=0.3 if r else 0.0) for r, run in enumerate(runs)]
    # the power diagrams' transports run in native code on their own threads meanwhile
    with ThreadPoolExecutor(max_workers=max(1, min(len(refine), os.cpu_count() or 1))) as pool:
        refined = [
            pool.submit(solver.power_diagram, run, start, iterations)
            for run, start in zip(refine, starts, strict=False)  # starts may hold one more
        ]
        plans = []
        for r, (run, f) in enumerate(zip(refine, refined, strict=True)):
            report(f"Power diagram and local search, run {r + 1} of {len(refine)}",
                   0.2 + 0.7 * r / max(len(refine), 1))  # fmt: skip
            plans.append(_search(run, f.result(), compactness))
    best, best_key = None, None
    # the first bisection as it is: the fallback when no power diagram meets the tolerance
    for labels in plans + [None]:
        if labels is None:
            if best_key is not None and best_key[0]:
                break
            report("Local search from the first cut", 0.85)
            labels = _search(runs[0], starts[0], compactness)
        key = _plan_key(problem, labels)
        if best_key is None or key > best_key:
            best, best_key = labels, key
    return best


def _plan_key(problem: Problem, labels: np.ndarray) -> tuple[bool, float]:
    """Within the tolerance first, then the most compact (mean Polsby-Popper); plans outside
    the tolerance by the least deviation."""
    target = solver.effective_targets(problem.weight, problem.target, problem.tolerance, labels)
    load = np.bincount(labels, weights=problem.weight, minlength=problem.k)
    # a territory with a nil target is off only when it holds some of the measure
    dev = np.where(load > 0, np.inf, 0.0)
    np.divide(np.abs(load - target), target, out=dev, where=target > 0)
    dev = dev.max()
    pp = np.nanmean(territory_shapes(problem.graph, labels, problem.k)["polsby_popper"])
    return (dev <= problem.tolerance + 1e-12, pp if dev <= problem.tolerance else -dev)


def _search(problem: Problem, labels: np.ndarray, compactness: bool = True) -> np.ndarray:
    """Anchors, contiguity, reach; then balance and compactness local search."""
    labels = solver.make_contiguous(problem, solver.anchor(problem, labels))
    part = Partition(solver.with_heavy_blocks(problem, labels), labels)
    _respect_reach(part)
    limit = problem.tolerance * SEARCH_MARGIN
    solver.balance(part, limit)
    if compactness:
        solver.compact(part, limit)
        solver.balance(part, limit)
    return part.labels()


def _respect_reach(part: Partition) -> None:
    """Move blocks that are too far from their territory's home to a neighbour in reach."""
    allowed = part.problem.allowed
    if allowed is None:
        return
    for _ in range(len(part.owner)):
        moved = False
        for b, t in enumerate(part.owner):
            if allowed[b, t]:
                continue
            options = [j for j in part.boundary_targets(b) if allowed[b, j]]
            if options and part.can_leave(b):
                part.move(b, min(options, key=lambda j: part.load[j] / part.load_target[j]))
                moved = True
        if not moved:
            return


def _disruption_cost(measures: pd.DataFrame, weight: np.ndarray) -> np.ndarray:
    """What moving a block disrupts: its share of revenue (or the balance measure) and accounts."""
    parts = []
    for m in ("revenue", "accounts"):
        if m in measures and measures[m].sum() > 0:
            parts.append(measures[m].to_numpy(float) / measures[m].sum())
    if not parts:
        parts.append(weight / weight.sum())
    return np.mean(parts, axis=0)


def hierarchy(problem: Problem, m: int, home_rows, compactness: bool, restarts: int, report=None):
    """m balanced regions first, then territories balanced inside each region."""
    report = report or (lambda step, done: None)
    k = problem.k
    if not 1 <= m <= k:
        raise ValidationError(f"regions must be between 1 and k ({k}), not {m}.")
    region_names, region_of, counts = _regions(problem, m, home_rows)
    total = problem.weight.sum()
    seeds, locked = problem.seeds, problem.locked
    top_seeds = [[b for t in range(k) if region_of[t] == r for b in seeds[t]] for r in range(m)]
    top_locked = np.where(locked >= 0, np.asarray(region_of)[np.maximum(locked, 0)], -1)
    top = replace(
        problem, target=total * counts / k, tolerance=problem.tolerance / 3, seeds=top_seeds,
        locked=top_locked, allowed=None,
    )  # fmt: skip
    report(f"Designing {m} regions", 0.15)
    regions = solve(top, compactness, restarts)
    labels = np.full(len(problem.graph), -1)
    for r in range(m):
        report(f"Territories of region {region_names[r]} ({r + 1} of {m})", 0.3 + 0.6 * r / m)
        members = np.flatnonzero(regions == r)
        own = [t for t in range(k) if region_of[t] == r]
        inner = _region_problem(problem, members, own)
        if len(members) < len(own):
            raise ValidationError(
                f"Region {region_names[r]} got {len(members)} blocks for {len(own)} "
                "territories; lower k or use fewer regions."
            )
        labels[members] = np.asarray(own)[solve(inner, compactness, restarts)]
    return labels, {t: region_names[region_of[t]] for t in range(k)}


def _regions(problem: Problem, m: int, home_rows):
    """Region names, the region of each territory and the territories per region: from the
    homes' parent column, else R1 .. Rm with the territories shared out in order."""
    k = problem.k
    if home_rows is not None and "parent" in home_rows:
        region_names = list(pd.unique(home_rows["parent"].astype(str)))
        if len(region_names) != m:
            raise ValidationError(
                f"The homes name {len(region_names)} parents (regions) but {m} regions were "
                "asked for."
            )
        region_of = [region_names.index(str(p)) for p in home_rows["parent"]]
        return region_names, region_of, np.bincount(region_of, minlength=m)
    if (problem.locked >= 0).any():
        raise ValidationError(
            "Regions with locked blocks or homes need a 'parent' column in the homes table "
            "saying which region each territory belongs to."
        )
    counts = np.full(m, k // m)
    counts[: k % m] += 1
    return [f"R{i + 1}" for i in range(m)], np.repeat(np.arange(m), counts).tolist(), counts


def _region_problem(problem: Problem, members: np.ndarray, own: list[int]) -> Problem:
    """The territories ``own`` of one region on its blocks ``members``, each evenly balanced."""
    seeds, locked, allowed = problem.seeds, problem.locked, problem.allowed
    sub, keep = problem.graph.subgraph(members)
    local = {b: i for i, b in enumerate(keep.tolist())}
    sub_seeds = [[local[b] for b in seeds[t] if b in local] for t in own]
    sub_locked = np.array([own.index(locked[b]) if locked[b] in own else -1 for b in keep])
    w = problem.weight[members]
    sub_allowed = None if allowed is None else allowed[np.ix_(members, own)]
    return replace(
        problem, graph=sub, weight=w, target=np.full(len(own), w.sum() / len(own)),
        tolerance=problem.tolerance / 2, seeds=sub_seeds, locked=sub_locked, allowed=sub_allowed,
    )  # fmt: skip
