"""What every engine does to one part of the accounts (a batch or a partition)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

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
    accounts, assignments = plan.load_and_assign(layer, data, source)
    territories = pd.DataFrame(layer.territories.drop(columns="geometry"))
    context = AxisContext(accounts.frame, assignments, territories, tuple(accounts.measures))
    labels = label_accounts(axes, plugins, context, plan.base)
    check_label_names(labels, assignments)
    agg = aggregate(assignments, labels, accounts.measures)
    return PartResult(assignments.join(labels), agg, accounts)


def whole_table_labels(plan, plugins, layer, axes, accounts, assignments, agg) -> pd.DataFrame:
    """Run the ``whole_table`` axes on all accounts; add their sums to ``agg``; the labels.

    ``accounts`` is the full account table (attributes and measures), ``assignments`` the full
    assignments in the same order.
    """
    territories = pd.DataFrame(layer.territories.drop(columns="geometry"))
    context = AxisContext(accounts, assignments, territories, tuple(agg.measures))
    labels = label_accounts(axes, plugins, context, plan.base)
    check_label_names(labels, assignments)
    extra = aggregate(assignments, labels, list(agg.measures))
    agg.cells.update(extra.cells)
    agg.label_totals.update(extra.label_totals)
    return labels


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
