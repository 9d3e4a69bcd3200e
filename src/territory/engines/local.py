"""The local engine: one machine, Parquet/GeoParquet or database accounts read in batches.

Each batch is checked, assigned, labelled and summed on its own (see :mod:`.parts`), so peak
memory follows the batch size rather than the file; whole-table axes, adjustments and KPIs run
once on the combined result (:func:`territory.runner.finish`). A database table or query
(:mod:`territory.db`) streams the same way, through a server-side cursor. Other inputs (CSV,
compressed CSV, .xlsx, GeoJSON, DataFrames) are read whole by
:func:`territory.io.read_source`, as one batch.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from territory.engines.parts import run_part
from territory.extensions import PluginLog
from territory.io import PARQUET_SUFFIXES, Source, file_type, parquet_error
from territory.kpi import Aggregates
from territory.stages.adjust import accounts_with_location
from territory.validate import Accounts


def map_parts(plan, layer, plugins, axes, *, batch_rows: int = 2_000_000, progress: bool = False):
    """Run the parts here. ``batch_rows`` bounds a Parquet batch; ``progress`` shows a bar."""
    batches = parquet_batches(plan.accounts.source, batch_rows) or database_batches(
        plan.accounts.source, batch_rows
    )
    if batches is None:
        parts = [run_part(plan, layer, plugins, axes, progress=progress)]
    else:
        total, frames = batches
        parts = []
        with Progress(
            TextColumn("Assigning accounts"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), disable=not progress, transient=False,
        ) as bar, contextlib.closing(frames):  # fmt: skip
            task = bar.add_task("assign", total=total)
            for frame, source in frames:
                parts.append(run_part(plan, layer, plugins, axes, data=frame, source=source,
                                      progress=progress))  # fmt: skip
                bar.advance(task, len(frame))
    accounts = Accounts.concat([p.accounts for p in parts])
    assignments = pd.concat([p.assignments for p in parts], ignore_index=True)
    agg, log = parts[0].aggregates, parts[0].log
    for part in parts[1:]:
        agg, log = agg + part.aggregates, log + part.log
    return LocalParts(accounts, assignments, agg, [spec.column for spec in plan.all_axes], log)


@dataclass
class LocalParts:
    """The combined batches, in memory (see :class:`~territory.engines.parts.Parts`)."""

    accounts: Accounts
    assignments: pd.DataFrame
    agg: Aggregates
    axis_columns: list[str]
    log: PluginLog
    engine: None = None

    @property
    def notes(self) -> list[str]:
        return self.accounts.notes

    def whole_table_inputs(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        return self.accounts.frame, self.assignments

    def add_labels(self, labels: pd.DataFrame) -> None:
        self.assignments = self.assignments.join(labels)

    def result(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Assignments with the label columns last, in the plan's axis order; the labels."""
        base = [c for c in self.assignments.columns if c not in self.axis_columns]
        self.assignments = self.assignments[base + self.axis_columns]
        return self.assignments, self.assignments[self.axis_columns]

    def rows(self) -> pd.DataFrame:
        accounts, assignments = self.accounts, self.assignments
        attributes = accounts.frame.drop(columns=[c for c in assignments if c in accounts.frame])
        return assignments.join(attributes)

    def located(self) -> pd.DataFrame:
        return accounts_with_location(self.accounts, self.assignments)


def parquet_batches(source, batch_rows: int):
    """``(total rows, iterator of (frame, Source))`` for a Parquet file or folder, else None.

    A single file that fits in one batch returns None (read the usual way).
    """
    if not isinstance(source, (str, Path)):
        return None
    path = Path(source)
    if not (path.is_dir() or (file_type(path) in PARQUET_SUFFIXES and path.exists())):
        return None
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        dataset = ds.dataset(path, format="parquet")
        total = dataset.count_rows()
    except (pa.ArrowException, OSError) as exc:
        raise parquet_error(path, exc) from None
    if not path.is_dir() and total <= batch_rows:
        return None
    geo = (dataset.schema.metadata or {}).get(b"geo")

    def frames():
        offset, pending, rows = 0, [], 0

        def emit():
            table = pa.Table.from_batches(pending)
            return geo_frame(table, json.loads(geo)) if geo is not None else table.to_pandas()

        # record batches follow files and row groups; coalesce them up to batch_rows
        batches = dataset.to_batches(batch_size=batch_rows)
        while True:
            try:
                batch = next(batches, None)
            except (pa.ArrowException, OSError) as exc:
                raise parquet_error(path, exc) from None
            if batch is None:
                break
            pending.append(batch)
            rows += batch.num_rows
            if rows >= batch_rows:
                frame = emit()
                yield frame, Source(str(path), offset=offset)
                offset, pending, rows = offset + len(frame), [], 0
        if pending:
            yield emit(), Source(str(path), offset=offset)

    return total, frames()


def database_batches(source, batch_rows: int):
    """``(total rows or None, iterator of (frame, Source))`` for a database table or query
    (:class:`~territory.db.source.DatabaseSource`), read through a server-side cursor or Arrow
    batches; None for other sources and for a table that fits in one batch."""
    from territory.db.source import DatabaseSource

    if not isinstance(source, DatabaseSource):
        return None
    from territory.db.read import database_batches as batches

    total, frames = batches(source, batch_rows, "accounts")
    if total is not None and total <= batch_rows:
        frames.close()
        return None
    return total, frames


def geo_frame(table, meta: dict) -> gpd.GeoDataFrame:
    """A GeoDataFrame from a batch (Arrow table) of a GeoParquet file.

    Decoded by geopandas from the file's ``geo`` metadata, as ``geopandas.read_parquet``
    decodes a whole file: WKB or native (geoarrow) encodings, CRS and column names alike.
    """
    from geopandas.io.arrow import _arrow_to_geopandas

    return _arrow_to_geopandas(table, meta)
