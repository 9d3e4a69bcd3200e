"""Building blocks as a graph: geometry, shared-edge adjacency, measures per block.

Areas, perimeters and shared-edge lengths are measured on the blocks' own geometry with
:mod:`territory.geometry` (on the WGS84 ellipsoid for lon/lat layers), the same measures the
KPIs use, so a territory's Polsby-Popper compactness is the same in a design report and in a
plan's KPIs. Centroids and distances come from a Lambert azimuthal equal-area projection
centred on the blocks' mass (in km). Two blocks are neighbours when their boundaries share an
edge (a line of positive length; touching at a corner does not count). Blocks that no edge
connects to the rest (islands, enclaves cut off by water, blocks of a layer with gaps) are
*bridged* to the nearest block of another part and each bridge is reported.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from territory.geometry import area_perimeter_km, equal_area_crs, length_km
from territory.validate import Polygons


@dataclass
class BlockGraph:
    """Blocks with equal-area geometry (km) and a connected shared-edge adjacency.

    ``neighbours[b]`` lists the blocks adjacent to ``b`` and ``shared[b]`` the shared-edge
    length (km) with each (0 for bridges). ``bridges`` lists the links added to join
    disconnected parts: ``block_id``, ``to_block_id``, ``distance_km``.
    """

    ids: np.ndarray
    geometry: np.ndarray  # equal-area geometry, metres
    crs: pyproj.CRS  # of ``geometry``
    area: np.ndarray  # km²
    perimeter: np.ndarray  # km
    x: np.ndarray  # centroid, km
    y: np.ndarray
    neighbours: list[list[int]]
    shared: list[list[float]]
    bridges: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def index(self) -> pd.Index:
        return pd.Index(self.ids, name="block_id")

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every adjacency in both directions: ``(from, to, shared-edge length km)`` arrays."""
        rows = np.repeat(np.arange(len(self)), [len(n) for n in self.neighbours])
        cols = np.fromiter((j for n in self.neighbours for j in n), dtype=np.int64, count=len(rows))
        shared = np.fromiter((s for lens in self.shared for s in lens), float, count=len(rows))
        return rows, cols, shared

    def inner_edge(self, labels: np.ndarray, k: int) -> np.ndarray:
        """Shared-edge length (km) inside each of ``k`` territories, each edge counted once."""
        rows, cols, shared = self.edges()
        same = labels[rows] == labels[cols]
        return np.bincount(labels[rows[same]], weights=shared[same], minlength=k) / 2

    def matrix(self) -> sparse.csr_matrix:
        """Sparse adjacency with centroid distances (km) as entries."""
        rows, cols, _ = self.edges()
        lengths = np.hypot(self.x[rows] - self.x[cols], self.y[rows] - self.y[cols])
        return sparse.csr_matrix(
            (np.maximum(lengths, 1e-9), (rows, cols)), shape=(len(self), len(self))
        )

    def subgraph(self, members: np.ndarray) -> tuple[BlockGraph, np.ndarray]:
        """The graph of ``members`` (block positions) only, and the positions it keeps."""
        members = np.asarray(members)
        local = np.full(len(self), -1)
        local[members] = np.arange(len(members))
        neighbours, shared = [], []
        for b in members:
            keep = [
                (local[j], s)
                for j, s in zip(self.neighbours[b], self.shared[b], strict=True)
                if local[j] >= 0
            ]
            neighbours.append([j for j, _ in keep])
            shared.append([s for _, s in keep])
        sub = BlockGraph(
            self.ids[members],
            self.geometry[members],
            self.crs,
            self.area[members],
            self.perimeter[members],
            self.x[members],
            self.y[members],
            neighbours,
            shared,
        )
        return sub, members


def build_graph(polygons: Polygons, threads: int = 2) -> BlockGraph:
    """Project blocks to an equal-area CRS, find shared-edge neighbours and bridge islands.

    Areas, perimeters and shared-edge lengths are measured on the layer's own geometry with
    :mod:`territory.geometry` (on the ellipsoid for lon/lat layers), exactly as the KPIs
    measure territories; the projection gives centroids and distances in km.
    """
    frame = polygons.frame
    source_crs = pyproj.CRS.from_user_input(frame.crs)
    source = frame.geometry.to_numpy()
    crs = equal_area_crs(source, source_crs)
    geoms = frame.geometry.to_crs(crs).to_numpy()
    ids = frame[polygons.id].to_numpy(dtype=object)
    centroids = shapely.centroid(geoms)
    # a centroid outside its block (a crescent, a chain of islands): use an interior point
    outside = ~shapely.contains_xy(geoms, shapely.get_x(centroids), shapely.get_y(centroids))
    centroids[outside] = shapely.point_on_surface(geoms[outside])
    n = len(geoms)

    tree = shapely.STRtree(geoms)  # positions match ``source``: one tree serves both
    i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    boundaries = shapely.boundary(source)

    def shared_length(chunk):
        lines = shapely.intersection(boundaries[i[chunk]], boundaries[j[chunk]])
        return length_km(lines, source_crs)

    chunks = np.array_split(np.arange(len(i)), max(1, min(threads * 4, len(i) // 500 or 1)))
    with ThreadPoolExecutor(threads) as pool:
        lengths = np.concatenate([np.zeros(0), *pool.map(shared_length, chunks)])
    lengths = _with_overlapping_borders(source, geoms, boundaries, i, j, lengths, source_crs)
    area, perimeter = area_perimeter_km(source, source_crs)
    edge = lengths > 0
    i, j, lengths = i[edge], j[edge], lengths[edge]

    neighbours: list[list[int]] = [[] for _ in range(n)]
    shared: list[list[float]] = [[] for _ in range(n)]
    for a, b, s in zip(i.tolist(), j.tolist(), lengths.tolist(), strict=True):
        neighbours[a].append(b)
        shared[a].append(s)
        neighbours[b].append(a)
        shared[b].append(s)
    graph = BlockGraph(
        ids=ids,
        geometry=geoms,
        crs=crs,
        area=area,
        perimeter=perimeter,
        x=shapely.get_x(centroids) / 1e3,
        y=shapely.get_y(centroids) / 1e3,
        neighbours=neighbours,
        shared=shared,
    )
    graph.bridges = _bridge(graph)
    return graph


def _with_overlapping_borders(source, geoms, boundaries, i, j, lengths, crs) -> np.ndarray:
    """Shared lengths, also for neighbours whose borders overlap by slivers.

    Layers drawn from several sources (areas clipped to their states, borders digitised twice)
    often have neighbours that overlap slightly instead of sharing an edge: their boundaries
    cross, or run together only here and there. For a pair whose interiors overlap (the layer
    check's pairs, :func:`territory.validate.overlap_pairs`) the shared length is the mean of
    the lengths of each one's boundary inside the other (the shared edge itself when borders
    coincide), when the overlap is a sliver along it: at least :data:`SLIVER` times as long as
    it is wide (``geoms``, in an equal-area CRS, give its area). Pairs meeting at a corner, or
    overlapping there in a small patch, share no more than their boundaries do.
    """
    from territory.validate import overlap_pairs

    a, b, _ = overlap_pairs(source)
    if not len(a) or not len(i):
        return lengths
    n = len(source)
    pair = i.astype(np.int64) * n + j
    order = np.argsort(pair)
    at = np.searchsorted(pair, a.astype(np.int64) * n + b, sorter=order)
    at = order[np.minimum(at, len(pair) - 1)]
    found = pair[at] == a.astype(np.int64) * n + b  # overlapping shapes always intersect
    a, b, at = a[found], b[found], at[found]
    inside_b = length_km(shapely.intersection(boundaries[a], source[b]), crs)
    inside_a = length_km(shapely.intersection(boundaries[b], source[a]), crs)
    shared = (inside_a + inside_b) / 2
    width = shapely.area(shapely.intersection(geoms[a], geoms[b])) / np.maximum(shared * 1e3, 1e-9)
    out = lengths.copy()
    sliver = shared * 1e3 >= SLIVER * width
    out[at[sliver]] = np.maximum(out[at[sliver]], shared[sliver])
    return out


SLIVER = 10  # an overlap this many times longer than wide runs along a shared border


def _bridge(graph: BlockGraph) -> pd.DataFrame:
    """Join disconnected parts: the smallest part to the nearest block outside it, repeatedly."""
    rows = []
    src, dst, _ = graph.edges()
    src, dst = src.tolist(), dst.tolist()
    n = len(graph)
    while True:
        adjacency = sparse.csr_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
        count, label = connected_components(adjacency, directed=False)
        if count <= 1:
            break
        sizes = np.bincount(label)
        part = int(np.argmin(sizes))  # the smallest part first: fewest blocks to measure from
        members = np.flatnonzero(label == part)
        others = np.flatnonzero(label != part)
        # nearest block outside this part, measured between the polygons themselves
        (a, b), dist = _nearest_pair(graph, members, others)
        graph.neighbours[a].append(b)
        graph.shared[a].append(0.0)
        graph.neighbours[b].append(a)
        graph.shared[b].append(0.0)
        src.append(a)
        dst.append(b)
        rows.append((graph.ids[a], graph.ids[b], dist))
        # then recompute the parts: this bridge may have joined several
    return pd.DataFrame(rows, columns=["block_id", "to_block_id", "distance_km"])


def _nearest_pair(graph, members, others) -> tuple[tuple[int, int], float]:
    """The closest (member, other) pair of blocks and its distance (km), in one nearest query
    of every member against a tree of the others."""
    geoms = graph.geometry
    tree = shapely.STRtree(geoms[others])
    (src, dst), dist = tree.query_nearest(geoms[members], return_distance=True)
    best = int(np.argmin(dist))
    return (int(members[src[best]]), int(others[dst[best]])), float(dist[best]) / 1e3
