"""A database table split into partitions by key, for the Dask engine.

The key is the account id column. The database computes the boundaries (every ``rows``-th
key in key order), and each partition is one read of ``lower <= key < upper`` by a worker
(the first also takes NULL keys, so validation reports them). Names are identifiers and the
bounds are query parameters. A query (not a table) cannot be split without rewriting the
user's SQL, so it is read whole by the client and split in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from territory.db.read import combine, open_reader
from territory.db.source import DatabaseSource


@dataclass(frozen=True)
class KeyRange:
    """Rows with ``lower <= key < upper`` (None: unbounded); ``nulls`` also takes NULL keys."""

    key: str
    lower: object = None
    upper: object = None
    nulls: bool = False


def key_column(src: DatabaseSource, explicit: str | None, what: str = "accounts") -> str:
    """The account id column of the table (``explicit`` or detected like a file's)."""
    from territory import columns as cols
    from territory.io import Source

    with open_reader(src, what) as reader:
        names = reader.columns()
    frame = pd.DataFrame(columns=names)
    return cols.find_column(frame, explicit, cols.ACCOUNT_ID, what="account id",
                            source=Source(src.label), option="account id")  # fmt: skip


def key_ranges(src: DatabaseSource, key: str, rows: int) -> list[KeyRange]:
    """Ranges of about ``rows`` rows each, in key order, covering the whole table."""
    with open_reader(src, "accounts") as reader:
        bounds = reader.boundaries(key, rows)
    if len(bounds) <= 1:
        return [KeyRange(key, nulls=True)]
    edges = [None, *bounds[1:], None]
    return [
        KeyRange(key, lower, upper, nulls=i == 0)
        for i, (lower, upper) in enumerate(zip(edges[:-1], edges[1:], strict=True))
    ]


def read_range(src: DatabaseSource, part: KeyRange) -> pd.DataFrame:
    """One partition (run on a worker)."""
    with open_reader(src, "accounts") as reader:
        reader.only = part
        return combine(list(reader.frames(100_000)))
