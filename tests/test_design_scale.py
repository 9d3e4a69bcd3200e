"""Territory design at ZIP-like scale: thousands of Voronoi blocks, most of them empty.

Checked against independent oracles: contiguity from a shapely shared-edge adjacency and
scipy's connected components, compactness from shapely areas and lengths of the dissolved
territories, balance from the accounts' revenue summed per territory.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

import territory

CRS = "EPSG:32633"  # UTM 33N, metres
K, TOLERANCE = 30, 0.01
PP_FLOOR = 0.10


def voronoi_blocks(n=4000, seed=3, width=600_000.0, height=400_000.0):
    """``n`` Voronoi cells of random points in a rectangle (like approximate ZIP areas)."""
    rng = np.random.default_rng(seed)
    # denser in a few "cities", as ZIP areas are
    centres = rng.uniform([0, 0], [width, height], (8, 2))
    near = centres[rng.integers(0, 8, n // 2)] + rng.normal(0, 25_000, (n // 2, 2))
    far = rng.uniform([0, 0], [width, height], (n - n // 2, 2))
    pts = np.clip(np.vstack([near, far]), 1, [width - 1, height - 1])
    frame = shapely.box(0, 0, width, height)
    cells = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame)
    cells = shapely.intersection(shapely.get_parts(cells), frame)
    return gpd.GeoDataFrame(
        {"block_id": [f"Z{i:05d}" for i in range(len(cells))]}, geometry=cells, crs=CRS
    )


def sparse_accounts(blocks, n=6000, seed=4):
    """Accounts clustered around a few centres: most blocks hold none."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = blocks.total_bounds
    centres = rng.uniform([x0, y0], [x1, y1], (12, 2))
    xy = centres[rng.integers(0, 12, n)] + rng.normal(0, 20_000, (n, 2))
    xy = np.clip(xy, [x0 + 1, y0 + 1], [x1 - 1, y1 - 1])
    return gpd.GeoDataFrame(
        {"account_id": [f"A{i}" for i in range(n)], "revenue": rng.gamma(2.0, 500.0, n)},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=CRS,
    )


def shared_edge_adjacency(blocks) -> sparse.csr_matrix:
    """Blocks that touch along a line (not only at a corner), from shapely."""
    geoms = blocks.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="touches")
    shared = shapely.length(shapely.intersection(geoms[left], geoms[right]))
    keep = shared > 1e-6
    n = len(geoms)
    return sparse.csr_matrix((np.ones(keep.sum()), (left[keep], right[keep])), shape=(n, n))


@pytest.fixture(scope="module")
def layer():
    blocks = voronoi_blocks()
    return blocks, sparse_accounts(blocks)


@pytest.fixture(scope="module")
def designed(layer):
    blocks, accounts = layer
    return territory.design(blocks, accounts, k=K, balance="revenue", tolerance=TOLERANCE, seed=7)


@pytest.mark.slow
def test_zip_like_layer_is_designed_balanced_contiguous_and_compact(layer, designed):
    blocks, accounts = layer
    inside = gpd.sjoin(accounts, blocks, predicate="within")["block_id"]
    revenue = accounts["revenue"].groupby(inside).sum()
    assert (revenue.reindex(blocks["block_id"]).fillna(0) == 0).mean() > 0.6  # mostly empty
    align = designed.alignment.set_index("block_id")["territory_id"]
    territory_of = align.reindex(blocks["block_id"]).to_numpy()
    assert len(set(territory_of)) == K and not any(t is None for t in territory_of)
    # balance: every territory's revenue within the tolerance of the even share
    load = revenue.groupby(align.reindex(revenue.index)).sum().reindex(sorted(set(territory_of)))
    even = accounts["revenue"].sum() / K
    assert (load / even - 1).abs().max() <= TOLERANCE + 1e-9
    # contiguity: each territory is one connected piece of the shared-edge adjacency
    adj = shared_edge_adjacency(blocks).tocoo()
    same = territory_of[adj.row] == territory_of[adj.col]
    n = len(blocks)
    graph = sparse.csr_matrix((np.ones(same.sum()), (adj.row[same], adj.col[same])), (n, n))
    _, piece = connected_components(graph, directed=False)
    assert all(len(set(piece[territory_of == t])) == 1 for t in set(territory_of))
    # compactness: Polsby-Popper of each dissolved territory, from shapely
    shapes = blocks.assign(t=territory_of).dissolve("t").geometry
    pp = 4 * np.pi * shapely.area(shapes.to_numpy()) / shapely.length(shapes.to_numpy()) ** 2
    assert pp.min() >= PP_FLOOR, sorted(pp)[:5]


@pytest.mark.slow
def test_same_seed_gives_the_same_alignment(layer, designed):
    blocks, accounts = layer
    again = territory.design(blocks, accounts, k=K, balance="revenue", tolerance=TOLERANCE, seed=7)
    first = designed.alignment.set_index("block_id")["territory_id"].sort_index()
    second = again.alignment.set_index("block_id")["territory_id"].sort_index()
    assert first.equals(second)
