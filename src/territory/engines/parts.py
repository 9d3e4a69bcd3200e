"""What every engine does to one part of the accounts (a batch or a partition), and what an
engine hands back to :func:`territory.runner.finish` after combining the parts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from territory.extensions import PluginLog
from territory.kpi import Aggregates, aggregate
from territory.stages.assign import read_and_assign
from territory.stages.segment import label_part
from territory.validate import Accounts


@dataclass
class PartResult:
    """Assignments (with per-part labels), their sums, the checked accounts and notes."""

    assignments: pd.DataFrame
    aggregates: Aggregates
    accounts: Accounts
    log: PluginLog


def run_part(plan, layer, plugins, axes, data=None, source=None, progress=False) -> PartResult:
    """Read, check, assign, label and sum one part; ``data`` is the part (None: the plan's
    whole source). The part's :class:`~territory.extensions.PluginLog` says what the axes took
    and warned."""
    log = PluginLog(progress=progress)
    accounts, assignments = read_and_assign(plan, layer, data, source)
    labels = label_part(plan, layer, plugins, axes, accounts, assignments, log)
    agg = aggregate(assignments, labels, accounts.measures)
    return PartResult(assignments.join(labels), agg, accounts, log)


class Parts(Protocol):
    """The combined parts an engine returns: summed ``agg``, the parts' ``notes``, the checked
    ``accounts`` (None when they stay on the workers) and the ``engine`` resource to keep (the
    Dask client, or None)."""

    agg: Aggregates
    notes: list[str]
    accounts: Accounts | None
    engine: Any
    log: PluginLog  # the parts' plugin time and warnings, combined

    def whole_table_inputs(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """All accounts (attributes, measures) and all assignments, in the same order."""

    def add_labels(self, labels: pd.DataFrame) -> None:
        """Join the whole-table axes' labels (all accounts, in order) to the assignments."""

    def result(self) -> tuple[Any, pd.DataFrame | None]:
        """The assignments the result keeps (pandas or dask) and the labels table, if any."""

    def rows(self) -> pd.DataFrame:
        """Assignments joined with the account attributes (plugin KPIs without sums)."""

    def located(self) -> pd.DataFrame:
        """Accounts with ``territory_id`` and lon/lat (adjustments)."""


def merge_notes(notes: list[str], limit: int = 12) -> list[str]:
    """Notes from all parts, each once, capped so many batches do not flood the output."""
    unique = list(dict.fromkeys(notes))
    if len(unique) > limit:
        return [*unique[:limit], f"... and {len(unique) - limit} more notes from other parts."]
    return unique
