"""Overlap checks of polygon layers, remembered between runs.

Testing a detailed layer for overlapping shapes is the largest fixed cost of an assignment run
(about 0.7 s on two cores for the 3,233 full-resolution US counties), and it gives the same
answer every time the shapes are the same: the usual loop of re-running after each alignment
change keeps the block layer as it is. The pairs found are kept in the user's cache folder
(``$XDG_CACHE_HOME/territory/layer-checks`` or ``~/.cache/territory/layer-checks``) under a key
made of the shapes themselves (a SHA-256 digest of their WKB in layer order and their
precision grids) and the code that tests them (territory's version, the check's source,
shapely's and GEOS's versions). A run on the same shapes reads the pairs back instead of
testing again; any other shape, order or version is another key. Every pair whose interiors
overlap is kept, with its share, so one entry serves any sliver threshold (the layer check's,
and the block graph's, which needs the slivers). A file that cannot be read, or does not hold
what its name says, is ignored and the layer is tested again; a cache folder that cannot be
written only means the next run tests again too. At most :data:`KEEP` layers are kept, the
least recently used removed first.

Layers of fewer than :data:`FROM_COORDINATES` coordinates are always tested directly: for them
the test costs about what reading a file does.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import shapely

from territory import __version__

SCHEMA = "territory-overlaps/2"
FROM_COORDINATES = 200_000
KEEP = 64  # files kept; the least recently used are removed when a new one is written

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]  # left, right positions and overlap share


def folder() -> Path:
    from territory.command_cache import cache_file

    return cache_file().parent / "layer-checks"


def layer_key(geoms: np.ndarray) -> str:
    """Digest of the shapes (WKB, in order, and their precision grids, which WKB does not keep
    and intersections follow) and of the code that tests them: territory's version, the
    source of the check, shapely's and GEOS's versions."""
    from territory import validate

    wkb = validate.in_threads(partial(shapely.to_wkb, byte_order=1, include_srid=False), geoms)
    digest = hashlib.sha256(f"{SCHEMA}\0{_code_version()}\0".encode())
    digest.update(np.array([0 if w is None else len(w) for w in wkb], dtype=np.int64).tobytes())
    digest.update(np.asarray(shapely.get_precision(geoms), dtype=np.float64).tobytes())
    digest.update(b"".join(w for w in wkb if w is not None))
    return digest.hexdigest()


@functools.cache
def _code_version() -> str:
    """What the answer depends on besides the shapes (an edited install changes the source)."""
    from territory import validate

    try:
        source = inspect.getsource(validate._overlap_pairs) + inspect.getsource(validate._box_pairs)
    except (OSError, TypeError):
        source = ""
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    return f"{__version__}\0{shapely.__version__}\0{shapely.geos_version_string}\0{digest}"


def cached_overlaps(geoms: np.ndarray, compute: Callable[[], Pairs]) -> Pairs:
    """``compute()`` for this layer, or the pairs it gave last time on the same shapes."""
    if int(shapely.get_num_coordinates(geoms).sum()) < FROM_COORDINATES:
        return compute()
    key = layer_key(geoms)
    path = folder() / f"{key}.json"
    found = _read(path, key, len(geoms))
    if found is not None:
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: the last to be removed
        return found
    pairs = compute()
    _write(path, key, pairs)
    return pairs


def _read(path: Path, key: str, n: int) -> Pairs | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("schema") != SCHEMA or data.get("key") != key:
            return None
        left = np.asarray(data["left"], dtype=np.int64)
        right = np.asarray(data["right"], dtype=np.int64)
        share = np.asarray(data["share"], dtype=float)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    sizes_match = len(left) == len(right) == len(share)
    in_layer = sizes_match and (
        len(left) == 0 or (min(left.min(), right.min()) >= 0 and max(left.max(), right.max()) < n)
    )
    return (left, right, share) if in_layer else None


def _write(path: Path, key: str, pairs: Pairs) -> None:
    from territory.command_cache import write_quietly

    left, right, share = pairs
    write_quietly(path, {"schema": SCHEMA, "key": key, "left": left.tolist(),
                         "right": right.tolist(), "share": share.tolist()})  # fmt: skip
    try:
        files = sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for old in files[:-KEEP]:
            os.remove(old)
    except OSError:
        pass
