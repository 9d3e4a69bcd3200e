"""Adjust stage: per-territory changes from the adjustment plugins, applied to the targets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from territory.adjust import apply_adjustments
from territory.extensions import AdjustmentContext
from territory.validate import WGS84, Accounts

if TYPE_CHECKING:
    from territory.plan import Plan
    from territory.plugins import Plugins
    from territory.territories import TerritoryLayer


def adjust_targets(plan: Plan, layer: TerritoryLayer, targets, sums, measures, plugins: Plugins,
                   accounts, log=None) -> tuple[pd.DataFrame, pd.Series]:  # fmt: skip
    """``(adjustments table, adjusted targets)``; ``accounts()`` returns the accounts with
    ``territory_id`` and lon/lat (called once, only here)."""
    ids = pd.Index(layer.territories["territory_id"])
    context = AdjustmentContext(
        territories=pd.DataFrame(layer.territories.drop(columns="geometry"))
        .assign(target=targets.to_numpy())
        .join(sums, on="territory_id"),
        accounts=accounts(),
        measures=tuple(measures),
    )
    adjustments, multiplier = apply_adjustments(plan.adjustments, plugins, context, plan.base,
                                                log)  # fmt: skip
    return adjustments, targets * multiplier.reindex(ids).fillna(1.0)


def accounts_with_location(accounts: Accounts, assignments: pd.DataFrame) -> pd.DataFrame:
    """Account attributes + territory_id + lon/lat (WGS84), for adjustments."""
    lonlat = accounts.to_crs(WGS84)
    out = accounts.frame.copy()
    out["territory_id"] = assignments["territory_id"].to_numpy()
    out["lon"], out["lat"] = lonlat.x, lonlat.y
    return out
