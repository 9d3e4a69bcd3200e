"""The Dask engine: the same plan on dask-geopandas partitions on a ``distributed`` cluster.

Workers read their partition, check, assign, label (per-partition axes) and sum it; only the
additive sums travel to the client, where :func:`territory.runner.finish` computes targets and
KPIs exactly as for the local engine. The assignments stay on the workers, partitioned, until
written (``PlanResult.write`` writes them as a Parquet dataset, one file per partition, from
the workers).

Plugins run where their hook allows it: axes run per partition unless they declare
``whole_table``; KPI columns with ``from_sums`` need only the sums. Whole-table axes, KPI columns
without ``from_sums`` and adjustments (which look at every account's location) make the engine
gather the columns they need to the client: that works, but scales with the client's memory.

A database table (:mod:`territory.db`) is partitioned by its account id: the database finds
the key ranges and each worker reads its range (workers need the password in their
environment or ``.pgpass``, and the database reachable).

Workers load plugins from installed packages (entry points); plugins registered in-process
with ``Plugins.register`` exist only on the client.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from territory.engines.parts import run_part
from territory.io import (
    PARQUET_SUFFIXES,
    TABLE_SUFFIXES,
    Source,
    check_header,
    file_type,
    head_bytes,
    header_prefix,
    header_record,
    is_text_table,
    is_utf8,
    parquet_error,
    parse_text,
    sniff_separator,
)
from territory.stages.adjust import accounts_with_location

_WORKER_PLUGINS = None


def map_parts(
    plan,
    layer,
    plugins,
    axes,
    *,
    scheduler: str | None = None,
    client=None,
    partition_rows: int = 1_000_000,
):
    """Run the parts on Dask.

    Parameters
    ----------
    scheduler : str, optional
        Address of an existing scheduler (``tcp://host:8786``). The data paths must be readable
        from the workers (shared file system or object store URL).
    client : distributed.Client, optional
        A client already connected. With neither, a LocalCluster with one worker process per
        core is started and kept for the result's lifetime (``PlanResult.close()`` ends it).
    partition_rows : int
        Rows per partition for in-memory tables (files keep their own partitioning).
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        from territory.errors import TerritoryError

        raise TerritoryError(
            "The Dask engine needs the dask extra: pip install 'territory[dask]'."
        ) from exc
    own = client is None  # a client (and cluster) started here is closed here on failure
    if own:
        if scheduler:
            client = Client(scheduler)
        else:
            # a partition's error reaches the client and is reported there once, so the
            # workers' own log of it ("Compute Failed" and a traceback) is kept quiet
            cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1,
                                   dashboard_address=None,
                                   silence_logs=logging.CRITICAL)  # fmt: skip
            client = Client(cluster)
    try:
        return _submit(client, plan, layer, axes, partition_rows)
    except BaseException:
        if own:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
        raise


def _submit(client, plan, layer, axes, partition_rows: int) -> DaskParts:
    frames, name = partitions(plan.accounts.source, partition_rows, key=plan.accounts.id)
    source = plan.accounts.source
    text = isinstance(source, (str, os.PathLike)) and is_text_table(source)
    decimal = "," if text and sniff_separator(Path(source)) == ";" else "."
    light = replace(plan, accounts=replace(plan.accounts, source=None))
    [layer_future] = client.scatter([layer], broadcast=True)
    frame_futures = client.compute(frames)
    results = [
        client.submit(_run_partition, f, light, layer_future, axes, name, i, decimal, pure=False)
        for i, f in enumerate(frame_futures)
    ]
    return DaskParts(client, results)


class DaskParts:
    """The partitions, on the workers; only their sums and notes on the client (see
    :class:`~territory.engines.parts.Parts`). Columns are gathered once, when first needed."""

    accounts = None

    def __init__(self, client, results):
        self.client, self.engine, self.results = client, client, results
        aggs = client.gather([client.submit(_pick, r, "aggregates") for r in results])
        self.notes = sum(client.gather([client.submit(_pick, r, "notes") for r in results]), [])
        logs = client.gather([client.submit(_pick, r, "log") for r in results])
        self.log = functools.reduce(lambda a, b: a + b, logs)
        self.assigned = [client.submit(_pick, r, "assignments") for r in results]
        self.sizes = [int(a.totals["accounts"]) for a in aggs]
        self.agg = aggs[0]
        for part in aggs[1:]:
            self.agg = self.agg + part
        self._gathered: dict[str, pd.DataFrame] = {}

    def gather(self, what: str) -> pd.DataFrame:
        """One column set of every partition, collected to the client once."""
        if what not in self._gathered:
            client = self.client
            frames = client.gather([client.submit(_pick, r, what) for r in self.results])
            self._gathered[what] = pd.concat(frames, ignore_index=True)
        return self._gathered[what]

    def whole_table_inputs(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        return self.gather("accounts"), self.gather("assignments")

    def add_labels(self, labels: pd.DataFrame) -> None:
        offsets = [0, *list(pd.Series(self.sizes).cumsum())]
        self.assigned = [
            self.client.submit(_join_labels, fut, labels.iloc[a:b].reset_index(drop=True))
            for fut, a, b in zip(self.assigned, offsets[:-1], offsets[1:], strict=True)
        ]

    def result(self):
        import dask.dataframe as dd

        meta = self.client.submit(lambda df: df.iloc[:0], self.assigned[0]).result()
        return dd.from_delayed(self.assigned, meta=meta, verify_meta=False), None

    @functools.cached_property
    def labelled(self) -> pd.DataFrame:
        return pd.concat(self.client.gather(self.assigned), ignore_index=True)

    def rows(self) -> pd.DataFrame:
        assignments = self.labelled
        attributes = self.gather("accounts")
        return assignments.join(
            attributes.drop(columns=[c for c in assignments if c in attributes])
        )

    def located(self) -> pd.DataFrame:
        return self.gather("accounts").assign(territory_id=self.labelled["territory_id"].to_numpy())


def partitions(source, partition_rows: int, key: str | None = None):
    """The accounts as a list of lazy partitions (``dask.delayed``) and a name for messages.

    A database table is split by ``key`` (the account id column, detected when None) into
    ranges of about ``partition_rows`` rows, each read by a worker."""
    import dask.dataframe as dd

    from territory.db.source import DatabaseSource

    if isinstance(source, DatabaseSource):
        return database_partitions(source, partition_rows, key), source.label
    if isinstance(source, pd.DataFrame):
        import geopandas as gpd

        n = max(1, math.ceil(len(source) / partition_rows))
        if isinstance(source, gpd.GeoDataFrame):
            import dask_geopandas

            frame = dask_geopandas.from_geopandas(source, npartitions=n)
        else:
            frame = dd.from_pandas(source, npartitions=n, sort=False)
        return frame.to_delayed(), "the accounts table"
    path = Path(source)
    if path.is_dir() or file_type(path) in PARQUET_SUFFIXES:
        import pyarrow as pa
        import pyarrow.dataset as ds

        try:
            geo = (ds.dataset(path, format="parquet").schema.metadata or {}).get(b"geo")
            if geo is not None:
                import dask_geopandas

                frame = dask_geopandas.read_parquet(str(path))
            else:
                frame = dd.read_parquet(str(path))
        except (pa.ArrowException, OSError) as exc:
            raise parquet_error(path, exc) from None
        return frame.to_delayed(), str(path)
    if file_type(path) in TABLE_SUFFIXES:
        sep = sniff_separator(path)
        head = head_bytes(path)
        header = header_record(head, sep) if is_utf8(path) else None
        if header is not None:
            # Plain UTF-8 text splits into byte ranges read by the workers, with the options
            # read_table uses; other encodings, .gz and .xlsx files are read whole below.
            check_header(header, path, letters=False)
            return text_blocks(path, sep, header_prefix(head, sep)), str(path)
    from territory.io import read_table

    return partitions(read_table(path), partition_rows)[0], str(path)


def text_blocks(path: Path, sep: str, prefix: bytes, blocksize: int = 64 << 20) -> list:
    """A UTF-8 text table as lazy byte ranges of whole lines, each parsed like
    :func:`territory.io.read_table` reads the file (the header line put before each range).

    Each part is a :class:`TextBlock`; its records keep the file's line numbers, so a message
    names the line a user finds in an editor, and a row with more values than the header is
    the same error as on the local engine.
    """
    from dask import delayed
    from dask.bytes import read_bytes

    _, [blocks] = read_bytes(str(path), delimiter=b"\n", blocksize=blocksize, sample=False)
    counts = [delayed(_line_count)(b) for b in blocks]
    parts = []
    for i, block in enumerate(blocks):
        before = delayed(sum)(counts[:i]) if i else 0
        parts.append(delayed(_parse_block)(block, before, i, sep, prefix, str(path)))
    return parts


@dataclass
class TextBlock:
    """One parsed byte range of a text table: its records and the file line each starts on."""

    frame: pd.DataFrame
    lines: np.ndarray


def _line_count(block: bytes) -> int:
    return block.count(b"\n")


def _parse_block(block: bytes, lines_before: int, index: int, sep, prefix, path) -> TextBlock:
    # the first range starts with the header; the others get it put in front
    shift = lines_before - prefix.count(b"\n") if index else 0
    frame, lines = parse_text(block if index == 0 else prefix + block, sep, Path(path), shift)
    if lines is None:
        lines = np.arange(len(frame), dtype=np.int64) + 2 + shift
    return TextBlock(frame, lines)


def database_partitions(source, partition_rows: int, key: str | None) -> list:
    """A table as key ranges read by the workers; a query is read here and split in memory
    (splitting it would mean rewriting the user's SQL)."""
    import dask

    from territory.db.partition import key_column, key_ranges, read_range

    if source.table is None:
        from territory.db.read import read_database

        return partitions(read_database(source, "accounts")[0], partition_rows)[0]
    column = key_column(source, key)
    ranges = key_ranges(source, column, partition_rows)
    return [dask.delayed(read_range, pure=True)(source, part) for part in ranges]


def _plugins():
    global _WORKER_PLUGINS
    if _WORKER_PLUGINS is None:
        from territory.plugins import get_plugins

        _WORKER_PLUGINS = get_plugins()
    return _WORKER_PLUGINS


def _run_partition(frame, plan, layer, axes, name, index, decimal="."):
    if isinstance(frame, TextBlock):
        # text: records keep their file line numbers
        source = Source(name, csv=True, lines=frame.lines, decimal=decimal)
        frame = frame.frame
    else:
        source = Source(f"{name} (partition {index + 1})", decimal=decimal)
    frame = frame.reset_index(drop=True)
    part = run_part(plan, layer, _plugins(), axes, data=frame, source=source)
    accounts = part.accounts
    located = accounts_with_location(accounts, part.assignments)
    return {
        "assignments": part.assignments,
        "aggregates": part.aggregates,
        "notes": accounts.notes,
        "log": part.log,
        "accounts": located.drop(columns=["territory_id"]),
    }


def _pick(result: dict, key: str):
    return result[key]


def _join_labels(assignments: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    return assignments.join(labels)


__all__ = ["map_parts", "partitions"]
