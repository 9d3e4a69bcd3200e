"""The Dask engine: the same plan on dask-geopandas partitions on a ``distributed`` cluster.

Workers read their partition, check, assign, label (per-partition axes) and sum it; only the
additive sums travel to the client, which computes targets and KPIs exactly as the local engine
does. The assignments stay on the workers, partitioned, until written (``PlanResult.write``
writes them as a Parquet dataset, one file per partition, from the workers).

Plugins run where their hook allows it: axes run per partition unless they declare
``whole_table``; KPI columns with ``from_sums`` need only the sums. Whole-table axes, KPI columns
without ``from_sums`` and adjustments (which look at every account's location) make the engine
gather the columns they need to the client: that works, but scales with the client's memory.

Workers load plugins from installed packages (entry points); plugins registered in-process
with ``Plugins.register`` exist only on the client.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import replace
from pathlib import Path

import pandas as pd

from territory.engines.parts import merge_notes, run_part, split_axes, whole_table_labels
from territory.io import (
    CSV_OPTIONS,
    PARQUET_SUFFIXES,
    TABLE_SUFFIXES,
    Source,
    check_header,
    file_type,
    head_bytes,
    header_record,
    is_text_table,
    is_utf8,
    sniff_separator,
)
from territory.kpi import summary

_WORKER_PLUGINS = None


def run(
    plan,
    plugins=None,
    *,
    scheduler: str | None = None,
    client=None,
    partition_rows: int = 1_000_000,
):
    """Run ``plan`` on Dask.

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
    from territory.plugins import get_plugins

    plugins = plugins or get_plugins()
    if client is None:
        if scheduler:
            client = Client(scheduler)
        else:
            cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1,
                                   dashboard_address=None)  # fmt: skip
            client = Client(cluster)
    layer = plan.territories.load()
    per_part, whole = split_axes(plan, plugins)
    frames, name = partitions(plan.accounts.source, partition_rows)
    source = plan.accounts.source
    text = isinstance(source, (str, os.PathLike)) and is_text_table(source)
    decimal = "," if text and sniff_separator(Path(source)) == ";" else "."
    light = replace(plan, accounts=replace(plan.accounts, source=None))
    [layer_future] = client.scatter([layer], broadcast=True)
    frame_futures = client.compute(frames)
    results = [
        client.submit(
            _run_partition, f, light, layer_future, per_part, name, i, decimal, pure=False
        )  # fmt: skip
        for i, f in enumerate(frame_futures)
    ]
    aggs = client.gather([client.submit(_pick, r, "aggregates") for r in results])
    notes = sum(client.gather([client.submit(_pick, r, "notes") for r in results]), [])
    assigned = [client.submit(_pick, r, "assignments") for r in results]
    agg = aggs[0]
    for part in aggs[1:]:
        agg = agg + part

    @functools.cache
    def gather(what: str) -> pd.DataFrame:
        """One column set of every partition, collected to the client once."""
        frames = client.gather([client.submit(_pick, r, what) for r in results])
        return pd.concat(frames, ignore_index=True)

    if whole:
        labels = whole_table_labels(plan, plugins, layer, whole, gather("accounts"),
                                    gather("assignments"), agg)  # fmt: skip
        sizes = [int(a.totals["accounts"]) for a in aggs]
        offsets = [0, *list(pd.Series(sizes).cumsum())]
        assigned = [
            client.submit(_join_labels, fut, labels.iloc[a:b].reset_index(drop=True))
            for fut, a, b in zip(assigned, offsets[:-1], offsets[1:], strict=True)
        ]
    return finish_distributed(plan, layer, plugins, agg, assigned, gather, notes, client)


def finish_distributed(plan, layer, plugins, agg, assigned, gather, notes, client):
    import dask.dataframe as dd

    from territory.model import PlanResult, agg_balance, measure_aggregates

    @functools.cache
    def labelled() -> pd.DataFrame:
        return pd.concat(client.gather(assigned), ignore_index=True)

    def rows() -> pd.DataFrame:
        assignments = labelled()
        attributes = gather("accounts")
        return assignments.join(
            attributes.drop(columns=[c for c in assignments if c in attributes])
        )

    def accounts_for_adjustments() -> pd.DataFrame:
        return gather("accounts").assign(territory_id=labelled()["territory_id"].to_numpy())

    kpis, segments, adjustments = measure_aggregates(
        plan, layer, agg, plugins, rows, accounts_for_adjustments
    )
    meta = client.submit(lambda df: df.iloc[:0], assigned[0]).result()
    assignments = dd.from_delayed(assigned, meta=meta, verify_meta=False)
    result = PlanResult(
        plan, None, layer, assignments, kpis, segments,
        summary(agg, kpis, agg_balance(plan, agg)), merge_notes([*notes, *layer.notes]),
        None, adjustments, plugins,
    )  # fmt: skip
    result.engine = client
    return result


def partitions(source, partition_rows: int):
    """The accounts as a list of lazy partitions (``dask.delayed``) and a name for messages."""
    import dask.dataframe as dd

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
        import pyarrow.dataset as ds

        geo = (ds.dataset(path, format="parquet").schema.metadata or {}).get(b"geo")
        if geo is not None:
            import dask_geopandas

            frame = dask_geopandas.read_parquet(str(path))
        else:
            frame = dd.read_parquet(str(path))
        return frame.to_delayed(), str(path)
    if file_type(path) in TABLE_SUFFIXES:
        sep = sniff_separator(path)
        header = header_record(head_bytes(path), sep) if is_utf8(path) else None
        if header is not None:
            # Plain UTF-8 text splits into byte ranges read by the workers, with the options
            # read_table uses; other encodings, .gz and .xlsx files are read whole below.
            check_header(header, path, letters=False)
            frame = dd.read_csv(str(path), sep=sep, blocksize="64MB", encoding="utf-8-sig",
                                **CSV_OPTIONS)  # fmt: skip
            return frame.to_delayed(), str(path)
    from territory.io import read_table

    return partitions(read_table(path), partition_rows)[0], str(path)


def _plugins():
    global _WORKER_PLUGINS
    if _WORKER_PLUGINS is None:
        from territory.plugins import get_plugins

        _WORKER_PLUGINS = get_plugins()
    return _WORKER_PLUGINS


def _run_partition(frame, plan, layer, axes, name, index, decimal="."):
    frame = frame.reset_index(drop=True)
    source = Source(f"{name} (partition {index + 1})", decimal=decimal)
    part = run_part(plan, layer, _plugins(), axes, data=frame, source=source)
    accounts = part.accounts
    from territory.model import accounts_with_location

    located = accounts_with_location(accounts, part.assignments)
    return {
        "assignments": part.assignments,
        "aggregates": part.aggregates,
        "notes": accounts.notes,
        "accounts": located.drop(columns=["territory_id"]),
    }


def _pick(result: dict, key: str):
    return result[key]


def _join_labels(assignments: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    return assignments.join(labels)


__all__ = ["run", "partitions"]
