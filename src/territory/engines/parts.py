"""What every engine does to one part of the accounts (a batch or a partition)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from territory.assignment import assign_accounts
from territory.extensions import AxisContext
from territory.kpi import Aggregates, aggregate
from territory.segments import AxisSpec, label_accounts
from territory.validate import Accounts


@dataclass
class PartResult:
    """Assignments (with per-part labels), their sums, the checked accounts and notes."""

    assignments: pd.DataFrame
    aggregates: Aggregates
    accounts: Accounts


def split_axes(plan, plugins) -> tuple[tuple[AxisSpec, ...], tuple[AxisSpec, ...]]:
    """Axes that can run per part, and axes that need the whole table (``whole_table``)."""
    per_part, whole = [], []
    for spec in plan.all_axes:
        registered = plugins.axes.get(spec.axis)
        (whole if registered and registered[1].whole_table else per_part).append(spec)
    return tuple(per_part), tuple(whole)


def run_part(plan, layer, plugins, axes, data=None, source=None) -> PartResult:
    """Check, assign and label one part; ``data`` is the part (None: the plan's whole source)."""
    rule = plan.targets.rule
    accounts = plan.accounts.load(
        also_measures=(rule.from_measure,) if rule else (), data=data, source=source
    ).to_crs(layer.crs)
    assignments = assign_accounts(accounts, layer, plan.assign)
    territories = pd.DataFrame(layer.territories.drop(columns="geometry"))
    context = AxisContext(accounts.frame, assignments, territories, tuple(accounts.measures))
    labels = label_accounts(axes, plugins, context, plan.base)
    check_label_names(labels, assignments)
    agg = aggregate(assignments, labels, accounts.measures)
    return PartResult(assignments.join(labels), agg, accounts)


def check_label_names(labels: pd.DataFrame, assignments: pd.DataFrame) -> None:
    from territory.errors import ValidationError

    clash = set(labels.columns) & set(assignments.columns)
    if clash:
        raise ValidationError(
            f"Segment name(s) {', '.join(sorted(clash))} clash with assignment columns; rename "
            "them (name = ... in [[segments]])."
        )


def merge_notes(notes: list[str], limit: int = 12) -> list[str]:
    """Notes from all parts, each once, capped so many batches do not flood the output."""
    unique = list(dict.fromkeys(notes))
    if len(unique) > limit:
        return [*unique[:limit], f"... and {len(unique) - limit} more notes from other parts."]
    return unique
