"""A cell grid over a polygon layer that answers most point-in-polygon questions by lookup.

The grid is laid over the points (where they meet the layer's bounding box) in two levels:
coarse blocks, and fine cells inside the blocks that hold points. Every ring segment of every
polygon marks the fine cells it passes through (with a small margin, so rounding never lets a
point slip into a neighbouring cell). A cell that no boundary passes through lies wholly in the
interior of the same polygons as its centre, or wholly outside all of them, and so does a run of
such cells that touch (in one row of a block, or a whole unmarked block): one exact test of one
centre answers for every point of the run:

- centre strictly inside exactly one polygon: every point of the cell is ``inside`` it;
- centre inside none: every point of the cell is outside every polygon (and touches none);
- otherwise (a boundary passes through, or overlapping polygons): the points are *border*
  points and the caller tests them exactly.

The answers are those of the exact test, not an approximation: the grid only decides which
points need it. All work is in numpy; no Python code runs per point, cell or segment.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import shapely

BORDER = -1  # a cell whose points must be tested exactly
OUTSIDE = -2  # a cell (or point) outside every polygon, touching none
FINE = 16  # fine cells per block side
MAX_BLOCKS = 1 << 22  # coarse grid size cap (dense rank table)
MAX_CELLS = 1 << 25  # fine cells allocated over the occupied blocks
CELLS_PER_POLYGON = 40  # fine cell side ~ median polygon height / this

Contains = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class _Grid:
    """Fine grid of side ``s`` from ``(x0, y0)``; blocks of ``FINE`` x ``FINE`` cells."""

    x0: float
    y0: float
    s: float
    ngx: int
    ngy: int
    block_rank: np.ndarray  # dense coarse index -> compact block number, -1 if unoccupied
    nblocks: int

    @property
    def nbx(self) -> int:
        return -(-self.ngx // FINE)

    def cells(self, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
        """Compact fine-cell number of global cell ``(gx, gy)``, -1 in unoccupied blocks."""
        blk = self.block_rank[(gy // FINE) * self.nbx + gx // FINE]
        sub = (gy % FINE) * FINE + gx % FINE
        return np.where(blk >= 0, blk * (FINE * FINE) + sub, -1)  # < MAX_CELLS: int32 suffices


def _global_cells(grid_x0, grid_y0, s, ngx, ngy, x, y):
    gx = np.clip(np.floor((x - grid_x0) / s), 0, ngx - 1).astype(np.int32)
    gy = np.clip(np.floor((y - grid_y0) / s), 0, ngy - 1).astype(np.int32)
    return gx, gy


CHUNK = 1 << 16  # points per piece of the per-point steps: their temporaries stay in cache


def per_chunk(n: int, work: Callable[[slice], None], threads: int | None = None) -> None:
    """Run ``work(piece)`` over slices of ``range(n)`` of :data:`CHUNK` points on all cores
    (numpy releases the GIL on these arrays); ``work`` writes its results itself."""
    pieces = [slice(a, min(a + CHUNK, n)) for a in range(0, n, CHUNK)]
    workers = max(1, min(threads or os.cpu_count() or 1, len(pieces)))

    def run(part):
        for piece in part:
            work(piece)

    if workers == 1:
        run(pieces)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, [pieces[i::workers] for i in range(workers)]))


def _make_grid(x, y, box, s, threads=None) -> _Grid:
    """Grid of side ``s`` over ``box`` (coarsened until its blocks with points fit)."""
    x0, y0, x1, y1 = box
    while True:
        ngx = int((x1 - x0) / s) + 1
        ngy = int((y1 - y0) / s) + 1
        nbx, nby = -(-ngx // FINE), -(-ngy // FINE)
        if nbx * nby <= MAX_BLOCKS:
            occupied = np.zeros(nbx * nby, dtype=bool)

            def mark(piece, ngx=ngx, ngy=ngy, nbx=nbx, s=s, occupied=occupied):
                gx, gy = _global_cells(x0, y0, s, ngx, ngy, x[piece], y[piece])
                occupied[(gy // FINE) * nbx + gx // FINE] = True  # all writes are True

            per_chunk(len(x), mark, threads)
            nblocks = int(occupied.sum())
            if nblocks * FINE * FINE <= MAX_CELLS:
                break
        s *= 1.5
    rank = np.full(nbx * nby, -1, dtype=np.int32)
    rank[occupied] = np.arange(nblocks, dtype=np.int32)
    return _Grid(x0, y0, s, ngx, ngy, rank, nblocks)


def _border_cells(grid: _Grid, polygons: np.ndarray, threads: int | None = None) -> np.ndarray:
    """Boolean per compact fine cell: a ring segment passes through it (or its margin)."""
    marked = np.zeros(grid.nblocks * FINE * FINE, dtype=bool)
    rings = shapely.get_rings(shapely.get_parts(polygons))
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    cx, cy = (coords[:, 0] - grid.x0) / grid.s, (coords[:, 1] - grid.y0) / grid.s  # in cells
    # Segments no longer than a block that start and end away from every block with points
    # (not in one, nor next to one) cannot mark a cell of one: skip them. Vertices beyond the
    # grid count as in its edge block, which is no farther from any block.
    occupied = (grid.block_rank >= 0).reshape(-1, grid.nbx)
    near_points = occupied.copy()
    near_points[1:] |= occupied[:-1]
    near_points[:-1] |= occupied[1:]
    near_points[:, 1:] |= near_points[:, :-1].copy()
    near_points[:, :-1] |= near_points[:, 1:].copy()
    bx = np.clip(np.floor(cx / FINE), 0, grid.nbx - 1).astype(np.int64)
    by = np.clip(np.floor(cy / FINE), 0, len(occupied) - 1).astype(np.int64)
    vertex_near = near_points[by, bx]
    same = ring[:-1] == ring[1:]
    span = np.maximum(np.abs(cx[1:] - cx[:-1]), np.abs(cy[1:] - cy[:-1]))
    keep = np.flatnonzero(same & (vertex_near[:-1] | vertex_near[1:] | (span >= FINE - 1)))
    chunks = np.array_split(keep, max(1, len(keep) // 131072))
    workers = max(1, min(threads or os.cpu_count() or 1, len(chunks)))

    def run(part):  # numpy releases the GIL on these arrays; writes are all True
        for seg in part:
            _mark(grid, marked, cx[seg], cy[seg], cx[seg + 1], cy[seg + 1], span[seg])

    if workers == 1:
        run(chunks)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, [chunks[i::workers] for i in range(workers)]))
    return marked


def _mark(grid: _Grid, marked: np.ndarray, ax, ay, bx, by, span) -> None:
    """Mark the cells segments ``a``-``b`` (in cells from the grid origin) pass through, with a
    margin of ``2e-6`` cell."""
    # cut segments into pieces of at most half a cell, so each piece's box (with its margin)
    # spans at most 2 x 2 cells: the cells of its corners
    pieces = np.maximum(np.ceil(span * 2), 1).astype(np.int64)
    long = np.flatnonzero(pieces > 1)
    if len(long):
        n = pieces[long]
        seg = np.repeat(long, n)
        k = np.arange(len(seg), dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
        t0, t1 = k / pieces[seg], (k + 1) / pieces[seg]
        dx, dy = bx[seg] - ax[seg], by[seg] - ay[seg]
        short = pieces == 1
        ax, bx = (np.concatenate([ax[short], ax[seg] + dx * t0]),
                  np.concatenate([bx[short], ax[seg] + dx * t1]))  # fmt: skip
        ay, by = (np.concatenate([ay[short], ay[seg] + dy * t0]),
                  np.concatenate([by[short], ay[seg] + dy * t1]))  # fmt: skip
    margin = 2e-6
    gx0 = np.floor(np.minimum(ax, bx) - margin)
    gx1 = np.floor(np.maximum(ax, bx) + margin)
    gy0 = np.floor(np.minimum(ay, by) - margin)
    gy1 = np.floor(np.maximum(ay, by) + margin)
    ok = (gx1 >= 0) & (gy1 >= 0) & (gx0 < grid.ngx) & (gy0 < grid.ngy)
    gx0, gx1 = (np.clip(v[ok], 0, grid.ngx - 1).astype(np.int64) for v in (gx0, gx1))
    gy0, gy1 = (np.clip(v[ok], 0, grid.ngy - 1).astype(np.int64) for v in (gy0, gy1))
    cells = grid.cells(gx0, gy0)
    marked[cells[cells >= 0]] = True
    wide, tall = gx1 > gx0, gy1 > gy0
    for gx, gy, sel in ((gx1, gy0, wide), (gx0, gy1, tall), (gx1, gy1, wide & tall)):
        sel = np.flatnonzero(sel)
        cells = grid.cells(gx[sel], gy[sel])
        marked[cells[cells >= 0]] = True


def cell_labels(
    x: np.ndarray,
    y: np.ndarray,
    polygons: np.ndarray,
    bounds: np.ndarray,
    contains: Contains,
    threads: int | None = None,
) -> np.ndarray:
    """Per point: the position of the one polygon it is strictly inside, :data:`OUTSIDE`, or
    :data:`BORDER` (test exactly).

    ``x``, ``y`` are finite coordinates; ``bounds`` the polygons' boxes (NaN for empty shapes);
    ``contains(xs, ys)`` is the exact test, returning ``(point positions, polygon positions)``
    of every strict containment.
    """
    label = np.full(len(x), OUTSIDE, dtype=np.int32)
    finite = np.isfinite(bounds).all(axis=1)
    if not len(x) or not finite.any():
        return label
    lx0, ly0 = bounds[finite, 0].min(), bounds[finite, 1].min()
    lx1, ly1 = bounds[finite, 2].max(), bounds[finite, 3].max()
    near = (x >= lx0) & (x <= lx1) & (y >= ly0) & (y <= ly1)  # else outside every box
    idx = np.flatnonzero(near)
    if not len(idx):
        return label
    px, py = (x, y) if len(idx) == len(x) else (x[idx], y[idx])
    box = (max(px.min(), lx0), max(py.min(), ly0), min(px.max(), lx1), min(py.max(), ly1))
    height = float(np.median(bounds[finite, 3] - bounds[finite, 1]))
    extent = max(box[2] - box[0], box[3] - box[1], 1e-9)
    s = max(height / CELLS_PER_POLYGON, extent / 2**20, 1e-9)
    grid = _make_grid(px, py, box, s, threads)
    # Cells no boundary passes through, joined into runs: the free cells of a row of a block
    # that touch, or a whole block when none of its cells is marked. A run lies in the
    # interior of the same polygons throughout, so one test of one cell centre answers it.
    free = ~_border_cells(grid, polygons, threads).reshape(grid.nblocks, FINE, FINE)
    coarse = np.flatnonzero(grid.block_rank >= 0)
    sub = np.arange(FINE)
    # cells of edge blocks beyond the grid hold no points and are never marked: leave them out
    free &= ((coarse // grid.nbx)[:, None] * FINE + sub < grid.ngy)[:, :, None]
    free &= ((coarse % grid.nbx)[:, None] * FINE + sub < grid.ngx)[:, None, :]
    start = free.copy()
    start[:, :, 1:] &= ~free[:, :, :-1]
    start[free.all(axis=(1, 2)), 1:, 0] = False  # a free block is one run
    start = start.ravel()
    run = np.cumsum(start, dtype=np.int32)
    run[~free.ravel()] = 0
    point_run = np.empty(len(px), dtype=np.int32)
    held = np.zeros(int(start.sum()) + 1, dtype=bool)  # runs that hold points

    def lookup(piece, run=run):
        gx, gy = _global_cells(grid.x0, grid.y0, grid.s, grid.ngx, grid.ngy, px[piece], py[piece])
        point_run[piece] = r = run[grid.cells(gx, gy)]
        held[r] = True  # all writes are True

    per_chunk(len(px), lookup, threads)
    del run, lookup
    tested = np.flatnonzero(held[1:])
    rep = np.flatnonzero(start)[tested]  # the first cell of each run that holds points
    sub, blk = rep % (FINE * FINE), rep // (FINE * FINE)
    cx = grid.x0 + ((coarse[blk] % grid.nbx) * FINE + sub % FINE + 0.5) * grid.s
    cy = grid.y0 + ((coarse[blk] // grid.nbx) * FINE + sub // FINE + 0.5) * grid.s
    pt, poly = contains(cx, cy) if len(rep) else (np.zeros(0, np.int64),) * 2
    hits = np.bincount(pt, minlength=len(rep))
    run_label = np.full(int(start.sum()) + 1, BORDER, dtype=np.int32)
    run_label[1 + tested[hits == 0]] = OUTSIDE
    single = hits[pt] == 1
    run_label[1 + tested[pt[single]]] = poly[single]
    if len(idx) == len(x):
        per_chunk(len(x), lambda k: np.take(run_label, point_run[k], out=label[k]), threads)
    else:
        label[idx] = run_label[point_run]
    return label
