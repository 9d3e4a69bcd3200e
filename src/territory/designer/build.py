"""Design and rebalance territories from building blocks: inputs, options, result."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from territory.designer import solver
from territory.designer.inputs import load_inputs, reach, read_homes, read_locked
from territory.designer.quality import plan_quality, territory_shapes
from territory.designer.request import DesignRequest
from territory.designer.solver import Partition, Problem, components
from territory.errors import ValidationError
from territory.io import atomic_path, write_table
from territory.validate import Polygons


@dataclass
class DesignResult:
    """A designed or rebalanced alignment with its quality report.

    ``alignment``: ``block_id``, ``territory_id`` (and ``parent`` with regions, ``rep`` when
    the current alignment or the homes name reps).
    ``quality``: one row per territory (measures, balance, deviation, compactness, contiguity,
    disruption against the baseline); ``reps``: the same summed per rep (empty without reps);
    ``summary``: the plan figures; ``flags``: every request that could not be met, in words
    (empty when the plan meets all of them).
    """

    alignment: pd.DataFrame
    territories: gpd.GeoDataFrame
    quality: pd.DataFrame
    summary: dict
    flags: list[str]
    bridges: pd.DataFrame
    unassigned: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    reps: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def ok(self) -> bool:
        return not self.flags

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write alignment.csv, territories.geojson, quality.csv, quality.json (and reps.csv,
        unassigned.csv when there are any)."""
        import json

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = [
            write_table(self.alignment, out / "alignment.csv"),
            write_table(self.quality, out / "quality.csv"),
        ]
        with atomic_path(out / "territories.geojson") as tmp:
            self.territories.to_crs(4326).to_file(tmp, driver="GeoJSON")
        written.append(out / "territories.geojson")
        report = {
            "summary": self.summary,
            "flags": self.flags,
            "notes": self.notes,
            "bridges": self.bridges.to_dict("records"),
        }
        with atomic_path(out / "quality.json") as tmp:
            Path(tmp).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
        written.append(out / "quality.json")
        if len(self.reps):
            written.append(write_table(self.reps, out / "reps.csv"))
        if len(self.unassigned):
            written.append(write_table(self.unassigned, out / "unassigned.csv"))
        return written


def design(
    blocks: Any,
    accounts: Any = None,
    *,
    k: int | None = None,
    balance: str = "revenue",
    tolerance: float = 0.05,
    homes: Any = None,
    locked: Any = None,
    locked_territories: tuple[str, ...] | list[str] = (),
    max_distance_km: float | None = None,
    regions: int | None = None,
    seed: int = 0,
    current: Any = None,
    rebalance: bool = False,
    compactness: bool = True,
    restarts: int = 4,
    block_id: str | None = None,
    crs: str | None = None,
    account_id: str | None = None,
    lat: str | None = None,
    lon: str | None = None,
    postal_code: str | None = None,
    measures: list[str] | None = None,
    visit_hours: float = 1.0,
    speed_kmh: float = 50.0,
    strict: bool = False,
) -> DesignResult:
    """Build ``k`` balanced, contiguous, compact territories from building blocks.

    Parameters
    ----------
    blocks : path or GeoDataFrame
        Building-block polygons (counties, ZIP areas ...) with a ``block_id``.
    accounts : path, DataFrame or GeoDataFrame, optional
        Accounts summed per block for the balance measures (``revenue``, ``accounts`` ...).
    k : int
        Number of territories (the number of homes when ``homes`` is given).
    balance : str
        A measure (``revenue``, ``accounts``, ``pipeline``, ``potential``, ``workload``, a
        numeric block column) or a weighted mix such as ``"revenue:0.7,accounts:0.3"``.
    tolerance : float
        Allowed relative deviation of each territory from its target (0.05 = ±5 %).
    homes : path or DataFrame, optional
        Rep homes (``territory_id``, optional ``rep`` and ``parent``, lat/lon or points): each
        territory grows from, and keeps, the block holding its home.
    locked : path or DataFrame, optional
        Table ``block_id`` -> ``territory_id`` of blocks that must stay in that territory.
    locked_territories : ids
        With ``current``: territories kept exactly as they are.
    max_distance_km : float, optional
        With ``homes``: no block centre further than this from its territory's home.
    regions : int, optional
        Group the territories into this many regions; regions and territories are each balanced.
    seed : int
        Random seed; the same inputs and seed give the same plan.
    current : path or DataFrame, optional
        The current alignment: the baseline for disruption, and the start with ``rebalance``.
    rebalance : bool
        Reach the tolerance from ``current`` moving as few accounts and as little revenue as
        possible, instead of designing from scratch.
    compactness, restarts : bool, int
        Improve compactness after balancing; keep the most compact of ``restarts`` runs (the
        cut directions vary between runs).
    strict : bool
        Refuse blocks with empty shapes; by default they are left out of the design, written
        with a blank territory and reported.

    Returns
    -------
    DesignResult
        Alignment, dissolved territories, quality table and summary, and flags for whatever
        could not be met (a best-effort plan is still returned).
    """
    started = time.perf_counter()
    request = DesignRequest(
        blocks, accounts, k=k, balance=balance, tolerance=tolerance, homes=homes, locked=locked,
        locked_territories=locked_territories, max_distance_km=max_distance_km, regions=regions,
        seed=seed, current=current, rebalance=rebalance, compactness=compactness,
        restarts=restarts, block_id=block_id, crs=crs, account_id=account_id, lat=lat, lon=lon,
        postal_code=postal_code, measures=measures, visit_hours=visit_hours,
        speed_kmh=speed_kmh, strict=strict,
    )  # fmt: skip
    inputs, align = load_inputs(
        request.blocks,
        request.accounts,
        request.balance,
        block_id=request.block_id,
        crs=request.crs,
        account_options=request.account_options,
        current=request.current,
        visit_hours=request.visit_hours,
        speed_kmh=request.speed_kmh,
        strict=request.strict,
    )
    graph, weight = inputs.graph, inputs.weight.to_numpy(float)
    n = len(graph)
    pos = pd.Series(np.arange(n), index=graph.ids)
    flags: list[str] = []

    start = current_names = None
    if align is not None:
        aligned = align.dropna(subset=["territory_id"])
        names = current_names = list(pd.unique(aligned["territory_id"]))
        start = pd.Series(aligned["territory_id"].to_numpy(), index=aligned["block_id"])
        start = (
            pd.Series(range(len(names)), index=names).reindex(start.reindex(graph.ids)).to_numpy()
        )
    home_rows = read_homes(homes, inputs.polygons, pos) if homes is not None else None
    if rebalance:
        if k is not None and k != len(names):
            raise ValidationError(
                f"-k {k} differs from the {len(names)} territories of the current alignment; "
                "rebalancing keeps the territories (drop -k)."
            )
        k = len(names)
    elif home_rows is not None:
        if k is not None and k != len(home_rows):
            raise ValidationError(
                f"-k {k} differs from the {len(home_rows)} rep homes given; each home makes "
                "one territory (drop -k)."
            )
        k = len(home_rows)
        names = home_rows["territory_id"].tolist()
    else:
        if k is None:
            raise ValidationError(
                "Say how many territories to build: -k N (k= in Python), or give rep homes."
            )
        names = None
    if k < 1:
        raise ValidationError(f"k must be 1 or more, not {k}.")
    if k > n:
        raise ValidationError(
            f"k = {k} territories cannot be built from {n} blocks: each territory needs at least "
            f"one block. Lower k, or use smaller blocks (e.g. ZIP areas instead of counties)."
        )
    lock_table = read_locked(locked, pos) if locked is not None else None
    if names is None:
        fixed = list(pd.unique(lock_table["territory_id"])) if lock_table is not None else []
        if len(fixed) > k:
            raise ValidationError(f"The locked blocks name {len(fixed)} territories but k is {k}.")
        width = len(str(k))
        generated = (f"T{i:0{width}d}" for i in range(1, 10 * k + 1))
        names = fixed + [g for g in generated if g not in set(fixed)][: k - len(fixed)]
    index_of = {t: i for i, t in enumerate(names)}
    locked_arr = np.full(n, -1)
    if lock_table is not None:
        unknown = sorted(set(lock_table["territory_id"]) - set(index_of))
        if unknown:
            raise ValidationError(
                f"Locked blocks name territories that are not in the plan: {unknown[:5]}. Use "
                "the territory ids of the homes or current alignment."
            )
        locked_arr[lock_table["pos"].to_numpy()] = [index_of[t] for t in lock_table["territory_id"]]
    for t in locked_territories:
        if start is None or t not in index_of:
            raise ValidationError(
                f"Locked territory '{t}' is not in the current alignment (give --current with it)."
            )
        locked_arr[start == index_of[t]] = index_of[t]
    seeds: list[list[int]] = [[] for _ in range(k)]
    parents = None
    if home_rows is not None:
        for t, b in zip(home_rows["territory_id"], home_rows["pos"], strict=True):
            if locked_arr[b] >= 0 and locked_arr[b] != index_of[t]:
                raise ValidationError(
                    f"The home block of '{t}' ({graph.ids[b]}) is locked to "
                    f"'{names[locked_arr[b]]}'."
                )
            seeds[index_of[t]] = [int(b)]
            locked_arr[b] = index_of[t]
    allowed = None
    if max_distance_km is not None:
        if home_rows is None:
            raise ValidationError("A maximum distance from home needs rep homes (--homes FILE).")
        allowed = reach(graph, home_rows, max_distance_km, names, flags)

    total = weight.sum()
    target = np.full(k, total / k)
    heavy = np.flatnonzero(weight > target[0] * (1 + tolerance))
    if len(heavy):
        shown = ", ".join(f"{graph.ids[b]} ({weight[b] / target[0]:.2f}x)" for b in heavy[:5])
        flags.append(
            f"{len(heavy)} block(s) alone weigh more than a territory may ({shown} of the "
            f"even target): the territories holding them aim at the blocks' own weight and the "
            "others are balanced on the rest (balance_target in the quality table). Use smaller "
            "blocks there or lower k for an even split."
        )
    rng = np.random.default_rng(seed)
    if rebalance:
        problem = Problem(
            graph,
            weight,
            target,
            tolerance,
            seeds,
            locked_arr,
            allowed,
            start=start,
            cost=_disruption_cost(inputs.measures, weight),
            rng=rng,
        )
        problem = solver.with_heavy_blocks(problem, start)
        part = Partition(problem, start)
        # the search steers by loads with a small extra per block; tighten until the real
        # loads are within the tolerance too
        for goal in (0.999, 0.9, 0.75, 0.5):
            solver.flow(part, tolerance * goal * 0.75)
            solver.balance(part, tolerance * goal, disruption=True)
            real = np.bincount(part.labels(), weights=weight, minlength=k) / problem.target - 1
            if np.abs(real).max() <= tolerance:
                break
        if compactness:  # tidy shapes with blocks that cost nothing to move (no accounts)
            problem.movable = (problem.cost == 0) | (part.labels() != start)
            solver.compact(part, tolerance * goal)
        labels = part.labels()
    else:
        problem = Problem(graph, weight, target, tolerance, seeds, locked_arr, allowed, rng=rng)
        if regions:
            labels, parents = _hierarchy(problem, regions, home_rows, compactness, restarts)
        else:
            labels = solve(problem, compactness, restarts)

    if start is not None and not rebalance:
        names = _keep_names(labels, names, start, current_names, weight, k, home_rows, lock_table)
    for t in range(k):
        parts = components(graph, labels, t)
        if len(parts) > 1:
            flags.append(
                f"Territory '{names[t]}' is in {len(parts)} pieces: its locked blocks or home "
                f"({', '.join(graph.ids[parts[1][:3]])} ...) cannot be joined to the rest "
                "contiguously. Unlock them or lock the blocks between."
            )
    if allowed is not None:
        far = ~allowed[np.arange(n), labels]
        if far.any():
            flags.append(
                f"{far.sum()} blocks are further than {max_distance_km:g} km from their "
                f"territory's home: {', '.join(graph.ids[far][:5])}."
            )
    baseline = None
    if start is not None:  # current territory of each block, as a position in ``names``
        where = {t: i for i, t in enumerate(names)}
        moved_to = np.array([where.get(t, -2) for t in current_names] + [-1])
        baseline = moved_to[np.where(pd.isna(start), len(current_names), start).astype(int)]
    runtime = time.perf_counter() - started
    quality, summary = plan_quality(
        graph,
        labels,
        names,
        inputs.measures,
        inputs.weight,
        targets=solver.effective_targets(weight, target, tolerance, labels),
        parents=None if parents is None else [parents[t] for t in range(k)],
        baseline=baseline,
        runtime_s=runtime,
    )
    rep_of = _reps(align, home_rows)
    if rep_of:
        quality.insert(1, "rep", [rep_of.get(t) for t in names])
    by_rep = _by_rep(quality, measures=list(inputs.measures.columns)) if rep_of else None
    if by_rep is not None and "blocks_in" in quality:
        summary["reps_affected"] = int((by_rep["blocks_in"] + by_rep["blocks_out"] > 0).sum())
    main = "revenue" if "revenue" in inputs.measures else "accounts"
    moved = summary.get(f"{main}_moved_pct", 0.0)
    if rebalance and moved > 25:
        inputs.notes.append(
            f"Rebalancing moved {moved:.0f}% of {main}: the balance "
            "shifted across much of the map. A fresh design with the current alignment as "
            "baseline (design -k N --current ...) may move about as much and give more compact "
            "territories; compare the two with `territory compare`."
        )
    if summary["max_deviation_pct"] > tolerance * 100 + 1e-9:
        over = quality.loc[quality["deviation_pct"].abs() > tolerance * 100]
        shown = ", ".join(
            f"{r.territory_id} ({r.deviation_pct:+.1f}%)" for r in over.head(5).itertuples()
        )
        flags.append(
            f"{len(over)} territories are outside ±{tolerance:.0%} of the target balance: {shown}."
            " Raise the tolerance, use smaller blocks, or unlock blocks."
        )
    if len(graph.bridges):
        shown = ", ".join(
            f"{r.block_id}->{r.to_block_id} ({r.distance_km:.0f} km)"
            for r in graph.bridges.head(5).itertuples()
        )
        inputs.notes.append(
            f"{len(graph.bridges)} islands or detached blocks were bridged to their nearest "
            f"block: {shown}."
        )
    alignment = pd.DataFrame({"block_id": graph.ids, "territory_id": [names[t] for t in labels]})
    if parents is not None:
        alignment["parent"] = [parents[t] for t in labels]
    if rep_of:
        alignment["rep"] = alignment["territory_id"].map(rep_of)
    if inputs.unaligned is not None:
        alignment = pd.concat([alignment, inputs.unaligned], ignore_index=True)
    territories = _dissolve(inputs.polygons, alignment)
    return DesignResult(
        alignment,
        territories,
        quality,
        summary,
        flags,
        graph.bridges,
        inputs.unassigned,
        inputs.notes,
        by_rep if by_rep is not None else pd.DataFrame(),
    )


def _reps(align: pd.DataFrame | None, home_rows: pd.DataFrame | None) -> dict:
    """Territory -> rep, from the current alignment's rep column, then the homes' rep column."""
    rep_of = {}
    if align is not None and "rep" in align:
        known = align.dropna(subset=["territory_id", "rep"])
        rep_of.update(zip(known["territory_id"], known["rep"], strict=True))
    if home_rows is not None and "rep" in home_rows:
        known = home_rows.dropna(subset=["rep"])
        rep_of.update(zip(known["territory_id"], known["rep"].astype(str), strict=True))
    return rep_of


def _by_rep(quality: pd.DataFrame, measures: list[str]) -> pd.DataFrame:
    """Measures and disruption (what came in and went out) summed per rep."""
    sums = [c for c in ["blocks", *measures] if c in quality]
    sums += [c for c in quality if c.endswith(("_in", "_out"))]
    table = quality.dropna(subset=["rep"]).groupby("rep", sort=False)
    out = table[sums].sum()
    out.insert(0, "territories", table["territory_id"].agg(lambda t: ", ".join(map(str, t))))
    return out.reset_index()


# Lloyd iterations x transport variables (blocks x nearest centres) one design may spend:
# about 55 iterations on 3,000 counties, 8 on 20,000 ZIP areas
POWER_BUDGET = 700_000


def solve(problem: Problem, compactness: bool = True, restarts: int = 4) -> np.ndarray:
    """The most compact plan that meets the tolerance (else the best balanced) of ``restarts``
    bisections: the first searched as it is, and as many as the budget allows refined into
    power diagrams and searched."""
    from concurrent.futures import ThreadPoolExecutor

    run_seeds = [problem.rng.integers(2**32) + r for r in range(max(1, restarts))]
    iterations = POWER_BUDGET // (len(problem.graph) * min(problem.k, solver.NEAREST_CENTRES))
    refined_runs = min(len(run_seeds), max(1, iterations // 12)) if compactness else 0
    iterations = int(np.clip(iterations // max(refined_runs, 1), 3, 12))
    runs = [
        replace(problem, rng=np.random.default_rng(s)) for s in run_seeds[: max(1, refined_runs)]
    ]
    refine = runs[:refined_runs]
    starts = [solver.bisect(run, jitter=0.3 if r else 0.0) for r, run in enumerate(runs)]
    # the power diagrams' transports run in native code on their own threads meanwhile
    with ThreadPoolExecutor(max_workers=max(1, min(len(refine), os.cpu_count() or 1))) as pool:
        refined = [
            pool.submit(solver.power_diagram, run, start, iterations)
            for run, start in zip(refine, starts, strict=False)  # starts may hold one more
        ]
        plans = [
            _search(run, f.result(), compactness) for run, f in zip(refine, refined, strict=True)
        ]
    best, best_key = None, None
    # the first bisection as it is: the fallback when no power diagram meets the tolerance
    for labels in plans + [None]:
        if labels is None:
            if best_key is not None and best_key[0]:
                break
            labels = _search(runs[0], starts[0], compactness)
        target = solver.effective_targets(problem.weight, problem.target, problem.tolerance, labels)
        dev = np.abs(np.bincount(labels, weights=problem.weight, minlength=problem.k) / target - 1)
        dev = dev.max()
        pp = np.nanmean(territory_shapes(problem.graph, labels, problem.k)["polsby_popper"])
        key = (dev <= problem.tolerance + 1e-12, pp if dev <= problem.tolerance else -dev)
        if best_key is None or key > best_key:
            best, best_key = labels, key
    return best


def _search(problem: Problem, labels: np.ndarray, compactness: bool = True) -> np.ndarray:
    """Anchors, contiguity, reach; then balance and compactness local search."""
    labels = solver.make_contiguous(problem, solver.anchor(problem, labels))
    part = Partition(solver.with_heavy_blocks(problem, labels), labels)
    _respect_reach(part)
    tol = problem.tolerance
    solver.balance(part, tol * 0.95)
    if compactness:
        solver.compact(part, tol * 0.95)
        solver.balance(part, tol * 0.95)
    return part.labels()


def _keep_names(labels, names, start, current_names, weight, k, home_rows, lock_table):
    """Name new territories after the current ones they overlap most (by balance measure), so
    disruption counts real moves; with homes or locked blocks the names are already given."""
    if home_rows is not None or lock_table is not None:
        return names
    from scipy.optimize import linear_sum_assignment

    old = np.where(pd.isna(start), -1, start).astype(int)
    ok = old >= 0
    overlap = np.zeros((k, len(current_names)))
    np.add.at(overlap, (labels[ok], old[ok]), weight[ok] + 1e-9)
    rows, cols = linear_sum_assignment(-overlap)
    renamed = {int(r): current_names[c] for r, c in zip(rows, cols, strict=True)}
    spare = iter(n for n in names if n not in set(renamed.values()))
    return [renamed[i] if i in renamed else next(spare) for i in range(k)]


def _respect_reach(part: Partition) -> None:
    """Move blocks that are too far from their territory's home to a neighbour in reach."""
    allowed = part.p.allowed
    if allowed is None:
        return
    for _ in range(len(part.label)):
        moved = False
        for b, t in enumerate(part.label):
            if allowed[b, t]:
                continue
            options = [j for j in part.boundary_targets(b) if allowed[b, j]]
            if options and part.can_leave(b):
                part.move(b, min(options, key=lambda j: part.load[j] / part.t[j]))
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


def _hierarchy(problem: Problem, m: int, home_rows, compactness: bool, restarts: int):
    """m balanced regions first, then territories balanced inside each region."""
    graph, weight, k, tolerance = problem.graph, problem.weight, problem.k, problem.tolerance
    seeds, locked, allowed = problem.seeds, problem.locked, problem.allowed
    if not 1 <= m <= k:
        raise ValidationError(f"regions must be between 1 and k ({k}), not {m}.")
    region_names = [f"R{i + 1}" for i in range(m)]
    if home_rows is not None and "parent" in home_rows:
        region_names = list(pd.unique(home_rows["parent"].astype(str)))
        if len(region_names) != m:
            raise ValidationError(
                f"The homes name {len(region_names)} parents (regions) but {m} regions were "
                "asked for."
            )
        region_of = [region_names.index(str(p)) for p in home_rows["parent"]]
        counts = np.bincount(region_of, minlength=m)
    else:
        if (locked >= 0).any():
            raise ValidationError(
                "Regions with locked blocks or homes need a 'parent' column in the homes table "
                "saying which region each territory belongs to."
            )
        counts = np.full(m, k // m)
        counts[: k % m] += 1
        region_of = np.repeat(np.arange(m), counts).tolist()
    total = weight.sum()
    top_seeds = [[b for t in range(k) if region_of[t] == r for b in seeds[t]] for r in range(m)]
    top_locked = np.where(locked >= 0, np.asarray(region_of)[np.maximum(locked, 0)], -1)
    top = replace(
        problem, target=total * counts / k, tolerance=tolerance / 3, seeds=top_seeds,
        locked=top_locked, allowed=None,
    )  # fmt: skip
    regions = solve(top, compactness, restarts)
    labels = np.full(len(graph), -1)
    for r in range(m):
        members = np.flatnonzero(regions == r)
        own = [t for t in range(k) if region_of[t] == r]
        sub, keep = graph.subgraph(members)
        local = {b: i for i, b in enumerate(keep.tolist())}
        sub_seeds = [[local[b] for b in seeds[t] if b in local] for t in own]
        sub_locked = np.array([own.index(locked[b]) if locked[b] in own else -1 for b in keep])
        w = weight[members]
        sub_allowed = None if allowed is None else allowed[np.ix_(members, own)]
        inner = replace(
            problem, graph=sub, weight=w, target=np.full(len(own), w.sum() / len(own)),
            tolerance=tolerance / 2, seeds=sub_seeds, locked=sub_locked, allowed=sub_allowed,
        )  # fmt: skip
        if len(members) < len(own):
            raise ValidationError(
                f"Region {region_names[r]} got {len(members)} blocks for {len(own)} "
                "territories; lower k or use fewer regions."
            )
        labels[members] = np.asarray(own)[solve(inner, compactness, restarts)]
    return labels, {t: region_names[region_of[t]] for t in range(k)}


def _dissolve(polygons: Polygons, alignment: pd.DataFrame) -> gpd.GeoDataFrame:
    frame = polygons.frame[[polygons.id, polygons.frame.geometry.name]].rename(
        columns={polygons.id: "block_id"}
    )
    frame = frame.merge(alignment.dropna(subset=["territory_id"]), on="block_id")
    keys = ["territory_id"] + (["parent"] if "parent" in frame else [])
    # a clean coverage (shared borders identical) dissolves fast; anything else by union
    coverage = bool(shapely.coverage_is_valid(frame.geometry.to_numpy()))
    method = "coverage" if coverage else "unary"
    return frame.dissolve(keys, method=method, as_index=False)[keys + ["geometry"]]
