"""Web shapes remembered by the shapes they were made from, in this process and in result folders.

Simplifying blocks and territories for the web (reprojecting, checking the coverage, simplifying
it, rounding) is a good part of drawing a map. :func:`territory.maps.render._web_shapes` keeps
its recent results here, keyed by a digest of the input shapes (well-known binary), their CRS
and the tolerance, so the same shapes are simplified once: a plan's map and its tracking maps,
or a map drawn from a result folder, whose run stored the shapes it drew
(:func:`used_since`, :func:`remember`). A key covers every input byte, so a remembered value is
exactly what simplifying again would give.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np
import shapely

SIZE = 8  # entries kept
_MEMO: OrderedDict[tuple[str, float], np.ndarray] = OrderedDict()
_USED: list[tuple[str, float]] = []


def key(geoms: np.ndarray, crs, simplify_m: float) -> tuple[str, float]:
    """The digest of ``geoms`` (in ``crs``) and the tolerance."""
    h = hashlib.sha256((crs.to_wkt() if crs is not None else "").encode())
    wkb = [b or b"" for b in shapely.to_wkb(geoms, hex=False)] if len(geoms) else []
    h.update(np.fromiter((len(b) for b in wkb), dtype=np.int64, count=len(wkb)).tobytes())
    h.update(b"".join(wkb))
    return h.hexdigest(), float(simplify_m)


def get(k: tuple[str, float]) -> np.ndarray | None:
    found = _MEMO.get(k)
    if found is not None:
        _MEMO.move_to_end(k)
        _USED.append(k)
        found = found.copy()  # the shapes are immutable; the array is the caller's
    return found


def remember(k: tuple[str, float], shapes: np.ndarray) -> None:
    _MEMO[k] = np.array(shapes, dtype=object, copy=True)
    _MEMO.move_to_end(k)
    _USED.append(k)
    while len(_MEMO) > SIZE:
        _MEMO.popitem(last=False)


def mark() -> int:
    """A point in time for :func:`used_since`."""
    return len(_USED)


def used_since(start: int) -> list[tuple[tuple[str, float], np.ndarray]]:
    """The entries made or used since :func:`mark` returned ``start`` (each once)."""
    keys = dict.fromkeys(_USED[start:])
    return [(k, _MEMO[k]) for k in keys if k in _MEMO]


def clear() -> None:
    """Forget every remembered shape."""
    _MEMO.clear()
    _USED.clear()
