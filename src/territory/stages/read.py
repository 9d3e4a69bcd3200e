"""Read stage: the plan's inputs, read and checked in one call per input.

Each function reads through :mod:`territory.io` and checks with :mod:`territory.validate`
(``prepare_*``): a bad file is an :class:`~territory.errors.InputError` or
:class:`~territory.errors.ValidationError` naming the file, row or column and the fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from territory.territories import TerritoryLayer, load_territories
from territory.validate import (
    Accounts,
    Polygons,
    prepare_accounts,
    prepare_alignment,
    prepare_polygons,
)

if TYPE_CHECKING:
    from territory.plan import AccountsSpec, Plan, TerritoriesSpec


def read_territories(spec: TerritoriesSpec) -> TerritoryLayer:
    """The territory layer: polygons, or building blocks dissolved by the alignment."""
    return load_territories(
        spec.territories,
        blocks=spec.blocks,
        alignment=spec.alignment,
        territory_id=spec.territory_id,
        block_id=spec.block_id,
        alignment_block=spec.alignment_block,
        alignment_territory=spec.alignment_territory,
        alignment_parent=spec.alignment_parent,
        crs=spec.crs,
        strict=spec.strict,
    )


def read_accounts(
    spec: AccountsSpec, also_measures: tuple[str, ...] = (), data=None, source=None
) -> Accounts:
    """Check the accounts (``data`` overrides the source: a batch or partition of it)."""
    return read_accounts_from(
        spec.source if data is None else data,
        id=spec.id,
        lat=spec.lat,
        lon=spec.lon,
        postal_code=spec.postal_code,
        postal_table=spec.postal_table,
        measures=list(spec.measures) if spec.measures is not None else None,
        also_measures=also_measures,
        crs=spec.crs,
        source=source,
    )


def read_accounts_from(data, **options) -> Accounts:
    """Accounts from a path or (Geo)DataFrame; ``options`` as for
    :func:`territory.validate.prepare_accounts` (id, lat, lon, postal_code, measures, crs ...)."""
    return prepare_accounts(data, **options)


def plan_accounts(plan: Plan, crs, data=None, source=None) -> Accounts:
    """The plan's accounts (or ``data``, a part of them) in ``crs``, with the measure the target
    rule grows read as a measure too."""
    rule = plan.targets.rule
    accounts = read_accounts(
        plan.accounts, (rule.from_measure,) if rule else (), data=data, source=source
    )
    return accounts.to_crs(crs)


def read_blocks(blocks, *, id=None, crs=None, strict=False) -> Polygons:
    """A building-block layer (``block_id``), checked like the blocks of a plan."""
    return prepare_polygons(blocks, kind="block", id=id, crs=crs, strict=strict)


def read_alignment(alignment, blocks: Polygons, **columns) -> pd.DataFrame:
    """An alignment table (``block_id``, ``territory_id`` ...) checked against ``blocks``;
    ``columns`` name its ``block``, ``territory`` and ``parent`` columns (default: detected)."""
    return prepare_alignment(alignment, blocks, **columns)


def read_points(frame, *, id: str, source) -> Accounts:
    """Points that are not a book of business (rep homes): located and checked like accounts,
    without measures."""
    return prepare_accounts(frame, id=id, measures=[], source=source)
