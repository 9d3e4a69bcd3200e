"""Measure stage: targets and the KPI tables from the additive sums of any engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from territory.kpi import (
    add_extra_kpis,
    balance_measure,
    segment_kpis,
    segment_targets,
    territory_kpis,
)
from territory.stages.adjust import adjust_targets
from territory.targets import read_targets, resolve_targets

if TYPE_CHECKING:
    from territory.plan import Plan
    from territory.plugins import Plugins
    from territory.territories import TerritoryLayer


def agg_balance(plan: Plan, agg) -> str:
    return balance_measure(list(agg.measures), plan.balance)


def target_basis(plan: Plan, balance: str) -> str:
    """The measure a territory's target is split over its segment cells by: the target rule's
    measure (the targets were made from it), else the balance measure."""
    return plan.targets.rule.from_measure if plan.targets.rule is not None else balance


def measure_aggregates(plan: Plan, layer: TerritoryLayer, agg, plugins: Plugins, rows, accounts,
                       log=None, plugin_kpis: bool = True):  # fmt: skip
    """KPI tables from additive sums (any engine): ``(kpis, segments, adjustments)``.

    Targets are settled here once: per territory (table, rule or layer column, then the
    adjustments) and per territory x segment (split by :func:`target_basis`); tracking reads
    them from these tables.

    ``rows`` and ``accounts`` are callables returning the joined account rows (for plugin KPIs
    without ``from_sums``) and the accounts with location (for adjustments); they are called
    only when needed. ``log`` collects plugin time and warnings; ``plugin_kpis=False`` leaves
    the KPI columns of ``register_kpis`` out (commands that show no KPIs).
    """
    balance = agg_balance(plan, agg)
    ids = pd.Index(layer.territories["territory_id"])
    sums = agg.territory[list(agg.measures)] if agg.measures else pd.DataFrame(index=ids)
    table = read_targets(plan.targets.table) if plan.targets.table is not None else None
    layer_target = layer.territories.set_index("territory_id").get("target")
    targets = resolve_targets(ids, sums, table=table, rule=plan.targets.rule, layer=layer_target)

    adjustments = pd.DataFrame()
    if plan.adjustments:
        base_targets = targets
        adjustments, targets = adjust_targets(plan, layer, targets, sums, agg.measures, plugins,
                                              accounts, log)  # fmt: skip

    kpis = territory_kpis(agg, layer, targets=targets, balance=balance)
    if plan.adjustments:
        kpis.insert(kpis.columns.get_loc("target"), "target_before_adjustments",
                    base_targets.to_numpy())  # fmt: skip
    if plugin_kpis:
        kpis = add_extra_kpis(kpis, agg.territory, rows, ["territory_id"], plugins, log)
    segments = {}
    basis = target_basis(plan, balance)
    for axis in agg.cells:
        cells = segment_kpis(agg, axis, layer, balance=balance)
        cells = segment_targets(cells, axis, kpis.set_index("territory_id")["target"], basis)
        segments[axis] = add_extra_kpis(cells, agg.cells[axis], rows, ["territory_id", axis],
                                        plugins, log) if plugin_kpis else cells  # fmt: skip
    return kpis, segments, adjustments
