"""Assign stage: every account to exactly one territory (or block), with method and reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from territory.assignment import AssignOptions, assign_accounts, assign_polygons
from territory.stages.read import plan_accounts, read_territories
from territory.validate import Accounts, Polygons

if TYPE_CHECKING:
    from territory.plan import Plan
    from territory.territories import TerritoryLayer


def read_and_assign(
    plan: Plan, layer: TerritoryLayer, data=None, source=None
) -> tuple[Accounts, pd.DataFrame]:
    """Check the accounts (or ``data``, a batch or partition of them) and assign them."""
    accounts = plan_accounts(plan, layer.crs, data, source)
    return accounts, assign_accounts(accounts, layer, plan.assign)


def assign_plan(plan: Plan) -> tuple[Accounts, TerritoryLayer, pd.DataFrame]:
    """Read, check and assign, without computing KPIs: ``(accounts, layer, assignments)``."""
    layer = read_territories(plan.territories)
    accounts, assignments = read_and_assign(plan, layer)
    return accounts, layer, assignments


def assign_to_blocks(accounts: Accounts, blocks: Polygons, max_distance_km: float) -> pd.DataFrame:
    """Accounts to building blocks (``block_id``, method, reason), as the designer sums them."""
    options = AssignOptions(max_distance_km=max_distance_km)
    return assign_polygons(accounts, blocks.frame, blocks.id, options, noun="block")
