"""Run a plan: the stages wired once, for every engine.

``run(plan, engine)`` reads the territory layer, splits the segment axes into per-part and
whole-table ones, and hands the accounts to the engine, which splits them into parts (batches
or partitions), runs :func:`territory.engines.parts.run_part` on each (read -> assign -> segment
-> sum) and combines the sums into one :class:`~territory.engines.parts.Parts`.
:func:`finish` then does the rest the same way for both engines: whole-table axes, targets,
adjustments, KPIs, summary and notes, into a :class:`~territory.result.PlanResult`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from territory.engines import ENGINES
from territory.engines.parts import Parts, merge_notes
from territory.errors import ValidationError
from territory.kpi import summary
from territory.result import PlanResult
from territory.stages.measure import agg_balance, measure_aggregates
from territory.stages.read import read_territories
from territory.stages.segment import split_axes, whole_table_labels

if TYPE_CHECKING:
    from territory.plan import Plan
    from territory.plugins import Plugins
    from territory.territories import TerritoryLayer


def run(plan: Plan, engine: str = "local", plugins: Plugins | None = None, **options) -> PlanResult:
    """Run ``plan`` on ``engine``; ``options`` go to the engine's ``map_parts`` (see
    :mod:`territory.engines`)."""
    if engine not in ENGINES:
        raise ValidationError(f"Unknown engine '{engine}'. Use one of: {', '.join(ENGINES)}.")
    from territory.plugins import get_plugins

    module = importlib.import_module(f"territory.engines.{engine}")
    plugins = plugins or get_plugins()
    layer = read_territories(plan.territories)
    per_part, whole = split_axes(plan, plugins)
    parts = module.map_parts(plan, layer, plugins, per_part, **options)
    return finish(plan, layer, plugins, whole, parts)


def finish(plan: Plan, layer: TerritoryLayer, plugins: Plugins, whole, parts: Parts) -> PlanResult:
    """Whole-table axes, targets, adjustments and KPIs from what an engine gathered."""
    if whole:
        accounts, assignments = parts.whole_table_inputs()
        labels = whole_table_labels(plan, plugins, layer, whole, accounts, assignments, parts.agg)
        parts.add_labels(labels)
    assignments, labels = parts.result()
    agg = parts.agg
    kpis, segments, adjustments = measure_aggregates(
        plan, layer, agg, plugins, parts.rows, parts.located
    )
    result = PlanResult(
        plan, parts.accounts, layer, assignments, kpis, segments,
        summary(agg, kpis, agg_balance(plan, agg)), merge_notes([*parts.notes, *layer.notes]),
        labels, adjustments, plugins,
    )  # fmt: skip
    result.engine = parts.engine
    return result
