"""Points sorted for range queries by box: the index under the assignment engine's passes.

Points are sorted once by a ``(latitude band << 32) | quantised longitude`` key, so the points
inside any box are, per band, one contiguous slice found by binary search; the candidates of
many boxes come out of one vectorised ``searchsorted`` (see ``docs/architecture.md``).
"""

from __future__ import annotations

import numpy as np


class SortedPoints:
    """Points sorted by a (band, quantised x) key for bounding-box range queries."""

    def __init__(self, x: np.ndarray, y: np.ndarray, band_height: float):
        self.xmin, self.xmax = float(x.min()), float(x.max())
        self.ymin, self.ymax = float(y.min()), float(y.max())
        self.h = max(band_height, (self.ymax - self.ymin) / 65536, 1e-9)
        self.nbands = int((self.ymax - self.ymin) / self.h) + 1
        self.scale = (2**31 - 2) / max(self.xmax - self.xmin, 1e-12)
        key = (self._band(y) << 32) | self._qx(x)
        self.order = np.argsort(key)
        self.key = key[self.order]
        self.x = x[self.order]
        self.y = y[self.order]

    def _band(self, y):
        return np.clip(((y - self.ymin) / self.h).astype(np.int64), 0, self.nbands - 1)

    def _qx(self, x):
        q = np.floor((np.clip(x, self.xmin, self.xmax) - self.xmin) * self.scale)
        return q.astype(np.int64)

    def _slices(self, boxes: np.ndarray):
        """Sorted-point slices ``[lo, hi)`` that can hold points of each box, one per band.

        Returns ``(box of each slice, lo, hi, boxes)``, the boxes with those that miss every
        point (or are NaN, as empty shapes give) zeroed.
        """
        inside = (boxes[:, 2] >= self.xmin) & (boxes[:, 0] <= self.xmax)
        inside &= (boxes[:, 3] >= self.ymin) & (boxes[:, 1] <= self.ymax)
        b = np.where(inside[:, None], boxes, 0.0)
        b0 = self._band(b[:, 1])
        nb = np.where(inside, self._band(b[:, 3]) - b0 + 1, 0)
        row = np.repeat(np.arange(len(b)), nb)
        band = b0[row] + ramp(nb)
        lo = np.searchsorted(self.key, (band << 32) | self._qx(b[row, 0]), "left")
        hi = np.searchsorted(self.key, (band << 32) | self._qx(b[row, 2]), "right")
        return row, lo, hi, b

    def candidates(self, bounds: np.ndarray, polys: np.ndarray):
        """Points in the bounding box of each polygon in ``polys``, for all at once.

        Returns ``(positions, starts)``: sorted-point positions grouped by polygon (in the order
        of ``polys``), and ``starts`` so polygon ``polys[k]`` owns
        ``positions[starts[k]:starts[k+1]]``. No Python loop runs per polygon or point.
        """
        row, lo, hi, b = self._slices(bounds[polys])
        lengths = hi - lo
        pos = np.repeat(lo, lengths) + ramp(lengths)
        owner = np.repeat(row, lengths)
        ys = self.y[pos]
        keep = (ys >= b[owner, 1]) & (ys <= b[owner, 3])
        pos, owner = pos[keep], owner[keep]
        starts = np.searchsorted(owner, np.arange(len(polys) + 1))
        return pos, starts

    def any_in(self, boxes: np.ndarray) -> np.ndarray:
        """Whether any point may lie in each box (exact in x, by band in y: a superset)."""
        row, lo, hi, _ = self._slices(boxes)
        return np.bincount(row, weights=hi - lo, minlength=len(boxes)) > 0


def ramp(lengths: np.ndarray) -> np.ndarray:
    """``[0..l0-1, 0..l1-1, ...]`` for the given run lengths, vectorised."""
    total = int(lengths.sum())
    offsets = np.cumsum(lengths) - lengths
    return np.arange(total, dtype=np.int64) - np.repeat(offsets, lengths)
