"""Segment stage: one label per account and segment axis, from the axis plugins.

Axes run per part (batch or partition) unless their plugin declares ``whole_table``; those run
once on all accounts (:func:`whole_table_labels`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from territory.extensions import AxisContext
from territory.kpi import aggregate
from territory.segments import AxisSpec, label_accounts
from territory.stages.validate import check_label_names

if TYPE_CHECKING:
    from territory.plan import Plan
    from territory.plugins import Plugins
    from territory.territories import TerritoryLayer
    from territory.validate import Accounts


def split_axes(plan: Plan, plugins: Plugins) -> tuple[tuple[AxisSpec, ...], tuple[AxisSpec, ...]]:
    """Axes that can run per part, and axes that need the whole table (``whole_table``)."""
    per_part, whole = [], []
    for spec in plan.all_axes:
        registered = plugins.axes.get(spec.axis)
        (whole if registered and registered[1].whole_table else per_part).append(spec)
    return tuple(per_part), tuple(whole)


def check_requests(plan: Plan, plugins: Plugins) -> None:
    """Every requested axis and adjustment exists and gets valid parameters: checked before
    any data is read (a plan file is also checked when it is loaded)."""
    from territory.adjust import HOOK as ADJUST
    from territory.extensions import check_request
    from territory.segments import HOOK as SEGMENT

    for spec in plan.all_axes:
        check_request(plugins, SEGMENT, spec.axis, spec.params, kind="segment axis",
                      plural="axes", base=plan.base, where=spec.where)  # fmt: skip
    for adj in plan.adjustments:
        check_request(plugins, ADJUST, adj.adjustment, adj.params, kind="adjustment",
                      plural="adjustments", base=plan.base, where=adj.where)  # fmt: skip


def label_part(
    plan: Plan,
    layer: TerritoryLayer,
    plugins: Plugins,
    axes,
    accounts: Accounts,
    assignments,
    log=None,
) -> pd.DataFrame:
    """The ``axes`` labels of one part's accounts (one column per axis)."""
    territories = pd.DataFrame(layer.territories.drop(columns="geometry"))
    context = AxisContext(accounts.frame, assignments, territories, tuple(accounts.measures))
    labels = label_accounts(axes, plugins, context, plan.base, log)
    check_label_names(labels, assignments)
    return labels


def whole_table_labels(plan, plugins, layer, axes, accounts, assignments, agg,
                       log=None) -> pd.DataFrame:  # fmt: skip
    """Run the ``whole_table`` axes on all accounts; add their sums to ``agg``; the labels.

    ``accounts`` is the full account table (attributes and measures), ``assignments`` the full
    assignments in the same order.
    """
    territories = pd.DataFrame(layer.territories.drop(columns="geometry"))
    context = AxisContext(accounts, assignments, territories, tuple(agg.measures))
    labels = label_accounts(axes, plugins, context, plan.base, log)
    check_label_names(labels, assignments)
    extra = aggregate(assignments, labels, list(agg.measures))
    agg.cells.update(extra.cells)
    agg.label_totals.update(extra.label_totals)
    return labels
