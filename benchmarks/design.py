"""Territory design on the US county layer: territory's designer against two baselines.

    python benchmarks/design.py [--k 50] [--tolerance 0.02] [--accounts 50000]

Blocks: the full-resolution US Census county layer (``us_counties_500k.parquet`` in the shared
data folder, or the embedded simplified layer if it is absent), continental states only (about
3,100 counties). Accounts: generated around the embedded US ZIP points (see
``benchmarks/assign.py``), revenue gamma-distributed. All three methods run on the same block
graph (shared-edge adjacency, islands bridged) and are scored by the same quality report
(``territory.designer.quality``; Polsby-Popper in an equal-area CRS):

- ``territory``: ``territory.design(blocks, accounts, k=..., balance="revenue")`` end to end
  (reading, assigning accounts to blocks, adjacency, design, quality, dissolve);
- ``spopt RegionKMeansHeuristic``: spopt's contiguous region k-means on block centroids (it
  optimises compactness of the centroid clusters; it has no balance constraint);
- ``greedy``: plain greedy region growing: k random seeds, then the lightest territory takes its
  nearest unassigned neighbouring block until every block is taken.

Baseline times cover the solver only (the shared graph is built once for them), so they are
flattered. Then rebalancing: 10% of total revenue moves (random accounts lose it and random
accounts gain it; and, as a harder case, a systematic shift from west of 100°W to the east);
``design(..., current=plan, rebalance=True)`` is compared with designing again from scratch
(territories named after the current ones they overlap most), by revenue and accounts moved.

``--case zip``: the same on about 33,300 **approximate** ZIP areas (Voronoi cells of the
embedded ZCTA points clipped to their states, see ``benchmarks/zip_areas.py``; not official
boundaries) with 42,000 accounts (most ZIP areas hold one or none), k = 200, ±1 %; spopt's
region k-means when spopt is installed, and the greedy baseline. ``pp_min_union`` is the least
Polsby-Popper of each plan's territories measured on the shapely union of their ZIP areas (the
oracle for the graph's running sums).

``--case several``: counties, balancing revenue, accounts and workload at once, each within its
own tolerance (``--balance revenue,accounts,workload --tolerance 0.03``), then revenue and
accounts alone, against the baselines grown on their equal mix; max deviation and Gini per
measure for each, and workload per account from west to east (it follows county size).

Needs the ``bench`` extra: ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from assign import SHARED_COUNTIES, make_accounts  # noqa: E402

CONTINENTAL_EXCLUDED = {"02", "15", "60", "66", "69", "72", "78"}


def load_blocks():
    from importlib import resources

    import geopandas as gpd

    if SHARED_COUNTIES.exists():
        blocks = gpd.read_parquet(SHARED_COUNTIES)
        source = SHARED_COUNTIES.name
    else:
        blocks = gpd.read_parquet(resources.files("territory.data") / "us_counties.parquet")
        source = "embedded simplified counties"
    state = blocks["GEOID"].str[:2]
    blocks = blocks.loc[~state.isin(CONTINENTAL_EXCLUDED), ["GEOID", "geometry"]]
    return blocks.rename(columns={"GEOID": "block_id"}).reset_index(drop=True), source


def greedy(graph, weight, k, seed=0):
    """Greedy region growing: the lightest territory takes its nearest free neighbour."""
    import heapq

    rng = np.random.default_rng(seed)
    n = len(graph)
    label = np.full(n, -1)
    seeds = rng.choice(n, size=k, replace=False, p=(weight + 1e-9) / (weight + 1e-9).sum())
    load = np.zeros(k)
    frontier = [[] for _ in range(k)]
    for t, s in enumerate(seeds):
        label[s] = t
        load[t] = weight[s]
    for t, s in enumerate(seeds):
        for j in graph.neighbours[s]:
            heapq.heappush(
                frontier[t], (np.hypot(graph.x[j] - graph.x[s], graph.y[j] - graph.y[s]), j)
            )
    free = n - k
    active = set(range(k))
    while free and active:
        t = min(active, key=lambda t: load[t])
        while frontier[t] and label[frontier[t][0][1]] >= 0:
            heapq.heappop(frontier[t])
        if not frontier[t]:
            active.discard(t)
            continue
        _, b = heapq.heappop(frontier[t])
        label[b] = t
        load[t] += weight[b]
        free -= 1
        s = seeds[t]
        for j in graph.neighbours[b]:
            if label[j] < 0:
                heapq.heappush(
                    frontier[t], (np.hypot(graph.x[j] - graph.x[s], graph.y[j] - graph.y[s]), j)
                )
    return label


def region_kmeans(graph, k, seed=0):
    import libpysal
    from spopt.region import RegionKMeansHeuristic

    w = libpysal.weights.W(
        {i: list(n) for i, n in enumerate(graph.neighbours)}, silence_warnings=True
    )
    model = RegionKMeansHeuristic(np.c_[graph.x, graph.y], k, w, seed=seed)
    model.solve()
    return np.asarray(model.labels_)


def score(name, graph, labels, measures, weight, seconds, baseline=None, tolerances=None):
    from territory.designer.quality import plan_quality

    k = int(labels.max()) + 1
    _, s = plan_quality(
        graph, labels, [f"T{i}" for i in range(k)], measures, weight, baseline=baseline,
        tolerances=tolerances,
    )  # fmt: skip
    row = {
        "method": name,
        "seconds": round(seconds, 2),
        "max_dev_%": round(s["max_deviation_pct"], 2),
        **{f"{m}_dev_%": round(s[f"{m}_max_deviation_pct"], 2) for m in tolerances or {}},
        **{f"{m}_gini": round(s[f"{m}_gini"], 4) for m in tolerances or {}},
        "gini": round(s["gini"], 4),
        "pp_mean": round(s["polsby_popper_mean"], 3),
        "pp_min": round(s["polsby_popper_min"], 3),
        "contiguous": s["contiguous"],
    }
    if baseline is not None:
        row["revenue_moved_%"] = round(s["revenue_moved_pct"], 1)
        row["accounts_moved_%"] = round(100 * s["accounts_moved"] / measures["accounts"].sum(), 1)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", choices=("counties", "zip", "several"), default="counties")
    parser.add_argument("--k", type=int)
    parser.add_argument("--tolerance", type=float)
    parser.add_argument("--accounts", type=int)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.case == "zip":
        return zip_case(args.k or 200, args.tolerance or 0.01, args.accounts or 42_000, args.seed)
    if args.case == "several":
        return several_case(args.k or 50, args.tolerance or 0.03, args.accounts or 50_000,
                            args.seed)  # fmt: skip
    args.k, args.tolerance = args.k or 50, args.tolerance or 0.02
    args.accounts = args.accounts or 50_000

    import territory
    from territory.designer.inputs import load_inputs

    blocks, source = load_blocks()
    accounts = make_accounts(args.accounts, seed=1)
    print(
        f"blocks: {len(blocks)} continental counties ({source}); accounts: {len(accounts)}; "
        f"k = {args.k}, tolerance ±{args.tolerance:.0%}"
    )

    t = time.perf_counter()
    plan = territory.design(
        blocks, accounts, k=args.k, balance="revenue", tolerance=args.tolerance, seed=args.seed
    )
    ours_s = time.perf_counter() - t
    inputs, _ = load_inputs(
        blocks, accounts, "revenue", block_id=None, crs=None, account_options={}
    )
    graph = inputs.graph
    names = {t: i for i, t in enumerate(pd.unique(plan.alignment["territory_id"]))}
    ours = plan.alignment.set_index("block_id")["territory_id"].map(names).reindex(graph.ids)
    rows = [
        score("territory.design", graph, ours.to_numpy(int), inputs.measures, inputs.weight, ours_s)
    ]

    rows += baselines(graph, inputs.measures, inputs.weight, args.k, args.seed)
    table = pd.DataFrame(rows)
    print("\nDesign from scratch")
    print(table.to_string(index=False))
    for other in rows[1:]:
        print(f"compactness (PP mean) vs {other['method']}: "
              f"{rows[0]['pp_mean'] / other['pp_mean']:.2f}x; max deviation: "
              f"{rows[0]['max_dev_%']}% vs {other['max_dev_%']}%")  # fmt: skip

    # ---- rebalance after 10% of revenue moves
    current = plan.alignment[["block_id", "territory_id"]]
    print()
    for label, shifted in (
        ("10% of revenue churns: random accounts lose it, random accounts gain it",
         churn(accounts, 0.10, args.seed)),
        ("10% of revenue shifts from west of 100°W to the east (systematic)",
         west_to_east(accounts, 0.10)),
    ):  # fmt: skip
        broken = territory.plan_report(blocks, current, shifted, balance="revenue")[1]
        out = []
        for name, options in (
            ("rebalance", {"current": current, "rebalance": True}),
            ("design from scratch", {"current": current, "k": args.k, "seed": args.seed + 1}),
        ):
            t = time.perf_counter()
            result = territory.design(blocks, shifted, balance="revenue",
                                      tolerance=args.tolerance, **options)  # fmt: skip
            seconds = time.perf_counter() - t
            s = result.summary
            out.append({"method": name, "seconds": round(seconds, 2),
                        "max_dev_%": round(s["max_deviation_pct"], 2),
                        "pp_mean": round(s["polsby_popper_mean"], 3),
                        "contiguous": s["contiguous"], "blocks_moved": s["blocks_moved"],
                        "revenue_moved_%": round(s["revenue_moved_pct"], 1),
                        "accounts_moved_%": round(100 * s["accounts_moved"]
                                                  / s_accounts(result), 1)})  # fmt: skip
        print(f"Rebalance: {label}; the old plan's max deviation is now "
              f"{broken['max_deviation_pct']:.1f}%")  # fmt: skip
        print(pd.DataFrame(out).to_string(index=False))
        ratio = out[1]["revenue_moved_%"] / max(out[0]["revenue_moved_%"], 1e-9)
        print(f"rebalance moves {ratio:.1f}x less revenue than designing again\n")


def baselines(graph, measures, weight, k, seed, tolerances=None):
    """spopt's region k-means (when spopt is installed) and greedy region growing, scored."""
    return [score(name, graph, labels, measures, weight, seconds, tolerances=tolerances)
            for name, labels, seconds in baseline_plans(graph, weight, k, seed)]  # fmt: skip


def baseline_plans(graph, weight, k, seed):
    """``(method, labels, seconds)`` of spopt's region k-means (when spopt is installed) and of
    greedy region growing."""
    plans = []
    try:
        import spopt  # noqa: F401
    except ImportError:
        print("spopt is not installed: region k-means skipped (pip install spopt)")
    else:
        t = time.perf_counter()
        labels = region_kmeans(graph, k, seed)
        plans.append(("spopt RegionKMeansHeuristic", labels, time.perf_counter() - t))
    t = time.perf_counter()
    labels = greedy(graph, weight.to_numpy(float), k, seed)
    plans.append(("greedy region growing", labels, time.perf_counter() - t))
    return plans


def ours(plan, graph, inputs, seconds, tolerances=None):
    """territory.design's plan scored by the same quality report as the baselines."""
    names = {t: i for i, t in enumerate(pd.unique(plan.alignment["territory_id"]))}
    labels = plan.alignment.set_index("block_id")["territory_id"].map(names).reindex(graph.ids)
    return score("territory.design", graph, labels.to_numpy(int), inputs.measures, inputs.weight,
                 seconds, tolerances=tolerances)  # fmt: skip


def zip_case(k, tolerance, n_accounts, seed):
    """k territories from ~33,300 approximate ZIP areas with sparse accounts."""
    import os

    from zip_areas import APPROXIMATE, zip_areas

    import territory
    from territory.designer.inputs import load_inputs

    blocks = zip_areas()[["block_id", "geometry"]]
    accounts = make_accounts(n_accounts, seed=1)
    print(f"blocks: {len(blocks):,} {APPROXIMATE} (not official boundaries); accounts: "
          f"{len(accounts):,}; k = {k}, tolerance ±{tolerance:.0%}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    t = time.perf_counter()
    plan = territory.design(blocks, accounts, k=k, balance="revenue", tolerance=tolerance,
                            seed=seed, progress=_progress_line)  # fmt: skip
    seconds = time.perf_counter() - t
    print()
    inputs, _ = load_inputs(blocks, accounts, "revenue", block_id=None, crs=None,
                            account_options={})  # fmt: skip
    empty = (inputs.measures["accounts"] == 0).mean()
    print(f"{empty:.0%} of the ZIP areas hold no account; flags: {len(plan.flags)}")
    for flag in plan.flags:
        print(f"  {flag[:300]}")
    graph = inputs.graph
    names = {t: i for i, t in enumerate(pd.unique(plan.alignment["territory_id"]))}
    labels = plan.alignment.set_index("block_id")["territory_id"].map(names).reindex(graph.ids)
    plans = [("territory.design", labels.to_numpy(int), seconds)]
    plans += baseline_plans(graph, inputs.weight, k, seed)
    rows = []
    for name, labels, secs in plans:
        rows.append(score(name, graph, labels, inputs.measures, inputs.weight, secs))
        rows[-1]["pp_min_union"] = round(union_pp(graph, labels).min(), 3)
    print(pd.DataFrame(rows).to_string(index=False))
    print("pp_min_union: the least Polsby-Popper 4*pi*A/P^2 of the shapely union of each "
          "territory's ZIP areas (equal-area projection)")  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.1f}")


def union_pp(graph, labels) -> np.ndarray:
    """Polsby-Popper of each territory from the shapely union of its blocks (not the graph's
    running sums): the oracle for the compactness figures."""
    import shapely

    k = int(labels.max()) + 1
    shapes = [shapely.union_all(graph.geometry[labels == t]) for t in range(k)]
    return 4 * np.pi * shapely.area(shapes) / shapely.length(shapes) ** 2


def several_case(k, tolerance, n_accounts, seed):
    """Counties balanced on revenue, accounts and workload at once, each within ``tolerance``;
    then revenue and accounts alone (workload per account follows county size, so it pulls
    apart from the other two over whole regions)."""
    import territory
    from territory.designer.inputs import load_inputs

    blocks, source = load_blocks()
    accounts = make_accounts(n_accounts, seed=1)
    for balance in ("revenue,accounts,workload", "revenue,accounts"):
        tolerances = dict.fromkeys(balance.split(","), tolerance)
        print(f"\nblocks: {len(blocks)} continental counties ({source}); accounts: "
              f"{len(accounts)}; k = {k}, --balance {balance} --tolerance {tolerance}")  # fmt: skip
        t = time.perf_counter()
        plan = territory.design(blocks, accounts, k=k, balance=balance, tolerance=tolerance,
                                seed=seed)  # fmt: skip
        seconds = time.perf_counter() - t
        inputs, _ = load_inputs(blocks, accounts, balance, block_id=None, crs=None,
                                account_options={})  # fmt: skip
        if "workload" in tolerances:
            _workload_per_account(inputs)
        rows = [ours(plan, inputs.graph, inputs, seconds, tolerances)]
        rows += baselines(inputs.graph, inputs.measures, inputs.weight, k, seed, tolerances)
        print(pd.DataFrame(rows).to_string(index=False))
        for flag in plan.flags:
            print(f"  flag: {flag[:300]}")


def _workload_per_account(inputs) -> None:
    """Workload per account by fifths of the accounts from west to east, against the mean."""
    m, x = inputs.measures, inputs.graph.x
    order = np.argsort(x)
    fifth = np.minimum((5 * m["accounts"].to_numpy()[order].cumsum()
                        / m["accounts"].sum()).astype(int), 4)  # fmt: skip
    mean = m["workload"].sum() / m["accounts"].sum()
    ratios = [m["workload"].to_numpy()[order][fifth == f].sum()
              / max(m["accounts"].to_numpy()[order][fifth == f].sum(), 1) / mean
              for f in range(5)]  # fmt: skip
    print("workload per account by fifths of the accounts, west to east (x the mean): "
          + ", ".join(f"{r:.2f}" for r in ratios))  # fmt: skip


def _progress_line(step: str, done: float) -> None:
    print(f"\r[{done:4.0%}] {step[:70]:<70}", end="", flush=True)


def churn(accounts, share, seed):
    """Random accounts holding ``share`` of revenue lose it; as many random accounts gain it."""
    rng = np.random.default_rng(seed + 5)
    out = accounts.copy()
    order = rng.permutation(len(out))
    cum = out["revenue"].to_numpy()[order].cumsum()
    lose = order[: np.searchsorted(cum, share * cum[-1])]
    moved = out["revenue"].to_numpy()[lose].sum()
    revenue = out["revenue"].to_numpy().copy()
    revenue[lose] = 0
    gain = rng.choice(len(out), size=len(lose), replace=False)
    extra = rng.gamma(2.0, 1.0, len(gain))
    revenue[gain] += moved * extra / extra.sum()
    out["revenue"] = revenue
    return out


def west_to_east(accounts, share):
    out = accounts.copy()
    west = out["lon"] < -100
    moved = share * out["revenue"].sum()
    out.loc[west, "revenue"] *= 1 - moved / out.loc[west, "revenue"].sum()
    out.loc[~west, "revenue"] *= 1 + moved / out.loc[~west, "revenue"].sum()
    return out


def s_accounts(result) -> float:
    return float(result.quality["accounts"].sum())


if __name__ == "__main__":
    main()
