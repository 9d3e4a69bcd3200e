"""Which tables a plan run or a design writes to a database, and the one-call Python API.

A plan run (:class:`~territory.result.PlanResult`) writes ``assignments``, ``kpis``,
``segments`` (every segment KPI table stacked: ``axis`` names the segment column, ``segment``
holds its label), ``adjustments`` (when the plan has any) and ``territories`` (the territory
polygons as geometry). A design (:class:`~territory.designer.DesignResult`) writes
``alignment`` (block_id -> territory_id), ``territories`` (the dissolved territories) and
``quality``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from territory.db.target import DatabaseTarget

if TYPE_CHECKING:
    from territory.db.write import DatabaseReport


def plan_tables(result, only: tuple[str, ...] | None = None) -> list[tuple[str, Any]]:
    """(key, frame) for each table of a plan run; ``only`` keeps those keys."""
    tables: list[tuple[str, Any]] = [("assignments", result.assignments), ("kpis", result.kpis)]
    if result.segments:
        tables.append(("segments", stacked_segments(result.segments)))
    if result.adjustments is not None and len(result.adjustments):
        tables.append(("adjustments", result.adjustments))
    shapes = getattr(result.layer, "territories", None)
    if shapes is not None and len(shapes):
        tables.append(("territories", shapes))
    return [(k, t) for k, t in tables if only is None or k in only]


def stacked_segments(segments: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One table of every segment KPI table: ``axis`` (the segment column) and ``segment``."""
    parts = []
    for axis, table in segments.items():
        table = table.rename(columns={axis: "segment"})
        table.insert(min(2, len(table.columns)), "axis", axis)
        table["segment"] = table["segment"].astype(object)
        parts.append(table)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def design_tables(result) -> list[tuple[str, Any]]:
    """(key, frame) for a designed or rebalanced alignment."""
    return [("alignment", result.alignment), ("territories", result.territories),
            ("quality", result.quality)]  # fmt: skip


def write_database(result, url: str | DatabaseTarget, *, schema: str | None = None,
                   mode: str | None = None, tables: Mapping[str, str] | None = None,
                   run_id: str | None = None, only: tuple[str, ...] | None = None,
                   ) -> DatabaseReport:  # fmt: skip
    """Write a plan run or a design to a database in one transaction.

    Parameters
    ----------
    result : PlanResult or DesignResult
    url : str or DatabaseTarget
        ``postgresql://user@host/db`` (password from PGPASSWORD or .pgpass) or
        ``duckdb:///file.duckdb``.
    schema : str, optional
        Created when missing; default the database's default schema.
    mode : {"replace", "append"}, optional
        ``replace`` (the default): each table holds this run only. ``append``: rows added,
        tagged with ``run_id`` and ``run_at``.
    tables : mapping, optional
        Result -> table name, e.g. ``{"assignments": "fy27_assignments"}``; the others keep
        their defaults (:data:`~territory.db.target.DEFAULT_TABLES`).
    run_id : str, optional
        The run's id (default: UTC time plus a random suffix); an append refuses one the
        tables already hold.
    only : tuple of str, optional
        Write only these results (e.g. ``("assignments",)``).

    Returns
    -------
    DatabaseReport
        The tables written with their row counts, and the run id.
    """
    from territory.db.write import write_tables

    if isinstance(url, DatabaseTarget):
        target = url.with_changes(schema=schema, mode=mode, tables=tables, run_id=run_id)
    else:
        target = DatabaseTarget(url, schema, mode or "replace", dict(tables or {}), run_id,
                                where="write_database()")  # fmt: skip
    if hasattr(result, "alignment") and hasattr(result, "quality"):
        frames = design_tables(result)
        frames = [(k, t) for k, t in frames if only is None or k in only]
        stale: list[str] = []
    else:
        frames = plan_tables(result, only)
        stale = stale_tables(target, [k for k, _ in frames], only)
    check_not_inputs(target, [k for k, _ in frames] + stale, result)
    return write_tables(target, frames, drop=stale)


#: tables only a plan run writes, and only when it has them
OPTIONAL_PLAN_TABLES = ("segments", "adjustments")  # (designs write territories too)


def stale_tables(target: DatabaseTarget, written: list[str], only) -> list[str]:
    """Keys of the optional plan tables this run does not write, which a replace removes, so
    that every table of the set holds the same run (an older run's adjustments would otherwise
    stay beside this run's KPIs). None when the run writes ``only`` some tables, or appends."""
    if target.mode != "replace" or only is not None:
        return []
    return [k for k in OPTIONAL_PLAN_TABLES if k not in written]


def check_not_inputs(target: DatabaseTarget, keys, *holders) -> None:
    """Refuse to write a result table over a table the run read (a plan's or a design's
    database sources found in ``holders``): replace mode would drop it."""
    from territory.db.connect import parse
    from territory.errors import OutputError

    database = parse(target.url, "outputs")
    default = "public" if database.kind == "postgresql" else "main"
    mine = {_where(target.url, f"{target.schema or default}.{target.table(k)}", default): k
            for k in keys}  # fmt: skip
    for source in _sources(holders):
        if source.table is None:
            continue
        key = mine.get(_where(source.database, source.table, default))
        if key is not None:
            raise OutputError(
                f"The {key} table {target.table(key)} in {database.shown} is an input of this "
                "run: writing the results there would replace it. Give the result another "
                f'table (tables = {{{key} = "..."}}, --schema) and run again.'
            )


def _where(url: str, table: str, default: str) -> tuple[str, str]:
    from territory.db.connect import parse

    database = parse(url)
    place = str(database.duckdb_path.resolve()) if database.duckdb_path else database.url
    name = table if "." in table else f"{default}.{table}"
    return place, name.lower()


def _sources(holders, depth: int = 4):
    """Every DatabaseSource among the fields of ``holders`` (dataclasses, dicts, sequences)."""
    import dataclasses

    from territory.db.source import DatabaseSource

    found, seen, todo = [], set(), [(h, 0) for h in holders]
    while todo:
        value, level = todo.pop()
        if id(value) in seen or level > depth or value is None:
            continue
        seen.add(id(value))
        if isinstance(value, DatabaseSource):
            found.append(value)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            todo += [(getattr(value, f.name, None), level + 1) for f in dataclasses.fields(value)]
        elif isinstance(value, Mapping):
            todo += [(v, level + 1) for v in value.values()]
        elif isinstance(value, (list, tuple)):
            todo += [(v, level + 1) for v in value]
    return found
